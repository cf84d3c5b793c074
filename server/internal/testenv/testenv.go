// Package testenv starts a real imserver in-process on a loopback port against a fresh PostgreSQL database
// (internal/pgtest) and gives tests small helpers for REST calls and WebSocket clients.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server"
	"github.com/imspec/imserver/server/internal/bus/natstest"
	"github.com/imspec/imserver/server/internal/config"
)

// Secret and Admin are the test server's shared secret and admin user.
const (
	Secret = "test-secret-0123456789"
	Admin  = "imAdmin"
)

// Env is one running server.
type Env struct {
	T      testing.TB
	URL    string // http://127.0.0.1:port
	WSURL  string // ws://127.0.0.1:port/msg_gateway
	Server *server.Server
	DSN    string
	cancel context.CancelFunc
	done   chan error
}

// SingleNode runs the server with no bus (the default of `imserver` without --nats-url).
func SingleNode(c *config.Config) { c.NATS = config.NATS{} }

// Option adjusts the server's configuration.
type Option func(*config.Config)

// NoRateLimits turns the rate limits off, for tests that call as fast as they can (fuzzing): they would get
// 429 instead of exercising the server.
func NoRateLimits(c *config.Config) { c.RateLimitOff = true }

// Start runs a server on a fresh database; it stops when the test ends.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return StartWithDSN(t, pgtest.NewDB(t), opts...)
}

// StartWithDSN runs a server on an existing database (a second process of the same deployment).
func StartWithDSN(t testing.TB, dsn string, opts ...Option) *Env {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = dsn
	cfg.Secret = Secret
	cfg.AdminUserIDs = []string{Admin}
	cfg.DBMaxConns = 8
	cfg.ShutdownTimeout = 5 * time.Second
	// The servers of one database are the nodes of one deployment: they share a NATS server and keep
	// apart from other tests' deployments by subject prefix.
	ns, err := natstest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	cfg.NATS.URLs = []string{ns.ClientURL()}
	sum := sha256.Sum256([]byte(dsn))
	cfg.NATS.SubjectPrefix = "t" + hex.EncodeToString(sum[:8])
	for _, o := range opts {
		o(cfg)
	}
	lvl := slog.LevelWarn
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: lvl}))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &Env{T: t, URL: "http://" + ln.Addr().String(), WSURL: "ws://" + ln.Addr().String() + "/msg_gateway", Server: s, DSN: dsn, cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- s.Serve(ctx, ln) }()
	t.Cleanup(e.Stop)
	return e
}

// Stop shuts the server down gracefully (idempotent).
func (e *Env) Stop() {
	e.cancel()
	select {
	case <-e.done:
	case <-time.After(15 * time.Second):
		e.T.Errorf("server did not stop within 15s")
	}
	e.done <- nil // make a second Stop return at once
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	if _, fuzz := w.t.(*testing.F); fuzz {
		// A fuzz target may not log through the F; the server's log goes to stderr.
		return os.Stderr.Write(p)
	}
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ID returns a fresh ID with the given prefix, unique per call, so tests never collide.
func ID(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Resp is a decoded envelope.
type Resp struct {
	ErrCode int             `json:"errCode"`
	ErrMsg  string          `json:"errMsg"`
	ErrDlt  string          `json:"errDlt"`
	Data    json.RawMessage `json:"data"`
	Status  int             `json:"-"`
	Raw     []byte          `json:"-"`
}

// Decode unmarshals data into v.
func (r Resp) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// Post calls a REST operation; token may be empty. body may be a string of raw JSON.
func (e *Env) Post(path, token string, body any) Resp {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(body)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(http.MethodPost, e.URL+"/api/v3"+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("operationID", ID("op"))
	if token != "" {
		req.Header.Set("token", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r Resp
	if err := json.Unmarshal(raw, &r); err != nil {
		e.T.Fatalf("POST %s: status %d, body is not an envelope: %s", path, res.StatusCode, raw)
	}
	r.Status, r.Raw = res.StatusCode, raw
	return r
}

// MustOK calls Post and fails the test unless errCode is 0.
func (e *Env) MustOK(path, token string, body any) Resp {
	e.T.Helper()
	r := e.Post(path, token, body)
	if r.ErrCode != 0 || r.Status != http.StatusOK {
		e.T.Fatalf("POST %s: status %d errCode %d errMsg %q", path, r.Status, r.ErrCode, r.ErrMsg)
	}
	return r
}

// Register registers users with the secret.
func (e *Env) Register(userIDs ...string) {
	e.T.Helper()
	users := make([]map[string]string, len(userIDs))
	for i, u := range userIDs {
		users[i] = map[string]string{"userID": u, "nickname": "nick-" + u}
	}
	e.MustOK("/auth/user_register", "", map[string]any{"secret": Secret, "users": users})
}

// Token returns a token of userID on platformID.
func (e *Env) Token(userID string, platformID int) string {
	e.T.Helper()
	r := e.MustOK("/auth/user_token", "", map[string]any{"secret": Secret, "userID": userID, "platformID": platformID})
	var d struct {
		Token string `json:"token"`
	}
	r.Decode(e.T, &d)
	return d.Token
}

// AdminToken returns a token of the admin user.
func (e *Env) AdminToken() string { return e.Token(Admin, 10) }

// User registers a fresh user and returns its ID and a token on platform 1.
func (e *Env) User(prefix string) (string, string) {
	e.T.Helper()
	id := ID(prefix)
	e.Register(id)
	return id, e.Token(id, 1)
}

// Frame is a WebSocket frame as the gateway sends it.
type Frame struct {
	ReqIdentifier int             `json:"reqIdentifier"`
	MsgIncr       string          `json:"msgIncr"`
	OperationID   string          `json:"operationID"`
	ErrCode       int             `json:"errCode"`
	ErrMsg        string          `json:"errMsg"`
	Data          json.RawMessage `json:"data"`
	Type          string          `json:"type"`
}

// WS is a test WebSocket client that collects every frame it receives.
type WS struct {
	t      testing.TB
	Conn   *websocket.Conn
	UserID string
	frames chan Frame
	mu     sync.Mutex
	incr   int
	Closed chan websocket.CloseError
	// Gone is closed when the connection is gone, with a close frame or without (the server was killed).
	Gone chan struct{}
}

// Dial connects userID with token on platformID (isMsgResp=true, and the first ack frame is checked).
func (e *Env) Dial(userID, token string, platformID int) *WS {
	e.T.Helper()
	ws, err := e.TryDial(userID, token, platformID)
	if err != nil {
		e.T.Fatal(err)
	}
	return ws
}

// TryDial is Dial returning the ack's error instead of failing.
func (e *Env) TryDial(userID, token string, platformID int) (*WS, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := fmt.Sprintf("%s?token=%s&sendID=%s&platformID=%d&operationID=%s&isMsgResp=true", e.WSURL, token, userID, platformID, ID("op"))
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.SetReadLimit(1 << 20)
	_, ack, err := c.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read ack: %w", err)
	}
	var a Frame
	if err := json.Unmarshal(ack, &a); err != nil || a.ErrCode != 0 {
		c.CloseNow()
		return nil, fmt.Errorf("ack %s", ack)
	}
	ws := &WS{t: e.T, Conn: c, UserID: userID, frames: make(chan Frame, 10000), Closed: make(chan websocket.CloseError, 1), Gone: make(chan struct{})}
	go ws.readLoop()
	e.T.Cleanup(func() { c.CloseNow() })
	return ws, nil
}

func (w *WS) readLoop() {
	defer close(w.Gone)
	defer close(w.frames)
	for {
		_, b, err := w.Conn.Read(context.Background())
		if err != nil {
			var ce websocket.CloseError
			if ok := asClose(err, &ce); ok {
				w.Closed <- ce
			}
			return
		}
		var f Frame
		if json.Unmarshal(b, &f) == nil {
			w.frames <- f
		}
	}
}

func asClose(err error, ce *websocket.CloseError) bool {
	code := websocket.CloseStatus(err)
	if code == -1 {
		return false
	}
	*ce = websocket.CloseError{Code: code}
	return true
}

// Send writes a request frame and returns its msgIncr.
func (w *WS) Send(reqIdentifier int, data any) string {
	w.t.Helper()
	w.mu.Lock()
	w.incr++
	incr := fmt.Sprint(w.incr)
	w.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"reqIdentifier": reqIdentifier, "sendID": w.UserID, "operationID": ID("op"), "msgIncr": incr, "data": data})
	w.WriteRaw(b)
	return incr
}

// WriteRaw writes a text frame.
func (w *WS) WriteRaw(b []byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Conn.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("ws write: %v", err)
	}
}

// Await returns the next frame matching pred within timeout, or fails the test.
func (w *WS) Await(timeout time.Duration, what string, pred func(Frame) bool) Frame {
	w.t.Helper()
	f, ok := w.Next(timeout, pred)
	if !ok {
		w.t.Fatalf("%s: no frame for %s within %v", w.UserID, what, timeout)
	}
	return f
}

// Next returns the next frame matching pred (frames not matching are dropped) within timeout.
func (w *WS) Next(timeout time.Duration, pred func(Frame) bool) (Frame, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case f, ok := <-w.frames:
			if !ok {
				return Frame{}, false
			}
			if pred(f) {
				return f, true
			}
		case <-deadline:
			return Frame{}, false
		}
	}
}

// Call sends a request and waits for its reply.
func (w *WS) Call(reqIdentifier int, data any) Frame {
	w.t.Helper()
	incr := w.Send(reqIdentifier, data)
	return w.Await(30*time.Second, fmt.Sprintf("reply to %d", reqIdentifier), func(f Frame) bool { return f.MsgIncr == incr && f.ReqIdentifier == reqIdentifier })
}

// Push is a decoded 2001 push.
type Push struct {
	SendID, RecvID, GroupID, ClientMsgID, ServerMsgID, Content, ConversationID string
	SessionType, ContentType                                                   int
	Seq, SendTime                                                              int64
}

// AwaitPush waits for a 2001 push satisfying pred.
func (w *WS) AwaitPush(timeout time.Duration, what string, pred func(Push) bool) Push {
	w.t.Helper()
	var got Push
	w.Await(timeout, what, func(f Frame) bool {
		if f.ReqIdentifier != 2001 {
			return false
		}
		var p Push
		if json.Unmarshal(f.Data, &p) != nil {
			return false
		}
		if pred(p) {
			got = p
			return true
		}
		return false
	})
	return got
}

// NoPush asserts that no 2001 push matching pred arrives within d.
func (w *WS) NoPush(d time.Duration, what string, pred func(Push) bool) {
	w.t.Helper()
	if _, ok := w.Next(d, func(f Frame) bool {
		if f.ReqIdentifier != 2001 {
			return false
		}
		var p Push
		return json.Unmarshal(f.Data, &p) == nil && pred(p)
	}); ok {
		w.t.Fatalf("%s: unexpected push: %s", w.UserID, what)
	}
}

// With returns the same server bound to another test (a fuzz target's t, a subtest).
func (e *Env) With(t testing.TB) *Env {
	c := *e
	c.T = t
	return &c
}
