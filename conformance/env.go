package conformance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imspec/imserver/client"
	"github.com/imspec/imserver/conformance/match"
	"github.com/imspec/imserver/gen/api"
)

// Timing bounds of the suite.
const (
	// EventDeadline bounds the wait for an expected push.
	EventDeadline = 5 * time.Second
	// QuietWindow is how long a connection that must receive nothing is watched.
	QuietWindow = 400 * time.Millisecond
	// callTimeout bounds one REST call or WebSocket request.
	callTimeout = 20 * time.Second
)

// runtime is what the cases of one Run share: the target, the admin's token and the run's ID.
type runtime struct {
	s   *Suite
	tg  Target
	run string
	seq atomic.Int64

	adminMu       sync.Mutex
	adminTok      string
	adminPlatform int
}

func newRuntime(s *Suite, tg Target) *runtime {
	return &runtime{s: s, tg: tg, run: randID(4), adminPlatform: s.adminPlatform()}
}

func randID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		x, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[x.Int64()]
	}
	return string(b)
}

// adminPlatform is the platform of the suite's own admin token: one no example logs the admin in on, so that
// replaying userToken's examples does not retire the token every other case uses.
func (s *Suite) adminPlatform() int {
	used := map[int]bool{}
	for _, op := range s.Ops {
		for _, ex := range op.Examples {
			b := obj(ex.Body)
			if s.admins[str(b["userID"])] {
				used[num(b["platformID"])] = true
			}
		}
	}
	for p := 12; p > 0; p-- {
		if !used[p] {
			return p
		}
	}
	return 10
}

// adminToken returns the run's admin token, getting a new one when refresh is set or there is none yet.
func (rt *runtime) adminToken(ctx context.Context, refresh bool) (string, error) {
	rt.adminMu.Lock()
	defer rt.adminMu.Unlock()
	if rt.adminTok != "" && !refresh {
		return rt.adminTok, nil
	}
	tok, err := fetchToken(ctx, rt.tg, rt.tg.Admin, rt.adminPlatform)
	if err != nil {
		return "", fmt.Errorf("admin %s: %w", rt.tg.Admin, err)
	}
	rt.adminTok = tok
	return tok, nil
}

func fetchToken(ctx context.Context, tg Target, userID string, platform int) (string, error) {
	r := &client.REST{BaseURL: tg.APIURL}
	var d api.UserTokenData
	var err error
	for try := 0; ; try++ {
		err = r.Call(ctx, "/auth/user_token", api.UserTokenReq{Secret: tg.Secret, UserID: userID, PlatformID: api.PlatformID(platform)}, &d)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Code != tooManyRequests || try >= maxRetries || !waitRetry(ctx, ae.Dlt) {
			break
		}
	}
	if err == nil && d.Token == "" {
		err = errors.New("user_token answered an empty token")
	}
	return d.Token, err
}

// env is one case's world: its IDs, its users' tokens, its connections and what the set-up made.
type env struct {
	t   TestLike
	ctx context.Context
	rt  *runtime
	s   *Suite
	ids *ids
	tag string // operationID prefix of this case

	mu         sync.Mutex
	opSeq      int
	tokens     map[string]string // mapped userID/platform → token
	registered map[string]bool   // mapped userIDs
	created    map[string]bool   // mapped groupIDs
	sent       map[string]bool   // clientMsgIDs this case sent
	model      *model
}

func (rt *runtime) newEnv(t TestLike) *env {
	n := rt.seq.Add(1)
	suffix := rt.run + strconv.FormatInt(n, 36)
	e := &env{t: t, ctx: t.Context(), rt: rt, s: rt.s, tag: "imconform-" + suffix,
		ids:    &ids{suffix: suffix, admins: rt.s.admins, admin: rt.tg.Admin, devSecret: rt.s.devSecret, secret: rt.tg.Secret},
		tokens: map[string]string{}, registered: map[string]bool{}, created: map[string]bool{}, sent: map[string]bool{},
		model: newModel()}
	return e
}

// id maps a placeholder (or the admin name) to this case's ID.
func (e *env) id(ph string) string { return e.ids.id(ph) }

// isAdmin tells whether a mapped userID is the target's admin.
func (e *env) isAdmin(u string) bool { return u == e.rt.tg.Admin }

// opID returns a fresh operationID of this case.
func (e *env) opID(what string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.opSeq++
	return fmt.Sprintf("%s-%s-%d", e.tag, what, e.opSeq)
}

// token returns the token of a mapped user on a platform (one per user and platform: getting a second one would
// retire the first).
func (e *env) token(user string, platform int) string {
	e.t.Helper()
	if e.isAdmin(user) {
		tok, err := e.rt.adminToken(e.ctx, false)
		if err != nil {
			e.t.Fatalf("set-up: %v", err)
		}
		return tok
	}
	key := user + "/" + strconv.Itoa(platform)
	e.mu.Lock()
	tok := e.tokens[key]
	e.mu.Unlock()
	if tok != "" {
		return tok
	}
	ctx, cancel := context.WithTimeout(e.ctx, callTimeout)
	defer cancel()
	tok, err := fetchToken(ctx, e.rt.tg, user, platform)
	if err != nil {
		e.t.Fatalf("set-up: token of %s on platform %d: %v", user, platform, err)
	}
	e.mu.Lock()
	e.tokens[key] = tok
	e.mu.Unlock()
	return tok
}

// register registers the given placeholders that have a profile and are not registered yet, in one call.
func (e *env) register(phs ...string) {
	e.t.Helper()
	var users []any
	for _, ph := range phs {
		prof := e.s.profiles[ph]
		id := e.id(ph)
		e.mu.Lock()
		done := e.registered[id]
		e.registered[id] = true
		e.mu.Unlock()
		if prof == nil || done {
			continue
		}
		u := e.ids.value(prof).(map[string]any)
		users = append(users, u)
	}
	if len(users) == 0 {
		return
	}
	e.setupCall("userRegister", "", map[string]any{"secret": e.rt.tg.Secret, "users": users})
}

// registerPlain registers fresh users that are not placeholders (bystanders, extra friends): nickname = userID.
func (e *env) registerPlain(ids ...string) {
	e.t.Helper()
	var users []any
	for _, id := range ids {
		users = append(users, map[string]any{"userID": id, "nickname": id})
		e.mu.Lock()
		e.registered[id] = true
		e.mu.Unlock()
	}
	e.setupCall("userRegister", "", map[string]any{"secret": e.rt.tg.Secret, "users": users})
}

// reply is a REST reply.
type reply struct {
	status int
	raw    []byte
	body   map[string]any // the envelope, nil when the body is not JSON
	err    error          // transport failure

	// the request, for reports
	path, opID, caller string
	sent               []byte
}

// request describes the request of a reply for a failure report: what an implementer replays.
func (r reply) request() string {
	who := "no token"
	if r.caller != "" {
		who = "the token of " + r.caller
	}
	return fmt.Sprintf("request: POST %s (operationID %s, %s): %s", r.path, r.opID, who, match.Cut(string(r.sent), 1500))
}

func (r reply) errCode() int   { return num(r.body["errCode"]) }
func (r reply) errMsg() string { return str(r.body["errMsg"]) }
func (r reply) data() any      { return r.body["data"] }

// post sends raw bytes to an operation as caller (a mapped userID; "" = no token; anything else in token is
// sent as the token itself when caller is "-").
func (e *env) post(op *Op, caller string, body []byte, header http.Header) reply {
	e.t.Helper()
	r := &client.REST{BaseURL: e.rt.tg.APIURL}
	if caller != "" {
		r.Token = e.token(caller, 1)
	}
	rep := e.postWith(r, op, body, header)
	rep.caller = caller
	return rep
}

func (e *env) postWith(r *client.REST, op *Op, body []byte, header http.Header) reply {
	if header == nil {
		header = http.Header{}
	}
	if header.Get("operationID") == "" {
		header.Set("operationID", e.opID(op.ID))
	}
	ctx, cancel := context.WithTimeout(e.ctx, callTimeout)
	defer cancel()
	for try := 0; ; try++ {
		status, raw, err := r.Raw(ctx, op.Path, body, header)
		out := reply{status: status, raw: raw, err: err, path: op.Path, opID: header.Get("operationID"), sent: body}
		if err == nil {
			var m map[string]any
			if json.Unmarshal(raw, &m) == nil {
				out.body = m
			}
		}
		// A rate limit is the server's right (errCode 429, errDlt retryAfterMs=<n>): the suite waits and retries
		// rather than report it as the case's failure.
		if out.body == nil || out.errCode() != tooManyRequests || try >= maxRetries || !waitRetry(ctx, str(out.body["errDlt"])) {
			return out
		}
	}
}

// tooManyRequests is the errCode of a rate limit; maxRetries bounds the retries of one call.
const (
	tooManyRequests = 429
	maxRetries      = 500
)

// waitRetry waits what errDlt "retryAfterMs=<n>" says (20 ms to 2 s, plus jitter); false when ctx ended.
func waitRetry(ctx context.Context, dlt string) bool {
	ms, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(dlt), "retryAfterMs="))
	// At least 20 ms, plus jitter: many cases wait on the same per-address bucket at once.
	d := min(max(time.Duration(ms)*time.Millisecond, 20*time.Millisecond), 2*time.Second) + time.Duration(mrand.IntN(30))*time.Millisecond
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// setupCall performs a set-up operation as caller (a mapped userID, "" for none), which must succeed; it returns
// the reply's data and records the operation's effect in the model.
func (e *env) setupCall(opID, caller string, body map[string]any) map[string]any {
	e.t.Helper()
	op := e.s.opByID[opID]
	if op == nil {
		e.t.Fatalf("set-up: the spec has no operation %s", opID)
	}
	b, _ := json.Marshal(body)
	h := http.Header{}
	h.Set("operationID", e.opID("setup-"+opID))
	r := e.post(op, caller, b, h)
	switch {
	case r.err != nil:
		e.t.Fatalf("set-up: %s as %q: %v", opID, caller, r.err)
	case r.body == nil:
		e.t.Fatalf("set-up: %s as %q: HTTP %d, not a JSON envelope: %.300s", opID, caller, r.status, r.raw)
	case r.errCode() != 0:
		e.t.Fatalf("set-up: %s as %q with %s: errCode %d (%s)", opID, caller, b, r.errCode(), r.errMsg())
	}
	data := obj(r.data())
	e.effect(opID, caller, body, data)
	if opID == "sendMsg" {
		e.noteSent(body)
	}
	return data
}

func (e *env) noteSent(body map[string]any) {
	if id := str(body["clientMsgID"]); id != "" {
		e.mu.Lock()
		e.sent[id] = true
		e.mu.Unlock()
	}
}

// fixtureGroup creates group placeholder ph the way the spec's group recipe says (createGroup's seed example
// with groupInfo.groupID = ph), with needVerification nv.
func (e *env) fixtureGroup(ph string, nv int) {
	e.t.Helper()
	gid := e.id(ph)
	e.mu.Lock()
	done := e.created[gid]
	e.created[gid] = true
	e.mu.Unlock()
	if done {
		return
	}
	recipe := e.s.example(groupRecipe)
	if recipe == nil {
		e.t.Fatalf("set-up: the spec has no example %s to create groups with", groupRecipe)
	}
	body := e.ids.value(recipe.Body).(map[string]any)
	e.register(placeholders(recipe.Body, recipe.Caller)...)
	setPath(body, "groupInfo.groupID", gid)
	setPath(body, "groupInfo.needVerification", float64(nv))
	e.setupCall("createGroup", e.id(recipe.Caller), body)
}

// example returns the example "op/name".
func (s *Suite) example(ref string) *Example {
	opID, name, _ := strings.Cut(ref, "/")
	op := s.opByID[opID]
	if op == nil {
		return nil
	}
	for _, ex := range op.Examples {
		if ex.Name == name {
			return ex
		}
	}
	return nil
}

// ---------------------------------------------------------------- WebSocket connections

// watch is a connection whose pushes are collected as they arrive.
type watch struct {
	e        *env
	user     string // mapped userID
	platform int
	ws       *client.WS

	mu     sync.Mutex
	pushes []client.Push
	kick   bool
	wake   chan struct{}
}

// connect opens a connection of a mapped user on a platform; it is closed when the case ends.
func (e *env) connect(user string, platform int) *watch {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, callTimeout)
	defer cancel()
	ws, err := client.Dial(ctx, client.WSOptions{URL: e.rt.tg.WSURL, Token: e.token(user, platform), UserID: user,
		PlatformID: platform, OperationID: e.opID("connect")})
	if err != nil {
		e.t.Fatalf("set-up: connecting %s on platform %d: %v", user, platform, err)
	}
	w := &watch{e: e, user: user, platform: platform, ws: ws, wake: make(chan struct{})}
	go w.collect()
	e.t.Cleanup(func() { ws.Close() })
	return w
}

func (w *watch) collect() {
	kicked := w.ws.Kicked()
	for {
		select {
		case p, ok := <-w.ws.Pushes():
			if !ok {
				w.signal()
				return
			}
			w.mu.Lock()
			w.pushes = append(w.pushes, p)
			w.mu.Unlock()
			w.signal()
		case <-kicked:
			kicked = nil
			w.mu.Lock()
			w.kick = true
			w.mu.Unlock()
			w.signal()
		}
	}
}

func (w *watch) signal() {
	w.mu.Lock()
	close(w.wake)
	w.wake = make(chan struct{})
	w.mu.Unlock()
}

// await returns the pushes for which pred holds once there are n of them, or what there is at the deadline.
func (w *watch) await(n int, deadline time.Duration, pred func(client.Push) bool) []client.Push {
	end := time.After(deadline)
	for {
		w.mu.Lock()
		var got []client.Push
		for _, p := range w.pushes {
			if pred(p) {
				got = append(got, p)
			}
		}
		wake := w.wake
		w.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-wake:
		case <-end:
			return got
		case <-w.ws.Done():
			w.mu.Lock()
			got = got[:0]
			for _, p := range w.pushes {
				if pred(p) {
					got = append(got, p)
				}
			}
			w.mu.Unlock()
			return got
		case <-w.e.ctx.Done():
			return got
		}
	}
}

// matching returns the pushes received so far for which pred holds.
func (w *watch) matching(pred func(client.Push) bool) []client.Push {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []client.Push
	for _, p := range w.pushes {
		if pred(p) {
			out = append(out, p)
		}
	}
	return out
}

func (w *watch) String() string { return fmt.Sprintf("%s (platform %d)", w.user, w.platform) }

// ---------------------------------------------------------------- the model of what the set-up made

// model is what the case knows about its world, to tell who must receive a push: friendships, groups, and the
// senders of the stored messages.
type model struct {
	mu      sync.Mutex
	friends map[string]map[string]bool // owner → friends (OpenIM's rows are one-way)
	groups  map[string]*mgroup
	senders map[string]map[int64]string // conversationID → seq → sender
}

type mgroup struct {
	owner     string
	admins    map[string]bool
	members   map[string]bool
	nv        int
	dismissed bool
}

func newModel() *model {
	return &model{friends: map[string]map[string]bool{}, groups: map[string]*mgroup{}, senders: map[string]map[int64]string{}}
}

func (m *model) role(gid, user string) int {
	g := m.groups[gid]
	switch {
	case g == nil || !g.members[user]:
		return 0
	case g.owner == user:
		return 100
	case g.admins[user]:
		return 60
	}
	return 20
}

func (m *model) friendsOf(user string) []string {
	var out []string
	for owner, fs := range m.friends {
		if fs[user] {
			out = append(out, owner)
		}
	}
	sort.Strings(out)
	return out
}

func (m *model) addFriend(a, b string) {
	if m.friends[a] == nil {
		m.friends[a] = map[string]bool{}
	}
	m.friends[a][b] = true
}

func (m *model) members(gid string) []string {
	var out []string
	if g := m.groups[gid]; g != nil {
		for u := range g.members {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

func (m *model) clone() *model {
	c := newModel()
	for k, v := range m.friends {
		for f := range v {
			c.addFriend(k, f)
		}
	}
	for k, g := range m.groups {
		ng := *g
		ng.admins, ng.members = map[string]bool{}, map[string]bool{}
		for u := range g.admins {
			ng.admins[u] = true
		}
		for u := range g.members {
			ng.members[u] = true
		}
		c.groups[k] = &ng
	}
	for k, v := range m.senders {
		c.senders[k] = map[int64]string{}
		for s, u := range v {
			c.senders[k][s] = u
		}
	}
	return c
}

// effect records in the model what a successful operation did (the operations' descriptions in the OpenAPI
// document). caller and body are mapped.
func (e *env) effect(opID, caller string, body, data map[string]any) {
	m := e.model
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apply(opID, caller, body, data)
}

func (m *model) apply(opID, caller string, body, data map[string]any) {
	gid := str(body["groupID"])
	g := m.groups[gid]
	switch opID {
	case "addFriendResponse":
		if num(body["handleResult"]) == 1 {
			m.addFriend(str(body["fromUserID"]), str(body["toUserID"]))
			m.addFriend(str(body["toUserID"]), str(body["fromUserID"]))
		}
	case "deleteFriend":
		delete(m.friends[str(body["ownerUserID"])], str(body["friendUserID"]))
	case "createGroup":
		info := obj(data["groupInfo"])
		owner := str(body["ownerUserID"])
		if owner == "" {
			owner = caller
		}
		ng := &mgroup{owner: owner, admins: map[string]bool{}, members: map[string]bool{owner: true},
			nv: num(obj(body["groupInfo"])["needVerification"])}
		for _, u := range list(body["memberUserIDs"]) {
			ng.members[str(u)] = true
		}
		for _, u := range list(body["adminUserIDs"]) {
			ng.members[str(u)] = true
			if str(u) != owner {
				ng.admins[str(u)] = true
			}
		}
		// The group is the one the request named (the suite's own ID); the reply's ID only for a group the
		// server named.
		gid := str(obj(body["groupInfo"])["groupID"])
		if gid == "" {
			gid = str(info["groupID"])
		}
		m.groups[gid] = ng
	case "setGroupInfo":
		set := obj(body["groupInfoForSet"])
		if g := m.groups[str(set["groupID"])]; g != nil && set["needVerification"] != nil {
			g.nv = num(set["needVerification"])
		}
	case "inviteUserToGroup":
		if g != nil && !(g.nv == 1 && m.role(gid, caller) == 20) {
			for _, u := range list(body["invitedUserIDs"]) {
				g.members[str(u)] = true
			}
		}
	case "joinGroup":
		if g != nil && g.nv == 2 {
			g.members[caller] = true
		}
	case "quitGroup":
		if g != nil {
			u := str(body["userID"])
			if u == "" {
				u = caller
			}
			delete(g.members, u)
			delete(g.admins, u)
		}
	case "kickGroup":
		if g != nil {
			for _, u := range list(body["kickedUserIDs"]) {
				delete(g.members, str(u))
				delete(g.admins, str(u))
			}
		}
	case "groupApplicationResponse":
		if g != nil && num(body["handleResult"]) == 1 {
			g.members[str(body["fromUserID"])] = true
		}
	case "transferGroup":
		if g != nil {
			old, nw := g.owner, str(body["newOwnerUserID"])
			oldWasAdmin := g.admins[nw]
			delete(g.admins, nw)
			g.owner = nw
			if oldWasAdmin {
				g.admins[old] = true
			}
		}
	case "dismissGroup":
		if g != nil {
			g.dismissed = true
			if body["deleteMember"] == true {
				g.members = map[string]bool{}
				g.admins = map[string]bool{}
			}
		}
	case "sendMsg", "ws:1003":
		if seq := int64(num(data["seq"])); seq > 0 {
			conv := convOf(body)
			if m.senders[conv] == nil {
				m.senders[conv] = map[int64]string{}
			}
			m.senders[conv][seq] = str(body["sendID"])
		}
	}
}

// convOf is the conversation of a message body (MsgData or a sendMsg body).
func convOf(body map[string]any) string {
	if st := num(body["sessionType"]); st == 2 || st == 3 {
		return "group_" + str(body["groupID"])
	}
	return "single_" + pair(str(body["sendID"]), str(body["recvID"]))
}

func pair(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "_" + b
}
