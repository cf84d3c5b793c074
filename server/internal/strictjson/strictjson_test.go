package strictjson_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/imspec/imserver/server/internal/strictjson"
)

type inner struct {
	Num int64 `json:"num"`
}

type base struct {
	UserID string `json:"userID"`
}

type req struct {
	base
	Count   int               `json:"count"`
	Ranges  []inner           `json:"seqRanges"`
	Options map[string]bool   `json:"options"`
	Raw     json.RawMessage   `json:"raw"`
	Ex      map[string]string `json:"ex"`
}

func TestCheck(t *testing.T) {
	shape := strictjson.TypeShape(reflect.TypeOf(req{}))
	for _, c := range []struct {
		name, in, want string // want "" = accepted; else a substring of the error
	}{
		{"plain", `{"count":1,"userID":"u","seqRanges":[{"num":2}]}`, ""},
		{"unknown keys pass", `{"count":1,"other":2}`, ""},
		{"unknown case-variant keys", `{"other":2,"Other":3}`, "differ only in case"},
		{"case variant of a property", `{"COUNT":100000}`, "did you mean count?"},
		{"case-variant duplicate", `{"count":1,"COUNT":100000}`, `fields "count" and "COUNT" differ only in case`},
		{"exact duplicate", `{"count":1,"count":100000}`, `field "count": the key appears more than once`},
		{"promoted field", `{"UserID":"x"}`, "did you mean userID?"},
		{"nested in array", `{"seqRanges":[{"num":1},{"num":1,"NUM":9}]}`, `"seqRanges.1.num" and "seqRanges.1.NUM"`},
		{"unicode folding (long s)", `{"ſeqRanges":[]}`, "did you mean seqRanges?"},
		{"kelvin sign", `{"options":{},"\u212a":1}`, ""},
		{"map keys are case-sensitive", `{"options":{"a":true,"A":false}}`, ""},
		{"map exact duplicate", `{"options":{"a":true,"a":false}}`, "more than once"},
		{"unknown shape duplicate", `{"raw":{"x":1,"x":2}}`, "more than once"},
		{"trailing value", `{"count":1} {}`, "after top-level value"},
		{"escaped key", `{"\u0063ount":1,"count":2}`, "more than once"},
		{"many keys", manyKeys(), "differ only in case"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := strictjson.Check([]byte(c.in), shape)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

// What encoding/json would have read is what the check refuses: a body that passes decodes the values a
// case-sensitive reader sees.
func TestUnmarshalMatchesExactReading(t *testing.T) {
	var v req
	if err := strictjson.Unmarshal([]byte(`{"count":1,"COUNT":100000}`), &v); err == nil {
		t.Fatalf("accepted; decoded count %d", v.Count)
	}
	if err := json.Unmarshal([]byte(`{"count":1,"COUNT":100000}`), &v); err != nil || v.Count != 100000 {
		t.Fatalf("encoding/json no longer takes the last case variant (count %d, %v): the check may be relaxed", v.Count, err)
	}
}

func TestDescribeHasNoGoTypes(t *testing.T) {
	var v req
	err := json.Unmarshal([]byte(`{"count":"x","seqRanges":[{"num":1.5}]}`), &v)
	msg := strictjson.Describe(err)
	for _, bad := range []string{"Go ", "int64", "strictjson_test.", "struct"} {
		if strings.Contains(msg, bad) {
			t.Fatalf("message %q names a Go type (%q)", msg, bad)
		}
	}
	if !strings.Contains(msg, `"count"`) {
		t.Fatalf("message %q does not name the field", msg)
	}
}

// BenchmarkCheckSendFrame is the cost the check adds to a typical WS 1003 frame (compare BenchmarkUnmarshal).
func BenchmarkCheckSendFrame(b *testing.B) {
	frame := []byte(`{"reqIdentifier":1003,"token":"","sendID":"user123","operationID":"op-send-1","msgIncr":"6","data":{"clientMsgID":"a3f1c2d4e5b60718293a4b5c6d7e8f90","serverMsgID":"","createTime":1641200000000,"sendTime":0,"sendID":"user123","recvID":"user456","groupID":"","msgFrom":100,"contentType":101,"senderPlatformID":1,"senderNickname":"张三","senderFaceURL":"https://example.com/avatar.jpg","sessionType":1,"content":"{\"content\":\"你好，周五的分享会你来吗？\"}","seq":0,"isRead":false,"status":1,"attachedInfo":"","ex":""}}`)
	shape := strictjson.TypeShape(reflect.TypeOf(req{}))
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := strictjson.Check(frame, shape); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStrictUnmarshal is strictjson.Unmarshal of a typical WS 1003 frame: the check and the decode.
func BenchmarkStrictUnmarshal(b *testing.B) {
	frame := []byte(`{"reqIdentifier":1003,"token":"","sendID":"user123","operationID":"op-send-1","msgIncr":"6","data":{"clientMsgID":"a3f1c2d4e5b60718293a4b5c6d7e8f90","serverMsgID":"","createTime":1641200000000,"sendTime":0,"sendID":"user123","recvID":"user456","groupID":"","msgFrom":100,"contentType":101,"senderPlatformID":1,"senderNickname":"张三","senderFaceURL":"https://example.com/avatar.jpg","sessionType":1,"content":"{\"content\":\"你好，周五的分享会你来吗？\"}","seq":0,"isRead":false,"status":1,"attachedInfo":"","ex":""}}`)
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		var v req
		if err := strictjson.Unmarshal(frame, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	frame := []byte(`{"reqIdentifier":1003,"token":"","sendID":"user123","operationID":"op-send-1","msgIncr":"6","data":{"clientMsgID":"a3f1c2d4e5b60718293a4b5c6d7e8f90","serverMsgID":"","createTime":1641200000000,"sendTime":0,"sendID":"user123","recvID":"user456","groupID":"","msgFrom":100,"contentType":101,"senderPlatformID":1,"senderNickname":"张三","senderFaceURL":"https://example.com/avatar.jpg","sessionType":1,"content":"{\"content\":\"你好，周五的分享会你来吗？\"}","seq":0,"isRead":false,"status":1,"attachedInfo":"","ex":""}}`)
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(frame, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// manyKeys is an object past the pairwise-comparison size whose last key repeats an early one in case.
func manyKeys() string {
	var b strings.Builder
	b.WriteString(`{"count":1`)
	for i := range 100 {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	b.WriteString(`,"K5":0}`)
	return b.String()
}

// Unmarshal decodes before it checks (the text is validated once), but answers as if it checked first: a
// repeated or case-variant key wins over a value of the wrong type, a syntax error is a syntax error.
func TestUnmarshalErrorOrder(t *testing.T) {
	var v req
	err := strictjson.Unmarshal([]byte(`{"count":"one","userID":"a","USERID":"b"}`), &v)
	if _, ok := err.(*strictjson.Error); !ok {
		t.Errorf("case-variant key and a wrong type: %T %v, want *strictjson.Error", err, err)
	}
	err = strictjson.Unmarshal([]byte(`{"count":"one","userID":"a"}`), &v)
	if _, ok := err.(*json.UnmarshalTypeError); !ok {
		t.Errorf("wrong type: %T %v, want *json.UnmarshalTypeError", err, err)
	}
	err = strictjson.Unmarshal([]byte(`{"count":1,"count":2`), &v)
	if _, ok := err.(*json.SyntaxError); !ok {
		t.Errorf("cut short: %T %v, want *json.SyntaxError", err, err)
	}
	if err := strictjson.Unmarshal([]byte(`{"count":1,"seqRanges":[{"num":2}]}`), &v); err != nil || v.Count != 1 || v.Ranges[0].Num != 2 {
		t.Errorf("plain: %v %+v", err, v)
	}
}
