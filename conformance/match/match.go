// Package match compares JSON values by meaning, the way the conformance suite reads the specs' examples: every
// key the wanted value has must be there with the same JSON type; values are compared exactly unless a Rule says
// the server generates them; lists are checked off element by element in any order; a string that holds JSON text
// (a MsgData content, a notification's detail) is compared as the JSON it holds. A mismatch names the JSON path,
// the wanted value and the value received.
package match

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Mode says how a wanted value is compared with the value received.
type Mode int

const (
	// Exact: the same JSON value (numbers by value, JSON text inside strings by meaning).
	Exact Mode = iota
	// Type: the same JSON type, any value (tokens, server-made IDs).
	Type
	// Zero: the same JSON type, and zero exactly when the wanted value is zero (times, seqs: whether there is
	// one is deterministic, its value is not).
	Zero
	// Ignore: anything, even absent.
	Ignore
)

// Rules decide the Mode of each wanted value. The zero Rules compare everything exactly.
type Rules struct {
	// Mode returns the Mode for the value at path (e.g. "data.usersInfo[0].createTime"), whose last object
	// key is key ("" inside lists of scalars) and whose wanted value is want. Nil means Exact everywhere.
	Mode func(path, key string, want any) Mode
}

// Mismatch is one difference: at Path, Want was expected and Got came back (Got is nil when the key is absent).
type Mismatch struct {
	Path   string
	Want   any
	Got    any
	Absent bool   // the key is missing from the value received
	Why    string // what differs, in words
}

func (m Mismatch) String() string {
	got := "absent"
	if !m.Absent {
		got = Show(m.Got)
	}
	return fmt.Sprintf("%s: %s; want %s, got %s", m.Path, m.Why, Show(m.Want), got)
}

// Show renders a JSON value compactly for a report (long values are cut).
func Show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return Cut(string(b), 300)
}

// Cut shortens s to at most n bytes, at a character boundary, marking the cut with "…".
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Normalize turns any JSON-marshalable value into the generic form (map[string]any, []any, float64, string,
// bool, nil) that JSON compares.
func Normalize(v any) any {
	switch v.(type) {
	case nil, map[string]any, []any, string, bool, float64:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				m[k] = Normalize(e)
			}
		}
		if l, ok := v.([]any); ok {
			for i, e := range l {
				l[i] = Normalize(e)
			}
		}
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// JSON compares got with want under rules and returns the mismatches (none: got means what want means). Both
// are generic JSON values (see Normalize); root names the top of the path ("data").
func JSON(root string, got, want any, rules Rules) []Mismatch {
	c := cmp{rules: rules}
	c.value(root, "", got, want, true)
	return c.out
}

type cmp struct {
	rules Rules
	out   []Mismatch
}

func (c *cmp) mode(path, key string, want any) Mode {
	if c.rules.Mode == nil {
		return Exact
	}
	return c.rules.Mode(path, key, want)
}

func (c *cmp) add(m Mismatch) { c.out = append(c.out, m) }

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, json.Number, int, int64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func (c *cmp) value(path, key string, got, want any, present bool) {
	mode := c.mode(path, key, want)
	if mode == Ignore {
		return
	}
	if !present {
		c.add(Mismatch{Path: path, Want: want, Absent: true, Why: "missing"})
		return
	}
	if typeName(got) != typeName(want) {
		c.add(Mismatch{Path: path, Want: want, Got: got, Why: "wanted a " + typeName(want) + ", got a " + typeName(got)})
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			c.value(path+"."+k, k, gv, w[k], ok)
		}
	case []any:
		c.list(path, key, got.([]any), w)
	case string:
		g := got.(string)
		if mode != Exact || g == w {
			return
		}
		// JSON text inside a string is compared by meaning.
		if wj, ok := jsonText(w); ok {
			if gj, ok := jsonText(g); ok {
				c.value(path+"(json)", key, gj, wj, true)
				return
			}
		}
		c.add(Mismatch{Path: path, Want: want, Got: got, Why: "different value"})
	case float64:
		g := got.(float64)
		switch mode {
		case Exact:
			if g != w {
				c.add(Mismatch{Path: path, Want: want, Got: got, Why: "different value"})
			}
		case Zero:
			if (g == 0) != (w == 0) {
				why := "wanted a non-zero value"
				if w == 0 {
					why = "wanted 0"
				}
				c.add(Mismatch{Path: path, Want: want, Got: got, Why: why})
			}
		}
	case bool:
		if mode == Exact && got.(bool) != w {
			c.add(Mismatch{Path: path, Want: want, Got: got, Why: "different value"})
		}
	}
}

// list checks off each wanted element against a distinct received element, in any order; received elements
// nobody wanted are allowed (a `total` or a count in the example pins the length where it matters). An empty
// wanted list wants an empty list.
func (c *cmp) list(path, key string, got, want []any) {
	if len(want) == 0 {
		if len(got) != 0 && c.mode(path, key, want) == Exact {
			c.add(Mismatch{Path: path, Want: want, Got: got, Why: fmt.Sprintf("wanted an empty list, got %d elements", len(got))})
		}
		return
	}
	used := make([]bool, len(got))
	for i, w := range want {
		ep := path + "[" + strconv.Itoa(i) + "]"
		best, bestN := -1, 0
		var bestOut []Mismatch
		for j, g := range got {
			if used[j] {
				continue
			}
			sub := cmp{rules: c.rules}
			sub.value(ep, key, g, w, true)
			if len(sub.out) == 0 {
				best, bestOut = j, nil
				break
			}
			if best < 0 || len(sub.out) < bestN {
				best, bestN, bestOut = j, len(sub.out), sub.out
			}
		}
		switch {
		case best < 0:
			c.add(Mismatch{Path: ep, Want: w, Absent: true, Why: fmt.Sprintf("no element left to match (got %d elements)", len(got))})
		case bestOut == nil:
			used[best] = true
		default:
			used[best] = true
			for _, m := range bestOut {
				m.Why += fmt.Sprintf(" (closest received element: %s[%d])", path, best)
				c.add(m)
			}
		}
	}
}

func jsonText(s string) (any, bool) {
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return nil, false
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return nil, false
	}
	return v, true
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
