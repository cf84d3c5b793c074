package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/testenv"
)

type onlineUsers struct {
	Total, Connections int
	Platforms          []struct{ PlatformID, Connections int }
	Users              []struct {
		UserID               string
		Status               int
		DetailPlatformStatus []struct{ PlatformID int }
	}
}

func TestGetOnlineUsers(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, atok := e.User("a")
	b, btok := e.User("b")
	if a > b {
		a, b, atok, btok = b, a, btok, atok
	}
	e.Dial(a, atok, 1)
	e.Dial(a, e.Token(a, 5), 5)
	e.Dial(b, e.Token(b, 5), 5)
	admin := e.AdminToken()
	page := func(n, size int) onlineUsers {
		var d onlineUsers
		e.MustOK("/manager/get_online_users", admin, map[string]any{"pagination": map[string]any{"pageNumber": n, "showNumber": size}}).Decode(t, &d)
		return d
	}
	// The registry is written a moment after a connection opens.
	var d onlineUsers
	for deadline := time.Now().Add(30 * time.Second); ; {
		if d = page(1, 10); d.Connections == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := map[string]any{"total": d.Total, "connections": d.Connections, "platforms": d.Platforms, "users": d.Users}
	want := map[string]any{
		"total": 2, "connections": 3,
		"platforms": []struct{ PlatformID, Connections int }{{1, 1}, {5, 2}},
		"users": []struct {
			UserID               string
			Status               int
			DetailPlatformStatus []struct{ PlatformID int }
		}{{a, 1, []struct{ PlatformID int }{{1}, {5}}}, {b, 1, []struct{ PlatformID int }{{5}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("get_online_users (-want +got):\n%s", diff)
	}
	if d := page(2, 1); d.Total != 2 || len(d.Users) != 1 || d.Users[0].UserID != b {
		t.Errorf("page 2 of size 1: %+v, want %s alone with total 2", d, b)
	}
	if r := e.Post("/manager/get_online_users", atok, map[string]any{"pagination": map[string]any{"pageNumber": 1, "showNumber": 10}}); r.ErrCode != 1003 {
		t.Errorf("non-admin: %s, want errCode 1003", r.Raw)
	}
}

func TestGetServerConfig(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	var d struct {
		Settings []struct{ Name, Value string }
	}
	e.MustOK("/manager/get_server_config", e.AdminToken(), map[string]any{}).Decode(t, &d)
	got := map[string]string{}
	for _, s := range d.Settings {
		got[s.Name] = s.Value
	}
	if got["admin-user-ids"] != testenv.Admin || got["secret"] == "" || strings.Contains(got["secret"], testenv.Secret) {
		t.Errorf("settings %v: want admin-user-ids %s and the secret masked", got, testenv.Admin)
	}
	_, tok := e.User("u")
	if r := e.Post("/manager/get_server_config", tok, map[string]any{}); r.ErrCode != 1003 {
		t.Errorf("non-admin: %s, want errCode 1003", r.Raw)
	}
}

func TestWebApps(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	for _, path := range []string{"/", "/admin/"} {
		res, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), `<div id="root">`) {
			t.Errorf("GET %s: %d %.200s, want the app's page", path, res.StatusCode, b)
		}
	}
	// The development login exists only with the development secret (the test server has another).
	res, err := http.Post(e.URL+"/dev/login", "application/json", strings.NewReader(`{"userID":"x","platformID":5,"signUp":true}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /dev/login without the development secret: HTTP %d, want 404", res.StatusCode)
	}
}

func TestDevLogin(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t, func(c *config.Config) { c.Secret = config.DevSecret })
	u := testenv.ID("dev")
	login := func(body string) testenv.Resp {
		t.Helper()
		res, err := http.Post(e.URL+"/dev/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r testenv.Resp
		if err := jsonDecode(res, &r); err != nil {
			t.Fatalf("POST /dev/login %s: HTTP %d, not an envelope: %v", body, res.StatusCode, err)
		}
		return r
	}
	if r := login(`{"userID":"` + u + `","platformID":5}`); r.ErrCode != 1004 {
		t.Errorf("sign-in before sign-up: %+v, want errCode 1004", r)
	}
	r := login(`{"userID":"` + u + `","nickname":"测试 🙂","platformID":5,"signUp":true}`)
	var d struct{ Token string }
	r.Decode(t, &d)
	if r.ErrCode != 0 || d.Token == "" {
		t.Fatalf("sign-up: %+v", r)
	}
	var info struct{ UsersInfo []struct{ Nickname string } }
	e.MustOK("/user/get_users_info", d.Token, map[string]any{"userIDs": []string{u}}).Decode(t, &info)
	if len(info.UsersInfo) != 1 || info.UsersInfo[0].Nickname != "测试 🙂" {
		t.Errorf("the signed-up user: %+v", info)
	}
	if r := login(`{"userID":"` + u + `","platformID":5,"signUp":true}`); r.ErrCode != 1007 {
		t.Errorf("second sign-up: %+v, want errCode 1007", r)
	}
	if r := login(`{"userID":"` + u + `","platformID":5}`); r.ErrCode != 0 {
		t.Errorf("sign-in: %+v", r)
	}
}
