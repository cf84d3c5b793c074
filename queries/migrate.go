package queries

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrationsTable records the applied migrations: one row per version.
const MigrationsTable = "schema_migrations"

// migrateLockKey is the advisory lock that serializes migrations within one database ("imserver" in
// ASCII); several server processes starting at once take turns, and the later ones find nothing to do.
const migrateLockKey int64 = 0x696d736572766572

// Migration is one NNNN_name.up.sql file.
type Migration struct {
	Version int    // NNNN, any number of digits; versions are unique and applied in increasing order
	Name    string // the part between "NNNN_" and ".up.sql"
	File    string // the file name
	SQL     string
}

var migrationFileRE = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9_\-]+)\.(up|down)\.sql$`)

// Migrate applies the embedded migrations (queries/migrations) that the database lacks. See [MigrateFS].
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := MigrateFS(ctx, pool, embeddedMigrations())
	return err
}

func embeddedMigrations() fs.FS {
	sub, err := fs.Sub(Migrations, "migrations")
	if err != nil {
		panic(err) // cannot happen: "migrations" is a valid path
	}
	return sub
}

// LoadMigrations reads the *.up.sql files at the top of fsys, in version order. *.down.sql files are
// ignored (rolling back is done by a new migration); any other *.sql name is an error, so that a
// misnamed file is not silently skipped.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("queries: reading migrations: %w", err)
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m := migrationFileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("queries: migration file %q is not named NNNN_name.up.sql (or .down.sql)", e.Name())
		}
		if m[3] != "up" {
			continue
		}
		v, err := strconv.Atoi(m[1])
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("queries: migration file %q: the version must be a positive number", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("queries: migrations %q and %q have the same version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("queries: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: m[2], File: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// MigrateFS applies the migrations in fsys (see [LoadMigrations]) that the database has not recorded in
// schema_migrations, in version order, each in its own transaction together with its row in
// schema_migrations, and returns those it applied. It holds a session-level advisory lock for the whole
// run, so concurrent callers on the same database (several server processes starting at once) apply
// each migration exactly once. Calling it again applies nothing.
//
// It refuses to run when the database recorded a version under another name than its file's (two
// branches numbered different migrations alike), and when a migration is missing that is older than
// one already applied (migrations must not be applied out of order). Versions recorded in the database
// but unknown to fsys (a newer server already migrated it) are left alone.
func MigrateFS(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) ([]Migration, error) {
	ms, err := LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("queries: migrate: %w", err)
	}
	defer conn.Release()

	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return nil, fmt.Errorf("queries: migrate: taking the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
			// Closing the session releases the lock; the pool drops the closed connection.
			_ = conn.Conn().Close(uctx)
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+MigrationsTable+` (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return nil, fmt.Errorf("queries: migrate: creating %s: %w", MigrationsTable, err)
	}
	applied := map[int]string{}
	maxApplied := 0
	rows, err := conn.Query(ctx, "SELECT version, name FROM "+MigrationsTable)
	if err != nil {
		return nil, fmt.Errorf("queries: migrate: %w", err)
	}
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queries: migrate: %w", err)
		}
		applied[v] = name
		maxApplied = max(maxApplied, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: migrate: %w", err)
	}

	var pending []Migration
	for _, m := range ms {
		name, done := applied[m.Version]
		switch {
		case done && name != m.Name:
			return nil, fmt.Errorf("queries: migrate: version %d is recorded as %q but the file is %s; "+
				"two migrations share a number, renumber the newer one", m.Version, name, m.File)
		case done:
		case m.Version < maxApplied:
			return nil, fmt.Errorf("queries: migrate: %s is not applied but the later version %d is; "+
				"migrations apply in order only, renumber it above %d", m.File, maxApplied, maxApplied)
		default:
			pending = append(pending, m)
		}
	}

	var done []Migration
	for _, m := range pending {
		if err := applyOne(ctx, conn, m); err != nil {
			return done, err
		}
		done = append(done, m)
	}
	return done, nil
}

func applyOne(ctx context.Context, conn *pgxpool.Conn, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("queries: migration %s: %w", m.File, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	// Without arguments pgx uses the simple protocol, so a file may hold many statements.
	if strings.TrimSpace(m.SQL) != "" {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("queries: migration %s%s: %w", m.File, errorLine(m.SQL, err), err)
		}
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+MigrationsTable+" (version, name, applied_at) VALUES ($1, $2, now())",
		m.Version, m.Name); err != nil {
		return fmt.Errorf("queries: migration %s: recording it: %w", m.File, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("queries: migration %s: commit: %w", m.File, err)
	}
	return nil
}

// errorLine turns the character position of a PostgreSQL error into " line N".
func errorLine(sql string, err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Position <= 0 {
		return ""
	}
	runes := []rune(sql)
	pos := min(int(pgErr.Position)-1, len(runes))
	return " line " + strconv.Itoa(1+strings.Count(string(runes[:pos]), "\n"))
}
