package pgtest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/imspec/imserver/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Databases are separate, carry the migrations, and are dropped when their test ends.
func TestNewPoolIsolatedAndMigrated(t *testing.T) {
	var names [4]string
	t.Run("group", func(t *testing.T) {
		for i := range names {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				t0 := time.Now()
				pool := pgtest.NewPool(t)
				t.Logf("database ready in %s", time.Since(t0).Round(time.Millisecond))
				if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&names[i]); err != nil {
					t.Fatal(err)
				}
				var migrations int
				if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&migrations); err != nil {
					t.Fatal(err)
				}
				if migrations == 0 {
					t.Fatal("no migrations recorded in a new database")
				}
				if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE mine (v int); INSERT INTO mine VALUES (%d)", i)); err != nil {
					t.Fatal(err)
				}
				var n int
				if err := pool.QueryRow(ctx, "SELECT count(*) FROM mine").Scan(&n); err != nil || n != 1 {
					t.Fatalf("count %d, %v", n, err)
				}
			})
		}
	})
	// All subtests (and their cleanups) are done: their databases are gone.
	dsn := pgtest.NewDB(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	seen := map[string]bool{}
	for _, name := range names {
		if name == "" || seen[name] {
			t.Fatalf("database names %q", names)
		}
		seen[name] = true
		var exists bool
		if err := conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists {
			t.Errorf("database %s still exists after its test", name)
		}
	}
}

func TestNewBareDB(t *testing.T) {
	conn, err := pgx.Connect(context.Background(), pgtest.NewBareDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("bare database has %d tables", n)
	}
}

// Cleanup drops a database even while the test still holds connections to it.
func TestDropWithOpenConnection(t *testing.T) {
	var dsn string
	t.Run("inner", func(t *testing.T) {
		dsn = pgtest.NewDB(t)
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn // left open on purpose
	})
	if conn, err := pgx.Connect(context.Background(), dsn); err == nil {
		conn.Close(context.Background())
		t.Fatal("database still reachable after its test")
	}
}

// BenchmarkNewDB measures creating a database (its drop happens at the end of the benchmark).
func BenchmarkNewDB(b *testing.B) {
	pgtest.NewDB(b) // the server and template are made once, outside the measurement
	b.ResetTimer()
	for b.Loop() {
		pgtest.NewDB(b)
	}
}
