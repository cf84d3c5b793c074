package users_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const secret = "a-test-secret"

func newService(t *testing.T) (*users.Service, func(string) []int32) {
	t.Helper()
	pool := pgtest.NewPool(t)
	c := chat.New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), chat.Options{})
	t.Cleanup(c.Close)
	notes := func(userID string) []int32 {
		var out []int32
		if err := pool.QueryRow(context.Background(), `SELECT coalesce(array_agg(content_type ORDER BY seq), '{}') FROM messages WHERE conversation_id = $1`,
			chat.NotificationConversationID(userID)).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return users.New(pool, c, auth.NewSigner(secret, time.Hour, []string{"admin"}), secret), notes
}

func wantCode(t *testing.T, err error, code api.ErrCode) {
	t.Helper()
	if e := apierr.From(err); e == nil || e.Code != code {
		t.Fatalf("got %v, want errCode %d", err, code)
	}
}

func TestRegisterIsAllOrNothing(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	wantCode(t, s.Register(ctx, "wrong", []users.NewUser{{UserID: "ra"}}), api.ErrCodeNoPermission)
	wantCode(t, s.Register(ctx, secret, []users.NewUser{{UserID: "ra"}, {UserID: "ra"}}), api.ErrCodeArgsError)
	if err := s.Register(ctx, secret, []users.NewUser{{UserID: "ra", Nickname: "A"}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.Register(ctx, secret, []users.NewUser{{UserID: "rb"}, {UserID: "ra"}}), api.ErrCodeDuplicate)
	got, err := s.Get(ctx, []string{"ra", "rb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].UserID != "ra" || got[0].Nickname != "A" {
		t.Fatalf("registered users %+v, want ra alone", got)
	}
	wantCode(t, s.RequireRegistered(ctx, "userID", []string{"ra", "rb"}), api.ErrCodeUserNotFound)
}

func TestForbidStopsTokens(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	if err := s.Register(ctx, secret, []users.NewUser{{UserID: "fu"}}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.IssueToken(ctx, secret, "fu", 5)
	if err != nil || tok.Token == "" || tok.ExpireTimeSeconds != 3600 {
		t.Fatalf("token %+v, %v", tok, err)
	}
	if _, err := s.Forbid(ctx, auth.Identity{UserID: "fu"}, "fu", 0, ""); apierr.From(err) == nil || apierr.From(err).Code != api.ErrCodeNoPermission {
		t.Fatalf("a non-admin forbids: %v", err)
	}
	if _, err := s.Forbid(ctx, auth.Identity{UserID: "admin", Admin: true}, "admin", 0, ""); apierr.From(err) == nil || apierr.From(err).Code != api.ErrCodeNoPermission {
		t.Fatalf("an admin forbidden: %v", err)
	}
	if _, err := s.Forbid(ctx, auth.Identity{UserID: "admin", Admin: true}, "fu", 0, "spam"); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.IssueToken(ctx, secret, "fu", 5)
	wantCode(t, err, api.ErrCodeUserForbidden)
	if err := s.Unforbid(ctx, auth.Identity{UserID: "admin", Admin: true}, "fu"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.IssueToken(ctx, secret, "fu", 5); err != nil {
		t.Fatal(err)
	}
}

func TestProfileUpdateNotifiesUserAndFriends(t *testing.T) {
	t.Parallel()
	s, notes := newService(t)
	ctx := context.Background()
	if err := s.Register(ctx, secret, []users.NewUser{{UserID: "pa"}, {UserID: "pb"}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.UpdateProfile(ctx, auth.Identity{UserID: "pb"}, users.ProfileChange{UserID: "pa", Nickname: "x"}), api.ErrCodeNoPermission)
	if err := s.UpdateProfile(ctx, auth.Identity{UserID: "pa"}, users.ProfileChange{UserID: "pa", Nickname: "Alice"}); err != nil {
		t.Fatal(err)
	}
	if got := notes("pa"); len(got) != 1 || got[0] != events.UserInfoUpdated {
		t.Fatalf("pa's notifications %v, want one %d", got, events.UserInfoUpdated)
	}
	if got := notes("pb"); len(got) != 0 {
		t.Fatalf("pb (not a friend) got %v", got)
	}
	got, err := s.Get(ctx, []string{"pa"})
	if err != nil || len(got) != 1 || got[0].Nickname != "Alice" {
		t.Fatalf("pa after the update: %+v, %v", got, err)
	}
}
