package asyncapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/imspec/imserver/tools/eventgen/codegen"
)

const (
	localRef    = "#/components/schemas/"
	apiRef      = "../openapi/openapi.yaml#/components/schemas/"
	openapiPath = "../openapi/openapi.yaml"
	genPath     = "../gen/events/events.gen.go"
)

// conventionsOperationIDs is the operationId list of docs/CONVENTIONS.md, used when openapi/openapi.yaml is absent.
var conventionsOperationIDs = strings.Fields(`userRegister userToken getUsersInfo updateUserInfo addFriend
	addFriendResponse deleteFriend getFriendList setFriendRemark addBlack removeBlack getBlackList getFriendApplyList
	getSelfFriendApplyList createGroup getGroupsInfo inviteUserToGroup joinGroup quitGroup kickGroup
	groupApplicationResponse setGroupInfo transferGroup dismissGroup muteGroupMember cancelMuteGroupMember muteGroup
	cancelMuteGroup getGroupMemberList getJoinedGroupList getGroupApplicationList sendMsg getConversationMsg revokeMsg
	markMsgsAsRead getAllConversations getConversations setConversations getUsersOnlineStatus forbidUser unforbidUser`)

// conventionsErrCodes is the error table of docs/CONVENTIONS.md, used when openapi/openapi.yaml is absent.
var conventionsErrCodes = []int{0, 500, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1101, 1102, 1103,
	1104, 1105, 1201, 1202, 1203, 1204, 1205, 1206, 1301}

// seed003Fallback lists seed 003's events, used when the seed is not on disk.
var seed003Fallback = map[int]string{
	1201: "FriendApplicationApproved", 1202: "FriendApplicationRejected", 1203: "FriendApplication",
	1204: "FriendAdded", 1205: "FriendDeleted", 1206: "FriendRemarkSet", 1207: "BlackAdded", 1208: "BlackDeleted",
	1501: "GroupCreated", 1502: "GroupInfoSet", 1503: "JoinGroupApplication", 1504: "MemberQuit",
	1505: "GroupApplicationAccepted", 1506: "GroupApplicationRejected", 1507: "GroupOwnerTransferred",
	1508: "MemberKicked", 1509: "MemberInvited", 1510: "MemberEnter", 1511: "GroupDismissed",
	1512: "GroupMemberMuted", 1513: "GroupMemberCancelMuted", 1514: "GroupMuted", 1515: "GroupCancelMuted",
	1303: "UserInfoUpdated", 1304: "UserStatusChange", 2001: "CmdPushMsg", 2101: "RevokeNotification",
	2200: "HasReadReceipt",
}

type obj = map[string]any

// ---------------------------------------------------------------- loading

// loadYAML decodes a YAML document into JSON-compatible values (string keys, aliases and merges resolved).
func loadYAML(t *testing.T, data []byte) obj {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	m, ok := jsonify(v).(obj)
	if !ok {
		t.Fatalf("YAML: the document is not a mapping")
	}
	return m
}

func jsonify(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := obj{}
		for k, e := range x {
			out[k] = jsonify(e)
		}
		return out
	case map[any]any:
		out := obj{}
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonify(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonify(e)
		}
		return out
	}
	return v
}

// normalize round-trips a value through encoding/json so that values from YAML and from JSON compare equal.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

type fixture struct {
	doc     obj
	openapi obj // nil when ../openapi/openapi.yaml is absent
}

func load(t *testing.T) fixture {
	t.Helper()
	f := fixture{doc: loadYAML(t, Spec)}
	if data, err := os.ReadFile(openapiPath); err == nil {
		f.openapi = loadYAML(t, data)
	} else {
		t.Logf("%s not found (%v): checking refs, operationIds and error codes against docs/CONVENTIONS.md only", openapiPath, err)
	}
	return f
}

func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func mapAt(v any, keys ...string) obj {
	m, _ := path(v, keys...).(obj)
	return m
}

func sortedKeys(m obj) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func intOf(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case float64:
		return int(x), x == float64(int(x))
	}
	return 0, false
}

// ---------------------------------------------------------------- seeds

// seedsDir walks up from the working directory to a folder that has shared/seeds.
func seedsDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "seeds")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func seedFile(t *testing.T, prefix string) []byte {
	t.Helper()
	dir := seedsDir(t)
	if dir == "" {
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(dir, prefix+"_*"))
	if len(matches) == 0 {
		return nil
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// seed003Events returns seed 003's event numbers and names from its tables (| 1201 | `Name` | …).
func seed003Events(t *testing.T) map[int]string {
	t.Helper()
	data := seedFile(t, "003")
	if data == nil {
		t.Log("seed 003 not found (no shared/seeds above the working directory): using the built-in event list")
		return seed003Fallback
	}
	re := regexp.MustCompile("(?m)^\\|\\s*(\\d{4})\\s*\\|\\s*`(\\w+)`")
	out := map[int]string{}
	for _, m := range re.FindAllSubmatch(data, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		out[n] = string(m[2])
	}
	if len(out) < 28 {
		t.Fatalf("seed 003: found only %d events in its tables", len(out))
	}
	return out
}

// seed000Frames returns the ```json blocks of seed 000 that contain "reqIdentifier".
func seed000Frames(t *testing.T) []string {
	t.Helper()
	data := seedFile(t, "000")
	if data == nil {
		t.Skip("seed 000 not found: no folder with shared/seeds above the working directory")
	}
	re := regexp.MustCompile("(?s)```json\\n(.*?)```")
	var out []string
	for _, m := range re.FindAllSubmatch(data, -1) {
		if bytes.Contains(m[1], []byte(`"reqIdentifier"`)) {
			out = append(out, string(m[1]))
		}
	}
	if len(out) != 2 {
		t.Fatalf("seed 000: want 2 WebSocket frames, found %d", len(out))
	}
	return out
}

// ---------------------------------------------------------------- document shape

func TestDocumentIsAsyncAPI3(t *testing.T) {
	f := load(t)
	if got := f.doc["asyncapi"]; got != "3.0.0" {
		t.Fatalf("asyncapi: got %v, want 3.0.0", got)
	}
	ch := mapAt(f.doc, "channels", "msgGateway")
	if ch["address"] != "/msg_gateway" {
		t.Errorf("channels.msgGateway.address: got %v, want /msg_gateway", ch["address"])
	}
	query := mapAt(ch, "bindings", "ws", "query", "properties")
	for _, p := range []string{"token", "userID", "sendID", "platformID", "operationID", "isMsgResp", "sdkType"} {
		if query[p] == nil {
			t.Errorf("channels.msgGateway.bindings.ws.query: missing %s", p)
		}
	}
	headers := mapAt(ch, "bindings", "ws", "headers", "properties")
	for _, h := range []string{"token", "Authorization"} {
		if headers[h] == nil {
			t.Errorf("channels.msgGateway.bindings.ws.headers: missing %s", h)
		}
	}
	limits := mapAt(ch, "x-limits")
	for k, want := range map[string]int{"maxFrameBytes": 51200, "sendQueueFrames": 256, "idleTimeoutSeconds": 30} {
		if got, _ := intOf(path(limits, k, "value")); got != want {
			t.Errorf("x-limits.%s: got %d, want %d", k, got, want)
		}
	}

	comps := mapAt(f.doc, "components", "messages")
	chMsgs := mapAt(ch, "messages")
	for _, k := range sortedKeys(chMsgs) {
		if ref := path(chMsgs, k, "$ref"); ref != "#/components/messages/"+k {
			t.Errorf("channels.msgGateway.messages.%s: $ref %v, want #/components/messages/%s", k, ref, k)
		}
	}
	for _, k := range sortedKeys(comps) {
		if chMsgs[k] == nil {
			t.Errorf("components.messages.%s is not listed in channels.msgGateway.messages", k)
		}
	}
	ops := mapAt(f.doc, "operations")
	for _, name := range sortedKeys(ops) {
		op := mapAt(ops, name)
		if a := op["action"]; a != "send" && a != "receive" {
			t.Errorf("operations.%s.action: %v", name, a)
		}
		refs := []any{}
		if l, ok := op["messages"].([]any); ok {
			refs = append(refs, l...)
		}
		if l, ok := path(op, "reply", "messages").([]any); ok {
			refs = append(refs, l...)
		}
		for _, r := range refs {
			ref, _ := path(r, "$ref").(string)
			key := strings.TrimPrefix(ref, "#/channels/msgGateway/messages/")
			if key == ref || chMsgs[key] == nil {
				t.Errorf("operations.%s: message ref %q does not resolve", name, ref)
			}
		}
	}
}

func TestEventsAndRequestsArePresent(t *testing.T) {
	f := load(t)
	msgs := mapAt(f.doc, "components", "messages")
	byContentType := map[int]obj{}
	byName := map[string]obj{}
	for _, k := range sortedKeys(msgs) {
		m := mapAt(msgs, k)
		if ct, ok := intOf(m["x-content-type"]); ok {
			if byContentType[ct] != nil {
				t.Errorf("two messages have x-content-type %d", ct)
			}
			byContentType[ct] = m
		}
		byName[fmt.Sprint(m["name"])] = m
	}
	enumNames := map[int]string{}
	ctSchema := mapAt(f.doc, "components", "schemas", "ContentType")
	values, _ := ctSchema["enum"].([]any)
	names, _ := ctSchema["x-enum-varnames"].([]any)
	for i := range values {
		n, _ := intOf(values[i])
		if i < len(names) {
			enumNames[n] = fmt.Sprint(names[i])
		}
	}

	for _, id := range sortedInts(seed003Events(t)) {
		name := seed003Events(t)[id]
		if id == 2001 {
			m := byName[name]
			if m == nil || path(m, "x-req-identifier") != 2001 {
				t.Errorf("event 2001 %s: no message named %s with x-req-identifier 2001", name, name)
			}
			continue
		}
		m := byContentType[id]
		if m == nil {
			t.Errorf("event %d %s: no message with x-content-type %d", id, name, id)
			continue
		}
		if m["name"] != name {
			t.Errorf("event %d: message name %v, want seed 003's %s", id, m["name"], name)
		}
		if enumNames[id] != name {
			t.Errorf("event %d: ContentType x-enum-varnames gives %q, want %s", id, enumNames[id], name)
		}
		if m["x-tips"] == nil {
			t.Errorf("event %d %s: no x-tips", id, name)
		}
		if r, _ := intOf(m["x-req-identifier"]); r != 2001 {
			t.Errorf("event %d %s: x-req-identifier %v, want 2001", id, name, m["x-req-identifier"])
		}
	}

	ops := mapAt(f.doc, "operations")
	found := map[int]obj{}
	for _, name := range sortedKeys(ops) {
		op := mapAt(ops, name)
		if id, ok := intOf(op["x-req-identifier"]); ok {
			found[id] = op
		}
	}
	for _, id := range []int{1001, 1002, 1003, 2003, 2004} {
		op := found[id]
		if op == nil {
			t.Errorf("request %d: no operation with x-req-identifier %d", id, id)
			continue
		}
		if op["action"] != "receive" || path(op, "reply", "messages") == nil {
			t.Errorf("request %d: want action receive with a reply", id)
		}
		if op["x-err-codes"] == nil {
			t.Errorf("request %d: no x-err-codes", id)
		}
	}
	for _, id := range []int{2001, 2002} {
		if op := found[id]; op == nil || op["action"] != "send" {
			t.Errorf("push %d: want an operation with action send", id)
		}
	}
}

func sortedInts(m map[int]string) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func TestErrCodesAreInTheTable(t *testing.T) {
	f := load(t)
	known := map[int]bool{}
	if f.openapi != nil {
		for _, v := range path(f.openapi, "components", "schemas", "ErrCode", "enum").([]any) {
			n, _ := intOf(v)
			known[n] = true
		}
	} else {
		for _, n := range conventionsErrCodes {
			known[n] = true
		}
	}
	ops := mapAt(f.doc, "operations")
	for _, name := range sortedKeys(ops) {
		codes, _ := path(ops, name, "x-err-codes").([]any)
		for _, c := range codes {
			if n, _ := intOf(c); !known[n] {
				t.Errorf("operations.%s.x-err-codes: %v is not in the ErrCode table", name, c)
			}
		}
	}
}

func TestProvenance(t *testing.T) {
	f := load(t)
	marked := func(m obj) bool { return m["x-designed"] == true || m["x-source"] != nil }
	for _, section := range [][]string{{"components", "schemas"}, {"components", "messages"}, {"operations"},
		{"components", "securitySchemes"}} {
		items := mapAt(f.doc, section...)
		for _, k := range sortedKeys(items) {
			if !marked(mapAt(items, k)) {
				t.Errorf("%s.%s: neither x-designed: true nor x-source", strings.Join(section, "."), k)
			}
		}
	}
	// Message examples cannot carry extensions (the AsyncAPI schema forbids them): an example is designed when
	// its message is, unless the message lists it in x-seed-examples.
	msgs := mapAt(f.doc, "components", "messages")
	for _, k := range sortedKeys(msgs) {
		m := mapAt(msgs, k)
		seeds := seedExamples(m)
		for i, ex := range examples(m) {
			if _, isSeed := seeds[fmt.Sprint(ex["name"])]; !isSeed && m["x-designed"] != true {
				t.Errorf("components.messages.%s.examples[%d]: the message is not x-designed and does not list it in x-seed-examples", k, i)
			}
			for key := range ex {
				if strings.HasPrefix(key, "x-") {
					t.Errorf("components.messages.%s.examples[%d]: %s: the AsyncAPI 3.0 schema allows no extensions on examples", k, i, key)
				}
			}
		}
		for name, s := range seeds {
			if s["source"] == nil {
				t.Errorf("components.messages.%s.x-seed-examples[%s]: no source", k, name)
			}
			found := false
			for _, ex := range examples(m) {
				found = found || ex["name"] == name
			}
			if !found {
				t.Errorf("components.messages.%s.x-seed-examples: no example named %q", k, name)
			}
		}
	}
}

// seedExamples returns a message's x-seed-examples keyed by example name.
func seedExamples(m obj) map[string]obj {
	out := map[string]obj{}
	list, _ := m["x-seed-examples"].([]any)
	for _, e := range list {
		if x, ok := e.(obj); ok {
			out[fmt.Sprint(x["example"])] = x
		}
	}
	return out
}

func TestSeedConflicts(t *testing.T) {
	f := load(t)
	list, _ := f.doc["x-seed-conflicts"].([]any)
	ids := map[string]bool{}
	for i, c := range list {
		m, _ := c.(obj)
		for _, k := range []string{"id", "topic", "seed000", "seed003", "decision", "source"} {
			if s, _ := m[k].(string); s == "" {
				t.Errorf("x-seed-conflicts[%d]: missing %s", i, k)
			}
		}
		ids[fmt.Sprint(m["id"])] = true
	}
	for _, id := range []string{"authHeader", "wsSendMsgReqIdentifier", "wsSendMsgContent", "wsConnectParams"} {
		if !ids[id] {
			t.Errorf("x-seed-conflicts: the WebSocket conflict %s (docs/decisions.md) is missing", id)
		}
	}
	msgs := mapAt(f.doc, "components", "messages")
	for _, k := range sortedKeys(msgs) {
		for name, s := range seedExamples(mapAt(msgs, k)) {
			if c, ok := s["seedConflict"].(string); ok && !ids[c] {
				t.Errorf("components.messages.%s.x-seed-examples[%s]: seedConflict %q is not in x-seed-conflicts", k, name, c)
			}
		}
	}
}

// TestOfficialAsyncAPISchema validates the document against the official AsyncAPI 3.0.0 JSON Schema (testdata).
func TestOfficialAsyncAPISchema(t *testing.T) {
	f := load(t)
	schemaFile, err := os.Open("testdata/asyncapi-3.0.0.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer schemaFile.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(schemaFile)
	if err != nil {
		t.Fatalf("testdata/asyncapi-3.0.0.schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	const url = "file:///asyncapi-3.0.0.schema.json"
	if err := c.AddResource(url, schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f.doc)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("asyncapi.yaml is not a valid AsyncAPI 3.0.0 document: %v", err)
	}
}

// ---------------------------------------------------------------- triggers

var (
	identPath   = `[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*`
	refRe       = `(?:body\.` + identPath + `|result\.` + identPath + `|caller)`
	recipientRe = []*regexp.Regexp{
		regexp.MustCompile(`^body\.(` + identPath + `)(\[\])?$`),
		regexp.MustCompile(`^(caller|callerOtherConns)$`),
		regexp.MustCompile(`^(?:friendsOf|groupMembers|groupMembersBefore|groupAdmins|conversationMembers)\((` + refRe + `)\)$`),
		regexp.MustCompile(`^(?:peer|senders)\((` + refRe + `),\s*(` + refRe + `)\)$`),
	}
	condRe     = regexp.MustCompile(`^\s*(\S+)\s+(==|!=|in)\s+(.+?)\s*$`)
	literalRe  = regexp.MustCompile(`^(-?\d+|"[^"]*"|true|false)$`)
	operandRe  = regexp.MustCompile(`^(body\.` + identPath + `|group\.[A-Za-z_]\w*|application\.[A-Za-z_]\w*|caller\.roleLevel|conversation\.sessionType|user\.connections)$`)
	eachRe     = regexp.MustCompile(`^body\.` + identPath + `\[\]$`)
	stateRe    = regexp.MustCompile(`\b(group|application)\.([A-Za-z_]\w*)`)
	convTextRe = regexp.MustCompile(`^[a-z_]*$`)
	placeRe    = regexp.MustCompile(`^(recipient|body\.` + identPath + `|result\.` + identPath + `|pair\((` + refRe + `),\s*(` + refRe + `)\))$`)
	refFindRe  = regexp.MustCompile(`\b(body|result)\.(` + identPath + `)`)
)

// checkWhen parses a when expression and returns the body/result paths it uses.
func checkWhen(expr string) error {
	for _, c := range strings.Split(expr, "&&") {
		m := condRe.FindStringSubmatch(c)
		if m == nil {
			return fmt.Errorf("condition %q: want <operand> (==|!=|in) <literal>", strings.TrimSpace(c))
		}
		if !operandRe.MatchString(m[1]) {
			return fmt.Errorf("operand %q is not in the vocabulary", m[1])
		}
		lits := []string{m[3]}
		if m[2] == "in" {
			if !strings.HasPrefix(m[3], "[") || !strings.HasSuffix(m[3], "]") {
				return fmt.Errorf("%q: in needs [literal, …]", c)
			}
			lits = strings.Split(strings.Trim(m[3], "[]"), ",")
		}
		for _, l := range lits {
			if !literalRe.MatchString(strings.TrimSpace(l)) {
				return fmt.Errorf("literal %q: want an integer, a \"string\", true or false", strings.TrimSpace(l))
			}
		}
	}
	return nil
}

func checkRecipient(r string) error {
	for _, re := range recipientRe {
		if re.MatchString(r) {
			return nil
		}
	}
	return fmt.Errorf("recipient %q is not in the vocabulary", r)
}

func checkConversation(tpl string) error {
	rest := tpl
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if !convTextRe.MatchString(rest) {
				return fmt.Errorf("conversation %q: literal text %q", tpl, rest)
			}
			break
		}
		if !convTextRe.MatchString(rest[:i]) {
			return fmt.Errorf("conversation %q: literal text %q", tpl, rest[:i])
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("conversation %q: unclosed {", tpl)
		}
		if p := rest[i+1 : i+j]; !placeRe.MatchString(p) {
			return fmt.Errorf("conversation %q: placeholder {%s} is not in the vocabulary", tpl, p)
		}
		rest = rest[i+j+1:]
	}
	if !strings.Contains(tpl, "{") {
		return fmt.Errorf("conversation %q has no placeholder", tpl)
	}
	return nil
}

// openapiIndex answers questions about ../openapi/openapi.yaml (operationIds, request and reply schemas).
type openapiIndex struct {
	doc obj
	ops map[string]obj // operationId → operation
}

func newOpenapiIndex(doc obj) *openapiIndex {
	x := &openapiIndex{doc: doc, ops: map[string]obj{}}
	paths := mapAt(doc, "paths")
	for _, p := range sortedKeys(paths) {
		item := mapAt(paths, p)
		for _, method := range sortedKeys(item) {
			if op, ok := item[method].(obj); ok {
				if id, ok := op["operationId"].(string); ok {
					x.ops[id] = op
				}
			}
		}
	}
	return x
}

// resolve follows $ref (inside the OpenAPI document) and merges allOf, returning the properties of an object schema.
func (x *openapiIndex) resolve(s any, depth int) obj {
	m, _ := s.(obj)
	if m == nil || depth > 20 {
		return nil
	}
	if ref, ok := m["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return x.resolve(path(x.doc, "components", "schemas", name), depth+1)
	}
	out := obj{}
	for _, key := range []string{"allOf", "oneOf", "anyOf"} {
		if parts, ok := m[key].([]any); ok {
			for _, p := range parts {
				for k, v := range mapAt(x.resolve(p, depth+1), "properties") {
					out[k] = v
				}
			}
		}
	}
	if items, ok := m["items"]; ok && m["properties"] == nil {
		return x.resolve(items, depth+1)
	}
	for k, v := range mapAt(m, "properties") {
		out[k] = v
	}
	return obj{"properties": out}
}

// hasPath reports whether a dotted path exists in schema s.
func (x *openapiIndex) hasPath(s any, dotted string) bool {
	for _, seg := range strings.Split(dotted, ".") {
		props := mapAt(x.resolve(s, 0), "properties")
		if props[seg] == nil {
			return false
		}
		s = props[seg]
	}
	return true
}

func (x *openapiIndex) requestSchema(op string) any {
	return path(x.ops[op], "requestBody", "content", "application/json", "schema")
}

func (x *openapiIndex) replyDataSchema(op string) any {
	s := path(x.ops[op], "responses", "200", "content", "application/json", "schema")
	return mapAt(x.resolve(s, 0), "properties")["data"]
}

func TestTriggers(t *testing.T) {
	f := load(t)
	var oa *openapiIndex
	operations := map[string]bool{"ws:connect": true, "ws:disconnect": true}
	if f.openapi != nil {
		oa = newOpenapiIndex(f.openapi)
		for id := range oa.ops {
			operations[id] = true
		}
	} else {
		for _, id := range conventionsOperationIDs {
			operations[id] = true
		}
	}
	ops := mapAt(f.doc, "operations")
	for _, name := range sortedKeys(ops) {
		if id, ok := intOf(path(ops, name, "x-req-identifier")); ok && path(ops, name, "action") == "receive" {
			operations["ws:"+strconv.Itoa(id)] = true
		}
	}

	msgs := mapAt(f.doc, "components", "messages")
	notifications := 0
	for _, k := range sortedKeys(msgs) {
		m := mapAt(msgs, k)
		where := "components.messages." + k
		rules, hasTrigger := m["x-trigger"].([]any)
		if m["x-tips"] != nil {
			notifications++
			if !hasTrigger || len(rules) == 0 {
				t.Errorf("%s: a notification without x-trigger rules", where)
				continue
			}
		}
		for i, r := range rules {
			rule, _ := r.(obj)
			w := fmt.Sprintf("%s.x-trigger[%d]", where, i)
			for key := range rule {
				switch key {
				case "operation", "when", "each", "recipients", "stored", "conversation", "description":
				default:
					t.Errorf("%s: unknown key %q", w, key)
				}
			}
			op, _ := rule["operation"].(string)
			if !operations[op] {
				t.Errorf("%s: operation %q is neither a REST operationId nor ws:<reqIdentifier>/ws:connect/ws:disconnect", w, op)
			}
			var refs []string
			if when, ok := rule["when"].(string); ok {
				if err := checkWhen(when); err != nil {
					t.Errorf("%s.when: %v", w, err)
				}
				refs = append(refs, when)
				checkStateFields(t, w, oa, when)
			}
			if each, ok := rule["each"]; ok {
				s, _ := each.(string)
				if !eachRe.MatchString(s) {
					t.Errorf("%s.each: %q, want body.<path>[]", w, each)
				}
				refs = append(refs, s)
			}
			recips, _ := rule["recipients"].([]any)
			if len(recips) == 0 {
				t.Errorf("%s: no recipients", w)
			}
			for _, r := range recips {
				s, _ := r.(string)
				if err := checkRecipient(s); err != nil {
					t.Errorf("%s.recipients: %v", w, err)
				}
				refs = append(refs, s)
			}
			stored, ok := rule["stored"].(bool)
			if !ok {
				t.Errorf("%s: stored must be true or false", w)
			}
			conv, hasConv := rule["conversation"].(string)
			switch {
			case stored && !hasConv:
				t.Errorf("%s: stored rules need a conversation", w)
			case !stored && hasConv:
				t.Errorf("%s: conversation given for a rule that is not stored", w)
			case hasConv:
				if err := checkConversation(conv); err != nil {
					t.Errorf("%s: %v", w, err)
				}
				refs = append(refs, conv)
			}
			checkRefsAgainstOpenAPI(t, w, oa, op, refs)
		}
	}
	if notifications != 27 {
		t.Errorf("found %d notification messages (with x-tips), want 27", notifications)
	}
}

// checkRefsAgainstOpenAPI checks that every body.<path> and result.<path> of a rule exists in the operation's
// request body or reply data (for ws:1003 in MsgData).
func checkRefsAgainstOpenAPI(t *testing.T, where string, oa *openapiIndex, op string, texts []string) {
	t.Helper()
	if oa == nil || op == "ws:connect" || op == "ws:disconnect" {
		return
	}
	for _, text := range texts {
		for _, m := range refFindRe.FindAllStringSubmatch(text, -1) {
			var schema any
			switch {
			case op == "ws:1003" && m[1] == "body":
				schema = obj{"$ref": "#/components/schemas/MsgData"}
			case strings.HasPrefix(op, "ws:"):
				continue
			case m[1] == "body":
				schema = oa.requestSchema(op)
			default:
				schema = oa.replyDataSchema(op)
			}
			if schema == nil {
				t.Errorf("%s: %s.%s: operation %s has no %s schema in openapi.yaml", where, m[1], m[2], op, m[1])
				continue
			}
			if !oa.hasPath(schema, m[2]) {
				t.Errorf("%s: %s.%s does not exist in the %s of %s in openapi.yaml", where, m[1], m[2], m[1], op)
			}
		}
	}
}

// checkStateFields checks that the group.<field> and application.<field> operands of a condition are fields of
// GroupInfo and GroupRequest in openapi.yaml.
func checkStateFields(t *testing.T, where string, oa *openapiIndex, when string) {
	t.Helper()
	if oa == nil {
		return
	}
	schema := map[string]string{"group": "GroupInfo", "application": "GroupRequest"}
	for _, m := range stateRe.FindAllStringSubmatch(when, -1) {
		s := obj{"$ref": "#/components/schemas/" + schema[m[1]]}
		if !oa.hasPath(s, m[2]) {
			t.Errorf("%s.when: %s.%s is not a field of %s in openapi.yaml", where, m[1], m[2], schema[m[1]])
		}
	}
}

// ---------------------------------------------------------------- examples against schemas

func examples(m obj) []obj {
	list, _ := m["examples"].([]any)
	out := make([]obj, 0, len(list))
	for _, e := range list {
		if x, ok := e.(obj); ok {
			out = append(out, x)
		}
	}
	return out
}

// toSchemaDoc converts a document for the JSON Schema compiler: OpenAPI 3.0's nullable and boolean
// exclusiveMinimum/Maximum become their JSON Schema forms.
func toSchemaDoc(v any) any {
	switch x := v.(type) {
	case obj:
		out := obj{}
		for k, e := range x {
			out[k] = toSchemaDoc(e)
		}
		for _, pair := range [][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
			if b, ok := out[pair[0]].(bool); ok {
				if b {
					out[pair[0]] = out[pair[1]]
					delete(out, pair[1])
				} else {
					delete(out, pair[0])
				}
			}
		}
		if out["nullable"] == true {
			delete(out, "nullable")
			if typ, ok := out["type"].(string); ok {
				out["type"] = []any{typ, "null"}
				if enum, ok := out["enum"].([]any); ok {
					out["enum"] = append(enum, nil)
				}
			} else {
				return obj{"anyOf": []any{obj{"type": "null"}, out}}
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toSchemaDoc(e)
		}
		return out
	}
	return v
}

// strictOwnSchemas makes this document's object schemas (not the mixins) refuse undeclared properties, so that a
// misspelt key in an example fails. The wire format stays tolerant; this is only for checking the examples.
func strictOwnSchemas(doc obj) {
	schemas := mapAt(doc, "components", "schemas")
	for _, k := range sortedKeys(schemas) {
		s := mapAt(schemas, k)
		if s["properties"] != nil && s["x-mixin"] != true && s["additionalProperties"] == nil {
			s["unevaluatedProperties"] = false
		}
	}
}

type validator struct {
	c       *jsonschema.Compiler
	base    string
	compErr map[string]error
}

func newValidator(t *testing.T, f fixture) *validator {
	t.Helper()
	abs, err := filepath.Abs("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := "file://" + filepath.ToSlash(abs)
	oaURL := "file://" + filepath.ToSlash(filepath.Join(filepath.Dir(filepath.Dir(abs)), "openapi", "openapi.yaml"))

	doc := normalize(t, f.doc).(map[string]any)
	strictOwnSchemas(doc)
	var oa any
	if f.openapi != nil {
		oa = toSchemaDoc(normalize(t, f.openapi))
	} else {
		// Without the OpenAPI document every shared schema accepts anything.
		stub := obj{}
		for _, name := range apiRefNames(Spec) {
			stub[name] = obj{}
		}
		oa = obj{"components": obj{"schemas": stub}}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	for url, d := range map[string]any{base: doc, oaURL: oa} {
		b, _ := json.Marshal(d)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(url, v); err != nil {
			t.Fatalf("add %s: %v", url, err)
		}
	}
	return &validator{c: c, base: base, compErr: map[string]error{}}
}

func apiRefNames(spec []byte) []string {
	re := regexp.MustCompile(regexp.QuoteMeta(apiRef) + `(\w+)`)
	seen := map[string]bool{}
	var out []string
	for _, m := range re.FindAllSubmatch(spec, -1) {
		if n := string(m[1]); !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func (v *validator) validate(t *testing.T, pointer string, instance any) error {
	t.Helper()
	sch, err := v.c.Compile(v.base + "#" + pointer)
	if err != nil {
		return fmt.Errorf("compile %s: %w", pointer, err)
	}
	b, _ := json.Marshal(instance)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func TestExamplesValidate(t *testing.T) {
	f := load(t)
	v := newValidator(t, f)

	tipsOf := map[int]string{} // contentType → Tips schema name
	msgs := mapAt(f.doc, "components", "messages")
	for _, k := range sortedKeys(msgs) {
		m := mapAt(msgs, k)
		if ct, ok := intOf(m["x-content-type"]); ok {
			if ref, ok := path(m, "x-tips", "$ref").(string); ok {
				tipsOf[ct] = strings.TrimPrefix(ref, localRef)
			}
		}
	}

	// Schema-level examples (the readable Tips and others).
	schemas := mapAt(f.doc, "components", "schemas")
	for _, name := range sortedKeys(schemas) {
		list, _ := path(schemas, name, "examples").([]any)
		for i, ex := range list {
			if err := v.validate(t, "/components/schemas/"+name, ex); err != nil {
				t.Errorf("components.schemas.%s.examples[%d]: %v", name, i, err)
			}
		}
	}
	for ct, name := range tipsOf {
		if list, _ := path(schemas, name, "examples").([]any); len(list) == 0 {
			t.Errorf("components.schemas.%s (Tips of %d) has no example", name, ct)
		}
	}

	conflicts := map[string]bool{}
	for _, c := range f.doc["x-seed-conflicts"].([]any) {
		conflicts[fmt.Sprint(path(c, "id"))] = true
	}

	for _, k := range sortedKeys(msgs) {
		m := mapAt(msgs, k)
		exs := examples(m)
		if len(exs) == 0 {
			t.Errorf("components.messages.%s: no examples", k)
		}
		reqID, _ := intOf(m["x-req-identifier"])
		seeds := seedExamples(m)
		for i, ex := range exs {
			where := fmt.Sprintf("components.messages.%s.examples[%d] (%v)", k, i, ex["name"])
			payload := normalize(t, ex["payload"])
			if c, ok := seeds[fmt.Sprint(ex["name"])]["seedConflict"].(string); ok {
				// A seed frame kept verbatim despite a decided conflict on its reqIdentifier: validate it as
				// if it carried the message's reqIdentifier.
				p, _ := payload.(map[string]any)
				if !conflicts[c] || p == nil || reqID == 0 {
					t.Errorf("%s: seedConflict %q needs a known conflict and a message x-req-identifier", where, c)
					continue
				}
				if got, _ := intOf(p["reqIdentifier"]); got == reqID {
					t.Errorf("%s: listed with a seedConflict but its reqIdentifier already is %d", where, reqID)
				}
				p["reqIdentifier"] = float64(reqID)
			}
			if err := v.validate(t, "/components/messages/"+k+"/payload", payload); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			if ct, ok := intOf(m["x-content-type"]); ok {
				if got, _ := intOf(path(payload, "data", "contentType")); got != ct {
					t.Errorf("%s: data.contentType %d, want %d", where, got, ct)
				}
				if name := tipsOf[ct]; name != "" {
					detail := checkNotificationContent(t, v, where+".data", path(payload, "data"), name)
					if detail != nil && !inExamples(t, detail, path(schemas, name, "examples")) {
						list, _ := path(schemas, name, "examples").([]any)
						want, _ := json.Marshal(map[string]string{"detail": mustJSON(list[0])})
						t.Errorf("%s: the Tips in content is not an example of %s; for its first example content would be %s", where, name, want)
					}
				}
			}
			// Any notification MsgData nested in the example (e.g. pulled messages) must carry valid Tips.
			walkMsgData(payload, func(at string, md map[string]any) {
				ct, _ := intOf(md["contentType"])
				if name := tipsOf[ct]; name != "" {
					checkNotificationContent(t, v, where+at, md, name)
				}
			}, "")
		}
	}
}

// checkNotificationContent decodes content → {"detail"} → Tips and validates the Tips; it returns the Tips.
func checkNotificationContent(t *testing.T, v *validator, where string, msgData any, tips string) any {
	t.Helper()
	content, ok := path(msgData, "content").(string)
	if !ok {
		t.Errorf("%s.content: want a string", where)
		return nil
	}
	var elem map[string]any
	if err := json.Unmarshal([]byte(content), &elem); err != nil {
		t.Errorf("%s.content is not JSON text: %v", where, err)
		return nil
	}
	detail, ok := elem["detail"].(string)
	if !ok || len(elem) != 1 {
		t.Errorf("%s.content: want exactly {\"detail\": \"<Tips JSON text>\"}", where)
		return nil
	}
	var tipsVal any
	if err := json.Unmarshal([]byte(detail), &tipsVal); err != nil {
		t.Errorf("%s.content: detail is not JSON text: %v", where, err)
		return nil
	}
	if err := v.validate(t, "/components/schemas/"+tips, tipsVal); err != nil {
		t.Errorf("%s.content: the Tips do not validate against %s: %v", where, tips, err)
	}
	return tipsVal
}

func walkMsgData(v any, fn func(at string, md map[string]any), at string) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["contentType"]; ok {
			if _, ok := x["content"].(string); ok {
				fn(at, x)
			}
		}
		for _, k := range sortedKeys(x) {
			walkMsgData(x[k], fn, at+"."+k)
		}
	case []any:
		for i, e := range x {
			walkMsgData(e, fn, fmt.Sprintf("%s[%d]", at, i))
		}
	}
}

func inExamples(t *testing.T, v any, list any) bool {
	t.Helper()
	l, _ := list.([]any)
	for _, e := range l {
		if reflect.DeepEqual(normalize(t, e), normalize(t, v)) {
			return true
		}
	}
	return false
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

// ---------------------------------------------------------------- seed frames

func TestSeedFramesStandVerbatim(t *testing.T) {
	frames := seed000Frames(t)
	f := load(t)
	docLines := trimmedLines(string(Spec))

	var fromSeed []any
	msgs := mapAt(f.doc, "components", "messages")
	for _, k := range sortedKeys(msgs) {
		m := mapAt(msgs, k)
		seeds := seedExamples(m)
		for _, ex := range examples(m) {
			if s, _ := seeds[fmt.Sprint(ex["name"])]["source"].(string); strings.HasPrefix(s, "seed 000") {
				fromSeed = append(fromSeed, normalize(t, ex["payload"]))
			}
		}
	}
	for i, frame := range frames {
		if !containsRun(docLines, trimmedLines(frame)) {
			t.Errorf("seed 000 frame %d: its lines do not stand verbatim (in order, one after another) in asyncapi.yaml", i)
		}
		var want any
		if err := json.Unmarshal([]byte(frame), &want); err != nil {
			t.Fatalf("seed 000 frame %d: %v", i, err)
		}
		found := false
		for _, got := range fromSeed {
			if reflect.DeepEqual(got, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("seed 000 frame %d: no message example listed in x-seed-examples with a seed 000 source equals it", i)
		}
	}
}

func trimmedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func containsRun(hay, needle []string) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		if reflect.DeepEqual(hay[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- generated code

func TestGeneratedCodeIsUpToDate(t *testing.T) {
	want, err := codegen.Generate(Spec, codegen.Options{})
	if err != nil {
		t.Fatalf("eventgen: %v", err)
	}
	got, err := os.ReadFile(genPath)
	if err != nil {
		t.Fatalf("%v (run `go generate ./gen/events`)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run `go generate ./gen/events` (or `make generate`)", genPath)
	}
}

// ---------------------------------------------------------------- README

const (
	tableBegin = "<!-- trigger-table:begin (generated from asyncapi.yaml; TestREADMETriggerTable prints it) -->"
	tableEnd   = "<!-- trigger-table:end -->"
)

// renderTriggerTable renders every x-trigger rule of the document as a Markdown table.
func renderTriggerTable(doc obj) string {
	var b strings.Builder
	b.WriteString("| # | message | operation | when | recipients | stored in |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	code := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + cell(s) + "`"
	}
	type row struct {
		ct   int
		i    int
		text string
	}
	var rows []row
	msgs := mapAt(doc, "components", "messages")
	for _, k := range sortedKeys(msgs) {
		m := mapAt(msgs, k)
		rules, _ := m["x-trigger"].([]any)
		ct, _ := intOf(m["x-content-type"])
		for i, r := range rules {
			rule, _ := r.(obj)
			num := "—"
			if ct != 0 {
				num = strconv.Itoa(ct)
			}
			when := code(fmt.Sprint(rule["when"]))
			if rule["when"] == nil {
				when = ""
			}
			if each, ok := rule["each"].(string); ok {
				when += " (one per `" + each + "`)"
			}
			var recips []string
			list, _ := rule["recipients"].([]any)
			for _, x := range list {
				recips = append(recips, code(fmt.Sprint(x)))
			}
			stored := "online only"
			if rule["stored"] == true {
				stored = code(fmt.Sprint(rule["conversation"]))
			}
			rows = append(rows, row{ct, i, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", num, cell(fmt.Sprint(m["name"])),
				code(fmt.Sprint(rule["operation"])), strings.TrimSpace(when), strings.Join(recips, ", "), stored)})
		}
	}
	sort.SliceStable(rows, func(a, c int) bool {
		if rows[a].ct != rows[c].ct {
			return rows[a].ct < rows[c].ct
		}
		return false
	})
	for _, r := range rows {
		b.WriteString(r.text)
	}
	return b.String()
}

func TestREADMETriggerTable(t *testing.T) {
	f := load(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i, j := strings.Index(text, tableBegin), strings.Index(text, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md: the trigger table markers are missing")
	}
	got := strings.TrimSpace(text[i+len(tableBegin) : j])
	want := strings.TrimSpace(renderTriggerTable(f.doc))
	if got != want {
		t.Errorf("README.md: the trigger table differs from asyncapi.yaml; replace it with:\n%s", want)
	}
}
