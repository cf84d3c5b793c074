package chat_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/chat"
)

// A batch often holds several messages of one sender in one conversation; the sender's read mark must end
// at the highest of them, whatever order they come in.
func TestRaiseSendersHasReadSeqTakesTheHighest(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO users (user_id, nickname, create_time) VALUES ('a', 'a', 1), ('b', 'b', 1)`); err != nil {
		t.Fatal(err)
	}
	conv := chat.SingleConversationID("a", "b")
	q := db.New(pool)
	if err := q.EnsureConversations(ctx, db.EnsureConversationsParams{
		Owners: []string{"a", "b"}, ConversationIds: []string{conv, conv}, Types: []int32{1, 1},
		PeerUserIds: []string{"b", "a"}, GroupIds: []string{"", ""}, Now: 1,
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		base := int64(round * 200)
		var arg db.RaiseSendersHasReadSeqParams
		for _, s := range rand.Perm(200) {
			arg.Owners = append(arg.Owners, "a")
			arg.ConversationIds = append(arg.ConversationIds, conv)
			arg.Seqs = append(arg.Seqs, base+int64(s)+1)
		}
		if err := q.RaiseSendersHasReadSeq(ctx, arg); err != nil {
			t.Fatal(err)
		}
		var got int64
		if err := pool.QueryRow(ctx, `SELECT has_read_seq FROM conversations WHERE owner_user_id = 'a' AND conversation_id = $1`, conv).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != base+200 {
			t.Fatalf("round %d: has_read_seq %d, want %d", round, got, base+200)
		}
	}
}

// Through the service: many concurrent sends of one sender are group-committed together; afterwards the
// sender has no unread message of its own.
func TestSenderReadMarkFollowsConcurrentSends(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO users (user_id, nickname, create_time) VALUES ('a', 'a', 1), ('b', 'b', 1)`); err != nil {
		t.Fatal(err)
	}
	svc := chat.New(pool, quietLog(), chat.Options{})
	svc.SetPusher(&countingPusher{})
	t.Cleanup(svc.Close)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Send(ctx, chat.SendInput{SendID: "a", RecvID: "b", SessionType: chat.SingleChat, SenderPlatformID: 5,
				ContentType: chat.ContentText, Content: `{"content":"hi"}`, ClientMsgID: "c" + strconv.Itoa(i)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var hasRead, maxSeq int64
	err := pool.QueryRow(ctx, `SELECT c.has_read_seq, s.max_seq FROM conversations c JOIN conversation_seqs s USING (conversation_id)
		WHERE c.owner_user_id = 'a' AND c.conversation_id = $1`, chat.SingleConversationID("a", "b")).Scan(&hasRead, &maxSeq)
	if err != nil {
		t.Fatal(err)
	}
	if maxSeq != n || hasRead != n {
		t.Fatalf("after %d sends: max_seq %d, sender's has_read_seq %d", n, maxSeq, hasRead)
	}
}

// roundTrips counts the client's waits for the database: each query, batch (a pipeline) and COPY.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (r *roundTrips) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

// A lone message (nothing else queued) is stored in two round trips: BEGIN with the duplicate check and
// the send check, then the write with COMMIT. Each round trip is a wait of the sender's; the statement at a
// time transaction took eight.
func TestLoneMessageRoundTrips(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO users (user_id, nickname, create_time) VALUES ('a', 'a', 1), ('b', 'b', 1)`); err != nil {
		t.Fatal(err)
	}
	svc := chat.New(pool, quietLog(), chat.Options{Workers: 1})
	svc.SetPusher(&countingPusher{})
	t.Cleanup(svc.Close)
	send := func(id string) chat.SendResult {
		t.Helper()
		r, err := svc.Send(ctx, chat.SendInput{SendID: "a", RecvID: "b", SessionType: chat.SingleChat, SenderPlatformID: 5,
			ContentType: chat.ContentText, Content: `{"content":"hi"}`, ClientMsgID: id})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	send("first") // creates the conversation rows and prepares the statements
	for i, id := range []string{"second", "third"} {
		before := rt.n.Load()
		r := send(id)
		if got := rt.n.Load() - before; got != 1 {
			t.Errorf("a lone message took %d round trips, want 1", got)
		}
		if r.Seq != int64(i+2) {
			t.Errorf("seq %d, want %d", r.Seq, i+2)
		}
	}
	before := rt.n.Load()
	if r := send("second"); !r.Duplicate || r.Seq != 2 {
		t.Errorf("resend: %+v, want the duplicate of seq 2", r)
	}
	// The one-round-trip statement finds the resend and stores nothing; the two-round-trip one answers it.
	if got := rt.n.Load() - before; got > 3 {
		t.Errorf("a lone resend took %d round trips, want 3", got)
	}
}

// PostgreSQL re-planned the writer's duplicate check and send checks on every lone message (a custom plan
// for a one-element array looked cheaper than the generic one): 270 µs of its CPU per message at 500 msg/s,
// more than running them. The writer's statements must run on their generic plans.
func TestWriterStatementsNotReplanned(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1 // the writer's prepared statements live on this one connection
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO users (user_id, nickname, create_time) VALUES ('a', 'a', 1), ('b', 'b', 1)`); err != nil {
		t.Fatal(err)
	}
	svc := chat.New(pool, quietLog(), chat.Options{Workers: 1})
	svc.SetPusher(&countingPusher{})
	t.Cleanup(svc.Close)
	const n = 12 // PostgreSQL tries 5 custom plans before it may settle on the generic one
	send := func(id string) {
		t.Helper()
		if _, err := svc.Send(ctx, chat.SendInput{SendID: "a", RecvID: "b", SessionType: chat.SingleChat, SenderPlatformID: 5,
			ContentType: chat.ContentText, Content: `{"content":"hi"}`, ClientMsgID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		send(fmt.Sprintf("m%d", i)) // one round trip each (StoreCheckedSingles), but for the first
	}
	for i := range n {
		send(fmt.Sprintf("m%d", i)) // resends: FindSent and SingleSendChecks in the two-round-trip transaction
	}
	rows, err := pool.Query(ctx, `SELECT substring(statement from '-- name: (\w+)'), generic_plans, custom_plans
		FROM pg_prepared_statements WHERE statement LIKE '-- name: %'`)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]int64{}
	for rows.Next() {
		var name string
		var generic, custom int64
		if err := rows.Scan(&name, &generic, &custom); err != nil {
			t.Fatal(err)
		}
		switch name {
		case "FindSent", "SingleSendChecks", "StoreMessages", "RaiseSendersReadMarks", "StoreCheckedSingles":
			runs[name] = generic + custom
			if custom > 1 {
				t.Errorf("%s: %d custom plans of %d runs, want it planned once", name, custom, generic+custom)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"FindSent", "SingleSendChecks", "StoreCheckedSingles"} {
		if runs[name] < n-1 {
			t.Errorf("%s ran %d times over %d sends and %d resends, want at least %d: %v", name, runs[name], n, n, n-1, runs)
		}
	}
}

// The batch's insert passes every column as an array (StoreMessages): the nullable ones must come back as
// sent, NULL apart from empty.
func TestStoredMessageColumns(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO users (user_id, nickname, face_url, create_time) VALUES ('a', 'Ann', 'http://f/a', 1), ('b', 'b', '', 1)`); err != nil {
		t.Fatal(err)
	}
	svc := chat.New(pool, quietLog(), chat.Options{})
	svc.SetPusher(&countingPusher{})
	t.Cleanup(svc.Close)
	cases := []struct {
		at      []string
		push    string
		options map[string]bool
	}{
		{},
		{at: []string{}},
		{at: []string{"b", `x "y", {z}`}, push: `{"title":"t","desc":"d"}`, options: map[string]bool{"history": false}},
	}
	q := db.New(pool)
	for i, c := range cases {
		r, err := svc.Send(ctx, chat.SendInput{SendID: "a", RecvID: "b", SessionType: chat.SingleChat, SenderPlatformID: 5,
			ContentType: chat.ContentText, Content: `{"content":"hi"}`, ClientMsgID: "m" + strconv.Itoa(i), CreateTime: 42,
			AtUserIDList: c.at, OfflinePushInfo: []byte(c.push), Options: c.options, AttachedInfo: "att", Ex: "ex"})
		if err != nil {
			t.Fatal(err)
		}
		m, err := q.MessageBySeq(ctx, db.MessageBySeqParams{ConversationID: r.ConversationID, Seq: r.Seq})
		if err != nil {
			t.Fatal(err)
		}
		if (m.AtUserIDList == nil) != (c.at == nil) || len(m.AtUserIDList) != len(c.at) {
			t.Errorf("case %d: atUserIDList %#v, want %#v", i, m.AtUserIDList, c.at)
		}
		for j := range c.at {
			if m.AtUserIDList[j] != c.at[j] {
				t.Errorf("case %d: atUserIDList %#v, want %#v", i, m.AtUserIDList, c.at)
			}
		}
		if (m.OfflinePushInfo == nil) != (c.push == "") || (c.push != "" && !strings.Contains(string(m.OfflinePushInfo), `"title": "t"`)) {
			t.Errorf("case %d: offlinePushInfo %q, want %q", i, m.OfflinePushInfo, c.push)
		}
		if (m.Options == nil) != (c.options == nil) {
			t.Errorf("case %d: options %q, want %v", i, m.Options, c.options)
		}
		if m.SenderNickname != "Ann" || m.SenderFaceUrl != "http://f/a" || m.CreateTime != 42 || m.ServerMsgID != r.ServerMsgID ||
			m.SendTime != r.SendTime || m.AttachedInfo != "att" || m.Ex != "ex" || m.ClientMsgID != "m"+strconv.Itoa(i) ||
			m.RecvID != "b" || m.SenderPlatformID != 5 || m.SessionType != chat.SingleChat || m.ContentType != chat.ContentText {
			t.Errorf("case %d: stored %+v", i, m)
		}
	}
}

// A statement the database refuses in the writer's second round trip (here a trigger on one message) fails
// that message alone, as a refusal and not an unknown outcome (COMMIT, sent in the same round trip, is
// skipped by the server), takes no seq, and the rest of its batch is stored gap-free.
func TestRefusedInsertFailsOnlyItsMessage(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO users (user_id, nickname, create_time) VALUES ('a', 'a', 1), ('b', 'b', 1);
		CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.content LIKE '%boom%' THEN RAISE EXCEPTION 'refused by the test'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_boom BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_boom();`); err != nil {
		t.Fatal(err)
	}
	svc := chat.New(pool, quietLog(), chat.Options{Workers: 1})
	svc.SetPusher(&countingPusher{})
	t.Cleanup(svc.Close)
	send := func(id, text string) (chat.SendResult, error) {
		return svc.Send(ctx, chat.SendInput{SendID: "a", RecvID: "b", SessionType: chat.SingleChat, SenderPlatformID: 5,
			ContentType: chat.ContentText, Content: `{"content":"` + text + `"}`, ClientMsgID: id})
	}
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	seqs := make([]int64, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := "hi"
			if i%10 == 3 {
				text = "boom"
			}
			r, err := send("c"+strconv.Itoa(i), text)
			errs[i], seqs[i] = err, r.Seq
		}()
	}
	wg.Wait()
	got := map[int64]bool{}
	for i, err := range errs {
		if i%10 == 3 {
			if err == nil {
				t.Errorf("message %d: stored, want refused", i)
			} else if e, _ := apierr.Of(err); e.Code == apierr.SendOutcomeUnknown().Code {
				t.Errorf("message %d: %v: a refused statement is not an unknown outcome", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		got[seqs[i]] = true
	}
	for s := int64(1); s <= n-4; s++ {
		if !got[s] {
			t.Fatalf("seqs %v: want 1..%d, each once", got, n-4)
		}
	}
	var maxSeq int64
	if err := pool.QueryRow(ctx, `SELECT max_seq FROM conversation_seqs WHERE conversation_id = $1`, chat.SingleConversationID("a", "b")).Scan(&maxSeq); err != nil || maxSeq != n-4 {
		t.Fatalf("max_seq %d (%v), want %d", maxSeq, err, n-4)
	}
}

// The one-round-trip transaction (StoreCheckedSingles) decides in SQL what the two-round-trip one decides in
// Go: a send it must refuse stores nothing and takes no seq, and the refusal is the same; an accepted one
// carries the sender's profile as the checks would have set it.
func TestOneTripGuardAndProfile(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO users (user_id, nickname, face_url, create_time)
		VALUES ('a', 'Ann', 'http://f/a', 1), ('b', 'Bob', '', 1), ('c', 'Cy', '', 1)`); err != nil {
		t.Fatal(err)
	}
	svc := chat.New(pool, quietLog(), chat.Options{Workers: 1})
	svc.SetPusher(&countingPusher{})
	t.Cleanup(svc.Close)
	n := 0
	send := func(from, to string, keep bool, nick string) (chat.SendResult, error) {
		n++
		return svc.Send(ctx, chat.SendInput{SendID: from, RecvID: to, SessionType: chat.SingleChat, SenderPlatformID: 5,
			ContentType: chat.ContentText, Content: `{"content":"hi"}`, ClientMsgID: fmt.Sprintf("m%d", n),
			SenderNickname: nick, KeepSenderProfile: keep})
	}
	mustSend := func(from, to string, keep bool, nick string, wantSeq int64) chat.SendResult {
		t.Helper()
		r, err := send(from, to, keep, nick)
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != wantSeq {
			t.Fatalf("seq %d, want %d", r.Seq, wantSeq)
		}
		return r
	}
	nickAt := func(seq int64) string {
		t.Helper()
		var nick string
		if err := pool.QueryRow(ctx, `SELECT sender_nickname FROM messages WHERE conversation_id = $1 AND seq = $2`,
			chat.SingleConversationID("a", "b"), seq).Scan(&nick); err != nil {
			t.Fatal(err)
		}
		return nick
	}
	mustSend("a", "b", false, "", 1) // creates the conversation rows (two-round-trip transaction)
	mustSend("a", "b", false, "Mallory", 2)
	if got := nickAt(2); got != "Ann" {
		t.Errorf("a user's send stored nickname %q, want their own (Ann)", got)
	}
	mustSend("a", "b", true, "Admin-given", 3)
	if got := nickAt(3); got != "Admin-given" {
		t.Errorf("an admin's send stored nickname %q, want the one it gave", got)
	}

	if _, err := pool.Exec(ctx, `INSERT INTO blacks (owner_user_id, block_user_id, create_time) VALUES ('b', 'a', 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := send("a", "b", false, ""); !apierr.Is(err, api.ErrCodeBlockedByPeer) {
		t.Errorf("send to a peer who blacklisted the sender: %v, want errCode %d", err, api.ErrCodeBlockedByPeer)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM blacks; UPDATE users SET forbidden_type = 1 WHERE user_id = 'a'`); err != nil {
		t.Fatal(err)
	}
	if _, err := send("a", "b", false, ""); !apierr.Is(err, api.ErrCodeTokenInvalid) {
		t.Errorf("a forbidden sender's send: %v, want errCode %d", err, api.ErrCodeTokenInvalid)
	}
	if _, err := pool.Exec(ctx, `UPDATE users SET forbidden_type = 0 WHERE user_id = 'a'`); err != nil {
		t.Fatal(err)
	}
	r := mustSend("a", "b", false, "", 4) // the refusals took no seq
	if again, err := svc.Send(ctx, chat.SendInput{SendID: "a", RecvID: "b", SessionType: chat.SingleChat, SenderPlatformID: 5,
		ContentType: chat.ContentText, Content: `{"content":"hi"}`, ClientMsgID: fmt.Sprintf("m%d", n)}); err != nil || !again.Duplicate || again.Seq != r.Seq {
		t.Errorf("resend: %+v, %v; want the duplicate of seq %d", again, err, r.Seq)
	}
	var hasRead int64
	if err := pool.QueryRow(ctx, `SELECT has_read_seq FROM conversations WHERE owner_user_id = 'a' AND conversation_id = $1`,
		chat.SingleConversationID("a", "b")).Scan(&hasRead); err != nil {
		t.Fatal(err)
	}
	if hasRead != 4 {
		t.Errorf("the sender's hasReadSeq is %d, want 4 (its own newest message)", hasRead)
	}
	var count int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&count); err != nil || count != 4 {
		t.Errorf("%d messages stored (%v), want 4", count, err)
	}
}
