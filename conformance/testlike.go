package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestLike is the part of testing.TB the suite needs, plus Run for subtests, so that both `go test` (through
// [Testing]) and the imconform CLI (through its own implementation) drive the same cases. Its methods mean what
// they mean on *testing.T; Run may be called from several goroutines at once.
type TestLike interface {
	Helper()
	Name() string
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Cleanup(func())
	Context() context.Context
	Parallel()
	Run(name string, f func(t TestLike)) bool
}

// Testing adapts a *testing.T.
func Testing(t *testing.T) TestLike { return testingT{t} }

type testingT struct{ *testing.T }

func (t testingT) Run(name string, f func(TestLike)) bool {
	return t.T.Run(name, func(tt *testing.T) { f(testingT{tt}) })
}

// Expected is an expected-failures list: case name → the reason it is expected to fail.
type Expected map[string]string

// ParseExpected reads an expected-failures file: one case name per line followed by `# reason`; blank lines and
// lines starting with # are ignored. A line without a reason is an error (the list is for failures someone
// understands).
func ParseExpected(r io.Reader) (Expected, error) {
	exp := Expected{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, "#")
		name, reason = strings.TrimSpace(name), strings.TrimSpace(reason)
		if !ok || reason == "" {
			return nil, fmt.Errorf("line %d: %q has no `# reason`", n, line)
		}
		if strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("line %d: %q: a case name has no spaces", n, name)
		}
		exp[name] = reason
	}
	return exp, sc.Err()
}

// Names returns the listed case names, sorted.
func (e Expected) Names() []string {
	out := make([]string, 0, len(e))
	for k := range e {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WithExpected wraps t so that the listed cases (names relative to t, as the suite prints them) are expected to
// fail: their failures are logged and the case ends as skipped "expected failure: <reason>"; a listed case that
// passes fails with "unexpectedly passing — remove it from the list".
func WithExpected(t TestLike, exp Expected) TestLike {
	return &expT{TestLike: t, exp: exp}
}

type expT struct {
	TestLike
	exp    Expected
	rel    string // name relative to the wrapped root
	reason string // non-empty: this case is expected to fail
	mu     sync.Mutex
	failed bool
	done   bool
}

func (t *expT) Run(name string, f func(TestLike)) bool {
	rel := name
	if t.rel != "" {
		rel = t.rel + "/" + name
	}
	return t.TestLike.Run(name, func(inner TestLike) {
		c := &expT{TestLike: inner, exp: t.exp, rel: rel, reason: t.exp[rel]}
		if c.reason == "" {
			f(c)
			return
		}
		defer func() {
			c.mu.Lock()
			failed, done := c.failed, c.done
			c.done = true
			c.mu.Unlock()
			if done {
				return
			}
			if failed {
				inner.Skipf("expected failure: %s", c.reason)
			} else if !inner.Failed() {
				inner.Errorf("unexpectedly passing — remove it from the list (it was expected to fail: %s)", c.reason)
			}
		}()
		f(c)
	})
}

func (t *expT) Errorf(format string, args ...any) {
	if t.reason == "" {
		t.TestLike.Helper()
		t.TestLike.Errorf(format, args...)
		return
	}
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	t.TestLike.Logf("(expected) "+format, args...)
}

func (t *expT) Fatalf(format string, args ...any) {
	if t.reason == "" {
		t.TestLike.Helper()
		t.TestLike.Fatalf(format, args...)
		return
	}
	t.mu.Lock()
	t.failed, t.done = true, true
	t.mu.Unlock()
	t.TestLike.Logf("(expected) "+format, args...)
	t.TestLike.Skipf("expected failure: %s", t.reason)
}

func (t *expT) Failed() bool {
	if t.reason == "" {
		return t.TestLike.Failed()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}
