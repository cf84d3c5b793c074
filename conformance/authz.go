package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Authorization cases derived from the OpenAPI document rather than from its examples:
//
//   - <tag>/<operationId>/err1003-actsAs-<field>: for every field of x-acts-as (the body fields that name the
//     acting user), the operation's first success example made by an ordinary user, with the field naming another
//     (registered) user: 1003.
//   - roles/<operationId>/<actor>-on-<target>: for every pair of group roles (owner, admin, member; "self" where
//     the rules name it) an x-role-rules operation can meet, the operation performed by the actor on the target
//     in a group of an owner, two admins and two members: errCode 0 when the rules allow the pair, else 1003.

// actsAsExample is the first success example made by an ordinary user (a placeholder caller).
func (op *Op) actsAsExample() *Example {
	for _, ex := range op.Examples {
		if ex.ErrCode == 0 && placeholderRE.MatchString(ex.Caller) {
			return ex
		}
	}
	return nil
}

func (rt *runtime) runActsAs(t TestLike, op *Op, field string) {
	e := rt.newEnv(t)
	ex := op.actsAsExample()
	p := prepFor(op.ID, ex.Name)
	c := &exampleCall{op: op, ex: ex, body: obj(e.ids.value(ex.Body)), caller: e.id(ex.Caller)}
	e.prepare(c.body, p.fresh, ex.Resp, ex.Caller)
	for _, s := range p.steps {
		s.run(e, c)
	}
	// The body stays the example's, naming the user who may make the request; the token is another user's:
	// one of the example's own users where there is one (so that a server trusting the body would act), else
	// a fresh one.
	other := ""
	for _, ph := range placeholders(ex.Body, ex.Resp) {
		if ph != ex.Caller && strings.HasPrefix(ph, "user") && e.s.profiles[ph] != nil {
			e.register(ph)
			other = e.id(ph)
			break
		}
	}
	if other == "" {
		other = "other" + e.ids.suffix
		e.registerPlain(other)
	}
	v, ok := lookup(c.body, strings.TrimSuffix(field, "[]"))
	if !ok || v == nil || v == "" {
		// A field the example leaves to its default (the caller) is named explicitly.
		v = c.caller
		if strings.HasSuffix(field, "[]") {
			v = []any{c.caller}
		}
		setPath(c.body, strings.TrimSuffix(field, "[]"), v)
	}
	t.Logf("example %q with %s = %v, made with the token of %s (another user)", ex.Name, field, show(v), other)
	b, _ := json.Marshal(c.body)
	r := e.post(op, other, b, nil)
	e.checkReply(op, r, map[string]any{"errCode": 1003.0}, prep{})
}

var roleNames = map[int]string{100: "owner", 60: "admin", 20: "member"}

// rolePair is one case of x-role-rules: the actor's role and the target's (0 without a target, -1 itself).
type rolePair struct{ actor, target int }

func (p rolePair) name() string {
	switch p.target {
	case 0:
		return roleNames[p.actor]
	case -1:
		return roleNames[p.actor] + "-on-self"
	}
	return roleNames[p.actor] + "-on-" + roleNames[p.target]
}

// pairs lists the role pairs of the rules.
func (r *RoleRules) pairs() []rolePair {
	roles := []int{100, 60, 20}
	var out []rolePair
	if r.Target == "" {
		for _, a := range roles {
			out = append(out, rolePair{a, 0})
		}
		return out
	}
	targets := r.Targets
	if len(targets) == 0 {
		targets = roles
	}
	for _, a := range roles {
		for _, t := range targets {
			if a == 100 && t == 100 {
				continue // one owner
			}
			out = append(out, rolePair{a, t})
		}
		if slices.Contains(r.Allow, "self") {
			out = append(out, rolePair{a, -1})
		}
	}
	return out
}

func (r *RoleRules) allows(p rolePair) bool {
	switch p.target {
	case 0:
		return slices.Contains(r.Allow, strconv.Itoa(p.actor))
	case -1:
		return slices.Contains(r.Allow, "self")
	}
	return slices.Contains(r.Allow, fmt.Sprintf("%d>%d", p.actor, p.target))
}

func (rt *runtime) runRole(t TestLike, op *Op, p rolePair) {
	e := rt.newEnv(t)
	sfx := e.ids.suffix
	owner, admins, members := "owner"+sfx, []string{"admina" + sfx, "adminb" + sfx}, []string{"membera" + sfx, "memberb" + sfx}
	e.registerPlain(append(append([]string{owner}, admins...), members...)...)
	gid := "rolegroup" + sfx
	recipe := e.s.example(groupRecipe)
	gb := obj(e.ids.value(recipe.Body))
	setPath(gb, "groupInfo.groupID", gid)
	gb["adminUserIDs"] = []any{admins[0], admins[1]}
	gb["memberUserIDs"] = []any{members[0], members[1]}
	delete(gb, "ownerUserID")
	e.setupCall("createGroup", owner, gb)
	pick := func(role int, not string) string {
		var cands []string
		switch role {
		case 100:
			cands = []string{owner}
		case 60:
			cands = admins
		case 20:
			cands = members
		}
		for _, u := range cands {
			if u != not {
				return u
			}
		}
		return ""
	}
	actor := pick(p.actor, "")
	target := ""
	switch p.target {
	case 0:
	case -1:
		target = actor
	default:
		target = pick(p.target, actor)
	}

	ex := op.firstSuccess()
	body := obj(e.ids.value(ex.Body))
	// The example's group and its owner become the case's.
	recipeOwner := e.id(recipe.Caller)
	replaceStrings(body, map[string]string{e.id("group123"): gid, recipeOwner: owner})
	for _, f := range op.ActsAs {
		setPath(body, f, actor)
	}
	switch tgt := op.Roles.Target; {
	case tgt == "":
	case strings.HasPrefix(tgt, "sender("):
		// The target sends a message to the group; the actor revokes it.
		send := e.s.example("sendMsg/groupText")
		sb := obj(e.ids.value(send.Body))
		sb["sendID"], sb["groupID"], sb["clientMsgID"] = target, gid, "rolemsg"+sfx
		d := e.setupCall("sendMsg", target, sb)
		body["conversationID"] = "group_" + gid
		body["seq"] = d["seq"]
	case strings.HasSuffix(tgt, "[]"):
		setPath(body, strings.TrimSuffix(strings.TrimPrefix(tgt, "body."), "[]"), []any{target})
	default:
		setPath(body, strings.TrimPrefix(tgt, "body."), target)
	}
	// Cancelling a mute needs a mute: the owner makes it first.
	if strings.HasPrefix(op.ID, "cancelMute") && target != owner {
		mute := e.s.opByID[strings.ToLower(op.ID[6:7])+op.ID[7:]]
		if mute != nil {
			mb := obj(e.ids.value(mute.firstSuccess().Body))
			replaceStrings(mb, map[string]string{e.id("group123"): gid, recipeOwner: owner})
			if target != "" {
				mb["userID"] = target
			}
			e.setupCall(mute.ID, owner, mb)
		}
	}
	want := 1003
	if op.Roles.allows(p) {
		want = 0
	}
	t.Logf("group %s: owner %s, admins %v, members %v; %s (%s) performs %s on %s: errCode %d expected (x-role-rules allow %v)",
		gid, owner, admins, members, actor, roleNames[p.actor], op.ID, orNone(target), want, op.Roles.Allow)
	v := verifyFor(op.ID, "*")
	if want == 0 && v.pre != nil {
		v.pre(e, &exampleCall{op: op, caller: actor, body: body})
	}
	b, _ := json.Marshal(body)
	r := e.post(op, actor, b, nil)
	e.checkReply(op, r, map[string]any{"errCode": float64(want)}, prep{})
	// An allowed change must have happened: read it back.
	if want == 0 && r.errCode() == 0 && v.post != nil && !t.Failed() {
		v.post(e, &exampleCall{op: op, caller: actor, body: body}, obj(r.data()))
	}
}

func orNone(s string) string {
	if s == "" {
		return "(no target)"
	}
	return s
}

// replaceStrings replaces whole string values of a generic JSON value.
func replaceStrings(v any, m map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, el := range x {
			if s, ok := el.(string); ok {
				if r, ok := m[s]; ok {
					x[k] = r
				}
				continue
			}
			replaceStrings(el, m)
		}
	case []any:
		for i, el := range x {
			if s, ok := el.(string); ok {
				if r, ok := m[s]; ok {
					x[i] = r
				}
				continue
			}
			replaceStrings(el, m)
		}
	}
}
