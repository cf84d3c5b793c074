// Package pgtest gives tests a real PostgreSQL: one server per test binary, a fresh database per test.
//
// Call [Main] from TestMain, then [NewDB] or [NewPool] in each test:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		t.Parallel()
//		pool := pgtest.NewPool(t) // a database of its own, with the migrations applied
//		...
//	}
//
// The server is a private, non-durable ([pgembed.Options].Fast) PostgreSQL in a temporary directory,
// started on the first call of NewDB/NewPool and stopped when the tests end; a test binary that never
// asks for a database starts nothing. When the environment variable IMSERVER_TEST_DATABASE_URL is set
// (a URL or key=value connection string for a role that may create databases), that server is used
// instead and nothing is started.
//
// Each database is created from a template database that has the migrations of package queries applied
// once, so creating one costs a file copy rather than running the migrations, and is dropped when its
// test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imspec/imserver/internal/pgembed"
	"github.com/imspec/imserver/queries"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvDatabaseURL names the environment variable that points the tests at an existing server.
const EnvDatabaseURL = "IMSERVER_TEST_DATABASE_URL"

// TemplateDB is the name of the template database on the private server. On a server named by
// IMSERVER_TEST_DATABASE_URL, which test binaries may share, each binary uses its own
// TemplateDB_<pid>_<random> and drops it at the end.
const TemplateDB = "imtemplate"

var (
	mainCalled atomic.Bool
	setupOnce  sync.Once
	setupErr   error
	env        struct {
		cluster  *pgembed.Cluster // nil with an external server
		tmpDir   string
		admin    *pgxpool.Pool // connected to the maintenance database
		dsnFor   func(db string) string
		template string
		prefix   string // of the databases this binary creates
		strategy string // of CREATE DATABASE
	}
	dbSeq atomic.Int64
)

// Main runs the tests of a package: call it from TestMain. It runs m, then drops what it created and
// stops the server it started, and exits with m's exit code.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// NewDB creates an empty database of this test's own, with the migrations of package queries applied,
// and returns a connection string for it. The database is dropped (its connections closed) when the
// test ends. Safe for parallel tests.
func NewDB(t testing.TB) string {
	t.Helper()
	return newDB(t, "") // "": the migrated template, known once set up
}

// NewBareDB is NewDB without the migrations: a database as CREATE DATABASE makes it (for testing the
// migrations themselves).
func NewBareDB(t testing.TB) string {
	t.Helper()
	return newDB(t, "template0")
}

// NewPool is NewDB plus a pool connected to the new database, closed when the test ends (before the
// database is dropped). The connection string is pool.Config().ConnString().
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := NewDB(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func newDB(t testing.TB, template string) string {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: call pgtest.Main(m) from TestMain in this package (func TestMain(m *testing.M) { pgtest.Main(m) })")
	}
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	if template == "" {
		template = env.template
	}
	name := dbName(env.prefix, t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := env.admin.Exec(ctx, "CREATE DATABASE "+quote(name)+" TEMPLATE "+quote(template)+env.strategy)
	if err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := env.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quote(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return env.dsnFor(name)
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// dbName is prefix + a readable piece of the test name + a sequence number, within PostgreSQL's 63 bytes.
func dbName(prefix, testName string) string {
	seq := "_" + strconv.FormatInt(dbSeq.Add(1), 10)
	base := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	if room := 63 - len(prefix) - len(seq); len(base) > room {
		base = base[:room]
	}
	return prefix + base + seq
}

func quote(ident string) string { return pgx.Identifier{ident}.Sanitize() }

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var adminDSN string
	if u := os.Getenv(EnvDatabaseURL); u != "" {
		suffix, err := randomHex(3)
		if err != nil {
			return err
		}
		env.dsnFor = func(db string) string { return withDatabase(u, db) }
		env.template = fmt.Sprintf("%s_%d_%s", TemplateDB, os.Getpid(), suffix)
		env.prefix = fmt.Sprintf("t%d%s_", os.Getpid(), suffix)
		adminDSN = u
	} else {
		removeLeftovers()
		dir, err := os.MkdirTemp("", fmt.Sprintf("imserver-pgtest-%d-", os.Getpid()))
		if err != nil {
			return err
		}
		env.tmpDir = dir
		logf := func(string, ...any) {}
		if testing.Verbose() {
			logf = log.New(os.Stderr, "", log.LstdFlags).Printf
		}
		t0 := time.Now()
		c, err := pgembed.Start(ctx, pgembed.Options{DataDir: filepath.Join(dir, "data"), Fast: true, Logf: logf})
		if err != nil {
			return err
		}
		logf("pgtest: PostgreSQL ready in %s", time.Since(t0).Round(time.Millisecond))
		env.cluster = c
		env.dsnFor = c.DSN
		env.template = TemplateDB
		env.prefix = "t_"
		adminDSN = c.DSN("postgres")
	}
	cfg, err := pgxpool.ParseConfig(adminDSN)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvDatabaseURL, err)
	}
	cfg.MaxConns = 4
	if env.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	var version int
	if err := env.admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if version >= 150000 {
		// Copying the files of a small template is about twice as fast as WAL-logging it (the default
		// since 15); the checkpoints FILE_COPY needs are cheap without fsync.
		env.strategy = " STRATEGY FILE_COPY"
	}
	return makeTemplate(ctx)
}

// makeTemplate creates the template database and applies the migrations to it. Connections to it are
// then disallowed: CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template.
func makeTemplate(ctx context.Context) error {
	tmpl := quote(env.template)
	if _, err := env.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+tmpl+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := env.admin.Exec(ctx, "CREATE DATABASE "+tmpl+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("creating the template database: %w", err)
	}
	pool, err := pgxpool.New(ctx, env.dsnFor(env.template))
	if err != nil {
		return err
	}
	err = queries.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return fmt.Errorf("migrating the template database: %w", err)
	}
	if _, err := env.admin.Exec(ctx, "ALTER DATABASE "+tmpl+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return err
	}
	return nil
}

func teardown() error {
	if !setupDone() {
		return nil
	}
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if env.admin != nil {
		if env.cluster == nil && env.template != "" {
			if _, err := env.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quote(env.template)); err != nil {
				errs = append(errs, fmt.Errorf("dropping the template database: %w", err))
			}
		}
		env.admin.Close()
	}
	if env.cluster != nil {
		if err := env.cluster.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if env.tmpDir != "" {
		if err := os.RemoveAll(env.tmpDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setupDone reports whether setup ran (without running it).
func setupDone() bool {
	ran := true
	setupOnce.Do(func() { ran = false })
	return ran
}

// withDatabase returns dsn (a URL or a key=value string) with its database replaced by db.
func withDatabase(dsn, db string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path = "/" + db
			u.RawPath = ""
			return u.String()
		}
	}
	// In key=value strings a later keyword overrides an earlier one.
	return dsn + " dbname='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(db) + "'"
}

// removeLeftovers deletes the temporary directories of earlier test binaries that were killed before
// they could clean up (their PostgreSQL died with them).
func removeLeftovers() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "imserver-pgtest-*-*"))
	for _, dir := range matches {
		parts := strings.SplitN(filepath.Base(dir), "-", 4) // imserver, pgtest, pid, random
		if len(parts) != 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || err == syscall.EPERM {
			continue // still running
		}
		fi, err := os.Stat(dir)
		if err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
