package conformance

import (
	"fmt"
	"strconv"
	"strings"
)

// cond is one condition of an x-trigger `when`: operand ==|!=|in literals.
type cond struct {
	operand string
	op      string // "==", "!=", "in"
	lits    []any  // float64, string or bool
}

// parseWhen parses the grammar of asyncapi/README.md: cond ( "&&" cond )*.
func parseWhen(s string) ([]cond, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []cond
	for _, part := range strings.Split(s, "&&") {
		part = strings.TrimSpace(part)
		var c cond
		switch {
		case strings.Contains(part, "=="):
			a, b, _ := strings.Cut(part, "==")
			c = cond{operand: strings.TrimSpace(a), op: "=="}
			l, err := literal(b)
			if err != nil {
				return nil, fmt.Errorf("when %q: %w", s, err)
			}
			c.lits = []any{l}
		case strings.Contains(part, "!="):
			a, b, _ := strings.Cut(part, "!=")
			c = cond{operand: strings.TrimSpace(a), op: "!="}
			l, err := literal(b)
			if err != nil {
				return nil, fmt.Errorf("when %q: %w", s, err)
			}
			c.lits = []any{l}
		case strings.Contains(part, " in "):
			a, b, _ := strings.Cut(part, " in ")
			c = cond{operand: strings.TrimSpace(a), op: "in"}
			b = strings.TrimSpace(b)
			if !strings.HasPrefix(b, "[") || !strings.HasSuffix(b, "]") {
				return nil, fmt.Errorf("when %q: `in` needs [literals]", s)
			}
			for _, e := range strings.Split(b[1:len(b)-1], ",") {
				l, err := literal(e)
				if err != nil {
					return nil, fmt.Errorf("when %q: %w", s, err)
				}
				c.lits = append(c.lits, l)
			}
		default:
			return nil, fmt.Errorf("when %q: cannot read %q", s, part)
		}
		out = append(out, c)
	}
	return out, nil
}

func literal(s string) (any, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "true":
		return true, nil
	case s == "false":
		return false, nil
	case strings.HasPrefix(s, `"`):
		return strconv.Unquote(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("literal %q", s)
	}
	return f, nil
}

// holds tells whether v (absent: the zero value of the literal's type) satisfies c.
func (c cond) holds(v any, present bool) bool {
	eq := func(l any) bool {
		if !present || v == nil {
			switch l.(type) {
			case bool:
				v = false
			case string:
				v = ""
			default:
				v = 0.0
			}
		}
		return fmt.Sprint(v) == fmt.Sprint(l)
	}
	switch c.op {
	case "==":
		return eq(c.lits[0])
	case "!=":
		return !eq(c.lits[0])
	}
	for _, l := range c.lits {
		if eq(l) {
			return true
		}
	}
	return false
}

// solve returns a value that satisfies c, preferring current when it already does.
func (c cond) solve(current any, present bool) any {
	if c.holds(current, present) {
		if !present {
			return nil
		}
		return current
	}
	switch c.op {
	case "==", "in":
		return c.lits[0]
	}
	switch l := c.lits[0].(type) {
	case bool:
		return !l
	case string:
		return l + "x"
	case float64:
		if l == 0 {
			return 1.0
		}
		return 0.0
	}
	return nil
}
