package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The frames the writer builds itself (wsFrame) are byte for byte what coder/websocket writes for the same
// message, at every length encoding's edges, text and binary.
func TestWSFrameMatchesCoder(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 70000}
	payload := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
			for _, n := range sizes {
				if err := ws.Write(ctx, typ, payload(n)); err != nil {
					return
				}
			}
		}
	}))
	defer srv.Close()

	var want []byte
	for _, op := range []byte{opText, opBinary} {
		for _, n := range sizes {
			want = append(want, wsFrame(op, payload(n))...)
		}
	}
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Fatalf("frames differ from coder/websocket's at byte %d of %d", i, len(want))
	}
	for _, op := range []byte{opText, opBinary} {
		for _, n := range sizes {
			typ, p := wsPayload(wsFrame(op, payload(n)))
			if wantTyp := map[byte]websocket.MessageType{opText: websocket.MessageText, opBinary: websocket.MessageBinary}[op]; typ != wantTyp || len(p) != n {
				t.Errorf("wsPayload(wsFrame(%d, %d bytes)) = %v, %d bytes", op, n, typ, len(p))
			}
		}
	}
}

// corkConn follows coder/websocket's frames even when they reach it in pieces, writes the writer's frames
// only between two of them, and none after a close frame.
func TestCorkWritesBetweenCoderFrames(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	got := make(chan []byte, 1)
	go func() { d, _ := io.ReadAll(b); got <- d }()
	c := &corkConn{Conn: a}

	ping := wsFrame(0x9, []byte("abc"))
	big := wsFrame(opText, bytes.Repeat([]byte("y"), 300)) // a 4-byte header
	data := wsFrame(opText, []byte(`{"push":1}`))
	closeF := wsFrame(0x8, []byte{0x03, 0xe8})

	// coder/websocket's frames byte by byte: corkConn is inside a frame until the last byte.
	for _, f := range [][]byte{ping, big} {
		for i := range f {
			if c.hdrN == 0 && c.need == 0 && i > 0 {
				t.Fatalf("frame of %d bytes: at a boundary after %d", len(f), i)
			}
			if _, err := c.Write(f[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
		if c.hdrN != 0 || c.need != 0 {
			t.Fatalf("frame of %d bytes: not at a boundary after it (hdrN %d, need %d)", len(f), c.hdrN, c.need)
		}
	}
	// Inside a frame that never completes, the writer waits and gives up at its deadline without writing.
	if _, err := c.Write(ping[:3]); err != nil {
		t.Fatal(err)
	}
	if err := c.writeFrames([][]byte{data}, 20*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writeFrames inside a frame: %v, want a deadline error", err)
	}
	if _, err := c.Write(ping[3:]); err != nil {
		t.Fatal(err)
	}
	if err := c.writeFrames([][]byte{data, data}, wait); err != nil {
		t.Fatalf("writeFrames at a boundary: %v", err)
	}
	if _, err := c.Write(closeF); err != nil {
		t.Fatal(err)
	}
	if err := c.writeFrames([][]byte{data}, wait); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("writeFrames after a close frame: %v, want net.ErrClosed", err)
	}
	a.Close()
	want := bytes.Join([][]byte{ping, big, ping, data, data, closeF}, nil)
	if d := <-got; !bytes.Equal(d, want) {
		t.Fatalf("stream of %d bytes, want %d: %q", len(d), len(want), d)
	}
}

// Pushes written by the writer interleave with coder/websocket's pongs (to the client's pings), the
// server's own pings and finally a kick's close handshake: the client, which checks every frame, reads
// every push in order, then the 2002 frame and the close code.
func TestPushesInterleavedWithControlFrames(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{SendQueue: 100000, PingInterval: 2 * time.Millisecond, IdleTimeout: wait})
	u := newUser("interleave")
	c := s.connect(t, u, 1)
	stopPings := make(chan struct{})
	pinged := make(chan error, 1)
	go func() {
		var err error
		defer func() { pinged <- err }()
		for {
			select {
			case <-stopPings:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
			err = c.ws.Ping(ctx)
			cancel()
			if err != nil {
				return
			}
		}
	}()
	const n = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			s.hub.Deliver([]string{u}, fmt.Appendf(nil, `{"reqIdentifier":2001,"i":%d,"pad":"%s"}`, i, strings.Repeat("p", i%300)), "")
		}
	}()
	for i := range n {
		want := fmt.Sprintf(`{"reqIdentifier":2001,"i":%d,"pad":"%s"}`, i, strings.Repeat("p", i%300))
		if got := c.nextRaw(); got != want {
			t.Fatalf("push %d: got %.60q, want %.60q", i, got, want)
		}
	}
	<-done
	close(stopPings)
	if err := <-pinged; err != nil {
		t.Errorf("client pings: %v", err)
	}
	s.hub.Kick(u, 1, "replaced")
	if f := c.next(); f.ReqIdentifier != 2002 {
		t.Fatalf("after the pushes: %+v, want the 2002 frame", f)
	}
	if code := c.closed(); code != CloseKicked {
		t.Fatalf("close code %d, want %d", code, CloseKicked)
	}
}

// DeliverBatch queues every push of the batch before any writer starts; each recipient gets them all, in
// order, and the excepted connection none.
func TestDeliverBatch(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	a, b := newUser("batchA"), newUser("batchB")
	ca, cb := s.connect(t, a, 1), s.connect(t, b, 1)
	cb2 := s.connect(t, b, 2)
	var except string
	for _, pcs := range s.hub.OnlineStatus([]string{b}) {
		for _, pc := range pcs {
			if pc.PlatformID == 2 {
				except = pc.ConnID
			}
		}
	}
	if except == "" {
		t.Fatal("b's second connection is not registered")
	}
	s.hub.DeliverBatch(func(deliver func([]string, []byte, string)) {
		for i := range 3 {
			deliver([]string{a, b}, fmt.Appendf(nil, `{"reqIdentifier":2001,"i":%d}`, i), except)
		}
	})
	for _, c := range []*client{ca, cb} {
		for i := range 3 {
			if got, want := c.nextRaw(), fmt.Sprintf(`{"reqIdentifier":2001,"i":%d}`, i); got != want {
				t.Fatalf("push %d: %s, want %s", i, got, want)
			}
		}
	}
	s.hub.Deliver([]string{b}, []byte(`{"after":true}`), "")
	if got := cb2.nextRaw(); got != `{"after":true}` {
		t.Fatalf("the excepted connection got %s first", got)
	}
}
