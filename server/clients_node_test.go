package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/imspec/imserver/server/internal/testenv"
)

// TestClientsNode runs the TypeScript client's end-to-end test (tsclient/test/e2e.test.ts, via `npm --prefix
// tsclient test`) against a real server. It skips without node/npm or without tsclient/node_modules (run
// `make clients` first), so `go test` works on a machine without Node.
func TestClientsNode(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Node end-to-end test")
	}
	clients, err := filepath.Abs(filepath.Join("..", "tsclient"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: skipping the TypeScript client's end-to-end test", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(clients, "node_modules", "typescript")); err != nil {
		t.Skipf("%s/node_modules is missing: run `make clients` to install it; skipping the TypeScript client's end-to-end test", clients)
	}

	e := testenv.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "--prefix", clients, "test")
	cmd.Env = append(os.Environ(), "IMSERVER_URL="+e.URL, "IMSERVER_SECRET="+testenv.Secret, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	t.Logf("npm --prefix tsclient test:\n%s", out)
	if err != nil {
		t.Fatalf("npm test: %v", err)
	}
}
