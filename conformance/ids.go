package conformance

import (
	"regexp"
	"sort"
)

// ids maps the specs' placeholder IDs (user123, group123, …), the admin and the development secret of one case
// to the run: every placeholder becomes a fresh ID of this case, the admin becomes the target's admin and the
// secret the target's secret. The rewrite is consistent in every string that contains a placeholder, requests
// and expected responses alike, and a `single_<a>_<b>` (or the SDK's `si_<a>_<b>`) conversation ID is re-sorted after it; map keys are rewritten too.
type ids struct {
	suffix    string
	admins    map[string]bool
	admin     string // the target's admin, for the admin names of the examples (whole strings only)
	devSecret string
	secret    string
}

var singleRE = regexp.MustCompile(`(single|\bsi)_([^_\s"]+)_([^_\s"]+)`)

// id maps one placeholder (or the admin) to its run ID.
func (m *ids) id(ph string) string {
	if m.admins[ph] {
		return m.admin
	}
	return ph + "x" + m.suffix
}

// str rewrites every placeholder and admin name inside s.
func (m *ids) str(s string) string {
	if m.admins[s] {
		return m.admin
	}
	out := placeholderRE.ReplaceAllStringFunc(s, m.id)
	return singleRE.ReplaceAllStringFunc(out, func(c string) string {
		p := singleRE.FindStringSubmatch(c)
		pair := []string{p[2], p[3]}
		sort.Strings(pair)
		return p[1] + "_" + pair[0] + "_" + pair[1]
	})
}

// value rewrites a generic JSON value (a copy): strings as str does, and a `secret` equal to the specs'
// development secret becomes the target's.
func (m *ids) value(v any) any {
	return m.walk("", clone(v))
}

func (m *ids) walk(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			// Keys too: a map keyed by ID (respList of the SDK profile's member sync) names placeholders.
			out[m.str(k)] = m.walk(k, e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = m.walk(key, e)
		}
		return x
	case string:
		if key == "secret" && x == m.devSecret {
			return m.secret
		}
		return m.str(x)
	}
	return v
}

// placeholders returns the placeholder IDs mentioned anywhere in v, sorted.
func placeholders(vs ...any) []string {
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			for _, p := range placeholderRE.FindAllString(x, -1) {
				seen[p] = true
			}
		}
	}
	for _, v := range vs {
		walk(v)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
