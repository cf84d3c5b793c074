package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
)

// wait is the longest any test waits for something that should happen: generous, so that a loaded machine
// (make test with -race beside CPU-bound processes) is slow, never failing.
const wait = 30 * time.Second

// fakeAuth accepts tokens "tok:<userID>:<platformID>".
type fakeAuth struct{}

func (fakeAuth) Check(_ context.Context, token string) (auth.Identity, error) {
	parts := strings.Split(token, ":")
	if len(parts) != 3 || parts[0] != "tok" {
		return auth.Identity{}, apierr.TokenInvalid("token is not valid: malformed")
	}
	p, err := strconv.Atoi(parts[2])
	if err != nil {
		return auth.Identity{}, apierr.TokenInvalid("token is not valid: platform")
	}
	return auth.Identity{UserID: parts[1], PlatformID: p, TokenID: "jti-" + parts[1], Token: token, Admin: parts[1] == "imAdmin"}, nil
}

func tok(userID string, platformID int) string { return fmt.Sprintf("tok:%s:%d", userID, platformID) }

var userSeq atomic.Int64

// newUser returns a user ID no other test uses.
func newUser(prefix string) string { return fmt.Sprintf("%s%d", prefix, userSeq.Add(1)) }

// echoBackend answers 1001 with what it was given; other reqIdentifiers exercise the error paths.
func echoBackend(ctx context.Context, c ConnInfo, reqIdentifier int, data json.RawMessage) (any, error) {
	switch reqIdentifier {
	case 1001:
		return map[string]any{"data": data, "userID": c.UserID, "platformID": c.PlatformID, "connID": c.ConnID, "operationID": OperationID(ctx)}, nil
	case 1004:
		return nil, apierr.UserNotFound("user %s does not exist", "ghost")
	case 1005:
		return nil, errors.New("database on fire")
	case 1006:
		panic("backend bug")
	case 1007:
		return json.RawMessage(`{"raw":true}`), nil
	default:
		return nil, apierr.Args("reqIdentifier %d is not supported", reqIdentifier)
	}
}

type testServer struct {
	hub *Hub
	url string // ws://127.0.0.1:port/msg_gateway
	reg *prometheus.Registry
}

func newServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	if opts.Checker == nil {
		opts.Checker = fakeAuth{}
	}
	if opts.Backend == nil {
		opts.Backend = BackendFunc(echoBackend)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = h.Close(ctx)
	})
	return &testServer{hub: h, url: "ws" + strings.TrimPrefix(srv.URL, "http") + Path, reg: reg}
}

// frame is any server frame.
type frame struct {
	ReqIdentifier int             `json:"reqIdentifier"`
	MsgIncr       string          `json:"msgIncr"`
	OperationID   string          `json:"operationID"`
	ErrCode       int             `json:"errCode"`
	ErrMsg        string          `json:"errMsg"`
	Data          json.RawMessage `json:"data"`
	Type          string          `json:"type"`
}

type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan []byte
	status chan websocket.StatusCode // the close code once reading fails (-1: not a close)
}

func (s *testServer) dial(t *testing.T, query string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, s.url+"?"+query, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		ws.SetReadLimit(1 << 20)
		t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

// connect opens a connection with isMsgResp=true and checks the success frame.
func (s *testServer) connect(t *testing.T, userID string, platformID int) *client {
	t.Helper()
	ws, _, err := s.dial(t, fmt.Sprintf("token=%s&sendID=%s&platformID=%d&operationID=op-connect&isMsgResp=true", tok(userID, platformID), userID, platformID), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := startClient(t, ws)
	if got, want := c.nextRaw(), `{"errCode":0,"errMsg":""}`; got != want {
		t.Fatalf("first frame = %s, want %s", got, want)
	}
	return c
}

func startClient(t *testing.T, ws *websocket.Conn) *client {
	c := &client{t: t, ws: ws, frames: make(chan []byte, 1024), status: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				c.status <- websocket.CloseStatus(err)
				return
			}
			c.frames <- b
		}
	}()
	return c
}

func (c *client) nextRaw() string {
	c.t.Helper()
	select {
	case b := <-c.frames:
		return string(b)
	case s := <-c.status:
		select { // the reader queued its last frames before the status
		case b := <-c.frames:
			c.status <- s
			return string(b)
		default:
		}
		c.t.Fatalf("connection closed (%d) while waiting for a frame", s)
	case <-time.After(wait):
		c.t.Fatal("no frame")
	}
	return ""
}

func (c *client) next() frame {
	c.t.Helper()
	var f frame
	raw := c.nextRaw()
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		c.t.Fatalf("frame %s: %v", raw, err)
	}
	return f
}

// closed waits for the server's close frame and returns its code; frames still queued are skipped.
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	select {
	case s := <-c.status:
		return s
	case <-time.After(wait):
		c.t.Fatal("connection not closed")
		return 0
	}
}

// quiet checks that no frame arrives for a short while.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case b := <-c.frames:
		c.t.Fatalf("unexpected frame %s", b)
	case <-time.After(d):
	}
}

func (c *client) writeRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) request(reqIdentifier int, sendID, msgIncr string, data any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"reqIdentifier": reqIdentifier, "sendID": sendID, "operationID": "op-" + msgIncr, "msgIncr": msgIncr, "token": "ignored", "data": data})
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeRaw(string(b))
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestConnectAck(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("ack")
	s.connect(t, u, 5)

	if !s.hub.IsOnline(u) || s.hub.Count() != 1 {
		t.Fatalf("IsOnline = %v, Count = %d; want true, 1", s.hub.IsOnline(u), s.hub.Count())
	}
	got := s.hub.OnlineStatus([]string{u, "nobody"})
	want := map[string][]PlatformConn{u: {{PlatformID: 5}}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(PlatformConn{}, "ConnID")); diff != "" {
		t.Errorf("OnlineStatus (-want +got):\n%s", diff)
	}
	if got[u][0].ConnID == "" {
		t.Error("ConnID is empty")
	}
	if g := counter(t, s.reg, "imserver_gateway_connections"); g != 1 {
		t.Errorf("connections gauge = %v, want 1", g)
	}
}

func TestConnectTokenSources(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("hdr")
	for name, h := range map[string]http.Header{
		"header token": {"Token": {tok(u, 1)}},
		"bearer":       {"Authorization": {"Bearer " + tok(u, 2)}},
		"token wins":   {"Token": {tok(u, 3)}, "Authorization": {"Bearer garbage"}},
	} {
		platform := map[string]int{"header token": 1, "bearer": 2, "token wins": 3}[name]
		ws, _, err := s.dial(t, fmt.Sprintf("userID=%s&platformID=%d&isMsgResp=true", u, platform), h)
		if err != nil {
			t.Fatalf("%s: dial: %v", name, err)
		}
		if got, want := startClient(t, ws).nextRaw(), `{"errCode":0,"errMsg":""}`; got != want {
			t.Errorf("%s: ack = %s, want %s", name, got, want)
		}
	}
	eventually(t, "three platforms online", func() bool { return len(s.hub.OnlineStatus([]string{u})[u]) == 3 })
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("ref")
	for _, tc := range []struct {
		name     string
		query    string
		wantCode int
		wantHTTP int
	}{
		{"bad token", "token=garbage&userID=" + u + "&platformID=1", 1002, http.StatusUnauthorized},
		{"no token", "userID=" + u + "&platformID=1", 1002, http.StatusUnauthorized},
		{"userID mismatch", "token=" + tok(u, 1) + "&userID=someoneElse&platformID=1", 1003, http.StatusForbidden},
		{"sendID mismatch", "token=" + tok(u, 1) + "&sendID=someoneElse&platformID=1", 1003, http.StatusForbidden},
		{"platform mismatch", "token=" + tok(u, 1) + "&userID=" + u + "&platformID=2", 1003, http.StatusForbidden},
		{"platform not a number", "token=" + tok(u, 1) + "&userID=" + u + "&platformID=x", 1001, http.StatusBadRequest},
		{"platform missing", "token=" + tok(u, 1) + "&userID=" + u, 1001, http.StatusBadRequest},
		{"userID and sendID differ", "token=" + tok(u, 1) + "&userID=" + u + "&sendID=x&platformID=1", 1001, http.StatusBadRequest},
	} {
		t.Run(tc.name+"/isMsgResp", func(t *testing.T) {
			ws, _, err := s.dial(t, tc.query+"&isMsgResp=true", nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			c := startClient(t, ws)
			if f := c.next(); f.ErrCode != tc.wantCode || f.ErrMsg == "" {
				t.Errorf("frame = %+v, want errCode %d with a message", f, tc.wantCode)
			}
			if got := c.closed(); got != CloseAuthFailed {
				t.Errorf("close code = %d, want %d", got, CloseAuthFailed)
			}
		})
		t.Run(tc.name+"/http", func(t *testing.T) {
			_, resp, err := s.dial(t, tc.query, nil)
			if err == nil {
				t.Fatal("upgrade succeeded")
			}
			if resp == nil || resp.StatusCode != tc.wantHTTP {
				t.Fatalf("response = %v, want HTTP %d", resp, tc.wantHTTP)
			}
			var env struct {
				ErrCode int    `json:"errCode"`
				ErrMsg  string `json:"errMsg"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.ErrCode != tc.wantCode || env.ErrMsg == "" {
				t.Errorf("body = %+v (%v), want errCode %d with a message", env, err, tc.wantCode)
			}
		})
	}
	if s.hub.Count() != 0 {
		t.Errorf("Count = %d after refusals, want 0", s.hub.Count())
	}
}

func TestRequestReply(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("req")
	c := s.connect(t, u, 1)
	connID := s.hub.OnlineStatus([]string{u})[u][0].ConnID

	c.request(1001, u, "7", map[string]any{"x": 1})
	got := c.next()
	want := frame{ReqIdentifier: 1001, MsgIncr: "7", OperationID: "op-7",
		Data: json.RawMessage(fmt.Sprintf(`{"connID":%q,"data":{"x":1},"operationID":"op-7","platformID":1,"userID":%q}`, connID, u))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		reqIdentifier int
		want          frame
	}{
		{1004, frame{ReqIdentifier: 1004, MsgIncr: "a", OperationID: "op-a", ErrCode: 1004, ErrMsg: "user ghost does not exist"}},
		{1005, frame{ReqIdentifier: 1005, MsgIncr: "b", OperationID: "op-b", ErrCode: 500, ErrMsg: apierr.Internal().Msg}},
		{1006, frame{ReqIdentifier: 1006, MsgIncr: "c", OperationID: "op-c", ErrCode: 500, ErrMsg: apierr.Internal().Msg}},
		{1007, frame{ReqIdentifier: 1007, MsgIncr: "d", OperationID: "op-d", Data: json.RawMessage(`{"raw":true}`)}},
	} {
		c.request(tc.reqIdentifier, u, tc.want.MsgIncr, nil)
		if diff := cmp.Diff(tc.want, c.next()); diff != "" {
			t.Errorf("reply to %d (-want +got):\n%s", tc.reqIdentifier, diff)
		}
	}
}

func TestRepliesOutOfOrder(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, Options{Backend: BackendFunc(func(ctx context.Context, c ConnInfo, id int, _ json.RawMessage) (any, error) {
		if id == 1002 { // a slow pull
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return map[string]int{"id": id}, nil
	})})
	u := newUser("ooo")
	c := s.connect(t, u, 1)
	c.request(1002, u, "slow", nil)
	c.request(1003, u, "fast", nil)
	if f := c.next(); f.MsgIncr != "fast" {
		t.Fatalf("first reply %+v, want msgIncr fast", f)
	}
	close(release)
	if f := c.next(); f.MsgIncr != "slow" {
		t.Fatalf("second reply %+v, want msgIncr slow", f)
	}
}

func TestBadFrames(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("bad")
	c := s.connect(t, u, 1)
	for _, tc := range []struct {
		name, frame string
		want        frame
	}{
		{"not JSON", `hello`, frame{ErrCode: 1001}},
		{"not an object", `[1,2]`, frame{ErrCode: 1001}},
		{"binary-ish garbage", "\x00\xff{", frame{ErrCode: 1001}},
		{"wrong type", `{"reqIdentifier":1001,"sendID":"` + u + `","operationID":"o","msgIncr":5}`, frame{ReqIdentifier: 1001, OperationID: "o", ErrCode: 1001}},
		{"no reqIdentifier", `{"sendID":"` + u + `","operationID":"o","msgIncr":"1"}`, frame{MsgIncr: "1", OperationID: "o", ErrCode: 1001}},
		{"no sendID", `{"reqIdentifier":1001,"operationID":"o","msgIncr":"2"}`, frame{ReqIdentifier: 1001, MsgIncr: "2", OperationID: "o", ErrCode: 1001}},
		{"no msgIncr", `{"reqIdentifier":1001,"sendID":"` + u + `","operationID":"o"}`, frame{ReqIdentifier: 1001, OperationID: "o", ErrCode: 1001}},
		{"sendID of another user", `{"reqIdentifier":1001,"sendID":"mallory","operationID":"o","msgIncr":"3"}`, frame{ReqIdentifier: 1001, MsgIncr: "3", OperationID: "o", ErrCode: 1003}},
	} {
		c.writeRaw(tc.frame)
		got := c.next()
		if got.ErrMsg == "" {
			t.Errorf("%s: errMsg is empty", tc.name)
		}
		if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(frame{}, "ErrMsg")); diff != "" {
			t.Errorf("%s: reply (-want +got):\n%s", tc.name, diff)
		}
	}
	// The connection is still usable.
	c.request(1001, u, "ok", nil)
	if f := c.next(); f.MsgIncr != "ok" || f.ErrCode != 0 {
		t.Errorf("reply after bad frames = %+v", f)
	}
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	a, b := newUser("dla"), newUser("dlb")
	a1, a2, b1 := s.connect(t, a, 1), s.connect(t, a, 2), s.connect(t, b, 1)
	var except string
	for _, pc := range s.hub.OnlineStatus([]string{a})[a] {
		if pc.PlatformID == 2 {
			except = pc.ConnID
		}
	}

	s.hub.Deliver([]string{a, b, "offline-user"}, []byte(`{"reqIdentifier":2001,"data":1}`), except)
	s.hub.Deliver([]string{a}, []byte(`{"reqIdentifier":2001,"data":2}`), "")
	for name, c := range map[string]*client{"a1": a1, "b1": b1} {
		if got := c.nextRaw(); got != `{"reqIdentifier":2001,"data":1}` {
			t.Errorf("%s got %s", name, got)
		}
	}
	if got := a1.nextRaw(); got != `{"reqIdentifier":2001,"data":2}` {
		t.Errorf("a1 second frame %s", got)
	}
	if got := a2.nextRaw(); got != `{"reqIdentifier":2001,"data":2}` {
		t.Errorf("a2 (the excepted connection) got %s first", got)
	}
	b1.quiet(50 * time.Millisecond)
}

func TestReloginKicksOlder(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("relog")
	old := s.connect(t, u, 1)
	other := s.connect(t, u, 2)
	fresh := s.connect(t, u, 1)

	f := old.next()
	if f.ReqIdentifier != 2002 || f.ErrCode != 0 || f.ErrMsg == "" || f.Data != nil {
		t.Errorf("kick frame = %+v, want 2002 with a reason and no data", f)
	}
	if got := old.closed(); got != CloseKicked {
		t.Errorf("close code = %d, want %d", got, CloseKicked)
	}
	status := s.hub.OnlineStatus([]string{u})[u]
	if len(status) != 2 || s.hub.Count() != 2 {
		t.Fatalf("OnlineStatus = %+v, Count = %d; want 2 connections", status, s.hub.Count())
	}
	s.hub.Deliver([]string{u}, []byte(`{"n":1}`), "")
	for _, c := range []*client{fresh, other} {
		if got := c.nextRaw(); got != `{"n":1}` {
			t.Errorf("push = %s", got)
		}
	}
}

func TestKick(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("kick")
	c1, c2 := s.connect(t, u, 1), s.connect(t, u, 2)

	s.hub.Kick(u, 0, "this user has been forbidden")
	if s.hub.IsOnline(u) {
		t.Error("still online right after Kick")
	}
	for _, c := range []*client{c1, c2} {
		if f := c.next(); f.ReqIdentifier != 2002 || f.ErrMsg != "this user has been forbidden" {
			t.Errorf("kick frame = %+v", f)
		}
		if got := c.closed(); got != CloseForbidden {
			t.Errorf("close code = %d, want %d", got, CloseForbidden)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("hb")
	c := s.connect(t, u, 1)
	c.writeRaw(`{"type":"ping"}`)
	if got := c.nextRaw(); got != `{"type":"pong"}` {
		t.Errorf("got %s, want pong", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil { // a WebSocket ping is answered too
		t.Errorf("ping: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{IdleTimeout: 200 * time.Millisecond, PingInterval: -1})
	u := newUser("idle")
	start := time.Now() // before connecting: the idle clock starts during connect, which a loaded machine makes slow
	c := s.connect(t, u, 1)
	if got := c.closed(); got != CloseIdleTimeout {
		t.Errorf("close code = %d, want %d", got, CloseIdleTimeout)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
	eventually(t, "the connection leaves the registry", func() bool { return !s.hub.IsOnline(u) })
}

func TestTrafficAndPongsKeepAlive(t *testing.T) {
	t.Parallel()
	// Pings every 250 ms, closed after 2 s without a pong: a client's reader late by more than 1.75 s would be
	// a broken machine, not a loaded one.
	s := newServer(t, Options{IdleTimeout: 2 * time.Second, PingInterval: 250 * time.Millisecond})
	u := newUser("alive")
	c := s.connect(t, u, 1)     // its reader answers the server's pings
	time.Sleep(5 * time.Second) // the property: alive well past the idle timeout
	if !s.hub.IsOnline(u) {
		t.Fatal("a client answering pings was closed as idle")
	}
	c.quiet(0)
}

func TestOversizeFrame(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{MaxFrameBytes: 1024})
	u := newUser("big")
	c := s.connect(t, u, 1)
	c.request(1001, u, "fits", strings.Repeat("x", 900))
	if f := c.next(); f.ErrCode != 0 {
		t.Fatalf("a frame under the limit got %+v", f)
	}
	c.request(1001, u, "big", strings.Repeat("x", 2000))
	if got := c.closed(); got != CloseMessageTooBig {
		t.Errorf("close code = %d, want %d", got, CloseMessageTooBig)
	}
	eventually(t, "the connection leaves the registry", func() bool { return !s.hub.IsOnline(u) })
}

func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	// A write timeout far above what a loaded machine takes for one frame to a reading client: the queue
	// overflows first.
	s := newServer(t, Options{SendQueue: 4, WriteTimeout: 5 * time.Second})
	slow, fast := newUser("slow"), newUser("fast")
	// The slow client never reads (not even the ack: isMsgResp is off).
	if _, _, err := s.dial(t, fmt.Sprintf("token=%s&userID=%s&platformID=1", tok(slow, 1), slow), nil); err != nil {
		t.Fatal(err)
	}
	f := s.connect(t, fast, 1)
	eventually(t, "slow is registered", func() bool { return s.hub.IsOnline(slow) })

	payload := []byte(`{"reqIdentifier":2001,"data":"` + strings.Repeat("x", 64<<10) + `"}`)
	start := time.Now()
	for i := 0; s.hub.IsOnline(slow); i++ {
		if time.Since(start) > wait {
			t.Fatalf("slow consumer still online after %d frames", i)
		}
		s.hub.Deliver([]string{slow, fast}, payload, "")
		if got := f.nextRaw(); len(got) != len(payload) { // the fast client keeps up, frame by frame
			t.Fatalf("fast client got %d bytes", len(got))
		}
	}
	if n := counter(t, s.reg, "imserver_gateway_slow_consumer_closes_total"); n != 1 {
		t.Errorf("slow consumer closes = %v, want 1", n)
	}
	s.hub.Deliver([]string{fast}, []byte(`{"after":true}`), "")
	if got := f.nextRaw(); got != `{"after":true}` {
		t.Errorf("fast client got %s after the slow one was closed", got)
	}
}

// A slow consumer that reads again before WriteTimeout passes gets the 1008 close frame after the frames
// already on their way; one that stays stalled cannot get any frame, so its socket is dropped after
// WriteTimeout (TestSlowConsumerWriteTimeout). Both are documented in asyncapi.yaml.
func TestSlowConsumerThatResumesGets1008(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{SendQueue: 4, WriteTimeout: wait})
	u := newUser("resumes")
	ws, _, err := s.dial(t, fmt.Sprintf("token=%s&userID=%s&platformID=1", tok(u, 1), u), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the client is registered", func() bool { return s.hub.IsOnline(u) })
	payload := []byte(`{"reqIdentifier":2001,"data":"` + strings.Repeat("x", 64<<10) + `"}`)
	// Bounded by time, not by a count of frames: after the overflow the goroutine that closes the connection
	// (and takes it out of the registry) may start late on a busy machine, while each Deliver costs nothing.
	start := time.Now()
	for s.hub.IsOnline(u) {
		if time.Since(start) > wait {
			t.Fatal("the queue never overflowed")
		}
		s.hub.Deliver([]string{u}, payload, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		if _, _, err = ws.Read(ctx); err != nil {
			break
		}
	}
	if got := websocket.CloseStatus(err); got != ClosePolicyViolation {
		t.Errorf("a slow consumer that resumed reading: %v (close status %d), want %d", err, got, ClosePolicyViolation)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("logout")
	c := s.connect(t, u, 1)
	c.request(2003, u, "bye", map[string]any{"userID": u, "platformID": 1})
	if diff := cmp.Diff(frame{ReqIdentifier: 2003, MsgIncr: "bye", OperationID: "op-bye"}, c.next()); diff != "" {
		t.Errorf("logout reply (-want +got):\n%s", diff)
	}
	if got := c.closed(); got != CloseNormal {
		t.Errorf("close code = %d, want %d", got, CloseNormal)
	}
	eventually(t, "the connection leaves the registry", func() bool { return !s.hub.IsOnline(u) })
}

func TestBackgroundStatus(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	u := newUser("bg")
	c := s.connect(t, u, 2)

	c.request(2004, u, "1", map[string]any{"userID": u, "isBackground": true})
	if diff := cmp.Diff(frame{ReqIdentifier: 2004, MsgIncr: "1", OperationID: "op-1"}, c.next()); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	if got := s.hub.OnlineStatus([]string{u})[u]; len(got) != 1 || !got[0].IsBackground {
		t.Errorf("OnlineStatus = %+v, want IsBackground", got)
	}

	for _, tc := range []struct {
		data any
		code int
	}{
		{map[string]any{"userID": "mallory", "isBackground": false}, 1003},
		{map[string]any{"userID": u}, 1001},
		{nil, 1001},
	} {
		c.request(2004, u, "x", tc.data)
		if f := c.next(); f.ErrCode != tc.code {
			t.Errorf("data %v: reply %+v, want errCode %d", tc.data, f, tc.code)
		}
	}
	c.request(2004, u, "2", map[string]any{"userID": u, "isBackground": false})
	c.next()
	if got := s.hub.OnlineStatus([]string{u})[u]; got[0].IsBackground {
		t.Errorf("OnlineStatus = %+v, want foreground", got)
	}
}

// recorder records hook calls as strings.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) Online(u string, p int)  { r.add(fmt.Sprintf("online %s/%d", u, p)) }
func (r *recorder) Offline(u string, p int) { r.add(fmt.Sprintf("offline %s/%d", u, p)) }
func (r *recorder) Connected(c ConnInfo) {
	r.add(fmt.Sprintf("connected %s/%d", c.UserID, c.PlatformID))
}
func (r *recorder) Disconnected(c ConnInfo) {
	r.add(fmt.Sprintf("disconnected %s/%d", c.UserID, c.PlatformID))
}

// onlyPresence implements Hooks but not ConnHooks.
type onlyPresence struct{ r *recorder }

func (o onlyPresence) Online(u string, p int)  { o.r.Online(u, p) }
func (o onlyPresence) Offline(u string, p int) { o.r.Offline(u, p) }

func TestHooks(t *testing.T) {
	t.Parallel()
	for _, withConns := range []bool{false, true} {
		t.Run(fmt.Sprintf("ConnHooks=%v", withConns), func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			var hooks Hooks = onlyPresence{rec}
			if withConns {
				hooks = rec
			}
			s := newServer(t, Options{Hooks: hooks})
			u := newUser("hook")
			count := func(n int) func() bool {
				return func() bool { return len(s.hub.OnlineStatus([]string{u})[u]) == n }
			}

			s.connect(t, u, 1)
			p2 := s.connect(t, u, 2)
			p1 := s.connect(t, u, 1) // replaces the first
			eventually(t, "the replaced connection is gone", func() bool { return s.hub.Count() == 2 })
			_ = p2.ws.Close(websocket.StatusNormalClosure, "")
			eventually(t, "platform 2 is gone", count(1))
			_ = p1.ws.Close(websocket.StatusNormalClosure, "")
			eventually(t, "offline", func() bool { return len(rec.get()) > 0 && strings.HasPrefix(rec.get()[len(rec.get())-1], "offline") })

			want := []string{"online " + u + "/1", "offline " + u + "/1"}
			if withConns {
				want = []string{
					"online " + u + "/1", "connected " + u + "/1", "connected " + u + "/2",
					"connected " + u + "/1", "disconnected " + u + "/1",
					"disconnected " + u + "/2", "disconnected " + u + "/1", "offline " + u + "/1",
				}
			}
			if diff := cmp.Diff(want, rec.get()); diff != "" {
				t.Errorf("hook calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHubClose(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	s := newServer(t, Options{Backend: BackendFunc(func(ctx context.Context, _ ConnInfo, _ int, _ json.RawMessage) (any, error) {
		close(entered)
		<-release
		return map[string]string{"stored": "yes"}, nil
	})})
	a, b := newUser("closea"), newUser("closeb")
	ca, cb := s.connect(t, a, 1), s.connect(t, b, 1)
	ca.request(1003, a, "inflight", nil)
	<-entered

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		closed <- s.hub.Close(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // Close is now waiting for the request in flight
	close(release)

	if f := ca.next(); f.MsgIncr != "inflight" || f.ErrCode != 0 {
		t.Errorf("in-flight reply = %+v", f)
	}
	for _, c := range []*client{ca, cb} {
		if got := c.closed(); got != CloseGoingAway {
			t.Errorf("close code = %d, want %d", got, CloseGoingAway)
		}
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if s.hub.Count() != 0 {
		t.Errorf("Count = %d after Close", s.hub.Count())
	}
	_, resp, err := s.dial(t, fmt.Sprintf("token=%s&userID=%s&platformID=1", tok(a, 1), a), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("connecting after Close: err %v, response %v; want HTTP 503", err, resp)
	}
}

func TestCloseReason(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100) // 200 bytes
	got := closeReason(long)
	if len(got) > maxReasonLength || !strings.HasPrefix(long, got) || len(got) != 122 {
		t.Errorf("closeReason cut to %d bytes: %q", len(got), got)
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{Backend: BackendFunc(echoBackend)}); err == nil {
		t.Error("New without a Checker succeeded")
	}
	o, err := Options{Checker: fakeAuth{}, Backend: BackendFunc(echoBackend)}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	got := []any{o.MaxFrameBytes, o.SendQueue, o.MaxInFlight, o.WriteTimeout, o.IdleTimeout, o.PingInterval}
	want := []any{int64(51200), 256, 8, 10 * time.Second, 30 * time.Second, 20 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	o, _ = Options{Checker: fakeAuth{}, Backend: BackendFunc(echoBackend), IdleTimeout: 3 * time.Second}.withDefaults()
	if o.PingInterval != 2*time.Second {
		t.Errorf("PingInterval for a 3 s IdleTimeout = %v, want 2s", o.PingInterval)
	}
}

// A burst of pushes is written in corked batches: every frame must still arrive whole and in order, with
// sizes around the write buffer and the batch limit, while the client's pings are answered in between.
func TestDeliverBurstInOrder(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{SendQueue: 2000})
	u := newUser("burst")
	c := s.connect(t, u, 1)
	sizes := []int{1, 100, DefaultWriteBufferSize - 30, DefaultWriteBufferSize + 1, 10 << 10, corkMaxBytes, corkMaxBytes + 1, 200 << 10}
	var want []string
	for i := range 600 {
		f := fmt.Sprintf(`{"reqIdentifier":2001,"i":%d,"pad":"%s"}`, i, strings.Repeat("p", sizes[i%len(sizes)]))
		want = append(want, f)
	}
	pinged := make(chan error, 1)
	go func() {
		// Each pong waits behind the frames queued before it (megabytes, under -race): bounded only by wait
		// per ping, not by a budget for the whole burst that a loaded machine may overrun.
		var err error
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), 4*wait) // behind the whole burst at worst
			err = c.ws.Ping(ctx)
			cancel()
			if err != nil {
				break
			}
		}
		pinged <- err
	}()
	for _, f := range want {
		s.hub.Deliver([]string{u}, []byte(f), "")
	}
	for i, w := range want {
		if got := c.nextRaw(); got != w {
			t.Fatalf("frame %d: got %d bytes (%.40q), want %d bytes (%.40q)", i, len(got), got, len(w), w)
		}
	}
	if err := <-pinged; err != nil {
		t.Errorf("pings during the burst: %v", err)
	}
	if n := counter(t, s.reg, "imserver_gateway_frames_sent_total"); n < float64(len(want)) {
		t.Errorf("frames sent = %v, want at least %d", n, len(want))
	}
}

// A client that stops reading while its queue is still short is dropped by the write deadline of the
// corked write (the queue never fills), and the other connections keep receiving.
func TestSlowConsumerWriteTimeout(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{SendQueue: 100000, WriteTimeout: 200 * time.Millisecond})
	slow, fast := newUser("wslow"), newUser("wfast")
	if _, _, err := s.dial(t, fmt.Sprintf("token=%s&userID=%s&platformID=1", tok(slow, 1), slow), nil); err != nil {
		t.Fatal(err)
	}
	f := s.connect(t, fast, 1)
	eventually(t, "slow is registered", func() bool { return s.hub.IsOnline(slow) })

	payload := []byte(`{"reqIdentifier":2001,"data":"` + strings.Repeat("x", 60<<10) + `"}`)
	for range 300 { // 18 MB: far more than the socket buffers hold, far less than the queue
		s.hub.Deliver([]string{slow}, payload, "")
	}
	eventually(t, "the slow consumer is dropped", func() bool { return !s.hub.IsOnline(slow) })
	if n := counter(t, s.reg, "imserver_gateway_slow_consumer_closes_total"); n != 1 {
		t.Errorf("slow consumer closes = %v, want 1", n)
	}
	s.hub.Deliver([]string{fast}, []byte(`{"still":"here"}`), "")
	if got := f.nextRaw(); got != `{"still":"here"}` {
		t.Errorf("fast client got %s", got)
	}
}

// forbidOnCheck passes a user's first token check and forbids the user before it returns, kicking them
// as /manager/forbid_user does: the kick arrives before the connection is registered and finds nothing.
type forbidOnCheck struct {
	hub       func() *Hub
	forbidden sync.Map
}

func (f *forbidOnCheck) Check(ctx context.Context, token string) (auth.Identity, error) {
	id, err := fakeAuth{}.Check(ctx, token)
	if err != nil {
		return id, err
	}
	if _, done := f.forbidden.LoadOrStore(id.UserID, true); done {
		return auth.Identity{}, apierr.TokenInvalid("token is not valid: user %s is forbidden", id.UserID)
	}
	f.hub().Kick(id.UserID, 0, "this user has been forbidden")
	return id, nil
}

// Issue 13, High 5: a connection whose token check passed just before a forbid stayed open when the kick
// reached the process before the connection was registered.
func TestConnectRechecksAfterRegistering(t *testing.T) {
	t.Parallel()
	var s *testServer
	a := &forbidOnCheck{hub: func() *Hub { return s.hub }}
	s = newServer(t, Options{Checker: a})
	for _, msgResp := range []bool{true, false} {
		u := newUser("race")
		ws, _, err := s.dial(t, fmt.Sprintf("token=%s&sendID=%s&platformID=1&isMsgResp=%t", tok(u, 1), u, msgResp), nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c := startClient(t, ws)
		if msgResp {
			if f := c.next(); f.ErrCode != 1002 || !strings.Contains(f.ErrMsg, "forbidden") {
				t.Fatalf("first frame: %+v", f)
			}
		}
		if code := c.closed(); code != CloseAuthFailed {
			t.Fatalf("isMsgResp=%t: close code %d, want %d", msgResp, code, CloseAuthFailed)
		}
		if s.hub.IsOnline(u) {
			t.Fatalf("isMsgResp=%t: the forbidden user is still registered", msgResp)
		}
	}
}
