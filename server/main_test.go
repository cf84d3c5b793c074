package server_test

import (
	"testing"

	"github.com/imspec/imserver/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
