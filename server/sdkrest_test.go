package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imspec/imserver/gen/openim/jssdkpb"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/syncver"
	"github.com/imspec/imserver/server/internal/testenv"
)

// The OpenIM SDK profile's REST routes (issue 16): a change, then an incremental sync from the version before
// it, shows exactly that change; nobody reads another user's lists.

// incr is the common part of an incremental-sync reply; Insert/Update hold the raw items.
type incr struct {
	Version     int64             `json:"version"`
	VersionID   string            `json:"versionID"`
	Full        bool              `json:"full"`
	Delete      []string          `json:"delete"`
	Insert      []json.RawMessage `json:"insert"`
	Update      []json.RawMessage `json:"update"`
	SortVersion *int64            `json:"sortVersion"`
}

// ids returns the value of key in each raw item (an item's ID field, or a nested one with a path of two).
func ids(t *testing.T, items []json.RawMessage, path ...string) []string {
	t.Helper()
	out := []string{}
	for _, raw := range items {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		for _, k := range path {
			v = v.(map[string]any)[k]
		}
		out = append(out, v.(string))
	}
	slices.Sort(out)
	return out
}

func sdkSync(t *testing.T, e *testenv.Env, path, tok, userID string, from incr) incr {
	t.Helper()
	var d incr
	e.MustOK(path, tok, map[string]any{"userID": userID, "version": from.Version, "versionID": from.VersionID}).Decode(t, &d)
	if d.Version <= 0 || d.VersionID == "" || d.Delete == nil || d.Insert == nil || d.Update == nil {
		t.Fatalf("%s: reply without a version or with null lists: %+v", path, d)
	}
	return d
}

// changes checks a sync reply is a difference (not full) with these IDs inserted, updated and deleted.
func changes(t *testing.T, what string, d incr, path []string, insert, update, del []string) {
	t.Helper()
	gotI, gotU := ids(t, d.Insert, path...), ids(t, d.Update, path...)
	if d.Full || !slices.Equal(gotI, insert) || !slices.Equal(gotU, update) || !slices.Equal(d.Delete, del) {
		t.Fatalf("%s: full=%v insert %v update %v delete %v; want full=false insert %v update %v delete %v",
			what, d.Full, gotI, gotU, d.Delete, insert, update, del)
	}
}

func TestSDKFriendSync(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("sfa")
	b, bTok := e.User("sfb")
	c, cTok := e.User("sfc")
	const path = "/friend/get_incremental_friends"
	friendID := []string{"friendUser", "userID"}

	v0 := sdkSync(t, e, path, aTok, a, incr{})
	if !v0.Full || len(v0.Insert)+len(v0.Update)+len(v0.Delete) != 0 || v0.SortVersion == nil {
		t.Fatalf("first sync: want full with empty lists and sortVersion, got %+v", v0)
	}
	changes(t, "nothing changed", sdkSync(t, e, path, aTok, a, v0), friendID, []string{}, []string{}, []string{})

	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b, "reqMsg": "hi"})
	e.MustOK("/friend/add_friend_response", bTok, map[string]any{"fromUserID": a, "toUserID": b, "handleResult": 1})
	v1 := sdkSync(t, e, path, aTok, a, v0)
	changes(t, "after befriending", v1, friendID, []string{b}, []string{}, []string{})
	if v1.Version == v0.Version || v1.VersionID == v0.VersionID {
		t.Fatalf("the version did not move: %d/%s then %d/%s", v0.Version, v0.VersionID, v1.Version, v1.VersionID)
	}

	e.MustOK("/friend/set_friend_remark", aTok, map[string]any{"ownerUserID": a, "friendUserID": b, "remark": "bee"})
	v2 := sdkSync(t, e, path, aTok, a, v1)
	changes(t, "after the remark", v2, friendID, []string{}, []string{b}, []string{})
	var f struct{ Remark string }
	if err := json.Unmarshal(v2.Update[0], &f); err != nil || f.Remark != "bee" {
		t.Fatalf("updated friend %s: want remark bee", v2.Update[0])
	}
	// A client two changes behind gets both folded into one difference.
	changes(t, "from before the friendship", sdkSync(t, e, path, aTok, a, v0), friendID, []string{b}, []string{}, []string{})

	e.MustOK("/friend/delete_friend", aTok, map[string]any{"ownerUserID": a, "friendUserID": b})
	changes(t, "after the delete", sdkSync(t, e, path, aTok, a, v2), friendID, []string{}, []string{}, []string{b})

	// A version the server does not know (or of another list) is full, never a wrong difference.
	if d := sdkSync(t, e, path, aTok, a, incr{Version: v1.Version, VersionID: "forged"}); !d.Full {
		t.Fatalf("a forged versionID: want full, got %+v", d)
	}
	cv := sdkSync(t, e, path, cTok, c, incr{})
	if d := sdkSync(t, e, path, aTok, a, cv); !d.Full {
		t.Fatalf("another user's version: want full, got %+v", d)
	}
	// Nobody reads another user's friends.
	if r := e.Post(path, cTok, map[string]any{"userID": a}); r.ErrCode != 1003 {
		t.Fatalf("c syncing a's friends: errCode %d %q, want 1003", r.ErrCode, r.ErrMsg)
	}
	if d := sdkSync(t, e, path, cTok, c, v2); !d.Full || len(d.Insert)+len(d.Update) != 0 {
		t.Fatalf("c with a's version: want full with nothing of a's, got %+v", d)
	}
}

func TestSDKFriendLookups(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("sla")
	b, bTok := e.User("slb")
	c, cTok := e.User("slc")
	e.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": b, "reqMsg": "hi"})

	// The application, to either party; nobody else.
	var app struct {
		FriendRequests []struct {
			FromUserID, ToUserID, ReqMsg string
			HandleResult                 int
		}
	}
	e.MustOK("/friend/get_designated_friend_apply", bTok, map[string]any{"fromUserID": a, "toUserID": b}).Decode(t, &app)
	if len(app.FriendRequests) != 1 || app.FriendRequests[0].FromUserID != a || app.FriendRequests[0].ReqMsg != "hi" || app.FriendRequests[0].HandleResult != 0 {
		t.Fatalf("designated application: %+v", app)
	}
	if r := e.Post("/friend/get_designated_friend_apply", cTok, map[string]any{"fromUserID": a, "toUserID": b}); r.ErrCode != 1003 {
		t.Fatalf("a bystander reading the application: errCode %d, want 1003", r.ErrCode)
	}
	e.MustOK("/friend/get_designated_friend_apply", aTok, map[string]any{"fromUserID": b, "toUserID": a}).Decode(t, &app)
	if len(app.FriendRequests) != 0 {
		t.Fatalf("no application from b to a: got %+v", app)
	}

	e.MustOK("/friend/add_friend_response", bTok, map[string]any{"fromUserID": a, "toUserID": b, "handleResult": 1})
	var full struct {
		Version   int64
		VersionID string
		Equal     bool
		UserIDs   []string
	}
	e.MustOK("/friend/get_full_friend_user_ids", aTok, map[string]any{"userID": a, "idHash": 0}).Decode(t, &full)
	if full.Equal || !slices.Equal(full.UserIDs, []string{b}) || full.Version <= 0 {
		t.Fatalf("full friend IDs: %+v", full)
	}
	// The version is the incremental sync's: from it nothing changed.
	changes(t, "from the full list's version", sdkSync(t, e, "/friend/get_incremental_friends", aTok, a, incr{Version: full.Version, VersionID: full.VersionID}),
		[]string{"friendUser", "userID"}, []string{}, []string{}, []string{})
	e.MustOK("/friend/get_full_friend_user_ids", aTok, map[string]any{"userID": a, "idHash": syncver.IDHash([]string{b})}).Decode(t, &full)
	if !full.Equal || len(full.UserIDs) != 0 {
		t.Fatalf("full friend IDs with the matching hash: want equal and no IDs, got %+v", full)
	}
	if r := e.Post("/friend/get_full_friend_user_ids", cTok, map[string]any{"userID": a}); r.ErrCode != 1003 {
		t.Fatalf("c reading a's friend IDs: errCode %d, want 1003", r.ErrCode)
	}

	var isf struct{ InUser1Friends, InUser2Friends bool }
	e.MustOK("/friend/is_friend", aTok, map[string]any{"userID1": a, "userID2": b}).Decode(t, &isf)
	if !isf.InUser1Friends || !isf.InUser2Friends {
		t.Fatalf("is_friend a b: %+v", isf)
	}
	e.MustOK("/friend/is_friend", aTok, map[string]any{"userID1": a, "userID2": c}).Decode(t, &isf)
	if isf.InUser1Friends || isf.InUser2Friends {
		t.Fatalf("is_friend a c: %+v", isf)
	}
	if r := e.Post("/friend/is_friend", cTok, map[string]any{"userID1": a, "userID2": b}); r.ErrCode != 1003 {
		t.Fatalf("c asking about a and b: errCode %d, want 1003", r.ErrCode)
	}

	var des struct {
		FriendsInfo []struct {
			OwnerUserID string
			FriendUser  struct{ UserID, Nickname string }
		}
	}
	e.MustOK("/friend/get_designated_friends", aTok, map[string]any{"ownerUserID": a, "friendUserIDs": []string{c, b}}).Decode(t, &des)
	if len(des.FriendsInfo) != 1 || des.FriendsInfo[0].FriendUser.UserID != b || des.FriendsInfo[0].OwnerUserID != a || des.FriendsInfo[0].FriendUser.Nickname != "nick-"+b {
		t.Fatalf("designated friends of a among [c b]: %+v", des)
	}
	if r := e.Post("/friend/get_designated_friends", cTok, map[string]any{"ownerUserID": a, "friendUserIDs": []string{b}}); r.ErrCode != 1003 {
		t.Fatalf("c reading a's friends: errCode %d, want 1003", r.ErrCode)
	}
}

func TestSDKGroupSync(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	o, oTok := e.User("sgo")
	m, mTok := e.User("sgm")
	x, _ := e.User("sgx")
	y, yTok := e.User("sgy")
	const joins = "/group/get_incremental_join_groups"
	mk := func(members ...string) string {
		return gCreate(t, e, oTok, map[string]any{"memberUserIDs": members, "groupInfo": map[string]any{"groupName": "g", "groupType": 2}})
	}
	g := mk(m)

	j0 := sdkSync(t, e, joins, mTok, m, incr{})
	if !j0.Full {
		t.Fatalf("first join sync: want full, got %+v", j0)
	}
	var ids0 struct{ GroupIDs []string }
	e.MustOK("/group/get_full_join_group_ids", mTok, map[string]any{"userID": m}).Decode(t, &ids0)
	if !slices.Equal(ids0.GroupIDs, []string{g}) {
		t.Fatalf("joined group IDs of m: %v, want [%s]", ids0.GroupIDs, g)
	}
	g2 := mk(m)
	j1 := sdkSync(t, e, joins, mTok, m, j0)
	changes(t, "after a new group", j1, []string{"groupID"}, []string{g2}, []string{}, []string{})
	e.MustOK("/group/kick_group", oTok, map[string]any{"groupID": g2, "kickedUserIDs": []string{m}, "reason": "bye"})
	changes(t, "after the kick", sdkSync(t, e, joins, mTok, m, j1), []string{"groupID"}, []string{}, []string{}, []string{g2})
	if r := e.Post(joins, mTok, map[string]any{"userID": o}); r.ErrCode != 1003 {
		t.Fatalf("m syncing o's groups: errCode %d, want 1003", r.ErrCode)
	}

	type members struct {
		incr
		Group *struct {
			GroupID     string
			MemberCount int
		} `json:"group"`
	}
	batch := func(tok, user string, reqs ...map[string]any) map[string]members {
		t.Helper()
		var d struct{ RespList map[string]members }
		e.MustOK("/group/get_incremental_group_members_batch", tok, map[string]any{"userID": user, "reqList": reqs}).Decode(t, &d)
		return d.RespList
	}
	// m is in g, no longer in g2, and g-none does not exist: only g is answered.
	r0 := batch(mTok, m, map[string]any{"groupID": g}, map[string]any{"groupID": g2}, map[string]any{"groupID": "g-none"})
	if len(r0) != 1 || !r0[g].Full || r0[g].Group == nil || r0[g].Group.GroupID != g || r0[g].Group.MemberCount != 2 {
		t.Fatalf("first member sync: want g alone, full, with the group of 2: %+v", r0)
	}
	from := map[string]any{"groupID": g, "version": r0[g].Version, "versionID": r0[g].VersionID}
	if r := batch(mTok, m, from)[g]; r.Full || r.Group != nil || len(r.Insert)+len(r.Update)+len(r.Delete) != 0 {
		t.Fatalf("member sync without a change: %+v", r)
	}
	e.MustOK("/group/invite_user_to_group", oTok, map[string]any{"groupID": g, "reason": "join", "invitedUserIDs": []string{x}})
	r1 := batch(mTok, m, from)[g]
	changes(t, "members after the invitation", r1.incr, []string{"userID"}, []string{x}, []string{}, []string{})
	if r1.Group == nil || r1.Group.MemberCount != 3 {
		t.Fatalf("the group changed (3 members) but the reply has %+v", r1.Group)
	}
	e.MustOK("/group/kick_group", oTok, map[string]any{"groupID": g, "kickedUserIDs": []string{x}, "reason": "bye"})
	r2 := batch(mTok, m, map[string]any{"groupID": g, "version": r1.Version, "versionID": r1.VersionID})[g]
	changes(t, "members after the kick", r2.incr, []string{"userID"}, []string{}, []string{}, []string{x})

	// Named members and all member IDs: to members only; the IDs carry the member sync's version.
	var mi struct {
		Members []struct {
			UserID    string
			RoleLevel int
		}
	}
	e.MustOK("/group/get_group_members_info", mTok, map[string]any{"groupID": g, "userIDs": []string{o, x, y}}).Decode(t, &mi)
	if len(mi.Members) != 1 || mi.Members[0].UserID != o || mi.Members[0].RoleLevel != 100 {
		t.Fatalf("members of g among [o x y]: %+v", mi)
	}
	var full struct {
		Version   int64
		VersionID string
		UserIDs   []string
	}
	e.MustOK("/group/get_full_group_member_user_ids", mTok, map[string]any{"groupID": g}).Decode(t, &full)
	if !slices.Equal(full.UserIDs, []string{o, m}) || full.Version != r2.Version || full.VersionID != r2.VersionID {
		t.Fatalf("member IDs of g: %+v; want [%s %s] at version %d/%s", full, o, m, r2.Version, r2.VersionID)
	}
	for _, p := range []string{"/group/get_group_members_info", "/group/get_full_group_member_user_ids"} {
		if r := e.Post(p, yTok, map[string]any{"groupID": g, "userIDs": []string{o}}); r.ErrCode != 1201 {
			t.Fatalf("%s by an outsider: errCode %d, want 1201", p, r.ErrCode)
		}
	}

	// An outsider gets nothing of g, whatever version it sends; nobody asks for another user.
	if r := batch(yTok, y, from); len(r) != 0 {
		t.Fatalf("an outsider's member sync of g: %+v, want nothing", r)
	}
	if r := e.Post("/group/get_incremental_group_members_batch", yTok, map[string]any{"userID": m, "reqList": []any{from}}); r.ErrCode != 1003 {
		t.Fatalf("y asking as m: errCode %d, want 1003", r.ErrCode)
	}
}

func TestSDKConversationSync(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("sca")
	b, _ := e.User("scb")
	_, cTok := e.User("scc")
	sendREST(t, e, aTok, a, b, "hello", "")
	conv := chat.SingleConversationID(a, b)
	sdkConv := "si_" + conv[len("single_"):]
	const path = "/conversation/get_incremental_conversations"

	v0 := sdkSync(t, e, path, aTok, a, incr{})
	// A message is not a settings change.
	sendREST(t, e, aTok, a, b, "again", "")
	changes(t, "after a message", sdkSync(t, e, path, aTok, a, v0), []string{"conversationID"}, []string{}, []string{}, []string{})

	// set_conversations takes the SDK's conversation ID too.
	e.MustOK("/conversation/set_conversations", aTok, map[string]any{"userIDs": []string{a},
		"conversation": map[string]any{"conversationID": sdkConv, "conversationType": 1, "userID": b, "isPinned": true, "recvMsgOpt": 2}})
	v1 := sdkSync(t, e, path, aTok, a, v0)
	changes(t, "after pinning", v1, []string{"conversationID"}, []string{}, []string{sdkConv}, []string{})
	var c struct {
		ConversationID string
		IsPinned       bool
		RecvMsgOpt     int
		UnreadCount    *int
	}
	if err := json.Unmarshal(v1.Update[0], &c); err != nil || !c.IsPinned || c.RecvMsgOpt != 2 || c.UnreadCount != nil {
		t.Fatalf("updated conversation %s: want pinned, recvMsgOpt 2, no unreadCount", v1.Update[0])
	}
	var hr struct {
		Seqs                  map[string]struct{ MaxSeq, HasReadSeq, MaxSeqTime int64 }
		PinnedConversationIDs []string
	}
	e.MustOK("/conversation/get_conversations_has_read_and_max_seq", aTok, map[string]any{"userID": a, "conversationIDs": []string{sdkConv}, "returnPinned": true}).Decode(t, &hr)
	if st, ok := hr.Seqs[sdkConv]; !ok || len(hr.Seqs) != 1 || st.MaxSeq != 2 || st.HasReadSeq != 2 || st.MaxSeqTime == 0 || !slices.Equal(hr.PinnedConversationIDs, []string{sdkConv}) {
		t.Fatalf("a's seqs of %s: %+v", sdkConv, hr)
	}
	if r := e.Post("/conversation/get_conversations_has_read_and_max_seq", cTok, map[string]any{"userID": a}); r.ErrCode != 1003 {
		t.Fatalf("c reading a's seqs: errCode %d, want 1003", r.ErrCode)
	}
	var nn struct{ ConversationIDs []string }
	e.MustOK("/conversation/get_not_notify_conversation_ids", aTok, map[string]any{"userID": a}).Decode(t, &nn)
	if !slices.Equal(nn.ConversationIDs, []string{sdkConv}) {
		t.Fatalf("not-notify conversations of a: %v, want [%s]", nn.ConversationIDs, sdkConv)
	}

	for _, p := range []string{path, "/conversation/get_not_notify_conversation_ids"} {
		if r := e.Post(p, cTok, map[string]any{"userID": a}); r.ErrCode != 1003 {
			t.Fatalf("%s by c for a: errCode %d, want 1003", p, r.ErrCode)
		}
	}
}

func TestSDKMarkConversationAsRead(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("sma")
	b, bTok := e.User("smb")
	c, cTok := e.User("smc")
	for _, s := range []string{"one", "two", "three"} {
		sendREST(t, e, aTok, a, b, s, "")
	}
	conv := chat.SingleConversationID(a, b)
	sdkConv := "si_" + conv[len("single_"):]
	unread := func() (int64, int64) {
		var d struct {
			Conversations []struct {
				HasReadSeq, UnreadCount int64
			}
		}
		e.MustOK("/conversation/get_conversations", bTok, map[string]any{"ownerUserID": b, "conversationIDs": []string{conv}}).Decode(t, &d)
		if len(d.Conversations) != 1 {
			t.Fatalf("b's conversation %s: %+v", conv, d)
		}
		return d.Conversations[0].HasReadSeq, d.Conversations[0].UnreadCount
	}
	if _, n := unread(); n != 3 {
		t.Fatalf("unread before: %d, want 3", n)
	}
	e.MustOK("/msg/mark_conversation_as_read", bTok, map[string]any{"conversationID": sdkConv, "userID": b, "hasReadSeq": 2})
	if hr, n := unread(); hr != 2 || n != 1 {
		t.Fatalf("after reading to 2: hasReadSeq %d unread %d, want 2 and 1", hr, n)
	}
	e.MustOK("/msg/mark_conversation_as_read", bTok, map[string]any{"conversationID": conv, "userID": b, "hasReadSeq": 1, "seqs": []int64{3}})
	if hr, n := unread(); hr != 3 || n != 0 {
		t.Fatalf("after reading seq 3: hasReadSeq %d unread %d, want 3 and 0", hr, n)
	}
	for _, tc := range []struct {
		tok, user, conv string
		seq             int64
		code            int
	}{
		{bTok, b, sdkConv, 99, 1001},            // beyond the last message
		{cTok, c, sdkConv, 1, 1003},             // not a party
		{cTok, b, sdkConv, 1, 1003},             // acting for b
		{bTok, b, "sg_none", 1, 1005},           // no such group
		{bTok, b, "si_" + a + "_" + c, 1, 1003}, // another pair's chat
	} {
		if r := e.Post("/msg/mark_conversation_as_read", tc.tok, map[string]any{"conversationID": tc.conv, "userID": tc.user, "hasReadSeq": tc.seq}); r.ErrCode != tc.code {
			t.Errorf("mark %s by %s as %s: errCode %d %q, want %d", tc.conv, tc.tok[:8], tc.user, r.ErrCode, r.ErrMsg, tc.code)
		}
	}
	// revoke_msg takes the SDK's ID as well.
	e.MustOK("/msg/revoke_msg", aTok, map[string]any{"conversationID": sdkConv, "seq": 3, "userID": a})
}

// postProto calls a /jssdk/ route with a protobuf body and decodes the reply's base64 data into out.
func postProto(t *testing.T, e *testenv.Env, path, tok string, in, out proto.Message) testenv.Resp {
	t.Helper()
	b, err := proto.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	r := postRaw(t, e, path, tok, b)
	if r.ErrCode == 0 {
		var data string
		r.Decode(t, &data)
		if data == "" {
			t.Fatalf("%s: data is \"\" (the SDK reads that as no reply): %s", path, r.Raw)
		}
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Fatalf("%s: data is not base64: %v", path, err)
		}
		if err := proto.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: data is not the protobuf reply: %v", path, err)
		}
	}
	return r
}

func postRaw(t *testing.T, e *testenv.Env, path, tok string, body []byte) testenv.Resp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+"/api/v3"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("token", tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r testenv.Resp
	r.Raw, _ = io.ReadAll(res.Body)
	if err := json.Unmarshal(r.Raw, &r); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d, body %s", path, res.StatusCode, r.Raw)
	}
	return r
}

func TestSDKJSConversations(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("sja")
	b, bTok := e.User("sjb")
	c, cTok := e.User("sjc")
	const active, named = "/jssdk/get_active_conversations", "/jssdk/get_conversations"

	// Nothing yet: the reply is not "" (see postProto) and says 0.
	var none jssdkpb.GetActiveConversationsResp
	postProto(t, e, active, cTok, &jssdkpb.GetActiveConversationsReq{OwnerUserID: c, Count: 20}, &none)
	if none.UnreadCount != 0 || len(none.Conversations) != 0 {
		t.Fatalf("c has nothing: %v", &none)
	}

	sendREST(t, e, aTok, a, b, "one", "")
	sendREST(t, e, aTok, a, b, "two", "")
	g := gCreate(t, e, aTok, map[string]any{"memberUserIDs": []string{b}, "groupInfo": map[string]any{"groupName": "jsg", "groupType": 2}})
	e.MustOK("/msg/send_msg", aTok, gSendBody(a, g, "hi all"))
	si, sg := "si_"+chat.SingleConversationID(a, b)[len("single_"):], "sg_"+g

	list := func() (*jssdkpb.GetActiveConversationsResp, map[string]*jssdkpb.ConversationMsg) {
		var d jssdkpb.GetActiveConversationsResp
		postProto(t, e, active, bTok, &jssdkpb.GetActiveConversationsReq{OwnerUserID: b, Count: 20}, &d)
		by := map[string]*jssdkpb.ConversationMsg{}
		var sum int64
		for _, m := range d.Conversations {
			by[m.Conversation.ConversationID] = m
			sum += m.MaxSeq - m.ReadSeq
		}
		if sum != d.UnreadCount {
			t.Fatalf("unreadCount %d is not the sum %d of maxSeq - readSeq", d.UnreadCount, sum)
		}
		return &d, by
	}
	d, by := list()
	if len(d.Conversations) != 2 || by[si] == nil || by[sg] == nil {
		t.Fatalf("b's active conversations: want %s and %s, got %v", si, sg, d)
	}
	if m := by[si]; m.MaxSeq != 2 || m.ReadSeq != 0 || m.User.GetUserID() != a || m.User.GetNickname() != "nick-"+a || m.Friend != nil ||
		string(m.LastMsg.GetContent()) != `{"content":"two"}` || m.LastMsg.GetSeq() != 2 {
		t.Fatalf("the single chat: %v", m)
	}
	if m := by[sg]; m.Group.GetGroupID() != g || m.Group.GetGroupName() != "jsg" || m.LastMsg.GetContentType() != 101 || m.User != nil {
		t.Fatalf("the group chat: %v", m)
	}
	if d.Conversations[0].Conversation.ConversationID != sg {
		t.Fatalf("newest first: want %s first, got %s", sg, d.Conversations[0].Conversation.ConversationID)
	}
	before := d.UnreadCount

	// The SDK's mark-as-read clears what it shows as unread.
	e.MustOK("/msg/mark_conversation_as_read", bTok, map[string]any{"conversationID": si, "userID": b, "hasReadSeq": 2})
	d, by = list()
	// The read receipt is stored in the chat too (its seq is 3), yet nothing is unread there.
	if by[si].MaxSeq-by[si].ReadSeq != 0 || d.UnreadCount != before-2 {
		t.Fatalf("after reading %s: readSeq %d, unread %d (was %d)", si, by[si].ReadSeq, d.UnreadCount, before)
	}

	// Named conversations: the caller's own only, in either ID form.
	var nd jssdkpb.GetConversationsResp
	postProto(t, e, named, bTok, &jssdkpb.GetConversationsReq{OwnerUserID: b, ConversationIDs: []string{sg, chat.SingleConversationID(a, b), "si_" + a + "_" + c}}, &nd)
	if len(nd.Conversations) != 2 || nd.UnreadCount != by[sg].MaxSeq-by[sg].ReadSeq {
		t.Fatalf("b's named conversations: %v", &nd)
	}
	// A chat without a message yet is answered as a default conversation (the SDK reads the first one of the
	// reply for every conversation it opens); b's own notification conversation is left out.
	d2, _ := e.User("sjd")
	sd := "si_" + chat.SingleConversationID(b, d2)[len("single_"):]
	postProto(t, e, named, bTok, &jssdkpb.GetConversationsReq{ConversationIDs: []string{sd, "n_" + b}}, &nd)
	if len(nd.Conversations) != 1 || nd.Conversations[0].Conversation.GetConversationID() != sd ||
		nd.Conversations[0].Conversation.GetConversationType() != 1 || nd.Conversations[0].Conversation.GetUserID() != d2 ||
		nd.Conversations[0].MaxSeq != 0 || nd.Conversations[0].User.GetUserID() != d2 || nd.Conversations[0].LastMsg != nil {
		t.Fatalf("b naming its new chat with d: %v", &nd)
	}
	postProto(t, e, named, cTok, &jssdkpb.GetConversationsReq{ConversationIDs: []string{si, sg}}, &nd)
	if len(nd.Conversations) != 0 || nd.UnreadCount != 0 {
		t.Fatalf("c naming a and b's conversations: %v", &nd)
	}
	if r := postProto(t, e, active, cTok, &jssdkpb.GetActiveConversationsReq{OwnerUserID: b}, &none); r.ErrCode != 1003 {
		t.Fatalf("c asking for b's conversations: errCode %d, want 1003", r.ErrCode)
	}
	if r := postRaw(t, e, active, bTok, []byte(`{"ownerUserID":"x"}`)); r.ErrCode != 1001 {
		t.Fatalf("a JSON body on a protobuf route: errCode %d %q, want 1001", r.ErrCode, r.ErrMsg)
	}
	if r := postRaw(t, e, named, bTok, bytes.Repeat([]byte{0x12, 0x01, 'x'}, 30_000)); r.ErrCode != 1001 {
		t.Fatalf("a body over 64 KiB: errCode %d %q, want 1001", r.ErrCode, r.ErrMsg)
	}
}

func TestSDKBlackAndGroupRequestLookups(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("sba")
	b, bTok := e.User("sbb")
	c, cTok := e.User("sbc")
	e.MustOK("/friend/add_black", aTok, map[string]any{"ownerUserID": a, "blackUserID": b})
	var bl struct {
		Blacks []struct {
			OwnerUserID   string
			BlackUserInfo struct{ UserID string }
		}
		Total int
	}
	e.MustOK("/friend/get_specified_blacks", aTok, map[string]any{"ownerUserID": a, "userIDList": []string{c, b}}).Decode(t, &bl)
	if bl.Total != 1 || len(bl.Blacks) != 1 || bl.Blacks[0].BlackUserInfo.UserID != b || bl.Blacks[0].OwnerUserID != a {
		t.Fatalf("a's blacklist among [c b]: %+v", bl)
	}
	if r := e.Post("/friend/get_specified_blacks", cTok, map[string]any{"ownerUserID": a, "userIDList": []string{b}}); r.ErrCode != 1003 {
		t.Fatalf("c reading a's blacklist: errCode %d, want 1003", r.ErrCode)
	}

	// b applies to a's group; the applicant and the owner read it, nobody else.
	g := gCreate(t, e, aTok, map[string]any{"memberUserIDs": []string{}, "groupInfo": map[string]any{"groupName": "req", "groupType": 2, "needVerification": 1}})
	e.MustOK("/group/join_group", bTok, map[string]any{"groupID": g, "reqMessage": "let me in", "joinSource": 3})
	var rq struct {
		GroupRequests []struct {
			UserInfo  struct{ UserID string }
			GroupInfo struct{ GroupID string }
			ReqMsg    string
		}
		Total int
	}
	for _, tok := range []string{aTok, bTok} {
		e.MustOK("/group/get_specified_user_group_request_info", tok, map[string]any{"groupID": g, "userID": b}).Decode(t, &rq)
		if rq.Total != 1 || rq.GroupRequests[0].UserInfo.UserID != b || rq.GroupRequests[0].GroupInfo.GroupID != g || rq.GroupRequests[0].ReqMsg != "let me in" {
			t.Fatalf("b's application to %s: %+v", g, rq)
		}
	}
	if r := e.Post("/group/get_specified_user_group_request_info", cTok, map[string]any{"groupID": g, "userID": b}); r.ErrCode != 1003 {
		t.Fatalf("c reading b's application: errCode %d, want 1003", r.ErrCode)
	}
}
