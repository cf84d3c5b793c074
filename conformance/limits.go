package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// limitCase is a request body that breaks one documented limit of an operation's request schema: one past a
// maxLength, maxItems, maximum or minimum.
type limitCase struct {
	name  string   // e.g. users.0.nickname-maxLength
	path  []string // property names; "0" for an array's first item
	value any
}

// limitCases derives the cases of s: every property with a maxLength, maxItems, maximum or minimum, at any
// depth (array items included).
func limitCases(s *openapi3.Schema) []limitCase {
	var out []limitCase
	var walk func(s *openapi3.Schema, path []string, depth int)
	walk = func(s *openapi3.Schema, path []string, depth int) {
		if s == nil || depth > 6 {
			return
		}
		add := func(kind string, v any) {
			out = append(out, limitCase{name: strings.Join(path, ".") + "-" + kind, path: slices.Clone(path), value: v})
		}
		switch {
		case s.Type.Is("string"):
			if s.MaxLength != nil && len(s.Enum) == 0 {
				add("maxLength", strings.Repeat("x", int(*s.MaxLength)+1))
			}
		case s.Type.Is("integer"), s.Type.Is("number"):
			if s.Max != nil {
				add("maximum", json.Number(fmt.Sprint(*s.Max+1)))
			}
			if s.Min != nil {
				add("minimum", json.Number(fmt.Sprint(*s.Min-1)))
			}
		case s.Type.Is("array"):
			if s.MaxItems != nil && s.Items != nil {
				items := make([]any, int(*s.MaxItems)+1)
				for i := range items {
					items[i] = minimalValue(s.Items.Value, i)
				}
				add("maxItems", items)
			}
			if s.Items != nil {
				walk(s.Items.Value, append(slices.Clone(path), "0"), depth+1)
			}
		default:
			for _, part := range schemaParts(s) {
				for _, k := range slices.Sorted(mapsKeys(part.Properties)) {
					walk(part.Properties[k].Value, append(slices.Clone(path), k), depth+1)
				}
			}
		}
	}
	walk(s, nil, 0)
	return out
}

func mapsKeys(m openapi3.Schemas) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func schemaParts(s *openapi3.Schema) []*openapi3.Schema {
	out := []*openapi3.Schema{s}
	for _, r := range s.AllOf {
		if r.Value != nil {
			out = append(out, schemaParts(r.Value)...)
		}
	}
	return out
}

func schemaProp(s *openapi3.Schema, k string) *openapi3.Schema {
	for _, p := range schemaParts(s) {
		if r := p.Properties[k]; r != nil {
			return r.Value
		}
	}
	return nil
}

// minimalValue is a small value s accepts; strings are distinct per i (uniqueItems cannot be what refuses
// an over-long array).
func minimalValue(s *openapi3.Schema, i int) any {
	if s == nil {
		return nil
	}
	if len(s.Enum) > 0 {
		return s.Enum[i%len(s.Enum)]
	}
	switch {
	case s.Type.Is("string"):
		return fmt.Sprintf("x%d", i)
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min + float64(i)
		}
		return i + 1
	case s.Type.Is("boolean"):
		return false
	case s.Type.Is("array"):
		return []any{}
	}
	m := map[string]any{}
	for _, part := range schemaParts(s) {
		for _, k := range part.Required {
			if p := part.Properties[k]; p != nil {
				m[k] = minimalValue(p.Value, i)
			}
		}
	}
	return m
}

// setLimitPath returns v with val at path, creating what is missing with minimal values.
func setLimitPath(v any, s *openapi3.Schema, path []string, val any) any {
	if len(path) == 0 || s == nil {
		return val
	}
	if s.Type.Is("array") {
		arr, _ := v.([]any)
		arr = slices.Clone(arr)
		if len(arr) == 0 {
			arr = []any{minimalValue(s.Items.Value, 0)}
		}
		arr[0] = setLimitPath(arr[0], s.Items.Value, path[1:], val)
		return arr
	}
	m := map[string]any{}
	for k, x := range obj(v) {
		m[k] = x
	}
	ps := schemaProp(s, path[0])
	cur, ok := m[path[0]]
	if !ok {
		cur = minimalValue(ps, 0)
	}
	m[path[0]] = setLimitPath(cur, ps, path[1:], val)
	return m
}

// runLimit sends the first success example with one value one past its documented limit: errCode 1001, and
// errMsg names the field.
func (rt *runtime) runLimit(t TestLike, op *Op, lc limitCase) {
	e := rt.newEnv(t)
	ex := op.firstSuccess()
	caller := e.callerFor(op, ex)
	body := setLimitPath(e.ids.value(ex.Body), op.reqSchema, lc.path, lc.value)
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("encoding the body: %v", err)
	}
	r := e.post(op, caller, b, nil)
	e.checkReply(op, r, map[string]any{"errCode": 1001.0}, prep{})
	field := lc.path[len(lc.path)-1]
	if field == "0" && len(lc.path) > 1 {
		field = lc.path[len(lc.path)-2]
	}
	if r.errCode() == 1001 && !strings.Contains(r.errMsg(), field) {
		t.Errorf("errMsg: want it to name the field %q, got %q", field, r.errMsg())
	}
}
