package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func specs(t *testing.T) (asyncSpec, openSpec []byte) {
	t.Helper()
	a, err := os.ReadFile("../../asyncapi/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o, err := os.ReadFile("../../openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return a, o
}

// The committed tsclient/gen/ws.ts and errcode.ts are what tsgen makes now, and a second run gives the same bytes.
func TestGeneratedUpToDate(t *testing.T) {
	a, o := specs(t)
	files, err := Generate(a, o)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(a, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		if !bytes.Equal(f.Data, again[i].Data) {
			t.Errorf("%s: two runs differ", f.Name)
		}
		have, err := os.ReadFile(filepath.Join("../../tsclient/gen", f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, f.Data) {
			t.Errorf("tsclient/gen/%s is stale: run `make clients`", f.Name)
		}
	}
	ws := string(files[0].Data)
	for _, want := range []string{
		"export const ReqIdentifier = {", "ReqSendMsg: 1003,", "export interface RevokeMsgTips {",
		"2101: RevokeMsgTips;", "export type MsgData = components[\"schemas\"][\"MsgData\"];",
		"1003: { request: SendMsgReqFrame; reply: SendMsgRespFrame };", "maxFrameBytes: 51200,",
	} {
		if !strings.Contains(ws, want) {
			t.Errorf("ws.ts lacks %q", want)
		}
	}
	if !strings.Contains(string(files[1].Data), "NoPermission: 1003,") {
		t.Errorf("errcode.ts lacks NoPermission")
	}
}

// The bundled AsyncAPI document stands alone: every $ref is local and resolves.
func TestBundle(t *testing.T) {
	a, o := specs(t)
	oj, aj, err := Bundle(a, o)
	if err != nil {
		t.Fatal(err)
	}
	var odoc map[string]any
	if err := json.Unmarshal(oj, &odoc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if _, ok := odoc["paths"].(map[string]any)["/auth/user_token"]; !ok {
		t.Fatal("openapi.json has no /auth/user_token")
	}
	var adoc map[string]any
	if err := json.Unmarshal(aj, &adoc); err != nil {
		t.Fatalf("asyncapi.json: %v", err)
	}
	var walk func(v any)
	n := 0
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				n++
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("external $ref %s", ref)
					return
				}
				var cur any = adoc
				for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[p]
				}
				if cur == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(adoc)
	if n < 100 {
		t.Errorf("only %d $refs seen", n)
	}
	schemas := adoc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, name := range []string{"MsgData", "GroupInfo", "OpenAPISessionType", "RevokeMsgTips"} {
		if schemas[name] == nil {
			t.Errorf("bundled schemas lack %s", name)
		}
	}
	// Merge keys of the examples are resolved (no "<<" key survives).
	if bytes.Contains(aj, []byte(`"<<"`)) {
		t.Error("a YAML merge key survived")
	}
}
