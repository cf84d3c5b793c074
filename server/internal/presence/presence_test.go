package presence_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/presence"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type push struct {
	contentType int
	op          string
	tips        events.UserStatusChangeTips
	to          []string
}

type recorder struct {
	mu    sync.Mutex
	calls []push
}

func (r *recorder) NotifyOnline(contentType int, opUserID string, tips any, to []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, push{contentType, opUserID, tips.(events.UserStatusChangeTips), append([]string(nil), to...)})
}

func (r *recorder) wait(t *testing.T, n int) []push {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if len(r.calls) >= n {
			out := append([]push(nil), r.calls...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("got %d pushes, want %d: %+v", len(r.calls), n, r.calls)
	return nil
}

func TestPresenceNotifiesFriendsInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	q := db.New(pool)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		if err := q.InsertUser(ctx, db.InsertUserParams{UserID: u, CreateTime: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// bob and carol have alice as a friend; alice has dave (one-way), who therefore hears nothing.
	for _, pair := range [][2]string{{"alice", "bob"}, {"alice", "carol"}} {
		if err := q.InsertFriendPair(ctx, db.InsertFriendPairParams{A: pair[0], B: pair[1], CreateTime: 1, AddSource: 2}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, "INSERT INTO friends (owner_user_id, friend_user_id, create_time) VALUES ('alice', 'dave', 1)"); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	p := presence.New(q, rec, presence.Options{Workers: 2})
	defer p.Close()
	p.Online("alice", 5)
	p.Offline("alice", 5)
	p.Online("nobody", 1) // no friends: nothing
	calls := rec.wait(t, 4)
	want := []struct {
		to     string
		status int32
	}{{"bob", 1}, {"carol", 1}, {"bob", 0}, {"carol", 0}}
	for i, w := range want {
		c := calls[i]
		if c.contentType != events.UserStatusChange || c.op != "alice" || len(c.to) != 1 || c.to[0] != w.to ||
			c.tips != (events.UserStatusChangeTips{FromUserID: "alice", ToUserID: w.to, Status: w.status, PlatformID: 5}) {
			t.Fatalf("push %d = %+v, want to %s status %d", i, c, w.to, w.status)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(rec.wait(t, 4)); n != 4 {
		t.Fatalf("%d pushes, want 4", n)
	}
}

func TestPresenceCloseIgnoresLaterEvents(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	p := presence.New(db.New(pgtest.NewPool(t)), rec, presence.Options{QueuePerWorker: 1, Workers: 1})
	p.Close()
	p.Close() // idempotent
	p.Online("x", 1)
	p.Offline("x", 1)
}
