package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imspec/imserver/internal/pgembed"
	"github.com/jackc/pgx/v5"
)

// Process returns the backend that runs the server as a local process against a private PostgreSQL.
func Process() Backend { return processBackend{} }

// ProcessWith is Process whose servers also get the settings env ("IMSERVER_RATE_LIMIT=off" for a load test).
func ProcessWith(env ...string) Backend { return processBackend{env: env} }

// ProcessBinary is the process backend running the given server binary instead of the one it builds (the
// PostgreSQL cluster is still shared by the test binary, each server with a fresh database), with the settings
// env: how the mutation runs start one mutant after another.
func ProcessBinary(bin string, env ...string) Backend { return processBackend{bin: bin, env: env} }

type processBackend struct {
	bin string
	env []string
}

func (processBackend) Name() string { return "process" }

// procEnv is what the process backend's servers share: a temporary directory, the binary and the cluster.
type procEnv struct {
	dir     string
	bin     string
	cluster *pgembed.Cluster
}

var procShared = &shared[procEnv]{setup: setupProcEnv, teardown: teardownProcEnv}

var procSeq atomic.Int64

func setupProcEnv(ctx context.Context) (*procEnv, error) {
	dir, err := os.MkdirTemp("", "imconform-")
	if err != nil {
		return nil, err
	}
	env := &procEnv{dir: dir}
	// Build the binary and start PostgreSQL at the same time.
	built := make(chan error, 1)
	go func() {
		var err error
		env.bin, err = serverBinary(ctx, dir)
		built <- err
	}()
	env.cluster, err = pgembed.Start(ctx, pgembed.Options{DataDir: filepath.Join(dir, "pg"), Fast: true})
	if buildErr := <-built; buildErr != nil {
		err = errors.Join(buildErr, err)
	}
	if err != nil {
		if env.cluster != nil {
			_ = env.cluster.Stop()
		}
		os.RemoveAll(dir)
		if errors.Is(err, pgembed.ErrNoBinaries) {
			err = fmt.Errorf("%w (install them: %s)", err, pgembed.InstallHint)
		}
		return nil, err
	}
	return env, nil
}

func teardownProcEnv(env *procEnv) error {
	err := env.cluster.Stop()
	if rmErr := os.RemoveAll(env.dir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	return err
}

// serverBinary returns $IMSERVER_BIN, or builds the server into dir.
func serverBinary(ctx context.Context, dir string) (string, error) {
	if p := os.Getenv(EnvServerBin); p != "" {
		// go test runs in the package's directory: a relative path is taken from the module root.
		abs := p
		if !filepath.IsAbs(p) {
			root, err := moduleRoot()
			if err != nil {
				return "", fmt.Errorf("%s=%s: %w", EnvServerBin, p, err)
			}
			abs = filepath.Join(root, p)
		}
		if st, err := os.Stat(abs); err != nil || st.IsDir() {
			return "", fmt.Errorf("%s=%s: not an executable file (%v)", EnvServerBin, p, err)
		}
		return abs, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("%w (or set %s to a prebuilt imserver)", err, EnvServerBin)
	}
	bin := filepath.Join(dir, "imserver")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, serverPkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (in %s): %w\n%s", serverPkg, root, err, tailLines(string(out), 40))
	}
	return bin, nil
}

// Start implements [Backend].
func (b processBackend) Start(ctx context.Context, t testing.TB) (Target, error) {
	t.Helper()
	env, release, err := procShared.acquire(ctx)
	if err != nil {
		return Target{}, fmt.Errorf("process backend: %w", err)
	}
	t.Cleanup(release)

	n := procSeq.Add(1)
	db := fmt.Sprintf("imc_%d_%d_%s", os.Getpid(), n, randomHex(3))
	if err := adminExec(ctx, env.cluster, `CREATE DATABASE `+pgx.Identifier{db}.Sanitize()); err != nil {
		return Target{}, fmt.Errorf("process backend: creating database %s: %w", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, env.cluster, `DROP DATABASE IF EXISTS `+pgx.Identifier{db}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Logf("harness: dropping database %s: %v", db, err)
		}
	})

	work := filepath.Join(env.dir, "server-"+strconv.FormatInt(n, 10))
	if err := os.MkdirAll(filepath.Join(work, "data"), 0o700); err != nil {
		return Target{}, err
	}
	secret := "conform-" + randomHex(12)
	logPath := filepath.Join(work, "imserver.log")
	logLevel := os.Getenv(EnvLogLevel)
	if logLevel == "" {
		logLevel = "info"
	}

	var tailReported atomic.Bool // Start's error already shows the log's end
	t.Cleanup(func() {
		if t.Failed() && !tailReported.Load() {
			t.Logf("harness: the end of the server log %s:\n%s", logPath, tailFile(logPath, logTailLines))
		}
	})
	// A port found free may be taken before the server binds it: try again with another one.
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return Target{}, err
		}
		hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		envv := append(filteredEnviron(),
			"IMSERVER_ADDR="+hostPort,
			"IMSERVER_DATABASE_URL="+env.cluster.DSN(db),
			"IMSERVER_SECRET="+secret,
			"IMSERVER_ADMIN_USER_IDS="+DefaultAdmin,
			"IMSERVER_DATA_DIR="+filepath.Join(work, "data"),
			"IMSERVER_LOG_LEVEL="+logLevel,
		)
		envv = append(envv, b.env...)
		bin := env.bin
		if b.bin != "" {
			bin = b.bin
		}
		srv, err := startServerProcess(bin, envv, work, logPath)
		if err != nil {
			return Target{}, fmt.Errorf("process backend: %w", err)
		}
		t.Cleanup(func() { srv.stop(t) })
		target := newTarget(hostPort, secret)
		err = waitReady(ctx, target.BaseURL(), ReadyTimeout, srv.done)
		if err == nil {
			return target, nil
		}
		select {
		case <-srv.done:
			err = fmt.Errorf("the server exited (%v) before it was ready", srv.waitErr)
		default:
		}
		srv.stop(t)
		logTail := tailFile(logPath, logTailLines)
		lastErr = fmt.Errorf("process backend: %w; the end of %s:\n%s", err, logPath, logTail)
		if !strings.Contains(logTail, "address already in use") {
			break
		}
	}
	tailReported.Store(true)
	return Target{}, lastErr
}

// adminExec runs one statement on the cluster's maintenance database.
func adminExec(ctx context.Context, c *pgembed.Cluster, sql string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// filteredEnviron is the test's environment without IMSERVER_* settings, so that the host's own
// configuration does not reach the server under test.
func filteredEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMSERVER_") {
			out = append(out, kv)
		}
	}
	return out
}

type serverProc struct {
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid once done is closed
	stopped atomic.Bool
}

func startServerProcess(bin string, env []string, dir, logPath string) (*serverProc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	p := &serverProc{cmd: cmd, log: logf, done: make(chan struct{})}
	if err := startLocked(cmd, func(err error) {
		p.waitErr = err
		close(p.done)
	}); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	return p, nil
}

// stop sends SIGTERM, waits up to StopTimeout for a graceful exit and then kills the server.
func (p *serverProc) stop(t testing.TB) {
	if p.stopped.Swap(true) {
		return
	}
	defer p.log.Close()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.waitErr != nil {
			t.Logf("harness: the server exited with %v after SIGTERM", p.waitErr)
		}
	case <-time.After(StopTimeout):
		t.Logf("harness: the server did not exit within %s of SIGTERM: killing it", StopTimeout)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
