package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/testenv"
)

// userIDField names the fields whose limit is the userID schema's (pattern and length), checked where that
// schema is defined; a field here without a limit is reported, not failed.
var userIDField = regexp.MustCompile(`(?i)(userid|sendid|recvid)s?$`)

// minimal is the smallest value of s that its own constraints accept (required properties only).
func minimal(s *openapi3.Schema) any {
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch {
	case s.Type.Is("object") || len(s.Properties) > 0 || len(s.AllOf) > 0:
		m := map[string]any{}
		for _, part := range parts(s) {
			for _, k := range part.Required {
				if p := part.Properties[k]; p != nil {
					m[k] = minimal(p.Value)
				}
			}
		}
		return m
	case s.Type.Is("array"):
		if s.MinItems == 0 {
			return []any{}
		}
		return []any{minimal(s.Items.Value)}
	case s.Type.Is("string"):
		return strings.Repeat("x", int(max(s.MinLength, 1)))
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 1
	case s.Type.Is("boolean"):
		return false
	}
	return nil
}

func parts(s *openapi3.Schema) []*openapi3.Schema {
	out := []*openapi3.Schema{s}
	for _, r := range s.AllOf {
		out = append(out, parts(r.Value)...)
	}
	return out
}

func prop(s *openapi3.Schema, k string) *openapi3.Schema {
	for _, p := range parts(s) {
		if r := p.Properties[k]; r != nil {
			return r.Value
		}
	}
	return nil
}

// setAt returns v with val at path (property names, "0" for an array's first item), creating what is
// missing with minimal values.
func setAt(v any, s *openapi3.Schema, path []string, val any) any {
	if len(path) == 0 {
		return val
	}
	if s.Type.Is("array") {
		arr, _ := v.([]any)
		if len(arr) == 0 {
			arr = []any{minimal(s.Items.Value)}
		}
		arr[0] = setAt(arr[0], s.Items.Value, path[1:], val)
		return arr
	}
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	ps := prop(s, path[0])
	cur, ok := m[path[0]]
	if !ok {
		cur = minimal(ps)
	}
	m[path[0]] = setAt(cur, ps, path[1:], val)
	return m
}

// limitCase is one request that breaks one documented limit.
type limitCase struct {
	path  []string
	value any
	what  string
}

// limitCases lists, for every property under s, a value one past each of its limits and an oversize value.
// Fields without any limit are returned in unlimited.
func limitCases(s *openapi3.Schema, path []string, seen map[*openapi3.Schema]int) (cases []limitCase, unlimited []string) {
	if seen[s] > 1 {
		return nil, nil
	}
	seen[s]++
	defer func() { seen[s]-- }()
	name := strings.Join(path, ".")
	add := func(v any, what string) { cases = append(cases, limitCase{slices.Clone(path), v, what}) }
	switch {
	case s.Type.Is("string") && len(s.Enum) == 0:
		if s.MaxLength != nil {
			add(strings.Repeat("x", int(*s.MaxLength)+1), fmt.Sprintf("maxLength %d + 1", *s.MaxLength))
			add(strings.Repeat("x", 100_000), "a 100 KB string")
		} else if len(path) > 0 {
			unlimited = append(unlimited, name)
		}
	case s.Type.Is("integer"):
		if len(s.Enum) > 0 {
			add(999_999, "a value outside the enum")
		}
		if s.Max != nil {
			add(*s.Max+1, fmt.Sprintf("maximum %v + 1", *s.Max))
		}
		if s.Min != nil {
			add(*s.Min-1, fmt.Sprintf("minimum %v - 1", *s.Min))
		}
		add(json.Number("1e30"), "a number no integer type holds")
	case s.Type.Is("array"):
		if s.MaxItems != nil {
			items := make([]any, int(*s.MaxItems)+1)
			for i := range items {
				items[i] = minimal(s.Items.Value)
				if str, ok := items[i].(string); ok { // distinct, so uniqueItems cannot be what refuses it
					items[i] = str + strconv.Itoa(i)
				}
			}
			add(items, fmt.Sprintf("maxItems %d + 1", *s.MaxItems))
		} else {
			unlimited = append(unlimited, name)
		}
		c, u := limitCases(s.Items.Value, append(slices.Clone(path), "0"), seen)
		cases, unlimited = append(cases, c...), append(unlimited, u...)
	case s.Type.Is("object") || len(s.Properties) > 0 || len(s.AllOf) > 0:
		for _, part := range parts(s) {
			for _, k := range sortedKeys(part.Properties) {
				c, u := limitCases(part.Properties[k].Value, append(slices.Clone(path), k), seen)
				cases, unlimited = append(cases, c...), append(unlimited, u...)
			}
		}
	}
	return cases, unlimited
}

func sortedKeys(m openapi3.Schemas) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Issue 13 Medium 2: every operation, every documented limit: one past it (and an oversize value) is 1001
// naming the field, never 500; every string and array of every request has a documented limit.
func TestEveryLimitRefused(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	admin := e.AdminToken()
	doc, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, route := range sortedKeys2(doc.Paths.Map()) {
		op := doc.Paths.Value(route).Post
		if op == nil || op.RequestBody == nil {
			continue
		}
		mt := op.RequestBody.Value.Content.Get("application/json")
		if mt == nil {
			// The SDK profile's protobuf routes: the schema is the body's bytes, limited in length.
			pb := op.RequestBody.Value.Content.Get("application/x-protobuf").Schema.Value
			if pb.MaxLength == nil {
				t.Errorf("%s: protobuf body without a maxLength", route)
				continue
			}
			t.Run(strings.TrimPrefix(route, "/")+"/body/maxLength", func(t *testing.T) {
				total++
				body := make([]byte, *pb.MaxLength+1)
				for i := 0; i+2 < len(body); i += 3 { // field 15, 1 byte each: valid protobuf, only too long
					body[i], body[i+1], body[i+2] = 0x7a, 1, 'x'
				}
				if r := e.Post(route, admin, body); r.ErrCode != 1001 || !strings.Contains(r.ErrMsg, "body") {
					t.Fatalf("got errCode %d %q; want 1001 naming the body", r.ErrCode, r.ErrMsg)
				}
			})
			continue
		}
		s := mt.Schema.Value
		token := admin
		if op.Security != nil && len(*op.Security) == 0 {
			token = ""
		}
		cases, unlimited := limitCases(s, nil, map[*openapi3.Schema]int{})
		for _, u := range unlimited {
			last := u[strings.LastIndex(u, ".")+1:]
			if last == "0" {
				last = strings.TrimSuffix(u, ".0")
				last = last[strings.LastIndex(last, ".")+1:]
			}
			if userIDField.MatchString(last) {
				t.Logf("%s %s: no limit here; the userID schema's limit applies", route, u)
				continue
			}
			t.Errorf("%s %s: no documented limit (maxLength, maxItems or enum)", route, u)
		}
		for _, c := range cases {
			body := setAt(minimal(s), s, c.path, c.value)
			field := strings.Join(c.path, ".")
			t.Run(strings.TrimPrefix(route, "/")+"/"+field+"/"+c.what, func(t *testing.T) {
				total++
				r := e.Post(route, token, body)
				last := c.path[len(c.path)-1]
				if last == "0" {
					last = c.path[len(c.path)-2]
				}
				if r.ErrCode != 1001 || r.Status != http.StatusOK || !strings.Contains(r.ErrMsg, last) {
					t.Fatalf("got status %d errCode %d %q; want 1001 naming %s", r.Status, r.ErrCode, r.ErrMsg, last)
				}
			})
		}
	}
	// The operationID header too.
	req, _ := http.NewRequest("POST", e.URL+"/api/v3/user/get_users_info", strings.NewReader(`{"userIDs":["x"]}`))
	req.Header.Set("token", admin)
	req.Header.Set("operationID", strings.Repeat("o", 129))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env testenv.Resp
	err = json.NewDecoder(res.Body).Decode(&env)
	res.Body.Close()
	if err != nil || env.ErrCode != 1001 || !strings.Contains(env.ErrMsg, "operationID") {
		t.Errorf("operationID header of 129 characters: errCode %d %q (%v)", env.ErrCode, env.ErrMsg, err)
	}
	t.Logf("%d limit cases over %d operations", total, len(doc.Paths.Map()))
}

func sortedKeys2[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// The WebSocket requests' limits (asyncapi.yaml): one past each is 1001 naming the field, and the
// connection stays usable.
func TestEveryWSLimitRefused(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, _ := e.User("b")
	conv := chat.SingleConversationID(a, b)
	ws := e.Dial(a, aTok, 1)
	msg := func(k string, v any) map[string]any {
		m := map[string]any{"sendID": a, "recvID": b, "sessionType": 1, "contentType": 101, "content": `{"content":"x"}`}
		m[k] = v
		return m
	}
	ranges := func(n int, r map[string]any) map[string]any {
		rs := make([]map[string]any, n)
		for i := range rs {
			rs[i] = map[string]any{"conversationID": conv, "begin": 1, "end": 2, "num": 1}
			for k, v := range r {
				rs[i][k] = v
			}
		}
		return map[string]any{"userID": a, "seqRanges": rs}
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, c := range []struct {
		name  string
		req   int
		data  any
		field string
	}{
		{"content", 1003, msg("content", long(chat.MaxContentBytes+1)), "content"},
		{"clientMsgID", 1003, msg("clientMsgID", long(chat.MaxClientMsgID+1)), "clientMsgID"},
		{"senderNickname", 1003, msg("senderNickname", long(chat.MaxNickname+1)), "senderNickname"},
		{"senderFaceURL", 1003, msg("senderFaceURL", long(chat.MaxURL+1)), "senderFaceURL"},
		{"ex", 1003, msg("ex", long(chat.MaxEx+1)), "ex"},
		{"attachedInfo", 1003, msg("attachedInfo", long(chat.MaxEx+1)), "attachedInfo"},
		{"groupID", 1003, map[string]any{"sendID": a, "groupID": long(chat.MaxGroupID + 1), "sessionType": 3, "contentType": 101, "content": "x"}, "groupID"},
		{"recvID 50 KB", 1003, msg("recvID", long(50_000)), "recvID"}, // a 100 KB frame is closed with 1009
		{"atUserIDList", 1003, msg("atUserIDList", make([]string, chat.MaxAtUsers+1)), "atUserIDList"},
		{"contentType", 1003, msg("contentType", 1201), "contentType"},
		{"senderPlatformID", 1003, msg("senderPlatformID", 13), "senderPlatformID"},
		{"seqRanges", 1002, ranges(chat.MaxPullRanges+1, nil), "seqRanges"},
		{"num", 1002, ranges(1, map[string]any{"num": chat.MaxPullNum + 1}), "num"},
		{"conversationID", 1002, ranges(1, map[string]any{"conversationID": long(50_000)}), "conversationID"},
		{"begin", 1002, ranges(1, map[string]any{"begin": -1}), "begin"},
		{"num type", 1002, ranges(1, map[string]any{"num": json.Number("1e30")}), "num"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := ws.Call(c.req, c.data)
			if f.ErrCode != 1001 || !strings.Contains(f.ErrMsg, c.field) {
				t.Fatalf("got errCode %d %q; want 1001 naming %s", f.ErrCode, f.ErrMsg, c.field)
			}
		})
	}
	// Frame fields.
	for _, k := range []string{"operationID", "msgIncr"} {
		fr := map[string]any{"reqIdentifier": 1001, "sendID": a, "operationID": "o", "msgIncr": "m", "data": map[string]any{"userID": a}}
		fr[k] = long(129)
		raw, _ := json.Marshal(fr)
		ws.WriteRaw(raw)
		f := ws.Await(wait, "reply", func(f testenv.Frame) bool { return f.ReqIdentifier == 1001 })
		if f.ErrCode != 1001 || !strings.Contains(f.ErrMsg, k) {
			t.Fatalf("%s of 129 characters: %+v", k, f)
		}
	}
	if f := ws.Call(1001, map[string]any{"userID": a}); f.ErrCode != 0 {
		t.Fatalf("connection unusable after the refusals: %+v", f)
	}
}
