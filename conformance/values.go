package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/imspec/imserver/client"
)

// Cases of the read/sync rules the specs state in words (values/<name>), each checking values the suite
// itself made: the seqs it sent, the members it added, the marks it set.

func (s *Suite) valueCases() []wsCase {
	return []wsCase{
		{"pullNumAndIsEnd", nil, valPullNum},
		{"historyPaging", nil, valHistoryPaging},
		{"joinHistory", nil, valJoinHistory},
		{"markReadKeepsHighest", nil, valMarkRead},
		{"friendListPaging", nil, valFriendPaging},
		{"idempotentSendTwice", nil, valIdempotent},
		{"othersNotifications", nil, valOthersNotifications},
		{"dismissDeleteMember", nil, valDismissDeleteMember},
		{"selfBlacklist", nil, valSelfBlacklist},
		{"mutedGroupOwnerSpeaks", nil, valMutedGroupOwnerSpeaks},
		{"revokeByOwner", nil, valRevokeByOwner},
	}
}

// sendN sends n text messages from a to b over REST (clientMsgIDs <tag>-1…) and returns them by seq.
func (e *env) sendN(a, b, tag string, n int) []map[string]any {
	var out []map[string]any
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s-%d", tag, i)
		d := e.sendREST(a, b, fmt.Sprintf("%s %d", tag, i), id)
		if num(d["seq"]) != i {
			e.t.Fatalf("sendMsg %d of %d from %s to %s: data.seq: want %d (the conversation's messages are numbered 1, 2, …), got %v", i, n, a, b, i, d["seq"])
		}
		d["clientMsgID"] = id
		out = append(out, d)
	}
	return out
}

// pullRange sends 1002 for one range and returns its PullMsgs (Msgs, isEnd, endSeq).
func (e *env) pullRange(w *watch, conv string, begin, end, n int64) (seqs []int64, isEnd bool) {
	e.t.Helper()
	f := e.request(w, 1002, map[string]any{"userID": w.user,
		"seqRanges": []any{map[string]any{"conversationID": conv, "begin": begin, "end": end, "num": n}}}, "pullMsgBySeqResp")
	var d map[string]map[string]struct {
		Msgs  []map[string]any `json:"Msgs"`
		IsEnd bool             `json:"isEnd"`
	}
	if err := json.Unmarshal(f.Data, &d); err != nil {
		e.t.Fatalf("%s: 1002 reply data: %v", w, err)
	}
	r, ok := d["msgs"][conv]
	if !ok {
		e.t.Fatalf("%s: 1002 reply: data.msgs has no %q (a requested conversation always appears): %s", w, conv, f.Data)
	}
	for _, m := range r.Msgs {
		seqs = append(seqs, int64(num(m["seq"])))
	}
	return seqs, r.IsEnd
}

func seqList(a, b int64) []int64 {
	var out []int64
	for s := a; s <= b; s++ {
		out = append(out, s)
	}
	return out
}

// valPullNum: five messages; a pull of 1..5 with num 2 returns the newest two (4, 5) and isEnd; 1..3 returns
// 1..3 and not isEnd (4 and 5 are newer).
func valPullNum(e *env) {
	a, b := e.user("user123"), e.user("user456")
	e.sendN(a, b, "pull", 5)
	w := e.connect(b, 1)
	conv := "single_" + pair(a, b)
	for _, c := range []struct {
		begin, end, num int64
		want            []int64
		isEnd           bool
	}{
		{1, 5, 2, []int64{4, 5}, true},
		{1, 3, 10, []int64{1, 2, 3}, false},
		{1, 5, 10, []int64{1, 2, 3, 4, 5}, true},
	} {
		got, isEnd := e.pullRange(w, conv, c.begin, c.end, c.num)
		if !slices.Equal(got, c.want) || isEnd != c.isEnd {
			e.t.Errorf("1002 PULL_MSG_BY_SEQ %s begin %d end %d num %d (5 messages stored): want seqs %v isEnd %v (at most num, the newest of the range; isEnd when the range reaches the newest), got seqs %v isEnd %v",
				conv, c.begin, c.end, c.num, c.want, c.isEnd, got, isEnd)
		}
	}
}

// valHistoryPaging: five messages read back two at a time: 5 4 | 3 2 | 1, no overlap, no gap, isEnd only on the
// last page.
func valHistoryPaging(e *env) {
	a, b := e.user("user123"), e.user("user456")
	sent := e.sendN(a, b, "page", 5)
	conv := "single_" + pair(a, b)
	start := ""
	var pages [][]int
	var ends []bool
	for i := 0; i < 4; i++ {
		d := e.read("getConversationMsg", b, map[string]any{"conversationID": conv, "count": 2.0, "startClientMsgID": start})
		var seqs []int
		msgs := list(d["messages"])
		for _, m := range msgs {
			seqs = append(seqs, num(obj(m)["seq"]))
		}
		pages, ends = append(pages, seqs), append(ends, d["isEnd"] == true)
		if d["isEnd"] == true || len(msgs) == 0 {
			break
		}
		start = str(obj(msgs[len(msgs)-1])["clientMsgID"])
	}
	want := [][]int{{5, 4}, {3, 2}, {1}}
	wantEnds := []bool{false, false, true}
	if fmt.Sprint(pages) != fmt.Sprint(want) || fmt.Sprint(ends) != fmt.Sprint(wantEnds) {
		e.t.Errorf("getConversationMsg of %s with count 2, paging back by the oldest clientMsgID of each page (5 messages %s…): want pages %v with isEnd %v, got %v with isEnd %v",
			conv, str(sent[0]["clientMsgID"]), want, wantEnds, pages, ends)
	}
}

// valJoinHistory: a member who joins after a message does not read it (history, pull), and reads what comes
// after.
func valJoinHistory(e *env) {
	e.fixtureGroup("group123", 0)
	g := e.id("group123")
	owner, late := e.id("user123"), e.id("user789")
	e.register("user789")
	conv := "group_" + g
	send := func(text, id string) int {
		d := e.setupCall("sendMsg", owner, map[string]any{"sendID": owner, "groupID": g, "sessionType": 3.0,
			"contentType": 101.0, "content": map[string]any{"content": text}, "clientMsgID": id})
		return num(d["seq"])
	}
	before := send("before the join", "join-before-"+e.ids.suffix)
	e.setupCall("inviteUserToGroup", owner, map[string]any{"groupID": g, "invitedUserIDs": []any{late}, "reason": "join"})
	after := send("after the join", "join-after-"+e.ids.suffix)
	d := e.read("getConversationMsg", late, map[string]any{"conversationID": conv, "count": 100.0, "startClientMsgID": ""})
	var seqs []int
	for _, m := range list(d["messages"]) {
		seqs = append(seqs, num(obj(m)["seq"]))
	}
	if slices.Contains(seqs, before) || !slices.Contains(seqs, after) {
		e.t.Errorf("getConversationMsg of %s by %s, who joined between seq %d and seq %d: want seq %d and not seq %d (members read from their joining on), got seqs %v",
			conv, late, before, after, after, before, seqs)
	}
	w := e.connect(late, 1)
	got, _ := e.pullRange(w, conv, 1, int64(after), 100)
	if slices.Contains(got, int64(before)) || !slices.Contains(got, int64(after)) {
		e.t.Errorf("1002 PULL_MSG_BY_SEQ %s 1..%d by %s, who joined after seq %d: want seq %d and not seq %d, got %v", conv, after, late, before, after, before, got)
	}
}

// valMarkRead: marks [3, 1] then [1]: hasReadSeq stays 3, unreadCount counts only what is newer.
func valMarkRead(e *env) {
	a, b := e.user("user123"), e.user("user456")
	e.sendN(a, b, "read", 4)
	conv := "single_" + pair(a, b)
	mark := func(seqs ...any) {
		e.setupCall("markMsgsAsRead", b, map[string]any{"conversationID": conv, "seqs": seqs, "userID": b})
	}
	mark(3.0, 1.0)
	mark(1.0)
	d := e.read("getConversations", b, map[string]any{"ownerUserID": b, "conversationIDs": []any{conv}})
	c := findBy(firstList(d), "conversationID", conv)
	if c == nil || num(c["hasReadSeq"]) != 3 || num(c["unreadCount"]) != 1 {
		e.t.Errorf("getConversations of %s after markMsgsAsRead [3, 1] then [1] (4 messages): want hasReadSeq 3 (the highest read; a lower mark never lowers it) and unreadCount 1, got %s", b, show(c))
	}
	h := e.read("getConversationMsg", b, map[string]any{"conversationID": conv, "count": 10.0, "startClientMsgID": ""})
	for _, m := range list(h["messages"]) {
		mo := obj(m)
		if want := num(mo["seq"]) <= 3; mo["isRead"] != want {
			e.t.Errorf("getConversationMsg of %s by %s: seq %d: isRead: want %v (read up to seq 3), got %v", conv, b, num(mo["seq"]), want, mo["isRead"])
		}
	}
}

// valFriendPaging: three friends, pages of two: 2 then 1, total 3 on both, no friend twice.
func valFriendPaging(e *env) {
	a := e.user("user123")
	var friends []string
	for i := 0; i < 3; i++ {
		f := fmt.Sprintf("pal%d%s", i, e.ids.suffix)
		e.registerPlain(f)
		replay("addFriend/seed", setID("fromUserID", a), setID("toUserID", f), asID(a)).run(e, &exampleCall{body: map[string]any{}})
		replay("addFriendResponse/accept", setID("fromUserID", a), setID("toUserID", f), asID(f)).run(e, &exampleCall{body: map[string]any{}})
		friends = append(friends, f)
	}
	var got []string
	var sizes []int
	for page := 1; page <= 2; page++ {
		d := e.read("getFriendList", a, map[string]any{"userID": a, "pagination": map[string]any{"pageNumber": float64(page), "showNumber": 2.0}})
		l := firstList(d)
		sizes = append(sizes, len(l))
		for _, f := range l {
			v, _ := lookup(f, "friendUser.userID")
			got = append(got, str(v))
		}
		if num(d["total"]) != 3 {
			e.t.Errorf("getFriendList page %d of %s: total: want 3, got %v", page, a, d["total"])
		}
	}
	sort.Strings(got)
	if fmt.Sprint(sizes) != "[2 1]" || strings.Join(got, ",") != strings.Join(friends, ",") {
		e.t.Errorf("getFriendList of %s (3 friends %v) in pages of 2: want 2 then 1 friends, all three once, got sizes %v, friends %v", a, friends, sizes, got)
	}
}

// valIdempotent: the same sendMsg twice (same sender, same clientMsgID): the same seq and serverMsgID, and one
// message in the history.
func valIdempotent(e *env) {
	a, b := e.user("user123"), e.user("user456")
	id := "twice-" + e.ids.suffix
	first := e.sendREST(a, b, "twice", id)
	second := e.sendREST(a, b, "twice", id)
	if num(first["seq"]) != num(second["seq"]) || str(first["serverMsgID"]) != str(second["serverMsgID"]) {
		e.t.Errorf("sendMsg twice with clientMsgID %s: want the first result again, got seq %v serverMsgID %v, then seq %v serverMsgID %v",
			id, first["seq"], first["serverMsgID"], second["seq"], second["serverMsgID"])
	}
	d := e.read("getConversationMsg", b, map[string]any{"conversationID": "single_" + pair(a, b), "count": 10.0, "startClientMsgID": ""})
	if n := len(list(d["messages"])); n != 1 {
		e.t.Errorf("getConversationMsg after sending clientMsgID %s twice: want 1 message, got %d", id, n)
	}
}

// valOthersNotifications: a user reads neither another user's notification conversation's history nor its
// pull (1003).
func valOthersNotifications(e *env) {
	a, b := e.user("user123"), e.user("user456")
	e.setupCall("updateUserInfo", b, map[string]any{"userInfo": map[string]any{"userID": b, "nickname": "changed"}}) // b has a notification now
	conv := "notification_" + b
	body, _ := json.Marshal(map[string]any{"conversationID": conv, "count": 10.0, "startClientMsgID": ""})
	if r := e.post(e.s.opByID["getConversationMsg"], a, body, nil); r.errCode() != 1003 {
		e.t.Errorf("getConversationMsg of %s by %s: want errCode 1003 (another user's notifications), got %s", conv, a, r.describe())
	}
	w := e.connect(a, 1)
	f, err := w.ws.Request(e.ctx, 1002, map[string]any{"userID": a,
		"seqRanges": []any{map[string]any{"conversationID": conv, "begin": 1, "end": 10, "num": 10}}})
	code := f.ErrCode
	var ae *client.APIError
	if errors.As(err, &ae) {
		code = ae.Code
	} else if err != nil {
		e.t.Fatalf("1002 PULL_MSG_BY_SEQ of %s by %s: %v", conv, a, err)
	}
	if code != 1003 {
		e.t.Errorf("1002 PULL_MSG_BY_SEQ of %s by %s: want errCode 1003 (another user's notifications), got %d: %s", conv, a, code, f.Data)
	}
}

// valDismissDeleteMember: dismissGroup with deleteMember true: every member is told (1511), and then no longer
// has the group (1001 no longer lists its conversation).
func valDismissDeleteMember(e *env) {
	e.fixtureGroup("group123", 0)
	g := e.id("group123")
	owner, member := e.id("user123"), e.id("user456")
	w := e.connect(member, 1)
	e.setupCall("dismissGroup", owner, map[string]any{"groupID": g, "deleteMember": true})
	ps := w.await(1, EventDeadline, func(p client.Push) bool { return int(p.Msg.ContentType) == 1511 })
	if len(ps) == 0 {
		e.t.Errorf("%s: dismissGroup with deleteMember true: want 1511 GroupDismissed (it was a member), got none%s", w, w.seen())
	}
	maxSeqs, _ := e.newestSeq(w)
	if _, ok := maxSeqs["group_"+g]; ok {
		e.t.Errorf("%s: 1001 after dismissGroup with deleteMember true: want no group_%s (no longer a member), got %v", w, g, maxSeqs)
	}
}

// valSelfBlacklist: blacklisting oneself is 1001 (addBlack's description).
func valSelfBlacklist(e *env) {
	a := e.user("user123")
	body, _ := json.Marshal(map[string]any{"ownerUserID": a, "blackUserID": a, "ex": ""})
	r := e.post(e.s.opByID["addBlack"], a, body, nil)
	e.checkReply(e.s.opByID["addBlack"], r, map[string]any{"errCode": 1001.0}, prep{})
}

// valMutedGroupOwnerSpeaks: in a muted group the owner and admins may still send (muteGroup's description);
// an ordinary member gets 1204.
func valMutedGroupOwnerSpeaks(e *env) {
	e.fixtureGroup("group123", 0)
	g := e.id("group123")
	owner, member := e.id("user123"), e.id("user456")
	e.setupCall("muteGroup", owner, map[string]any{"groupID": g})
	send := func(from string) reply {
		b, _ := json.Marshal(map[string]any{"sendID": from, "groupID": g, "sessionType": 3.0, "contentType": 101.0,
			"content": map[string]any{"content": "muted?"}})
		return e.post(e.s.opByID["sendMsg"], from, b, nil)
	}
	e.checkReply(e.s.opByID["sendMsg"], send(owner), map[string]any{"errCode": 0.0}, prep{})
	if r := send(owner); r.errCode() == 0 && num(obj(r.data())["seq"]) < 1 {
		e.t.Errorf("sendMsg by the owner %s to the muted group %s: want a stored message (seq > 0), got %s", owner, g, r.raw)
	}
	e.checkReply(e.s.opByID["sendMsg"], send(member), map[string]any{"errCode": 1204.0}, prep{})
}

// valRevokeByOwner: the owner revokes a member's group message: the member gets 2101 naming the owner as the
// revoker, and the history shows the message as a revoke notice (contentType 2101) at its seq.
func valRevokeByOwner(e *env) {
	e.fixtureGroup("group123", 0)
	g := e.id("group123")
	owner, member := e.id("user123"), e.id("user456")
	conv := "group_" + g
	d := e.setupCall("sendMsg", member, map[string]any{"sendID": member, "groupID": g, "sessionType": 3.0,
		"contentType": 101.0, "content": map[string]any{"content": "to be revoked"}, "clientMsgID": "revoked-" + e.ids.suffix})
	seq := num(d["seq"])
	w := e.connect(member, 1)
	e.setupCall("revokeMsg", owner, map[string]any{"conversationID": conv, "seq": float64(seq), "userID": owner})
	ps := w.await(1, EventDeadline, func(p client.Push) bool { return int(p.Msg.ContentType) == 2101 })
	if len(ps) == 0 {
		e.t.Fatalf("%s: the owner %s revoked seq %d of %s: want 2101 within %s%s", w, owner, seq, conv, EventDeadline, w.seen())
	}
	tips, err := e.s.decodeTips(ps[0].Msg.Content, "RevokeMsgTips")
	if err != nil {
		e.t.Fatalf("%s: 2101: %v", w, err)
	}
	if str(tips["revokerUserID"]) != owner || num(tips["seq"]) != seq {
		e.t.Errorf("%s: 2101 Tips: want revokerUserID %s (who revoked, not the sender %s) and seq %d, got %s", w, owner, member, seq, show(tips))
	}
	h := e.read("getConversationMsg", member, map[string]any{"conversationID": conv, "count": 20.0, "startClientMsgID": ""})
	for _, m := range list(h["messages"]) {
		if mo := obj(m); num(mo["seq"]) == seq && num(mo["contentType"]) != 2101 {
			e.t.Errorf("getConversationMsg of %s: seq %d was revoked: want contentType 2101 (a revoke notice), got %v", conv, seq, mo["contentType"])
		}
	}
}
