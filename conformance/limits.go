package conformance

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Limit cases, derived from whatever limits the request schemas hold: for every maxLength, maxItems, maximum,
// minimum, minLength, minItems, pattern and enum of a request body (nested objects and array items included), the
// operation's first success example with that one value just past the limit must be refused with 1001, before
// the server acts on it. A limit added to the spec is a case at the next run.

// Limit is one limit of a request schema.
type Limit struct {
	Path    string  // dotted, "[]" for the elements of an array: users[].nickname
	Keyword string  // maxLength, maxItems, maximum, minimum, minLength, minItems, pattern, enum
	N       float64 // the bound (for pattern and enum: 0)
	Pattern string
	Enum    []any  // the accepted values of an enum
	Type    string // the schema's type (string, integer, number, array)
	Exclude bool   // exclusiveMaximum / exclusiveMinimum
	Items   map[string]any
}

func (l Limit) name() string { return l.Path + "-" + l.Keyword }

// collectLimits walks a request schema (following $ref and allOf) and returns its limits.
func collectLimits(doc, schema map[string]any, path string, seen map[string]bool) []Limit {
	if ref := str(schema["$ref"]); ref != "" {
		if seen[ref] {
			return nil
		}
		seen = copySet(seen)
		seen[ref] = true
		return collectLimits(doc, resolve(doc, ref), path, seen)
	}
	var out []Limit
	for _, sub := range list(schema["allOf"]) {
		out = append(out, collectLimits(doc, obj(sub), path, seen)...)
	}
	typ := str(schema["type"])
	add := func(kw string, n float64) {
		out = append(out, Limit{Path: path, Keyword: kw, N: n, Type: typ})
	}
	if path != "" {
		if v, ok := schema["maxLength"].(float64); ok {
			add("maxLength", v)
		}
		if v, ok := schema["minLength"].(float64); ok && v > 0 {
			add("minLength", v)
		}
		if v, ok := schema["maxItems"].(float64); ok {
			add("maxItems", v)
			out[len(out)-1].Items = resolveSchema(doc, obj(schema["items"]))
		}
		if v, ok := schema["minItems"].(float64); ok && v > 0 {
			add("minItems", v)
		}
		if v, ok := schema["maximum"].(float64); ok {
			add("maximum", v)
			out[len(out)-1].Exclude = schema["exclusiveMaximum"] == true
		}
		if v, ok := schema["minimum"].(float64); ok {
			add("minimum", v)
			out[len(out)-1].Exclude = schema["exclusiveMinimum"] == true
		}
		if p := str(schema["pattern"]); p != "" {
			out = append(out, Limit{Path: path, Keyword: "pattern", Pattern: p, Type: typ})
		}
		if e := list(schema["enum"]); len(e) > 0 {
			out = append(out, Limit{Path: path, Keyword: "enum", Enum: e, Type: typ})
		}
	}
	props := obj(schema["properties"])
	for _, k := range sortedKeys(props) {
		p := k
		if path != "" {
			p = path + "." + k
		}
		out = append(out, collectLimits(doc, obj(props[k]), p, seen)...)
	}
	if items := obj(schema["items"]); items != nil && path != "" {
		out = append(out, collectLimits(doc, items, path+"[]", seen)...)
	}
	return out
}

func resolveSchema(doc, s map[string]any) map[string]any {
	for i := 0; i < 10 && s != nil && str(s["$ref"]) != ""; i++ {
		s = resolve(doc, str(s["$ref"]))
	}
	return s
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pastLimit is a value one past the limit (ok false when none can be made, e.g. a pattern everything matches).
func (l Limit) pastLimit(cur any) (any, bool) {
	switch l.Keyword {
	case "maxLength":
		return strings.Repeat("a", int(l.N)+1), true
	case "minLength":
		return strings.Repeat("a", int(l.N)-1), true
	case "maxItems", "minItems":
		n := int(l.N) + 1
		if l.Keyword == "minItems" {
			n = int(l.N) - 1
		}
		out := make([]any, n)
		first, _ := cur.([]any)
		for i := range out {
			switch {
			case len(first) > 0 && obj(first[0]) != nil:
				out[i] = clone(first[0])
			case str(l.Items["type"]) == "integer" || str(l.Items["type"]) == "number":
				out[i] = float64(i + 1)
			default:
				out[i] = fmt.Sprintf("item%d", i)
			}
		}
		return out, true
	case "maximum":
		if l.Exclude {
			return l.N, true
		}
		if l.Type == "integer" {
			return l.N + 1, true
		}
		return l.N + 0.5, true
	case "minimum":
		if l.Exclude {
			return l.N, true
		}
		if l.Type == "integer" {
			return l.N - 1, true
		}
		return l.N - 0.5, true
	case "enum":
		return l.outsideEnum()
	case "pattern":
		re, err := regexp.Compile(l.Pattern)
		if err != nil {
			return nil, false
		}
		for _, c := range []string{"a b", "a_b", "a\u202eb", "_", " ", "-a", "a/b", "ä", ""} {
			if !re.MatchString(c) {
				return c, true
			}
		}
	}
	return nil, false
}

// outsideEnum is a value of the schema's type that the enum does not list. For integers it is the first gap
// between the smallest and the largest listed value (a server that checks only the range accepts it), else one
// past the largest; for strings a word no enum of the spec lists. None for other types (booleans, objects).
func (l Limit) outsideEnum() (any, bool) {
	in := map[any]bool{}
	for _, v := range l.Enum {
		in[v] = true
	}
	switch l.Type {
	case "integer":
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range l.Enum {
			if f, ok := v.(float64); ok {
				lo, hi = math.Min(lo, f), math.Max(hi, f)
			}
		}
		if lo > hi {
			return nil, false
		}
		for v := lo + 1; v < hi; v++ {
			if !in[v] {
				return v, true
			}
		}
		return hi + 1, true
	case "string":
		for _, c := range []string{"notInTheEnum", "x", ""} {
			if !in[c] {
				return c, true
			}
		}
	}
	return nil, false
}

// setLimitPath sets the value at a path with "[]" segments (the first element of the array, made when missing).
func setLimitPath(v map[string]any, path string, val any) {
	parts := strings.Split(path, ".")
	var cur any = v
	for i, p := range parts {
		last := i == len(parts)-1
		arr := strings.HasSuffix(p, "[]")
		key := strings.TrimSuffix(p, "[]")
		m := obj(cur)
		if m == nil {
			return
		}
		if last && !arr {
			m[key] = val
			return
		}
		if !arr {
			if obj(m[key]) == nil {
				m[key] = map[string]any{}
			}
			cur = m[key]
			continue
		}
		l, _ := m[key].([]any)
		if last {
			if len(l) == 0 {
				l = []any{val}
			} else {
				l[0] = val
			}
			m[key] = l
			return
		}
		if len(l) == 0 || obj(l[0]) == nil {
			l = []any{map[string]any{}}
			m[key] = l
		}
		cur = l[0]
	}
}

func lookupLimitPath(v any, path string) any {
	cur := v
	for _, p := range strings.Split(path, ".") {
		arr := strings.HasSuffix(p, "[]")
		cur = obj(cur)[strings.TrimSuffix(p, "[]")]
		if arr {
			l, _ := cur.([]any)
			if len(l) == 0 {
				return nil
			}
			cur = l[0]
		}
	}
	return cur
}

// runLimit sends the first success example with one value past a limit: 1001.
func (rt *runtime) runLimit(t TestLike, op *Op, l Limit) {
	e := rt.newEnv(t)
	ex := op.firstSuccess()
	caller := e.callerFor(op, ex)
	body := obj(e.ids.value(ex.Body))
	if body == nil {
		body = map[string]any{}
	}
	cur := lookupLimitPath(body, strings.TrimSuffix(l.Path, "[]"))
	if !strings.HasSuffix(l.Path, "[]") {
		cur = lookupLimitPath(body, l.Path)
	}
	val, ok := l.pastLimit(cur)
	if !ok {
		t.Skipf("no value past %s %v of %s can be made", l.Keyword, l.Pattern, l.Path)
	}
	setLimitPath(body, l.Path, val)
	shown := fmt.Sprint(val)
	if len(shown) > 60 {
		shown = fmt.Sprintf("%d characters/elements", lenOf(val))
	}
	if l.Keyword == "enum" {
		t.Logf("%s: enum %v; sending %s", l.Path, l.Enum, shown)
	} else {
		t.Logf("%s: %s %v%s; sending %s", l.Path, l.Keyword, l.N, l.Pattern, shown)
	}
	b, _ := json.Marshal(body)
	r := e.post(op, caller, b, nil)
	e.checkReply(op, r, map[string]any{"errCode": 1001.0}, prep{})
	// The errMsg names the field (the last name of the path).
	parts := strings.Split(strings.ReplaceAll(l.Path, "[]", ""), ".")
	if field := parts[len(parts)-1]; r.errCode() == 1001 && !strings.Contains(r.errMsg(), field) {
		t.Errorf("errMsg: want it to name the field %q, got %q", field, r.errMsg())
	}
}

func lenOf(v any) int {
	switch x := v.(type) {
	case string:
		return len([]rune(x))
	case []any:
		return len(x)
	}
	return 0
}
