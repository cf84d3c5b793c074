package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/testenv"
)

// frQuiet is how long a test waits to be sure a push does not come.
const frQuiet = 300 * time.Millisecond

// frTips decodes the Tips of a notification: content is {"detail": "<Tips JSON>"}.
func frTips(t *testing.T, p testenv.Push, v any) {
	t.Helper()
	var elem struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal([]byte(p.Content), &elem); err != nil || elem.Detail == "" {
		t.Fatalf("content %q is not a NotificationElem: %v", p.Content, err)
	}
	if err := json.Unmarshal([]byte(elem.Detail), v); err != nil {
		t.Fatalf("detail %q: %v", elem.Detail, err)
	}
}

// frCheckNotif checks the MsgData of a friend/user notification stored for recipient.
func frCheckNotif(t *testing.T, p testenv.Push, contentType int, sendID, recipient string) {
	t.Helper()
	if p.ContentType != contentType || p.SessionType != 4 || p.SendID != sendID || p.RecvID != recipient ||
		p.ConversationID != chat.NotificationConversationID(recipient) || p.Seq <= 0 {
		t.Fatalf("notification %d for %s = %+v", contentType, recipient, p)
	}
}

// frAwait waits for a notification of contentType on ws and checks its MsgData.
func frAwait(t *testing.T, ws *testenv.WS, contentType int, sendID string) testenv.Push {
	t.Helper()
	p := ws.AwaitPush(30*time.Second, fmt.Sprintf("notification %d", contentType), func(p testenv.Push) bool { return p.ContentType == contentType })
	frCheckNotif(t, p, contentType, sendID, ws.UserID)
	return p
}

// frNone asserts that ws gets no notification of the given types.
func frNone(t *testing.T, ws *testenv.WS, contentTypes ...int) {
	t.Helper()
	ws.NoPush(frQuiet, fmt.Sprintf("notification %v", contentTypes), func(p testenv.Push) bool {
		for _, ct := range contentTypes {
			if p.ContentType == ct {
				return true
			}
		}
		return false
	})
}

// frPull reconnects userID and fetches its notification conversation with 1001 and 1002, as an offline
// client does.
func frPull(t *testing.T, e *testenv.Env, userID string) []testenv.Push {
	t.Helper()
	ws := e.Dial(userID, e.Token(userID, 3), 3)
	defer ws.Conn.CloseNow()
	conv := chat.NotificationConversationID(userID)
	var seqs struct{ MaxSeqs map[string]int64 }
	if r := ws.Call(1001, map[string]any{"userID": userID}); r.ErrCode != 0 || json.Unmarshal(r.Data, &seqs) != nil {
		t.Fatalf("1001: %+v", r)
	}
	max := seqs.MaxSeqs[conv]
	if max == 0 {
		return nil
	}
	r := ws.Call(1002, map[string]any{"userID": userID, "seqRanges": []map[string]any{{"conversationID": conv, "begin": 1, "end": max, "num": 100}}})
	var pulled struct {
		NotificationMsgs map[string]struct {
			Msgs []testenv.Push `json:"Msgs"`
		} `json:"notificationMsgs"`
	}
	if r.ErrCode != 0 || json.Unmarshal(r.Data, &pulled) != nil {
		t.Fatalf("1002: %+v %s", r, r.Data)
	}
	msgs := pulled.NotificationMsgs[conv].Msgs
	if int64(len(msgs)) != max {
		t.Fatalf("pulled %d notifications of %s, maxSeq %d", len(msgs), conv, max)
	}
	return msgs
}

// frTypes lists the contentTypes of msgs.
func frTypes(msgs []testenv.Push) []int {
	out := make([]int, len(msgs))
	for i, m := range msgs {
		out[i] = m.ContentType
	}
	return out
}

func frEqual(a, b []int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// frBefriend makes a and b friends through an application and its acceptance.
func frBefriend(t *testing.T, e *testenv.Env, a, aTok, b, bTok string) {
	t.Helper()
	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b, "reqMsg": "hi"})
	e.MustOK("/friend/add_friend_response", bTok, map[string]any{"fromUserID": a, "toUserID": b, "handleResult": 1})
}

type frFriendInfo struct {
	OwnerUserID    string `json:"ownerUserID"`
	Remark         string `json:"remark"`
	CreateTime     int64  `json:"createTime"`
	AddSource      int32  `json:"addSource"`
	OperatorUserID string `json:"operatorUserID"`
	FriendUser     struct {
		UserID, Nickname, FaceURL, Ex string
	} `json:"friendUser"`
}

func frFriends(t *testing.T, e *testenv.Env, tok, userID string, page, size int) ([]frFriendInfo, int) {
	t.Helper()
	var d struct {
		FriendsInfo []frFriendInfo `json:"friendsInfo"`
		Total       int            `json:"total"`
	}
	e.MustOK("/friend/get_friend_list", tok, map[string]any{"userID": userID, "pagination": map[string]any{"pageNumber": page, "showNumber": size}}).Decode(t, &d)
	return d.FriendsInfo, d.Total
}

type frRequest struct {
	FromUserID, FromNickname, ToUserID, ToNickname, ReqMsg, HandlerUserID, HandleMsg string
	HandleResult                                                                     int
	CreateTime, HandleTime                                                           int64
}

// 1203: to toUserID and a copy to the applicant; not to a bystander; pullable when offline.
func TestFriendApplicationNotification(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, cTok := e.User("c")
	bWS := e.Dial(b, bTok, 1)
	aWS := e.Dial(a, e.Token(a, 5), 5) // the applicant's other device
	cWS := e.Dial(c, cTok, 1)

	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b, "reqMsg": "我是张三", "ex": "x"})
	for _, ws := range []*testenv.WS{bWS, aWS} {
		p := frAwait(t, ws, events.FriendApplication, a)
		var tips events.FriendApplicationTips
		frTips(t, p, &tips)
		r := tips.Request
		if tips.FromToUserID != (events.FromToUserID{FromUserID: a, ToUserID: b}) || r.FromUserID != a || r.ToUserID != b ||
			r.FromNickname != "nick-"+a || r.ToNickname != "nick-"+b || r.HandleResult != 0 || r.ReqMsg != "我是张三" ||
			r.Ex != "x" || r.CreateTime < 1e12 || r.HandleTime != 0 {
			t.Fatalf("1203 tips for %s = %+v", ws.UserID, tips)
		}
	}
	frNone(t, cWS, events.FriendApplication)

	// d is offline when c applies; d finds the application on reconnect.
	d, _ := e.User("d")
	e.MustOK("/friend/add_friend", cTok, map[string]any{"fromUserID": c, "toUserID": d, "reqMsg": "hello d"})
	msgs := frPull(t, e, d)
	if !frEqual(frTypes(msgs), []int{events.FriendApplication}) {
		t.Fatalf("d pulled %v", frTypes(msgs))
	}
	frCheckNotif(t, msgs[0], events.FriendApplication, c, d)
	var tips events.FriendApplicationTips
	frTips(t, msgs[0], &tips)
	if tips.Request.ReqMsg != "hello d" || tips.Request.FromUserID != c {
		t.Fatalf("pulled tips %+v", tips)
	}
}

// Accept: 1201 then 1204 to both sides, each 1204 carrying the recipient's own friend row.
func TestFriendAcceptNotifications(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, cTok := e.User("c")
	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b, "reqMsg": "hi"})
	aWS := e.Dial(a, aTok, 1)
	bWS := e.Dial(b, e.Token(b, 5), 5) // the responder's other device
	cWS := e.Dial(c, cTok, 1)

	before := time.Now().Unix()
	e.MustOK("/friend/add_friend_response", bTok, map[string]any{"fromUserID": a, "toUserID": b, "handleResult": 1, "handleMsg": "很高兴认识你"})
	for _, side := range []struct {
		ws          *testenv.WS
		owner, peer string
	}{{aWS, a, b}, {bWS, b, a}} {
		p1 := frAwait(t, side.ws, events.FriendApplicationApproved, b)
		var approved events.FriendApplicationApprovedTips
		frTips(t, p1, &approved)
		if approved.FromToUserID != (events.FromToUserID{FromUserID: a, ToUserID: b}) || approved.HandleMsg != "很高兴认识你" ||
			approved.Request.HandleResult != 1 || approved.Request.HandlerUserID != b || approved.Request.HandleTime == 0 ||
			approved.Request.ReqMsg != "hi" {
			t.Fatalf("1201 tips for %s = %+v", side.owner, approved)
		}
		p2 := frAwait(t, side.ws, events.FriendAdded, b)
		if p2.Seq != p1.Seq+1 {
			t.Fatalf("1204 seq %d does not follow 1201 seq %d", p2.Seq, p1.Seq)
		}
		var added events.FriendAddedTips
		frTips(t, p2, &added)
		f := added.Friend
		if f.OwnerUserID != side.owner || f.FriendUser.UserID != side.peer || f.FriendUser.Nickname != "nick-"+side.peer ||
			f.AddSource != 2 || f.OperatorUserID != b || f.CreateTime < before || f.CreateTime > before+60 ||
			added.OpUser.UserID != b || added.OperationTime < 1e12 {
			t.Fatalf("1204 tips for %s = %+v", side.owner, added)
		}
	}
	frNone(t, cWS, events.FriendApplicationApproved, events.FriendAdded)

	// Friends both ways, as seed 000's get_friend_list shows them.
	for _, side := range [][3]string{{a, aTok, b}, {b, bTok, a}} {
		list, total := frFriends(t, e, side[1], side[0], 1, 20)
		if total != 1 || len(list) != 1 || list[0].FriendUser.UserID != side[2] || list[0].OwnerUserID != side[0] ||
			list[0].AddSource != 2 || list[0].OperatorUserID != b || list[0].CreateTime < before || list[0].CreateTime > before+60 {
			t.Fatalf("friend list of %s = %+v (total %d)", side[0], list, total)
		}
	}

	// d is offline while c's application is accepted: c's pull has 1203 (its copy), 1201, 1204 in order.
	d, dTok := e.User("d")
	cWS.Conn.CloseNow()
	e.MustOK("/friend/add_friend", cTok, map[string]any{"fromUserID": c, "toUserID": d})
	e.MustOK("/friend/add_friend_response", dTok, map[string]any{"fromUserID": c, "toUserID": d, "handleResult": 1})
	if got := frTypes(frPull(t, e, c)); !frEqual(got, []int{events.FriendApplication, events.FriendApplicationApproved, events.FriendAdded}) {
		t.Fatalf("c pulled %v", got)
	}
	if got := frTypes(frPull(t, e, d)); !frEqual(got, []int{events.FriendApplication, events.FriendApplicationApproved, events.FriendAdded}) {
		t.Fatalf("d pulled %v", got)
	}
}

// Refuse: 1202 to both sides; applying again afterwards is allowed.
func TestFriendRejectNotification(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, cTok := e.User("c")
	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b, "reqMsg": "hi"})
	aWS := e.Dial(a, aTok, 1)
	bWS := e.Dial(b, e.Token(b, 5), 5)
	cWS := e.Dial(c, cTok, 1)

	e.MustOK("/friend/add_friend_response", bTok, map[string]any{"fromUserID": a, "toUserID": b, "handleResult": -1, "handleMsg": "不认识"})
	for _, ws := range []*testenv.WS{aWS, bWS} {
		var tips events.FriendApplicationRejectedTips
		frTips(t, frAwait(t, ws, events.FriendApplicationRejected, b), &tips)
		if tips.FromToUserID != (events.FromToUserID{FromUserID: a, ToUserID: b}) || tips.HandleMsg != "不认识" ||
			tips.Request.HandleResult != -1 || tips.Request.HandleMsg != "不认识" || tips.Request.HandlerUserID != b {
			t.Fatalf("1202 tips for %s = %+v", ws.UserID, tips)
		}
	}
	aWS.NoPush(frQuiet, "1204 after a refusal", func(p testenv.Push) bool { return p.ContentType == events.FriendAdded })
	frNone(t, cWS, events.FriendApplicationRejected)
	if _, total := frFriends(t, e, aTok, a, 1, 20); total != 0 {
		t.Fatalf("refused, yet a has %d friends", total)
	}

	// Re-applying after the refusal opens a new pending application (and a new 1203).
	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b, "reqMsg": "again"})
	frAwait(t, bWS, events.FriendApplication, a)
	var d struct {
		FriendRequests []frRequest `json:"FriendRequests"`
		Total          int         `json:"total"`
	}
	e.MustOK("/friend/get_friend_apply_list", bTok, map[string]any{"userID": b, "pagination": map[string]any{"pageNumber": 1, "showNumber": 10}, "handleResults": []int{0}}).Decode(t, &d)
	if d.Total != 1 || len(d.FriendRequests) != 1 || d.FriendRequests[0].ReqMsg != "again" || d.FriendRequests[0].HandleResult != 0 || d.FriendRequests[0].HandleMsg != "" {
		t.Fatalf("pending after re-apply: %+v", d)
	}

	// An offline applicant learns of the refusal on reconnect.
	e.MustOK("/friend/add_friend", cTok, map[string]any{"fromUserID": c, "toUserID": b})
	cWS.Conn.CloseNow()
	e.MustOK("/friend/add_friend_response", bTok, map[string]any{"fromUserID": c, "toUserID": b, "handleResult": -1})
	if got := frTypes(frPull(t, e, c)); !frEqual(got, []int{events.FriendApplication, events.FriendApplicationRejected}) {
		t.Fatalf("c pulled %v", got)
	}
}

// 1205 to both sides; the delete is one-way.
func TestFriendDeleteNotification(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, cTok := e.User("c")
	frBefriend(t, e, a, aTok, b, bTok)
	frBefriend(t, e, a, aTok, c, cTok)
	aWS := e.Dial(a, e.Token(a, 5), 5)
	bWS := e.Dial(b, bTok, 1)
	cWS := e.Dial(c, cTok, 1)

	e.MustOK("/friend/delete_friend", aTok, map[string]any{"ownerUserID": a, "friendUserID": b})
	for _, ws := range []*testenv.WS{aWS, bWS} {
		var tips events.FriendDeletedTips
		frTips(t, frAwait(t, ws, events.FriendDeleted, a), &tips)
		if tips.FromToUserID != (events.FromToUserID{FromUserID: a, ToUserID: b}) {
			t.Fatalf("1205 tips for %s = %+v", ws.UserID, tips)
		}
	}
	frNone(t, cWS, events.FriendDeleted)
	if list, total := frFriends(t, e, aTok, a, 1, 20); total != 1 || list[0].FriendUser.UserID != c {
		t.Fatalf("a's friends after delete: %+v", list)
	}
	if list, total := frFriends(t, e, bTok, b, 1, 20); total != 1 || list[0].FriendUser.UserID != a {
		t.Fatalf("b's friends after a deleted b (one-way): %+v", list)
	}
	if r := e.Post("/friend/delete_friend", aTok, map[string]any{"ownerUserID": a, "friendUserID": b}); r.ErrCode != 1102 {
		t.Fatalf("second delete: %s", r.Raw)
	}
	// Not mutual any more: a may apply to b again.
	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b})

	// An offline friend finds the 1205 on reconnect.
	cWS.Conn.CloseNow()
	e.MustOK("/friend/delete_friend", aTok, map[string]any{"ownerUserID": a, "friendUserID": c})
	msgs := frPull(t, e, c)
	if last := msgs[len(msgs)-1]; last.ContentType != events.FriendDeleted {
		t.Fatalf("c pulled %v", frTypes(msgs))
	}
}

// 1206 only to the owner's devices.
func TestFriendRemarkNotification(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	frBefriend(t, e, a, aTok, b, bTok)
	aWS := e.Dial(a, e.Token(a, 5), 5)
	bWS := e.Dial(b, bTok, 1)

	e.MustOK("/friend/set_friend_remark", aTok, map[string]any{"ownerUserID": a, "friendUserID": b, "remark": "李四（同事）"})
	var tips events.FriendInfoChangedTips
	frTips(t, frAwait(t, aWS, events.FriendRemarkSet, a), &tips)
	if tips.FromToUserID != (events.FromToUserID{FromUserID: a, ToUserID: b}) {
		t.Fatalf("1206 tips = %+v", tips)
	}
	frNone(t, bWS, events.FriendRemarkSet)
	if list, _ := frFriends(t, e, aTok, a, 1, 20); list[0].Remark != "李四（同事）" {
		t.Fatalf("remark not stored: %+v", list)
	}
	if list, _ := frFriends(t, e, bTok, b, 1, 20); list[0].Remark != "" {
		t.Fatalf("b's row got a's remark: %+v", list)
	}
	// "" clears it; the owner's offline device pulls both 1206.
	aWS.Conn.CloseNow()
	e.MustOK("/friend/set_friend_remark", aTok, map[string]any{"ownerUserID": a, "friendUserID": b, "remark": ""})
	msgs := frPull(t, e, a)
	if got := frTypes(msgs[len(msgs)-2:]); !frEqual(got, []int{events.FriendRemarkSet, events.FriendRemarkSet}) {
		t.Fatalf("a pulled %v", frTypes(msgs))
	}
	if list, _ := frFriends(t, e, aTok, a, 1, 20); list[0].Remark != "" {
		t.Fatalf("remark not cleared: %+v", list)
	}
}

// 1207/1208 to the owner's devices only; the blacklist blocks messages and applications (1103).
func TestBlacklist(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	aWS := e.Dial(a, e.Token(a, 5), 5)
	bWS := e.Dial(b, bTok, 1)

	before := time.Now().Unix()
	e.MustOK("/friend/add_black", aTok, map[string]any{"ownerUserID": a, "blackUserID": b, "ex": "spam"})
	var added events.BlackAddedTips
	frTips(t, frAwait(t, aWS, events.BlackAdded, a), &added)
	if added.FromToUserID != (events.FromToUserID{FromUserID: a, ToUserID: b}) {
		t.Fatalf("1207 tips = %+v", added)
	}
	frNone(t, bWS, events.BlackAdded)

	var bl struct {
		Blacks []struct {
			OwnerUserID, OperatorUserID, Ex string
			CreateTime                      int64
			AddSource                       int
			BlackUserInfo                   struct{ UserID, Nickname, FaceURL, Ex string }
		} `json:"blacks"`
		Total int `json:"total"`
	}
	e.MustOK("/friend/get_black_list", aTok, map[string]any{"userID": a, "pagination": map[string]any{"pageNumber": 1, "showNumber": 20}}).Decode(t, &bl)
	if bl.Total != 1 || len(bl.Blacks) != 1 || bl.Blacks[0].BlackUserInfo.UserID != b || bl.Blacks[0].BlackUserInfo.Nickname != "nick-"+b ||
		bl.Blacks[0].OwnerUserID != a || bl.Blacks[0].OperatorUserID != a || bl.Blacks[0].Ex != "spam" ||
		bl.Blacks[0].CreateTime < before || bl.Blacks[0].CreateTime > before+60 {
		t.Fatalf("black list = %+v", bl)
	}

	// b can neither message a nor apply to be a's friend; a can still message b.
	if r := e.Post("/msg/send_msg", bTok, map[string]any{"sendID": b, "recvID": a, "content": map[string]any{"content": "hi"}, "contentType": 101, "sessionType": 1}); r.ErrCode != 1103 {
		t.Fatalf("blocked send_msg: %s", r.Raw)
	}
	if r := bWS.Call(1003, map[string]any{"sendID": b, "recvID": a, "sessionType": 1, "contentType": 101, "content": `{"content":"hi"}`}); r.ErrCode != 1103 {
		t.Fatalf("blocked WS send: %+v", r)
	}
	if r := e.Post("/friend/add_friend", bTok, map[string]any{"fromUserID": b, "toUserID": a}); r.ErrCode != 1103 || !strings.Contains(r.ErrMsg, a) {
		t.Fatalf("blocked add_friend: %s", r.Raw)
	}
	e.MustOK("/msg/send_msg", aTok, map[string]any{"sendID": a, "recvID": b, "content": map[string]any{"content": "hi"}, "contentType": 101, "sessionType": 1})

	e.MustOK("/friend/remove_black", aTok, map[string]any{"ownerUserID": a, "blackUserID": b})
	var deleted events.BlackDeletedTips
	frTips(t, frAwait(t, aWS, events.BlackDeleted, a), &deleted)
	if deleted.FromToUserID != (events.FromToUserID{FromUserID: a, ToUserID: b}) {
		t.Fatalf("1208 tips = %+v", deleted)
	}
	frNone(t, bWS, events.BlackDeleted)
	e.MustOK("/msg/send_msg", bTok, map[string]any{"sendID": b, "recvID": a, "content": map[string]any{"content": "hi again"}, "contentType": 101, "sessionType": 1})
	e.MustOK("/friend/add_friend", bTok, map[string]any{"fromUserID": b, "toUserID": a})
	e.MustOK("/friend/get_black_list", aTok, map[string]any{"userID": a, "pagination": map[string]any{"pageNumber": 1, "showNumber": 20}}).Decode(t, &bl)
	if bl.Total != 0 || len(bl.Blacks) != 0 {
		t.Fatalf("black list after remove = %+v", bl)
	}

	// The owner's offline device pulls both.
	aWS.Conn.CloseNow()
	msgs := frPull(t, e, a)
	var bl2 []int
	for _, m := range msgs {
		if m.ContentType == events.BlackAdded || m.ContentType == events.BlackDeleted {
			bl2 = append(bl2, m.ContentType)
		}
	}
	if !frEqual(bl2, []int{events.BlackAdded, events.BlackDeleted}) {
		t.Fatalf("a pulled %v", frTypes(msgs))
	}
}

// 1303 to the user's own devices and to their friends, not to others.
func TestUserInfoUpdatedNotification(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, cTok := e.User("c")
	d, dTok := e.User("d")
	frBefriend(t, e, a, aTok, b, bTok)
	frBefriend(t, e, a, aTok, d, dTok)
	aWS := e.Dial(a, e.Token(a, 5), 5)
	bWS := e.Dial(b, bTok, 1)
	cWS := e.Dial(c, cTok, 1)
	// d is offline.

	e.MustOK("/user/update_user_info", aTok, map[string]any{"userInfo": map[string]any{"userID": a, "nickname": "新昵称"}})
	for _, ws := range []*testenv.WS{aWS, bWS} {
		var tips events.UserInfoUpdatedTips
		frTips(t, frAwait(t, ws, events.UserInfoUpdated, a), &tips)
		if tips.UserID != a {
			t.Fatalf("1303 tips for %s = %+v", ws.UserID, tips)
		}
	}
	frNone(t, cWS, events.UserInfoUpdated)
	msgs := frPull(t, e, d)
	last := msgs[len(msgs)-1]
	frCheckNotif(t, last, events.UserInfoUpdated, a, d)

	// An admin updating someone else: the operator is the admin, the tips name the user.
	admin := e.AdminToken()
	e.MustOK("/user/update_user_info", admin, map[string]any{"userInfo": map[string]any{"userID": a, "faceURL": "https://example.com/a.png"}})
	p := frAwait(t, bWS, events.UserInfoUpdated, testenv.Admin)
	var tips events.UserInfoUpdatedTips
	if frTips(t, p, &tips); tips.UserID != a {
		t.Fatalf("1303 tips = %+v", tips)
	}
}

// 1304 to online friends when a user's first connection opens and their last one closes.
func TestUserStatusChangeNotification(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, cTok := e.User("c")
	frBefriend(t, e, a, aTok, b, bTok)
	bWS := e.Dial(b, bTok, 1)
	cWS := e.Dial(c, cTok, 1)
	status := func(p testenv.Push) bool { return p.ContentType == events.UserStatusChange }

	a1 := e.Dial(a, aTok, 1)
	p := bWS.AwaitPush(30*time.Second, "1304 online", status)
	var tips events.UserStatusChangeTips
	frTips(t, p, &tips)
	if tips != (events.UserStatusChangeTips{FromUserID: a, ToUserID: b, Status: 1, PlatformID: 1}) || p.Seq != 0 || p.SendID != a || p.RecvID != b {
		t.Fatalf("1304 online = %+v %+v", p, tips)
	}
	cWS.NoPush(frQuiet, "1304 to a non-friend", status)

	// A second connection is not a status change; closing one of two is not either.
	a2 := e.Dial(a, e.Token(a, 5), 5)
	bWS.NoPush(frQuiet, "1304 for a second connection", status)
	a1.Conn.CloseNow()
	bWS.NoPush(frQuiet, "1304 while a connection remains", status)
	a2.Conn.CloseNow()
	p = bWS.AwaitPush(30*time.Second, "1304 offline", status)
	frTips(t, p, &tips)
	if tips != (events.UserStatusChangeTips{FromUserID: a, ToUserID: b, Status: 0, PlatformID: 5}) || p.Seq != 0 {
		t.Fatalf("1304 offline = %+v %+v", p, tips)
	}
	// Never stored: b's notification conversation holds only the friendship notifications.
	for _, m := range frPull(t, e, b) {
		if m.ContentType == events.UserStatusChange {
			t.Fatalf("1304 was stored: %+v", m)
		}
	}
}

func TestFriendLists(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	var friends []string
	for range 3 {
		f, fTok := e.User("f")
		frBefriend(t, e, a, aTok, f, fTok)
		friends = append(friends, f)
	}
	// Pages of 2: oldest friendship first (the friendships of one second are ordered by userID).
	var got []string
	for page := 1; page <= 2; page++ {
		list, total := frFriends(t, e, aTok, a, page, 2)
		if want := []int{2, 1}[page-1]; total != 3 || len(list) != want {
			t.Fatalf("page %d: %d entries, total %d", page, len(list), total)
		}
		for _, f := range list {
			got = append(got, f.FriendUser.UserID)
		}
	}
	if len(got) != 3 {
		t.Fatalf("pages hold %v, want the 3 friends %v", got, friends)
	}
	seen := map[string]bool{}
	for _, f := range got {
		seen[f] = true
	}
	for _, f := range friends {
		if !seen[f] {
			t.Fatalf("friend %s missing from %v", f, got)
		}
	}
	if list, total := frFriends(t, e, aTok, a, 3, 2); total != 3 || len(list) != 0 {
		t.Fatalf("past the end: %d entries, total %d", len(list), total)
	}
	r := e.MustOK("/friend/get_friend_list", aTok, map[string]any{"userID": a, "pagination": map[string]any{"pageNumber": 9, "showNumber": 20}})
	if !strings.Contains(string(r.Data), `"friendsInfo":[]`) {
		t.Fatalf("an empty page must be [], got %s", r.Data)
	}
	// An admin may read anyone's list.
	if _, total := frFriends(t, e, e.AdminToken(), a, 1, 10); total != 3 {
		t.Fatalf("admin read total %d", total)
	}

	// Applications: b received from p1 (refused), p2 (accepted), p3 (pending); p1 also applied to someone else.
	b, bTok := e.User("b")
	other, _ := e.User("o")
	var ps []string
	for i := range 3 {
		p, pTok := e.User("p")
		ps = append(ps, p)
		e.MustOK("/friend/add_friend", pTok, map[string]any{"fromUserID": p, "toUserID": b, "reqMsg": fmt.Sprint("req", i)})
		if i == 0 {
			e.MustOK("/friend/add_friend", pTok, map[string]any{"fromUserID": p, "toUserID": other})
		}
		time.Sleep(5 * time.Millisecond) // distinct createTime (ms): newest first is well defined
	}
	e.MustOK("/friend/add_friend_response", bTok, map[string]any{"fromUserID": ps[0], "toUserID": b, "handleResult": -1})
	e.MustOK("/friend/add_friend_response", bTok, map[string]any{"fromUserID": ps[1], "toUserID": b, "handleResult": 1})

	type applyList struct {
		Upper []frRequest `json:"FriendRequests"`
		Lower []frRequest `json:"friendRequests"`
		Total int         `json:"total"`
	}
	apply := func(path, tok, user string, page, size int, results []int) applyList {
		t.Helper()
		body := map[string]any{"userID": user, "pagination": map[string]any{"pageNumber": page, "showNumber": size}}
		if results != nil {
			body["handleResults"] = results
		}
		var l applyList
		e.MustOK(path, tok, body).Decode(t, &l)
		return l
	}
	l := apply("/friend/get_friend_apply_list", bTok, b, 1, 10, nil)
	if l.Total != 3 || len(l.Upper) != 3 || l.Lower != nil || l.Upper[0].FromUserID != ps[2] || l.Upper[1].FromUserID != ps[1] || l.Upper[2].FromUserID != ps[0] {
		t.Fatalf("apply list (all): %+v", l)
	}
	if r := l.Upper[1]; r.HandleResult != 1 || r.HandlerUserID != b || r.ToUserID != b || r.ToNickname != "nick-"+b || r.FromNickname != "nick-"+ps[1] || r.CreateTime < 1e12 || r.HandleTime < r.CreateTime {
		t.Fatalf("accepted application: %+v", r)
	}
	for _, c := range []struct {
		results []int
		want    []string
	}{{[]int{0}, ps[2:]}, {[]int{1}, ps[1:2]}, {[]int{-1}, ps[:1]}, {[]int{1, -1}, []string{ps[1], ps[0]}}, {[]int{}, []string{ps[2], ps[1], ps[0]}}} {
		l := apply("/friend/get_friend_apply_list", bTok, b, 1, 10, c.results)
		var from []string
		for _, r := range l.Upper {
			from = append(from, r.FromUserID)
		}
		if l.Total != len(c.want) || fmt.Sprint(from) != fmt.Sprint(c.want) {
			t.Fatalf("handleResults %v: got %v (total %d), want %v", c.results, from, l.Total, c.want)
		}
	}
	if l := apply("/friend/get_friend_apply_list", bTok, b, 2, 2, nil); l.Total != 3 || len(l.Upper) != 1 || l.Upper[0].FromUserID != ps[0] {
		t.Fatalf("apply list page 2: %+v", l)
	}
	if l := apply("/friend/get_friend_apply_list", bTok, b, 3, 2, nil); l.Total != 3 || len(l.Upper) != 0 {
		t.Fatalf("apply list past the end: %+v", l)
	}
	// Sent applications: key friendRequests, newest first.
	l = apply("/friend/get_self_friend_apply_list", e.Token(ps[0], 1), ps[0], 1, 10, nil)
	if l.Total != 2 || len(l.Lower) != 2 || l.Upper != nil || l.Lower[0].ToUserID != other || l.Lower[1].ToUserID != b || l.Lower[1].HandleResult != -1 {
		t.Fatalf("self apply list: %+v", l)
	}
	if l := apply("/friend/get_self_friend_apply_list", e.Token(ps[0], 1), ps[0], 1, 10, []int{0}); l.Total != 1 || l.Lower[0].ToUserID != other {
		t.Fatalf("self apply list (pending): %+v", l)
	}
	// Only the accepted applicant became b's friend.
	if list, total := frFriends(t, e, bTok, b, 1, 10); total != 1 || list[0].FriendUser.UserID != ps[1] {
		t.Fatalf("b's friends: %+v", list)
	}
}

// Every documented error of the friend operations, with the ID at fault in errMsg.
func TestFriendErrors(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, cTok := e.User("c")
	d, dTok := e.User("d")
	frBefriend(t, e, a, aTok, b, bTok)
	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": c})                              // pending a → c
	e.MustOK("/friend/add_black", dTok, map[string]any{"ownerUserID": d, "blackUserID": a})                           // d blocks a
	e.MustOK("/friend/add_friend", cTok, map[string]any{"fromUserID": c, "toUserID": d})                              // c → d ...
	e.MustOK("/friend/add_friend_response", dTok, map[string]any{"fromUserID": c, "toUserID": d, "handleResult": -1}) // ... refused
	ghost := "ghost" + a
	page := map[string]any{"pageNumber": 1, "showNumber": 20}

	for _, tc := range []struct {
		name, path, tok string
		body            map[string]any
		code            int
		msg             []string // substrings of errMsg
	}{
		{"add self", "/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": a}, 1001, []string{"toUserID", a}},
		{"add as other", "/friend/add_friend", bTok, map[string]any{"fromUserID": a, "toUserID": c}, 1003, []string{"fromUserID", a, b}},
		{"add unknown", "/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": ghost}, 1004, []string{"toUserID", ghost}},
		{"add friend", "/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b}, 1101, []string{a, b}},
		{"add blocked", "/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": d}, 1103, []string{a, d}},
		{"add pending", "/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": c}, 1105, []string{a, c}},
		{"add missing toUserID", "/friend/add_friend", aTok, map[string]any{"fromUserID": a}, 1001, []string{"toUserID"}},
		{"answer as applicant", "/friend/add_friend_response", aTok, map[string]any{"fromUserID": a, "toUserID": c, "handleResult": 1}, 1003, []string{"toUserID", c, a}},
		{"answer missing", "/friend/add_friend_response", cTok, map[string]any{"fromUserID": b, "toUserID": c, "handleResult": 1}, 1006, []string{b, c}},
		{"answer twice", "/friend/add_friend_response", dTok, map[string]any{"fromUserID": c, "toUserID": d, "handleResult": 1}, 1104, []string{c, d}},
		{"answer unknown user", "/friend/add_friend_response", cTok, map[string]any{"fromUserID": ghost, "toUserID": c, "handleResult": 1}, 1004, []string{ghost}},
		{"answer bad result", "/friend/add_friend_response", cTok, map[string]any{"fromUserID": a, "toUserID": c, "handleResult": 2}, 1001, []string{"handleResult"}},
		{"delete as other", "/friend/delete_friend", cTok, map[string]any{"ownerUserID": a, "friendUserID": b}, 1003, []string{"ownerUserID", a, c}},
		{"delete non-friend", "/friend/delete_friend", aTok, map[string]any{"ownerUserID": a, "friendUserID": c}, 1102, []string{a, c}},
		{"delete unknown", "/friend/delete_friend", aTok, map[string]any{"ownerUserID": a, "friendUserID": ghost}, 1004, []string{ghost}},
		{"remark as other", "/friend/set_friend_remark", bTok, map[string]any{"ownerUserID": a, "friendUserID": b, "remark": "x"}, 1003, []string{"ownerUserID", a}},
		{"remark non-friend", "/friend/set_friend_remark", aTok, map[string]any{"ownerUserID": a, "friendUserID": c, "remark": "x"}, 1102, []string{a, c}},
		{"remark unknown", "/friend/set_friend_remark", aTok, map[string]any{"ownerUserID": a, "friendUserID": ghost, "remark": "x"}, 1004, []string{ghost}},
		{"list as other", "/friend/get_friend_list", bTok, map[string]any{"userID": a, "pagination": page}, 1003, []string{"userID", a, b}},
		{"list page 0", "/friend/get_friend_list", aTok, map[string]any{"userID": a, "pagination": map[string]any{"pageNumber": 0, "showNumber": 20}}, 1001, []string{"pageNumber"}},
		{"black self", "/friend/add_black", aTok, map[string]any{"ownerUserID": a, "blackUserID": a}, 1001, []string{"blackUserID", a}},
		{"black as other", "/friend/add_black", bTok, map[string]any{"ownerUserID": a, "blackUserID": c}, 1003, []string{"ownerUserID", a}},
		{"black unknown", "/friend/add_black", aTok, map[string]any{"ownerUserID": a, "blackUserID": ghost}, 1004, []string{"blackUserID", ghost}},
		{"black twice", "/friend/add_black", dTok, map[string]any{"ownerUserID": d, "blackUserID": a}, 1007, []string{a, d}},
		{"unblack as other", "/friend/remove_black", aTok, map[string]any{"ownerUserID": d, "blackUserID": a}, 1003, []string{"ownerUserID", d}},
		{"unblack not blocked", "/friend/remove_black", aTok, map[string]any{"ownerUserID": a, "blackUserID": b}, 1006, []string{a, b}},
		{"unblack unknown", "/friend/remove_black", aTok, map[string]any{"ownerUserID": a, "blackUserID": ghost}, 1004, []string{ghost}},
		{"black list as other", "/friend/get_black_list", aTok, map[string]any{"userID": d, "pagination": page}, 1003, []string{"userID", d}},
		{"apply list as other", "/friend/get_friend_apply_list", aTok, map[string]any{"userID": c, "pagination": page}, 1003, []string{"userID", c}},
		{"apply list bad filter", "/friend/get_friend_apply_list", cTok, map[string]any{"userID": c, "pagination": page, "handleResults": []int{2}}, 1001, []string{"handleResults"}},
		{"self apply list as other", "/friend/get_self_friend_apply_list", cTok, map[string]any{"userID": a, "pagination": page}, 1003, []string{"userID", a}},
		{"update other user", "/user/update_user_info", bTok, map[string]any{"userInfo": map[string]any{"userID": a, "nickname": "x"}}, 1003, []string{a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Post(tc.path, tc.tok, tc.body)
			if r.ErrCode != tc.code {
				t.Fatalf("got %s, want errCode %d", r.Raw, tc.code)
			}
			for _, s := range tc.msg {
				if !strings.Contains(r.ErrMsg, s) {
					t.Fatalf("errMsg %q does not name %q", r.ErrMsg, s)
				}
			}
		})
	}

	// Admins act for anyone; unknown users are 1004 for them.
	admin := e.AdminToken()
	e.MustOK("/friend/add_friend_response", admin, map[string]any{"fromUserID": a, "toUserID": c, "handleResult": 1})
	if list, _ := frFriends(t, e, cTok, c, 1, 10); len(list) != 1 || list[0].OperatorUserID != testenv.Admin {
		t.Fatalf("admin-accepted friendship: %+v", list)
	}
	for _, path := range []string{"/friend/get_friend_list", "/friend/get_black_list", "/friend/get_friend_apply_list", "/friend/get_self_friend_apply_list"} {
		if r := e.Post(path, admin, map[string]any{"userID": ghost, "pagination": page}); r.ErrCode != 1004 || !strings.Contains(r.ErrMsg, ghost) {
			t.Fatalf("%s for an unknown user: %s", path, r.Raw)
		}
	}
	if r := e.Post("/friend/add_friend", admin, map[string]any{"fromUserID": ghost, "toUserID": a}); r.ErrCode != 1004 || !strings.Contains(r.ErrMsg, "fromUserID") {
		t.Fatalf("admin add_friend from an unknown user: %s", r.Raw)
	}
}
