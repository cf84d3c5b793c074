package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/guard"
	"github.com/imspec/imserver/server/internal/testenv"
)

// bound is how long a test waits for something the server must do promptly; far above the timeouts it
// configures, so a pass never depends on the machine's speed.
const bound = 30 * time.Second

// halfSend opens a connection and sends a request's headers and the first bytes of a body that promises
// more.
func halfSend(t *testing.T, e *testenv.Env, path, token string, contentLength int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hdr := ""
	if token != "" {
		hdr = "token: " + token + "\r\n"
	}
	fmt.Fprintf(c, "POST /api/v3%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n{\"secret\":", path, hdr, contentLength)
	return c
}

// closedByServer reads c until the server closes it, and returns what it sent.
func closedByServer(t *testing.T, c net.Conn, what string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(bound))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%s: still open after %s (%v); got %q", what, bound, err, b)
	}
	return string(b)
}

// High 3: a body that never finishes no longer holds its connection open, whatever the route, and an idle
// keep-alive connection is closed too.
func TestSlowConnectionsClosed(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t, func(c *config.Config) { c.HTTPReadTimeout = time.Second; c.HTTPIdleTimeout = time.Second })
	var conns []net.Conn
	for range 10 {
		conns = append(conns, halfSend(t, e, "/auth/user_register", "", 100_000))
		conns = append(conns, halfSend(t, e, "/user/get_users_info", "", 1000)) // small enough that net/http drains it
	}
	for i, c := range conns {
		closedByServer(t, c, fmt.Sprintf("half-sent body %d", i))
	}

	c, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := closedByServer(t, c, "idle keep-alive connection"); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("healthz answered %q", got)
	}
}

// High 3: a secured route answers 1002 on the headers alone; the server never waits for (or holds) the
// body of a caller without a valid token.
func TestSecuredRouteRefusesBeforeBody(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t, func(c *config.Config) { c.HTTPReadTimeout = 10 * time.Minute })
	for _, tok := range []string{"", "forged.token.value"} {
		c := halfSend(t, e, "/user/get_users_info", tok, 1<<20-100)
		_ = c.SetReadDeadline(time.Now().Add(bound))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("token %q: no answer while the body is pending: %v", tok, err)
		}
		var env testenv.Resp
		if err := json.NewDecoder(res.Body).Decode(&env); err != nil || res.StatusCode != 200 || env.ErrCode != 1002 {
			t.Fatalf("token %q: status %d, %+v, %v; want 200 with errCode 1002", tok, res.StatusCode, env, err)
		}
	}
}

// waitStatus repeats a request until it answers status; the server takes its slots as requests arrive,
// which a client cannot observe otherwise.
func waitStatus(t *testing.T, what string, status int, do func() (*http.Response, error)) *http.Response {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		res, err := do()
		if err == nil && res.StatusCode == status {
			return res
		}
		if err == nil {
			res.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no HTTP %d within %s (last: %v, %v)", what, status, bound, res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// High 3: requests not authenticated yet are bounded in number: REST calls and WebSocket upgrades over the
// bound get HTTP 503 with the envelope, and an authenticated caller is not counted.
func TestUnauthenticatedRequestsBounded(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t, func(c *config.Config) { c.MaxUnauthenticated = 2; c.HTTPReadTimeout = 10 * time.Minute })
	u, tok := e.User("u")
	// Two secret-checked calls whose bodies never finish hold both slots.
	c1 := halfSend(t, e, "/auth/user_register", "", 100_000)
	halfSend(t, e, "/auth/user_token", "", 100_000)

	post := func() (*http.Response, error) {
		return http.Post(e.URL+"/api/v3/auth/user_token", "application/json", strings.NewReader(`{"secret":"x","userID":"x","platformID":1}`))
	}
	res := waitStatus(t, "secret-checked call with every slot taken", http.StatusServiceUnavailable, post)
	var env testenv.Resp
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || env.ErrCode != 429 || !strings.HasPrefix(env.ErrDlt, "retryAfterMs=") {
		t.Fatalf("refusal: %+v %v", env, err)
	}
	res.Body.Close()
	// Token-bearing calls take no slot (their body is read only after the token passed): they are served.
	if r := e.Post("/user/get_users_info", tok, map[string]any{"userIDs": []string{u}}); r.ErrCode != 0 {
		t.Fatalf("authenticated call with every slot taken: %s", r.Raw)
	}
	if r := e.Post("/user/get_users_info", "", map[string]any{"userIDs": []string{u}}); r.ErrCode != 1002 {
		t.Fatalf("token-less secured call with every slot taken: %s, want 1002 without reading the body", r.Raw)
	}
	ws, err := http.Get(e.URL + "/msg_gateway?token=" + tok + "&sendID=" + u + "&platformID=1")
	if err != nil || ws.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("WebSocket upgrade with every slot taken: %v %v, want 503", ws, err)
	}
	ws.Body.Close()
	// Giving one slot back admits calls again.
	c1.Close()
	waitStatus(t, "secret-checked call after a slot was freed", http.StatusOK, post).Body.Close()
}

func sendBody(from, to string) map[string]any {
	return map[string]any{"sendID": from, "recvID": to, "content": map[string]any{"content": "hi"}, "contentType": 101, "sessionType": 1}
}

// Medium 3: sends (REST and WebSocket share one bucket per user) and mutating calls are limited per user,
// with errCode 429 and a retry hint; reads, other users, admins and exempt users are not limited.
func TestRateLimitsPerUser(t *testing.T) {
	t.Parallel()
	never := 0.001 // a token per 1000 s: the burst is all a test gets
	e := testenv.Start(t, func(c *config.Config) {
		c.RateSend = guard.Limit{Rate: never, Burst: 2}
		c.RateMutate = guard.Limit{Rate: never, Burst: 2}
		c.RateExemptUserIDs = []string{"bot"}
	})
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	e.MustOK("/msg/send_msg", aTok, sendBody(a, b))
	e.MustOK("/msg/send_msg", aTok, sendBody(a, b))
	r := e.Post("/msg/send_msg", aTok, sendBody(a, b))
	if r.ErrCode != 429 || !strings.HasPrefix(r.ErrDlt, "retryAfterMs=") || !strings.Contains(r.ErrMsg, "retry after") {
		t.Fatalf("third send: %s", r.Raw)
	}
	aWS := e.Dial(a, aTok, 1)
	if f := aWS.Call(1003, sendBody(a, b)); f.ErrCode != 429 || !strings.Contains(f.ErrMsg, "retry after") {
		t.Fatalf("WebSocket send over the limit: %+v", f)
	}
	bWS := e.Dial(b, bTok, 1)
	if f := bWS.Call(1003, sendBody(b, a)); f.ErrCode != 0 {
		t.Fatalf("another user's send: %+v", f)
	}
	admin := e.AdminToken()
	for range 3 {
		e.MustOK("/msg/send_msg", admin, sendBody(testenv.Admin, b))
	}

	set := map[string]any{"userInfo": map[string]any{"userID": a, "nickname": "n"}}
	e.MustOK("/user/update_user_info", aTok, set)
	e.MustOK("/user/update_user_info", aTok, set)
	if r := e.Post("/user/update_user_info", aTok, set); r.ErrCode != 429 {
		t.Fatalf("third change: %s", r.Raw)
	}
	for range 3 {
		e.MustOK("/user/get_users_info", aTok, map[string]any{"userIDs": []string{a}})
	}

	e.Register("bot")
	botTok := e.Token("bot", 1)
	for range 3 {
		e.MustOK("/msg/send_msg", botTok, sendBody("bot", b))
	}
}

// Medium 3: the secret-checked calls are limited per address, wrong secrets included; --rate-limit=off
// lifts every limit.
func TestRateLimitsPerAddressAndOff(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t, func(c *config.Config) { c.RateSecret = guard.Limit{Rate: 0.001, Burst: 3} })
	for i := range 3 {
		if r := e.Post("/auth/user_token", "", map[string]any{"secret": "wrong-secret-guess", "userID": "x", "platformID": 1}); r.ErrCode != 1003 {
			t.Fatalf("guess %d: %s", i, r.Raw)
		}
	}
	if r := e.Post("/auth/user_token", "", map[string]any{"secret": testenv.Secret, "userID": testenv.Admin, "platformID": 1}); r.ErrCode != 429 || !strings.HasPrefix(r.ErrDlt, "retryAfterMs=") {
		t.Fatalf("fourth call from the address: %s", r.Raw)
	}

	off := testenv.Start(t, func(c *config.Config) {
		c.RateLimitOff = true
		c.RateSecret = guard.Limit{Rate: 0.001, Burst: 1}
		c.RateSend = guard.Limit{Rate: 0.001, Burst: 1}
	})
	a, aTok := off.User("a") // two secret-checked calls
	b, _ := off.User("b")
	for range 3 {
		off.MustOK("/msg/send_msg", aTok, sendBody(a, b))
	}
}

// Medium 4: with the development secret, the secret-checked calls are accepted from loopback only, unless
// the operator allowed it explicitly.
func TestDevSecretLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, allow := range []bool{false, true} {
		e := testenv.Start(t, func(c *config.Config) { c.Secret = config.DevSecret; c.AllowDevSecret = allow })
		u := testenv.ID("u")
		body := `{"secret":"openIM123","users":[{"userID":"` + u + `"}]}`
		remote := httptest.NewRequest("POST", "/api/v3/auth/user_register", strings.NewReader(body))
		remote.RemoteAddr = "203.0.113.9:40000"
		rec := httptest.NewRecorder()
		e.Server.Handler().ServeHTTP(rec, remote)
		var r testenv.Resp
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if allow && r.ErrCode != 0 || !allow && (r.ErrCode != 1003 || !strings.Contains(r.ErrMsg, "--secret")) {
			t.Fatalf("allow=%v, from 203.0.113.9: %s", allow, rec.Body)
		}
		// The test client is on loopback.
		if r := e.Post("/auth/user_token", "", map[string]any{"secret": config.DevSecret, "userID": testenv.Admin, "platformID": 1}); r.ErrCode != 0 {
			t.Fatalf("allow=%v, from loopback: %s", allow, r.Raw)
		}
	}
}

// The read timeout is for requests: an upgraded WebSocket connection lives past it.
func TestWebSocketOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	rt := 200 * time.Millisecond
	e := testenv.Start(t, func(c *config.Config) { c.HTTPReadTimeout = rt })
	u, tok := e.User("u")
	ws := e.Dial(u, tok, 1)
	time.Sleep(3 * rt) // the subject is time passing: the request's deadline must be gone
	if f := ws.Call(1001, map[string]any{"userID": u}); f.ErrCode != 0 {
		t.Fatalf("1001 after the read timeout: %+v", f)
	}
}

// /metrics can move to an address of its own; the main port then no longer serves it.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"", "127.0.0.1:0"} {
		e := testenv.Start(t, func(c *config.Config) { c.MetricsAddr = addr })
		res, err := http.Get(e.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want := map[string]int{"": 200, "127.0.0.1:0": 404}[addr]; res.StatusCode != want {
			t.Errorf("metrics-addr %q: /metrics on the main port answered %d, want %d", addr, res.StatusCode, want)
		}
		rec := httptest.NewRecorder()
		e.Server.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if !strings.Contains(rec.Body.String(), "go_goroutines") {
			t.Errorf("metrics-addr %q: Metrics() serves no metrics", addr)
		}
	}
}
