package server_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/testenv"
)

// The seed's register → token → get_users_info flow, with the seed's own values.
func TestSeedAuthFlow(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	u := testenv.ID("user")
	r := e.Post("/auth/user_register", "", map[string]any{"secret": testenv.Secret, "users": []map[string]string{
		{"userID": u, "nickname": "张三", "faceURL": "https://example.com/avatar.jpg", "ex": "扩展字段"},
	}})
	if r.ErrCode != 0 || r.ErrMsg != "success" || string(r.Data) != "{}" {
		t.Fatalf("register: %s", r.Raw)
	}
	tok := e.Token(u, 1)
	r = e.MustOK("/auth/user_token", "", map[string]any{"secret": testenv.Secret, "userID": u, "platformID": 1})
	var td struct {
		Token             string
		ExpireTimeSeconds int64
	}
	r.Decode(t, &td)
	if td.ExpireTimeSeconds != 604800 || strings.Count(td.Token, ".") != 2 {
		t.Fatalf("token data = %+v", td)
	}
	tok = td.Token
	// Both header forms work.
	for _, hdr := range []string{"token", "Authorization"} {
		req, _ := http.NewRequest("POST", e.URL+"/api/v3/user/get_users_info", strings.NewReader(`{"userIDs":["`+u+`","nobody"]}`))
		if hdr == "token" {
			req.Header.Set("token", tok)
		} else {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s header: status %d", hdr, res.StatusCode)
		}
	}
	r = e.MustOK("/user/get_users_info", tok, map[string]any{"userIDs": []string{u, "nobody"}})
	var gd struct {
		UsersInfo []struct {
			UserID, Nickname, FaceURL, Ex string
			CreateTime                    int64
		} `json:"usersInfo"`
	}
	r.Decode(t, &gd)
	if len(gd.UsersInfo) != 1 || gd.UsersInfo[0].Nickname != "张三" || gd.UsersInfo[0].Ex != "扩展字段" || gd.UsersInfo[0].CreateTime < time.Now().Add(-time.Minute).UnixMilli() {
		t.Fatalf("usersInfo = %+v", gd.UsersInfo)
	}
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	u, tok := e.User("u")
	other, _ := e.User("o")
	admin := e.AdminToken()
	parts := strings.Split(tok, ".")
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	for _, c := range []struct {
		name, path, token string
		body              any
		code              int
		msg               string
	}{
		{"missing token", "/user/get_users_info", "", `{"userIDs":["x"]}`, 1002, "no token"},
		{"garbage token", "/user/get_users_info", "abc", `{"userIDs":["x"]}`, 1002, "not valid"},
		{"forged token", "/user/get_users_info", parts[0] + "." + parts[1] + ".AAAA", `{"userIDs":["x"]}`, 1002, "not valid"},
		{"alg none", "/user/get_users_info", algNone, `{"userIDs":["x"]}`, 1002, "not valid"},
		{"malformed json", "/user/get_users_info", tok, `{"userIDs":`, 1001, "JSON"},
		{"wrong type", "/user/get_users_info", tok, `{"userIDs":"x"}`, 1001, "userIDs"},
		{"missing field", "/user/get_users_info", tok, `{}`, 1001, "userIDs"},
		{"missing nested field", "/auth/user_register", "", `{"secret":"` + testenv.Secret + `","users":[{"nickname":"x"}]}`, 1001, "userID"},
		{"bad enum", "/auth/user_token", "", `{"secret":"` + testenv.Secret + `","userID":"` + u + `","platformID":99}`, 1001, "platformID"},
		{"wrong secret register", "/auth/user_register", "", `{"secret":"nope","users":[{"userID":"zz"}]}`, 1003, "secret"},
		{"wrong secret token", "/auth/user_token", "", `{"secret":"nope","userID":"` + u + `","platformID":1}`, 1003, "secret"},
		{"duplicate register", "/auth/user_register", "", `{"secret":"` + testenv.Secret + `","users":[{"userID":"` + u + `"}]}`, 1007, u},
		{"NUL in a string", "/auth/user_register", "", `{"secret":"` + testenv.Secret + `","users":[{"userID":"nul\u0000x"}]}`, 1001, "NUL"},
		{"duplicate in batch", "/auth/user_register", "", `{"secret":"` + testenv.Secret + `","users":[{"userID":"dd1"},{"userID":"dd1"}]}`, 1001, "dd1"},
		{"token of unknown user", "/auth/user_token", "", `{"secret":"` + testenv.Secret + `","userID":"ghost` + u + `","platformID":1}`, 1004, "ghost"},
		{"update other user", "/user/update_user_info", tok, `{"userInfo":{"userID":"` + other + `","nickname":"x"}}`, 1003, other},
		{"update unknown user (admin)", "/user/update_user_info", admin, `{"userInfo":{"userID":"ghost` + u + `","nickname":"x"}}`, 1004, "ghost"},
		{"non-admin manager call", "/manager/forbid_user", tok, `{"userID":"` + other + `","forbiddenType":1,"reason":"x"}`, 1003, "admin"},
		{"forbid unknown", "/manager/forbid_user", admin, `{"userID":"ghost` + u + `","forbiddenType":1,"reason":"x"}`, 1004, "ghost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Post(c.path, c.token, c.body)
			if r.ErrCode != c.code || !strings.Contains(r.ErrMsg, c.msg) || r.Status != 200 {
				t.Fatalf("got status %d errCode %d errMsg %q; want errCode %d with %q", r.Status, r.ErrCode, r.ErrMsg, c.code, c.msg)
			}
		})
	}
	// The failed batch registered nothing.
	if r := e.Post("/auth/user_token", "", map[string]any{"secret": testenv.Secret, "userID": "dd1", "platformID": 1}); r.ErrCode != 1004 {
		t.Fatalf("duplicate batch left dd1 registered: %s", r.Raw)
	}
}

func TestExpiredToken(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t, func(c *config.Config) { c.TokenTTL = time.Second })
	_, tok := e.User("u")
	time.Sleep(2100 * time.Millisecond) // JWT expiry has one-second resolution
	if r := e.Post("/user/get_users_info", tok, map[string]any{"userIDs": []string{"x"}}); r.ErrCode != 1002 || !strings.Contains(r.ErrMsg, "expired") {
		t.Fatalf("expired token: %s", r.Raw)
	}
}

func TestUpdateUserInfo(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	u, tok := e.User("u")
	e.MustOK("/user/update_user_info", tok, map[string]any{"userInfo": map[string]any{"userID": u, "nickname": "新昵称", "faceURL": "https://example.com/new_avatar.jpg"}})
	// Admins may update anyone; empty fields stay as they were.
	e.MustOK("/user/update_user_info", e.AdminToken(), map[string]any{"userInfo": map[string]any{"userID": u, "ex": "新的扩展字段"}})
	var d struct {
		UsersInfo []struct{ Nickname, FaceURL, Ex string }
	}
	e.MustOK("/user/get_users_info", tok, map[string]any{"userIDs": []string{u}}).Decode(t, &d)
	if got := d.UsersInfo[0]; got.Nickname != "新昵称" || got.FaceURL != "https://example.com/new_avatar.jpg" || got.Ex != "新的扩展字段" {
		t.Fatalf("after update: %+v", got)
	}
}

func TestForbidUser(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	u, tok := e.User("u")
	ws := e.Dial(u, tok, 1)
	admin := e.AdminToken()
	e.MustOK("/manager/forbid_user", admin, map[string]any{"userID": u, "forbiddenType": 1, "reason": "违规行为"})
	if r := e.Post("/user/get_users_info", tok, map[string]any{"userIDs": []string{u}}); r.ErrCode != 1002 || !strings.Contains(r.ErrMsg, "forbidden") {
		t.Fatalf("forbidden user's token still works: %s", r.Raw)
	}
	if r := e.Post("/auth/user_token", "", map[string]any{"secret": testenv.Secret, "userID": u, "platformID": 1}); r.ErrCode != 1008 {
		t.Fatalf("forbidden user got a token: %s", r.Raw)
	}
	ws.Await(5*time.Second, "kick of forbidden user", func(f testenv.Frame) bool { return f.ReqIdentifier == 2002 })
	if _, err := e.TryDial(u, tok, 1); err == nil {
		t.Fatal("forbidden user could connect")
	}
	e.MustOK("/manager/unforbid_user", admin, map[string]any{"userID": u})
	tok2 := e.Token(u, 1)
	e.MustOK("/user/get_users_info", tok2, map[string]any{"userIDs": []string{u}})
}

func TestOnlineStatusAndRelogin(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	u, tok := e.User("u")
	off, _ := e.User("o")
	admin := e.AdminToken()
	status := func() map[string][]int {
		var d struct {
			StatusList []struct {
				UserID               string
				Status               int
				DetailPlatformStatus []struct{ PlatformID int }
			}
		}
		e.MustOK("/manager/get_users_online_status", admin, map[string]any{"userIDs": []string{u, off}}).Decode(t, &d)
		out := map[string][]int{}
		for _, s := range d.StatusList {
			out[s.UserID] = []int{s.Status}
			for _, p := range s.DetailPlatformStatus {
				out[s.UserID] = append(out[s.UserID], p.PlatformID)
			}
		}
		return out
	}
	if st := status(); st[u][0] != 0 || st[off][0] != 0 {
		t.Fatalf("before connecting: %v", st)
	}
	first := e.Dial(u, tok, 1)
	e.Dial(u, e.Token(u, 5), 5)
	if st := status(); st[u][0] != 1 || len(st[u]) != 3 || st[off][0] != 0 {
		t.Fatalf("online on 1 and 5: %v", st)
	}
	// A new login on platform 1 retires the old token and kicks its connection.
	tok1b := e.Token(u, 1)
	first.Await(5*time.Second, "kick", func(f testenv.Frame) bool { return f.ReqIdentifier == 2002 })
	if r := e.Post("/user/get_users_info", tok, map[string]any{"userIDs": []string{u}}); r.ErrCode != 1002 {
		t.Fatalf("replaced token still works: %s", r.Raw)
	}
	e.Dial(u, tok1b, 1)
	if r := e.Post("/manager/get_users_online_status", tok1b, map[string]any{"userIDs": []string{u}}); r.ErrCode != 1003 {
		t.Fatalf("non-admin online status: %s", r.Raw)
	}
}
