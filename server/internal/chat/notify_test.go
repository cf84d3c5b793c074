package chat_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/chat"
)

// A revoke and its 2101 commit together: when the notification cannot be stored, the message stays
// unrevoked and the revoke can be retried (before, the mark committed first and the 2101 could be lost).
func TestRevokeAndItsNotificationCommitTogether(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	s := chat.New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), chat.Options{})
	t.Cleanup(s.Close)
	if _, err := pool.Exec(ctx, `INSERT INTO users (user_id, nickname, create_time) VALUES ('ra', 'ra', 1), ('rb', 'rb', 1)`); err != nil {
		t.Fatal(err)
	}
	sent, err := s.Send(ctx, chat.SendInput{SendID: "ra", RecvID: "rb", SessionType: chat.SingleChat, ContentType: chat.ContentText, Content: `{"content":"oops"}`})
	if err != nil {
		t.Fatal(err)
	}
	revoked := func() (bool, int) {
		var r bool
		var notes int
		if err := pool.QueryRow(ctx, `SELECT revoked, (SELECT count(*) FROM messages WHERE conversation_id = $1 AND content_type = $3)
			FROM messages WHERE conversation_id = $1 AND seq = $2`, sent.ConversationID, sent.Seq, chat.ContentRevoke).Scan(&r, &notes); err != nil {
			t.Fatal(err)
		}
		return r, notes
	}

	if _, err := pool.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION refuse_note() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected failure'; END $$;
		CREATE TRIGGER refuse_note BEFORE INSERT ON messages FOR EACH ROW
		WHEN (NEW.content_type = %d) EXECUTE FUNCTION refuse_note();`, chat.ContentRevoke)); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "ra", false, sent.ConversationID, sent.Seq); err == nil || apierr.From(err) != nil {
		t.Fatalf("revoke whose 2101 fails: got %v, want an internal error", err)
	}
	if r, n := revoked(); r || n != 0 {
		t.Fatalf("after the failed revoke: revoked %v, %d notifications; want false, 0", r, n)
	}
	if _, err := pool.Exec(ctx, `DROP TRIGGER refuse_note ON messages`); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "ra", false, sent.ConversationID, sent.Seq); err != nil {
		t.Fatal(err)
	}
	if r, n := revoked(); !r || n != 1 {
		t.Fatalf("after the revoke: revoked %v, %d notifications; want true, 1", r, n)
	}
}
