package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/testenv"
)

const wait = 30 * time.Second // generous: a loaded machine is slow, never failing

func textContent(s string) map[string]any { return map[string]any{"content": s} }

func sendREST(t *testing.T, e *testenv.Env, tok, from, to, text, clientMsgID string) (seq int64, serverMsgID string) {
	t.Helper()
	var d struct {
		Seq         int64
		ServerMsgID string
		ClientMsgID string
		SendTime    int64
	}
	e.MustOK("/msg/send_msg", tok, map[string]any{"sendID": from, "recvID": to, "content": textContent(text), "contentType": 101, "sessionType": 1, "clientMsgID": clientMsgID}).Decode(t, &d)
	if d.ServerMsgID == "" || d.SendTime == 0 || d.Seq == 0 {
		t.Fatalf("send reply incomplete: %+v", d)
	}
	return d.Seq, d.ServerMsgID
}

func TestSendAndPush(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	conv := chat.SingleConversationID(a, b)
	bWS := e.Dial(b, bTok, 1)
	aWeb := e.Dial(a, e.Token(a, 5), 5) // a's second device
	aPhone := e.Dial(a, aTok, 1)

	// REST send: the receiver and both of the sender's devices get the push.
	seq, _ := sendREST(t, e, aTok, a, b, "hello", "")
	if seq != 1 {
		t.Fatalf("first seq = %d", seq)
	}
	for _, ws := range []*testenv.WS{bWS, aWeb, aPhone} {
		p := ws.AwaitPush(wait, "REST message", func(p testenv.Push) bool { return p.Seq == 1 })
		if p.SendID != a || p.RecvID != b || p.ContentType != 101 || p.ConversationID != conv || !strings.Contains(p.Content, "hello") {
			t.Fatalf("push to %s = %+v", ws.UserID, p)
		}
	}

	// WS 1003 send: ack with seq 2; the peer and the sender's other device get it, the sending one only the ack.
	reply := aPhone.Call(1003, map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 101, "content": `{"content":"over ws"}`, "clientMsgID": testenv.ID("c")})
	var ack struct {
		Seq         int64
		ServerMsgID string
	}
	if reply.ErrCode != 0 || json.Unmarshal(reply.Data, &ack) != nil || ack.Seq != 2 || ack.ServerMsgID == "" {
		t.Fatalf("1003 reply: %+v %s", reply, reply.Data)
	}
	bWS.AwaitPush(wait, "WS message", func(p testenv.Push) bool { return p.Seq == 2 && strings.Contains(p.Content, "over ws") })
	aWeb.AwaitPush(wait, "WS message on sender's other device", func(p testenv.Push) bool { return p.Seq == 2 })
	aPhone.NoPush(300*time.Millisecond, "own message echoed to the sending connection", func(p testenv.Push) bool { return p.Seq == 2 })

	// The seed's text shape {"text": ...} is accepted and gains OpenIM's "content" key.
	e.MustOK("/msg/send_msg", aTok, map[string]any{"sendID": a, "recvID": b, "content": map[string]any{"text": "你好"}, "contentType": 101, "sessionType": 1})
	p := bWS.AwaitPush(wait, "seed-shaped text", func(p testenv.Push) bool { return p.Seq == 3 })
	var c map[string]string
	if json.Unmarshal([]byte(p.Content), &c) != nil || c["content"] != "你好" || c["text"] != "你好" {
		t.Fatalf("content = %s", p.Content)
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, _ := e.User("b")
	for _, c := range []struct {
		name string
		body map[string]any
		code int
		msg  string
	}{
		{"as someone else", map[string]any{"sendID": b, "recvID": a, "content": textContent("x"), "contentType": 101, "sessionType": 1}, 1003, b},
		{"unknown recipient", map[string]any{"sendID": a, "recvID": "ghost" + a, "content": textContent("x"), "contentType": 101, "sessionType": 1}, 1004, "ghost"},
		{"unknown group", map[string]any{"sendID": a, "groupID": "nogroup" + a, "content": textContent("x"), "contentType": 101, "sessionType": 3}, 1005, "nogroup"},
		{"no recvID", map[string]any{"sendID": a, "content": textContent("x"), "contentType": 101, "sessionType": 1}, 1001, "recvID"},
		{"notification content type", map[string]any{"sendID": a, "recvID": b, "content": textContent("x"), "contentType": 1201, "sessionType": 1}, 1001, "contentType"}, // the spec lists the sendable types
		{"missing content", map[string]any{"sendID": a, "recvID": b, "contentType": 101, "sessionType": 1}, 1001, "content"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := e.Post("/msg/send_msg", aTok, c.body); r.ErrCode != c.code || !strings.Contains(r.ErrMsg, c.msg) {
				t.Fatalf("got %d %q, want %d with %q", r.ErrCode, r.ErrMsg, c.code, c.msg)
			}
		})
	}
}

func TestOfflineGapFill(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	conv := chat.SingleConversationID(a, b)
	sendREST(t, e, aTok, a, b, "m1", "")
	bWS := e.Dial(b, bTok, 1)
	bWS.Conn.CloseNow() // b goes offline having seen seq 1
	for i := 2; i <= 4; i++ {
		sendREST(t, e, aTok, a, b, fmt.Sprintf("m%d", i), "")
	}
	bWS = e.Dial(b, bTok, 1)
	var seqs struct{ MaxSeqs, MinSeqs map[string]int64 }
	r := bWS.Call(1001, map[string]any{"userID": b})
	if r.ErrCode != 0 || json.Unmarshal(r.Data, &seqs) != nil {
		t.Fatalf("1001: %+v", r)
	}
	if seqs.MaxSeqs[conv] != 4 {
		t.Fatalf("maxSeqs = %v", seqs.MaxSeqs)
	}
	if _, ok := seqs.MaxSeqs[chat.NotificationConversationID(b)]; !ok {
		t.Fatalf("notification conversation missing from %v", seqs.MaxSeqs)
	}
	r = bWS.Call(1002, map[string]any{"userID": b, "seqRanges": []map[string]any{{"conversationID": conv, "begin": 2, "end": seqs.MaxSeqs[conv], "num": 100}}})
	var pulled struct {
		Msgs map[string]struct {
			Msgs   []testenv.Push `json:"Msgs"`
			IsEnd  bool
			EndSeq int64
		}
	}
	if r.ErrCode != 0 || json.Unmarshal(r.Data, &pulled) != nil {
		t.Fatalf("1002: %+v %s", r, r.Data)
	}
	got := pulled.Msgs[conv]
	if len(got.Msgs) != 3 || !got.IsEnd || got.EndSeq != 4 {
		t.Fatalf("pulled %+v", got)
	}
	for i, m := range got.Msgs {
		if m.Seq != int64(i+2) || !strings.Contains(m.Content, fmt.Sprintf("m%d", i+2)) {
			t.Fatalf("pulled[%d] = %+v", i, m)
		}
	}
	// A stranger cannot pull the conversation.
	c, cTok := e.User("c")
	cWS := e.Dial(c, cTok, 1)
	if r := cWS.Call(1002, map[string]any{"seqRanges": []map[string]any{{"conversationID": conv, "begin": 1, "end": 4, "num": 10}}}); r.ErrCode != 1003 {
		t.Fatalf("stranger pull: %+v", r)
	}
	// History over REST, newest first, with an end marker.
	var h struct {
		Messages []testenv.Push
		IsEnd    bool
	}
	e.MustOK("/msg/get_conversation_msg", bTok, map[string]any{"conversationID": conv, "startClientMsgID": "", "count": 2}).Decode(t, &h)
	if len(h.Messages) != 2 || h.Messages[0].Seq != 4 || h.Messages[1].Seq != 3 || h.IsEnd {
		t.Fatalf("history page 1: %+v", h)
	}
	e.MustOK("/msg/get_conversation_msg", bTok, map[string]any{"conversationID": conv, "startClientMsgID": h.Messages[1].ClientMsgID, "count": 5}).Decode(t, &h)
	if len(h.Messages) != 2 || h.Messages[0].Seq != 2 || h.Messages[1].Seq != 1 || !h.IsEnd {
		t.Fatalf("history page 2: %+v", h)
	}
	if r := e.Post("/msg/get_conversation_msg", cTok, map[string]any{"conversationID": conv, "count": 5}); r.ErrCode != 1003 {
		t.Fatalf("stranger history: %s", r.Raw)
	}
}

func TestIdempotentSend(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	cid := testenv.ID("client")
	s1, id1 := sendREST(t, e, aTok, a, b, "once", cid)
	s2, id2 := sendREST(t, e, aTok, a, b, "once", cid)
	if s1 != s2 || id1 != id2 {
		t.Fatalf("resend gave a new message: seq %d/%d id %s/%s", s1, s2, id1, id2)
	}
	ws := e.Dial(a, aTok, 1)
	r := ws.Call(1003, map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 101, "content": `{"content":"once"}`, "clientMsgID": cid})
	var ack struct{ Seq int64 }
	_ = json.Unmarshal(r.Data, &ack)
	if ack.Seq != s1 {
		t.Fatalf("WS resend seq %d, want %d", ack.Seq, s1)
	}
	var h struct{ Messages []testenv.Push }
	e.MustOK("/msg/get_conversation_msg", bTok, map[string]any{"conversationID": chat.SingleConversationID(a, b), "count": 10}).Decode(t, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("history has %d messages, want 1", len(h.Messages))
	}
}

func TestTypingIsOnlineOnly(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	aWS, bWS := e.Dial(a, aTok, 1), e.Dial(b, bTok, 1)
	r := aWS.Call(1003, map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 113, "content": `{"msgTips":"typing"}`})
	if r.ErrCode != 0 {
		t.Fatalf("typing: %+v", r)
	}
	p := bWS.AwaitPush(wait, "typing", func(p testenv.Push) bool { return p.ContentType == 113 })
	if p.Seq != 0 {
		t.Fatalf("typing got seq %d", p.Seq)
	}
	var h struct{ Messages []testenv.Push }
	e.MustOK("/msg/get_conversation_msg", bTok, map[string]any{"conversationID": chat.SingleConversationID(a, b), "count": 10}).Decode(t, &h)
	if len(h.Messages) != 0 {
		t.Fatalf("typing stored: %+v", h.Messages)
	}
}

func TestRevokeAndReadReceipt(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, cTok := e.User("c")
	conv := chat.SingleConversationID(a, b)
	aWS, bWS, cWS := e.Dial(a, aTok, 1), e.Dial(b, bTok, 1), e.Dial(c, cTok, 1)
	seq, _ := sendREST(t, e, aTok, a, b, "oops", "")
	sendREST(t, e, aTok, a, b, "keep", "")

	if r := e.Post("/msg/revoke_msg", bTok, map[string]any{"conversationID": conv, "seq": seq, "userID": b}); r.ErrCode != 1003 {
		t.Fatalf("revoke someone else's message: %s", r.Raw)
	}
	e.MustOK("/msg/revoke_msg", aTok, map[string]any{"conversationID": conv, "seq": seq, "userID": a})
	for _, ws := range []*testenv.WS{aWS, bWS} {
		p := ws.AwaitPush(wait, "2101", func(p testenv.Push) bool { return p.ContentType == 2101 })
		var n struct{ Detail string }
		var tips chat.RevokeMsgTips
		if json.Unmarshal([]byte(p.Content), &n) != nil || json.Unmarshal([]byte(n.Detail), &tips) != nil || tips.Seq != seq || tips.RevokerUserID != a || tips.ConversationID != conv {
			t.Fatalf("2101 to %s: %+v", ws.UserID, p)
		}
	}
	if r := e.Post("/msg/revoke_msg", aTok, map[string]any{"conversationID": conv, "seq": seq, "userID": a}); r.ErrCode != 1301 {
		t.Fatalf("second revoke: %s", r.Raw)
	}
	if r := e.Post("/msg/revoke_msg", aTok, map[string]any{"conversationID": conv, "seq": 99, "userID": a}); r.ErrCode != 1006 {
		t.Fatalf("revoke missing message: %s", r.Raw)
	}

	e.MustOK("/msg/mark_msgs_as_read", bTok, map[string]any{"conversationID": conv, "seqs": []int64{2}, "userID": b})
	p := aWS.AwaitPush(wait, "2200 to the sender", func(p testenv.Push) bool { return p.ContentType == 2200 })
	var n struct{ Detail string }
	var tips chat.MarkAsReadTips
	if json.Unmarshal([]byte(p.Content), &n) != nil || json.Unmarshal([]byte(n.Detail), &tips) != nil || tips.MarkAsReadUserID != b || tips.HasReadSeq != 2 {
		t.Fatalf("2200: %+v", p)
	}
	cWS.NoPush(300*time.Millisecond, "events of a conversation c is not in", func(testenv.Push) bool { return true })
	if r := e.Post("/msg/mark_msgs_as_read", bTok, map[string]any{"conversationID": conv, "seqs": []int64{50}, "userID": b}); r.ErrCode != 1001 {
		t.Fatalf("read beyond max seq: %s", r.Raw)
	}
}

func TestFrameRules(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, _ := e.User("b")
	ws := e.Dial(a, aTok, 1)
	ws.WriteRaw([]byte(`{"reqIdentifier":1001,"sendID":"` + b + `","operationID":"x","msgIncr":"7","data":{}}`))
	f := ws.Await(wait, "sendID mismatch reply", func(f testenv.Frame) bool { return f.MsgIncr == "7" })
	if f.ErrCode != 1003 {
		t.Fatalf("sendID mismatch: %+v", f)
	}
	ws.WriteRaw([]byte(`{"type":"ping"}`))
	ws.Await(wait, "pong", func(f testenv.Frame) bool { return f.Type == "pong" })
	big := `{"reqIdentifier":1003,"sendID":"` + a + `","msgIncr":"9","data":{"content":"` + strings.Repeat("x", 60000) + `"}}`
	// The server closes as soon as it has read the header, so the rest of the frame may meet a closed
	// socket: a reset of this write is the server refusing too, as long as the close frame was sent.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	werr := ws.Conn.Write(ctx, websocket.MessageText, []byte(big))
	cancel()
	select {
	case ce := <-ws.Closed:
		if ce.Code != 1009 {
			t.Fatalf("oversize frame closed with %d (write: %v), want 1009", ce.Code, werr)
		}
	case <-time.After(wait):
		if werr == nil {
			t.Fatal("oversize frame did not close the connection")
		}
	}
}

func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	e1 := testenv.Start(t)
	e2 := testenv.StartWithDSN(t, e1.DSN)
	a, aTok := e1.User("a")
	b, bTok := e1.User("b")
	aWS := e1.Dial(a, aTok, 1)
	bWS := e2.Dial(b, bTok, 1)
	sendREST(t, e1, aTok, a, b, "from process 1", "")
	bWS.AwaitPush(wait, "cross-process push 1→2", func(p testenv.Push) bool { return strings.Contains(p.Content, "from process 1") })
	r := bWS.Call(1003, map[string]any{"sendID": b, "recvID": a, "sessionType": 1, "contentType": 101, "content": `{"content":"from process 2"}`})
	if r.ErrCode != 0 {
		t.Fatalf("send on process 2: %+v", r)
	}
	aWS.AwaitPush(wait, "cross-process push 2→1", func(p testenv.Push) bool { return strings.Contains(p.Content, "from process 2") && p.Seq == 2 })
	// Typing (never stored) crosses processes too, and so does a kick.
	bWS.Call(1003, map[string]any{"sendID": b, "recvID": a, "sessionType": 1, "contentType": 113, "content": `{"msgTips":"..."}`})
	aWS.AwaitPush(wait, "cross-process typing", func(p testenv.Push) bool { return p.ContentType == 113 })
	e1.Token(b, 1) // re-login of b on platform 1, via process 1
	bWS.Await(wait, "cross-process kick", func(f testenv.Frame) bool { return f.ReqIdentifier == 2002 })
}
