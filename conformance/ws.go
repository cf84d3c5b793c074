package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/client"
	"github.com/imspec/imserver/conformance/match"
	"github.com/imspec/imserver/conformance/must"
)

// ---------------------------------------------------------------- x-trigger rules of WebSocket events

// runWSTrigger performs a ws:<reqIdentifier> rule: the request's example (chosen by the rule's conditions) sent
// over a connection of its sender, while the sender has a second connection.
func (rt *runtime) runWSTrigger(t TestLike, msg *Message, rule Rule) {
	e := rt.newEnv(t)
	reqID, _ := strconv.Atoi(strings.TrimPrefix(rule.Operation, "ws:"))
	wop := rt.s.wsOpFor(reqID)
	if wop == nil || len(wop.Messages) == 0 {
		t.Fatalf("the AsyncAPI document has no receive operation with x-req-identifier %d", reqID)
	}
	reqMsg := rt.s.message(wop.Messages[0])
	conds, _ := parseWhen(rule.When)
	ep := evPreps[fmt.Sprintf("%s/%d", msg.Name, rule.Index)]
	var names []string
	var bodies []any
	for _, ex := range reqMsg.Examples {
		names, bodies = append(names, ex.Name), append(bodies, obj(ex.Value)["data"])
	}
	i := chooseExample(names, bodies, ep.example, conds)
	if i < 0 {
		t.Fatalf("message %s has no example to perform this rule with", reqMsg.Key)
	}
	c := &exampleCall{body: obj(e.ids.value(bodies[i]))}
	for _, ed := range ep.edits {
		ed(e, c, &c.caller, c.body)
	}
	patchBody(c.body, conds)
	c.caller = str(c.body["sendID"])
	t.Logf("sending %s's example %q over a connection of %s (when: %s)", reqMsg.Key, names[i], c.caller, orAlways(rule.When))
	e.prepare(c.body, false)
	for _, s := range ep.steps {
		s.run(e, c)
	}
	tr := &trigger{e: e, msg: msg, rule: rule, caller: c.caller, body: c.body}
	tr.connectAll(true)
	e.model.mu.Lock()
	tr.before = e.model.clone()
	e.model.mu.Unlock()
	e.noteSent(c.body)
	tr.opID = e.opID("trigger")
	f := e.requestOp(tr.sender, reqID, c.body, firstOr(wop.Replies), tr.opID)
	var ack map[string]any
	_ = json.Unmarshal(f.Data, &ack)
	e.effect(rule.Operation, c.caller, c.body, ack)
	tr.check(nil)
}

func firstOr(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// runPresence performs the ws:connect / ws:disconnect rules of 1304: user123 and user456 are friends; user456
// and a bystander are online; user123's first connection opening (or last one closing) must reach user456 only,
// and a second connection opening (or the first of two closing) must reach nobody.
func (rt *runtime) runPresence(t TestLike, msg *Message, rule Rule) {
	e := rt.newEnv(t)
	for _, s := range befriend("user123", "user456") {
		s.run(e, &exampleCall{body: map[string]any{}})
	}
	a, b := e.id("user123"), e.id("user456")
	tr := &trigger{e: e, msg: msg, rule: rule, caller: a, body: map[string]any{}}
	e.model.mu.Lock()
	tr.before = e.model.clone()
	e.model.mu.Unlock()
	users, _ := tr.recipients(nil)
	by := "bystander" + e.ids.suffix
	e.registerPlain(by)
	wb, wby := e.connect(b, 1), e.connect(by, 1)
	status := 1.0
	if rule.Operation == "ws:disconnect" {
		status = 0
	}
	t.Logf("recipients (friendsOf(%s)): %v", a, users)
	var want int
	if rule.Operation == "ws:connect" {
		want = len(wb.matching(tr.mine)) + 1
		e.connect(a, 1)
	} else {
		first := e.connect(a, 1)
		second := e.connect(a, 2)
		// user456 learns that user123 came online; then the first of two connections closes: nothing.
		wb.await(1, EventDeadline, tr.mine)
		before := len(wb.matching(tr.mine))
		second.ws.Close()
		time.Sleep(QuietWindow)
		if n := len(wb.matching(tr.mine)); n != before {
			t.Errorf("%s: user123 closed one of its two connections (user.connections == 1): want no 1304, got %d", wb, n-before)
		}
		want = len(wb.matching(tr.mine)) + 1
		first.ws.Close()
	}
	ps := wb.await(want, EventDeadline, tr.mine)
	if len(ps) < want {
		t.Fatalf("%s: want a 1304 UserStatusChange (status %v) within %s%s", wb, status, EventDeadline, wb.seen())
	}
	p := ps[len(ps)-1]
	tr.checkPush(wb, p, nil)
	if tips, err := e.s.decodeTips(p.Msg.Content, msg.Tips); err == nil {
		wantTips := map[string]any{"fromUserID": a, "toUserID": b, "status": status}
		if rule.Operation == "ws:connect" {
			wantTips["platformID"] = 1.0
		}
		if ms := match.JSON("detail", tips, wantTips, match.Rules{}); len(ms) > 0 {
			t.Errorf("%s", must.Report(ms))
		}
	}
	if rule.Operation == "ws:connect" {
		e.connect(a, 2) // user.connections == 2: nothing
	}
	time.Sleep(QuietWindow)
	if n := len(wb.matching(tr.mine)); n != want {
		t.Errorf("%s: want exactly %d 1304 push(es) by now, got %d", wb, want, n)
	}
	if ps := wby.matching(func(client.Push) bool { return true }); len(ps) > 0 {
		t.Errorf("%s is not a friend of %s but got %d push(es), the first: %s", wby, a, len(ps), match.Show(pushFrame(ps[0])["data"]))
	}
}

// ---------------------------------------------------------------- raw connections

// rawConn is a gateway connection read frame by frame, for the protocol-level cases (first frame, heartbeat,
// close codes).
type rawConn struct {
	c      *websocket.Conn
	frames chan []byte
	done   chan struct{}
	mu     sync.Mutex
	err    error // why the read loop ended
}

// readErr is why the connection ended (nil while it is open).
func (r *rawConn) readErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// rawDial opens a connection with the query parameters of the AsyncAPI binding.
func (e *env) rawDial(token, userID string, platform int, isMsgResp bool) (*rawConn, *http.Response, error) {
	q := url.Values{}
	if token != "" {
		q.Set("token", token)
	}
	q.Set("sendID", userID)
	q.Set("platformID", strconv.Itoa(platform))
	q.Set("operationID", e.opID("connect"))
	if isMsgResp {
		q.Set("isMsgResp", "true")
	}
	ctx, cancel := context.WithTimeout(e.ctx, callTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.rt.tg.WSURL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(16 << 20)
	r := &rawConn{c: c, frames: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				r.mu.Lock()
				r.err = err
				r.mu.Unlock()
				return
			}
			r.frames <- b
		}
	}()
	e.t.Cleanup(func() { c.CloseNow() })
	return r, resp, nil
}

// next returns the next frame, or nil after d or when the connection ended.
func (r *rawConn) next(d time.Duration) []byte {
	select {
	case b := <-r.frames:
		return b
	case <-time.After(d):
		return nil
	case <-r.done:
		select {
		case b := <-r.frames:
			return b
		default:
			return nil
		}
	}
}

// closed waits up to d for the connection to end and returns the close code (-1: none, or it did not end).
func (r *rawConn) closed(d time.Duration) (websocket.StatusCode, bool) {
	select {
	case <-r.done:
		return websocket.CloseStatus(r.readErr()), true
	case <-time.After(d):
		return -1, false
	}
}

func (r *rawConn) write(ctx context.Context, v any) error {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		b, _ = json.Marshal(v)
	}
	return r.c.Write(ctx, websocket.MessageText, b)
}

func decode(b []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// ---------------------------------------------------------------- ws cases

// wsCase is a WebSocket case: its name and the AsyncAPI operations it covers.
type wsCase struct {
	name   string
	covers []string // AsyncAPI operation IDs
	run    func(e *env)
}

func (s *Suite) wsCases() []wsCase {
	return []wsCase{
		{"connectResult-ok", []string{"connectResult"}, wsConnectOK},
		{"connectResult-err1002-badToken", []string{"connectResult"}, wsConnectBadToken},
		{"connectResult-err1003-wrongUser", []string{"connectResult"}, wsConnectWrongUser},
		{"connectResult-err1003-wrongPlatform", []string{"connectResult"}, wsConnectWrongPlatform},
		{"kickSameToken", nil, wsKickSameToken},
		{"heartbeat", []string{"heartbeat"}, wsHeartbeat},
		{"gapFill", []string{"getNewestSeq", "pullMsgBySeq"}, wsGapFill},
		{"getNewestSeq-err1003-otherUser", []string{"getNewestSeq"}, wsNewestSeqOtherUser},
		{"pullMsgBySeq-err1003-notMember", []string{"pullMsgBySeq"}, wsPullNotMember},
		{"sendMsg-typingNotStored", []string{"sendMsg"}, wsTypingNotStored},
		{"sendMsg-idempotent", []string{"sendMsg"}, wsIdempotent},
		{"sendMsg-err1103-blockedMidConversation", []string{"sendMsg"}, wsBlockedMidConversation},
		{"sendMsg-err1002-forbiddenMidConversation", []string{"sendMsg"}, wsForbiddenMidConversation},
		{"sendMsg-err1003-sendIDMismatch", []string{"sendMsg"}, wsSendIDMismatch},
		{"sendMsg-err1001-contentTypeNotSendable", []string{"sendMsg"}, wsContentTypeNotSendable},
		{"malformedFrame", []string{"sendMsg"}, wsMalformed},
		{"oversizeFrame", []string{"sendMsg"}, wsOversize},
		{"kick-sameDeviceLogin", []string{"kickOnline"}, wsKick},
		{"kick-forbidUser", []string{"kickOnline"}, wsForbidKick},
		{"logout", []string{"logout"}, wsLogout},
		{"setBackgroundStatus", []string{"setBackgroundStatus"}, wsBackground},
		{"sdkProfile-skipped-protobufFrames", nil, wsSDKProfileSkipped},
	}
}

// wsSDKProfileSkipped says what the suite leaves out: the OpenIM SDK profile (sdkType=js: binary frames, protobuf
// data, the SDK's conversation IDs) is an encoding of the same operations, not replayed here.
func wsSDKProfileSkipped(e *env) {
	e.t.Skipf("the OpenIM SDK profile (sdkType=js) is not replayed by this suite (JSON frames only); the server's own tests (server/sdkprofile_test.go, sdktest/) cover it")
}

func (e *env) user(ph string) string {
	e.register(ph)
	return e.id(ph)
}

func (e *env) validateFrame(what, msgKey string, frame map[string]any) {
	e.t.Helper()
	if err := e.s.validateAsync("/components/messages/"+msgKey+"/payload", frame); err != nil {
		e.t.Errorf("%s does not match the schema of message %s: %s\n    frame: %s", what, msgKey, err, match.Show(frame))
	}
}

func wsConnectOK(e *env) {
	u := e.user("user123")
	r, _, err := e.rawDial(e.token(u, 1), u, 1, true)
	must.NotError(e.t, "connecting with isMsgResp=true", err)
	b := r.next(EventDeadline)
	must.True(e.t, b != nil, "want the first frame {\"errCode\":0,\"errMsg\":\"\"} within %s, got none", EventDeadline)
	f := decode(b)
	e.validateFrame("the first frame", "connectResult", f)
	must.Equal(e.t, "first frame errCode", num(f["errCode"]), 0)
	// The connection is the user's: 1001 answers with the seqs of the user's own notification conversation.
	must.NotError(e.t, "writing 1001", r.write(e.ctx, map[string]any{"reqIdentifier": 1001, "sendID": u, "operationID": "ok1",
		"msgIncr": "ok1", "data": map[string]any{"userID": u}}))
	rep := awaitReply(r, "ok1")
	must.True(e.t, rep != nil, "1001 GET_NEWEST_SEQ on the new connection: want a reply within %s, got none", EventDeadline)
	e.validateFrame("the 1001 reply", "getNewestSeqResp", rep)
	if _, ok := lookup(rep, "data.maxSeqs.notification_"+u); !ok {
		e.t.Errorf("the 1001 reply: data.maxSeqs: want the key notification_%s (every user has that conversation), got %s", u, match.Show(rep["data"]))
	}
}

func wsConnectRefused(e *env, token, userID string, platform, wantCode int) {
	e.t.Helper()
	r, resp, err := e.rawDial(token, userID, platform, true)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("with isMsgResp=true the upgrade must succeed and the first frame carry the error; the upgrade failed (HTTP %d): %v", status, err)
	}
	b := r.next(EventDeadline)
	must.True(e.t, b != nil, "want a first frame with errCode %d, got none (closed: %v)", wantCode, r.readErr())
	f := decode(b)
	e.validateFrame("the first frame", "connectResult", f)
	if num(f["errCode"]) != wantCode {
		e.t.Errorf("first frame errCode: want %d, got %d (%s)", wantCode, num(f["errCode"]), b)
	}
	code, ok := r.closed(EventDeadline)
	if !ok {
		e.t.Errorf("want the server to close the connection (4001) after the error frame; it stayed open %s", EventDeadline)
	} else if code != 4001 {
		e.t.Errorf("close code: want 4001 (auth failed), got %d", code)
	}
}

func wsConnectBadToken(e *env) {
	wsConnectRefused(e, "eyJhbGciOiJIUzI1NiJ9.bm90IGEgdG9rZW4.c2lnbmF0dXJl", e.user("user123"), 1, 1002)
}

func wsConnectWrongUser(e *env) {
	a, b := e.user("user123"), e.user("user456")
	wsConnectRefused(e, e.token(a, 1), b, 1, 1003)
}

// wsConnectWrongPlatform: a token belongs to a user and a platform; connecting on another platform is 1003.
func wsConnectWrongPlatform(e *env) {
	a := e.user("user123")
	wsConnectRefused(e, e.token(a, 1), a, 2, 1003)
}

func wsHeartbeat(e *env) {
	u := e.user("user123")
	r, _, err := e.rawDial(e.token(u, 1), u, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline) // connect result
	ping := exampleOf(e.s, "heartbeatPing", `{"type":"ping"}`)
	must.NotError(e.t, "sending "+string(ping), r.write(e.ctx, ping))
	for deadline := time.Now().Add(EventDeadline); time.Now().Before(deadline); {
		b := r.next(time.Until(deadline))
		if b == nil {
			break
		}
		f := decode(b)
		if f["type"] != nil {
			e.validateFrame("the answer to "+string(ping), "heartbeatPong", f)
			return
		}
	}
	e.t.Fatalf("want {\"type\":\"pong\"} within %s of %s, got none", EventDeadline, ping)
}

// exampleOf returns the first example payload of a message as JSON, or def.
func exampleOf(s *Suite, key, def string) []byte {
	if m := s.message(key); m != nil && len(m.Examples) > 0 {
		b, _ := json.Marshal(m.Examples[0].Value)
		return b
	}
	return []byte(def)
}

// sendREST sends a text message over REST as from (a mapped userID) and returns the reply data.
func (e *env) sendREST(from, to, text, clientMsgID string) map[string]any {
	body := map[string]any{"sendID": from, "recvID": to, "sessionType": 1.0, "contentType": 101.0,
		"content": map[string]any{"content": text}}
	if clientMsgID != "" {
		body["clientMsgID"] = clientMsgID
	}
	return e.setupCall("sendMsg", from, body)
}

func wsGapFill(e *env) {
	a, b := e.user("user123"), e.user("user456")
	texts := []string{"一", "二", "三"}
	for i, s := range texts {
		e.sendREST(a, b, s, fmt.Sprintf("gap-%d", i))
	}
	w := e.connect(b, 1) // user456 was offline: it fills the gap
	conv := "single_" + pair(a, b)
	maxSeqs, minSeqs := e.newestSeq(w)
	if maxSeqs[conv] != 3 {
		e.t.Errorf("1001 GET_NEWEST_SEQ: maxSeqs[%q]: want 3 (three messages were sent while offline), got %d", conv, maxSeqs[conv])
	}
	if minSeqs[conv] != 1 {
		e.t.Errorf("1001 GET_NEWEST_SEQ: minSeqs[%q]: want 1, got %d", conv, minSeqs[conv])
	}
	msgs := e.pull(w, conv, 1, 3)
	if len(msgs) != 3 {
		e.t.Fatalf("1002 PULL_MSG_BY_SEQ %s 1..3: want 3 messages, got %d", conv, len(msgs))
	}
	for i, m := range msgs {
		want := map[string]any{"seq": float64(i + 1), "sendID": a, "recvID": b, "clientMsgID": fmt.Sprintf("gap-%d", i),
			"content": fmt.Sprintf(`{"content":%q}`, texts[i]), "contentType": 101.0, "sessionType": 1.0}
		if ms := match.JSON(fmt.Sprintf("msgs[%q].Msgs[%d]", conv, i), m, want, match.Rules{}); len(ms) > 0 {
			e.t.Errorf("%s", must.Report(ms))
		}
	}
}

func wsNewestSeqOtherUser(e *env) {
	a, b := e.user("user123"), e.user("user456")
	w := e.connect(a, 1)
	ctx, cancel := context.WithTimeout(e.ctx, callTimeout)
	defer cancel()
	f, err := w.ws.Request(ctx, 1001, map[string]any{"userID": b})
	wantErrFrame(e, "1001 with data.userID of another user", f, err, 1003, "getNewestSeqResp")
}

func wantErrFrame(e *env, what string, f client.Frame, err error, code int, msgKey string) {
	e.t.Helper()
	var apiErr *client.APIError
	if err != nil && !errors.As(err, &apiErr) {
		e.t.Fatalf("%s: %v", what, err)
	}
	if f.ErrCode != code {
		e.t.Errorf("%s: errCode: want %d, got %d (%q)", what, code, f.ErrCode, f.ErrMsg)
	}
	if msgKey != "" {
		e.validateFrame(what+": the reply", msgKey, pushFrame(client.Push{Frame: f}))
	}
}

func wsPullNotMember(e *env) {
	e.register("user123", "user456", "user789")
	e.fixtureGroup("group123", 0)
	w := e.connect(e.id("user789"), 1)
	ctx, cancel := context.WithTimeout(e.ctx, callTimeout)
	defer cancel()
	conv := "group_" + e.id("group123")
	f, err := w.ws.Request(ctx, 1002, map[string]any{"userID": w.user,
		"seqRanges": []any{map[string]any{"conversationID": conv, "begin": 1, "end": 10, "num": 100}}})
	wantErrFrame(e, "1002 of "+conv+" by a user who never was a member", f, err, 1003, "pullMsgBySeqResp")
}

func wsTypingNotStored(e *env) {
	a, b := e.user("user123"), e.user("user456")
	e.sendREST(a, b, "先发一条", "") // the conversation exists, at seq 1
	wa, wb := e.connect(a, 1), e.connect(b, 1)
	body := map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 113, "content": `{"msgTips":"正在输入..."}`,
		"clientMsgID": "typing-" + e.ids.suffix}
	f := e.request(wa, 1003, body, "sendMsgResp")
	var ack client.SendAck
	_ = json.Unmarshal(f.Data, &ack)
	if ack.Seq != 0 {
		e.t.Errorf("1003 typing reply: data.seq: want 0 (typing is not stored), got %d", ack.Seq)
	}
	if ps := wb.await(1, EventDeadline, func(p client.Push) bool { return p.Msg.ContentType == 113 }); len(ps) == 0 {
		e.t.Errorf("%s: want the typing push within %s%s", wb, EventDeadline, wb.seen())
	}
	maxSeqs, _ := e.newestSeq(wb)
	if got := maxSeqs["single_"+pair(a, b)]; got != 1 {
		e.t.Errorf("1001 after typing: maxSeqs of the single chat: want 1 (typing is never stored), got %d", got)
	}
}

func wsIdempotent(e *env) {
	a, b := e.user("user123"), e.user("user456")
	wa := e.connect(a, 1)
	body := map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 101, "content": `{"content":"只发一次"}`,
		"clientMsgID": "idem-" + e.ids.suffix}
	var acks [2]client.SendAck
	for i := range acks {
		f := e.request(wa, 1003, body, "sendMsgResp")
		_ = json.Unmarshal(f.Data, &acks[i])
	}
	if acks[0] != acks[1] {
		e.t.Errorf("1003 twice with clientMsgID %q: want the same reply, got %+v then %+v", body["clientMsgID"], acks[0], acks[1])
	}
	maxSeqs, _ := e.newestSeq(wa)
	if got := maxSeqs["single_"+pair(a, b)]; got != 1 {
		e.t.Errorf("1001 after sending the same clientMsgID twice: maxSeq: want 1 (one message stored), got %d", got)
	}
}

// wsBlockedMidConversation: a blacklist added after two users have talked stops the next message. A server
// that checks a conversation's first message and then takes a faster path for the ones after it (the
// conversation rows exist, the sender is known) would store and push it.
func wsBlockedMidConversation(e *env) {
	a, b := e.user("user123"), e.user("user456")
	r, _, err := e.rawDial(e.token(a, 1), a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	send := func(n int) map[string]any {
		e.t.Helper()
		incr := fmt.Sprintf("b%d", n)
		frame := map[string]any{"reqIdentifier": 1003, "sendID": a, "operationID": e.opID("blocked"), "msgIncr": incr,
			"data": map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 101,
				"content": fmt.Sprintf(`{"content":"第%d条"}`, n), "clientMsgID": fmt.Sprintf("blk%d-%s", n, e.ids.suffix)}}
		must.NotError(e.t, "writing 1003", r.write(e.ctx, frame))
		reply := awaitReply(r, incr)
		must.True(e.t, reply != nil, "1003: want a reply with msgIncr %s within %s", incr, EventDeadline)
		return reply
	}
	for n := 1; n <= 2; n++ {
		if reply := send(n); num(reply["errCode"]) != 0 {
			e.t.Fatalf("1003 before the blacklist: errCode %d (%v), want 0", num(reply["errCode"]), reply["errMsg"])
		}
	}
	e.setupCall("addBlack", b, map[string]any{"ownerUserID": b, "blackUserID": a, "ex": ""})
	reply := send(3)
	e.validateFrame("the reply", "sendMsgResp", reply)
	if num(reply["errCode"]) != 1103 {
		e.t.Errorf("1003 to %s, who blacklisted the sender after two messages: errCode: want 1103, got %d (%v)", b, num(reply["errCode"]), reply["errMsg"])
	}
	wa := e.connect(a, 2)
	maxSeqs, _ := e.newestSeq(wa)
	if got := maxSeqs["single_"+pair(a, b)]; got != 2 {
		e.t.Errorf("1001 after a refused third message: maxSeq: want 2 (the refused one is not stored and takes no seq), got %d", got)
	}
}

// wsForbiddenMidConversation: once a user is forbidden, nothing is sent as them, not even by an admin
// (sendMsg: "the sender is forbidden 1002 (also when an admin sends as them)"), however many messages their
// conversation already holds.
func wsForbiddenMidConversation(e *env) {
	a, b := e.user("user123"), e.user("user456")
	op := e.s.opByID["sendMsg"]
	send := func(n int) reply {
		e.t.Helper()
		body, _ := json.Marshal(map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 101,
			"senderPlatformID": 1, "content": map[string]any{"content": fmt.Sprintf("第%d条", n)},
			"clientMsgID": fmt.Sprintf("fbd%d-%s", n, e.ids.suffix)})
		h := http.Header{}
		h.Set("operationID", e.opID("forbidden-send"))
		return e.post(op, e.rt.tg.Admin, body, h)
	}
	for n := 1; n <= 2; n++ {
		if r := send(n); r.err != nil || r.errCode() != 0 {
			e.t.Fatalf("sendMsg as %s before the forbid: %s, want errCode 0", a, r.describe())
		}
	}
	e.setupCall("forbidUser", e.rt.tg.Admin, map[string]any{"userID": a, "forbiddenType": 1, "reason": "conformance"})
	if r := send(3); r.errCode() != 1002 {
		e.t.Errorf("sendMsg by an admin as %s, forbidden after two messages: want errCode 1002, got %s", a, r.describe())
	}
	wb := e.connect(b, 1)
	maxSeqs, _ := e.newestSeq(wb)
	if got := maxSeqs["single_"+pair(a, b)]; got != 2 {
		e.t.Errorf("1001 of %s after a refused third message: maxSeq: want 2 (the refused one is not stored and takes no seq), got %d", b, got)
	}
}

func wsSendIDMismatch(e *env) {
	a, b := e.user("user123"), e.user("user456")
	u := e.token(a, 1)
	r, _, err := e.rawDial(u, a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	frame := map[string]any{"reqIdentifier": 1003, "sendID": b, "operationID": e.opID("mismatch"), "msgIncr": "m1",
		"data": map[string]any{"sendID": b, "recvID": a, "sessionType": 1, "contentType": 101, "content": `{"content":"冒名"}`}}
	must.NotError(e.t, "writing", r.write(e.ctx, frame))
	reply := awaitReply(r, "m1")
	must.True(e.t, reply != nil, "want a reply with msgIncr m1 within %s", EventDeadline)
	e.validateFrame("the reply", "sendMsgResp", reply)
	if num(reply["errCode"]) != 1003 {
		e.t.Errorf("1003 whose sendID %s is not the connection's user %s: errCode: want 1003, got %d", b, a, num(reply["errCode"]))
	}
	// The frame's own sendID is checked, not only the message's: a frame naming another user is refused even
	// when its data names the connection's user.
	frame["msgIncr"], frame["data"] = "m2", map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 101, "content": `{"content":"冒名"}`}
	must.NotError(e.t, "writing", r.write(e.ctx, frame))
	reply = awaitReply(r, "m2")
	must.True(e.t, reply != nil, "want a reply with msgIncr m2 within %s", EventDeadline)
	if num(reply["errCode"]) != 1003 {
		e.t.Errorf("1003 whose frame sendID %s is not the connection's user %s (data.sendID is %s): errCode: want 1003, got %d", b, a, a, num(reply["errCode"]))
	}
	stillOpen(e, r)
}

// wsContentTypeNotSendable: 1003 accepts only the contentTypes of REST SendMsgReq's enum (the WebSocket is not
// behind the REST schema validation, so the server must check them itself): a value in a gap of the enum and a
// notification type the server itself pushes are both refused with 1001 naming contentType.
func wsContentTypeNotSendable(e *env) {
	var refused []any
	var enum map[any]bool
	if op := e.rt.s.opByID["sendMsg"]; op != nil {
		for _, l := range op.Limits {
			if l.Path == "contentType" && l.Keyword == "enum" {
				if v, ok := l.outsideEnum(); ok {
					refused = append(refused, v)
				}
				enum = map[any]bool{}
				for _, v := range l.Enum {
					enum[v] = true
				}
			}
		}
	}
	cts := make([]int, 0, len(e.rt.s.msgByCT))
	for ct := range e.rt.s.msgByCT {
		cts = append(cts, ct)
	}
	sort.Ints(cts)
	for _, ct := range cts {
		if enum != nil && !enum[float64(ct)] {
			refused = append(refused, float64(ct))
			break
		}
	}
	if len(refused) == 0 {
		e.t.Skipf("SendMsgReq.contentType has no enum in the OpenAPI document: nothing to derive")
	}
	e.t.Logf("contentTypes outside SendMsgReq.contentType's enum: %v", refused)
	a, b := e.user("user123"), e.user("user456")
	r, _, err := e.rawDial(e.token(a, 1), a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	for i, ct := range refused {
		incr := fmt.Sprintf("c%d", i+1)
		frame := map[string]any{"reqIdentifier": 1003, "sendID": a, "operationID": e.opID("contentType"), "msgIncr": incr,
			"data": map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": ct, "content": `{"content":"x"}`,
				"clientMsgID": e.opID("ct")}}
		must.NotError(e.t, "writing", r.write(e.ctx, frame))
		reply := awaitReply(r, incr)
		must.True(e.t, reply != nil, "want a reply with msgIncr %s within %s", incr, EventDeadline)
		if num(reply["errCode"]) != 1001 {
			e.t.Errorf("1003 with contentType %v (not in SendMsgReq.contentType's enum): errCode: want 1001, got %d (errMsg %q)",
				ct, num(reply["errCode"]), str(reply["errMsg"]))
		} else if !strings.Contains(str(reply["errMsg"]), "contentType") {
			e.t.Errorf("1003 with contentType %v: errMsg: want it to name the field contentType, got %q", ct, str(reply["errMsg"]))
		}
	}
	stillOpen(e, r)
}

// wsKickSameToken: a second connection of the same user on the same platform, with the same token, replaces the
// first: the older one gets 2002 and is closed (one connection per user and platform).
func wsKickSameToken(e *env) {
	a := e.user("user123")
	tok := e.token(a, 1)
	r, _, err := e.rawDial(tok, a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	e.connect(a, 1)
	var kick map[string]any
	for deadline := time.Now().Add(EventDeadline); time.Now().Before(deadline) && kick == nil; {
		b := r.next(time.Until(deadline))
		if b == nil {
			break
		}
		if f := decode(b); num(f["reqIdentifier"]) == 2002 {
			kick = f
		}
	}
	if kick == nil {
		e.t.Errorf("the older connection of %s on platform 1: a second one connected with the same token: want a 2002 KickOnlineMsg within %s, got none", a, EventDeadline)
	}
	if _, ok := r.closed(EventDeadline); !ok {
		e.t.Errorf("the older connection of %s on platform 1: want it closed after the 2002, it stayed open %s", a, EventDeadline)
	}
}

// awaitReply returns the next frame with the given msgIncr.
func awaitReply(r *rawConn, incr string) map[string]any {
	for deadline := time.Now().Add(EventDeadline); time.Now().Before(deadline); {
		b := r.next(time.Until(deadline))
		if b == nil {
			return nil
		}
		if f := decode(b); f != nil && str(f["msgIncr"]) == incr {
			return f
		}
	}
	return nil
}

// stillOpen checks that a connection answers a heartbeat after an error.
func stillOpen(e *env, r *rawConn) {
	e.t.Helper()
	if err := r.write(e.ctx, `{"type":"ping"}`); err != nil {
		e.t.Errorf("after the error reply the connection must stay open; writing failed: %v", err)
		return
	}
	for deadline := time.Now().Add(EventDeadline); time.Now().Before(deadline); {
		b := r.next(time.Until(deadline))
		if b == nil {
			break
		}
		if decode(b)["type"] != nil {
			return
		}
	}
	e.t.Errorf("after the error reply the connection must stay open: no pong within %s (closed: %v)", EventDeadline, r.readErr())
}

func wsMalformed(e *env) {
	a := e.user("user123")
	r, _, err := e.rawDial(e.token(a, 1), a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	must.NotError(e.t, "writing", r.write(e.ctx, `{"reqIdentifier": 1003, "msgIncr": "x1", "data": `))
	b := r.next(EventDeadline)
	must.True(e.t, b != nil, "a frame that is not JSON: want a reply with errCode 1001 within %s, got none (closed: %v)", EventDeadline, r.readErr())
	if f := decode(b); num(f["errCode"]) != 1001 {
		e.t.Errorf("a frame that is not JSON: errCode: want 1001, got %s", b)
	}
	stillOpen(e, r)
	must.NotError(e.t, "writing", r.write(e.ctx, map[string]any{"reqIdentifier": 1999, "sendID": a, "msgIncr": "x2", "operationID": "op"}))
	f := awaitReply(r, "x2")
	must.True(e.t, f != nil, "an unknown reqIdentifier: want a reply with errCode 1001 within %s, got none", EventDeadline)
	if num(f["errCode"]) != 1001 {
		e.t.Errorf("an unknown reqIdentifier: errCode: want 1001, got %d", num(f["errCode"]))
	}
}

func wsOversize(e *env) {
	a, b := e.user("user123"), e.user("user456")
	r, _, err := e.rawDial(e.token(a, 1), a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	const limit = 51200
	big := strings.Repeat("很", limit/3+10)
	frame := map[string]any{"reqIdentifier": 1003, "sendID": a, "operationID": "big", "msgIncr": "big",
		"data": map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 101, "content": `{"content":"` + big + `"}`}}
	raw, _ := json.Marshal(frame)
	must.True(e.t, len(raw) > limit, "internal: frame of %d bytes", len(raw))
	_ = r.write(e.ctx, raw) // the server may close before the write completes
	code, ok := r.closed(EventDeadline)
	if !ok {
		e.t.Fatalf("a %d-byte frame (limit %d): want the connection closed (1009), it stayed open %s", len(raw), limit, EventDeadline)
	}
	if code != websocket.StatusMessageTooBig {
		e.t.Errorf("a %d-byte frame: close code: want 1009 (message too big), got %d", len(raw), code)
	}
}

func wsKick(e *env) {
	a := e.user("user123")
	old := e.token(a, 1)
	r, _, err := e.rawDial(old, a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	// Log in again on the same platform and connect with the new token.
	fresh, err := fetchToken(e.ctx, e.rt.tg, a, 1)
	must.NotError(e.t, "user_token again", err)
	e.mu.Lock()
	e.tokens[a+"/1"] = fresh
	e.mu.Unlock()
	w := e.connect(a, 1)
	var kick map[string]any
	for deadline := time.Now().Add(EventDeadline); time.Now().Before(deadline) && kick == nil; {
		b := r.next(time.Until(deadline))
		if b == nil {
			break
		}
		if f := decode(b); num(f["reqIdentifier"]) == 2002 {
			kick = f
		}
	}
	if kick == nil {
		e.t.Errorf("the older connection: want a 2002 KickOnlineMsg within %s, got none", EventDeadline)
	} else {
		e.validateFrame("the kick", "kickOnlineMsg", kick)
	}
	code, ok := r.closed(EventDeadline)
	switch {
	case !ok:
		e.t.Errorf("the older connection: want it closed (4002) after the kick, it stayed open")
	case code != 4002:
		e.t.Errorf("the older connection: close code: want 4002 (kicked), got %d", code)
	}
	op := e.s.opByID["getUsersInfo"]
	rr := e.postWith(&client.REST{BaseURL: e.rt.tg.APIURL, Token: old}, op, []byte(`{"userIDs":["`+a+`"]}`), nil)
	if rr.errCode() != 1002 {
		e.t.Errorf("REST with the replaced token: want errCode 1002, got %s", rr.describe())
	}
	if _, _, err := w.ws.NewestSeq(e.ctx); err != nil {
		e.t.Errorf("the new connection must work: 1001: %v", err)
	}
}

func wsForbidKick(e *env) {
	a := e.user("user123")
	tok := e.token(a, 1)
	r, _, err := e.rawDial(tok, a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	e.setupCall("forbidUser", e.rt.tg.Admin, map[string]any{"userID": a, "forbiddenType": 1, "reason": "conformance"})
	var kick map[string]any
	for deadline := time.Now().Add(EventDeadline); time.Now().Before(deadline) && kick == nil; {
		b := r.next(time.Until(deadline))
		if b == nil {
			break
		}
		if f := decode(b); num(f["reqIdentifier"]) == 2002 {
			kick = f
		}
	}
	if kick == nil {
		e.t.Errorf("after forbidUser: want a 2002 KickOnlineMsg within %s, got none", EventDeadline)
	} else {
		e.validateFrame("the kick", "kickOnlineMsg", kick)
	}
	code, ok := r.closed(EventDeadline)
	switch {
	case !ok:
		e.t.Errorf("after forbidUser: want the connection closed (4003), it stayed open")
	case code != 4003:
		e.t.Errorf("after forbidUser: close code: want 4003 (forbidden), got %d", code)
	}
	op := e.s.opByID["getUsersInfo"]
	rr := e.postWith(&client.REST{BaseURL: e.rt.tg.APIURL, Token: tok}, op, []byte(`{"userIDs":["`+a+`"]}`), nil)
	if rr.errCode() != 1002 {
		e.t.Errorf("REST with a forbidden user's token: want errCode 1002, got %s", rr.describe())
	}
}

func wsLogout(e *env) {
	a := e.user("user123")
	tok := e.token(a, 1)
	r, _, err := e.rawDial(tok, a, 1, true)
	must.NotError(e.t, "connecting", err)
	r.next(EventDeadline)
	frame := map[string]any{"reqIdentifier": 2003, "sendID": a, "operationID": e.opID("logout"), "msgIncr": "l1",
		"data": map[string]any{"userID": a, "platformID": 1}}
	must.NotError(e.t, "writing 2003", r.write(e.ctx, frame))
	reply := awaitReply(r, "l1")
	must.True(e.t, reply != nil, "2003: want a reply within %s (closed: %v)", EventDeadline, r.readErr())
	e.validateFrame("the 2003 reply", "logoutResp", reply)
	if num(reply["errCode"]) != 0 {
		e.t.Errorf("2003: errCode: want 0, got %d", num(reply["errCode"]))
	}
	code, ok := r.closed(EventDeadline)
	switch {
	case !ok:
		e.t.Errorf("after the 2003 reply: want the connection closed (1000), it stayed open")
	case code != websocket.StatusNormalClosure:
		e.t.Errorf("after the 2003 reply: close code: want 1000, got %d", code)
	}
	op := e.s.opByID["getUsersInfo"]
	rr := e.postWith(&client.REST{BaseURL: e.rt.tg.APIURL, Token: tok}, op, []byte(`{"userIDs":["`+a+`"]}`), nil)
	if rr.errCode() != 0 {
		e.t.Errorf("REST after logout: the token stays valid; want errCode 0, got %s", rr.describe())
	}
}

func wsBackground(e *env) {
	a := e.user("user123")
	w := e.connect(a, 1)
	f := e.request(w, 2004, map[string]any{"userID": a, "isBackground": true}, "setBackgroundStatusResp")
	_ = f
	data := e.setupCall("getUsersOnlineStatus", e.rt.tg.Admin, map[string]any{"userIDs": []any{a}})
	want := map[string]any{"statusList": []any{map[string]any{"userID": a, "status": 1.0,
		"detailPlatformStatus": []any{map[string]any{"platformID": 1.0, "isBackground": true}}}}}
	if ms := match.JSON("data", data, want, match.Rules{}); len(ms) > 0 {
		e.t.Errorf("getUsersOnlineStatus after 2004 isBackground=true: %s", must.Report(ms))
	}
}
