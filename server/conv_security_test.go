package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/testenv"
)

// sqlExec runs statements on the test's database: the state an older server (or a lost kick) left behind.
func sqlExec(t *testing.T, e *testenv.Env, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Issue 13, Critical (1): x/y_z and x_y/z would share single_x_y_z. User IDs have no "_" now.
func TestUserIDAlphabet(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	x := testenv.ID("x")
	register := func(id string) int {
		return e.Post("/auth/user_register", "", map[string]any{"secret": testenv.Secret, "users": []map[string]any{{"userID": id}}}).ErrCode
	}
	for name, id := range map[string]string{
		"separator":     x + "_y",
		"space":         "a " + x,
		"RTL override":  x + "\u202e",
		"leading dot":   "." + x,
		"65 characters": strings.Repeat("a", 65),
		"non-ASCII":     x + "é",
	} {
		if c := register(id); c != 1001 {
			t.Errorf("%s: registering %q gave errCode %d, want 1001", name, id, c)
		}
	}
	for _, id := range []string{x, "a.b@c+d-" + x, strings.Repeat("z", 58) + x[:6]} {
		if c := register(id); c != 0 {
			t.Errorf("registering %q gave errCode %d, want 0", id, c)
		}
	}
	// The same rule on the other paths that name a user: a token, a WS connection.
	if r := e.Post("/auth/user_token", "", map[string]any{"secret": testenv.Secret, "userID": x + "_y", "platformID": 1}); r.ErrCode != 1001 {
		t.Errorf("user_token for x_y: %s", r.Raw)
	}
	tok := e.Token(x, 1)
	if _, err := e.TryDial(x+"_y", tok, 1); err == nil || !strings.Contains(err.Error(), "1001") {
		t.Errorf("WS connect as x_y: %v", err)
	}
	for _, p := range []int{0, 13, -1} {
		if _, err := e.TryDial(x, tok, p); err == nil {
			t.Errorf("WS connect on platformID %d accepted", p)
		}
	}
}

// Issue 13, Critical (2): smith7 named a peer that does not exist (alice7_bob7) in set_conversations and then
// read the chat of alice7 and bob7_smith7 (a user registered before the alphabet rule) from seq 1.
func TestSetConversationsGrantsNoRead(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	alice, aliceTok := e.User("alice")
	smith, smithTok := e.User("smith")
	bob := testenv.ID("bob") + "_" + smith // legacy: only the database can hold it now
	conv := "single_" + alice + "_" + bob  // alice < bob: "a" < "b"
	sqlExec(t, e,
		fmt.Sprintf(`INSERT INTO users (user_id, create_time) VALUES ('%s', 1)`, bob),
		fmt.Sprintf(`INSERT INTO conversation_seqs (conversation_id, max_seq, max_seq_time) VALUES ('%s', 1, 1)`, conv),
		fmt.Sprintf(`INSERT INTO messages (conversation_id, seq, server_msg_id, client_msg_id, send_id, recv_id, session_type, content_type, content, send_time)
		             VALUES ('%s', 1, 's1', 'c1', '%s', '%s', 1, 101, '{"content":"secret plan A"}', 1)`, conv, alice, bob),
		fmt.Sprintf(`INSERT INTO conversations (owner_user_id, conversation_id, conversation_type, user_id) VALUES ('%s', '%s', 1, '%s'), ('%s', '%s', 1, '%s')`,
			alice, conv, bob, bob, conv, alice),
	)
	// alice herself is a party by the ID's parse only if bob fits the alphabet; he does not, so even she
	// cannot read it (docs/decisions.md#d31-user-ids-and-single-chat-ids: such users must be re-registered).
	peer := alice + "_" + strings.TrimSuffix(bob, "_"+smith)
	for _, body := range []map[string]any{
		{"userIDs": []string{smith}, "conversation": map[string]any{"conversationID": conv, "userID": peer, "isPinned": true}},
		{"userIDs": []string{smith}, "conversation": map[string]any{"conversationID": conv, "isPinned": true}},
	} {
		if r := e.Post("/conversation/set_conversations", smithTok, body); r.ErrCode == 0 {
			t.Fatalf("set_conversations for another pair's chat accepted: %v", body)
		}
	}
	// Even with the row an older server let smith create, nothing of the chat shows.
	sqlExec(t, e, fmt.Sprintf(`INSERT INTO conversations (owner_user_id, conversation_id, conversation_type, user_id) VALUES ('%s', '%s', 1, '%s')`, smith, conv, peer))
	if r := e.Post("/msg/get_conversation_msg", smithTok, map[string]any{"conversationID": conv, "count": 10}); r.ErrCode != 1003 || strings.Contains(string(r.Raw), "secret") {
		t.Fatalf("history of another pair's chat: %s", r.Raw)
	}
	ws := e.Dial(smith, smithTok, 1)
	if r := ws.Call(1002, map[string]any{"userID": smith, "seqRanges": []map[string]any{{"conversationID": conv, "begin": 1, "end": 10, "num": 10}}}); r.ErrCode != 1003 || strings.Contains(string(r.Data), "secret") {
		t.Fatalf("pull of another pair's chat: %+v %s", r, r.Data)
	}
	if _, ok := conversations(t, e, smithTok, smith)[conv]; ok {
		t.Fatal("smith lists another pair's chat")
	}
	var seqs struct{ MaxSeqs map[string]int64 }
	if r := ws.Call(1001, map[string]any{"userID": smith}); r.ErrCode != 0 || json.Unmarshal(r.Data, &seqs) != nil {
		t.Fatalf("1001: %+v", r)
	} else if _, ok := seqs.MaxSeqs[conv]; ok {
		t.Fatalf("1001 names another pair's chat: %v", seqs.MaxSeqs)
	}

	// A real peer that does not exist is refused too, and a real chat stays readable by its parties.
	ghost := chat.SingleConversationID(smith, testenv.ID("ghost"))
	if r := e.Post("/conversation/set_conversations", smithTok, map[string]any{"userIDs": []string{smith}, "conversation": map[string]any{"conversationID": ghost, "isPinned": true}}); r.ErrCode != 1003 {
		t.Fatalf("set_conversations with a peer that does not exist: %s", r.Raw)
	}
	ok := chat.SingleConversationID(alice, smith)
	e.MustOK("/conversation/set_conversations", smithTok, map[string]any{"userIDs": []string{smith}, "conversation": map[string]any{"conversationID": ok, "userID": alice, "isPinned": true}})
	sendREST(t, e, aliceTok, alice, smith, "hi", "")
	var h struct{ Messages []testenv.Push }
	e.MustOK("/msg/get_conversation_msg", smithTok, map[string]any{"conversationID": ok, "count": 10}).Decode(t, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("own chat: %+v", h.Messages)
	}
}

// Issue 13, High 4: after kick_group the kicked member's lists kept showing the group's new messages.
func TestKickedMemberViewsStop(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	f := gSetup(t, e, nil)
	conv := chat.GroupConversationID(f.gid)
	if c := gSend(t, e, f.owner, f.gid, "before kick"); c != 0 {
		t.Fatalf("send: %d", c)
	}
	before := conversations(t, e, f.member.tok, f.member.id)[conv]
	e.MustOK("/group/kick_group", f.owner.tok, map[string]any{"groupID": f.gid, "kickedUserIDs": []string{f.member.id}, "reason": "x"})
	for i := range 3 {
		if c := gSend(t, e, f.owner, f.gid, fmt.Sprintf("after kick: secret plan B%d", i)); c != 0 {
			t.Fatalf("send: %d", c)
		}
	}
	for name, got := range map[string]convView{
		"get_all_conversations": conversations(t, e, f.member.tok, f.member.id)[conv],
		"get_conversations":     conversations(t, e, f.member.tok, f.member.id, conv)[conv],
	} {
		if got.ConversationID != conv || got.MaxSeq != before.MaxSeq || got.UnreadCount != before.UnreadCount ||
			got.LatestMsg.Seq != before.LatestMsg.Seq || strings.Contains(got.LatestMsg.Content, "plan B") {
			t.Errorf("%s after the kick: %+v, want it as before: %+v", name, got, before)
		}
	}
	var seqs struct{ MaxSeqs map[string]int64 }
	if r := f.member.ws.Call(1001, map[string]any{"userID": f.member.id}); r.ErrCode != 0 || json.Unmarshal(r.Data, &seqs) != nil || seqs.MaxSeqs[conv] > before.MaxSeq {
		t.Errorf("1001 after the kick: %+v %v", r, seqs.MaxSeqs)
	}

	// Invited back, the member's views move again.
	e.MustOK("/group/invite_user_to_group", f.owner.tok, map[string]any{"groupID": f.gid, "invitedUserIDs": []string{f.member.id}})
	if c := gSend(t, e, f.owner, f.gid, "welcome back"); c != 0 {
		t.Fatalf("send: %d", c)
	}
	if got := conversations(t, e, f.member.tok, f.member.id)[conv]; !strings.Contains(got.LatestMsg.Content, "welcome back") {
		t.Errorf("after rejoining: %+v", got)
	}
}

// Issue 13, Medium 2: conversation lists were unpaginated (330 forced groups: a 112 MB reply).
func TestConversationPagination(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	u, tok := e.User("u")
	for range 3 {
		p, _ := e.User("p")
		sendREST(t, e, tok, u, p, "hi", "")
	}
	page := func(n, size int) ([]string, int) {
		var d struct {
			Conversations []convView
			Total         int
		}
		e.MustOK("/conversation/get_all_conversations", tok, map[string]any{"ownerUserID": u, "pagination": map[string]int{"pageNumber": n, "showNumber": size}}).Decode(t, &d)
		var ids []string
		for _, c := range d.Conversations {
			ids = append(ids, c.ConversationID)
		}
		return ids, d.Total
	}
	p1, total := page(1, 2)
	p2, total2 := page(2, 2)
	p3, total3 := page(3, 2)
	if len(p1) != 2 || len(p2) != 1 || len(p3) != 0 || total != 3 || total2 != 3 || total3 != 3 || p1[0] == p2[0] || p1[1] == p2[0] {
		t.Fatalf("pages %v %v %v, totals %d %d %d", p1, p2, p3, total, total2, total3)
	}
	var all struct {
		Conversations []convView
		Total         int
	}
	e.MustOK("/conversation/get_all_conversations", tok, map[string]any{"ownerUserID": u}).Decode(t, &all)
	if len(all.Conversations) != 3 || all.Total != 3 {
		t.Fatalf("no pagination: %d conversations, total %d", len(all.Conversations), all.Total)
	}
	if r := e.Post("/conversation/get_all_conversations", tok, map[string]any{"ownerUserID": u, "pagination": map[string]int{"pageNumber": 1, "showNumber": chat.MaxConversationPage + 1}}); r.ErrCode != 1001 {
		t.Fatalf("showNumber past the maximum: %s", r.Raw)
	}
	ids := make([]string, chat.MaxConversationPage+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("group_g%d", i)
	}
	if r := e.Post("/conversation/get_conversations", tok, map[string]any{"ownerUserID": u, "conversationIDs": ids}); r.ErrCode != 1001 {
		t.Fatalf("conversationIDs past the maximum: %s", r.Raw)
	}
}

// Issue 13, High 5: a forbidden user's sends are refused by the send itself, whatever became of the kick
// (here the forbid is written without one, as when a node's NATS connection was down), with the same
// errCode as its REST calls get.
func TestForbiddenSenderRefused(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	u, tok := e.User("u")
	p, pTok := e.User("p")
	f := gSetup(t, e, nil)
	e.MustOK("/group/invite_user_to_group", f.owner.tok, map[string]any{"groupID": f.gid, "invitedUserIDs": []string{u}})
	ws := e.Dial(u, tok, 1)
	sqlExec(t, e, fmt.Sprintf(`UPDATE users SET forbidden_type = 1 WHERE user_id = '%s'`, u))

	single := map[string]any{"sendID": u, "recvID": p, "sessionType": 1, "contentType": 101, "content": `{"content":"x"}`}
	group := map[string]any{"sendID": u, "groupID": f.gid, "sessionType": 3, "contentType": 101, "content": `{"content":"x"}`}
	typing := map[string]any{"sendID": u, "recvID": p, "sessionType": 1, "contentType": 113, "content": `{"msgTips":"typing"}`}
	for name, d := range map[string]map[string]any{"single": single, "group": group, "typing": typing} {
		if r := ws.Call(1003, d); r.ErrCode != 1002 || !strings.Contains(r.ErrMsg, "forbidden") {
			t.Errorf("WS %s send of a forbidden user: %+v", name, r)
		}
	}
	if r := e.Post("/msg/send_msg", tok, map[string]any{"sendID": u, "recvID": p, "content": textContent("x"), "contentType": 101, "sessionType": 1}); r.ErrCode != 1002 {
		t.Errorf("REST send of a forbidden user: %s", r.Raw)
	}
	// An admin acting for the user reaches the writer's check itself.
	if r := e.Post("/msg/send_msg", e.AdminToken(), map[string]any{"sendID": u, "recvID": p, "content": textContent("x"), "contentType": 101, "sessionType": 1}); r.ErrCode != 1002 {
		t.Errorf("admin send as a forbidden user: %s", r.Raw)
	}
	var h struct{ Messages []testenv.Push }
	e.MustOK("/msg/get_conversation_msg", pTok, map[string]any{"conversationID": chat.SingleConversationID(u, p), "count": 10}).Decode(t, &h)
	if len(h.Messages) != 0 {
		t.Fatalf("stored from a forbidden user: %+v", h.Messages)
	}
}

// Issue 13, Low: an unforbidden user's tokens from before the forbid stayed good.
func TestForbidRetiresTokens(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	u, tok := e.User("u")
	admin := e.AdminToken()
	e.MustOK("/manager/forbid_user", admin, map[string]any{"userID": u, "reason": "spam"})
	e.MustOK("/manager/unforbid_user", admin, map[string]any{"userID": u})
	if r := e.Post("/user/get_users_info", tok, map[string]any{"userIDs": []string{u}}); r.ErrCode != 1002 {
		t.Fatalf("pre-forbid token after unforbid: %s", r.Raw)
	}
	if _, err := e.TryDial(u, tok, 1); err == nil {
		t.Fatal("pre-forbid token connects after unforbid")
	}
	e.MustOK("/user/get_users_info", e.Token(u, 1), map[string]any{"userIDs": []string{u}})
}

// Issue 13, Low: a message carried whatever senderNickname and senderFaceURL the client claimed.
func TestSenderProfileFromDatabase(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	conv := chat.SingleConversationID(a, b)
	body := func(text string) map[string]any {
		return map[string]any{"sendID": a, "recvID": b, "content": textContent(text), "contentType": 101, "sessionType": 1,
			"senderNickname": "System Administrator", "senderFaceURL": "https://evil.example/face.png"}
	}
	e.MustOK("/msg/send_msg", aTok, body("from a"))
	ws := e.Dial(a, aTok, 1)
	d := body("over ws")
	d["content"] = `{"content":"over ws"}`
	if r := ws.Call(1003, d); r.ErrCode != 0 {
		t.Fatalf("1003: %+v", r)
	}
	e.MustOK("/msg/send_msg", e.AdminToken(), body("by admin"))
	var h struct {
		Messages []struct {
			Content, SenderNickname, SenderFaceURL string
		}
	}
	e.MustOK("/msg/get_conversation_msg", bTok, map[string]any{"conversationID": conv, "count": 10}).Decode(t, &h)
	if len(h.Messages) != 3 {
		t.Fatalf("history: %+v", h.Messages)
	}
	for _, m := range h.Messages {
		admin := strings.Contains(m.Content, "by admin")
		if admin != (m.SenderNickname == "System Administrator") || admin != (m.SenderFaceURL != "") {
			t.Errorf("%s: nickname %q face %q", m.Content, m.SenderNickname, m.SenderFaceURL)
		}
		if !admin && m.SenderNickname != "nick-"+a {
			t.Errorf("%s: nickname %q, want the profile's %q", m.Content, m.SenderNickname, "nick-"+a)
		}
	}
}
