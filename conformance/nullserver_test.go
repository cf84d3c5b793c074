package conformance_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/conformance"
	"github.com/imspec/imserver/conformance/runner"
)

// nullServer is a server that does nothing and says yes to everything: errCode 0 and an empty data for every
// route (a token from user_token, so that the suite gets going), and a gateway that accepts every connection
// and echoes every frame. A case that such a server passes checks nothing.
func nullServer(t *testing.T) conformance.Target {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v3/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		data := map[string]any{}
		if strings.HasSuffix(r.URL.Path, "/auth/user_token") {
			data = map[string]any{"token": "null-token", "expireTimeSeconds": 604800}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"errCode": 0, "errMsg": "", "errDlt": "", "data": data})
	})
	mux.HandleFunc("/msg_gateway", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 24)
		ctx := r.Context()
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"errCode":0,"errMsg":""}`)); err != nil {
			return
		}
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, b); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return conformance.Target{APIURL: srv.URL + "/api/v3", WSURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/msg_gateway",
		Secret: "openIM123", Admin: "imAdmin"}
}

// TestNullServerPassesNothing: every case derives what it expects from what the suite itself did, so a server
// that does nothing passes none of them (self/coverage checks the specs, not the server).
func TestNullServerPassesNothing(t *testing.T) {
	s, err := conformance.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	rep := runner.Run(s, runner.Options{Target: nullServer(t), Parallel: 64, Timeout: 10 * time.Minute})
	if len(rep.Setup) > 0 {
		t.Fatalf("the run did not start: %s", strings.Join(rep.Setup, "; "))
	}
	var passed []string
	for _, r := range rep.Results {
		if r.Status == runner.Pass && r.Name != "self/coverage" {
			passed = append(passed, r.Name)
		}
	}
	if len(passed) > 0 {
		t.Errorf("a server that does nothing passes %d of %d cases (each must be able to fail for it):\n  %s",
			len(passed), len(rep.Results), strings.Join(passed, "\n  "))
	}
}
