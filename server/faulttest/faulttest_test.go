//go:build faults

// Package faulttest injects faults into a running imserver and its PostgreSQL: the embedded PostgreSQL
// killed, an external one stopped and started again, a database stalled (SIGSTOP) or answering COMMIT after
// the write timeout, a full disk, the bus (NATS) connections cut. Each test asserts what a client must be able to
// rely on: no acknowledged message lost, every stored message pushed once to an online recipient,
// /healthz and /readyz truthful, recovery without a restart of imserver.
//
// Run with `make test-faults` (build tag faults; about a minute and a half); .ci/run runs it in its own phase.
// The full-disk case mounts a small tmpfs and is skipped, with the reason, where that is not permitted.
package faulttest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/internal/pgembed"
	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/testenv"
)

// wait is the generous bound of every awaited event: a loaded machine is slow, never this slow.
const wait = 60 * time.Second

// external starts a PostgreSQL of the test's own, which imserver uses as an external database.
func external(t *testing.T, dir string, port int) *pgembed.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	c, err := pgembed.Start(ctx, pgembed.Options{DataDir: dir, Port: port, Fast: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func writeTimeout(d time.Duration) testenv.Option {
	return func(c *config.Config) { c.DBWriteTimeout = d }
}

func status(t *testing.T, url string) int {
	t.Helper()
	cl := http.Client{Timeout: 10 * time.Second}
	res, err := cl.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// awaitStatus polls url until it answers code.
func awaitStatus(t *testing.T, url string, code int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got := status(t, url)
		if got == code {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %d, want %d within %s", url, got, code, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// send sends a text from one user to another over REST and returns the envelope.
func send(e *testenv.Env, tok, from, to, clientMsgID string) testenv.Resp {
	return e.Post("/msg/send_msg", tok, map[string]any{"sendID": from, "recvID": to, "contentType": 101, "sessionType": 1,
		"content": map[string]string{"content": clientMsgID}, "clientMsgID": clientMsgID})
}

type ack struct {
	Seq int64 `json:"seq"`
}

// sendUntilAcked retries a send with the same clientMsgID until it is acknowledged, as a client told
// 503/504 does, and returns its seq.
func sendUntilAcked(t *testing.T, e *testenv.Env, tok, from, to, clientMsgID string) int64 {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		r := send(e, tok, from, to, clientMsgID)
		switch r.ErrCode {
		case 0:
			var a ack
			r.Decode(t, &a)
			return a.Seq
		case 503, 504:
		default:
			t.Fatalf("send %s: errCode %d %q (want 0, or 503/504 while the database is away)", clientMsgID, r.ErrCode, r.ErrMsg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("send %s: not acknowledged within %s (last errCode %d)", clientMsgID, wait, r.ErrCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sendUntilRefused sends new messages until one is refused with 503 (the database is away) and returns its
// clientMsgID; those acknowledged meanwhile (a server process of the dying database may still commit) are
// added to acked. Any other answer fails the test: never 500.
func sendUntilRefused(t *testing.T, e *testenv.Env, tok, from, to, prefix string, acked map[string]int64) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		r := send(e, tok, from, to, id)
		switch r.ErrCode {
		case 503:
			return id
		case 0:
			var a ack
			r.Decode(t, &a)
			acked[id] = a.Seq
		default:
			t.Fatalf("send while the database is away: errCode %d %q, want 503", r.ErrCode, r.ErrMsg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no send refused with 503 within %s while the database is away", wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// collect reads ws's pushes of conv into got until seqs from..to have all arrived. Sent last, to is a
// barrier: an earlier message pushed twice would arrive before it and be counted.
func collect(t *testing.T, ws *testenv.WS, conv string, got map[int64]int, from, to int64) map[int64]int {
	t.Helper()
	if got == nil {
		got = map[int64]int{}
	}
	ws.AwaitPush(wait, fmt.Sprintf("pushes of seqs %d..%d", from, to), func(p testenv.Push) bool {
		if p.ConversationID != conv {
			return false
		}
		got[p.Seq]++
		for s := from; s <= to; s++ {
			if got[s] == 0 {
				return false
			}
		}
		return true
	})
	return got
}

// assertPushedOnce checks that every seq 1..n of conv was pushed exactly once.
func assertPushedOnce(t *testing.T, got map[int64]int, n int64) {
	t.Helper()
	for s := int64(1); s <= n; s++ {
		if got[s] != 1 {
			t.Errorf("seq %d pushed %d times, want once", s, got[s])
		}
	}
}

// assertStored checks that conv holds exactly seqs 1..n (gap-free) and every acknowledged clientMsgID.
func assertStored(t *testing.T, dsn, conv string, acked map[string]int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT seq, client_msg_id FROM messages WHERE conversation_id = $1 ORDER BY seq", conv)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int64{}
	var n int64
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			t.Fatal(err)
		}
		n++
		if seq != n {
			t.Fatalf("seqs not gap-free: %d where %d was due", seq, n)
		}
		stored[id] = seq
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for id, seq := range acked {
		if stored[id] != seq {
			t.Errorf("acknowledged %s with seq %d; stored with seq %d (0: lost)", id, seq, stored[id])
		}
	}
}

// postgresProcs are the postmaster and its children.
func postgresProcs(t *testing.T, postmaster int) []int {
	t.Helper()
	pids := []int{postmaster}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(postmaster) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func signalAll(t *testing.T, pids []int, sig syscall.Signal) {
	t.Helper()
	for _, p := range pids {
		_ = syscall.Kill(p, sig)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// postmaster reads the pid and port of the server running in dataDir from its postmaster.pid.
func postmaster(t *testing.T, dataDir string) (pid, port int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	l := strings.Split(string(b), "\n")
	pid, _ = strconv.Atoi(strings.TrimSpace(l[0]))
	port, _ = strconv.Atoi(strings.TrimSpace(l[3]))
	return pid, port
}

func users(t *testing.T, e *testenv.Env) (a, aTok, b, bTok string) {
	a, aTok = e.User("fa")
	b, bTok = e.User("fb")
	return
}

func single(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "single_" + a + "_" + b
}
