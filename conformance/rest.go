package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/imspec/imserver/conformance/match"
	"github.com/imspec/imserver/conformance/must"
)

// notImplemented is the errCode of an operation a server does not implement yet (any operation may answer it).
const notImplemented = 1009

// runExample replays a named example: the set-up it needs, then its request with its caller's token, then the
// reply checked against the operation's response schema and against the example by meaning.
func (rt *runtime) runExample(t TestLike, op *Op, ex *Example) {
	e := rt.newEnv(t)
	p := prepFor(op.ID, ex.Name)
	c := &exampleCall{op: op, ex: ex, body: obj(e.ids.value(ex.Body))}
	if ex.Caller != "" {
		c.caller = e.id(ex.Caller)
	}
	if c.body == nil {
		c.body = map[string]any{}
	}
	if ex.Summary != "" {
		t.Logf("example: %s", ex.Summary)
	}
	e.prepare(c.body, p.fresh, ex.Resp, ex.Caller)
	for _, s := range p.steps {
		s.run(e, c)
	}
	if p.again {
		e.setupCall(op.ID, c.caller, clone(c.body).(map[string]any))
	}
	v := verifyFor(op.ID, ex.Name)
	if v.pre != nil && ex.ErrCode == 0 {
		v.pre(e, c)
	}
	if op.ID == "sendMsg" {
		e.noteSent(c.body)
	}
	b, _ := json.Marshal(c.body)
	r := e.post(op, c.caller, b, nil)
	want := obj(e.ids.value(ex.Resp))
	e.checkReply(op, r, want, p)
	if v.post != nil && ex.ErrCode == 0 && r.errCode() == 0 && !t.Failed() {
		e.effect(op.ID, c.caller, c.body, obj(r.data()))
		v.post(e, c, obj(r.data()))
	}
}

// checkReply checks a REST reply: HTTP 200 with a JSON envelope valid against the operation's response schema,
// the wanted errCode, and for a success the wanted data by meaning.
func (e *env) checkReply(op *Op, r reply, want map[string]any, p prep) {
	t := withNote(e.t, r.request())
	t.Helper()
	wantCode := num(want["errCode"])
	must.NotError(t, "POST "+op.Path, r.err)
	if r.body == nil {
		t.Fatalf("POST %s: HTTP %d, the body is not a JSON envelope: %.300s", op.Path, r.status, r.raw)
	}
	if r.status != http.StatusOK {
		t.Errorf("(http status): want 200 (every business outcome is HTTP 200 with the envelope), got %d", r.status)
	}
	got := r.errCode()
	if got == notImplemented && wantCode != notImplemented {
		t.Fatalf("errCode: want %d, got 1009 NotImplemented (%s): the server does not implement %s yet", wantCode, r.errMsg(), op.ID)
	}
	if err := op.respSchema.Value.VisitJSON(r.body); err != nil {
		t.Errorf("the reply does not match the response schema of %s: %s\n    reply: %.500s", op.ID, kinErrors(err), r.raw)
	}
	if got != wantCode {
		t.Fatalf("errCode: want %d, got %d (errMsg %q)", wantCode, got, r.errMsg())
	}
	if got != 0 {
		if strings.TrimSpace(r.errMsg()) == "" {
			t.Errorf("errMsg: an error needs an errMsg a person can act on, got %q", r.errMsg())
		}
		return
	}
	wantData, hasWant := want["data"]
	if !hasWant {
		return
	}
	gotData, hasGot := r.body["data"]
	if !hasGot || gotData == nil {
		if wd, ok := wantData.(map[string]any); ok && len(wd) == 0 {
			return // a missing data on success is accepted where the example has {}
		}
		t.Errorf("data: missing; want %s", match.Show(wantData))
		return
	}
	if ms := match.JSON("data", gotData, wantData, e.rules(p, want)); len(ms) > 0 {
		t.Errorf("the reply's data differs from the example: %s", must.Report(ms))
	}
}

// noteT adds a note (the request) under every failure it reports.
type noteT struct {
	TestLike
	note string
}

func withNote(t TestLike, note string) TestLike { return noteT{t, note} }

func (t noteT) Errorf(format string, args ...any) {
	t.TestLike.Helper()
	t.TestLike.Errorf("%s\n    %s", fmt.Sprintf(format, args...), t.note)
}

func (t noteT) Fatalf(format string, args ...any) {
	t.TestLike.Helper()
	t.TestLike.Fatalf("%s\n    %s", fmt.Sprintf(format, args...), t.note)
}

// rules says how the data of a reply is compared with an example: IDs and counts exactly, what the server makes
// by type (tokens, serverMsgID, connID, a clientMsgID the suite did not send, an ID of something the request let the
// server create), times and seqs by zero-ness, JSON text by meaning.
func (e *env) rules(p prep, want map[string]any) match.Rules {
	generated := map[string]bool{}
	e.mu.Lock()
	for _, ph := range placeholders(e.unmap(want)) {
		if strings.HasPrefix(ph, "group") && !e.created[e.id(ph)] {
			generated[e.id(ph)] = true
		}
	}
	e.mu.Unlock()
	return match.Rules{Mode: func(path, key string, w any) match.Mode {
		if n, ok := p.modes[key]; ok {
			return n.mode
		}
		if s, ok := w.(string); ok {
			for g := range generated {
				if strings.Contains(s, g) {
					return match.Type
				}
			}
		}
		switch {
		case key == "token" || key == "serverMsgID" || key == "connID":
			return match.Type
		case key == "version" || key == "versionID":
			// An incremental-sync version (the OpenIM SDK profile) is the server's own name for a state.
			return match.Type
		case key == "clientMsgID":
			e.mu.Lock()
			sent := e.sent[str(w)]
			e.mu.Unlock()
			if sent {
				return match.Exact
			}
			return match.Type
		case strings.HasSuffix(key, "Time"), key == "seq", strings.HasSuffix(key, "Seq"):
			return match.Zero
		}
		return match.Exact
	}}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return match.Cut(s, 600)
}

// ---------------------------------------------------------------- generated error cases

// firstSuccess returns an operation's first success example (the body the generated cases start from).
func (op *Op) firstSuccess() *Example {
	for _, ex := range op.Examples {
		if ex.ErrCode == 0 {
			return ex
		}
	}
	if len(op.Examples) > 0 {
		return op.Examples[0]
	}
	return nil
}

// callerFor registers the caller of an example (when it is a placeholder) and returns its mapped ID ("" for
// operations without a token).
func (e *env) callerFor(op *Op, ex *Example) string {
	if !op.Secured {
		return ""
	}
	ph := ""
	if ex != nil {
		ph = ex.Caller
	}
	if ph == "" {
		ph = "user123"
		if e.s.profiles[ph] == nil {
			for k := range e.s.profiles {
				ph = k
				break
			}
		}
	}
	e.register(ph)
	return e.id(ph)
}

// runMalformed sends a body that is not JSON: errCode 1001.
func (rt *runtime) runMalformed(t TestLike, op *Op) {
	e := rt.newEnv(t)
	caller := e.callerFor(op, op.firstSuccess())
	r := e.post(op, caller, []byte(`{"this is": not JSON`), nil)
	e.checkReply(op, r, map[string]any{"errCode": 1001.0}, prep{})
}

// runMissing sends the first success example without one required field: errCode 1001, and errMsg names the
// field.
func (rt *runtime) runMissing(t TestLike, op *Op, field string) {
	e := rt.newEnv(t)
	ex := op.firstSuccess()
	caller := e.callerFor(op, ex)
	body := obj(e.ids.value(ex.Body))
	delete(body, field)
	b, _ := json.Marshal(body)
	r := e.post(op, caller, b, nil)
	e.checkReply(op, r, map[string]any{"errCode": 1001.0}, prep{})
	if r.errCode() == 1001 && !strings.Contains(r.errMsg(), field) {
		t.Errorf("errMsg: want it to name the missing field %q, got %q", field, r.errMsg())
	}
}

// runNoToken calls a secured operation without a token, or with a garbage one: errCode 1002.
func (rt *runtime) runNoToken(t TestLike, op *Op, garbage bool) {
	e := rt.newEnv(t)
	ex := op.firstSuccess()
	body, _ := json.Marshal(e.ids.value(ex.Body))
	h := http.Header{}
	if garbage {
		h.Set("token", "eyJhbGciOiJIUzI1NiJ9.bm90IGEgdG9rZW4.c2lnbmF0dXJl")
	}
	r := e.post(op, "", body, h)
	e.checkReply(op, r, map[string]any{"errCode": 1002.0}, prep{})
}

// describe is a short name of a reply for logs.
func (r reply) describe() string {
	return fmt.Sprintf("HTTP %d errCode %d %q", r.status, r.errCode(), r.errMsg())
}
