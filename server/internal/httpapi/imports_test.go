package httpapi

import (
	"go/build"
	"strings"
	"testing"
)

// The layering of docs/ARCHITECTURE.md, read from the packages' imports (test files aside).
func TestLayering(t *testing.T) {
	imports := func(dir string) (string, []string) {
		t.Helper()
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("read %s: %v", dir, err)
		}
		return pkg.Name, pkg.Imports
	}
	// A transport translates and calls the domain packages; storage belongs to them.
	for _, dir := range []string{".", "../gateway"} {
		name, imps := imports(dir)
		for _, imp := range imps {
			if imp == "github.com/imspec/imserver/gen/db" || strings.HasPrefix(imp, "github.com/jackc/pgx") {
				t.Errorf("transport %s imports %s; storage belongs to the domain packages", name, imp)
			}
		}
	}
	// A domain package knows no transport, so every transport can share it.
	for _, dir := range []string{"../users", "../friends", "../groups"} {
		name, imps := imports(dir)
		for _, imp := range imps {
			if imp == "net/http" || strings.HasSuffix(imp, "/internal/httpapi") || strings.HasSuffix(imp, "/internal/gateway") {
				t.Errorf("domain package %s imports %s", name, imp)
			}
		}
	}
}
