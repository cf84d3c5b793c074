package conformance_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/imspec/imserver/conformance"
	"github.com/imspec/imserver/conformance/harness"
)

// TestMain raises -test.parallel (unless given): the cases mostly wait on the network, and the suite's cases
// are independent.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "16")
	}
	harness.Main(m)
}

// TestConformance runs the whole suite against our server, started by the harness (or, with IMCONFORM_API set,
// against a server already running: IMCONFORM_API, IMCONFORM_WS, IMCONFORM_SECRET, IMCONFORM_ADMIN). The cases
// of expected/imserver.txt are expected to fail.
func TestConformance(t *testing.T) {
	var target conformance.Target
	if api := os.Getenv("IMCONFORM_API"); api != "" {
		target = conformance.Target{APIURL: api, WSURL: os.Getenv("IMCONFORM_WS"), Secret: os.Getenv("IMCONFORM_SECRET"),
			Admin: os.Getenv("IMCONFORM_ADMIN")}
		if target.WSURL == "" {
			target.WSURL = "ws" + strings.TrimPrefix(strings.TrimSuffix(api, "/api/v3"), "http") + "/msg_gateway"
		}
		if target.Secret == "" {
			target.Secret = "openIM123"
		}
		if target.Admin == "" {
			target.Admin = harness.DefaultAdmin
		}
	} else {
		h := harness.StartServer(t)
		target = conformance.Target{APIURL: h.APIURL, WSURL: h.WSURL, Secret: h.Secret, Admin: h.Admin}
	}
	f, err := os.Open("expected/imserver.txt")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := conformance.ParseExpected(f)
	f.Close()
	if err != nil {
		t.Fatalf("expected/imserver.txt: %v", err)
	}
	conformance.Run(conformance.WithExpected(conformance.Testing(t), exp), target)
}
