package client_test

// Unit tests of the parts that need no server. The tests against a real server (REST, Dial, SendMsg, pushes,
// NewestSeq/PullBySeq, kick, DecodeTips) are in ../server/client_integration_test.go, because starting a server
// in-process needs server/internal packages.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/client"
	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/events"
)

func TestCallEnvelope(t *testing.T) {
	var gotToken, gotOp string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken, gotOp = r.Header.Get("token"), r.Header.Get("operationID")
		switch r.URL.Path {
		case "/api/v3/ok":
			_, _ = w.Write([]byte(`{"errCode":0,"errMsg":"","errDlt":"","data":{"token":"T","expireTimeSeconds":5}}`))
		case "/api/v3/err":
			_, _ = w.Write([]byte(`{"errCode":1004,"errMsg":"user999 does not exist","errDlt":"d"}`))
		default:
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	ctx := client.WithOperationID(context.Background(), "op-1")
	r := &client.REST{BaseURL: srv.URL + "/api/v3/", Token: "tok"}

	var d api.UserTokenData
	if err := r.Call(ctx, "/ok", map[string]any{"a": 1}, &d); err != nil || d.Token != "T" || d.ExpireTimeSeconds != 5 {
		t.Fatalf("ok: %+v %v", d, err)
	}
	if gotToken != "tok" || gotOp != "op-1" {
		t.Fatalf("headers: token %q operationID %q", gotToken, gotOp)
	}
	err := r.Call(ctx, "/err", json.RawMessage(`{}`), nil)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code != 1004 || ae.Msg != "user999 does not exist" || ae.Dlt != "d" || client.ErrCode(err) != 1004 {
		t.Fatalf("err: %#v", err)
	}
	err = r.Call(ctx, "/proxy", nil, nil)
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusBadGateway || client.ErrCode(err) != 0 {
		t.Fatalf("proxy: %#v", err)
	}
}

func TestDialRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("isMsgResp") != "true" || q.Get("userID") != "u1" || q.Get("platformID") != "5" || q.Get("token") != "t" {
			t.Errorf("query %v", q)
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = c.Write(r.Context(), websocket.MessageText, []byte(`{"errCode":1002,"errMsg":"token expired"}`))
		_ = c.Close(4001, "auth")
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, client.WSOptions{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Token: "t", UserID: "u1", PlatformID: 5})
	if client.ErrCode(err) != 1002 {
		t.Fatalf("Dial: %v, want errCode 1002", err)
	}
	if _, err := client.Dial(ctx, client.WSOptions{URL: "ws://127.0.0.1:1/msg_gateway", LocalAddr: "not-an-ip"}); err == nil {
		t.Fatal("bad LocalAddr accepted")
	}
}

func TestDecodeTipsAndText(t *testing.T) {
	detail, _ := json.Marshal(events.RevokeMsgTips{RevokerUserID: "a", Seq: 3, ConversationID: "single_a_b"})
	content, _ := json.Marshal(events.NotificationElem{Detail: string(detail)})
	tips, err := client.DecodeTips(client.Push{Msg: api.MsgData{ContentType: events.RevokeNotification, Content: string(content)}})
	if rt, ok := tips.(*events.RevokeMsgTips); err != nil || !ok || rt.Seq != 3 || rt.RevokerUserID != "a" {
		t.Fatalf("DecodeTips: %#v %v", tips, err)
	}
	if _, err := client.DecodeTipsMsg(api.MsgData{ContentType: events.ContentText, Content: client.TextContent("x")}); err == nil {
		t.Fatal("text decoded as Tips")
	}
	m := client.TextMsg("a", "b", "héllo")
	if client.Text(m) != "héllo" || m.SessionType != events.SessionSingleChat || m.ClientMsgID == "" {
		t.Fatalf("TextMsg %+v", m)
	}
	if client.Text(api.MsgData{Content: `{"text":"seed"}`}) != "seed" || client.Text(api.MsgData{Content: "plain"}) != "plain" {
		t.Fatal("Text fallbacks")
	}
	if g := client.GroupTextMsg("a", "g1", "x"); g.GroupID != "g1" || g.SessionType != events.SessionGroupChat {
		t.Fatalf("GroupTextMsg %+v", g)
	}
}

// The read loop reuses one buffer for every message: a reply's and a push's data must stay intact after
// later frames were read into it.
func TestFramesOutliveTheReadBuffer(t *testing.T) {
	const reply = `{"reqIdentifier":1003,"msgIncr":"%s","operationID":"op","errCode":0,"errMsg":"","errDlt":"","data":{"serverMsgID":"s1","clientMsgID":"c1","sendTime":1,"seq":7}}`
	push := func(id string) string {
		return `{"reqIdentifier":2001,"msgIncr":"","operationID":"op","errCode":0,"errMsg":"","data":{"sendID":"` + id + `","recvID":"u1","clientMsgID":"` + id + `","contentType":101,"content":"x","seq":1}}`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"errCode":0,"errMsg":""}`))
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			MsgIncr string `json:"msgIncr"`
		}
		_ = json.Unmarshal(b, &req)
		frames := []string{push("AAAA"), strings.Replace(reply, "%s", req.MsgIncr, 1)}
		for range 5 {
			frames = append(frames, push("ZZZZ"))
		}
		frames = append(frames, `{"type":"pong"}`)
		for _, f := range frames {
			if c.Write(ctx, websocket.MessageText, []byte(f)) != nil {
				return
			}
		}
		_, _, _ = c.Read(ctx) // until the client closes
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := client.Dial(ctx, client.WSOptions{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Token: "t", UserID: "u1", PlatformID: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	f, err := ws.Request(ctx, events.ReqSendMsg, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var first client.Push
	for i := range 6 {
		select {
		case p := <-ws.Pushes():
			if i == 0 {
				first = p
			}
		case <-ctx.Done():
			t.Fatal("pushes did not arrive")
		}
	}
	select {
	case o := <-ws.Other(): // read after every frame above
		if o.Type != "pong" {
			t.Fatalf("other frame %+v", o)
		}
	case <-ctx.Done():
		t.Fatal("pong did not arrive")
	}
	if want := `{"serverMsgID":"s1","clientMsgID":"c1","sendTime":1,"seq":7}`; string(f.Data) != want {
		t.Errorf("reply data %s, want %s", f.Data, want)
	}
	if first.Msg.SendID != "AAAA" || !strings.Contains(string(first.Frame.Data), `"sendID":"AAAA"`) {
		t.Errorf("first push %s / %+v", first.Frame.Data, first.Msg)
	}
}
