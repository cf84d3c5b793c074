// Package pgembed runs a private PostgreSQL server owned by the current process.
//
// It uses the PostgreSQL binaries installed on the machine (initdb and postgres; see [FindBinDir]),
// initializes a data directory on first use, starts postgres directly (not through pg_ctl) listening only
// on 127.0.0.1, waits until it accepts connections and creates the application database. [Cluster.Stop]
// shuts it down (fast shutdown). The server cannot outlive the process that started it: when that
// process dies, even by SIGKILL, the kernel kills postgres too.
//
// PostgreSQL refuses to run as root. When the calling process is root, initdb and postgres run as the
// unprivileged "postgres" system user if it exists, or else as the system user "imserver", which is
// created on first use (useradd --system). The data directory is chowned to that user, and ancestor
// directories it cannot traverse get the search (x) bit for others added.
package pgembed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults used when the corresponding [Options] field is zero.
const (
	DefaultDatabase     = "imserver"
	DefaultStartTimeout = 60 * time.Second
	// StopTimeout is how long [Cluster.Stop] waits after the fast-shutdown signal before it kills postgres.
	StopTimeout = 30 * time.Second
	// Superuser is the cluster's superuser role.
	Superuser = "postgres"

	logFileName      = "postgres.log"
	passwordFileName = "imserver-password"
	maxLogSize       = 32 << 20 // rotate postgres.log to postgres.log.1 at start beyond this size
	maxSocketPath    = 100      // bytes; sun_path holds 108 including the NUL
)

// Options configures [Start]. Only DataDir is required.
type Options struct {
	// DataDir is the cluster's data directory. It is created (mode 0700) if missing and initialized
	// with initdb when it has no PG_VERSION file. The server log is DataDir/postgres.log.
	DataDir string

	// Port is the TCP port postgres listens on at 127.0.0.1. 0 (the default) picks a free port at each
	// start; read it back with [Cluster.Port] or use [Cluster.DSN].
	Port int

	// BinDir is the directory holding initdb and postgres. "" (the default) discovers it with
	// [FindBinDir]: $PATH first, then the newest /usr/lib/postgresql/<version>/bin.
	BinDir string

	// Database is created at start if it does not exist. Default [DefaultDatabase] ("imserver").
	Database string

	// Fast trades durability for speed, for tests and throw-away clusters: initdb --no-sync, trust
	// authentication on 127.0.0.1 (no password), fsync=off, synchronous_commit=off, full_page_writes=off,
	// wal_level=minimal. A crash of the machine may corrupt a Fast cluster. The default (false) is durable:
	// fsync on, and TCP connections need the superuser password, which is generated at the first start and
	// kept in DataDir/imserver-password (mode 0600); [Cluster.DSN] includes it.
	Fast bool

	// Settings are extra server settings passed as "-c name=value"; they override the defaults
	// (max_connections=200, shared_buffers=128MB, the durability settings above, ...).
	// Settings given on the command line override postgresql.conf.
	Settings map[string]string

	// StartTimeout bounds how long Start waits for the server to accept connections.
	// Default [DefaultStartTimeout] (60 s). Start fails at once, with the end of the log, if postgres exits.
	StartTimeout time.Duration

	// Logf receives progress messages (initdb, start, stop, restarts). nil means silent.
	Logf func(format string, args ...any)

	// Restart supervises the server: when postgres exits by itself (killed, crashed), it is started again on
	// the same port after a delay that doubles from [RestartMinDelay] to [RestartMaxDelay] (and starts over
	// once a server has run for [RestartHealthy]); [Cluster.Running] is false meanwhile. The default (false)
	// leaves a dead server dead: [Cluster.Done] is closed and nothing else happens.
	Restart bool
}

// Restart delays (see [Options.Restart]).
const (
	RestartMinDelay = 100 * time.Millisecond
	RestartMaxDelay = 10 * time.Second
	RestartHealthy  = time.Minute
)

// Cluster is a running PostgreSQL server started by [Start]. Its methods are safe for concurrent use.
type Cluster struct {
	binDir   string
	dataDir  string
	sockDir  string
	ownSock  bool // sockDir is a temporary directory that Stop removes
	port     int
	password string
	logPath  string
	fast     bool
	logf     func(string, ...any)

	mu      sync.Mutex    // guards proc, done, waitErr, up (replaced when a supervised server restarts)
	proc    *os.Process   //
	done    chan struct{} // closed when postgres has exited
	waitErr error         // valid once done is closed
	up      bool          // the current postgres accepted connections

	stopping   chan struct{} // closed by Stop: the supervisor ends
	supervised chan struct{} // closed when the supervisor has ended; nil without Options.Restart

	stopOnce sync.Once
	stopErr  error
}

// Start initializes DataDir if needed, starts postgres on it and waits until it accepts connections,
// then creates the database named in opts. ctx bounds the start only: once Start has returned, the
// server runs until [Cluster.Stop] or until the calling process exits.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.DataDir == "" {
		return nil, errors.New("pgembed: Options.DataDir is required")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("pgembed: invalid port %d", opts.Port)
	}
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	t0 := time.Now()

	binDir, err := FindBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	owner, err := resolveOwner(logf)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		binDir:   binDir,
		dataDir:  dataDir,
		logPath:  filepath.Join(dataDir, logFileName),
		fast:     opts.Fast,
		logf:     logf,
		stopping: make(chan struct{}),
	}

	if err := prepareDataDir(dataDir, owner, logf); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := c.initdb(ctx, owner); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if pw, err := os.ReadFile(filepath.Join(dataDir, passwordFileName)); err == nil {
		c.password = strings.TrimSpace(string(pw))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if err := removeStalePidFile(dataDir, logf); err != nil {
		return nil, err
	}
	if err := c.setupSocketDir(owner); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok && c.ownSock {
			os.RemoveAll(c.sockDir)
		}
	}()

	var conn *pgx.Conn
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("pgembed: picking a free port: %w", err)
			}
		}
		c.port = port
		var retry bool
		conn, retry, err = c.launch(ctx, opts, owner)
		if err == nil {
			break
		}
		if !retry || opts.Port != 0 || attempt >= 3 {
			return nil, err
		}
		logf("pgembed: port %d was taken, retrying with another one", port)
	}
	defer conn.Close(context.Background())

	if err := c.finishSetup(ctx, conn, opts); err != nil {
		c.kill()
		return nil, err
	}
	ok = true
	c.mu.Lock()
	c.up = true
	c.mu.Unlock()
	logf("pgembed: PostgreSQL (%s) ready on 127.0.0.1:%d, data %s, in %s", binDir, c.port, dataDir,
		time.Since(t0).Round(time.Millisecond))
	if opts.Restart {
		c.supervised = make(chan struct{})
		go c.supervise(opts, owner)
	}
	return c, nil
}

// supervise restarts postgres whenever it exits until Stop is called.
func (c *Cluster) supervise(opts Options, owner *runAs) {
	defer close(c.supervised)
	opts.Port = c.port // the pool's DSN names this port
	delay := RestartMinDelay
	for {
		c.mu.Lock()
		done, pid, began := c.done, c.proc.Pid, time.Now()
		c.mu.Unlock()
		select {
		case <-c.stopping:
			return
		case <-done:
		}
		c.mu.Lock()
		c.up = false
		waitErr := c.waitErr
		c.mu.Unlock()
		if time.Since(began) >= RestartHealthy {
			delay = RestartMinDelay
		}
		c.logf("pgembed: postgres (pid %d) exited unexpectedly (%v); restarting it in %s", pid, waitErr, delay)
		for {
			select {
			case <-c.stopping:
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, RestartMaxDelay)
			err := c.restart(opts, owner)
			if err == nil {
				break
			}
			c.logf("pgembed: restarting postgres failed (retrying in %s): %v", delay, err)
		}
	}
}

func (c *Cluster) restart(opts Options, owner *runAs) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	t0 := time.Now()
	if err := removeStalePidFile(c.dataDir, c.logf); err != nil {
		return err
	}
	conn, _, err := c.launch(ctx, opts, owner)
	if err != nil {
		return err
	}
	conn.Close(context.Background())
	c.mu.Lock()
	c.up = true
	c.mu.Unlock()
	c.logf("pgembed: postgres restarted (pid %d) on 127.0.0.1:%d in %s", c.Pid(), c.port, time.Since(t0).Round(time.Millisecond))
	return nil
}

// Running reports whether postgres is up and has accepted connections (false while a supervised server
// restarts, and after it died or was stopped).
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return false
	default:
		return c.up
	}
}

// launch starts postgres once and waits until it accepts connections on the unix socket. retry reports
// that postgres could not bind its TCP port (another process took it), so that another port may be tried.
func (c *Cluster) launch(ctx context.Context, opts Options, owner *runAs) (conn *pgx.Conn, retry bool, err error) {
	rotateLog(c.logPath)
	logFile, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("pgembed: opening the server log: %w", err)
	}
	defer logFile.Close()
	if owner != nil {
		_ = os.Chown(c.logPath, int(owner.uid), int(owner.gid))
	}
	logStart, _ := logFile.Seek(0, 2)

	args := []string{"-D", c.dataDir}
	for _, kv := range c.settings(opts) {
		args = append(args, "-c", kv)
	}
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), args...)
	cmd.Dir = c.dataDir
	cmd.Env = childEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group: a Ctrl-C in the terminal reaches our process, not postgres; we then stop
	// postgres gracefully. SIGKILL when we die (see startLocked): the postmaster goes at once, so a
	// restarted server is not refused by one still shutting down; its children notice and exit, the
	// next start waits for any stragglers (removeStalePidFile), and crash recovery replays the WAL.
	cmd.SysProcAttr = sysProcAttr(owner, syscall.SIGKILL)

	done := make(chan struct{})
	c.mu.Lock()
	c.done = done
	c.mu.Unlock()
	if err := startLocked(cmd, func(err error) {
		c.mu.Lock()
		c.waitErr = err
		c.mu.Unlock()
		close(done)
	}); err != nil {
		return nil, false, fmt.Errorf("pgembed: starting %s: %w", cmd.Path, err)
	}
	c.mu.Lock()
	c.proc = cmd.Process
	c.mu.Unlock()
	c.logf("pgembed: started postgres (pid %d) on 127.0.0.1:%d", c.proc.Pid, c.port)

	conn, err = c.waitReady(ctx, opts.StartTimeout)
	if err == nil {
		return conn, false, nil
	}
	c.kill()
	tail := logTail(c.logPath, logStart, 4096)
	retry = strings.Contains(tail, "could not bind") || strings.Contains(tail, "could not create any TCP/IP sockets")
	if tail != "" {
		err = fmt.Errorf("%w; end of %s:\n%s", err, c.logPath, tail)
	}
	return nil, retry, err
}

func (c *Cluster) settings(opts Options) []string {
	onOff := "on"
	if opts.Fast {
		onOff = "off"
	}
	set := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(c.port),
		"unix_socket_directories": c.sockDir,
		"unix_socket_permissions": "0700",
		"max_connections":         "200",
		"shared_buffers":          "128MB",
		"fsync":                   onOff,
		"synchronous_commit":      onOff,
		"full_page_writes":        onOff,
		"logging_collector":       "off",
		"log_destination":         "stderr",
		"log_timezone":            "UTC",
	}
	if opts.Fast {
		set["wal_level"] = "minimal"
		set["max_wal_senders"] = "0"
	}
	for k, v := range opts.Settings {
		set[k] = v
	}
	out := make([]string, 0, len(set))
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// waitReady polls the unix socket until postgres accepts connections, postgres exits, ctx ends or
// the timeout passes.
func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg, err := pgx.ParseConfig(c.socketDSN("postgres"))
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	cfg.ConnectTimeout = 2 * time.Second
	delay := 10 * time.Millisecond
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	for {
		select {
		case <-done:
			return nil, fmt.Errorf("pgembed: postgres exited during start-up (%v)", c.exitErr())
		default:
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		select {
		case <-done:
			return nil, fmt.Errorf("pgembed: postgres exited during start-up (%v)", c.exitErr())
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("pgembed: postgres did not accept connections within %s: %v", timeout, err)
			}
			return nil, fmt.Errorf("pgembed: start cancelled: %w", ctx.Err())
		case <-time.After(delay):
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// finishSetup sets the superuser password (durable clusters) and creates the application database.
func (c *Cluster) finishSetup(ctx context.Context, conn *pgx.Conn, opts Options) error {
	if !c.fast && c.password == "" {
		pw, err := randomHex(24)
		if err != nil {
			return err
		}
		// The password is known only once it is both set and saved: set it first, then save it; a crash in
		// between leaves no file, and the next start sets a new one over the (trusted) unix socket.
		if _, err := conn.Exec(ctx, "ALTER ROLE "+pgx.Identifier{Superuser}.Sanitize()+" PASSWORD '"+pw+"'"); err != nil {
			return fmt.Errorf("pgembed: setting the superuser password: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(c.dataDir, passwordFileName), []byte(pw+"\n"), 0o600); err != nil {
			return fmt.Errorf("pgembed: saving the superuser password: %w", err)
		}
		c.password = pw
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", opts.Database).Scan(&exists); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{opts.Database}.Sanitize()); err != nil {
			return fmt.Errorf("pgembed: creating database %q: %w", opts.Database, err)
		}
		c.logf("pgembed: created database %q", opts.Database)
	}
	return nil
}

// initdb initializes an empty data directory.
func (c *Cluster) initdb(ctx context.Context, owner *runAs) error {
	entries, err := os.ReadDir(c.dataDir)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("pgembed: data directory %s has no PG_VERSION but is not empty; "+
			"empty it (or choose another directory) to create a new cluster there", c.dataDir)
	}
	args := []string{"-D", c.dataDir, "-U", Superuser, "--encoding=UTF8", "--locale=C"}
	if c.fast {
		args = append(args, "--auth=trust", "--no-sync")
	} else {
		// The unix socket lives in a directory only the cluster's owner (and root) can enter.
		args = append(args, "--auth-local=trust", "--auth-host=scram-sha-256")
	}
	c.logf("pgembed: initializing a new cluster in %s", c.dataDir)
	t0 := time.Now()
	var out strings.Builder
	cmd := exec.Command(filepath.Join(c.binDir, "initdb"), args...)
	cmd.Dir = c.dataDir
	cmd.Env = childEnv()
	cmd.Stdout = &out
	cmd.Stderr = &out
	// SIGTERM, not SIGKILL, if we die: initdb then removes what it created, so the next start can retry.
	cmd.SysProcAttr = sysProcAttr(owner, syscall.SIGTERM)
	done := make(chan error, 1)
	if err := startLocked(cmd, func(err error) { done <- err }); err != nil {
		return fmt.Errorf("pgembed: starting %s: %w", cmd.Path, err)
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGINT) // initdb cleans up on SIGINT
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return fmt.Errorf("pgembed: initdb cancelled: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("pgembed: initdb failed (%v):\n%s", err, strings.TrimSpace(out.String()))
	}
	c.logf("pgembed: initdb done in %s", time.Since(t0).Round(time.Millisecond))
	return nil
}

// startLocked starts cmd from a goroutine locked to its OS thread and keeps that thread until the child
// exits, then calls exited with the result of cmd.Wait.
//
// Why: the parent-death signal (Pdeathsig, PR_SET_PDEATHSIG) is sent when the *thread* that forked the
// child exits, not the process. The Go runtime may end a thread at any time (a goroutine that exits
// while locked to its thread takes the thread with it), which would kill postgres for no reason. A
// locked goroutine that waits for the child pins the forking thread for exactly the child's lifetime,
// so the signal fires only when the whole process dies (including by SIGKILL). The cost is one OS
// thread blocked in wait while postgres runs, which cmd.Wait needs anyway.
func startLocked(cmd *exec.Cmd, exited func(error)) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited(cmd.Wait())
	}()
	return <-started
}

// DSN returns a connection string for database db over TCP on 127.0.0.1, as the superuser.
func (c *Cluster) DSN(db string) string {
	userinfo := url.User(Superuser)
	if c.password != "" {
		userinfo = url.UserPassword(Superuser, c.password)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     userinfo,
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// socketDSN connects over the unix socket, where the superuser is trusted.
func (c *Cluster) socketDSN(db string) string {
	q := url.Values{"host": {c.sockDir}, "port": {strconv.Itoa(c.port)}, "user": {Superuser},
		"dbname": {db}, "sslmode": {"disable"}}
	return "postgres:///?" + q.Encode()
}

// Pid returns the process id of the postmaster (the leader of its own process group); it changes when a
// supervised server restarts.
func (c *Cluster) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc.Pid
}

func (c *Cluster) exitErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waitErr
}

// Port returns the TCP port postgres listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// DataDir returns the absolute path of the data directory.
func (c *Cluster) DataDir() string { return c.dataDir }

// SocketDir returns the directory holding the server's unix socket (inside the data directory unless
// that path is too long for a socket address, then a directory under /tmp).
func (c *Cluster) SocketDir() string { return c.sockDir }

// LogPath returns the path of the server log.
func (c *Cluster) LogPath() string { return c.logPath }

// Done is closed when postgres has exited, whether through Stop or not. A supervised server that restarts
// has a new Done channel.
func (c *Cluster) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// Stop shuts postgres down with a fast shutdown (SIGINT: open transactions are rolled back, sessions
// are closed, a checkpoint is written), waits up to [StopTimeout] and then kills it. It returns an error
// if postgres did not exit cleanly (including when it had died before Stop). Calling Stop again returns
// the same result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopErr = c.stop()
	})
	return c.stopErr
}

func (c *Cluster) stop() error {
	defer func() {
		if c.ownSock {
			os.RemoveAll(c.sockDir)
		}
	}()
	close(c.stopping)
	if c.supervised != nil {
		<-c.supervised // no restart from here on
	}
	select {
	case <-c.done:
		return fmt.Errorf("pgembed: postgres had already exited: %v", c.waitErr)
	default:
	}
	t0 := time.Now()
	if err := c.proc.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.logf("pgembed: signalling postgres: %v", err)
	}
	select {
	case <-c.done:
	case <-time.After(StopTimeout):
		c.logf("pgembed: postgres did not stop within %s; killing it", StopTimeout)
		_ = c.proc.Kill()
		<-c.done
		return fmt.Errorf("pgembed: postgres did not stop within %s and was killed", StopTimeout)
	}
	if c.waitErr != nil {
		return fmt.Errorf("pgembed: postgres exited with %v; see %s", c.waitErr, c.logPath)
	}
	c.logf("pgembed: postgres stopped in %s", time.Since(t0).Round(time.Millisecond))
	return nil
}

// kill ends a postgres that is being started, without waiting for a clean shutdown.
func (c *Cluster) kill() {
	if c.proc == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.proc.Signal(syscall.SIGQUIT) // immediate shutdown
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.proc.Kill()
		<-c.done
	}
}

// setupSocketDir places the unix socket in the data directory, or in a private directory under /tmp
// when the data directory's path would make the socket path too long (or cannot be written in
// unix_socket_directories without quoting).
func (c *Cluster) setupSocketDir(owner *runAs) error {
	sockFile := "/.s.PGSQL.65535.lock"
	if len(c.dataDir)+len(sockFile) <= maxSocketPath && !strings.ContainsAny(c.dataDir, ",\"' \\") {
		c.sockDir = c.dataDir
		return nil
	}
	dir, err := os.MkdirTemp("/tmp", "impg-")
	if err != nil {
		return fmt.Errorf("pgembed: creating a socket directory: %w", err)
	}
	if owner != nil {
		if err := os.Chown(dir, int(owner.uid), int(owner.gid)); err != nil {
			os.RemoveAll(dir)
			return fmt.Errorf("pgembed: %w", err)
		}
	}
	c.sockDir, c.ownSock = dir, true
	c.logf("pgembed: data directory path is long; unix socket in %s", dir)
	return nil
}

// childEnv is the environment of initdb and postgres: ours, without libpq/PostgreSQL variables and
// locale settings (which could name a locale the machine lacks), with LC_ALL=C.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func rotateLog(path string) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(path, path+".1")
	}
}

// logTail returns up to n bytes from the end of the file at path, starting no earlier than offset from.
func logTail(path string, from int64, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	start := max(from, fi.Size()-n, 0)
	buf := make([]byte, fi.Size()-start)
	k, _ := f.ReadAt(buf, start)
	return strings.TrimSpace(string(buf[:k]))
}
