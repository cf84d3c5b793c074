package queries_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/queries"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bareDB returns a pool on a new database without any migration (pgtest.NewDB's template already has
// the real ones applied).
func bareDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.NewBareDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func file(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }

type row struct {
	Version int
	Name    string
}

func recorded(t *testing.T, pool *pgxpool.Pool) []row {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT version, name FROM schema_migrations ORDER BY applied_at, version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.Version, &r.Name); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func versions(ms []queries.Migration) []int {
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.Version)
	}
	return vs
}

// Versions apply in numeric order (2 before 10, whatever the file order), each once.
func TestMigrateOrderAndIdempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := bareDB(t)
	fsys := fstest.MapFS{
		"10_c.up.sql":    file("INSERT INTO log VALUES ('c');"),
		"1_a.up.sql":     file("CREATE TABLE log (step text); INSERT INTO log VALUES ('a');"),
		"2_b.up.sql":     file("INSERT INTO log VALUES ('b');\nCREATE TABLE b (id int);"),
		"2_b.down.sql":   file("DROP TABLE b;"),
		"README.md":      file("not a migration"),
		"sub/3_x.up.sql": file("this is not read"),
	}
	applied, err := queries.MigrateFS(ctx, pool, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(versions(applied)); got != "[1 2 10]" {
		t.Fatalf("applied %s", got)
	}
	var steps string
	if err := pool.QueryRow(ctx, "SELECT string_agg(step, '' ORDER BY ctid) FROM log").Scan(&steps); err != nil {
		t.Fatal(err)
	}
	if steps != "abc" {
		t.Fatalf("steps ran as %q", steps)
	}
	want := []row{{1, "a"}, {2, "b"}, {10, "c"}}
	if got := recorded(t, pool); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("recorded %v, want %v", got, want)
	}

	// Again: nothing to do.
	applied, err = queries.MigrateFS(ctx, pool, fsys)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second run applied %v, err %v", versions(applied), err)
	}
	// A new migration: only it runs.
	fsys["11_d.up.sql"] = file("INSERT INTO log VALUES ('d');")
	applied, err = queries.MigrateFS(ctx, pool, fsys)
	if err != nil || fmt.Sprint(versions(applied)) != "[11]" {
		t.Fatalf("third run applied %v, err %v", versions(applied), err)
	}
	if err := pool.QueryRow(ctx, "SELECT string_agg(step, '' ORDER BY ctid) FROM log").Scan(&steps); err != nil || steps != "abcd" {
		t.Fatalf("steps %q, %v", steps, err)
	}
}

// A failing migration leaves nothing behind: its statements and its schema_migrations row roll back
// together, the earlier migrations stay, and the error names the file and line.
func TestMigrateFailureRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := bareDB(t)
	fsys := fstest.MapFS{
		"0001_ok.up.sql":   file("CREATE TABLE ok (id int);"),
		"0002_bad.up.sql":  file("CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nSELECT * FROM no_such_table;"),
		"0003_next.up.sql": file("CREATE TABLE next (id int);"),
	}
	applied, err := queries.MigrateFS(ctx, pool, fsys)
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(err.Error(), "0002_bad.up.sql line 3") || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("error %q does not name the file, line and cause", err)
	}
	if fmt.Sprint(versions(applied)) != "[1]" {
		t.Fatalf("applied %v", versions(applied))
	}
	if got := recorded(t, pool); fmt.Sprint(got) != fmt.Sprint([]row{{1, "ok"}}) {
		t.Fatalf("recorded %v", got)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename IN ('half', 'next')").Scan(&n); err != nil || n != 0 {
		t.Fatalf("tables of failed/later migrations exist (%d, %v)", n, err)
	}
	// Fixed, it goes through.
	fsys["0002_bad.up.sql"] = file("CREATE TABLE half (id int);")
	if applied, err = queries.MigrateFS(ctx, pool, fsys); err != nil || fmt.Sprint(versions(applied)) != "[2 3]" {
		t.Fatalf("applied %v, err %v", versions(applied), err)
	}
}

// Several processes migrating one database at once apply each migration exactly once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewBareDB(t)
	fsys := fstest.MapFS{
		// Not idempotent on purpose: a second run would fail on CREATE TABLE or double the rows.
		"0001_t.up.sql": file("CREATE TABLE t (id int); INSERT INTO t VALUES (1);"),
		"0002_u.up.sql": file("INSERT INTO t SELECT 2 FROM pg_sleep(0.05);"),
	}
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	counts := make([]int, n)
	for i := range n {
		wg.Go(func() {
			pool, err := pgxpool.New(ctx, dsn) // a pool each, as separate server processes have
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			applied, err := queries.MigrateFS(ctx, pool, fsys)
			errs[i], counts[i] = err, len(applied)
		})
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		total += counts[i]
	}
	if total != 2 {
		t.Fatalf("migrations applied %d times in all, want 2", total)
	}
	check, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var rows int
	if err := check.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("t has %d rows (%v)", rows, err)
	}
}

func TestMigrateRefusesInconsistentHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := fstest.MapFS{
		"0001_a.up.sql": file("SELECT 1;"),
		"0003_c.up.sql": file("SELECT 1;"),
	}
	t.Run("missing older migration", func(t *testing.T) {
		pool := bareDB(t)
		if _, err := queries.MigrateFS(ctx, pool, base); err != nil {
			t.Fatal(err)
		}
		later := fstest.MapFS{"0002_b.up.sql": file("SELECT 1;")}
		for k, v := range base {
			later[k] = v
		}
		_, err := queries.MigrateFS(ctx, pool, later)
		if err == nil || !strings.Contains(err.Error(), "0002_b.up.sql is not applied but the later version 3 is") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("same version, other name", func(t *testing.T) {
		pool := bareDB(t)
		if _, err := queries.MigrateFS(ctx, pool, base); err != nil {
			t.Fatal(err)
		}
		renamed := fstest.MapFS{"0001_a.up.sql": base["0001_a.up.sql"], "0003_other.up.sql": file("SELECT 1;")}
		_, err := queries.MigrateFS(ctx, pool, renamed)
		if err == nil || !strings.Contains(err.Error(), `version 3 is recorded as "c"`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("newer database", func(t *testing.T) {
		// A database migrated by a newer server (version 3 unknown here) is accepted as it is.
		pool := bareDB(t)
		if _, err := queries.MigrateFS(ctx, pool, base); err != nil {
			t.Fatal(err)
		}
		older := fstest.MapFS{"0001_a.up.sql": base["0001_a.up.sql"]}
		if applied, err := queries.MigrateFS(ctx, pool, older); err != nil || len(applied) != 0 {
			t.Fatalf("applied %v, err %v", versions(applied), err)
		}
	})
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	t.Parallel()
	for name, fsys := range map[string]fstest.MapFS{
		"misnamed":  {"0001_init.sql": file("")},
		"duplicate": {"0001_a.up.sql": file(""), "001_b.up.sql": file("")},
		"zero":      {"0000_a.up.sql": file("")},
	} {
		if _, err := queries.LoadMigrations(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The real migrations load, are numbered 1, 2, 3, ... and apply cleanly to an empty database, once.
func TestEmbeddedMigrations(t *testing.T) {
	t.Parallel()
	ms, err := queries.LoadMigrations(mustSub(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("%s: version %d, want %d (no gaps)", m.File, m.Version, i+1)
		}
	}
	ctx := context.Background()
	pool := bareDB(t)
	if err := queries.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := queries.Migrate(ctx, pool); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := recorded(t, pool); len(got) != len(ms) {
		t.Fatalf("recorded %v, want %d migrations", got, len(ms))
	}
}

func mustSub(t *testing.T) fs.FS {
	t.Helper()
	sub, err := fs.Sub(queries.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
