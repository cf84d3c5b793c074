package conformance

import (
	"strings"

	"github.com/imspec/imserver/conformance/match"
)

// The cases come from the specs; what follows is their fixture: the state an example assumes before its request
// is replayed. Most of it is derived (every user an example mentions is registered with the profile a
// userRegister example gives it; a group placeholder it mentions is created from the group recipe below); the
// rest is this small table, keyed by "operationId/example" (or "operationId/*" for every example of an operation
// without an entry of its own). Its steps replay other examples of the spec wherever one says what is needed.

// groupRecipe is the example that creates the group placeholders (group123: owned by user123, members user123
// and user456), with groupInfo.groupID set to the placeholder.
const groupRecipe = "createGroup/seed"

// prep is the set-up of an example.
type prep struct {
	steps []step
	// again: the example's own request is made once first (it must succeed) and then replayed; that is how the
	// "already …" and "pending" errors arise.
	again bool
	// fresh: the request creates the users (users[].userID) or groups it names, so they are not made before.
	fresh bool
	// modes overrides how a key of the response data is compared, with the reason.
	modes map[string]note
}

type note struct {
	mode match.Mode
	why  string
}

// exampleCall is the request of a case: its operation, example, mapped caller and mapped body.
type exampleCall struct {
	op     *Op
	ex     *Example
	caller string
	body   map[string]any
}

// step is one set-up action.
type step struct {
	desc string
	run  func(e *env, c *exampleCall)
}

// edit changes the body or caller of a replayed example.
type edit func(e *env, c *exampleCall, caller *string, body map[string]any)

// set sets a body path to a placeholder's ID.
func set(path, ph string) edit {
	return func(e *env, _ *exampleCall, _ *string, b map[string]any) { setPath(b, path, e.id(ph)) }
}

// from sets a body path to the value at src of the case's own body.
func from(path, src string) edit {
	return func(_ *env, c *exampleCall, _ *string, b map[string]any) {
		v, _ := lookup(c.body, src)
		setPath(b, path, v)
	}
}

// drop deletes a body path.
func drop(path string) edit {
	return func(_ *env, _ *exampleCall, _ *string, b map[string]any) {
		parent := b
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			parent = obj(parent[p])
		}
		delete(parent, parts[len(parts)-1])
	}
}

// as makes a placeholder the caller.
func as(ph string) edit {
	return func(e *env, _ *exampleCall, caller *string, _ map[string]any) { *caller = e.id(ph) }
}

// asFrom makes the user at src of the case's own body the caller.
func asFrom(src string) edit {
	return func(_ *env, c *exampleCall, caller *string, _ map[string]any) {
		v, _ := lookup(c.body, src)
		*caller = str(v)
	}
}

// replay performs another example of the spec (which must succeed), changed by edits.
func replay(ref string, edits ...edit) step {
	return step{desc: "replay " + ref, run: func(e *env, c *exampleCall) {
		e.t.Helper()
		ex := e.s.example(ref)
		if ex == nil {
			e.t.Fatalf("set-up: the spec has no example %s", ref)
		}
		opID, _, _ := strings.Cut(ref, "/")
		body := e.ids.value(ex.Body).(map[string]any)
		caller := e.id(ex.Caller)
		if ex.Caller == "" {
			caller = ""
		}
		for _, ed := range edits {
			ed(e, c, &caller, body)
		}
		e.prepare(body, false, e.unmap(caller))
		e.setupCall(opID, caller, body)
	}}
}

// befriend makes a and b friends the way the spec's friend examples do: addFriend's seed application from a to
// b, accepted by b with addFriendResponse's accept example.
func befriend(a, b string) []step {
	return []step{
		replay("addFriend/seed", set("fromUserID", a), set("toUserID", b), as(a)),
		replay("addFriendResponse/accept", set("fromUserID", a), set("toUserID", b), as(b)),
	}
}

// online connects a placeholder user on a platform for the rest of the case.
func online(ph string, platform int) step {
	return step{desc: "connect " + ph, run: func(e *env, _ *exampleCall) { e.connect(e.id(ph), platform) }}
}

// The friend application an addFriendResponse example answers: addFriend's seed from body.fromUserID to
// body.toUserID.
var friendApplicationOfBody = replay("addFriend/seed", from("fromUserID", "fromUserID"), from("toUserID", "toUserID"), asFrom("fromUserID"))

// The join application a groupApplicationResponse example answers: joinGroup's applyToJoin by body.fromUserID.
var groupApplicationOfBody = replay("joinGroup/applyToJoin", from("groupID", "groupID"), asFrom("fromUserID"))

// dismissGroup dismisses group123 (its members stay) with dismissGroup's dismiss example.
var dismissGroup = replay("dismissGroup/dismiss")

// blockedByPeer puts user123 on user456's blacklist (addBlack's blockUser example, made by user456).
var blockedByPeer = replay("addBlack/blockUser", set("ownerUserID", "user456"), set("blackUserID", "user123"), as("user456"))

var sendSeed = replay("sendMsg/seed")
var sendReply = replay("sendMsg/idempotentText")

func steps(groups ...[]step) []step {
	var out []step
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func one(s ...step) []step { return s }

var preps = map[string]prep{
	"userRegister/*":                  {fresh: true},
	"userRegister/err1007-userExists": {fresh: true, again: true},
	"userToken/err1008-forbidden":     {steps: one(replay("forbidUser/seed", set("userID", "user789")))},

	"addFriend/err1101-alreadyFriends":         {steps: befriend("user123", "user456")},
	"addFriend/err1105-pending":                {again: true},
	"addFriendResponse/*":                      {steps: one(friendApplicationOfBody)},
	"addFriendResponse/err1006-noApplication":  {},
	"addFriendResponse/err1104-alreadyHandled": {steps: one(friendApplicationOfBody), again: true},
	"deleteFriend/*":                           {steps: befriend("user123", "user456")},
	"deleteFriend/err1102-notFriends":          {},
	"getFriendList/*": {steps: befriend("user123", "user456"), modes: map[string]note{
		"addSource":      {match.Type, "seed 000's example shows an imported friend (addSource 1); no operation of this API imports friends, so the set-up befriends through an application"},
		"operatorUserID": {match.Type, "seed 000's example shows an imported friend; through an application the operator is the responder"},
	}},
	"setFriendRemark/*":                  {steps: befriend("user123", "user456")},
	"setFriendRemark/err1102-notFriends": {},
	"addBlack/err1007-alreadyBlocked":    {again: true},
	"removeBlack/unblockUser":            {steps: one(replay("addBlack/blockUser"))},
	"getBlackList/firstPage":             {steps: one(replay("addBlack/blockUser"))},
	"getFriendApplyList/pendingToMe":     {steps: one(replay("addFriend/seed"))},
	"getSelfFriendApplyList/mine":        {steps: one(replay("addFriend/seed"), replay("addFriendResponse/accept"))},

	"createGroup/*":                                   {fresh: true},
	"createGroup/err1007-groupIDTaken":                {fresh: true, again: true},
	"joinGroup/err1105-pending":                       {again: true},
	"groupApplicationResponse/*":                      {steps: one(groupApplicationOfBody)},
	"groupApplicationResponse/err1006-noApplication":  {},
	"groupApplicationResponse/err1104-alreadyHandled": {steps: one(groupApplicationOfBody), again: true},
	"dismissGroup/err1202-alreadyDismissed":           {again: true},
	"cancelMuteGroupMember/*":                         {steps: one(replay("muteGroupMember/muteOneHour"))},
	"cancelMuteGroup/*":                               {steps: one(replay("muteGroup/muteAll"))},
	"getGroupApplicationList/pending":                 {steps: one(replay("joinGroup/applyToJoin"))},

	"sendMsg/idempotentText": {steps: one(sendSeed), again: true, modes: map[string]note{
		"seq": {match.Exact, "the set-up stored sendMsg/seed first, then sent this example once: sent again, it is still the conversation's second message"}}},
	"sendMsg/err1204-groupMuted": {steps: one(replay("muteGroup/muteAll"))},
	"getConversationMsg/seed": {steps: one(sendSeed, sendReply, replay("markMsgsAsRead/readTwo")), modes: map[string]note{
		"senderPlatformID": {match.Type, "the example shows 1 for user456's message, but sendMsg/idempotentText (the message it shows) sends senderPlatformID 5"}}},
	"getConversationMsg/olderPage":            {steps: one(sendSeed, sendReply, replay("markMsgsAsRead/readTwo"))},
	"getConversationMsg/err1003-notParty":     {steps: one(sendSeed)},
	"getConversationMsg/err1006-unknownStart": {steps: one(sendSeed)},
	"revokeMsg/*":                      {steps: one(sendSeed)},
	"revokeMsg/err1301-alreadyRevoked": {steps: one(sendSeed), again: true},
	"markMsgsAsRead/*":                 {steps: one(sendSeed, sendReply)},
	"markConversationAsRead/*":         {steps: one(sendSeed, sendReply)},
	// The OpenIM SDK profile's lookups.
	"getDesignatedFriendApply/pending": {steps: one(replay("addFriend/seed"))},
	"getDesignatedFriends/oneFriend":   {steps: befriend("user123", "user456")},
	"getFullFriendUserIDs/oneFriend":   {steps: befriend("user123", "user456")},
	"isFriend/friends":                 {steps: befriend("user123", "user456")},
	"getSpecifiedBlacks/oneBlack":      {steps: one(replay("addBlack/blockUser", set("blackUserID", "user456")))},
	"getAllConversations/all": {steps: one(sendSeed, sendReply, replay("setConversations/pin"),
		// doNotNotify also sets ex "工作群", which the example's group conversation does not show.
		replay("setConversations/doNotNotify", drop("conversation.ex"))),
		modes: map[string]note{
			"hasReadSeq": {match.Type, "the example's read positions come from a longer history than its set-up makes"},
			"maxSeq":     {match.Type, "the example's seqs come from a longer history than its set-up makes (group_group123 holds the group's notifications)"},
		}},
	"getConversations/one":      {steps: one(sendSeed, sendReply, replay("setConversations/pin"))},
	"getUsersOnlineStatus/seed": {steps: one(online("user123", 1))},
	"getOnlineUsers/firstPage": {steps: one(online("user123", 5)), modes: map[string]note{
		"total":       {match.Type, "other cases' users may be online on the same server at the same time"},
		"connections": {match.Type, "other cases' users may be online on the same server at the same time"},
		"platforms":   {match.Ignore, "other cases' users may be online on the same server at the same time"},
		"users":       {match.Ignore, "other cases' users may be online on the same server at the same time"},
	}},
	"getServerConfig/all": {modes: map[string]note{
		"settings": {match.Ignore, "every server has settings of its own"},
	}},
	"unforbidUser/*": {steps: one(replay("forbidUser/seed"))},

	// Error examples whose precondition is a blacklist, a dismissed group or a muted member, and the ones that
	// must not get their operation's "*" set-up (it would name a user or group that does not exist).
	"addFriend/err1103-blocked":                     {steps: one(blockedByPeer)},
	"sendMsg/err1103-blocked":                       {steps: one(blockedByPeer)},
	"addFriendResponse/err1004-unknownUser":         {},
	"deleteFriend/err1004-unknownUser":              {},
	"setFriendRemark/err1004-unknownUser":           {},
	"getFriendList/err1004-unknownUser":             {},
	"groupApplicationResponse/err1005-unknownGroup": {},
	"groupApplicationResponse/err1202-dismissed":    {steps: one(groupApplicationOfBody, dismissGroup)},
	"quitGroup/err1202-dismissed":                   {steps: one(dismissGroup)},
	"inviteUserToGroup/err1202-dismissed":           {steps: one(dismissGroup)},
	"joinGroup/err1202-dismissed":                   {steps: one(dismissGroup)},
	"kickGroup/err1202-dismissed":                   {steps: one(dismissGroup)},
	"setGroupInfo/err1202-dismissed":                {steps: one(dismissGroup)},
	"transferGroup/err1202-dismissed":               {steps: one(dismissGroup)},
	"muteGroupMember/err1202-dismissed":             {steps: one(dismissGroup)},
	"cancelMuteGroupMember/err1202-dismissed":       {steps: one(replay("muteGroupMember/muteOneHour"), dismissGroup)},
	"muteGroup/err1202-dismissed":                   {steps: one(dismissGroup)},
	"cancelMuteGroup/err1202-dismissed":             {steps: one(replay("muteGroup/muteAll"), dismissGroup)},
	"sendMsg/err1202-dismissed":                     {steps: one(dismissGroup)},
	"sendMsg/err1203-memberMuted":                   {steps: one(replay("muteGroupMember/muteOneHour"))},
}

// prepFor returns the set-up of an example.
func prepFor(opID, example string) prep {
	if p, ok := preps[opID+"/"+example]; ok {
		return p
	}
	return preps[opID+"/*"]
}

// prepare registers the users and creates the groups a request mentions (its body, and the other values given:
// the expected response, the caller). With fresh, the users of body.users[] and every group are left to the
// request itself, which creates them.
func (e *env) prepare(body map[string]any, fresh bool, also ...any) {
	e.t.Helper()
	orig := obj(e.unmap(body))
	skip := map[string]bool{}
	if fresh {
		for _, u := range list(orig["users"]) {
			skip[str(obj(u)["userID"])] = true
		}
	}
	var users, groups []string
	for _, ph := range placeholders(append([]any{orig}, also...)...) {
		switch {
		case skip[ph]:
		case strings.HasPrefix(ph, "user"):
			users = append(users, ph)
		case e.s.groups[ph] && !fresh:
			groups = append(groups, ph)
		}
	}
	e.register(users...)
	for _, g := range groups {
		e.fixtureGroup(g, 0)
	}
}

// unmap turns this case's run IDs in v back into placeholders (to find what a mapped body mentions).
func (e *env) unmap(v any) any {
	suffix := "x" + e.ids.suffix
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, el := range x {
				out[k] = walk(el)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, el := range x {
				out[i] = walk(el)
			}
			return out
		case string:
			return strings.ReplaceAll(x, suffix, "")
		}
		return v
	}
	return walk(v)
}
