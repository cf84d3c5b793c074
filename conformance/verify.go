package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/imspec/imserver/client"
)

// A success whose reply carries nothing ({"errCode":0,"data":{}}) says nothing: a server that does nothing
// answers the same. So after such an example the suite reads back, over the API, what the request must have
// changed (and, for a removal, first that the thing was there), with the values the suite itself sent. The
// table is keyed like preps ("operationId/example", or "operationId/*").

// verify is the read-back of an example: pre runs after the set-up, post after a successful reply.
type verify struct {
	pre  func(e *env, c *exampleCall)
	post func(e *env, c *exampleCall, data map[string]any)
}

var page20 = map[string]any{"pageNumber": 1.0, "showNumber": 100.0}

var verifies = map[string]verify{
	"userRegister/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		for _, u := range list(c.body["users"]) {
			uo := obj(u)
			info := e.userInfo(str(uo["userID"]), str(uo["userID"]))
			e.wantField("getUsersInfo after userRegister", info, "nickname", uo["nickname"])
		}
	}},
	"userToken/*": {post: func(e *env, c *exampleCall, data map[string]any) {
		// The token works: getUsersInfo with it answers for its user.
		u := str(c.body["userID"])
		r := e.postToken(e.s.opByID["getUsersInfo"], str(data["token"]), map[string]any{"userIDs": []any{u}})
		if r.errCode() != 0 || findBy(list(obj(r.data())["usersInfo"]), "userID", u) == nil {
			e.t.Errorf("the token user_token returned does not work: getUsersInfo {userIDs:[%s]} with it: %s, data %.300s", u, r.describe(), r.raw)
		}
	}},
	"updateUserInfo/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		in := obj(c.body["userInfo"])
		info := e.userInfo(c.caller, str(in["userID"]))
		for _, k := range []string{"nickname", "faceURL"} {
			if in[k] != nil {
				e.wantField("getUsersInfo after updateUserInfo", info, k, in[k])
			}
		}
	}},
	"addFriend/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		to, from := str(c.body["toUserID"]), str(c.body["fromUserID"])
		d := e.read("getFriendApplyList", to, map[string]any{"userID": to, "handleResults": []any{0.0}, "pagination": page20})
		if findBy(firstList(d), "fromUserID", from) == nil {
			e.t.Errorf("getFriendApplyList of %s after addFriend: want the pending application from %s, got %.400s", to, from, show(d))
		}
	}},
	"addFriendResponse/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		from, to := str(c.body["fromUserID"]), str(c.body["toUserID"])
		if num(c.body["handleResult"]) == 1 {
			e.wantFriend(from, to, true)
			e.wantFriend(to, from, true)
			return
		}
		d := e.read("getSelfFriendApplyList", from, map[string]any{"userID": from, "handleResults": []any{}, "pagination": page20})
		r := findBy(firstList(d), "toUserID", to)
		if r == nil || num(r["handleResult"]) != num(c.body["handleResult"]) {
			e.t.Errorf("getSelfFriendApplyList of %s after the answer: want the application to %s with handleResult %d, got %.400s", from, to, num(c.body["handleResult"]), show(d))
		}
		e.wantFriend(from, to, false)
	}},
	"deleteFriend/*": {
		pre: func(e *env, c *exampleCall) {
			e.wantFriend(str(c.body["ownerUserID"]), str(c.body["friendUserID"]), true)
		},
		post: func(e *env, c *exampleCall, _ map[string]any) {
			e.wantFriend(str(c.body["ownerUserID"]), str(c.body["friendUserID"]), false)
		}},
	"setFriendRemark/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		owner, friend := str(c.body["ownerUserID"]), str(c.body["friendUserID"])
		d := e.read("getFriendList", owner, map[string]any{"userID": owner, "pagination": page20})
		f := findBy(firstList(d), "friendUser.userID", friend)
		if f == nil || f["remark"] != c.body["remark"] {
			e.t.Errorf("getFriendList of %s after setFriendRemark: want %s with remark %q, got %.400s", owner, friend, str(c.body["remark"]), show(d))
		}
	}},
	"addBlack/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		e.wantBlack(str(c.body["ownerUserID"]), str(c.body["blackUserID"]), true)
	}},
	"removeBlack/*": {
		pre: func(e *env, c *exampleCall) {
			e.wantBlack(str(c.body["ownerUserID"]), str(c.body["blackUserID"]), true)
		},
		post: func(e *env, c *exampleCall, _ map[string]any) {
			e.wantBlack(str(c.body["ownerUserID"]), str(c.body["blackUserID"]), false)
		}},
	"inviteUserToGroup/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		for _, u := range list(c.body["invitedUserIDs"]) {
			e.wantMember(str(c.body["groupID"]), str(u), true)
		}
	}},
	"joinGroup/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		g := str(c.body["groupID"])
		d := e.read("getGroupApplicationList", e.groupOwner(g), map[string]any{"groupIDs": []any{g}, "handleResults": []any{0.0}, "pagination": page20})
		if findBy(firstList(d), "userInfo.userID", c.caller) == nil {
			e.t.Errorf("getGroupApplicationList of %s after joinGroup: want the pending application of %s, got %.400s", g, c.caller, show(d))
		}
	}},
	"quitGroup/*": {
		pre: func(e *env, c *exampleCall) { e.wantMember(str(c.body["groupID"]), quitter(c), true) },
		post: func(e *env, c *exampleCall, _ map[string]any) {
			e.wantMember(str(c.body["groupID"]), quitter(c), false)
		}},
	"kickGroup/*": {
		pre: func(e *env, c *exampleCall) {
			for _, u := range list(c.body["kickedUserIDs"]) {
				e.wantMember(str(c.body["groupID"]), str(u), true)
			}
		},
		post: func(e *env, c *exampleCall, _ map[string]any) {
			for _, u := range list(c.body["kickedUserIDs"]) {
				e.wantMember(str(c.body["groupID"]), str(u), false)
			}
		}},
	"groupApplicationResponse/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		e.wantMember(str(c.body["groupID"]), str(c.body["fromUserID"]), num(c.body["handleResult"]) == 1)
		g := str(c.body["groupID"])
		d := e.read("getGroupApplicationList", e.groupOwner(g), map[string]any{"groupIDs": []any{g},
			"handleResults": []any{c.body["handleResult"]}, "pagination": page20})
		if findBy(firstList(d), "userInfo.userID", str(c.body["fromUserID"])) == nil {
			e.t.Errorf("getGroupApplicationList of %s with handleResults [%d] after the answer: want the application of %s, got %.400s",
				g, num(c.body["handleResult"]), str(c.body["fromUserID"]), show(d))
		}
	}},
	"setGroupInfo/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		set := obj(c.body["groupInfoForSet"])
		info := e.groupInfo(str(set["groupID"]))
		for _, k := range []string{"groupName", "notification", "introduction", "needVerification"} {
			if set[k] != nil {
				e.wantField("getGroupsInfo after setGroupInfo", info, k, set[k])
			}
		}
	}},
	"transferGroup/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		g := str(c.body["groupID"])
		e.wantField("getGroupsInfo after transferGroup", e.groupInfo(g), "ownerUserID", c.body["newOwnerUserID"])
		e.wantRole(g, str(c.body["newOwnerUserID"]), 100)
		// The old owner stays a member with the new owner's former role (60 or 20).
		if m := findBy(e.members(g), "userID", str(c.body["oldOwnerUserID"])); m == nil || num(m["roleLevel"]) == 100 {
			e.t.Errorf("getGroupMemberList of %s after transferGroup: want the old owner %s a member no longer 100, got %s", g, str(c.body["oldOwnerUserID"]), show(m))
		}
	}},
	"dismissGroup/*": {
		pre: func(e *env, c *exampleCall) {
			e.wantJoined(e.groupOwner(str(c.body["groupID"])), str(c.body["groupID"]), true)
		},
		post: func(e *env, c *exampleCall, _ map[string]any) {
			g := str(c.body["groupID"])
			e.wantField("getGroupsInfo after dismissGroup", e.groupInfo(g), "status", 2.0)
			// A dismissed group is no longer among a member's joined groups (getJoinedGroupList's description).
			e.model.mu.Lock()
			members := e.model.members(g)
			e.model.mu.Unlock()
			for _, u := range members {
				if !e.isAdmin(u) {
					e.wantJoined(u, g, false)
					break
				}
			}
		}},
	"muteGroupMember/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		e.wantMuted(str(c.body["groupID"]), str(c.body["userID"]), true)
	}},
	"cancelMuteGroupMember/*": {
		pre: func(e *env, c *exampleCall) { e.wantMuted(str(c.body["groupID"]), str(c.body["userID"]), true) },
		post: func(e *env, c *exampleCall, _ map[string]any) {
			e.wantMuted(str(c.body["groupID"]), str(c.body["userID"]), false)
		}},
	"muteGroup/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		e.wantField("getGroupsInfo after muteGroup", e.groupInfo(str(c.body["groupID"])), "status", 3.0)
	}},
	"cancelMuteGroup/*": {
		pre: func(e *env, c *exampleCall) {
			e.wantField("getGroupsInfo before cancelMuteGroup", e.groupInfo(str(c.body["groupID"])), "status", 3.0)
		},
		post: func(e *env, c *exampleCall, _ map[string]any) {
			e.wantField("getGroupsInfo after cancelMuteGroup", e.groupInfo(str(c.body["groupID"])), "status", 0.0)
		}},
	"revokeMsg/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		// Revoked once: the same request again is 1301.
		b, _ := json.Marshal(c.body)
		if r := e.post(c.op, c.caller, b, nil); r.errCode() != 1301 {
			e.t.Errorf("revokeMsg of the same message again: want errCode 1301 (already revoked), got %s", r.describe())
		}
	}},
	"markMsgsAsRead/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		var top float64
		for _, s := range list(c.body["seqs"]) {
			top = max(top, float64(num(s)))
		}
		e.wantConversation(str(c.body["userID"]), str(c.body["conversationID"]), "hasReadSeq", top)
	}},
	"markConversationAsRead/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		top := float64(num(c.body["hasReadSeq"]))
		for _, s := range list(c.body["seqs"]) {
			top = max(top, float64(num(s)))
		}
		conv := str(c.body["conversationID"])
		if rest, ok := strings.CutPrefix(conv, "si_"); ok { // the SDK's form; getConversations takes this API's
			conv = "single_" + rest
		} else if rest, ok := strings.CutPrefix(conv, "sg_"); ok {
			conv = "group_" + rest
		}
		e.wantConversation(str(c.body["userID"]), conv, "hasReadSeq", top)
	}},
	"setConversations/*": {post: func(e *env, c *exampleCall, _ map[string]any) {
		conv := obj(c.body["conversation"])
		for _, u := range list(c.body["userIDs"]) {
			for _, k := range []string{"isPinned", "recvMsgOpt", "ex"} {
				if conv[k] != nil {
					e.wantConversation(str(u), str(conv["conversationID"]), k, conv[k])
				}
			}
		}
	}},
	"forbidUser/*": {post: func(e *env, c *exampleCall, _ map[string]any) { e.wantTokenCode(str(c.body["userID"]), 1008) }},
	"unforbidUser/*": {
		pre:  func(e *env, c *exampleCall) { e.wantTokenCode(str(c.body["userID"]), 1008) },
		post: func(e *env, c *exampleCall, _ map[string]any) { e.wantTokenCode(str(c.body["userID"]), 0) }},
}

func verifyFor(opID, example string) verify {
	if v, ok := verifies[opID+"/"+example]; ok {
		return v
	}
	return verifies[opID+"/*"]
}

func quitter(c *exampleCall) string {
	if u := str(c.body["userID"]); u != "" {
		return u
	}
	return c.caller
}

// read performs a read operation as caller for a check; it must succeed.
func (e *env) read(opID, caller string, body map[string]any) map[string]any {
	e.t.Helper()
	op := e.s.opByID[opID]
	b, _ := json.Marshal(body)
	h := http.Header{}
	h.Set("operationID", e.opID("check-"+opID))
	r := e.post(op, caller, b, h)
	if r.err != nil || r.body == nil || r.errCode() != 0 {
		e.t.Fatalf("checking the effect with %s %s as %s: want errCode 0, got %s %.300s", opID, b, caller, r.describe(), r.raw)
	}
	return obj(r.data())
}

// postToken posts body to op with a given token.
func (e *env) postToken(op *Op, token string, body any) reply {
	b, _ := json.Marshal(body)
	return e.postWith(&client.REST{BaseURL: e.rt.tg.APIURL, Token: token}, op, b, nil)
}

func (e *env) userInfo(caller, user string) map[string]any {
	d := e.read("getUsersInfo", caller, map[string]any{"userIDs": []any{user}})
	u := findBy(list(d["usersInfo"]), "userID", user)
	if u == nil {
		e.t.Fatalf("getUsersInfo {userIDs:[%s]}: want that user, got %.300s", user, show(d))
	}
	return u
}

func (e *env) groupInfo(g string) map[string]any {
	d := e.read("getGroupsInfo", e.groupOwner(g), map[string]any{"groupIDs": []any{g}})
	info := findBy(firstList(d), "groupID", g)
	if info == nil {
		e.t.Fatalf("getGroupsInfo {groupIDs:[%s]}: want that group, got %.300s", g, show(d))
	}
	return info
}

// groupOwner is who the suite made the group's owner (the reader of its lists), the admin when unknown.
func (e *env) groupOwner(g string) string {
	e.model.mu.Lock()
	defer e.model.mu.Unlock()
	if mg := e.model.groups[g]; mg != nil && mg.owner != "" && !mg.dismissed {
		return mg.owner
	}
	return e.rt.tg.Admin
}

func (e *env) members(g string) []any {
	d := e.read("getGroupMemberList", e.rt.tg.Admin, map[string]any{"groupID": g, "filter": 0.0, "keyword": "", "pagination": page20})
	return firstList(d)
}

func (e *env) wantMember(g, u string, want bool) {
	e.t.Helper()
	if got := findBy(e.members(g), "userID", u) != nil; got != want {
		e.t.Errorf("getGroupMemberList of %s: want %s %s, it is%s", g, u, inOut(want), notIf(!got))
	}
}

func (e *env) wantRole(g, u string, role int) {
	e.t.Helper()
	m := findBy(e.members(g), "userID", u)
	if m == nil || num(m["roleLevel"]) != role {
		e.t.Errorf("getGroupMemberList of %s: want %s with roleLevel %d, got %s", g, u, role, show(m))
	}
}

func (e *env) wantMuted(g, u string, muted bool) {
	e.t.Helper()
	m := findBy(e.members(g), "userID", u)
	if m == nil {
		e.t.Errorf("getGroupMemberList of %s: want %s in it", g, u)
		return
	}
	now := float64(e.nowMS())
	if got := m["muteEndTime"] != nil && asFloat(m["muteEndTime"]) > now; got != muted {
		e.t.Errorf("getGroupMemberList of %s: %s: want muteEndTime %s now (%.0f ms), got %v", g, u, map[bool]string{true: "after", false: "not after"}[muted], now, m["muteEndTime"])
	}
}

func (e *env) wantJoined(user, g string, want bool) {
	e.t.Helper()
	if e.isAdmin(user) {
		return
	}
	d := e.read("getJoinedGroupList", user, map[string]any{"fromUserID": user, "pagination": page20})
	if got := findBy(firstList(d), "groupID", g) != nil; got != want {
		e.t.Errorf("getJoinedGroupList of %s: want %s %s, it is%s", user, g, inOut(want), notIf(!got))
	}
}

func (e *env) wantFriend(owner, friend string, want bool) {
	e.t.Helper()
	d := e.read("getFriendList", owner, map[string]any{"userID": owner, "pagination": page20})
	if got := findBy(firstList(d), "friendUser.userID", friend) != nil; got != want {
		e.t.Errorf("getFriendList of %s: want %s %s, it is%s", owner, friend, inOut(want), notIf(!got))
	}
}

func (e *env) wantBlack(owner, black string, want bool) {
	e.t.Helper()
	d := e.read("getBlackList", owner, map[string]any{"userID": owner, "pagination": page20})
	if got := findBy(firstList(d), "blackUserInfo.userID", black) != nil; got != want {
		e.t.Errorf("getBlackList of %s: want %s %s, it is%s", owner, black, inOut(want), notIf(!got))
	}
}

func (e *env) wantConversation(owner, conv, key string, want any) {
	e.t.Helper()
	d := e.read("getConversations", owner, map[string]any{"ownerUserID": owner, "conversationIDs": []any{conv}})
	c := findBy(firstList(d), "conversationID", conv)
	if c == nil {
		e.t.Errorf("getConversations of %s: want %s in it, got %.300s", owner, conv, show(d))
		return
	}
	e.wantField("getConversations of "+owner, c, key, want)
}

// wantTokenCode asks user_token for user on platform 2 and wants errCode code.
func (e *env) wantTokenCode(user string, code int) {
	e.t.Helper()
	body := map[string]any{"secret": e.rt.tg.Secret, "userID": user, "platformID": 2.0}
	r := e.postToken(e.s.opByID["userToken"], "", body)
	if r.errCode() != code {
		e.t.Errorf("userToken for %s: want errCode %d, got %s", user, code, r.describe())
	}
}

func (e *env) wantField(what string, v map[string]any, key string, want any) {
	e.t.Helper()
	if got := v[key]; fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Errorf("%s: %s: want %s (what the suite set), got %s", what, key, show(want), show(got))
	}
}

func (e *env) nowMS() int64 { return time.Now().UnixMilli() }

func inOut(in bool) string {
	if in {
		return "in it"
	}
	return "not in it"
}

func notIf(b bool) string {
	if b {
		return " not"
	}
	return ""
}

// firstList returns the first array among the values of a reply's data (its list, whatever it is called).
func firstList(d map[string]any) []any {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if l, ok := d[k].([]any); ok {
			return l
		}
	}
	return nil
}

// findBy returns the first element whose value at a dotted path equals want.
func findBy(l []any, path, want string) map[string]any {
	for _, el := range l {
		if v, ok := lookup(el, path); ok && str(v) == want {
			return obj(el)
		}
	}
	return nil
}

func asFloat(v any) float64 {
	f, _ := v.(float64)
	return f
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
