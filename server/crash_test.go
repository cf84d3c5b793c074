package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/testenv"
)

// proc is imserver running as a separate process, so it can be killed for real.
type proc struct {
	cmd  *exec.Cmd
	addr string
}

func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "imserver")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/imserver").CombinedOutput()
	if err != nil {
		t.Fatalf("build imserver: %v\n%s", err, out)
	}
	return bin
}

func startProc(t *testing.T, bin, dsn, addr string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "IMSERVER_DATABASE_URL="+dsn, "IMSERVER_ADDR="+addr, "IMSERVER_SECRET="+testenv.Secret, "IMSERVER_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("imserver did not become ready")
	return nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCrashSafety kills the server with SIGKILL while clients send, restarts it, and checks that every
// acknowledged message is there with the seq it was acknowledged with, and that seqs are gap-free.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process")
	}
	t.Parallel()
	bin := buildServer(t)
	dsn := pgtest.NewDB(t)
	addr, debugAddr := freeAddr(t), freeAddr(t)
	p := startProc(t, bin, dsn, addr, "IMSERVER_DEBUG_ADDR="+debugAddr)
	e := &testenv.Env{T: t, URL: "http://" + addr}
	// The profiles are served on --debug-addr only, never on the API's port.
	for _, c := range []struct {
		url  string
		want int
	}{{"http://" + debugAddr + "/debug/pprof/cmdline", 200}, {"http://" + addr + "/debug/pprof/cmdline", 404}} {
		res, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("GET %s: HTTP %d, want %d", c.url, res.StatusCode, c.want)
		}
	}

	recv := testenv.ID("r")
	e.Register(recv)
	const senders = 6
	type acked struct {
		conv string
		seq  int64
	}
	var mu sync.Mutex
	acks := map[string]acked{} // clientMsgID → ack
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range senders {
		s := testenv.ID(fmt.Sprintf("s%d", i))
		e.Register(s)
		tok := e.Token(s, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				cid := fmt.Sprintf("%s-%d", s, n)
				seq, ok := trySend(client, e.URL, tok, s, recv, cid)
				if !ok {
					return // the server is gone; unacknowledged sends may or may not be stored
				}
				mu.Lock()
				acks[cid] = acked{chat.SingleConversationID(s, recv), seq}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	_ = p.cmd.Wait()
	if len(acks) < senders {
		t.Fatalf("only %d messages acknowledged before the kill", len(acks))
	}
	startProc(t, bin, dsn, addr) // recovery: the restarted server must come up on the same database

	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT conversation_id, seq, client_msg_id FROM messages ORDER BY conversation_id, seq`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]acked{}
	next := map[string]int64{}
	for rows.Next() {
		var a acked
		var cid string
		if err := rows.Scan(&a.conv, &a.seq, &cid); err != nil {
			t.Fatal(err)
		}
		next[a.conv]++
		if a.seq != next[a.conv] {
			t.Fatalf("%s: seq %d follows %d (gap)", a.conv, a.seq, next[a.conv]-1)
		}
		stored[cid] = a
	}
	for cid, a := range acks {
		if got, ok := stored[cid]; !ok || got != a {
			t.Fatalf("acknowledged message %s (seq %d) after restart: %+v, present %v", cid, a.seq, got, ok)
		}
	}
	t.Logf("%d acknowledged messages all durable; %d stored in total", len(acks), len(stored))
}

func trySend(c *http.Client, base, tok, from, to, cid string) (int64, bool) {
	body := fmt.Sprintf(`{"sendID":%q,"recvID":%q,"content":{"content":"x"},"contentType":101,"sessionType":1,"clientMsgID":%q}`, from, to, cid)
	req, _ := http.NewRequest("POST", base+"/api/v3/msg/send_msg", stringsReader(body))
	req.Header.Set("token", tok)
	res, err := c.Do(req)
	if err != nil {
		return 0, false
	}
	defer res.Body.Close()
	var r struct {
		ErrCode int
		Data    struct{ Seq int64 }
	}
	if jsonDecode(res, &r) != nil || r.ErrCode != 0 {
		return 0, false
	}
	return r.Data.Seq, true
}
