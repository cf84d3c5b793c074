package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// serverConn is the Hub's connection of u on platform, nil when there is none.
func (s *testServer) serverConn(u string, platform int) *conn {
	sh := s.hub.shard(u)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for _, c := range sh.users[u] {
		if c.info.PlatformID == platform {
			return c
		}
	}
	return nil
}

func isParked(c *conn) bool { return c != nil && c.pc != nil && c.pc.state.Load() == parked }

func requirePoller(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("idle connections park in epoll on Linux only")
	}
}

func TestFrameScanner(t *testing.T) {
	t.Parallel()
	frame := func(b0 byte, masked bool, payload int) []byte {
		var f []byte
		f = append(f, b0)
		m := byte(0)
		if masked {
			m = 0x80
		}
		switch {
		case payload < 126:
			f = append(f, m|byte(payload))
		case payload <= 0xffff:
			f = append(f, m|126, byte(payload>>8), byte(payload))
		default:
			f = append(f, m|127, 0, 0, 0, 0, byte(payload>>24), byte(payload>>16), byte(payload>>8), byte(payload))
		}
		if masked {
			f = append(f, 1, 2, 3, 4)
		}
		return append(f, make([]byte, payload)...)
	}
	text, bin, cont, ping := byte(0x81), byte(0x82), byte(0x00), byte(0x89)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		idle   []bool // after each frame
	}{
		{"small text", [][]byte{frame(text, true, 5)}, []bool{true}},
		{"empty", [][]byte{frame(text, true, 0)}, []bool{true}},
		{"16-bit length", [][]byte{frame(bin, true, 300)}, []bool{true}},
		{"64-bit length", [][]byte{frame(bin, true, 70000)}, []bool{true}},
		{"unmasked", [][]byte{frame(text, false, 200)}, []bool{true}},
		{"fragmented with a ping between", [][]byte{frame(0x01, true, 10), frame(ping, true, 4), frame(0x80|cont, true, 3)},
			[]bool{false, false, true}},
		{"three fragments", [][]byte{frame(0x02, true, 1), frame(cont, true, 2), frame(0x80|cont, true, 3), frame(ping, true, 0)},
			[]bool{false, false, true, true}},
	} {
		// Fed whole, and byte by byte: idle only at the boundaries the table names, never inside a frame.
		var s frameScanner
		for i, f := range tc.frames {
			s.feed(f)
			if s.idle() != tc.idle[i] {
				t.Errorf("%s: after frame %d idle = %v", tc.name, i, s.idle())
			}
		}
		var b frameScanner
		for i, f := range tc.frames {
			for j := range f {
				b.feed(f[j : j+1])
				if j < len(f)-1 && b.idle() {
					t.Fatalf("%s: idle inside frame %d after byte %d", tc.name, i, j)
				}
			}
			if b.idle() != tc.idle[i] {
				t.Errorf("%s: byte by byte, after frame %d idle = %v", tc.name, i, b.idle())
			}
		}
	}
}

// An idle connection has no reader goroutine, yet the pong to the server's ping is read (it keeps the
// connection alive), and a request after a long silence is answered.
func TestParkedConnReadsPongs(t *testing.T) {
	requirePoller(t)
	t.Parallel()
	// Pinged after 1.5 s of silence, longer than a reader waits before it parks (parkAfter).
	s := newServer(t, Options{IdleTimeout: 10 * time.Second, PingInterval: parkAfter * 3 / 2})
	u := newUser("parkpong")
	c := s.connect(t, u, 1) // its reader answers pings and sends nothing else
	sc := s.serverConn(u, 1)
	eventually(t, "the connection is parked", func() bool { return isParked(sc) })
	since := sc.seen.Load()
	// Only a pong can move seen: the client sends nothing.
	eventually(t, "a pong is read from the parked connection", func() bool { return sc.seen.Load() > since })
	eventually(t, "the connection parks again", func() bool { return isParked(sc) })
	c.request(1001, u, "after-pong", "x")
	if f := c.next(); f.ErrCode != 0 || f.MsgIncr != "after-pong" {
		t.Fatalf("reply = %+v", f)
	}
	eventually(t, "the connection parks after the request", func() bool { return isParked(sc) })
	if !s.hub.IsOnline(u) {
		t.Fatal("closed")
	}
}

// Many parked connections wake at once: every request is answered.
func TestManyParkedConnsAllSend(t *testing.T) {
	requirePoller(t)
	t.Parallel()
	const n = 600
	s := newServer(t, Options{})
	users := make([]string, n)
	clients := make([]*client, n)
	for i := range n {
		users[i] = newUser("many")
		clients[i] = s.connect(t, users[i], 1)
	}
	eventually(t, "all connections park", func() bool {
		for _, u := range users {
			if !isParked(s.serverConn(u, 1)) {
				return false
			}
		}
		return true
	})
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, c := range clients {
		wg.Go(func() {
			c.request(1001, users[i], fmt.Sprint("m", i), i)
			var f frame
			select {
			case b := <-c.frames:
				if err := json.Unmarshal(b, &f); err != nil || f.ErrCode != 0 || f.MsgIncr != fmt.Sprint("m", i) {
					errs <- fmt.Sprintf("client %d: reply %s", i, b)
				}
			case <-time.After(wait):
				errs <- fmt.Sprintf("client %d: no reply", i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A parked connection closed by the server (kick), by the peer's close frame, or by the peer's socket
// going away leaves the registry and ends its reader.
func TestCloseWhileParked(t *testing.T) {
	requirePoller(t)
	t.Parallel()
	s := newServer(t, Options{})

	u := newUser("parkkick")
	c := s.connect(t, u, 1)
	sc := s.serverConn(u, 1)
	eventually(t, "parked", func() bool { return isParked(sc) })
	s.hub.Kick(u, 1, "bye")
	if f := c.next(); f.ReqIdentifier != 2002 {
		t.Errorf("kick frame = %+v", f)
	}
	if got := c.closed(); got != CloseKicked {
		t.Errorf("close code = %d, want %d", got, CloseKicked)
	}
	waitDone(t, sc)

	u = newUser("parkclose")
	c = s.connect(t, u, 1)
	sc = s.serverConn(u, 1)
	eventually(t, "parked", func() bool { return isParked(sc) })
	if err := c.ws.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Errorf("close handshake: %v", err)
	}
	waitDone(t, sc)
	if s.hub.IsOnline(u) {
		t.Error("still registered")
	}

	u = newUser("parkdrop")
	c = s.connect(t, u, 1)
	sc = s.serverConn(u, 1)
	eventually(t, "parked", func() bool { return isParked(sc) })
	_ = c.ws.CloseNow() // the socket goes away without a close frame
	waitDone(t, sc)
	if s.hub.IsOnline(u) {
		t.Error("still registered")
	}
}

func waitDone(t *testing.T, c *conn) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(wait):
		t.Fatal("the connection's reader did not finish")
	}
}

// A frame that arrives in two TCP segments with a pause between is read whole: the reader waits for the
// rest instead of parking with half a frame.
func TestSplitFrameAcrossWrites(t *testing.T) {
	requirePoller(t)
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("split")
	addr := strings.TrimPrefix(strings.TrimSuffix(s.url, Path), "ws://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	fmt.Fprintf(nc, "GET %s?token=%s&userID=%s&platformID=1 HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", Path, tok(u, 1), u, addr)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	eventually(t, "registered", func() bool { return s.serverConn(u, 1) != nil })
	sc := s.serverConn(u, 1)
	eventually(t, "parked", func() bool { return isParked(sc) })

	payload := []byte(fmt.Sprintf(`{"reqIdentifier":1001,"sendID":%q,"operationID":"op-split","msgIncr":"split","data":"%s"}`, u, strings.Repeat("y", 200)))
	key := [4]byte{7, 11, 13, 17}
	f := []byte{0x81, 0x80 | 126, byte(len(payload) >> 8), byte(len(payload))}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	for _, cut := range []int{3, 6, 40} { // inside the length, inside the masking key, inside the payload
		if _, err := nc.Write(f[:cut]); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the connection wakes", func() bool { return !isParked(sc) })
		time.Sleep(50 * time.Millisecond) // the pause between the segments (the reader reads the first meanwhile)
		if _, err := nc.Write(f[cut:]); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(wait))
		h := make([]byte, 2)
		if _, err := io.ReadFull(br, h); err != nil {
			t.Fatalf("cut %d: reply header: %v", cut, err)
		}
		if h[0] != 0x81 {
			t.Fatalf("cut %d: reply opcode byte %#x (a close frame means the split confused the reader)", cut, h[0])
		}
		n := int(h[1] & 0x7f)
		if n == 126 {
			ext := make([]byte, 2)
			if _, err := io.ReadFull(br, ext); err != nil {
				t.Fatal(err)
			}
			n = int(ext[0])<<8 | int(ext[1])
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		var r frame
		if err := json.Unmarshal(body, &r); err != nil || r.ErrCode != 0 || r.MsgIncr != "split" {
			t.Fatalf("cut %d: reply %s", cut, body)
		}
		eventually(t, "parked again", func() bool { return isParked(sc) })
	}
}

// With ReaderPerConn every connection keeps its reader goroutine and never parks.
func TestReaderPerConn(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{ReaderPerConn: true, IdleTimeout: 3 * time.Second, PingInterval: 200 * time.Millisecond})
	if s.hub.poll != nil {
		t.Fatal("a poller with ReaderPerConn")
	}
	u := newUser("perconn")
	c := s.connect(t, u, 1)
	sc := s.serverConn(u, 1)
	if sc.pc != nil {
		t.Fatal("connection reads through a pollConn")
	}
	since := sc.seen.Load()
	eventually(t, "a pong is read", func() bool { return sc.seen.Load() > since })
	c.request(1001, u, "a", "x")
	if f := c.next(); f.ErrCode != 0 || f.MsgIncr != "a" {
		t.Fatalf("reply = %+v", f)
	}
	s.hub.Kick(u, 1, "bye")
	if f := c.next(); f.ReqIdentifier != 2002 {
		t.Errorf("kick frame = %+v", f)
	}
	if got := c.closed(); got != CloseKicked {
		t.Errorf("close code = %d", got)
	}
	waitDone(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
