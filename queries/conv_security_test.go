package queries_test

import (
	"context"
	"io/fs"
	"maps"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/imspec/imserver/queries"
)

// Migration 0004 on a database an older server wrote: the forged single-chat row goes, the real one stays,
// a former group member's row is frozen at the group's max seq; afterwards the triggers keep leave_seq.
func TestConvSecurityMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := bareDB(t)
	migrations := func(below string) fstest.MapFS {
		out := fstest.MapFS{}
		entries, err := fs.ReadDir(queries.Migrations, "migrations")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if below == "" || e.Name() < below {
				b, err := fs.ReadFile(queries.Migrations, "migrations/"+e.Name())
				if err != nil {
					t.Fatal(err)
				}
				out[e.Name()] = file(string(b))
			}
		}
		return out
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if _, err := queries.MigrateFS(ctx, pool, migrations("0004")); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO users (user_id, create_time) VALUES ('alice', 1), ('bob', 1), ('smith', 1), ('m1', 1), ('m2', 1)`)
	exec(`INSERT INTO conversations (owner_user_id, conversation_id, conversation_type, user_id) VALUES
	      ('alice', 'single_alice_bob', 1, 'bob'),
	      ('smith', 'single_alice_bob_smith', 1, 'alice_bob'),
	      ('smith', 'single_bob_smith', 1, 'alice')`)
	exec(`INSERT INTO groups (group_id, owner_user_id, create_time) VALUES ('g', 'm1', 1)`)
	exec(`INSERT INTO group_members (group_id, user_id, join_time) VALUES ('g', 'm1', 1)`)
	exec(`INSERT INTO conversation_seqs (conversation_id, max_seq) VALUES ('group_g', 7)`)
	exec(`INSERT INTO conversations (owner_user_id, conversation_id, conversation_type, group_id) VALUES
	      ('m1', 'group_g', 3, 'g'), ('m2', 'group_g', 3, 'g')`)
	if _, err := queries.MigrateFS(ctx, pool, migrations("")); err != nil {
		t.Fatal(err)
	}

	leaveSeqs := func() map[string]string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT owner_user_id || ' ' || conversation_id || ' ' || COALESCE(leave_seq::text, '-') FROM conversations ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(s)
			out[f[0]+" "+f[1]] = f[2]
		}
		return out
	}
	want := map[string]string{"alice single_alice_bob": "-", "m1 group_g": "-", "m2 group_g": "7"}
	if got := leaveSeqs(); !maps.Equal(got, want) {
		t.Fatalf("after the migration: %v, want %v", got, want)
	}
	exec(`UPDATE conversation_seqs SET max_seq = 9 WHERE conversation_id = 'group_g'`)
	exec(`DELETE FROM group_members WHERE group_id = 'g' AND user_id = 'm1'`)
	exec(`INSERT INTO group_members (group_id, user_id, join_time) VALUES ('g', 'm2', 2)`)
	want = map[string]string{"alice single_alice_bob": "-", "m1 group_g": "9", "m2 group_g": "-"}
	if got := leaveSeqs(); !maps.Equal(got, want) {
		t.Fatalf("after a leave and a rejoin: %v, want %v", got, want)
	}
}
