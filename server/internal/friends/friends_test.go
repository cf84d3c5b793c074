package friends_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/friends"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	pool *pgxpool.Pool
	f    *friends.Service
}

func newEnv(t *testing.T, userIDs ...string) *env {
	t.Helper()
	pool := pgtest.NewPool(t)
	c := chat.New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), chat.Options{})
	t.Cleanup(c.Close)
	for _, u := range userIDs {
		if _, err := pool.Exec(context.Background(), `INSERT INTO users (user_id, nickname, create_time) VALUES ($1, $1, 1)`, u); err != nil {
			t.Fatal(err)
		}
	}
	return &env{pool: pool, f: friends.New(pool, c)}
}

// notes is the content types in userID's notification conversation, in seq order.
func (e *env) notes(t *testing.T, userID string) string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT content_type FROM messages WHERE conversation_id = $1 ORDER BY seq`, chat.NotificationConversationID(userID))
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
	return fmt.Sprint(out)
}

func as(userID string) auth.Identity { return auth.Identity{UserID: userID, PlatformID: 5} }

func wantCode(t *testing.T, err error, code api.ErrCode) {
	t.Helper()
	if e := apierr.From(err); e == nil || e.Code != code {
		t.Fatalf("got %v, want errCode %d", err, code)
	}
}

func TestApplyAnswerAndTheirNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "fa", "fb", "fc")
	ctx := context.Background()

	wantCode(t, e.f.Apply(ctx, as("fa"), friends.Application{FromUserID: "fa", ToUserID: "fa"}), api.ErrCodeArgsError)
	wantCode(t, e.f.Apply(ctx, as("fc"), friends.Application{FromUserID: "fa", ToUserID: "fb"}), api.ErrCodeNoPermission)
	wantCode(t, e.f.Apply(ctx, as("fa"), friends.Application{FromUserID: "fa", ToUserID: "nobody"}), api.ErrCodeUserNotFound)
	if err := e.f.Apply(ctx, as("fa"), friends.Application{FromUserID: "fa", ToUserID: "fb", ReqMsg: "hi"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.f.Apply(ctx, as("fa"), friends.Application{FromUserID: "fa", ToUserID: "fb"}), api.ErrCodeApplicationPending)
	wantCode(t, e.f.Respond(ctx, as("fa"), friends.Answer{FromUserID: "fa", ToUserID: "fb", HandleResult: friends.Agree}), api.ErrCodeNoPermission)
	if err := e.f.Respond(ctx, as("fb"), friends.Answer{FromUserID: "fa", ToUserID: "fb", HandleResult: friends.Agree}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.f.Respond(ctx, as("fb"), friends.Answer{FromUserID: "fa", ToUserID: "fb", HandleResult: friends.Agree}), api.ErrCodeApplicationHandled)
	wantCode(t, e.f.Apply(ctx, as("fb"), friends.Application{FromUserID: "fb", ToUserID: "fa"}), api.ErrCodeAlreadyFriends)

	list, total, err := e.f.List(ctx, as("fa"), "fa", friends.Page{Number: 1, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(list) != 1 || list[0].FriendUser.UserID != "fb" {
		t.Fatalf("fa's friends: %d %+v, want fb alone", total, list)
	}
	want := fmt.Sprint([]int32{events.FriendApplication, events.FriendApplicationApproved, events.FriendAdded})
	for _, u := range []string{"fa", "fb"} {
		if got := e.notes(t, u); got != want {
			t.Errorf("%s's notifications %s, want %s", u, got, want)
		}
	}
	if got := e.notes(t, "fc"); got != "[]" {
		t.Errorf("fc got notifications %s", got)
	}
}

// An accepted application makes a friendship and its notifications in one transaction: when a notification
// cannot be stored, nobody becomes friends and the application stays pending.
func TestAnswerAndItsNotificationsCommitTogether(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ga", "gb")
	ctx := context.Background()
	if err := e.f.Apply(ctx, as("ga"), friends.Application{FromUserID: "ga", ToUserID: "gb"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION refuse_note() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected failure'; END $$;
		CREATE TRIGGER refuse_note BEFORE INSERT ON messages FOR EACH ROW
		WHEN (NEW.content_type = %d) EXECUTE FUNCTION refuse_note();`, events.FriendAdded)); err != nil {
		t.Fatal(err)
	}
	err := e.f.Respond(ctx, as("gb"), friends.Answer{FromUserID: "ga", ToUserID: "gb", HandleResult: friends.Agree})
	if err == nil || apierr.From(err) != nil {
		t.Fatalf("answer whose notification fails: got %v, want an internal error", err)
	}
	_, total, err := e.f.List(ctx, as("ga"), "ga", friends.Page{Number: 1, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if total != 0 {
		t.Fatalf("ga has %d friends after the failed answer, want 0", total)
	}
	pending, _, err := e.f.Applications(ctx, as("gb"), "gb", true, []int32{friends.Pending}, friends.Page{Number: 1, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Fatalf("gb has %d pending applications after the failed answer, want 1", len(pending))
	}
	if got, want := e.notes(t, "ga"), fmt.Sprint([]int32{events.FriendApplication}); got != want {
		t.Fatalf("ga's notifications %s, want %s", got, want)
	}
}

func TestBlacklist(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ba", "bb")
	ctx := context.Background()
	wantCode(t, e.f.AddBlack(ctx, as("ba"), "ba", "ba", ""), api.ErrCodeArgsError)
	if err := e.f.AddBlack(ctx, as("ba"), "ba", "bb", ""); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.f.AddBlack(ctx, as("ba"), "ba", "bb", ""), api.ErrCodeDuplicate)
	wantCode(t, e.f.Apply(ctx, as("bb"), friends.Application{FromUserID: "bb", ToUserID: "ba"}), api.ErrCodeBlockedByPeer)
	if err := e.f.RemoveBlack(ctx, as("ba"), "ba", "bb"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.f.RemoveBlack(ctx, as("ba"), "ba", "bb"), api.ErrCodeRecordNotFound)
	if got, want := e.notes(t, "ba"), fmt.Sprint([]int32{events.BlackAdded, events.BlackDeleted}); got != want {
		t.Fatalf("ba's notifications %s, want %s", got, want)
	}
	if got := e.notes(t, "bb"); got != "[]" {
		t.Fatalf("the blacklisted user was notified: %s", got)
	}
}
