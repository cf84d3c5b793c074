package httpapi

import (
	"go/build"
	"strings"
	"testing"
)

// A transport translates and calls the domain packages; storage belongs to them. The REST handlers and the
// WebSocket gateway therefore import neither the sqlc queries nor pgx (docs/ARCHITECTURE.md).
func TestTransportsDoNotImportStorage(t *testing.T) {
	for _, dir := range []string{".", "../gateway"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("read %s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			if imp == "github.com/imspec/imserver/gen/db" || strings.HasPrefix(imp, "github.com/jackc/pgx") {
				t.Errorf("package %s imports %s; storage belongs to the domain packages", pkg.Name, imp)
			}
		}
	}
}
