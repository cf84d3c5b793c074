package strictjson_test

import (
	"encoding/json"
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
		{"trailing value", `{"count":1} {}`, "more than one value"},
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
