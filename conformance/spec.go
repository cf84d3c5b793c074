package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"

	"github.com/imspec/imserver/asyncapi"
	"github.com/imspec/imserver/openapi"
)

// Op is one REST operation of the OpenAPI document, as the suite uses it.
type Op struct {
	ID       string
	Tag      string
	Path     string // without the /api/v3 prefix, e.g. /auth/user_register
	Secured  bool   // needs a token (security is not empty)
	ErrCodes []int  // x-err-codes
	Required []string
	Examples []*Example
	// ActsAs are the body fields that name the acting user (x-acts-as; "f[]" for each element of an array):
	// a caller who is not an admin may name only itself there.
	ActsAs []string
	// Roles are the group-role rules of the operation (x-role-rules), nil when it has none.
	Roles *RoleRules
	// Limits are the limits of the request schema (maxLength, maxItems, maximum, minimum, pattern).
	Limits []Limit
	// Protobuf: the body is protobuf (the OpenIM SDK profile's /jssdk/ routes), not JSON; the suite does not
	// replay it (one skipped case says so).
	Protobuf bool

	respSchema *openapi3.SchemaRef
}

// RoleRules say which group roles may perform an operation (on whom): x-role-rules.
type RoleRules struct {
	Target  string   // body.<path>, body.<path>[] or sender(body.seq); "" when only the actor's role matters
	Targets []int    // the target roles that make sense (default 100, 60, 20)
	Allow   []string // "100>60" (an owner on an admin), "100" (an owner), "self" (anyone on itself)
}

// Example is a named request example and the response example of the same name.
type Example struct {
	Name    string
	Caller  string // x-caller ("" = no token)
	Body    any    // the request value (generic JSON)
	Resp    map[string]any
	ErrCode int
	Summary string
}

// Message is a message of the AsyncAPI document (a frame kind or a notification).
type Message struct {
	Key         string // components.messages key, e.g. friendAdded
	Name        string // its name, e.g. FriendAdded
	ContentType int    // x-content-type (0: none)
	Tips        string // the Tips schema name (x-tips), "" when none
	Rules       []Rule // x-trigger
	Examples    []NamedValue
}

// NamedValue is a named example payload.
type NamedValue struct {
	Name  string
	Value any
}

// Rule is one x-trigger rule (see asyncapi/README.md, "The trigger table").
type Rule struct {
	Index        int
	Operation    string
	When         string
	Each         string
	Recipients   []string
	Stored       bool
	Conversation string
}

// WSOp is an operation of the AsyncAPI document (a client request or a server push).
type WSOp struct {
	ID            string
	Action        string // receive (client → server) or send
	ReqIdentifier int
	ErrCodes      []int
	Messages      []string // keys of the messages it sends or receives
	Replies       []string // keys of its reply messages
}

// Suite is the conformance suite derived from a pair of specs.
type Suite struct {
	Ops      []*Op
	Tags     []string
	WSOps    []*WSOp
	Messages []*Message

	opByID  map[string]*Op
	msgByCT map[int]*Message

	profiles  map[string]map[string]any // user placeholder → profile, from the userRegister examples
	groups    map[string]bool           // group placeholders some example creates
	admins    map[string]bool           // the admin names the examples use as x-caller
	devSecret string                    // the secret the success examples send

	schemas map[string]*jsonschema.Schema // AsyncAPI pointer → compiled schema
	cases   []*caseDef
}

// Embedded loads the suite from the specs compiled into this binary (packages openapi and asyncapi).
func Embedded() (*Suite, error) { return Load(openapi.Spec, asyncapi.Spec) }

// Load derives the suite from an OpenAPI document and an AsyncAPI document (YAML or JSON).
func Load(openapiDoc, asyncapiDoc []byte) (*Suite, error) {
	s := &Suite{opByID: map[string]*Op{}, msgByCT: map[int]*Message{}, profiles: map[string]map[string]any{},
		groups: map[string]bool{}, admins: map[string]bool{}, schemas: map[string]*jsonschema.Schema{}}
	oaNode, oa, err := parseYAML(openapiDoc)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	aaNode, aa, err := parseYAML(asyncapiDoc)
	if err != nil {
		return nil, fmt.Errorf("asyncapi: %w", err)
	}
	kin, err := openapi3.NewLoader().LoadFromData(openapiDoc)
	if err != nil {
		return nil, fmt.Errorf("openapi: kin-openapi: %w", err)
	}
	if err := s.loadOps(oaNode, oa, kin); err != nil {
		return nil, err
	}
	if err := s.loadAsync(aaNode, aa); err != nil {
		return nil, err
	}
	if err := s.compileSchemas(oa, aa); err != nil {
		return nil, err
	}
	s.derivePlaceholders()
	s.plan()
	return s, nil
}

func (s *Suite) loadOps(node *yaml.Node, doc map[string]any, kin *openapi3.T) error {
	paths := obj(doc["paths"])
	for _, p := range orderedKeys(node, "paths") {
		post := obj(obj(paths[p])["post"])
		if post == nil {
			continue
		}
		op := &Op{ID: str(post["operationId"]), Path: p}
		if tags, _ := post["tags"].([]any); len(tags) > 0 {
			op.Tag = str(tags[0])
		}
		sec, present := post["security"].([]any)
		op.Secured = !present || len(sec) > 0
		if !present {
			if glob, ok := doc["security"].([]any); ok {
				op.Secured = len(glob) > 0
			}
		}
		for _, c := range list(post["x-err-codes"]) {
			op.ErrCodes = append(op.ErrCodes, num(c))
		}
		for _, f := range list(post["x-acts-as"]) {
			op.ActsAs = append(op.ActsAs, str(f))
		}
		if rr := obj(post["x-role-rules"]); rr != nil {
			op.Roles = &RoleRules{Target: str(rr["target"])}
			for _, r := range list(rr["targets"]) {
				op.Roles.Targets = append(op.Roles.Targets, num(r))
			}
			for _, a := range list(rr["allow"]) {
				op.Roles.Allow = append(op.Roles.Allow, str(a))
			}
		}
		mt := obj(obj(obj(post["requestBody"])["content"])["application/json"])
		op.Protobuf = mt == nil && obj(obj(obj(post["requestBody"])["content"])["application/x-protobuf"]) != nil
		if ref := str(obj(mt["schema"])["$ref"]); ref != "" {
			for _, r := range list(resolve(doc, ref)["required"]) {
				op.Required = append(op.Required, str(r))
			}
		}
		op.Limits = collectLimits(doc, obj(mt["schema"]), "", map[string]bool{})
		respMT := obj(obj(obj(obj(obj(post["responses"])["200"])["content"]))["application/json"])
		reqEx, respEx := obj(mt["examples"]), obj(respMT["examples"])
		for _, name := range orderedKeys(node, "paths", p, "post", "requestBody", "content", "application/json", "examples") {
			rq := obj(reqEx[name])
			rs := obj(obj(respEx[name])["value"])
			ex := &Example{Name: name, Caller: str(rq["x-caller"]), Body: rq["value"], Resp: rs, ErrCode: num(rs["errCode"]),
				Summary: str(rq["summary"])}
			if rs == nil {
				return fmt.Errorf("openapi: %s: request example %q has no response example of the same name", op.ID, name)
			}
			op.Examples = append(op.Examples, ex)
		}
		if kp := kin.Paths.Find(p); kp != nil && kp.Post != nil {
			if r := kp.Post.Responses.Status(200); r != nil && r.Value != nil {
				if c := r.Value.Content.Get("application/json"); c != nil {
					op.respSchema = c.Schema
				}
			}
		}
		if op.ID == "" || op.respSchema == nil {
			return fmt.Errorf("openapi: POST %s: no operationId or no 200 application/json response schema", p)
		}
		if op.Tag == "" {
			op.Tag = "untagged"
		}
		if !slices.Contains(s.Tags, op.Tag) {
			s.Tags = append(s.Tags, op.Tag)
		}
		s.Ops = append(s.Ops, op)
		s.opByID[op.ID] = op
	}
	if len(s.Ops) == 0 {
		return errors.New("openapi: no operations")
	}
	return nil
}

func (s *Suite) loadAsync(node *yaml.Node, doc map[string]any) error {
	ops := obj(doc["operations"])
	for _, id := range orderedKeys(node, "operations") {
		o := obj(ops[id])
		w := &WSOp{ID: id, Action: str(o["action"]), ReqIdentifier: num(o["x-req-identifier"])}
		for _, c := range list(o["x-err-codes"]) {
			w.ErrCodes = append(w.ErrCodes, num(c))
		}
		for _, m := range list(o["messages"]) {
			w.Messages = append(w.Messages, lastSegment(str(obj(m)["$ref"])))
		}
		for _, m := range list(obj(o["reply"])["messages"]) {
			w.Replies = append(w.Replies, lastSegment(str(obj(m)["$ref"])))
		}
		s.WSOps = append(s.WSOps, w)
	}
	msgs := obj(obj(doc["components"])["messages"])
	for _, key := range orderedKeys(node, "components", "messages") {
		m := obj(msgs[key])
		msg := &Message{Key: key, Name: str(m["name"]), ContentType: num(m["x-content-type"])}
		if msg.Name == "" {
			msg.Name = key
		}
		if ref := str(obj(m["x-tips"])["$ref"]); ref != "" {
			msg.Tips = ref[strings.LastIndex(ref, "/")+1:]
		}
		for i, r := range list(m["x-trigger"]) {
			ro := obj(r)
			rule := Rule{Index: i, Operation: str(ro["operation"]), When: str(ro["when"]), Each: str(ro["each"]),
				Stored: ro["stored"] == true, Conversation: str(ro["conversation"])}
			for _, rc := range list(ro["recipients"]) {
				rule.Recipients = append(rule.Recipients, str(rc))
			}
			if rule.Operation == "" || len(rule.Recipients) == 0 {
				return fmt.Errorf("asyncapi: message %s x-trigger[%d]: needs operation and recipients", key, i)
			}
			if _, err := parseWhen(rule.When); err != nil {
				return fmt.Errorf("asyncapi: message %s x-trigger[%d]: %w", key, i, err)
			}
			msg.Rules = append(msg.Rules, rule)
		}
		for _, e := range list(m["examples"]) {
			eo := obj(e)
			msg.Examples = append(msg.Examples, NamedValue{Name: str(eo["name"]), Value: eo["payload"]})
		}
		s.Messages = append(s.Messages, msg)
		if msg.ContentType != 0 {
			s.msgByCT[msg.ContentType] = msg
		}
	}
	return nil
}

// The AsyncAPI document refers to the OpenAPI schemas as ../openapi/openapi.yaml#/components/schemas/X; the two
// documents are added to the JSON Schema compiler at these URLs so that those references resolve.
const (
	asyncURL   = "file:///imconform/asyncapi/asyncapi.yaml"
	openapiURL = "file:///imconform/openapi/openapi.yaml"
)

func (s *Suite) compileSchemas(oa, aa map[string]any) error {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	for url, d := range map[string]any{asyncURL: aa, openapiURL: toSchemaDoc(oa)} {
		b, _ := json.Marshal(d)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return err
		}
		if err := c.AddResource(url, v); err != nil {
			return fmt.Errorf("asyncapi: %w", err)
		}
	}
	var ptrs []string
	for _, m := range s.Messages {
		ptrs = append(ptrs, "/components/messages/"+m.Key+"/payload")
	}
	for name := range obj(obj(aa["components"])["schemas"]) {
		ptrs = append(ptrs, "/components/schemas/"+name)
	}
	for _, p := range ptrs {
		sch, err := c.Compile(asyncURL + "#" + p)
		if err != nil {
			return fmt.Errorf("asyncapi: compiling %s: %w", p, err)
		}
		s.schemas[p] = sch
	}
	return nil
}

// validateAsync validates v against the AsyncAPI schema at pointer (e.g. /components/schemas/NotificationElem).
func (s *Suite) validateAsync(pointer string, v any) error {
	sch := s.schemas[pointer]
	if sch == nil {
		return fmt.Errorf("no schema at %s", pointer)
	}
	b, _ := json.Marshal(v)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return errors.New(schemaErrors(err))
	}
	return nil
}

var printer = message.NewPrinter(language.English)

// schemaErrors renders a validation error as its leaf errors, each with the JSON path of the value at fault:
// "data.offlinePushInfo: got null, want object".
func schemaErrors(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var out []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, jsonPath(e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(printer))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	out = slices.Compact(out)
	return strings.Join(out, "; ")
}

// kinErrors renders a kin-openapi validation error with the JSON path of the value at fault.
func kinErrors(err error) string {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		var out []string
		for _, e := range me {
			out = append(out, kinErrors(e))
		}
		return strings.Join(out, "; ")
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return jsonPath(se.JSONPointer()) + ": " + se.Reason
	}
	return err.Error()
}

// jsonPath renders a JSON pointer's tokens as a.b[0].c ("(root)" when empty).
func jsonPath(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	if b.Len() == 0 {
		return "(root)"
	}
	return b.String()
}

var placeholderRE = regexp.MustCompile(`(?:user|group)\d+`)

// derivePlaceholders reads from the examples what the placeholder IDs are: a user placeholder is registered with
// the profile a userRegister example gives it (one that none gives, user999, is never registered); a group
// placeholder is created when a createGroup example names it as groupInfo.groupID (group999 never is); the admin
// is the x-caller that is no placeholder; the development secret is the one the success examples send.
func (s *Suite) derivePlaceholders() {
	for _, op := range s.Ops {
		for _, ex := range op.Examples {
			body := obj(ex.Body)
			if ex.Caller != "" && !placeholderRE.MatchString(ex.Caller) {
				s.admins[ex.Caller] = true
			}
			if sec := str(body["secret"]); sec != "" && ex.ErrCode == 0 && s.devSecret == "" {
				s.devSecret = sec
			}
			for _, u := range list(body["users"]) {
				uo := obj(u)
				if id := str(uo["userID"]); placeholderRE.MatchString(id) && s.profiles[id] == nil && uo["nickname"] != nil {
					s.profiles[id] = uo
				}
			}
			if g := str(obj(body["groupInfo"])["groupID"]); placeholderRE.MatchString(g) {
				s.groups[g] = true
			}
		}
	}
}

// ---------------------------------------------------------------- generic JSON helpers

func parseYAML(b []byte) (*yaml.Node, map[string]any, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, nil, err
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, nil, err
	}
	m, ok := jsonify(v).(map[string]any)
	if !ok {
		return nil, nil, errors.New("the document is not a mapping")
	}
	return &n, m, nil
}

// jsonify turns a YAML value into the generic JSON form (string keys, float64 numbers).
func jsonify(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonify(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
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
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return v
}

// orderedKeys returns the keys of the mapping at path, in document order.
func orderedKeys(n *yaml.Node, path ...string) []string {
	cur := n
	if cur.Kind == yaml.DocumentNode && len(cur.Content) > 0 {
		cur = cur.Content[0]
	}
	for _, p := range path {
		cur = mapValue(cur, p)
		if cur == nil {
			return nil
		}
	}
	for cur.Kind == yaml.AliasNode {
		cur = cur.Alias
	}
	var out []string
	if cur.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(cur.Content); i += 2 {
			out = append(out, cur.Content[i].Value)
		}
	}
	return out
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func resolve(doc map[string]any, ref string) map[string]any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = doc
	for _, p := range strings.Split(ref[2:], "/") {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		cur = obj(cur)[p]
	}
	return obj(cur)
}

// toSchemaDoc converts OpenAPI 3.0 schemas for a JSON Schema 2020-12 validator: nullable and the boolean
// exclusiveMinimum/exclusiveMaximum become their JSON Schema forms.
func toSchemaDoc(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
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
				return map[string]any{"anyOf": []any{map[string]any{"type": "null"}, out}}
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

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

func num(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

func lastSegment(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// wsOpFor returns the AsyncAPI receive operation of a reqIdentifier.
func (s *Suite) wsOpFor(reqIdentifier int) *WSOp {
	for _, w := range s.WSOps {
		if w.Action == "receive" && w.ReqIdentifier == reqIdentifier {
			return w
		}
	}
	return nil
}

// message returns the message of a key.
func (s *Suite) message(key string) *Message {
	for _, m := range s.Messages {
		if m.Key == key {
			return m
		}
	}
	return nil
}

// clone deep-copies a generic JSON value.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = clone(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	}
	return v
}

// lookup returns the value at a dotted path ("userInfo.userID") of a generic JSON value.
func lookup(v any, path string) (any, bool) {
	cur := v
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setPath sets the value at a dotted path, creating objects on the way.
func setPath(v map[string]any, path string, val any) {
	parts := strings.Split(path, ".")
	cur := v
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = val
}

// EmbeddedSpecs returns the specs compiled into this binary: the OpenAPI and the AsyncAPI document.
func EmbeddedSpecs() (openapiDoc, asyncapiDoc []byte) { return openapi.Spec, asyncapi.Spec }
