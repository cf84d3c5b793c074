package openapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

// operationIDs is the list of docs/CONVENTIONS.md, in its order.
var operationIDs = []string{
	"userRegister", "userToken", "getUsersInfo", "updateUserInfo", "addFriend", "addFriendResponse", "deleteFriend",
	"getFriendList", "setFriendRemark", "addBlack", "removeBlack", "getBlackList", "getFriendApplyList",
	"getSelfFriendApplyList", "createGroup", "getGroupsInfo", "inviteUserToGroup", "joinGroup", "quitGroup", "kickGroup",
	"groupApplicationResponse", "setGroupInfo", "transferGroup", "dismissGroup", "muteGroupMember",
	"cancelMuteGroupMember", "muteGroup", "cancelMuteGroup", "getGroupMemberList", "getJoinedGroupList",
	"getGroupApplicationList", "sendMsg", "getConversationMsg", "revokeMsg", "markMsgsAsRead", "getAllConversations",
	"getConversations", "setConversations", "getUsersOnlineStatus", "forbidUser", "unforbidUser", "getOnlineUsers", "getServerConfig",
	"getIncrementalFriends", "getFullFriendUserIDs", "getDesignatedFriends", "getDesignatedFriendApply",
	"getIncrementalJoinGroups", "getFullJoinGroupIDs", "getIncrementalGroupMembersBatch", "getIncrementalConversations",
	"getNotNotifyConversationIDs", "markConversationAsRead", "getGroupMembersInfo", "getFullGroupMemberUserIDs", "getSpecifiedBlacks",
	"getSpecifiedUserGroupRequestInfo", "isFriend", "getConversationsHasReadAndMaxSeq", "getActiveConversations",
	"getJssdkConversations",
}

// unauthenticated operations take the shared secret instead of a token.
var unauthenticated = map[string]bool{"userRegister": true, "userToken": true}

// sharedSchemas are referenced by name from asyncapi/asyncapi.yaml.
var sharedSchemas = []string{
	"UserInfo", "PublicUserInfo", "FriendInfo", "BlackInfo", "FriendRequest", "GroupInfo", "GroupMemberFullInfo",
	"GroupRequest", "MsgData", "OfflinePushInfo", "Conversation", "RequestPagination", "ErrCode", "Empty",
}

// errCodes is the error-code table of docs/CONVENTIONS.md: code, Go name, description.
var errCodes = []struct {
	code int
	name string
	desc string
}{
	{0, "Success", ""},
	{429, "TooManyRequests", "a rate limit or the bound on unauthenticated requests was reached; errDlt is retryAfterMs=<n>"},
	{500, "InternalError", "the server failed; retry later; details are in the server log under the operationID"},
	{503, "StorageUnavailable", "the database is unreachable, failing or full; nothing was changed; retry later (a send with the same clientMsgID)"},
	{504, "SendOutcomeUnknown", "storing the message timed out and it may have been stored; retry with the same clientMsgID (stored at most once, pushed once)"},
	{1001, "ArgsError", "malformed body or a field fails validation; errMsg names the field"},
	{1002, "TokenInvalid", "missing, malformed, forged, expired, replaced (kicked) token, or the user is forbidden"},
	{1003, "NoPermission", "acting for another user without being admin, wrong secret, not owner/admin"},
	{1004, "UserNotFound", "a named userID is not registered"},
	{1005, "GroupNotFound", "a named groupID does not exist"},
	{1006, "RecordNotFound", "a message, application or conversation named in the request does not exist"},
	{1007, "Duplicate", "the thing already exists (userID registered, groupID taken, already blacklisted)"},
	{1008, "UserForbidden", "the user is forbidden; no token is issued until unforbid_user"},
	{1009, "NotImplemented", "the operation is in the spec but this server does not implement it yet"},
	{1101, "AlreadyFriends", ""},
	{1102, "NotFriends", ""},
	{1103, "BlockedByPeer", "the peer has blacklisted the caller"},
	{1104, "ApplicationHandled", "the friend/group application was already answered"},
	{1105, "ApplicationPending", "a pending application from the same applicant exists"},
	{1201, "NotGroupMember", ""},
	{1202, "GroupDismissed", ""},
	{1203, "MemberMuted", "the caller is muted in this group until muteEndTime"},
	{1204, "GroupMuted", "the whole group is muted; only owner and admins may speak"},
	{1205, "OwnerCannotQuit", "the owner must transfer the group first"},
	{1206, "AlreadyInGroup", ""},
	{1207, "GroupLimitReached", "the change would take a group over the server's member limit, or a user over its groups-per-user limit; errMsg names the limit"},
	{1301, "MsgAlreadyRevoked", ""},
	{1501, "SDKTokenExpired", "OpenIM SDK profile only: the connect ack of an expired token (the SDK fires OnUserTokenExpired); get a new token from /auth/user_token"},
	{1502, "SDKTokenInvalid", "OpenIM SDK profile only: the connect ack of a token refused for another reason, e.g. the user is forbidden (the SDK fires OnUserTokenInvalid)"},
	{1503, "SDKTokenMalformed", "OpenIM SDK profile only: the connect ack of a token that is not one of this server (malformed, forged, another key)"},
	{1506, "SDKTokenKicked", "OpenIM SDK profile only: the connect ack of a token a newer login on the same platform replaced (the SDK fires OnKickedOffline); log in again"},
	{1507, "SDKTokenNotExist", "OpenIM SDK profile only: the connect ack of a token retired because its user was deleted or forbidden, or of no token; get a new token"},
}

var tags = map[string]bool{"auth": true, "user": true, "friend": true, "group": true, "msg": true,
	"conversation": true, "manager": true, "jssdk": true}

var errExampleName = regexp.MustCompile(`^err([0-9]+)-[A-Za-z0-9]+$`)

// operation is one operation of the document with what the tests need.
type operation struct {
	path string
	op   *openapi3.Operation
}

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromData(Spec)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	return doc
}

func operations(t *testing.T, doc *openapi3.T) map[string]operation {
	t.Helper()
	ops := map[string]operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method != "POST" {
				t.Errorf("%s %s: every operation must be POST", method, path)
			}
			if _, dup := ops[op.OperationID]; dup {
				t.Errorf("operationId %q is used twice", op.OperationID)
			}
			ops[op.OperationID] = operation{path: path, op: op}
		}
	}
	return ops
}

// upperFirst turns an operationId into the schema-name stem (userToken -> UserToken).
func upperFirst(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func jsonExamples(t *testing.T, where string, content openapi3.Content) (*openapi3.SchemaRef, openapi3.Examples) {
	t.Helper()
	mt := content.Get("application/json")
	if mt == nil {
		t.Fatalf("%s: no application/json content", where)
	}
	return mt.Schema, mt.Examples
}

func requestOf(t *testing.T, o operation) (*openapi3.SchemaRef, openapi3.Examples) {
	t.Helper()
	if o.op.RequestBody == nil || o.op.RequestBody.Value == nil {
		t.Fatalf("%s: no request body", o.op.OperationID)
	}
	if !o.op.RequestBody.Value.Required {
		t.Errorf("%s: request body must be required", o.op.OperationID)
	}
	c := o.op.RequestBody.Value.Content
	if mt := c.Get("application/x-protobuf"); mt != nil && o.op.Tags[0] == "jssdk" {
		// The SDK profile's protobuf routes (docs/CONVENTIONS.md): a binary body, its examples raw bytes.
		return mt.Schema, mt.Examples
	}
	return jsonExamples(t, o.op.OperationID+" request", c)
}

func responseOf(t *testing.T, o operation) (*openapi3.SchemaRef, openapi3.Examples) {
	t.Helper()
	r := o.op.Responses.Value("200")
	if r == nil || r.Value == nil {
		t.Fatalf("%s: no 200 response", o.op.OperationID)
	}
	if n := o.op.Responses.Len(); n != 1 {
		t.Errorf("%s: %d responses, want only 200", o.op.OperationID, n)
	}
	return jsonExamples(t, o.op.OperationID+" response", r.Value.Content)
}

// normalize round-trips v through JSON so that numbers of every origin compare equal.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return out
}

func errCodeSet() map[int]bool {
	m := map[int]bool{}
	for _, e := range errCodes {
		m[e.code] = true
	}
	return m
}

// intList reads an extension such as x-err-codes as a list of ints.
func intList(v any) ([]int, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out []int
	err = json.Unmarshal(raw, &out)
	return out, err
}

func TestDocumentValidates(t *testing.T) {
	doc := loadDoc(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v3" {
		t.Errorf("servers must be exactly [{url: /api/v3}]")
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("validate (with examples): %v", err)
	}
}

// TestExamplesMatchSchemas walks every named example explicitly, requests as requests and responses as responses.
func TestExamplesMatchSchemas(t *testing.T) {
	doc := loadDoc(t)
	for id, o := range operations(t, doc) {
		reqSchema, reqEx := requestOf(t, o)
		respSchema, respEx := responseOf(t, o)
		for name, ex := range reqEx {
			if err := reqSchema.Value.VisitJSON(normalize(t, ex.Value.Value), openapi3.VisitAsRequest(), openapi3.MultiErrors()); err != nil {
				t.Errorf("%s request example %q: %v", id, name, err)
			}
		}
		for name, ex := range respEx {
			if err := respSchema.Value.VisitJSON(normalize(t, ex.Value.Value), openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
				t.Errorf("%s response example %q: %v", id, name, err)
			}
		}
	}
}

func TestOperationsFollowConventions(t *testing.T) {
	doc := loadDoc(t)
	ops := operations(t, doc)
	for _, id := range operationIDs {
		if _, ok := ops[id]; !ok {
			t.Errorf("operationId %q of CONVENTIONS.md is missing", id)
		}
	}
	if len(ops) != len(operationIDs) {
		t.Errorf("%d operations, CONVENTIONS.md lists %d", len(ops), len(operationIDs))
	}
	for id, o := range ops {
		stem := upperFirst(id)
		if len(o.op.Tags) != 1 || !tags[o.op.Tags[0]] {
			t.Errorf("%s: tags %v, want one of the CONVENTIONS tags", id, o.op.Tags)
		} else if want := strings.Split(o.path, "/")[1]; o.op.Tags[0] != want {
			t.Errorf("%s: tag %q, want %q (the path's group)", id, o.op.Tags[0], want)
		}
		if o.op.Summary == "" || o.op.Description == "" {
			t.Errorf("%s: needs a summary and a description", id)
		}
		if !strings.Contains(o.op.Description, "**Notifications:**") || !strings.Contains(o.op.Description, "**Caller:**") {
			t.Errorf("%s: the description must say who may call it and which notifications it triggers", id)
		}
		// Security.
		if o.op.Security == nil {
			t.Errorf("%s: security must be set on the operation", id)
		} else if unauthenticated[id] {
			if len(*o.op.Security) != 0 {
				t.Errorf("%s: security must be []", id)
			}
		} else {
			var got []string
			for _, req := range *o.op.Security {
				for name := range req {
					got = append(got, name)
				}
			}
			if !slices.Equal(got, []string{"token", "bearer"}) {
				t.Errorf("%s: security %v, want [{token: []}, {bearer: []}]", id, got)
			}
		}
		// The operationID header.
		hasOpID := false
		for _, p := range o.op.Parameters {
			if p.Ref == "#/components/parameters/OperationID" && p.Value.In == "header" && p.Value.Name == "operationID" && !p.Value.Required {
				hasOpID = true
			}
		}
		if !hasOpID {
			t.Errorf("%s: needs the shared optional operationID header parameter", id)
		}
		// Schema names.
		reqSchema, _ := requestOf(t, o)
		if want := "#/components/schemas/" + stem + "Req"; reqSchema.Ref != want {
			t.Errorf("%s: request schema %q, want %q", id, reqSchema.Ref, want)
		}
		respSchema, _ := responseOf(t, o)
		if want := "#/components/schemas/" + stem + "Resp"; respSchema.Ref != want {
			t.Errorf("%s: response schema %q, want %q", id, respSchema.Ref, want)
			continue
		}
		env := respSchema.Value
		if !slices.Equal(env.Required, []string{"errCode", "errMsg"}) {
			t.Errorf("%s: envelope required %v, want [errCode errMsg]", id, env.Required)
		}
		for _, k := range []string{"errCode", "errMsg", "errDlt", "data"} {
			if env.Properties[k] == nil {
				t.Errorf("%s: envelope lacks %q", id, k)
			}
		}
		if c := env.Properties["errCode"]; c != nil && c.Ref != "#/components/schemas/ErrCode" {
			t.Errorf("%s: errCode must be the ErrCode integer enum, got %q", id, c.Ref)
		}
		if d := env.Properties["data"]; d != nil {
			if d.Ref != "#/components/schemas/"+stem+"Data" && d.Ref != "#/components/schemas/Empty" {
				t.Errorf("%s: data is %q, want %sData or Empty", id, d.Ref, stem)
			}
		}
	}
	for name := range doc.Components.Schemas {
		if strings.HasSuffix(name, "Response") {
			t.Errorf("schema %q: never name a schema *Response (oapi-codegen's client uses that suffix)", name)
		}
	}
	for _, name := range sharedSchemas {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("shared schema %q is missing", name)
		}
	}
}

func TestErrCodes(t *testing.T) {
	doc := loadDoc(t)
	s := doc.Components.Schemas["ErrCode"]
	if s == nil {
		t.Fatal("schema ErrCode is missing")
	}
	var names, descs []string
	for k, dst := range map[string]*[]string{"x-enum-varnames": &names, "x-enum-descriptions": &descs} {
		raw, _ := json.Marshal(s.Value.Extensions[k])
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("ErrCode %s: %v", k, err)
		}
	}
	enum, err := intList(s.Value.Enum)
	if err != nil {
		t.Fatalf("ErrCode enum: %v", err)
	}
	if len(enum) != len(errCodes) || len(names) != len(errCodes) || len(descs) != len(errCodes) {
		t.Fatalf("ErrCode has %d values, %d varnames, %d descriptions; the table has %d rows",
			len(enum), len(names), len(descs), len(errCodes))
	}
	for i, e := range errCodes {
		if enum[i] != e.code || names[i] != e.name || descs[i] != e.desc {
			t.Errorf("ErrCode row %d = (%d, %q, %q), want (%d, %q, %q)", i, enum[i], names[i], descs[i], e.code, e.name, e.desc)
		}
	}

	known := errCodeSet()
	for id, o := range operations(t, doc) {
		v, ok := o.op.Extensions["x-err-codes"]
		if !ok {
			t.Errorf("%s: no x-err-codes", id)
			continue
		}
		codes, err := intList(v)
		if err != nil {
			t.Errorf("%s: x-err-codes: %v", id, err)
			continue
		}
		seen := map[int]bool{}
		for _, c := range codes {
			if !known[c] || c == 0 {
				t.Errorf("%s: x-err-codes has %d, not an error code of ErrCode", id, c)
			}
			if seen[c] {
				t.Errorf("%s: x-err-codes lists %d twice", id, c)
			}
			seen[c] = true
		}
		must := []int{1001, 500}
		if !unauthenticated[id] {
			must = append(must, 1002)
		}
		for _, c := range must {
			if !seen[c] {
				t.Errorf("%s: x-err-codes must contain %d", id, c)
			}
		}
	}
}

func TestExampleConventions(t *testing.T) {
	doc := loadDoc(t)
	for id, o := range operations(t, doc) {
		_, reqEx := requestOf(t, o)
		_, respEx := responseOf(t, o)
		if len(reqEx) == 0 || len(respEx) == 0 {
			t.Errorf("%s: needs at least one request and one response example", id)
		}
		reqNames := sortedKeys(reqEx)
		if respNames := sortedKeys(respEx); !slices.Equal(reqNames, respNames) {
			t.Errorf("%s: request examples %v and response examples %v must pair up by name", id, reqNames, respNames)
		}
		codes, _ := intList(o.op.Extensions["x-err-codes"])
		success := 0
		for _, name := range reqNames {
			req, resp := reqEx[name], respEx[name]
			if resp == nil {
				continue
			}
			caller, hasCaller := req.Value.Extensions["x-caller"]
			switch {
			case unauthenticated[id] && hasCaller:
				t.Errorf("%s %q: x-caller makes no sense for a call without token", id, name)
			case !unauthenticated[id] && !hasCaller:
				t.Errorf("%s %q: request example needs x-caller", id, name)
			case hasCaller:
				if _, ok := caller.(string); !ok {
					t.Errorf("%s %q: x-caller must be a string, got %T", id, name, caller)
				}
			}
			body, ok := normalize(t, resp.Value.Value).(map[string]any)
			if !ok {
				t.Errorf("%s %q: response example is not an object", id, name)
				continue
			}
			code, _ := body["errCode"].(float64)
			msg, _ := body["errMsg"].(string)
			if m := errExampleName.FindStringSubmatch(name); m != nil {
				want, _ := strconv.Atoi(m[1])
				if int(code) != want {
					t.Errorf("%s %q: errCode %v, want %d (from the name)", id, name, code, want)
				}
				if !slices.Contains(codes, want) {
					t.Errorf("%s %q: errCode %d is not in x-err-codes %v", id, name, want, codes)
				}
				if msg == "" || msg == "success" {
					t.Errorf("%s %q: an error needs an errMsg a person can act on", id, name)
				}
				if _, has := body["data"]; has {
					t.Errorf("%s %q: error replies carry no data", id, name)
				}
			} else {
				success++
				if code != 0 {
					t.Errorf("%s %q: a success example (not named err<code>-...) must have errCode 0, got %v", id, name, code)
				}
				if _, has := body["data"]; !has {
					t.Errorf("%s %q: success replies carry data", id, name)
				}
			}
			if strings.HasPrefix(name, "err") && !errExampleName.MatchString(name) {
				t.Errorf("%s %q: error examples are named err<code>-<slug>", id, name)
			}
			if name != "seed" {
				for kind, ex := range map[string]*openapi3.ExampleRef{"request": req, "response": resp} {
					if ex.Value.Extensions["x-designed"] != true {
						t.Errorf("%s %s example %q: designed examples carry x-designed: true", id, kind, name)
					}
				}
			} else if req.Value.Extensions["x-designed"] != nil {
				t.Errorf("%s: the seed request example is transcribed and must not be x-designed", id)
			}
		}
		if success == 0 {
			t.Errorf("%s: needs at least one success example", id)
		}
	}
}

func TestSeedConflicts(t *testing.T) {
	doc := loadDoc(t)
	raw, _ := json.Marshal(doc.Extensions["x-seed-conflicts"])
	var items []map[string]any
	if err := json.Unmarshal(raw, &items); err != nil {
		t.Fatalf("x-seed-conflicts: %v", err)
	}
	if len(items) < 7 {
		t.Errorf("x-seed-conflicts has %d items; docs/decisions.md decides 7 conflicts (D1-D7)", len(items))
	}
	for i, it := range items {
		for _, k := range []string{"topic", "seed000", "seed003", "decision"} {
			if s, _ := it[k].(string); s == "" {
				t.Errorf("x-seed-conflicts[%d]: %q must be a non-empty string", i, k)
			}
		}
	}
}

// seedBlock is one ```json block of seed 000 that belongs to a REST call.
type seedBlock struct {
	path string // "" for the generic envelope of "通用响应格式"
	kind string // "request" or "response"
	line int
	text string
}

// findSeed walks up from the working directory to a folder holding shared/seeds.
func findSeed(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "seeds", "000_114e78661aa77900.txt")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("seed 000 not found: no shared/seeds/000_114e78661aa77900.txt in any parent of the working directory")
		}
		dir = parent
	}
}

var apiPath = regexp.MustCompile("\\*\\*接口地址\\*\\*: `POST ([^`]+)`")

func seedBlocks(t *testing.T) []seedBlock {
	t.Helper()
	f, err := os.Open(findSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks     []seedBlock
		path, kind string
		in         bool
		buf        strings.Builder
		start, n   int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case in && strings.HasPrefix(line, "```"):
			in = false
			text := buf.String()
			var top map[string]any
			if err := json.Unmarshal([]byte(text), &top); err != nil {
				t.Fatalf("seed 000 line %d: json block does not parse: %v", start, err)
			}
			if _, ws := top["reqIdentifier"]; ws {
				continue // a WebSocket frame, described by the AsyncAPI document
			}
			k := kind
			if path == "" {
				k = "response" // the generic envelope under 通用响应格式
			}
			blocks = append(blocks, seedBlock{path: path, kind: k, line: start, text: text})
		case in:
			buf.WriteString(line + "\n")
		case strings.HasPrefix(line, "```json"):
			in, start = true, n
			buf.Reset()
		case strings.HasPrefix(line, "#"):
			path, kind = "", ""
		case apiPath.MatchString(line):
			path = apiPath.FindStringSubmatch(line)[1]
		case strings.HasPrefix(line, "**请求参数**"):
			kind = "request"
		case strings.HasPrefix(line, "**响应示例**"):
			kind = "response"
		case strings.HasPrefix(line, "**"):
			kind = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// TestSeedExamplesVerbatim checks that every REST JSON block of seed 000 is the `seed` example of its operation:
// the same keys in the same order with the same values (and deep-equal as loaded by kin-openapi).
func TestSeedExamplesVerbatim(t *testing.T) {
	blocks := seedBlocks(t)
	if len(blocks) < 20 {
		t.Fatalf("found %d REST JSON blocks in seed 000, expected 20; the parser no longer understands the file", len(blocks))
	}
	doc := loadDoc(t)
	ordered := orderedExamples(t)
	withSeedResponse := map[string]bool{}
	for _, b := range blocks {
		want := canonicalJSON(t, b.text)
		var wantVal any
		if err := json.Unmarshal([]byte(b.text), &wantVal); err != nil {
			t.Fatal(err)
		}
		if b.path == "" {
			// The generic envelope must be some response example.
			found := false
			for key, got := range ordered {
				if strings.HasSuffix(key, " response") && slices.Contains(values(got), want) {
					found = true
				}
			}
			if !found {
				t.Errorf("seed 000 line %d (generic envelope) is no response example", b.line)
			}
			continue
		}
		item := doc.Paths.Find(b.path)
		if item == nil || item.Post == nil {
			t.Errorf("seed 000 line %d: path %s is not in the document", b.line, b.path)
			continue
		}
		id := item.Post.OperationID
		if b.kind == "response" {
			withSeedResponse[id] = true
		}
		got, ok := ordered[id+" "+b.kind]["seed"]
		if !ok {
			t.Errorf("seed 000 line %d: %s has no %s example named seed", b.line, id, b.kind)
			continue
		}
		if got != want {
			t.Errorf("seed 000 line %d: %s %s example seed is not verbatim:\n got: %s\nwant: %s", b.line, id, b.kind, got, want)
		}
		o := operation{path: b.path, op: item.Post}
		var exs openapi3.Examples
		if b.kind == "request" {
			_, exs = requestOf(t, o)
		} else {
			_, exs = responseOf(t, o)
		}
		if ex := exs["seed"]; ex == nil || !reflect.DeepEqual(normalize(t, ex.Value.Value), wantVal) {
			t.Errorf("seed 000 line %d: %s %s example seed is not deep-equal to the block", b.line, id, b.kind)
		}
	}
	// A seed response without a seed-000 block is designed and must say so.
	for id, o := range operations(t, doc) {
		_, exs := responseOf(t, o)
		ex := exs["seed"]
		if ex == nil {
			continue
		}
		designed := ex.Value.Extensions["x-designed"] == true
		if withSeedResponse[id] && designed {
			t.Errorf("%s: the seed response is transcribed from seed 000 and must not be x-designed", id)
		}
		if !withSeedResponse[id] && !designed {
			t.Errorf("%s: seed 000 shows no response, so the seed response example is designed and needs x-designed", id)
		}
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// orderedExamples reads openapi.yaml as YAML nodes, keeping key order, and returns the canonical JSON of every
// example value, keyed by "<operationId> request|response" and then the example name.
func orderedExamples(t *testing.T) map[string]map[string]string {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(Spec, &root); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	out := map[string]map[string]string{}
	paths := child(root.Content[0], "paths")
	for i := 0; i+1 < len(paths.Content); i += 2 {
		post := child(paths.Content[i+1], "post")
		id := child(post, "operationId").Value
		add := func(kind string, media *yaml.Node) {
			exs := child(child(child(media, "content"), "application/json"), "examples")
			m := map[string]string{}
			for j := 0; exs != nil && j+1 < len(exs.Content); j += 2 {
				var b bytes.Buffer
				writeCanonical(t, &b, child(exs.Content[j+1], "value"))
				m[exs.Content[j].Value] = b.String()
			}
			out[id+" "+kind] = m
		}
		add("request", child(post, "requestBody"))
		add("response", child(child(post, "responses"), "200"))
	}
	return out
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// writeCanonical writes a YAML value as compact JSON, keys in document order.
func writeCanonical(t *testing.T, b *bytes.Buffer, n *yaml.Node) {
	t.Helper()
	if n == nil {
		b.WriteString("<missing>")
		return
	}
	switch n.Kind {
	case yaml.AliasNode:
		writeCanonical(t, b, n.Alias)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			writeCanonical(t, b, n.Content[i+1])
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(t, b, c)
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			s, _ := json.Marshal(n.Value)
			b.Write(s)
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil {
				t.Fatalf("line %d: number %q: %v", n.Line, n.Value, err)
			}
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		case "!!bool", "!!null":
			b.WriteString(n.Value)
		default:
			t.Fatalf("line %d: unexpected YAML tag %s", n.Line, n.ShortTag())
		}
	}
}

// canonicalJSON re-writes JSON text compactly, keys in their order, numbers as writeCanonical writes them.
func canonicalJSON(t *testing.T, text string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var b bytes.Buffer
	var value func()
	value = func() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("seed json: %v", err)
		}
		switch v := tok.(type) {
		case json.Delim:
			closing := map[json.Delim]byte{'{': '}', '[': ']'}[v]
			b.WriteByte(byte(v))
			for i := 0; dec.More(); i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				if v == '{' {
					k, err := dec.Token()
					if err != nil {
						t.Fatalf("seed json: %v", err)
					}
					kb, _ := json.Marshal(k)
					b.Write(kb)
					b.WriteByte(':')
				}
				value()
			}
			if _, err := dec.Token(); err != nil {
				t.Fatalf("seed json: %v", err)
			}
			b.WriteByte(closing)
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				t.Fatalf("seed json number %s: %v", v, err)
			}
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		case string:
			s, _ := json.Marshal(v)
			b.Write(s)
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case nil:
			b.WriteString("null")
		default:
			t.Fatalf("seed json: unexpected token %T", tok)
		}
	}
	value()
	return b.String()
}

// TestCanonical guards the helpers the verbatim check relies on.
func TestCanonical(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(`{"b": 1, "a": [true, "x", 1640995200000, {}]}`), &n); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	writeCanonical(t, &b, n.Content[0])
	want := canonicalJSON(t, "{\n \"b\": 1,\n \"a\": [true, \"x\", 1640995200000, {}]\n}")
	if got := b.String(); got != want {
		t.Errorf("yaml %s != json %s", got, want)
	}
	if want != fmt.Sprintf(`{"b":1,"a":[true,"x",%s,{}]}`, "1.6409952e+12") {
		t.Errorf("canonical form changed: %s", want)
	}
}
