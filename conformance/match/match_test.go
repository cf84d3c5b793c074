package match_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imspec/imserver/conformance/match"
)

func j(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

func TestJSON(t *testing.T) {
	timesByZero := match.Rules{Mode: func(_, key string, _ any) match.Mode {
		switch {
		case key == "token":
			return match.Type
		case strings.HasSuffix(key, "Time"):
			return match.Zero
		}
		return match.Exact
	}}
	for _, tc := range []struct {
		name      string
		got, want string
		rules     match.Rules
		paths     []string // the mismatches' paths, in order
	}{
		{"equal", `{"a":1,"b":"x"}`, `{"a":1,"b":"x"}`, match.Rules{}, nil},
		{"extra keys are fine", `{"a":1,"extra":true}`, `{"a":1}`, match.Rules{}, nil},
		{"missing key", `{"a":1}`, `{"a":1,"b":"x"}`, match.Rules{}, []string{"data.b"}},
		{"different value", `{"a":{"b":2}}`, `{"a":{"b":1}}`, match.Rules{}, []string{"data.a.b"}},
		{"different type", `{"a":"1"}`, `{"a":1}`, match.Rules{}, []string{"data.a"}},
		{"type only", `{"token":"zzz"}`, `{"token":"eyJ..."}`, timesByZero, nil},
		{"type only still wants the type", `{"token":5}`, `{"token":"eyJ..."}`, timesByZero, []string{"data.token"}},
		{"zero-ness", `{"createTime":17,"handleTime":0}`, `{"createTime":99,"handleTime":0}`, timesByZero, nil},
		{"zero wanted", `{"handleTime":17}`, `{"handleTime":0}`, timesByZero, []string{"data.handleTime"}},
		{"lists in any order", `{"l":[{"id":"b"},{"id":"a"}]}`, `{"l":[{"id":"a"},{"id":"b"}]}`, match.Rules{}, nil},
		{"list element missing", `{"l":[{"id":"b","n":1}]}`, `{"l":[{"id":"b","n":2}]}`, match.Rules{}, []string{"data.l[0].n"}},
		{"extra elements are fine", `{"l":[1,2,3]}`, `{"l":[3,1]}`, match.Rules{}, nil},
		{"too few elements", `{"l":[1]}`, `{"l":[1,1]}`, match.Rules{}, []string{"data.l[1]"}},
		{"empty list wants empty", `{"l":[1]}`, `{"l":[]}`, match.Rules{}, []string{"data.l"}},
		{"JSON text by meaning", `{"c":"{\"b\":2, \"a\":1}"}`, `{"c":"{\"a\":1,\"b\":2}"}`, match.Rules{}, nil},
		{"JSON text differs", `{"c":"{\"a\":2}"}`, `{"c":"{\"a\":1}"}`, match.Rules{}, []string{"data.c(json).a"}},
		{"plain text exact", `{"c":"hi "}`, `{"c":"hi"}`, match.Rules{}, []string{"data.c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := match.JSON("data", j(tc.got), j(tc.want), tc.rules)
			var paths []string
			for _, m := range ms {
				paths = append(paths, m.Path)
			}
			if strings.Join(paths, ",") != strings.Join(tc.paths, ",") {
				t.Errorf("mismatch paths = %v, want %v (%v)", paths, tc.paths, ms)
			}
		})
	}
}

func TestMismatchString(t *testing.T) {
	ms := match.JSON("data", j(`{"n":"李四"}`), j(`{"n":"张三","m":1}`), match.Rules{})
	if len(ms) != 2 {
		t.Fatalf("got %v", ms)
	}
	for _, want := range []string{`data.m: missing; want 1, got absent`, `data.n: different value; want "张三", got "李四"`} {
		found := false
		for _, m := range ms {
			found = found || m.String() == want
		}
		if !found {
			t.Errorf("no mismatch reads %q in %v", want, ms)
		}
	}
}
