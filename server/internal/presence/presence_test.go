package presence_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/gateway"
	"github.com/imspec/imserver/server/internal/presence"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type push struct {
	op   string
	tips events.UserStatusChangeTips
	to   string
}

type recorder struct {
	mu    sync.Mutex
	calls []push
}

func (r *recorder) NotifyOnlineCtx(_ context.Context, contentType int, opUserID string, tips any, to []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if contentType != events.UserStatusChange || len(to) != 1 {
		panic(fmt.Sprintf("unexpected push %d to %v", contentType, to))
	}
	r.calls = append(r.calls, push{opUserID, tips.(events.UserStatusChangeTips), to[0]})
}

func (r *recorder) snapshot() []push {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]push(nil), r.calls...)
}

// wait waits for n pushes in all, then makes sure no more come.
func (r *recorder) wait(t *testing.T, n int) []push {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // generous: a loaded machine is slow, never failing
	for len(r.snapshot()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	got := r.snapshot()
	if len(got) != n {
		t.Fatalf("got %d pushes, want %d: %+v", len(got), n, got)
	}
	return got
}

func fast(opts presence.Options) presence.Options {
	if opts.Heartbeat == 0 {
		opts.Heartbeat, opts.TTL = 100*time.Millisecond, 2*time.Second
	}
	return opts
}

func start(t *testing.T, pool *pgxpool.Pool, n presence.Notifier, opts presence.Options) *presence.Presence {
	t.Helper()
	p, err := presence.Start(context.Background(), pool, n, fast(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// befriend makes each of friends have user in their friend list (one-way is enough for 1304).
func befriend(t *testing.T, pool *pgxpool.Pool, user string, friends ...string) {
	t.Helper()
	ctx := context.Background()
	q := db.New(pool)
	for _, u := range append([]string{user}, friends...) {
		if err := q.InsertUser(ctx, db.InsertUserParams{UserID: u, CreateTime: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range friends {
		if _, err := pool.Exec(ctx, "INSERT INTO friends (owner_user_id, friend_user_id, create_time) VALUES ($1, $2, 1)", f, user); err != nil {
			t.Fatal(err)
		}
	}
}

func ci(user, connID string, platform int) gateway.ConnInfo {
	return gateway.ConnInfo{Identity: auth.Identity{UserID: user, PlatformID: platform}, ConnID: connID, OperationID: "op-" + connID}
}

func rows(t *testing.T, pool *pgxpool.Pool, where string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM presence_conns WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitRows(t *testing.T, pool *pgxpool.Pool, want int, where string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // generous: a loaded machine is slow, never failing
	for rows(t, pool, where, args...) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d rows where %s %v, want %d", rows(t, pool, where, args...), where, args, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two registries on one database behave as two processes: the count of a user's connections is theirs
// together, and each status change is announced once.
func TestPresenceCountsAcrossProcesses(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	befriend(t, pool, "alice", "bob", "carol")
	rec := &recorder{}
	p1 := start(t, pool, rec, presence.Options{Workers: 2})
	p2 := start(t, pool, rec, presence.Options{Workers: 3})

	p1.Online("alice", 1) // gateway.Hooks: no effect of their own
	p1.Connected(ci("alice", "c1", 1))
	got := rec.wait(t, 2)
	for i, to := range []string{"bob", "carol"} {
		want := push{op: "alice", to: to, tips: events.UserStatusChangeTips{FromUserID: "alice", ToUserID: to, Status: presence.StatusOnline, PlatformID: 1}}
		if got[i] != want {
			t.Fatalf("push %d = %+v, want %+v", i, got[i], want)
		}
	}

	p2.Connected(ci("alice", "c2", 5))
	waitRows(t, pool, 1, "conn_id = 'c2' AND process_id = $1", p2.ProcessID())
	rec.wait(t, 2) // a second connection, in another process: no change
	remote, err := p1.Remote(context.Background(), []string{"alice", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(remote) != 1 || len(remote["alice"]) != 1 || remote["alice"][0] != (gateway.PlatformConn{PlatformID: 5, ConnID: "c2"}) {
		t.Fatalf("p1 sees elsewhere %+v, want alice's c2 on platform 5 only", remote)
	}

	p1.Disconnected(ci("alice", "c1", 1))
	waitRows(t, pool, 0, "conn_id = 'c1'")
	rec.wait(t, 2) // one connection is left, in p2
	p2.Disconnected(ci("alice", "c2", 5))
	got = rec.wait(t, 4)
	for _, g := range got[2:] {
		if g.tips.Status != presence.StatusOffline || g.tips.PlatformID != 5 {
			t.Fatalf("offline push = %+v", g)
		}
	}
}

// Connections that come and go before the worker gets to them, and replacements, never announce a
// spurious change, and leave no row behind.
func TestPresenceChurn(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	befriend(t, pool, "dan", "erin")
	rec := &recorder{}
	p := start(t, pool, rec, presence.Options{Workers: 1})
	p.Connected(ci("dan", "d0", 1))
	rec.wait(t, 1)
	for i := range 50 {
		id := fmt.Sprintf("d%d", i+1)
		p.Connected(ci("dan", id, 2))
		p.Disconnected(ci("dan", id, 2))
	}
	// A newer login on the same platform: Connected(new) comes before Disconnected(old).
	p.Connected(ci("dan", "d-new", 1))
	p.Disconnected(ci("dan", "d0", 1))
	waitRows(t, pool, 1, "user_id = 'dan'")
	waitRows(t, pool, 1, "conn_id = 'd-new'")
	rec.wait(t, 1)
	p.Disconnected(ci("dan", "d-new", 1))
	waitRows(t, pool, 0, "user_id = 'dan'")
	if got := rec.wait(t, 2); got[1].tips.Status != presence.StatusOffline {
		t.Fatalf("last push = %+v, want offline", got[1])
	}
}

// The rows of a process that stopped heartbeating are removed by a survivor, which announces offline for
// users left with no connection; at start a process removes rows of processes that are gone altogether.
func TestPresenceDeadProcess(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	befriend(t, pool, "fay", "gus")
	befriend(t, pool, "hal", "ivy")
	// A process that died long ago, and rows of a process without a row (both: before anyone started).
	for _, sql := range []string{
		"INSERT INTO presence_processes (process_id, seen_at) VALUES ('ghost', now() - interval '1 hour')",
		"INSERT INTO presence_conns (conn_id, process_id, user_id, platform_id) VALUES ('g1', 'ghost', 'fay', 2)",
		"INSERT INTO presence_conns (conn_id, process_id, user_id, platform_id) VALUES ('v1', 'vanished', 'hal', 3)",
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	p1 := start(t, pool, rec, presence.Options{})
	waitRows(t, pool, 0, "true")
	got := rec.wait(t, 2)
	seen := map[string]int32{}
	for _, g := range got {
		if g.tips.Status != presence.StatusOffline {
			t.Fatalf("push %+v, want offline", g)
		}
		seen[g.to] = g.tips.PlatformID
	}
	if seen["gus"] != 2 || seen["ivy"] != 3 {
		t.Fatalf("offline pushes %+v", got)
	}

	// A process that is alive (its conn counts: no online for fay's second connection) and then stops
	// heartbeating: the survivor's next round removes its row, and fay, still connected to p1, stays online.
	for _, sql := range []string{
		"INSERT INTO presence_processes (process_id) VALUES ('dying')",
		"INSERT INTO presence_conns (conn_id, process_id, user_id, platform_id) VALUES ('d1', 'dying', 'fay', 2)",
		"INSERT INTO presence_conns (conn_id, process_id, user_id, platform_id) VALUES ('d2', 'dying', 'hal', 2)",
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	p1.Connected(ci("fay", "f1", 4))
	waitRows(t, pool, 1, "conn_id = 'f1'")
	rec.wait(t, 2)
	if _, err := pool.Exec(ctx, "UPDATE presence_processes SET seen_at = now() - interval '1 hour' WHERE process_id = 'dying'"); err != nil {
		t.Fatal(err)
	}
	waitRows(t, pool, 0, "process_id = 'dying'")
	got = rec.wait(t, 3) // hal went offline; fay did not
	if g := got[2]; g.to != "ivy" || g.tips.Status != presence.StatusOffline {
		t.Fatalf("push %+v, want hal's offline to ivy", g)
	}

	// A process presumed dead that is not (simulated: its rows and its process row are removed) notices at
	// its next heartbeat and writes its connections again.
	for _, sql := range []string{"DELETE FROM presence_conns WHERE process_id = $1", "DELETE FROM presence_processes WHERE process_id = $1"} {
		if _, err := pool.Exec(ctx, sql, p1.ProcessID()); err != nil {
			t.Fatal(err)
		}
	}
	waitRows(t, pool, 1, "conn_id = 'f1' AND process_id = $1", p1.ProcessID())
}

// Close removes the process's rows (announcing offline), and hooks called afterwards are ignored.
func TestPresenceCloseClearsRows(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	befriend(t, pool, "kim", "lou")
	rec := &recorder{}
	p := start(t, pool, rec, presence.Options{})
	p.Connected(ci("kim", "k1", 1))
	p.Connected(ci("kim", "k2", 2))
	rec.wait(t, 1)
	waitRows(t, pool, 2, "process_id = $1", p.ProcessID())
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil { // idempotent
		t.Fatal(err)
	}
	if n := rows(t, pool, "true"); n != 0 {
		t.Fatalf("%d rows after Close", n)
	}
	var procs int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM presence_processes").Scan(&procs); err != nil || procs != 0 {
		t.Fatalf("%d process rows after Close (%v)", procs, err)
	}
	got := rec.wait(t, 2)
	if got[1].tips.Status != presence.StatusOffline {
		t.Fatalf("push %+v, want offline", got[1])
	}
	p.Connected(ci("kim", "k3", 3))
	time.Sleep(50 * time.Millisecond)
	if n := rows(t, pool, "true"); n != 0 {
		t.Fatalf("a hook after Close wrote %d rows", n)
	}
}
