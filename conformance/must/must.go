// Package must holds the conformance suite's assertions that stop a case at the first failure (complement's
// `must`); the ones that report and go on are the methods of the suite's case environment.
package must

import (
	"fmt"
	"strings"

	"github.com/imspec/imserver/conformance/match"
)

// T is the part of a test the assertions need.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
}

// NotError stops the case when err is not nil; what says what was being done.
func NotError(t T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// True stops the case when cond is false.
func True(t T, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Fatalf(format, args...)
	}
}

// Equal stops the case when got != want.
func Equal[V comparable](t T, what string, got, want V) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: want %v, got %v", what, want, got)
	}
}

// MatchJSON stops the case when got does not mean what want means (see package match), listing every
// mismatch with its JSON path.
func MatchJSON(t T, root string, got, want any, rules match.Rules) {
	t.Helper()
	if ms := match.JSON(root, got, want, rules); len(ms) > 0 {
		t.Fatalf("%s", Report(ms))
	}
}

// Report renders mismatches one per line.
func Report(ms []match.Mismatch) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d mismatch(es):", len(ms))
	for _, m := range ms {
		b.WriteString("\n    ")
		b.WriteString(m.String())
	}
	return b.String()
}
