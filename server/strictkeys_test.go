package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/testenv"
)

// Issue 13 High 1: the gate validated keys exactly while the handler's encoding/json matched them
// case-insensitively (last wins), so a case variant or a repeat carried a value no limit had checked.
// Each body below was acted on before (a 100,000-message history, a platform-99 token, recvMsgOpt 99 stored)
// and is now 1001 naming the field.
func TestStrictKeysREST(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, _ := e.User("b")
	sendREST(t, e, aTok, a, b, "one", "")
	sendREST(t, e, aTok, a, b, "two", "")
	conv := chat.SingleConversationID(a, b)
	for _, c := range []struct {
		name, path, token, body, msg string
	}{
		{"case-variant count", "/msg/get_conversation_msg", aTok,
			`{"conversationID":"` + conv + `","count":1,"COUNT":100000}`, `fields "count" and "COUNT" differ only in case`},
		{"repeated count", "/msg/get_conversation_msg", aTok,
			`{"conversationID":"` + conv + `","count":1,"count":100000}`, `field "count": the key appears more than once`},
		{"case variant alone", "/msg/get_conversation_msg", aTok,
			`{"conversationID":"` + conv + `","Count":100000}`, "did you mean count?"},
		{"case-variant userIDs", "/user/get_users_info", aTok,
			`{"userIDs":["` + a + `"],"UserIDs":["` + a + `","` + b + `"]}`, "differ only in case"},
		{"case-variant platformID", "/auth/user_token", "",
			`{"secret":"` + testenv.Secret + `","userID":"` + a + `","platformID":1,"PlatformID":99}`, "differ only in case"},
		{"unicode-folded secret", "/auth/user_token", "",
			`{"secret":"wrong","userID":"` + a + `","platformID":1,"ſecret":"` + testenv.Secret + `"}`, "differ only in case"},
		{"nested case variant", "/conversation/set_conversations", aTok,
			`{"userIDs":["` + a + `"],"conversation":{"conversationID":"` + conv + `","recvMsgOpt":0,"RecvMsgOpt":99}}`, `"conversation.recvMsgOpt" and "conversation.RecvMsgOpt"`},
		{"out-of-range value alone", "/conversation/set_conversations", aTok,
			`{"userIDs":["` + a + `"],"conversation":{"conversationID":"` + conv + `","burnDuration":-5}}`, "burnDuration"},
		{"number the handler cannot hold", "/msg/get_conversation_msg", aTok,
			`{"conversationID":"` + conv + `","count":1e2}`, `field "count"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Post(c.path, c.token, c.body)
			if r.ErrCode != 1001 || !strings.Contains(r.ErrMsg, c.msg) {
				t.Fatalf("got errCode %d %q; want 1001 with %q (data %s)", r.ErrCode, r.ErrMsg, c.msg, r.Data)
			}
			for _, leak := range []string{"Go struct", "Go value", "int32", "int64", "api."} {
				if strings.Contains(r.ErrMsg, leak) {
					t.Fatalf("errMsg %q names a Go type (%q)", r.ErrMsg, leak)
				}
			}
		})
	}
}

// The same rule for WebSocket frames and their data: the frame envelope, 1002's seqRanges and 1003's
// MsgData. Before, NUM reached the pull and RecvID redirected the message.
func TestStrictKeysWS(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, _ := e.User("b")
	c, _ := e.User("c")
	sendREST(t, e, aTok, a, b, "one", "")
	conv := chat.SingleConversationID(a, b)
	ws := e.Dial(a, aTok, 1)
	frame := func(req int, extra, data string) []byte {
		return []byte(fmt.Sprintf(`{"reqIdentifier":%d,"sendID":"%s","operationID":"op","msgIncr":"m1"%s,"data":%s}`, req, a, extra, data))
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		msg  string
	}{
		{"case-variant msgIncr", frame(1001, `,"MSGINCR":"m2"`, `{"userID":"`+a+`"}`), "differ only in case"},
		{"case-variant reqIdentifier", frame(1001, `,"ReqIdentifier":1003`, `{"userID":"`+a+`"}`), "differ only in case"},
		{"repeated data", frame(1001, ``, `{"userID":"`+a+`","userID":"`+b+`"}`), "more than once"},
		{"case-variant num", frame(1002, ``, `{"userID":"`+a+`","seqRanges":[{"conversationID":"`+conv+`","begin":1,"end":9,"num":1,"NUM":100000}]}`), "differ only in case"},
		{"case-variant recvID", frame(1003, ``, `{"sendID":"`+a+`","recvID":"`+b+`","RecvID":"`+c+`","sessionType":1,"contentType":101,"content":"{\"content\":\"x\"}"}`), "differ only in case"},
		{"case variant alone", frame(1003, ``, `{"sendID":"`+a+`","RECVID":"`+c+`","sessionType":1,"contentType":101,"content":"{\"content\":\"x\"}"}`), "did you mean recvID?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws.WriteRaw(tc.raw)
			f := ws.Await(wait, "reply", func(f testenv.Frame) bool { return f.MsgIncr == "m1" || f.MsgIncr == "m2" })
			if f.ErrCode != 1001 || !strings.Contains(f.ErrMsg, tc.msg) {
				t.Fatalf("got errCode %d %q; want 1001 with %q (data %s)", f.ErrCode, f.ErrMsg, tc.msg, f.Data)
			}
		})
	}
	// Nothing reached c.
	r := e.MustOK("/msg/get_conversation_msg", e.Token(c, 1), map[string]any{"conversationID": chat.SingleConversationID(a, c), "count": 10})
	var h struct{ Messages []json.RawMessage }
	r.Decode(t, &h)
	if len(h.Messages) != 0 {
		t.Fatalf("a message reached %s: %s", c, r.Data)
	}
}
