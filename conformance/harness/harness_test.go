package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imspec/imserver/conformance/harness"
	"github.com/imspec/imserver/internal/pgembed"
)

func TestMain(m *testing.M) { harness.Main(m) }

func TestProcessBackend(t *testing.T) {
	if strings.EqualFold(os.Getenv(harness.EnvBackend), "docker") {
		if _, err := pgembed.FindBinDir(""); err != nil {
			t.Skipf("%s=docker and no PostgreSQL binaries here for the process backend: %v", harness.EnvBackend, err)
		}
	}
	t.Parallel()
	checkBackend(t, harness.Process())
}

func TestDockerBackend(t *testing.T) {
	if !strings.EqualFold(os.Getenv(harness.EnvBackend), "docker") {
		t.Skipf("the docker backend is tested only with %s=docker (it builds images and starts containers)", harness.EnvBackend)
	}
	t.Parallel()
	checkBackend(t, harness.Docker())
}

// Two servers of one backend at once share PostgreSQL but not their data.
func checkBackend(t *testing.T, b harness.Backend) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	t0 := time.Now()
	target, err := b.Start(ctx, t)
	if err != nil {
		t.Fatalf("%s backend: %v", b.Name(), err)
	}
	t.Logf("%s backend: first server ready in %s: %+v", b.Name(), time.Since(t0).Round(time.Millisecond), target)
	t1 := time.Now()
	second, err := b.Start(ctx, t)
	if err != nil {
		t.Fatalf("%s backend, second server: %v", b.Name(), err)
	}
	t.Logf("%s backend: second server ready in %s", b.Name(), time.Since(t1).Round(time.Millisecond))

	for _, tg := range []harness.Target{target, second} {
		if !strings.HasPrefix(tg.APIURL, "http://127.0.0.1:") || !strings.HasSuffix(tg.APIURL, "/api/v3") ||
			!strings.HasPrefix(tg.WSURL, "ws://127.0.0.1:") || !strings.HasSuffix(tg.WSURL, "/msg_gateway") {
			t.Errorf("unexpected URLs: %+v", tg)
		}
		if tg.Secret == "" || tg.Secret == "openIM123" || tg.Admin != harness.DefaultAdmin {
			t.Errorf("unexpected credentials: secret %q, admin %q", tg.Secret, tg.Admin)
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(tg.BaseURL() + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s%s: %s", tg.BaseURL(), path, resp.Status)
			}
		}
	}

	userID := "u" + time.Now().Format("150405.000000")
	userID = strings.ReplaceAll(userID, ".", "")
	var reg struct {
		ErrCode int    `json:"errCode"`
		ErrMsg  string `json:"errMsg"`
	}
	post(t, target, "/auth/user_register", map[string]any{
		"secret": target.Secret,
		"users":  []map[string]any{{"userID": userID, "nickname": "x"}},
	}, &reg)
	if reg.ErrCode != 0 {
		t.Fatalf("user_register: errCode %d: %s", reg.ErrCode, reg.ErrMsg)
	}

	var tok struct {
		ErrCode int    `json:"errCode"`
		ErrMsg  string `json:"errMsg"`
		Data    struct {
			Token             string `json:"token"`
			ExpireTimeSeconds int64  `json:"expireTimeSeconds"`
		} `json:"data"`
	}
	post(t, target, "/auth/user_token", map[string]any{"secret": target.Secret, "platformID": 1, "userID": userID}, &tok)
	if tok.ErrCode != 0 || tok.Data.Token == "" {
		t.Fatalf("user_token: errCode %d (%s), token %q", tok.ErrCode, tok.ErrMsg, tok.Data.Token)
	}

	// The wrong secret is refused: the server really runs with the harness's secret.
	var bad struct {
		ErrCode int `json:"errCode"`
	}
	post(t, target, "/auth/user_token", map[string]any{"secret": "openIM123", "platformID": 1, "userID": userID}, &bad)
	if bad.ErrCode == 0 {
		t.Errorf("user_token with the wrong secret succeeded")
	}
	// The second server has a database of its own: the user registered on the first one can't log in there.
	var other struct {
		ErrCode int `json:"errCode"`
	}
	post(t, second, "/auth/user_token", map[string]any{"secret": second.Secret, "platformID": 1, "userID": userID}, &other)
	if other.ErrCode == 0 {
		t.Errorf("the second server knows the user registered on the first: their databases are not separate")
	}
}

func post(t *testing.T, target harness.Target, path string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, target.APIURL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("operationID", "harness-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s: %s", path, resp.Status, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("POST %s: %v in %s", path, err, raw)
	}
}

func TestChooseHonorsEnv(t *testing.T) {
	for _, c := range []struct{ env, want string }{{"process", "process"}, {"docker", "docker"}, {"PROCESS", "process"}, {"bogus", "invalid"}} {
		t.Setenv(harness.EnvBackend, c.env)
		if got := harness.Choose().Name(); got != c.want {
			t.Errorf("%s=%s: Choose().Name() = %q, want %q", harness.EnvBackend, c.env, got, c.want)
		}
	}
	t.Setenv(harness.EnvBackend, "bogus")
	if _, err := harness.Choose().Start(context.Background(), t); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("an invalid backend's Start: %v", err)
	}
}

// StartServer with whichever backend Choose picks (IMCONFORM_BACKEND, else Docker when it answers).
func TestStartServer(t *testing.T) {
	t.Parallel()
	target := harness.StartServer(t)
	resp, err := http.Get(target.BaseURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %s", resp.Status)
	}
}
