package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/chat"
)

// The benchmarks of the message write path run against a real PostgreSQL (pgtest: a private, non-durable
// cluster, or the server named by IMSERVER_TEST_DATABASE_URL — point it at a durable one to include the WAL
// flush of every commit, as bench/run.sh does). Each reports msgs/s: messages acknowledged (durable per
// the database's settings) per second of wall time.
func TestMain(m *testing.M) { pgtest.Main(m) }

// benchPool is a fresh database of the benchmark's own with a pool as large as the server's default (32).
func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDB(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// seedUsers registers users u0..u<n-1>.
func seedUsers(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	_, err := pool.Exec(context.Background(),
		`INSERT INTO users (user_id, nickname, create_time) SELECT 'u' || g, 'user ' || g, 1 FROM generate_series(0, $1::int - 1) g`, n)
	if err != nil {
		b.Fatal(err)
	}
}

// seedGroup makes group g with members u0..u<n-1> (u0 the owner).
func seedGroup(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO groups (group_id, group_name, owner_user_id, create_time) VALUES ('g', 'bench', 'u0', 1)`); err != nil {
		b.Fatal(err)
	}
	_, err := pool.Exec(ctx, `INSERT INTO group_members (group_id, user_id, role_level, join_time)
		SELECT 'g', 'u' || g, CASE WHEN g = 0 THEN 100 ELSE 20 END, 1 FROM generate_series(0, $1::int - 1) g`, n)
	if err != nil {
		b.Fatal(err)
	}
}

// countingPusher stands in for the gateway: it counts the frames the service pushes after each commit.
type countingPusher struct{ frames, deliveries atomic.Int64 }

func (p *countingPusher) Deliver(userIDs []string, _ []byte, _ string) {
	p.frames.Add(1)
	p.deliveries.Add(int64(len(userIDs)))
}
func (p *countingPusher) Kick(string, int, string) {}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runSends sends b.N messages from inFlight goroutines; in(i) is the i-th message. It reports msgs/s and
// checks that every message got a seq and was pushed.
func runSends(b *testing.B, svc *chat.Service, pusher *countingPusher, inFlight int, in func(i int64) chat.SendInput) {
	b.Helper()
	var next, failed atomic.Int64
	var firstErr atomic.Value
	b.SetParallelism(max(1, inFlight/runtime.GOMAXPROCS(0))) // RunParallel starts parallelism*GOMAXPROCS goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := next.Add(1) - 1
			res, err := svc.Send(ctx, in(i))
			if err == nil && res.Seq <= 0 {
				err = fmt.Errorf("send %d: seq %d", i, res.Seq)
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d sends failed; first: %v", n, b.N, firstErr.Load())
	}
	if got := pusher.frames.Load(); got != int64(b.N) {
		b.Fatalf("%d frames pushed for %d messages", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSend is chat.Service.Send, the path of WS 1003 and REST /msg/send_msg after decoding: the sender
// check, group commit (one transaction per batch, one seq row lock per conversation per batch) and the
// push after commit, with inFlight sends waiting at once.
//
//   - conversations=N: single chats spread over N pairs of users (the pairs scenario of imload);
//   - hot-single: every send in one single-chat conversation;
//   - hot-group: 20 members sending into one group (the hot scenario; each send also reads the members).
func BenchmarkSend(b *testing.B) {
	type variant struct {
		name     string
		convs    int // single-chat pairs; 0 = the group
		inFlight int
		opts     chat.Options
	}
	var vs []variant
	for _, inFlight := range []int{16, 128} {
		vs = append(vs,
			variant{fmt.Sprintf("conversations=1000/inflight=%d", inFlight), 1000, inFlight, chat.Options{}},
			variant{fmt.Sprintf("conversations=10/inflight=%d", inFlight), 10, inFlight, chat.Options{}},
			variant{fmt.Sprintf("hot-single/inflight=%d", inFlight), 1, inFlight, chat.Options{}},
			variant{fmt.Sprintf("hot-group/inflight=%d", inFlight), 0, inFlight, chat.Options{}},
		)
	}
	// The writer's concurrency: one worker serializes every batch; more workers overlap commits but
	// contend on the seq rows of shared conversations.
	for _, w := range []int{1, 16} {
		vs = append(vs,
			variant{fmt.Sprintf("conversations=1000/inflight=128/workers=%d", w), 1000, 128, chat.Options{Workers: w}},
			variant{fmt.Sprintf("hot-single/inflight=128/workers=%d", w), 1, 128, chat.Options{Workers: w}},
		)
	}
	for _, v := range vs {
		b.Run(v.name, func(b *testing.B) {
			pool := benchPool(b)
			const groupMembers = 20
			users := max(2*v.convs, groupMembers)
			seedUsers(b, pool, users)
			if v.convs == 0 {
				seedGroup(b, pool, groupMembers)
			}
			svc := chat.New(pool, quietLog(), v.opts)
			pusher := &countingPusher{}
			svc.SetPusher(pusher)
			b.Cleanup(svc.Close)
			content := `{"content":"a benchmark message of about forty bytes"}`
			runSends(b, svc, pusher, v.inFlight, func(i int64) chat.SendInput {
				in := chat.SendInput{ContentType: chat.ContentText, Content: content, SenderPlatformID: 5,
					ClientMsgID: "b" + strconv.FormatInt(i, 10)}
				if v.convs == 0 {
					in.SendID, in.GroupID, in.SessionType = "u"+strconv.Itoa(int(i%groupMembers)), "g", chat.GroupChat
				} else {
					p := int(i % int64(v.convs))
					in.SendID, in.RecvID, in.SessionType = "u"+strconv.Itoa(2*p), "u"+strconv.Itoa(2*p+1), chat.SingleChat
				}
				return in
			})
			if v.convs == 0 || v.convs == 1 {
				checkGapFree(b, pool, map[bool]string{true: "group_g", false: chat.SingleConversationID("u0", "u1")}[v.convs == 0])
			}
		})
	}
}

// BenchmarkSendLone is one message at a time (nothing else queued): ns/op is a lone message's latency
// through chat.Service.Send, mostly the writer's round trips to the database and, when it is durable, the
// WAL flush of its commit. seq/msg (1 here) are asserted, not reported.
func BenchmarkSendLone(b *testing.B) {
	pool := benchPool(b)
	seedUsers(b, pool, 2)
	svc := chat.New(pool, quietLog(), chat.Options{})
	svc.SetPusher(&countingPusher{})
	b.Cleanup(svc.Close)
	ctx := context.Background()
	send := func(i int) {
		res, err := svc.Send(ctx, chat.SendInput{SendID: "u0", RecvID: "u1", SessionType: chat.SingleChat, SenderPlatformID: 5,
			ContentType: chat.ContentText, Content: `{"content":"a benchmark message of about forty bytes"}`, ClientMsgID: "l" + strconv.Itoa(i)})
		if err != nil || res.Seq != int64(i+1) {
			b.Fatalf("send %d: seq %d, %v", i, res.Seq, err)
		}
	}
	send(0) // the conversation rows and the prepared statements
	i := 1
	b.ReportAllocs()
	for b.Loop() {
		send(i)
		i++
	}
}

// checkGapFree fails the benchmark when the conversation's stored seqs are not exactly 1..max_seq.
func checkGapFree(b *testing.B, pool *pgxpool.Pool, conv string) {
	b.Helper()
	var n, lo, hi, maxSeq int64
	err := pool.QueryRow(context.Background(),
		`SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0), (SELECT max_seq FROM conversation_seqs WHERE conversation_id = $1)
		 FROM messages WHERE conversation_id = $1`, conv).Scan(&n, &lo, &hi, &maxSeq)
	if err != nil {
		b.Fatal(err)
	}
	if n == 0 || lo != 1 || hi != n || maxSeq != n {
		b.Fatalf("%s: %d messages with seqs %d..%d, max_seq %d: not gap-free", conv, n, lo, hi, maxSeq)
	}
}

// benchMessage is a stored text message as the writer hands it to the push.
func benchMessage() db.Message {
	return db.Message{
		ConversationID: "single_alice_bob", Seq: 123456, ServerMsgID: "8f14e45fceea167a5a36dedd4bea2543",
		ClientMsgID: "il123.1700000000000000000", SendID: "alice", RecvID: "bob", SenderPlatformID: 5,
		SenderNickname: "Alice", SessionType: chat.SingleChat, MsgFrom: chat.FromUser, ContentType: chat.ContentText,
		Content: `{"content":"a benchmark message of about forty bytes"}`, SendTime: 1700000000123, CreateTime: 1700000000100,
		Status: chat.StatusSendSuccess,
	}
}

// BenchmarkPushFrame is the encoding of one 2001 push (done once per message, shared by every recipient).
func BenchmarkPushFrame(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(chat.PushFrame(chat.ToWire(m), "op-123"))
	}
	b.ReportMetric(float64(n), "bytes/frame")
}

// BenchmarkDecodePush is what a client does with each push: decode the frame and its MsgData.
func BenchmarkDecodePush(b *testing.B) {
	frame := chat.PushFrame(chat.ToWire(benchMessage()), "op-123")
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		var f struct {
			ReqIdentifier int       `json:"reqIdentifier"`
			Data          chat.Wire `json:"data"`
		}
		if err := json.Unmarshal(frame, &f); err != nil || f.Data.Seq != 123456 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSendRequest is the server's decoding of a 1003 frame: the envelope, then the MsgData in
// data (what gateway and chat.Service.Handle do before Send).
func BenchmarkDecodeSendRequest(b *testing.B) {
	frame := []byte(`{"reqIdentifier":1003,"sendID":"alice","operationID":"op-123","msgIncr":"42","data":{"sendID":"alice",` +
		`"recvID":"bob","groupID":"","sessionType":1,"contentType":101,"msgFrom":100,"senderPlatformID":5,` +
		`"content":"{\"content\":\"a benchmark message of about forty bytes\"}","clientMsgID":"il123.1700000000000000000","createTime":1700000000100}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		var req struct {
			ReqIdentifier int             `json:"reqIdentifier"`
			SendID        string          `json:"sendID"`
			OperationID   string          `json:"operationID"`
			MsgIncr       string          `json:"msgIncr"`
			Data          json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(frame, &req); err != nil {
			b.Fatal(err)
		}
		var in struct {
			chat.Wire
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(req.Data, &in); err != nil || in.RecvID != "bob" {
			b.Fatal(err)
		}
	}
}
