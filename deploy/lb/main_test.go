package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// backend is a node stand-in: /readyz answers ready (switchable), /name its name, /ws echoes one message.
func backend(t *testing.T, name string, ready *atomic.Bool) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/name", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, b, err := c.Read(r.Context())
		if err == nil {
			_ = c.Write(r.Context(), typ, append([]byte(name+":"), b...))
		}
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestRoundRobinOverReadyBackendsAndWebSocket(t *testing.T) {
	var aReady, bReady atomic.Bool
	aReady.Store(true)
	bReady.Store(true)
	a, b := backend(t, "a", &aReady), backend(t, "b", &bReady)
	p := &pool{
		names: []string{strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")},
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)), hc: &http.Client{Timeout: 5 * time.Second},
	}
	ctx := context.Background()
	p.check(ctx)
	lb := httptest.NewServer(p.handler())
	defer lb.Close()

	seen := map[string]int{}
	for range 4 {
		code, body := get(t, lb.URL+"/name")
		if code != http.StatusOK {
			t.Fatalf("GET /name through the lb: HTTP %d %q", code, body)
		}
		seen[body]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Errorf("4 requests over 2 ready backends went %v; want 2 each", seen)
	}

	// A WebSocket through the lb reaches a backend and carries frames both ways.
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(lb.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket through the lb: %v", err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(got); s != "a:hi" && s != "b:hi" {
		t.Errorf("echo through the lb: got %q, want a:hi or b:hi", s)
	}
	c.CloseNow()

	// A backend that stops being ready gets nothing after the next check; none ready: 503.
	aReady.Store(false)
	p.check(ctx)
	for range 3 {
		if _, body := get(t, lb.URL+"/name"); body != "b" {
			t.Errorf("with only b ready, a request went to %q", body)
		}
	}
	bReady.Store(false)
	p.check(ctx)
	if code, _ := get(t, lb.URL+"/name"); code != http.StatusServiceUnavailable {
		t.Errorf("no backend ready: HTTP %d, want 503", code)
	}
}
