package groups_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/bus"
	"github.com/imspec/imserver/server/internal/bus/natstest"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/groups"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	pool *pgxpool.Pool
	chat *chat.Service
	g    *groups.Service
}

func newEnv(t *testing.T, limits groups.Limits) *env {
	t.Helper()
	pool := pgtest.NewPool(t)
	c := chat.New(pool, quiet, chat.Options{})
	t.Cleanup(c.Close)
	return &env{pool: pool, chat: c, g: groups.New(pool, c, limits)}
}

// users registers users named prefix0..prefix(n-1) and returns their IDs.
func (e *env) users(t *testing.T, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i)
		if _, err := e.pool.Exec(context.Background(), `INSERT INTO users (user_id, nickname, create_time) VALUES ($1, $1, 1)`, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func (e *env) isMember(t *testing.T, groupID, userID string) bool {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM group_members WHERE group_id = $1 AND user_id = $2`, groupID, userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// stored is the content types stored in a conversation, in seq order.
func (e *env) stored(t *testing.T, conv string) []int32 {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT content_type FROM messages WHERE conversation_id = $1 ORDER BY seq`, conv)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int32
	for rows.Next() {
		var ct int32
		if err := rows.Scan(&ct); err != nil {
			t.Fatal(err)
		}
		out = append(out, ct)
	}
	return out
}

func as(userID string) auth.Identity { return auth.Identity{UserID: userID, PlatformID: 5} }

func wantCode(t *testing.T, err error, code api.ErrCode) *apierr.Error {
	t.Helper()
	e := apierr.From(err)
	if e == nil || e.Code != code {
		t.Fatalf("got %v, want errCode %d", err, code)
	}
	return e
}

func (e *env) create(t *testing.T, owner string, members []string) string {
	t.Helper()
	g, err := e.g.Create(context.Background(), as(owner), groups.NewGroup{MemberUserIDs: members, GroupInfo: api.GroupInfo{GroupName: "g"}})
	if err != nil {
		t.Fatal(err)
	}
	return g.GroupID
}

// A change and its notification are one transaction: when storing the notification fails, the change is not
// applied either (before, the kick committed first and its 1508 could be lost with a 500 reply).
func TestKickAndItsNotificationCommitTogether(t *testing.T) {
	t.Parallel()
	e := newEnv(t, groups.Limits{})
	ctx := context.Background()
	u := e.users(t, "k", 3)
	gid := e.create(t, u[0], u[1:])
	conv := chat.GroupConversationID(gid)
	before := e.stored(t, conv)

	// Inject a failure between the change and its notification: PostgreSQL refuses the 1508 row.
	if _, err := e.pool.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION refuse_kick_note() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected failure'; END $$;
		CREATE TRIGGER refuse_kick_note BEFORE INSERT ON messages FOR EACH ROW
		WHEN (NEW.content_type = %d) EXECUTE FUNCTION refuse_kick_note();`, events.MemberKicked)); err != nil {
		t.Fatal(err)
	}
	err := e.g.Kick(ctx, as(u[0]), groups.Removal{GroupID: gid, KickedUserIDs: []string{u[1]}})
	if err == nil || apierr.From(err) != nil {
		t.Fatalf("kick with its notification refused: got %v, want an internal error", err)
	}
	if !e.isMember(t, gid, u[1]) {
		t.Fatalf("the kick was applied although its notification was not stored")
	}
	if got := e.stored(t, conv); len(got) != len(before) {
		t.Fatalf("group conversation holds %v after the failed kick, want %v", got, before)
	}

	if _, err := e.pool.Exec(ctx, `DROP TRIGGER refuse_kick_note ON messages`); err != nil {
		t.Fatal(err)
	}
	if err := e.g.Kick(ctx, as(u[0]), groups.Removal{GroupID: gid, KickedUserIDs: []string{u[1]}}); err != nil {
		t.Fatal(err)
	}
	if e.isMember(t, gid, u[1]) {
		t.Fatalf("%s is still a member after the kick", u[1])
	}
	got := e.stored(t, conv)
	if len(got) != len(before)+1 || got[len(got)-1] != events.MemberKicked {
		t.Fatalf("group conversation holds %v, want %v then one %d", got, before, events.MemberKicked)
	}
}

type delivery struct {
	to    []string
	frame string
}

type recorder struct {
	mu  sync.Mutex
	got []delivery
	ch  chan struct{}
}

func (r *recorder) Deliver(userIDs []string, frame []byte, _ string) {
	r.mu.Lock()
	r.got = append(r.got, delivery{append([]string(nil), userIDs...), string(frame)})
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) Kick(string, int, string) {}

// receivers is every user some delivery containing substr went to.
func (r *recorder) receivers(substr string) map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for _, d := range r.got {
		if strings.Contains(d.frame, substr) {
			for _, u := range d.to {
				out[u] = true
			}
		}
	}
	return out
}

// Kicking hundreds of members with long IDs succeeds, and another node pushes the 1508 to every one of them
// (once, under LISTEN/NOTIFY, the payload exceeded PostgreSQL's 8,000 bytes and the kick answered 500).
func TestKickOfManyLongIDsReachesOtherProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, groups.Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := strings.Repeat("x", 36)
	u := e.users(t, long, 301)
	gid := e.create(t, u[0], u[1:])

	// A second node: its own chat service on the same database, both on one NATS bus.
	ns := natstest.Start(t)
	other := chat.New(e.pool, quiet, chat.Options{})
	t.Cleanup(other.Close)
	rec := &recorder{ch: make(chan struct{}, 1)}
	other.SetPusher(rec)
	for _, c := range []*chat.Service{e.chat, other} {
		b, err := bus.ConnectNATS(bus.NATSOptions{URLs: natstest.URLs(ns), Log: quiet}, c.BusHandler())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		c.SetBus(b)
		if c == other {
			b.Hold(u[0])
		}
	}
	// Wait until it is subscribed: an online-only push from this node reaches it.
	deadline := time.Now().Add(30 * time.Second)
	for !rec.receivers(`"contentType":1304`)[u[0]] {
		if time.Now().After(deadline) {
			t.Fatal("the second process never started listening")
		}
		e.chat.NotifyOnline(1304, u[0], map[string]string{}, []string{u[0]})
		select {
		case <-rec.ch:
		case <-time.After(100 * time.Millisecond):
		}
	}

	kicked := u[1:]
	if err := e.g.Kick(ctx, as(u[0]), groups.Removal{GroupID: gid, KickedUserIDs: kicked}); err != nil {
		t.Fatalf("kick %d members: %v", len(kicked), err)
	}
	want := fmt.Sprintf(`"contentType":%d`, events.MemberKicked)
	for {
		got := rec.receivers(want)
		missing := 0
		for _, k := range kicked {
			if !got[k] {
				missing++
			}
		}
		if missing == 0 && got[u[0]] {
			break
		}
		select {
		case <-rec.ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("the other process pushed 1508 to %d users; %d kicked users missing (owner: %v)", len(got), missing, got[u[0]])
		}
	}
}

func TestGroupSizeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, groups.Limits{MaxMembers: 3})
	ctx := context.Background()
	u := e.users(t, "s", 5)

	_, err := e.g.Create(ctx, as(u[0]), groups.NewGroup{MemberUserIDs: u[1:4]})
	if msg := wantCode(t, err, api.ErrCodeGroupLimitReached).Msg; !strings.Contains(msg, "at most 3") {
		t.Errorf("errMsg %q does not name the limit", msg)
	}
	gid := e.create(t, u[0], u[1:3])
	err = e.g.Invite(ctx, as(u[0]), groups.Invitation{GroupID: gid, InvitedUserIDs: []string{u[3]}})
	wantCode(t, err, api.ErrCodeGroupLimitReached)
	if e.isMember(t, gid, u[3]) {
		t.Fatalf("%s joined a full group", u[3])
	}
	// A direct join is refused alike.
	if _, err := e.pool.Exec(ctx, `UPDATE groups SET need_verification = 2 WHERE group_id = $1`, gid); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.g.Join(ctx, as(u[4]), groups.JoinRequest{GroupID: gid}), api.ErrCodeGroupLimitReached)
	// Room again after someone leaves.
	if err := e.g.Quit(ctx, as(u[2]), gid, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.g.Join(ctx, as(u[4]), groups.JoinRequest{GroupID: gid}); err != nil {
		t.Fatal(err)
	}
}

func TestGroupsPerUserLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, groups.Limits{MaxGroupsPerUser: 2})
	ctx := context.Background()
	u := e.users(t, "p", 3)
	first := e.create(t, u[0], []string{u[2]})
	e.create(t, u[1], []string{u[2]})

	_, err := e.g.Create(ctx, as(u[1]), groups.NewGroup{MemberUserIDs: []string{u[2]}})
	if msg := wantCode(t, err, api.ErrCodeGroupLimitReached).Msg; !strings.Contains(msg, u[2]) || !strings.Contains(msg, "2 groups") {
		t.Errorf("errMsg %q does not name the user and the limit", msg)
	}
	// A dismissed group no longer counts.
	if err := e.g.Dismiss(ctx, as(u[0]), first, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.g.Create(ctx, as(u[1]), groups.NewGroup{MemberUserIDs: []string{u[2]}}); err != nil {
		t.Fatal(err)
	}
}

// The role rules and the notifications each change stores, through the domain alone.
func TestRolesAndNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t, groups.Limits{})
	ctx := context.Background()
	u := e.users(t, "r", 4) // owner, member, member, outsider
	gid := e.create(t, u[0], u[1:3])
	conv := chat.GroupConversationID(gid)

	wantCode(t, e.g.Kick(ctx, as(u[1]), groups.Removal{GroupID: gid, KickedUserIDs: []string{u[2]}}), api.ErrCodeNoPermission)
	wantCode(t, e.g.Quit(ctx, as(u[0]), gid, ""), api.ErrCodeOwnerCannotQuit)
	wantCode(t, e.g.Quit(ctx, as(u[1]), gid, u[2]), api.ErrCodeNoPermission)
	wantCode(t, e.g.Invite(ctx, as(u[3]), groups.Invitation{GroupID: gid, InvitedUserIDs: []string{u[3]}}), api.ErrCodeNotGroupMember)
	wantCode(t, e.g.MuteMember(ctx, as(u[0]), groups.MemberMute{GroupID: gid, UserID: u[1]}), api.ErrCodeArgsError)
	wantCode(t, e.g.Transfer(ctx, as(u[0]), groups.Transfer{GroupID: gid, OldOwnerUserID: u[0], NewOwnerUserID: u[3]}), api.ErrCodeNotGroupMember)

	if err := e.g.Invite(ctx, as(u[1]), groups.Invitation{GroupID: gid, InvitedUserIDs: []string{u[3]}}); err != nil {
		t.Fatal(err)
	}
	if err := e.g.MuteMember(ctx, as(u[0]), groups.MemberMute{GroupID: gid, UserID: u[1], MutedSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	if err := e.g.Transfer(ctx, as(u[0]), groups.Transfer{GroupID: gid, OldOwnerUserID: u[0], NewOwnerUserID: u[2]}); err != nil {
		t.Fatal(err)
	}
	if err := e.g.Dismiss(ctx, as(u[2]), gid, false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.g.Mute(ctx, as(u[2]), gid), api.ErrCodeGroupDismissed)

	got := e.stored(t, conv)
	want := []int32{events.GroupCreated, events.MemberInvited, events.GroupMemberMuted, events.GroupOwnerTransferred, events.GroupDismissed}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("group conversation holds %v, want %v", got, want)
	}
	// The invitee reads from its own arrival on (the 1509 is seq 2).
	var minSeq int64
	if err := e.pool.QueryRow(ctx, `SELECT min_seq FROM conversations WHERE owner_user_id = $1 AND conversation_id = $2`, u[3], conv).Scan(&minSeq); err != nil {
		t.Fatal(err)
	}
	if minSeq != 2 {
		t.Fatalf("invitee's min_seq %d, want 2 (the seq of its 1509)", minSeq)
	}
}
