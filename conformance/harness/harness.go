// Package harness starts the server under test for the conformance suite's Go tests.
//
// A test asks for a running server and gets the URLs and credentials to talk to it:
//
//	func TestMain(m *testing.M) { harness.Main(m) } // optional: share PostgreSQL across the whole binary
//
//	func TestX(t *testing.T) {
//		target := harness.StartServer(t) // stopped by t.Cleanup
//		resp, err := http.Post(target.APIURL+"/auth/user_register", ...)
//	}
//
// Two backends start it:
//
//   - process: builds the imserver binary once per test binary (or uses $IMSERVER_BIN), starts a private
//     PostgreSQL with pgembed in a temporary directory (one cluster per test binary, a fresh database per
//     server) and runs the binary on a free loopback port. Needs the PostgreSQL server binaries on the
//     machine (initdb, postgres) and the Go toolchain (unless IMSERVER_BIN is set).
//   - docker: through testcontainers-go, a network, a PostgreSQL container ($IMCONFORM_PG_IMAGE, default
//     postgres:16; one per test binary, a fresh database per server) and a server container from the image
//     imserver:conformance, built once per test binary from the repository's Dockerfile.
//
// [Choose] picks one: IMCONFORM_BACKEND=process|docker forces it; otherwise docker when a Docker engine
// answers within 3 s, else process.
//
// Resources shared by the servers of a test binary (the PostgreSQL cluster or container, the built
// binary, the docker network) live as long as some server uses them; a package that calls [Main] from
// TestMain keeps them until all its tests have run, so that they are set up only once.
//
// Environment:
//
//	IMCONFORM_BACKEND        process | docker (default: docker when an engine answers, else process)
//	IMSERVER_BIN             process: a prebuilt imserver binary to run instead of building one
//	                         (absolute, or relative to the module root)
//	IMCONFORM_LOG_LEVEL      the server's IMSERVER_LOG_LEVEL (default info)
//	IMCONFORM_PG_IMAGE       docker: the PostgreSQL image (default postgres:16); it must behave like the
//	                         official image (POSTGRES_PASSWORD, "postgres -c ..." arguments, psql, pg_isready)
//	IMCONFORM_SERVER_IMAGE   docker: run this server image instead of building imserver:conformance
//	IMCONFORM_BUILD_IMAGE    docker: build arg BUILD_IMAGE of the Dockerfile
//	IMCONFORM_BASE_IMAGE     docker: build arg BASE_IMAGE
//	IMCONFORM_PREBUILT       docker: build arg PREBUILT (a static binary inside the repository, e.g.
//	                         build/docker/imserver; see .ci/docker-conformance.sh)
//	IMCONFORM_DEBUG=1        docker: testcontainers' own log lines go to t.Log
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by the harness.
const (
	EnvBackend     = "IMCONFORM_BACKEND"
	EnvServerBin   = "IMSERVER_BIN"
	EnvLogLevel    = "IMCONFORM_LOG_LEVEL"
	EnvPGImage     = "IMCONFORM_PG_IMAGE"
	EnvServerImage = "IMCONFORM_SERVER_IMAGE"
	EnvBuildImage  = "IMCONFORM_BUILD_IMAGE"
	EnvBaseImage   = "IMCONFORM_BASE_IMAGE"
	EnvPrebuilt    = "IMCONFORM_PREBUILT"
	EnvDebug       = "IMCONFORM_DEBUG"
)

const (
	// DefaultAdmin is the admin user ID the servers are started with (the server's default).
	DefaultAdmin = "imAdmin"
	// ReadyTimeout bounds the wait for a started server's /readyz to answer 200.
	ReadyTimeout = 30 * time.Second
	// StopTimeout is how long a server gets to shut down after SIGTERM before it is killed.
	StopTimeout = 10 * time.Second

	// ModulePath is the server's Go module; the process backend builds ModulePath/server/cmd/imserver.
	ModulePath = "github.com/imspec/imserver"
	serverPkg  = ModulePath + "/server/cmd/imserver"

	logTailLines = 80
)

// Target is a running server: where to reach it and the credentials it was started with.
type Target struct {
	APIURL string // REST base, http://127.0.0.1:<port>/api/v3
	WSURL  string // WebSocket gateway, ws://127.0.0.1:<port>/msg_gateway
	Secret string // the shared secret of /auth/user_register and /auth/user_token
	Admin  string // an admin user ID (IMSERVER_ADMIN_USER_IDS)
}

// BaseURL is the server's root, http://127.0.0.1:<port>, where /healthz, /readyz and /metrics are.
func (t Target) BaseURL() string { return strings.TrimSuffix(t.APIURL, "/api/v3") }

func newTarget(hostPort, secret string) Target {
	return Target{
		APIURL: "http://" + hostPort + "/api/v3",
		WSURL:  "ws://" + hostPort + "/msg_gateway",
		Secret: secret,
		Admin:  DefaultAdmin,
	}
}

// Backend starts servers under test.
type Backend interface {
	// Name is "process" or "docker".
	Name() string
	// Start starts a server with a database of its own and waits until its /readyz answers 200. It
	// registers with t.Cleanup everything needed to stop it and release what it used, also when it
	// fails; on a failed test the end of the server's log goes to t.Log. ctx bounds the start only.
	Start(ctx context.Context, t testing.TB) (Target, error)
}

// Choose returns the backend named by IMCONFORM_BACKEND (process or docker); when that is unset (or
// "auto"), the docker backend if a Docker engine answers a ping within 3 s, else the process backend.
func Choose() Backend {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv(EnvBackend))); v {
	case "process":
		return Process()
	case "docker":
		return Docker()
	case "", "auto":
		if DockerAvailable() {
			return Docker()
		}
		return Process()
	default:
		return badBackend{fmt.Errorf("%s=%q: want process or docker (or unset, to choose by whether Docker answers)", EnvBackend, v)}
	}
}

type badBackend struct{ err error }

func (b badBackend) Name() string                                      { return "invalid" }
func (b badBackend) Start(context.Context, testing.TB) (Target, error) { return Target{}, b.err }

// StartServer starts a server with the backend [Choose] picks and fails the test when it cannot.
func StartServer(t testing.TB) Target {
	t.Helper()
	b := Choose()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	target, err := b.Start(ctx, t)
	if err != nil {
		t.Fatalf("harness: starting the server under test with the %s backend failed (%s=process|docker picks one): %v",
			b.Name(), EnvBackend, err)
	}
	t.Logf("harness: %s backend: server ready at %s in %s", b.Name(), target.BaseURL(), time.Since(t0).Round(time.Millisecond))
	return target
}

// Main runs a package's tests (call it from TestMain) and keeps the resources that the servers of the
// test binary share (PostgreSQL, the built binary or image, the docker network) until all tests have
// run, then releases them and exits with the tests' exit code. Without Main they are released whenever
// no server is running, and set up again by the next Start.
func Main(m *testing.M) {
	procShared.keep(true)
	dockerShared.keep(true)
	code := m.Run()
	if err := procShared.keep(false); err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
	}
	if err := dockerShared.keep(false); err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
	}
	os.Exit(code)
}

// shared is a resource set up on first use and torn down when its last user releases it (unless kept).
type shared[T any] struct {
	mu       sync.Mutex
	refs     int
	kept     bool
	val      *T
	setup    func(ctx context.Context) (*T, error)
	teardown func(*T) error
}

func (s *shared[T]) acquire(ctx context.Context) (*T, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.val == nil {
		v, err := s.setup(ctx)
		if err != nil {
			return nil, nil, err
		}
		s.val = v
	}
	s.refs++
	var once sync.Once
	return s.val, func() { once.Do(s.release) }, nil
}

func (s *shared[T]) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	if s.refs == 0 && !s.kept {
		s.down()
	}
}

// keep(true) keeps the resource up while no one uses it; keep(false) undoes that and tears it down if
// no one uses it.
func (s *shared[T]) keep(k bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = k
	if !k && s.refs == 0 {
		return s.down()
	}
	return nil
}

func (s *shared[T]) down() error {
	if s.val == nil {
		return nil
	}
	v := s.val
	s.val = nil
	return s.teardown(v)
}

// moduleRoot is the directory of the go.mod that `go env GOMOD` reports from the working directory
// (a test runs in its package's directory, inside the module).
var moduleRoot = sync.OnceValues(func() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module (go env GOMOD is empty): run the tests from the imserver repository")
	}
	return filepath.Dir(gomod), nil
})

// goTool is the go command: from $PATH, else the usual install location.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/local/go/bin/go", "/usr/lib/go/bin/go"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls base+"/readyz" until it answers 200, ctx ends, timeout passes or exited is closed.
func waitReady(ctx context.Context, base string, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer yet"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = "HTTP " + resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-exited:
			return errors.New("the server exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz did not answer 200 within %s (last: %s)", base, timeout, last)
		case <-tick.C:
		}
	}
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d earlier lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// tailFile returns the last n lines of the file at path (reading at most its last 256 KiB).
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const max = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, 0)
	}
	b, _ := io.ReadAll(io.LimitReader(f, max))
	if len(b) == 0 {
		return "(empty)"
	}
	return tailLines(string(b), n)
}
