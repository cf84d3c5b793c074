package conformance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// caseDef is one case of the plan.
type caseDef struct {
	path   []string
	covers []string
	run    func(t TestLike, rt *runtime)
}

func (c *caseDef) name() string { return strings.Join(c.path, "/") }

// Case is a case of the suite: its name (as -run and the reports spell it) and the coverage items it covers.
type Case struct {
	Name   string
	Covers []string
}

// Item is one thing of the specs the suite must cover: an example of an operation, an error code an operation
// documents, an x-trigger rule, or an AsyncAPI operation.
type Item struct {
	ID    string // e.g. op/addFriend/example/seed, op/addFriend/err/1105, event/FriendAdded/0, ws/sendMsg
	Kind  string // example, error, trigger, wsop
	Group string // the operationId, the message name, or "websocket"
	Label string // the example name, the errCode, "rule <i>: <operation>", the AsyncAPI operation
	// Required items fail self/coverage when no case covers them; error codes without an example are only
	// reported (500 and the codes no example provokes cannot be produced from outside).
	Required bool
}

func exampleItem(op, ex string) string   { return "op/" + op + "/example/" + ex }
func errItem(op string, code int) string { return "op/" + op + "/err/" + strconv.Itoa(code) }
func eventItem(msg string, i int) string { return fmt.Sprintf("event/%s/%d", msg, i) }
func wsItem(op string) string            { return "ws/" + op }

// Items lists the coverage items of the specs, in document order.
func (s *Suite) Items() []Item {
	var out []Item
	for _, op := range s.Ops {
		for _, ex := range op.Examples {
			out = append(out, Item{ID: exampleItem(op.ID, ex.Name), Kind: "example", Group: op.ID, Label: ex.Name, Required: true})
		}
		for _, c := range op.ErrCodes {
			if c == 0 || c == 500 {
				continue
			}
			out = append(out, Item{ID: errItem(op.ID, c), Kind: "error", Group: op.ID, Label: strconv.Itoa(c)})
		}
	}
	for _, m := range s.Messages {
		for _, r := range m.Rules {
			out = append(out, Item{ID: eventItem(m.Name, r.Index), Kind: "trigger", Group: m.Name,
				Label: fmt.Sprintf("rule %d: %s", r.Index, r.Operation), Required: true})
		}
	}
	for _, w := range s.WSOps {
		out = append(out, Item{ID: wsItem(w.ID), Kind: "wsop", Group: "websocket", Label: w.ID, Required: true})
	}
	return out
}

// Cases lists the cases of the suite in the order they are started.
func (s *Suite) Cases() []Case {
	out := make([]Case, len(s.cases))
	for i, c := range s.cases {
		out[i] = Case{Name: c.name(), Covers: c.covers}
	}
	return out
}

// plan derives the cases from the specs.
func (s *Suite) plan() {
	add := func(c *caseDef) { s.cases = append(s.cases, c) }
	add(&caseDef{path: []string{"self", "coverage"}, run: func(t TestLike, rt *runtime) { rt.s.selfCoverage(t) }})
	for _, op := range s.Ops {
		op := op
		if op.Protobuf {
			add(&caseDef{path: []string{op.Tag, op.ID, "skipped-protobufBody"}, run: func(t TestLike, _ *runtime) {
				t.Skipf("%s takes a protobuf body (the OpenIM SDK profile): not replayed by this suite; the server's own tests cover it", op.Path)
			}})
			continue
		}
		names := map[string]bool{}
		for _, ex := range op.Examples {
			ex := ex
			names[ex.Name] = true
			covers := []string{exampleItem(op.ID, ex.Name)}
			if ex.ErrCode != 0 {
				covers = append(covers, errItem(op.ID, ex.ErrCode))
			}
			add(&caseDef{path: []string{op.Tag, op.ID, ex.Name}, covers: covers,
				run: func(t TestLike, rt *runtime) { rt.runExample(t, op, ex) }})
		}
		if op.firstSuccess() == nil {
			continue
		}
		gen := func(name string, code int, run func(t TestLike, rt *runtime)) {
			if !names[name] {
				add(&caseDef{path: []string{op.Tag, op.ID, name}, covers: []string{errItem(op.ID, code)}, run: run})
			}
		}
		gen("err1001-malformedJSON", 1001, func(t TestLike, rt *runtime) { rt.runMalformed(t, op) })
		for _, f := range op.Required {
			f := f
			gen("err1001-missing-"+f, 1001, func(t TestLike, rt *runtime) { rt.runMissing(t, op, f) })
		}
		if op.Secured {
			gen("err1002-noToken", 1002, func(t TestLike, rt *runtime) { rt.runNoToken(t, op, false) })
			gen("err1002-garbageToken", 1002, func(t TestLike, rt *runtime) { rt.runNoToken(t, op, true) })
		}
		if op.actsAsExample() != nil {
			for _, f := range op.ActsAs {
				f := f
				gen("err1003-actsAs-"+strings.TrimSuffix(f, "[]"), 1003, func(t TestLike, rt *runtime) { rt.runActsAs(t, op, f) })
			}
		}
		for _, l := range op.Limits {
			l := l
			gen("err1001-limit-"+l.name(), 1001, func(t TestLike, rt *runtime) { rt.runLimit(t, op, l) })
		}
	}
	for _, op := range s.Ops {
		op := op
		if op.Roles == nil {
			continue
		}
		for _, p := range op.Roles.pairs() {
			p := p
			add(&caseDef{path: []string{"roles", op.ID, p.name()}, covers: []string{errItem(op.ID, 1003)},
				run: func(t TestLike, rt *runtime) { rt.runRole(t, op, p) }})
		}
	}
	var pushOp string
	for _, w := range s.WSOps {
		if w.Action == "send" && w.ReqIdentifier == 2001 {
			pushOp = w.ID
		}
	}
	for _, m := range s.Messages {
		m := m
		for _, r := range m.Rules {
			r := r
			covers := []string{eventItem(m.Name, r.Index)}
			if pushOp != "" {
				covers = append(covers, wsItem(pushOp))
			}
			add(&caseDef{path: []string{"events", m.Name, fmt.Sprintf("%d-%s", r.Index, r.Operation)}, covers: covers,
				run: func(t TestLike, rt *runtime) { rt.runEvent(t, m, r) }})
		}
	}
	for _, wc := range s.wsCases() {
		wc := wc
		var covers []string
		for _, id := range wc.covers {
			covers = append(covers, wsItem(id))
		}
		add(&caseDef{path: []string{"ws", wc.name}, covers: covers,
			run: func(t TestLike, rt *runtime) { wc.run(rt.newEnv(t)) }})
	}
	for _, vc := range s.valueCases() {
		vc := vc
		add(&caseDef{path: []string{"values", vc.name}, run: func(t TestLike, rt *runtime) { vc.run(rt.newEnv(t)) }})
	}
}

// selfCoverage fails when an operation, an example, an x-trigger rule or an AsyncAPI operation of the specs has
// no case: the suite must grow with the specs.
func (s *Suite) selfCoverage(t TestLike) {
	covered := map[string]bool{}
	for _, c := range s.cases {
		for _, id := range c.covers {
			covered[id] = true
		}
	}
	ops := map[string]bool{}
	for _, c := range s.cases {
		if len(c.path) == 3 && s.opByID[c.path[1]] != nil {
			ops[c.path[1]] = true
		}
	}
	for _, op := range s.Ops {
		if !ops[op.ID] {
			t.Errorf("operation %s (POST %s) has no case: give it request/response examples", op.ID, op.Path)
		}
	}
	var missing, uncoveredErr []string
	for _, it := range s.Items() {
		if covered[it.ID] {
			continue
		}
		if it.Required {
			missing = append(missing, it.ID)
		} else {
			uncoveredErr = append(uncoveredErr, it.ID)
		}
	}
	for _, id := range missing {
		t.Errorf("%s has no case", id)
	}
	for _, m := range s.Messages {
		if m.ContentType != 0 && len(m.Rules) == 0 && m.Tips != "" {
			t.Errorf("message %s (contentType %d) has no x-trigger: nothing says what sends it", m.Name, m.ContentType)
		}
	}
	if len(uncoveredErr) > 0 {
		slices.Sort(uncoveredErr)
		t.Logf("documented error codes no example provokes (reported in the coverage, not failures): %s", strings.Join(uncoveredErr, ", "))
	}
}
