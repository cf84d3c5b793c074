package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/imspec/imserver/client"
	"github.com/imspec/imserver/conformance/match"
	"github.com/imspec/imserver/conformance/must"
)

// An event case performs one x-trigger rule of the AsyncAPI document: it builds the world the rule's `when`
// needs (from the examples of the operation and their set-up), connects every user of the case and a bystander,
// performs the operation, and then checks that every recipient's connections get the push within EventDeadline
// (valid against the message's schema, its Tips valid against the Tips schema), that nobody else gets it within
// QuietWindow, and — for stored rules — that a connection opened afterwards finds it with 1001/1002.

// evPrep is the part of an event case's world the rule's `when` does not say (a small table, keyed
// "<message name>/<rule index>").
type evPrep struct {
	example      string // the example of the operation to start from (default: chosen by the rule's conditions)
	caller       string // placeholder of the caller (default: the example's)
	nv           int    // needVerification of the group placeholders (default: what `group.needVerification` needs)
	steps        []step // set-up; with replaceSteps instead of the example's own set-up
	replaceSteps bool
	edits        []edit // changes to the example's body
}

var evPreps = map[string]evPrep{
	// Typing in a group: the typing example is a single chat.
	"Typing/1": {example: "typing", edits: []edit{setVal("sessionType", 3.0), set("groupID", "group123"), setVal("recvID", "")}},
	// Accepting an application that came from an invitation (joinSource 2): in a group with needVerification 1
	// an ordinary member's invitation becomes an application.
	"MemberInvited/2": {example: "accept", nv: 1, replaceSteps: true, steps: []step{
		replay("inviteUserToGroup/seed", from("groupID", "groupID"), fromList("invitedUserIDs", "fromUserID"), as("user456"))}},
	// A read receipt in a group: user123 reads the message user456 sent to group123.
	"HasReadReceipt/1": {example: "readTwo", caller: "user123", replaceSteps: true, steps: []step{replay("sendMsg/groupText")},
		edits: []edit{readGroupMessage}},
}

func setVal(path string, v any) edit {
	return func(_ *env, _ *exampleCall, _ *string, b map[string]any) { setPath(b, path, v) }
}

// fromList sets a body path to a one-element list holding the value at src of the case's own body.
func fromList(path, src string) edit {
	return func(_ *env, c *exampleCall, _ *string, b map[string]any) {
		v, _ := lookup(c.body, src)
		setPath(b, path, []any{v})
	}
}

// readGroupMessage makes a markMsgsAsRead body read, as user123, the message user456 sent to group123.
func readGroupMessage(e *env, _ *exampleCall, _ *string, b map[string]any) {
	conv := "group_" + e.id("group123")
	var seqs []any
	e.model.mu.Lock()
	for seq, sender := range e.model.senders[conv] {
		if sender == e.id("user456") {
			seqs = append(seqs, float64(seq))
		}
	}
	e.model.mu.Unlock()
	b["conversationID"] = conv
	b["seqs"] = seqs
	b["userID"] = e.id("user123")
}

// runEvent runs the case of one rule.
func (rt *runtime) runEvent(t TestLike, msg *Message, rule Rule) {
	switch {
	case rule.Operation == "ws:connect" || rule.Operation == "ws:disconnect":
		rt.runPresence(t, msg, rule)
	case strings.HasPrefix(rule.Operation, "ws:"):
		rt.runWSTrigger(t, msg, rule)
	case rt.s.opByID[rule.Operation] != nil:
		rt.runRESTTrigger(t, msg, rule)
	default:
		t.Fatalf("x-trigger operation %q is neither an operationId of the OpenAPI document nor ws:<reqIdentifier>, ws:connect or ws:disconnect", rule.Operation)
	}
}

// bodyConds returns the conditions on body.<path> of a rule.
func bodyConds(conds []cond) []cond {
	var out []cond
	for _, c := range conds {
		if strings.HasPrefix(c.operand, "body.") {
			out = append(out, c)
		}
	}
	return out
}

// chooseExample returns the named example, or the one whose body satisfies most of the conditions.
func chooseExample(names []string, bodies []any, want string, conds []cond) int {
	if want != "" {
		return slices.Index(names, want)
	}
	best, bestN := -1, -1
	for i, b := range bodies {
		n := 0
		for _, c := range bodyConds(conds) {
			v, ok := lookup(b, strings.TrimPrefix(c.operand, "body."))
			if c.holds(v, ok) {
				n++
			}
		}
		if n > bestN {
			best, bestN = i, n
		}
	}
	return best
}

// patchBody makes the body satisfy the rule's conditions on it.
func patchBody(body map[string]any, conds []cond) {
	for _, c := range bodyConds(conds) {
		path := strings.TrimPrefix(c.operand, "body.")
		v, ok := lookup(body, path)
		if !c.holds(v, ok) {
			setPath(body, path, c.solve(v, ok))
		}
	}
}

// condOn returns the first condition on operand.
func condOn(conds []cond, operand string) (cond, bool) {
	for _, c := range conds {
		if c.operand == operand {
			return c, true
		}
	}
	return cond{}, false
}

// trigger is an event case in progress.
type trigger struct {
	e      *env
	msg    *Message
	rule   Rule
	caller string
	body   map[string]any
	opID   string
	conns  []*watch
	sender *watch // the connection that made a WebSocket request
	before *model
}

func (rt *runtime) runRESTTrigger(t TestLike, msg *Message, rule Rule) {
	e := rt.newEnv(t)
	op := rt.s.opByID[rule.Operation]
	conds, _ := parseWhen(rule.When)
	ep := evPreps[fmt.Sprintf("%s/%d", msg.Name, rule.Index)]

	var names []string
	var bodies []any
	var exs []*Example
	for _, ex := range op.Examples {
		if ex.ErrCode == 0 {
			names, bodies, exs = append(names, ex.Name), append(bodies, ex.Body), append(exs, ex)
		}
	}
	i := chooseExample(names, bodies, ep.example, conds)
	if i < 0 {
		t.Fatalf("the spec has no success example of %s to perform this rule with", op.ID)
	}
	ex := exs[i]
	p := prepFor(op.ID, ex.Name)
	c := &exampleCall{op: op, ex: ex, body: obj(e.ids.value(ex.Body)), caller: e.id(ex.Caller)}
	if ex.Caller == "" {
		c.caller = ""
	}
	for _, ed := range ep.edits {
		ed(e, c, &c.caller, c.body)
	}
	patchBody(c.body, conds)
	t.Logf("performing %s as in its example %q (when: %s)", op.ID, ex.Name, orAlways(rule.When))

	// The groups the request names are made with the needVerification the rule needs.
	nv := ep.nv
	if cnd, ok := condOn(conds, "group.needVerification"); ok {
		nv = num(cnd.solve(float64(nv), true))
	}
	if !p.fresh {
		for _, ph := range placeholders(e.unmap(c.body)) {
			if e.s.groups[ph] {
				e.fixtureGroup(ph, nv)
			}
		}
	}
	e.prepare(c.body, p.fresh, ex.Caller)
	if ep.caller != "" {
		e.register(ep.caller)
		c.caller = e.id(ep.caller)
	}
	stepsToRun := p.steps
	if ep.replaceSteps {
		stepsToRun = ep.steps
	} else {
		stepsToRun = append(append([]step{}, stepsToRun...), ep.steps...)
	}
	for _, s := range stepsToRun {
		s.run(e, c)
	}
	for _, ed := range ep.edits { // edits may depend on what the set-up made
		ed(e, c, &c.caller, c.body)
	}
	patchBody(c.body, conds)
	if cnd, ok := condOn(conds, "caller.roleLevel"); ok {
		c.caller = e.chooseCaller(str(c.body["groupID"]), c.caller, cnd)
	}
	tr := &trigger{e: e, msg: msg, rule: rule, caller: c.caller, body: c.body}
	tr.befriendFor()
	tr.connectAll(false)

	e.model.mu.Lock()
	tr.before = e.model.clone()
	e.model.mu.Unlock()
	tr.opID = e.opID("trigger")
	h := http.Header{}
	h.Set("operationID", tr.opID)
	b, _ := json.Marshal(c.body)
	if op.ID == "sendMsg" {
		e.noteSent(c.body)
	}
	r := e.post(op, c.caller, b, h)
	must.NotError(t, "POST "+op.Path, r.err)
	if r.body == nil || r.errCode() != 0 {
		t.Fatalf("performing %s with %s as %s: want errCode 0, got %s", op.ID, b, c.caller, r.describe())
	}
	result := obj(r.data())
	e.effect(op.ID, c.caller, c.body, result)
	tr.check(result)
}

func orAlways(w string) string {
	if w == "" {
		return "always"
	}
	return w
}

// chooseCaller returns a user whose role in the group satisfies c (the current caller when it does).
func (e *env) chooseCaller(gid, current string, c cond) string {
	e.t.Helper()
	e.model.mu.Lock()
	defer e.model.mu.Unlock()
	if c.holds(float64(e.model.role(gid, current)), true) {
		return current
	}
	var cands []string
	if g := e.model.groups[gid]; g != nil {
		for u := range g.members {
			cands = append(cands, u)
		}
	}
	sort.Strings(cands)
	for _, u := range cands {
		if c.holds(float64(e.model.role(gid, u)), true) {
			return u
		}
	}
	e.t.Fatalf("set-up: no user of group %s has a role that satisfies %s %s %v", gid, c.operand, c.op, c.lits)
	return ""
}

// befriendFor gives the user a friendsOf(<ref>) recipient term names a friend, so that the term is not empty.
func (tr *trigger) befriendFor() {
	e := tr.e
	for _, term := range tr.rule.Recipients {
		name, args, ok := call(term)
		if !ok || name != "friendsOf" {
			continue
		}
		who := tr.ref(args[0], nil)
		e.model.mu.Lock()
		has := len(e.model.friendsOf(who)) > 0
		e.model.mu.Unlock()
		if has || who == "" {
			continue
		}
		friend := "friend" + e.ids.suffix
		e.registerPlain(friend)
		replay("addFriend/seed", setID("fromUserID", who), setID("toUserID", friend), asID(who)).run(e, nil)
		replay("addFriendResponse/accept", setID("fromUserID", who), setID("toUserID", friend), asID(friend)).run(e, nil)
	}
}

func setID(path, id string) edit {
	return func(_ *env, _ *exampleCall, _ *string, b map[string]any) { setPath(b, path, id) }
}

func asID(id string) edit {
	return func(_ *env, _ *exampleCall, caller *string, _ map[string]any) { *caller = id }
}

// connectAll connects every user of the case (the admin excepted: its token is shared by the run) on platform 1
// and a bystander; with other, the caller also on platform 2 (its "other connection").
func (tr *trigger) connectAll(other bool) {
	e := tr.e
	e.mu.Lock()
	var users []string
	for u := range e.registered {
		if !e.isAdmin(u) {
			users = append(users, u)
		}
	}
	e.mu.Unlock()
	sort.Strings(users)
	by := "bystander" + e.ids.suffix
	e.registerPlain(by)
	users = append(users, by)
	for _, u := range users {
		w := e.connect(u, 1)
		tr.conns = append(tr.conns, w)
		if u == tr.caller {
			tr.sender = w
		}
	}
	if other && tr.caller != "" {
		tr.conns = append(tr.conns, e.connect(tr.caller, 2))
	}
}

var callRE = regexp.MustCompile(`^(\w+)\((.*)\)$`)

func call(term string) (string, []string, bool) {
	m := callRE.FindStringSubmatch(strings.TrimSpace(term))
	if m == nil {
		return "", nil, false
	}
	var args []string
	for _, a := range strings.Split(m[2], ",") {
		args = append(args, strings.TrimSpace(a))
	}
	return m[1], args, true
}

// ref evaluates a <ref>: body.<path>, result.<path> or caller.
func (tr *trigger) ref(r string, result map[string]any) string {
	switch {
	case r == "caller":
		return tr.caller
	case strings.HasPrefix(r, "body."):
		v, _ := lookup(tr.body, strings.TrimPrefix(r, "body."))
		return str(v)
	case strings.HasPrefix(r, "result."):
		v, _ := lookup(result, strings.TrimPrefix(r, "result."))
		return str(v)
	}
	return ""
}

// recipients evaluates the rule's recipient terms: the users who must get the push, and whether the caller's other
// connections must.
func (tr *trigger) recipients(result map[string]any) (users []string, otherConns bool) {
	e := tr.e
	e.model.mu.Lock()
	after := e.model.clone()
	e.model.mu.Unlock()
	before := tr.before
	seen := map[string]bool{}
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			users = append(users, u)
		}
	}
	for _, term := range tr.rule.Recipients {
		term = strings.TrimSpace(term)
		switch {
		case term == "caller":
			add(tr.caller)
		case term == "callerOtherConns":
			otherConns = true
		case strings.HasPrefix(term, "body.") && strings.HasSuffix(term, "[]"):
			v, _ := lookup(tr.body, strings.TrimSuffix(strings.TrimPrefix(term, "body."), "[]"))
			for _, u := range list(v) {
				add(str(u))
			}
		case strings.HasPrefix(term, "body."):
			u := tr.ref(term, result)
			if u == "" { // a field the operation defaults when empty means its default, the caller
				u = tr.caller
			}
			add(u)
		default:
			name, args, ok := call(term)
			if !ok {
				e.t.Fatalf("x-trigger recipient term %q is not in the vocabulary", term)
			}
			switch name {
			case "friendsOf":
				for _, u := range after.friendsOf(tr.ref(args[0], result)) {
					add(u)
				}
			case "groupMembers":
				for _, u := range after.members(tr.ref(args[0], result)) {
					add(u)
				}
			case "groupMembersBefore":
				for _, u := range before.members(tr.ref(args[0], result)) {
					add(u)
				}
			case "groupAdmins":
				if g := after.groups[tr.ref(args[0], result)]; g != nil {
					add(g.owner)
					for u := range g.admins {
						add(u)
					}
				}
			case "conversationMembers":
				conv := tr.ref(args[0], result)
				if gid, ok := strings.CutPrefix(conv, "group_"); ok {
					for _, u := range after.members(gid) {
						add(u)
					}
				} else if p, ok := strings.CutPrefix(conv, "single_"); ok {
					a, b, _ := strings.Cut(p, "_")
					add(a)
					add(b)
				}
			case "peer":
				conv, who := tr.ref(args[0], result), tr.ref(args[1], result)
				if p, ok := strings.CutPrefix(conv, "single_"); ok {
					a, b, _ := strings.Cut(p, "_")
					if a == who {
						add(b)
					} else {
						add(a)
					}
				}
			case "senders":
				conv := tr.ref(args[0], result)
				v, _ := lookup(tr.body, strings.TrimPrefix(args[1], "body."))
				for _, s := range list(v) {
					add(before.senders[conv][int64(num(s))])
				}
			default:
				e.t.Fatalf("x-trigger recipient term %q is not in the vocabulary", term)
			}
		}
	}
	sort.Strings(users)
	return users, otherConns
}

// conversation expands the rule's conversation template for a recipient.
func (tr *trigger) conversation(recipient string, result map[string]any) string {
	re := regexp.MustCompile(`\{([^}]*)\}`)
	return re.ReplaceAllStringFunc(tr.rule.Conversation, func(m string) string {
		inner := m[1 : len(m)-1]
		if inner == "recipient" {
			return recipient
		}
		if name, args, ok := call(inner); ok && name == "pair" && len(args) == 2 {
			return pair(tr.ref(args[0], result), tr.ref(args[1], result))
		}
		return tr.ref(inner, result)
	})
}

// contentType is the contentType of the push this rule makes (for chat rules: the body's).
func (tr *trigger) contentType() int {
	if tr.msg.ContentType != 0 {
		return tr.msg.ContentType
	}
	return num(tr.body["contentType"])
}

// mine tells whether a push is the one this case waits for.
func (tr *trigger) mine(p client.Push) bool {
	if int(p.Msg.ContentType) != tr.contentType() {
		return false
	}
	if strings.HasPrefix(p.Frame.OperationID, tr.e.tag+"-setup") {
		return false
	}
	if id := str(tr.body["clientMsgID"]); id != "" && tr.msg.ContentType == 0 {
		return p.Msg.ClientMsgID == id
	}
	return true
}

// expected returns how many pushes one recipient connection must get (one per element of `each`).
func (tr *trigger) expected() int {
	if tr.rule.Each == "" {
		return 1
	}
	v, _ := lookup(tr.body, strings.TrimSuffix(strings.TrimPrefix(tr.rule.Each, "body."), "[]"))
	return len(list(v))
}

// check waits for the pushes and checks them, the quiet of the others, and the stored copies.
func (tr *trigger) check(result map[string]any) {
	e, t := tr.e, tr.e.t
	users, otherConns := tr.recipients(result)
	t.Logf("recipients: %v (caller %s, callerOtherConns %v)", users, tr.caller, otherConns)
	n := tr.expected()
	if len(users) == 0 && !otherConns {
		t.Fatalf("the rule's recipients %v came out empty for what the suite did: nothing could be checked", tr.rule.Recipients)
	}
	if n == 0 {
		t.Fatalf("the rule's each %q came out empty for what the suite did: nothing could be checked", tr.rule.Each)
	}
	var want, quiet []*watch
	for _, w := range tr.conns {
		switch {
		case w == tr.sender && strings.HasPrefix(tr.rule.Operation, "ws:"):
			quiet = append(quiet, w) // the requesting connection has the reply
		case w.user == tr.caller && w != tr.sender && strings.HasPrefix(tr.rule.Operation, "ws:"):
			if otherConns || slices.Contains(users, w.user) {
				want = append(want, w)
			} else {
				quiet = append(quiet, w)
			}
		case slices.Contains(users, w.user) || (otherConns && w.user == tr.caller):
			want = append(want, w)
		default:
			quiet = append(quiet, w)
		}
	}
	for _, u := range users {
		if e.isAdmin(u) {
			t.Logf("recipient %s is the admin, whose connections the suite does not open", u)
		}
	}
	got := map[*watch]client.Push{}
	for _, w := range want {
		ps := w.await(n, EventDeadline, tr.mine)
		if len(ps) < n {
			t.Errorf("%s: want %d push(es) of contentType %d (%s) within %s, got %d%s", w, n, tr.contentType(), tr.msg.Name, EventDeadline, len(ps), w.seen())
			continue
		}
		got[w] = ps[0]
		for _, p := range ps {
			tr.checkPush(w, p, result)
		}
	}
	time.Sleep(QuietWindow)
	for _, w := range want {
		if ps := w.matching(tr.mine); len(ps) > n {
			t.Errorf("%s: want %d push(es) of contentType %d, got %d", w, n, tr.contentType(), len(ps))
		}
	}
	for _, w := range quiet {
		pred := tr.mine
		if strings.HasPrefix(w.user, "bystander") {
			pred = func(client.Push) bool { return true }
		}
		if ps := w.matching(pred); len(ps) > 0 {
			t.Errorf("%s is not a recipient of this rule but got %d push(es), the first: %s", w, len(ps), match.Show(pushFrame(ps[0])["data"]))
		}
	}
	if !tr.rule.Stored {
		return
	}
	// A connection opened after the event finds the stored copy; in a group, only who is still a member may
	// pull it (a user who left or was removed gets the push but no longer reads the group).
	e.model.mu.Lock()
	after := e.model.clone()
	e.model.mu.Unlock()
	for w, p := range got {
		if w.user == tr.caller && w.platform != 1 {
			continue
		}
		conv := tr.conversation(w.user, result)
		if gid, ok := strings.CutPrefix(conv, "group_"); ok && !slices.Contains(after.members(gid), w.user) {
			t.Logf("%s is no longer a member of %s: not pulling it", w, gid)
			continue
		}
		tr.e.checkStored(w.user, conv, p)
	}
}

// seen describes what a connection received, for a failure report.
func (w *watch) seen() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pushes) == 0 {
		return " (it received no push at all)"
	}
	var cts []string
	for _, p := range w.pushes {
		cts = append(cts, fmt.Sprint(p.Msg.ContentType))
	}
	return " (it received pushes of contentType " + strings.Join(cts, ", ") + ")"
}

// checkPush checks one push against the message's schema, its Tips against the Tips schema, and its MsgData
// against the rule.
func (tr *trigger) checkPush(w *watch, p client.Push, result map[string]any) {
	e, t := tr.e, tr.e.t
	frame := pushFrame(p)
	if err := e.s.validateAsync("/components/messages/"+tr.msg.Key+"/payload", frame); err != nil {
		t.Errorf("%s: the push does not match the schema of message %s: %s\n    push: %s", w, tr.msg.Key, err, match.Show(frame))
	}
	if tr.opID != "" && p.Frame.OperationID != tr.opID {
		t.Errorf("%s: operationID: want %q (the causing request's), got %q", w, tr.opID, p.Frame.OperationID)
	}
	data := obj(frame["data"])
	seq := num(data["seq"])
	if tr.rule.Stored && seq <= 0 {
		t.Errorf("%s: data.seq: want a seq > 0 (the rule stores the message), got %d", w, seq)
	}
	if !tr.rule.Stored && seq != 0 {
		t.Errorf("%s: data.seq: want 0 (online only), got %d", w, seq)
	}
	if tr.msg.ContentType == 0 || tr.msg.Tips == "" {
		tr.checkChat(w, data)
		return
	}
	if got := str(data["sendID"]); tr.caller != "" && got != tr.caller && !e.isAdmin(tr.caller) {
		t.Errorf("%s: data.sendID: want the operator %q, got %q", w, tr.caller, got)
	}
	conv := tr.conversation(w.user, result)
	switch {
	case strings.HasPrefix(conv, "notification_"):
		if got := str(data["recvID"]); got != w.user {
			t.Errorf("%s: data.recvID: want the recipient %q, got %q", w, w.user, got)
		}
	case strings.HasPrefix(conv, "group_"):
		gid := strings.TrimPrefix(conv, "group_")
		if got := str(data["groupID"]); got != gid {
			t.Errorf("%s: data.groupID: want %q, got %q", w, gid, got)
		}
	}
	tips, err := e.s.decodeTips(str(data["content"]), tr.msg.Tips)
	if err != nil {
		t.Errorf("%s: data.content: %v", w, err)
		return
	}
	// The Tips speak of the group and the conversation the request named.
	if gid, ok := strings.CutPrefix(conv, "group_"); ok {
		if g := obj(tips["group"]); g != nil && str(g["groupID"]) != gid {
			t.Errorf("%s: data.content(json).detail(json).group.groupID: want %q, got %q", w, gid, str(g["groupID"]))
		}
	}
	if want := str(tr.body["conversationID"]); want != "" && tips["conversationID"] != nil && str(tips["conversationID"]) != want {
		t.Errorf("%s: data.content(json).detail(json).conversationID: want %q, got %q", w, want, str(tips["conversationID"]))
	}
	tr.checkTipsValues(w, tips)
}

// checkTipsValues compares the Tips with what the suite did: the users it named, the operator, the numbers it
// sent, the members the group has now (lists exactly, in any order).
func (tr *trigger) checkTipsValues(w *watch, tips map[string]any) {
	e, t, b := tr.e, tr.e.t, tr.body
	const at = "data.content(json).detail(json)."
	want := map[string]any{}
	sets := map[string][]string{}
	from, to := str(b["fromUserID"]), str(b["toUserID"])
	if owner := str(b["ownerUserID"]); owner != "" && from == "" {
		from, to = owner, str(b["friendUserID"])+str(b["blackUserID"])
	}
	if tips["fromToUserID"] != nil && from != "" && to != "" {
		want["fromToUserID.fromUserID"], want["fromToUserID.toUserID"] = from, to
	}
	if tips["opUser"] != nil && tr.caller != "" && !e.isAdmin(tr.caller) && !strings.HasPrefix(tr.rule.Operation, "ws:") {
		want["opUser.userID"] = tr.caller
	}
	self := func(field string) string {
		if u := str(b[field]); u != "" {
			return u
		}
		return tr.caller
	}
	switch {
	case tips["mutedSeconds"] != nil:
		want["mutedSeconds"] = b["mutedSeconds"]
	case tips["revokerUserID"] != nil:
		want["revokerUserID"], want["seq"] = self("userID"), b["seq"]
	case tips["markAsReadUserID"] != nil:
		want["markAsReadUserID"] = self("userID")
		var seqs []string
		top := 0
		for _, s := range list(b["seqs"]) {
			seqs = append(seqs, fmt.Sprint(num(s)))
			top = max(top, num(s))
		}
		want["hasReadSeq"] = top
		sets["seqs"] = seqs
	}
	if tips["mutedUser"] != nil {
		want["mutedUser.userID"] = b["userID"]
	}
	if tips["newGroupOwner"] != nil {
		want["newGroupOwner.userID"], want["oldGroupOwner"] = b["newOwnerUserID"], b["oldOwnerUserID"]
	}
	if tips["quitUser"] != nil {
		want["quitUser.userID"] = self("userID")
	}
	if tips["entrantUser"] != nil {
		if tr.rule.Operation == "joinGroup" {
			want["entrantUser.userID"] = tr.caller
		} else if f := str(b["fromUserID"]); f != "" {
			want["entrantUser.userID"] = f
		}
	}
	if tips["applicant"] != nil && tr.rule.Operation == "joinGroup" {
		want["applicant.userID"] = tr.caller
	}
	if u := str(obj(b["userInfo"])["userID"]); u != "" && tips["userID"] != nil {
		want["userID"] = u
	}
	ids := func(l any) []string {
		var out []string
		for _, x := range list(l) {
			out = append(out, str(x))
		}
		return out
	}
	if tips["kickedUserList"] != nil {
		sets["kickedUserList[].userID"] = ids(b["kickedUserIDs"])
	}
	if tips["invitedUserList"] != nil && tr.rule.Operation == "inviteUserToGroup" {
		sets["invitedUserList[].userID"] = ids(b["invitedUserIDs"])
	}
	e.model.mu.Lock()
	gid := str(obj(tips["group"])["groupID"])
	var members []string
	var owner string
	if g := e.model.groups[gid]; g != nil {
		members, owner = e.model.members(gid), g.owner
	}
	e.model.mu.Unlock()
	if tips["memberList"] != nil && members != nil {
		sets["memberList[].userID"] = members
	}
	if g := obj(tips["group"]); g != nil && members != nil && tr.rule.Operation != "dismissGroup" {
		want["group.memberCount"], want["group.ownerUserID"] = len(members), owner
	}
	for _, path := range sortedKeys(want) {
		v, _ := lookup(tips, path)
		wv := want[path]
		if fmt.Sprint(numOrStr(v)) != fmt.Sprint(numOrStr(wv)) {
			t.Errorf("%s: %s%s: want %s (what the suite did), got %s", w, at, path, show(wv), show(v))
		}
	}
	for _, path := range sortedKeysS(sets) {
		listPath, field, _ := strings.Cut(path, "[].")
		var got []string
		l, _ := lookup(tips, listPath)
		for _, el := range list(l) {
			if field == "" || field == path {
				got = append(got, fmt.Sprint(numOrStr(el)))
				continue
			}
			v, _ := lookup(el, field)
			got = append(got, str(v))
		}
		wl := append([]string{}, sets[path]...)
		sort.Strings(got)
		sort.Strings(wl)
		if strings.Join(got, ",") != strings.Join(wl, ",") {
			t.Errorf("%s: %s%s: want exactly %v (what the suite did), got %v", w, at, path, wl, got)
		}
	}
}

func numOrStr(v any) any {
	if f, ok := v.(float64); ok {
		return int64(f)
	}
	if i, ok := v.(int); ok {
		return int64(i)
	}
	return v
}

func sortedKeysS(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkChat checks a pushed chat message against the request that sent it.
func (tr *trigger) checkChat(w *watch, data map[string]any) {
	t := tr.e.t
	for _, k := range []string{"sendID", "recvID", "groupID", "clientMsgID"} {
		if want := str(tr.body[k]); want != "" && str(data[k]) != want {
			t.Errorf("%s: data.%s: want %q, got %q", w, k, want, str(data[k]))
		}
	}
	if want := num(tr.body["contentType"]); num(data["contentType"]) != want {
		t.Errorf("%s: data.contentType: want %d, got %d", w, want, num(data["contentType"]))
	}
	switch c := tr.body["content"].(type) {
	case string: // sent as JSON text (WebSocket): delivered byte for byte
		if str(data["content"]) != c {
			t.Errorf("%s: data.content: want %q (as sent), got %q", w, c, str(data["content"]))
		}
	case map[string]any: // sent as an object (REST): delivered as its JSON text
		var got any
		if err := json.Unmarshal([]byte(str(data["content"])), &got); err != nil {
			t.Errorf("%s: data.content: want the JSON text of %s, got %q", w, match.Show(c), str(data["content"]))
		} else if ms := match.JSON("data.content(json)", got, c, match.Rules{}); len(ms) > 0 {
			t.Errorf("%s: %s", w, must.Report(ms))
		}
	}
}

// pushFrame is a received frame as a generic JSON frame (data absent when the frame had none).
func pushFrame(p client.Push) map[string]any {
	b, _ := json.Marshal(p.Frame)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if len(p.Frame.Data) == 0 {
		delete(m, "data")
	}
	if p.Frame.Type == "" {
		delete(m, "type")
	}
	return m
}

// decodeTips decodes a notification's content ({"detail": "<Tips JSON text>"}) and validates both levels.
func (s *Suite) decodeTips(content, tipsSchema string) (map[string]any, error) {
	var elem map[string]any
	if err := json.Unmarshal([]byte(content), &elem); err != nil {
		return nil, fmt.Errorf("want the JSON text of a NotificationElem, got %q", content)
	}
	if err := s.validateAsync("/components/schemas/NotificationElem", elem); err != nil {
		return nil, fmt.Errorf("NotificationElem: %s (content %q)", err.Error(), content)
	}
	var tips map[string]any
	if err := json.Unmarshal([]byte(str(elem["detail"])), &tips); err != nil {
		return nil, fmt.Errorf("detail: want the JSON text of %s, got %q", tipsSchema, str(elem["detail"]))
	}
	if err := s.validateAsync("/components/schemas/"+tipsSchema, tips); err != nil {
		return tips, fmt.Errorf("detail does not match %s: %s\n    detail: %s", tipsSchema, err.Error(), str(elem["detail"]))
	}
	return tips, nil
}

// checkStored opens a connection of user on platform 3 and finds the pushed message p with 1001 and 1002.
func (e *env) checkStored(user, conv string, p client.Push) {
	t := e.t
	t.Helper()
	if e.isAdmin(user) {
		return
	}
	w := e.connect(user, 3)
	maxSeqs, _ := e.newestSeq(w)
	seq := p.Msg.Seq
	if maxSeqs[conv] < seq {
		t.Errorf("%s: 1001 GET_NEWEST_SEQ: maxSeqs[%q] = %d, want >= %d (the pushed message's seq)", w, conv, maxSeqs[conv], seq)
		return
	}
	msgs := e.pull(w, conv, seq, seq)
	for _, m := range msgs {
		if int64(num(m["seq"])) != seq {
			continue
		}
		if str(m["serverMsgID"]) != p.Msg.ServerMsgID || num(m["contentType"]) != int(p.Msg.ContentType) {
			t.Errorf("%s: 1002 seq %d of %s: want the pushed message (serverMsgID %q, contentType %d), got serverMsgID %q, contentType %d",
				w, seq, conv, p.Msg.ServerMsgID, p.Msg.ContentType, str(m["serverMsgID"]), num(m["contentType"]))
		}
		return
	}
	t.Errorf("%s: 1002 PULL_MSG_BY_SEQ of %s seq %d: the pushed message is not there (got %d messages)", w, conv, seq, len(msgs))
}

// newestSeq sends 1001 and checks the reply against its schema.
func (e *env) newestSeq(w *watch) (maxSeqs, minSeqs map[string]int64) {
	t := e.t
	t.Helper()
	f := e.request(w, 1001, map[string]any{"userID": w.user}, "getNewestSeqResp")
	var d struct {
		MaxSeqs map[string]int64 `json:"maxSeqs"`
		MinSeqs map[string]int64 `json:"minSeqs"`
	}
	if err := json.Unmarshal(f.Data, &d); err != nil {
		t.Fatalf("%s: 1001 reply data: %v", w, err)
	}
	return d.MaxSeqs, d.MinSeqs
}

// pull sends 1002 for one range and returns its messages (from msgs or notificationMsgs).
func (e *env) pull(w *watch, conv string, begin, end int64) []map[string]any {
	t := e.t
	t.Helper()
	f := e.request(w, 1002, map[string]any{"userID": w.user,
		"seqRanges": []any{map[string]any{"conversationID": conv, "begin": begin, "end": end, "num": 100}}}, "pullMsgBySeqResp")
	var d map[string]map[string]struct {
		Msgs []map[string]any `json:"Msgs"`
	}
	if err := json.Unmarshal(f.Data, &d); err != nil {
		t.Fatalf("%s: 1002 reply data: %v", w, err)
	}
	if r, ok := d["notificationMsgs"][conv]; ok && len(r.Msgs) > 0 {
		return r.Msgs
	}
	return d["msgs"][conv].Msgs
}

// request sends a WebSocket request that must succeed and validates the reply against the message schema.
func (e *env) request(w *watch, reqID int, data any, replyMsg string) client.Frame {
	return e.requestOp(w, reqID, data, replyMsg, e.opID(fmt.Sprintf("ws%d", reqID)))
}

// requestOp is request with a given operationID.
func (e *env) requestOp(w *watch, reqID int, data any, replyMsg, opID string) client.Frame {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(client.WithOperationID(e.ctx, opID), callTimeout)
	defer cancel()
	type result struct {
		f   client.Frame
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := w.ws.Request(ctx, reqID, data)
		done <- result{f, err}
	}()
	var f client.Frame
	var err error
wait:
	for {
		select {
		case r := <-done:
			f, err = r.f, r.err
			break wait
		case o, ok := <-w.ws.Other():
			// A reply to this request whose msgIncr is not the request's would leave the client waiting until its
			// timeout: say so at once.
			if ok && o.ReqIdentifier == reqID && o.Type == "" {
				cancel()
				t.Fatalf("%s: request %d with %s: the reply came back with msgIncr %q, not the request's (a reply echoes the request's msgIncr): %s",
					w, reqID, match.Show(data), o.MsgIncr, match.Show(pushFrame(client.Push{Frame: o})))
			}
			if !ok {
				r := <-done
				f, err = r.f, r.err
				break wait
			}
		}
	}
	if err != nil {
		t.Fatalf("%s: request %d with %s: %v", w, reqID, match.Show(data), err)
	}
	if replyMsg != "" {
		frame := pushFrame(client.Push{Frame: f})
		if err := e.s.validateAsync("/components/messages/"+replyMsg+"/payload", frame); err != nil {
			t.Errorf("%s: the %d reply does not match the schema of message %s: %s\n    reply: %s", w, reqID, replyMsg, err, match.Show(frame))
		}
		if f.OperationID != opID {
			t.Errorf("%s: the %d reply: operationID: want %q (the request's), got %q", w, reqID, opID, f.OperationID)
		}
	}
	return f
}
