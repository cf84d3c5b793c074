package server_test

// The OpenIM SDK profile over the WebSocket, spoken by a Go client with the same protobuf types the SDK uses
// (github.com/openimsdk/protocol/sdkws and gen/openim): binary frames, base64 protobuf data, the SDK's
// conversation IDs, 1005/1006, the sender's own push after the ack, and the SDK's kick and token codes.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openimsdk/protocol/sdkws"
	"google.golang.org/protobuf/proto"

	"github.com/imspec/imserver/gen/openim/msgpb"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/testenv"
)

// sdkFrame is a frame of the SDK profile as the client received it.
type sdkFrame struct {
	Binary        bool
	ReqIdentifier int    `json:"reqIdentifier"`
	MsgIncr       string `json:"msgIncr"`
	OperationID   string `json:"operationID"`
	ErrCode       int    `json:"errCode"`
	ErrMsg        string `json:"errMsg"`
	Data          []byte `json:"data"` // base64 in the JSON
}

type sdkClient struct {
	t      *testing.T
	conn   *websocket.Conn
	userID string
	frames chan sdkFrame
	closed chan websocket.StatusCode
	mu     sync.Mutex
	incr   int
}

// sdkDialURL is the URL the OpenIM JS SDK opens.
func sdkDialURL(e *testenv.Env, userID, token string, platformID int) string {
	q := url.Values{"sendID": {userID}, "token": {token}, "platformID": {fmt.Sprint(platformID)},
		"operationID": {testenv.ID("op")}, "isBackground": {"false"}, "isMsgResp": {"true"}, "sdkType": {"js"}}
	return e.WSURL + "?" + q.Encode()
}

// sdkTryDial opens an SDK-profile connection and returns the text connect ack.
func sdkTryDial(t *testing.T, e *testenv.Env, userID, token string, platformID int) (*sdkClient, sdkFrame) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, sdkDialURL(e, userID, token, platformID), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", userID, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(1 << 20)
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("%s: read ack: %v", userID, err)
	}
	var ack sdkFrame
	if typ != websocket.MessageText || json.Unmarshal(b, &ack) != nil {
		t.Fatalf("%s: connect ack is not a JSON text frame: %v %s", userID, typ, b)
	}
	s := &sdkClient{t: t, conn: c, userID: userID, frames: make(chan sdkFrame, 1000), closed: make(chan websocket.StatusCode, 1)}
	if ack.ErrCode == 0 {
		go s.readLoop()
	}
	return s, ack
}

func sdkDial(t *testing.T, e *testenv.Env, userID, token string, platformID int) *sdkClient {
	t.Helper()
	s, ack := sdkTryDial(t, e, userID, token, platformID)
	if ack.ErrCode != 0 {
		t.Fatalf("%s: connect refused: %d %s", userID, ack.ErrCode, ack.ErrMsg)
	}
	return s
}

func (s *sdkClient) readLoop() {
	defer close(s.frames)
	for {
		typ, b, err := s.conn.Read(context.Background())
		if err != nil {
			s.closed <- websocket.CloseStatus(err)
			return
		}
		var f sdkFrame
		if err := json.Unmarshal(b, &f); err != nil {
			f.ErrMsg = "undecodable frame: " + string(b)
		}
		f.Binary = typ == websocket.MessageBinary
		s.frames <- f
	}
}

// send writes a request the way the SDK does: a binary frame of JSON whose data is base64 protobuf.
func (s *sdkClient) send(reqIdentifier int, m proto.Message) string {
	s.t.Helper()
	s.mu.Lock()
	s.incr++
	incr := fmt.Sprint(s.incr)
	s.mu.Unlock()
	data, err := proto.Marshal(m)
	if err != nil {
		s.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"reqIdentifier": reqIdentifier, "sendID": s.userID, "operationID": testenv.ID("op"), "msgIncr": incr, "data": data})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		s.t.Fatalf("write: %v", err)
	}
	return incr
}

// next returns the next frame, failing the test when none comes.
func (s *sdkClient) next(what string) sdkFrame {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			s.t.Fatalf("%s: connection ended before %s", s.userID, what)
		}
		if !f.Binary {
			s.t.Fatalf("%s: %s came as a text frame; the SDK reads every frame after the ack as binary", s.userID, what)
		}
		return f
	case <-time.After(30 * time.Second):
		s.t.Fatalf("%s: nothing received for %s", s.userID, what)
	}
	return sdkFrame{}
}

// call sends a request, waits for its reply (skipping pushes) and decodes its data into out.
func (s *sdkClient) call(reqIdentifier int, req, out proto.Message) sdkFrame {
	s.t.Helper()
	incr := s.send(reqIdentifier, req)
	for {
		f := s.next(fmt.Sprintf("the reply to %d", reqIdentifier))
		if f.MsgIncr != incr {
			continue
		}
		if f.ReqIdentifier != reqIdentifier {
			s.t.Fatalf("reply to %d has reqIdentifier %d", reqIdentifier, f.ReqIdentifier)
		}
		if f.ErrCode == 0 && out != nil {
			if err := proto.Unmarshal(f.Data, out); err != nil {
				s.t.Fatalf("reply to %d: data is not a %T: %v", reqIdentifier, out, err)
			}
		}
		return f
	}
}

// awaitPush waits for a 2001 push whose PushMessages satisfies pred.
func (s *sdkClient) awaitPush(what string, pred func(*sdkws.PushMessages) bool) *sdkws.PushMessages {
	s.t.Helper()
	for {
		f := s.next(what)
		if f.ReqIdentifier != 2001 {
			continue
		}
		var p sdkws.PushMessages
		if err := proto.Unmarshal(f.Data, &p); err != nil {
			s.t.Fatalf("%s: 2001 data is not PushMessages: %v", s.userID, err)
		}
		if pred(&p) {
			return &p
		}
	}
}

func sdkSingle(a, b string) string { return "si_" + strings.TrimPrefix(singleConv(a, b), "single_") }

func textMsg(from, to, clientMsgID, text string) *sdkws.MsgData {
	return &sdkws.MsgData{SendID: from, RecvID: to, ClientMsgID: clientMsgID, SenderPlatformID: 5, SessionType: 1,
		MsgFrom: 100, ContentType: 101, Content: []byte(`{"content":"` + text + `"}`), CreateTime: time.Now().UnixMilli()}
}

func TestSDKProfileMessaging(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	alice, _ := e.User("alice")
	bob, bobTok := e.User("bob")
	aliceWeb := e.Token(alice, 5)
	a := sdkDial(t, e, alice, aliceWeb, 5)
	b := sdkDial(t, e, bob, e.Token(bob, 5), 5)
	bJSON := e.Dial(bob, bobTok, 1) // bob's JSON-profile device: its frames stay as documented
	conv := sdkSingle(alice, bob)

	// 1006 first, as the SDK does: every conversation of the user in the SDK's ID form.
	var seqs msgpb.GetConversationsHasReadAndMaxSeqResp
	if f := a.call(1006, &msgpb.GetConversationsHasReadAndMaxSeqReq{UserID: alice}, &seqs); f.ErrCode != 0 {
		t.Fatalf("1006: %d %s", f.ErrCode, f.ErrMsg)
	}
	if _, ok := seqs.Seqs["n_"+alice]; !ok {
		t.Fatalf("1006 before any message: %v, want the notification conversation n_%s", seqs.Seqs, alice)
	}

	// 1003: a protobuf UserSendMsgResp, then the sender's own 2001 push carrying the seq.
	cid := testenv.ID("c")
	var ack sdkws.UserSendMsgResp
	if f := a.call(1003, textMsg(alice, bob, cid, "hello sdk"), &ack); f.ErrCode != 0 {
		t.Fatalf("1003: %d %s", f.ErrCode, f.ErrMsg)
	}
	if ack.ClientMsgID != cid || ack.ServerMsgID == "" || ack.SendTime == 0 {
		t.Fatalf("1003 reply: %+v", &ack)
	}
	own := a.next("the sender's own push")
	if own.ReqIdentifier != 2001 {
		t.Fatalf("after the ack the sender got %d, want its own 2001 push", own.ReqIdentifier)
	}
	var ownPush sdkws.PushMessages
	if err := proto.Unmarshal(own.Data, &ownPush); err != nil {
		t.Fatal(err)
	}
	pm := ownPush.Msgs[conv]
	if pm == nil || len(pm.Msgs) != 1 || pm.Msgs[0].ClientMsgID != cid || pm.Msgs[0].Seq < 1 {
		t.Fatalf("own push: %v, want msgs[%s] with the message and its seq", &ownPush, conv)
	}
	seq := pm.Msgs[0].Seq

	// The peer's SDK connection: PushMessages under si_; its JSON connection: the documented frame.
	got := b.awaitPush("alice's message", func(p *sdkws.PushMessages) bool { return p.Msgs[conv] != nil })
	m := got.Msgs[conv].Msgs[0]
	if m.ClientMsgID != cid || m.Seq != seq || string(m.Content) != `{"content":"hello sdk"}` || m.SendID != alice {
		t.Fatalf("peer push: %v", m)
	}
	jp := bJSON.AwaitPush(30*time.Second, "alice's message (JSON)", func(p testenv.Push) bool { return p.ClientMsgID == cid })
	if jp.ConversationID != singleConv(alice, bob) || jp.Seq != seq {
		t.Fatalf("JSON push: %+v, want conversationID %s seq %d", jp, singleConv(alice, bob), seq)
	}

	// Typing, as the SDK sends it (options all false): online-only, no seq, to the peer under si_.
	typing := &sdkws.MsgData{SendID: alice, RecvID: bob, ClientMsgID: testenv.ID("t"), SenderPlatformID: 5, SessionType: 1,
		MsgFrom: 100, ContentType: 113, Content: []byte(`{"msgTips":"yes"}`), Options: map[string]bool{"history": false, "unreadCount": false},
		CreateTime: time.Now().UnixMilli()}
	if f := a.call(1003, typing, &sdkws.UserSendMsgResp{}); f.ErrCode != 0 {
		t.Fatalf("typing: %d %s", f.ErrCode, f.ErrMsg)
	}
	tp := b.awaitPush("typing", func(p *sdkws.PushMessages) bool { return p.Msgs[conv] != nil && p.Msgs[conv].Msgs[0].ContentType == 113 })
	if m := tp.Msgs[conv].Msgs[0]; m.Seq != 0 || m.Options["unreadCount"] {
		t.Fatalf("typing push: %v", m)
	}

	// 1002 (range) and 1005 (seq list) from bob, in the SDK's IDs.
	var pulled sdkws.PullMessageBySeqsResp
	if f := b.call(1002, &sdkws.PullMessageBySeqsReq{UserID: bob, SeqRanges: []*sdkws.SeqRange{{ConversationID: conv, Begin: 1, End: seq, Num: 20}}}, &pulled); f.ErrCode != 0 {
		t.Fatalf("1002: %d %s", f.ErrCode, f.ErrMsg)
	}
	if p := pulled.Msgs[conv]; p == nil || len(p.Msgs) == 0 || p.Msgs[len(p.Msgs)-1].ClientMsgID != cid {
		t.Fatalf("1002: %v", &pulled)
	}
	var bySeq msgpb.GetSeqMessageResp
	req := &msgpb.GetSeqMessageReq{UserID: bob, Conversations: []*msgpb.ConversationSeqs{{ConversationID: conv, Seqs: []int64{seq, seq + 5}}}}
	if f := b.call(1005, req, &bySeq); f.ErrCode != 0 {
		t.Fatalf("1005: %d %s", f.ErrCode, f.ErrMsg)
	}
	if p := bySeq.Msgs[conv]; p == nil || len(p.Msgs) != 1 || p.Msgs[0].ClientMsgID != cid || p.Msgs[0].Seq != seq {
		t.Fatalf("1005: %v, want the one message at seq %d", &bySeq, seq)
	}
	// 1005 for a conversation bob cannot read is refused.
	carol, _ := e.User("carol")
	f := b.call(1005, &msgpb.GetSeqMessageReq{UserID: bob, Conversations: []*msgpb.ConversationSeqs{{ConversationID: sdkSingle(alice, carol), Seqs: []int64{1}}}}, nil)
	if f.ErrCode != 1003 {
		t.Fatalf("1005 of another pair's conversation: errCode %d, want 1003", f.ErrCode)
	}

	// 1005 over its limits is 1001.
	tooMany := make([]int64, chat.MaxSeqListSeqs+1)
	for i := range tooMany {
		tooMany[i] = int64(i + 1)
	}
	if f := b.call(1005, &msgpb.GetSeqMessageReq{UserID: bob, Conversations: []*msgpb.ConversationSeqs{{ConversationID: conv, Seqs: tooMany}}}, nil); f.ErrCode != 1001 {
		t.Fatalf("1005 with %d seqs: errCode %d, want 1001", len(tooMany), f.ErrCode)
	}

	// 1006 now knows the conversation's max seq.
	seqs.Reset()
	if f := b.call(1006, &msgpb.GetConversationsHasReadAndMaxSeqReq{UserID: bob}, &seqs); f.ErrCode != 0 {
		t.Fatalf("1006: %d %s", f.ErrCode, f.ErrMsg)
	}
	if s := seqs.Seqs[conv]; s == nil || s.MaxSeq != seq || s.MaxSeq-s.HasReadSeq != 1 || s.MaxSeqTime == 0 {
		t.Fatalf("1006 after the send: %v, want %s maxSeq %d with 1 unread (maxSeq - hasReadSeq)", seqs.Seqs, conv, seq)
	}
	// Marked as read (which stores a 2200 in the conversation), nothing is unread: the receipt is not a message.
	e.MustOK("/msg/mark_msgs_as_read", e.Token(bob, 1), map[string]any{"conversationID": singleConv(alice, bob), "seqs": []int64{seq}, "userID": bob})
	seqs.Reset()
	if f := b.call(1006, &msgpb.GetConversationsHasReadAndMaxSeqReq{UserID: bob, ConversationIDs: []string{conv}}, &seqs); f.ErrCode != 0 {
		t.Fatalf("1006: %d %s", f.ErrCode, f.ErrMsg)
	}
	if s := seqs.Seqs[conv]; s == nil || s.MaxSeq <= seq || s.HasReadSeq != s.MaxSeq || len(seqs.Seqs) != 1 {
		t.Fatalf("1006 after mark-as-read: %v, want only %s, its maxSeq past %d (the receipt) and nothing unread", seqs.Seqs, conv, seq)
	}

	// Bad data is 1001 and the connection stays.
	if f := b.call(1006, nil, nil); f.ErrCode != 0 {
		t.Fatalf("1006 without data: %d %s", f.ErrCode, f.ErrMsg)
	}
	raw, _ := json.Marshal(map[string]any{"reqIdentifier": 1005, "sendID": bob, "operationID": "op", "msgIncr": "bad", "data": "not base64!"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.conn.Write(ctx, websocket.MessageBinary, raw); err != nil {
		t.Fatal(err)
	}
	for {
		f := b.next("the reply to the bad frame")
		if f.MsgIncr == "bad" {
			if f.ErrCode != 1001 {
				t.Fatalf("bad data: errCode %d %s, want 1001", f.ErrCode, f.ErrMsg)
			}
			break
		}
	}
}

func TestSDKProfileKickAndTokenCodes(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	alice, _ := e.User("alice")
	old := e.Token(alice, 5)
	first := sdkDial(t, e, alice, old, 5)

	// A second login on the same platform: the first SDK connection gets 2002 as a binary frame, then 4002.
	second := sdkDial(t, e, alice, e.Token(alice, 5), 5)
	kick := first.next("the kick")
	if kick.ReqIdentifier != 2002 {
		t.Fatalf("first connection got %d, want 2002", kick.ReqIdentifier)
	}
	select {
	case code := <-first.closed:
		if code != 4002 {
			t.Fatalf("close code %d, want 4002", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the kicked connection was not closed")
	}
	_ = second

	// The replaced token: OpenIM's TokenKicked (1506, the SDK's OnKickedOffline), not 1002.
	if _, ack := sdkTryDial(t, e, alice, old, 5); ack.ErrCode != 1506 {
		t.Fatalf("replaced token: ack %d %s, want 1506", ack.ErrCode, ack.ErrMsg)
	}
	// A token that is not one of ours: TokenMalformed (1503).
	if _, ack := sdkTryDial(t, e, alice, "not.a.token", 5); ack.ErrCode != 1503 {
		t.Fatalf("malformed token: ack %d %s, want 1503", ack.ErrCode, ack.ErrMsg)
	}
	// The JSON profile keeps 1002 for the same refusal.
	if _, err := e.TryDial(alice, old, 5); err == nil || !strings.Contains(err.Error(), `"errCode":1002`) {
		t.Fatalf("JSON profile, replaced token: %v, want errCode 1002", err)
	}

	// Forbidding kicks the SDK connection (2002, binary) and its token is then refused with 1502 (invalid);
	// after an unforbid the retired token is 1507 (no longer exists).
	bob, bobTok := e.User("bob")
	bobWeb := e.Token(bob, 5)
	b := sdkDial(t, e, bob, bobWeb, 5)
	admin := e.AdminToken()
	e.MustOK("/manager/forbid_user", admin, map[string]any{"userID": bob, "forbiddenType": 1, "reason": "test"})
	if f := b.next("the forbid kick"); f.ReqIdentifier != 2002 {
		t.Fatalf("forbidden: got %d, want 2002", f.ReqIdentifier)
	}
	if _, ack := sdkTryDial(t, e, bob, bobWeb, 5); ack.ErrCode != 1502 {
		t.Fatalf("forbidden user's token: ack %d %s, want 1502", ack.ErrCode, ack.ErrMsg)
	}
	e.MustOK("/manager/unforbid_user", admin, map[string]any{"userID": bob})
	if _, ack := sdkTryDial(t, e, bob, bobTok, 1); ack.ErrCode != 1507 {
		t.Fatalf("token retired by the forbid: ack %d %s, want 1507", ack.ErrCode, ack.ErrMsg)
	}
}

func TestSDKProfileExpiredToken(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t, func(c *config.Config) { c.TokenTTL = time.Second })
	u, _ := e.User("u")
	tok := e.Token(u, 5)
	time.Sleep(2100 * time.Millisecond) // the token's expiry, not a synchronisation: JWT expiry has one-second resolution
	if _, ack := sdkTryDial(t, e, u, tok, 5); ack.ErrCode != 1501 {
		t.Fatalf("expired token: ack %d %s, want 1501 (the SDK's OnUserTokenExpired)", ack.ErrCode, ack.ErrMsg)
	}
}

// tipsOf decodes a notification's content ({"detail": "<Tips JSON>"}).
func tipsOf(t *testing.T, m *sdkws.MsgData) map[string]any {
	t.Helper()
	var outer struct{ Detail string }
	var tips map[string]any
	if json.Unmarshal(m.Content, &outer) != nil || json.Unmarshal([]byte(outer.Detail), &tips) != nil {
		t.Fatalf("content %s is not {\"detail\": Tips}", m.Content)
	}
	return tips
}

func TestSDKProfileNotifications(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	alice, aliceTok := e.User("alice")
	bob, _ := e.User("bob")
	a := sdkDial(t, e, alice, e.Token(alice, 5), 5)
	b := sdkDial(t, e, bob, e.Token(bob, 5), 5)

	// A friend application reaches bob under notificationMsgs[n_bob], where the SDK fires OnFriendApplicationAdded.
	e.MustOK("/friend/add_friend", aliceTok, map[string]any{"fromUserID": alice, "toUserID": bob, "reqMsg": "hi"})
	p := b.awaitPush("1203", func(p *sdkws.PushMessages) bool { return p.NotificationMsgs["n_"+bob] != nil })
	if n := p.NotificationMsgs["n_"+bob].Msgs[0]; n.ContentType != 1203 || len(p.Msgs) != 0 {
		t.Fatalf("friend application push: %v", p)
	} else if ft, _ := tipsOf(t, n)["fromToUserID"].(map[string]any); ft["fromUserID"] != alice || ft["toUserID"] != bob {
		t.Fatalf("FriendApplicationTips: %s", n.Content)
	}

	// A group created with bob: the 1501 tip is in msgs[sg_] (a seq of the group) and notificationMsgs[n_].
	gid := testenv.ID("g")
	e.MustOK("/group/create_group", aliceTok, map[string]any{"memberUserIDs": []string{bob}, "ownerUserID": alice,
		"groupInfo": map[string]any{"groupID": gid, "groupName": "sdk", "groupType": 2}})
	p = b.awaitPush("1501", func(p *sdkws.PushMessages) bool { return p.Msgs["sg_"+gid] != nil })
	if n := p.NotificationMsgs["n_"+gid]; n == nil || n.Msgs[0].ContentType != 1501 || p.Msgs["sg_"+gid].Msgs[0].ContentType != 1501 {
		t.Fatalf("group created push: %v", p)
	}

	// A group message sent over the profile: the other member gets it under sg_, the sender its own push.
	cid := testenv.ID("c")
	msg := &sdkws.MsgData{SendID: alice, GroupID: gid, ClientMsgID: cid, SenderPlatformID: 5, SessionType: 3, MsgFrom: 100,
		ContentType: 101, Content: []byte(`{"content":"to the group"}`), CreateTime: time.Now().UnixMilli()}
	if f := a.call(1003, msg, &sdkws.UserSendMsgResp{}); f.ErrCode != 0 {
		t.Fatalf("group 1003: %d %s", f.ErrCode, f.ErrMsg)
	}
	own := a.awaitPush("own group push", func(p *sdkws.PushMessages) bool {
		return p.Msgs["sg_"+gid] != nil && p.Msgs["sg_"+gid].Msgs[0].ClientMsgID == cid
	})
	seq := own.Msgs["sg_"+gid].Msgs[0].Seq
	b.awaitPush("the group message", func(p *sdkws.PushMessages) bool {
		return p.Msgs["sg_"+gid] != nil && p.Msgs["sg_"+gid].Msgs[0].ClientMsgID == cid && p.Msgs["sg_"+gid].Msgs[0].Seq == seq
	})

	// A revoke reaches bob as a notification whose Tips name the conversation in the SDK's form.
	e.MustOK("/msg/revoke_msg", aliceTok, map[string]any{"conversationID": "group_" + gid, "seq": seq, "userID": alice})
	p = b.awaitPush("2101", func(p *sdkws.PushMessages) bool { return p.NotificationMsgs["n_"+gid] != nil })
	rv := p.NotificationMsgs["n_"+gid].Msgs[0]
	if tips := tipsOf(t, rv); rv.ContentType != 2101 || tips["conversationID"] != "sg_"+gid || tips["seq"] != float64(seq) || len(p.Msgs) != 0 {
		t.Fatalf("revoke push: %v tips %s", p, rv.Content)
	}
	// In history the revoked message is there (2101, shown as revoked) and the revoke's own row is hidden.
	var hist msgpb.GetSeqMessageResp
	req := &msgpb.GetSeqMessageReq{UserID: bob, Conversations: []*msgpb.ConversationSeqs{{ConversationID: "sg_" + gid, Seqs: []int64{seq, rv.Seq}}}}
	if f := b.call(1005, req, &hist); f.ErrCode != 0 {
		t.Fatalf("1005: %d %s", f.ErrCode, f.ErrMsg)
	}
	got := map[int64]int32{}
	for _, m := range hist.Msgs["sg_"+gid].GetMsgs() {
		got[m.Seq] = m.Status
	}
	if len(got) != 2 || got[seq] == 4 || got[rv.Seq] != 4 {
		t.Fatalf("1005 statuses by seq: %v, want the revoked message shown and the revoke row (seq %d) deleted (4)", got, rv.Seq)
	}
}

// FuzzSDKFrame sends arbitrary protobuf bytes as the data of each SDK-profile request: the server answers
// (an error or not) or closes, never faults, and the connection keeps being served.
func FuzzSDKFrame(f *testing.F) {
	e := testenv.Start(f, testenv.NoRateLimits)
	u, _ := e.User("fz")
	tok := e.Token(u, 5)
	for _, id := range []int{1001, 1002, 1003, 1005, 1006, 2004, 2005} {
		f.Add(id, []byte{})
		f.Add(id, []byte{0x0a, 0x03, 'a', 'b', 'c', 0x12, 0x02, 0x08, 0x01})
	}
	m, _ := proto.Marshal(&msgpb.GetSeqMessageReq{Conversations: []*msgpb.ConversationSeqs{{ConversationID: "n_" + u, Seqs: []int64{-1, 0, 1 << 62}}}})
	f.Add(1005, m)
	m, _ = proto.Marshal(&sdkws.PullMessageBySeqsReq{SeqRanges: []*sdkws.SeqRange{{ConversationID: "sg_nope", Begin: -5, End: 1 << 62, Num: -1}}})
	f.Add(1002, m)
	f.Fuzz(func(t *testing.T, reqIdentifier int, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, sdkDialURL(e, u, tok, 5), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		if _, _, err := c.Read(ctx); err != nil { // the connect ack
			t.Fatal(err)
		}
		for i, req := range []map[string]any{
			{"reqIdentifier": reqIdentifier, "sendID": u, "operationID": "o", "msgIncr": "fuzz", "data": data},
			{"reqIdentifier": 1006, "sendID": u, "operationID": "o", "msgIncr": "probe", "data": []byte{}},
		} {
			b, _ := json.Marshal(req)
			if err := c.Write(ctx, websocket.MessageBinary, b); err != nil {
				if i == 0 {
					t.Fatal(err)
				}
				return // closed after the fuzzed frame (a 2003 logout): allowed
			}
		}
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				if websocket.CloseStatus(err) != -1 {
					return
				}
				t.Fatalf("req %d data %x: connection neither answered nor closed: %v", reqIdentifier, data, err)
			}
			var fr sdkFrame
			if err := json.Unmarshal(b, &fr); err != nil {
				t.Fatalf("not a JSON frame: %s", b)
			}
			if fr.ErrCode == 500 {
				t.Fatalf("req %d data %x: server fault %+v", reqIdentifier, data, fr)
			}
			if fr.MsgIncr == "probe" {
				return
			}
		}
	})
}
