package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDevLoginLoopbackOnly(t *testing.T) {
	called := false
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { called = true })
	for _, tc := range []struct {
		remote string
		want   int
	}{{"192.0.2.7:40000", http.StatusForbidden}, {"[2001:db8::1]:40000", http.StatusForbidden}, {"127.0.0.1:40000", http.StatusOK}, {"[::1]:40000", http.StatusOK}} {
		called = false
		r := httptest.NewRequest(http.MethodPost, DevLoginPath, strings.NewReader(`{"userID":"u1","platformID":5}`))
		r.RemoteAddr = tc.remote
		w := httptest.NewRecorder()
		DevLogin(api, "/api/v3", "s").ServeHTTP(w, r)
		if w.Code != tc.want || called != (tc.want == http.StatusOK) {
			t.Errorf("from %s: HTTP %d, API called %v; want %d", tc.remote, w.Code, called, tc.want)
		}
	}
}

func TestDocsServedGzipped(t *testing.T) {
	for _, gz := range []bool{true, false} {
		r := httptest.NewRequest(http.MethodGet, "/docs/openapi.html", nil)
		if gz {
			r.Header.Set("Accept-Encoding", "gzip")
		}
		w := httptest.NewRecorder()
		Handler().ServeHTTP(w, r)
		body := io.Reader(w.Body)
		if gz {
			if w.Header().Get("Content-Encoding") != "gzip" {
				t.Fatalf("Accept-Encoding gzip: Content-Encoding %q", w.Header().Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		if w.Code != 200 || !strings.Contains(string(b), "<title>imserver REST API</title>") {
			t.Errorf("gzip %v: HTTP %d, %.100s", gz, w.Code, b)
		}
	}
}
