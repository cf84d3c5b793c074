// Package conformance is the conformance suite of the OpenIM-compatible IM server API described by
// openapi/openapi.yaml and asyncapi/asyncapi.yaml. It verifies any implementation over its public API: REST under
// the base URL, the WebSocket gateway, as a black box.
//
// The cases are derived from the specs when the suite is loaded, not listed by hand:
//
//   - <tag>/<operationId>/<example>: every named example of every operation is replayed — the set-up it needs,
//     its request with its caller's token (x-caller), the reply checked against the operation's response schema
//     and against the example by meaning (see package match);
//   - <tag>/<operationId>/err1001-… and err1002-…: every operation gets a body that is not JSON and bodies
//     without each required field (1001, naming the field), a body one past each maxLength, maxItems, maximum,
//     minimum, minLength, minItems and pattern of its request schema (err1001-limit-<path>-<keyword>: 1001,
//     naming the field), every secured
//     operation no token and a garbage one (1002); the other documented errors come from the err<code>-… examples;
//   - events/<message>/<rule>-<operation>: every x-trigger rule of the AsyncAPI document is performed with the
//     recipients and a bystander connected; the push is awaited (EventDeadline), checked against the message's
//     schema and its Tips schema, nobody else may get it (QuietWindow), and a stored push must be found again
//     with 1001/1002 from a connection opened afterwards;
//   - ws/<name>: the WebSocket requests and rules (connect results, heartbeat, gap filling, typing, idempotent
//     sends, sendID mismatch, malformed and oversize frames, kicks, logout, background status);
//   - self/coverage: fails when an operation, example, rule or AsyncAPI operation has no case.
//
// Placeholder IDs of the examples (user123, group123, …) become fresh IDs per case, so cases are independent
// and run in parallel, and the suite can run again and again against the same server.
package conformance

import (
	"context"
	"strings"
)

// Target is the server under test.
type Target struct {
	APIURL string // the REST base URL, including /api/v3 (e.g. http://127.0.0.1:10002/api/v3)
	WSURL  string // the WebSocket gateway (e.g. ws://127.0.0.1:10002/msg_gateway)
	Secret string // the shared secret of /auth/user_register and /auth/user_token
	Admin  string // an admin user ID
}

// Run runs the suite derived from the specs compiled into this binary against target.
func Run(t TestLike, target Target) {
	t.Helper()
	s, err := Embedded()
	if err != nil {
		t.Fatalf("loading the specs: %v", err)
	}
	s.Run(t, target)
}

// Run runs every case of the suite against target, as subtests of t (parallel where independent).
func (s *Suite) Run(t TestLike, target Target) {
	t.Helper()
	target.APIURL = strings.TrimRight(target.APIURL, "/")
	rt := newRuntime(s, target)
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	_, err := rt.adminToken(ctx, false)
	cancel()
	if err != nil {
		t.Fatalf("cannot reach the server under test: getting a token for the admin from %s/auth/user_token: %v "+
			"(check the API URL, the secret and the admin user ID)", target.APIURL, err)
	}
	root := &node{}
	for _, c := range s.cases {
		root.add(c.path, c)
	}
	for _, n := range root.children {
		n.run(t, rt)
	}
}

// node is a level of case names (tag, operation, case).
type node struct {
	name     string
	c        *caseDef
	children []*node
}

func (n *node) add(path []string, c *caseDef) {
	if len(path) == 0 {
		n.c = c
		return
	}
	for _, ch := range n.children {
		if ch.name == path[0] {
			ch.add(path[1:], c)
			return
		}
	}
	ch := &node{name: path[0]}
	n.children = append(n.children, ch)
	ch.add(path[1:], c)
}

func (n *node) run(t TestLike, rt *runtime) {
	t.Run(n.name, func(t TestLike) {
		t.Parallel()
		if n.c != nil {
			n.c.run(t, rt)
			return
		}
		for _, ch := range n.children {
			ch.run(t, rt)
		}
	})
}
