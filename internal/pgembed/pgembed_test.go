package pgembed_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imspec/imserver/internal/pgembed"
	"github.com/jackc/pgx/v5"
)

// helperEnv makes the test binary act as a process that starts a cluster and waits to be killed.
const helperEnv = "PGEMBED_TEST_HELPER_DATADIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		c, err := pgembed.Start(context.Background(), pgembed.Options{DataDir: dir, Fast: true})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("READY", c.Pid(), c.Port())
		time.Sleep(time.Hour) // until SIGKILLed
	}
	os.Exit(m.Run())
}

func start(t *testing.T, opts pgembed.Options) *pgembed.Cluster {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	t0 := time.Now()
	c, err := pgembed.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster started in %s (fast=%v)", time.Since(t0).Round(time.Millisecond), opts.Fast)
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func queryInt(t *testing.T, dsn, sql string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func exec1(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestDurableStartStopRestart uses the server's default (durable) settings: data survives a restart,
// and TCP connections need the generated password.
func TestDurableStartStopRestart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	c := start(t, pgembed.Options{DataDir: dir})
	dsn := c.DSN(pgembed.DefaultDatabase)
	if got := queryInt(t, dsn, "SELECT 40 + 2"); got != 42 {
		t.Fatalf("got %d", got)
	}
	if got := queryInt(t, dsn, "SELECT count(*) FROM pg_settings WHERE name = 'fsync' AND setting = 'on'"); got != 1 {
		t.Fatal("fsync is not on in a durable cluster")
	}
	if got := queryInt(t, dsn, "SELECT setting::int FROM pg_settings WHERE name = 'max_connections'"); got != 200 {
		t.Fatalf("max_connections = %d", got)
	}
	exec1(t, dsn, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")

	// No password, no entry.
	noPw := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/imserver?sslmode=disable", c.Port())
	if conn, err := pgx.Connect(context.Background(), noPw); err == nil {
		conn.Close(context.Background())
		t.Fatal("connected over TCP without a password")
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres.log")); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("postmaster.pid after a clean stop: %v", err)
	}

	// Restart on the same directory: no initdb, same password, the data is there.
	c2 := start(t, pgembed.Options{DataDir: dir})
	if got := queryInt(t, c2.DSN("imserver"), "SELECT v FROM kept"); got != 7 {
		t.Fatalf("after restart got %d", got)
	}
	if err := c2.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStalePidFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	c := start(t, pgembed.Options{DataDir: dir, Fast: true})

	// A second server on a data directory in use is refused.
	if c2, err := pgembed.Start(context.Background(), pgembed.Options{DataDir: dir, Fast: true}); err == nil {
		c2.Stop()
		t.Fatal("second Start on a running data directory succeeded")
	} else if !strings.Contains(err.Error(), "already running") {
		t.Fatalf("unexpected error: %v", err)
	}
	pidFile, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	uid, gid := ownerOf(t, dir)
	writePid := func(pid int) {
		lines := strings.Split(string(pidFile), "\n")
		lines[0] = strconv.Itoa(pid)
		p := filepath.Join(dir, "postmaster.pid")
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(p, uid, gid)
	}

	// The pid of a process that has exited.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	writePid(dead.Process.Pid)
	c = start(t, pgembed.Options{DataDir: dir, Fast: true})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	// The pid reused by an unrelated live process (postgres alone refuses to start then).
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	writePid(sleeper.Process.Pid)
	c = start(t, pgembed.Options{DataDir: dir, Fast: true})
	if got := queryInt(t, c.DSN("postgres"), "SELECT 1"); got != 1 {
		t.Fatal(got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

func ownerOf(t *testing.T, path string) (int, int) {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// TestParentKilled: when the process that started postgres is SIGKILLed, postgres dies too, and the
// next start on the same directory copes with the postmaster.pid left behind.
func TestParentKilled(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"="+dir)
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { helper.Process.Kill(); helper.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var pid, port int
	if _, err := fmt.Sscanf(line, "READY %d %d", &pid, &port); err != nil {
		t.Fatalf("helper said %q", line)
	}
	// postgres lives as long as its parent does.
	time.Sleep(300 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("postgres died while its parent was alive")
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postgres (pid %d) outlived its SIGKILLed parent", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err != nil {
		t.Fatalf("expected a stale postmaster.pid: %v", err)
	}
	c := start(t, pgembed.Options{DataDir: dir, Fast: true})
	if got := queryInt(t, c.DSN("imserver"), "SELECT 1"); got != 1 {
		t.Fatal(got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func TestLongDataDirUsesShortSocketDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), strings.Repeat("a-rather-long-directory-name-", 4), "data")
	c := start(t, pgembed.Options{DataDir: dir, Fast: true})
	sock := c.SocketDir()
	if !strings.HasPrefix(sock, "/tmp/") || len(sock) > 40 {
		t.Fatalf("socket dir %q", sock)
	}
	if _, err := os.Stat(filepath.Join(sock, fmt.Sprintf(".s.PGSQL.%d", c.Port()))); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, c.DSN("imserver"), "SELECT 1"); got != 1 {
		t.Fatal(got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket dir left behind: %v", err)
	}
}

func TestFixedPortAndSettings(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	c := start(t, pgembed.Options{
		DataDir:  filepath.Join(t.TempDir(), "data"),
		Port:     port,
		Fast:     true,
		Database: "other",
		Settings: map[string]string{"work_mem": "8MB"},
	})
	if c.Port() != port {
		t.Fatalf("port %d, want %d", c.Port(), port)
	}
	if got := queryInt(t, c.DSN("other"), "SELECT (current_setting('work_mem') = '8MB')::int + (current_setting('fsync') = 'off')::int"); got != 2 {
		t.Fatalf("settings not applied (%d)", got)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestFindBinDir(t *testing.T) {
	if _, err := pgembed.FindBinDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), pgembed.InstallHint) {
		t.Fatalf("want an error naming %q, got %v", pgembed.InstallHint, err)
	}
	// Without anything on $PATH (as after `apt-get install postgresql` on Debian), the versioned
	// directory is found.
	t.Setenv("PATH", "")
	dir, err := pgembed.FindBinDir("")
	if _, statErr := os.Stat("/usr/lib/postgresql"); statErr != nil {
		if err == nil || !strings.Contains(err.Error(), pgembed.InstallHint) {
			t.Fatalf("want an error naming %q, got %v", pgembed.InstallHint, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, "/usr/lib/postgresql/") {
		t.Fatalf("found %s", dir)
	}
}

func TestStartCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "data")
	if c, err := pgembed.Start(ctx, pgembed.Options{DataDir: dir, Fast: true}); err == nil {
		c.Stop()
		t.Fatal("Start with a cancelled context succeeded")
	}
	// Nothing half-made is left that would stop the next start.
	c := start(t, pgembed.Options{DataDir: dir, Fast: true})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

// A supervised server killed with SIGKILL is noticed, logged and started again on the same port, so a
// pool's DSN keeps working; Stop after that is prompt.
func TestRestartAfterKill(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logs []string
	c := start(t, pgembed.Options{DataDir: filepath.Join(t.TempDir(), "data"), Fast: true, Restart: true,
		Logf: func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() }})
	dsn, old := c.DSN("postgres"), c.Pid()
	done := c.Done()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	deadline := time.Now().Add(60 * time.Second)
	for !c.Running() || c.Pid() == old {
		if time.Now().After(deadline) {
			t.Fatalf("postgres not restarted within 60 s; logs:\n%s", strings.Join(logs, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := queryInt(t, dsn, "SELECT 7"); got != 7 { // same DSN (a Fast cluster may lose its last commits)
		t.Fatalf("after the restart: got %d, want 7", got)
	}
	mu.Lock()
	joined := strings.Join(logs, "\n")
	mu.Unlock()
	if !strings.Contains(joined, fmt.Sprintf("postgres (pid %d) exited unexpectedly", old)) {
		t.Errorf("the death is not logged; logs:\n%s", joined)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("stop after the restart: %v", err)
	}
	if c.Running() {
		t.Error("Running after Stop")
	}
}
