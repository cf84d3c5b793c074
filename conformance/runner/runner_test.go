package runner

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imspec/imserver/conformance"
)

// TestTestLike checks the runner's go-test semantics: parallel cases run together under the limit, Fatalf and
// Skipf end a case, cleanups run after it, and the expected-failures list turns failures into XFAIL and passes
// into XPASS.
func TestTestLike(t *testing.T) {
	var running, peak atomic.Int32
	var cleaned atomic.Bool
	body := func(t conformance.TestLike) {
		t.Run("g", func(t conformance.TestLike) {
			t.Parallel()
			for _, name := range []string{"a", "b", "c", "d"} {
				t.Run(name, func(t conformance.TestLike) {
					t.Parallel()
					n := running.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(50 * time.Millisecond)
					running.Add(-1)
				})
			}
		})
		t.Run("fatal", func(t conformance.TestLike) {
			t.Parallel()
			t.Cleanup(func() { cleaned.Store(true) })
			t.Fatalf("data.x: want 1, got 2")
			t.Errorf("not reached")
		})
		t.Run("skip", func(t conformance.TestLike) { t.Skipf("not for this server") })
		t.Run("xfail", func(t conformance.TestLike) { t.Errorf("still broken") })
		t.Run("xpass", func(t conformance.TestLike) {})
	}
	cases := []conformance.Case{{Name: "g/a"}, {Name: "g/b"}, {Name: "g/c"}, {Name: "g/d"}, {Name: "fatal"}, {Name: "skip"},
		{Name: "xfail", Covers: []string{"op/x/example/e"}}, {Name: "xpass"}}
	items := []conformance.Item{{ID: "op/x/example/e", Kind: "example", Group: "x", Label: "e", Required: true}}
	rep := execute(cases, items, body, Options{Parallel: 2, Timeout: time.Minute,
		Expected: conformance.Expected{"xfail": "known", "xpass": "fixed since", "gone": "no such case"}})
	status := map[string]string{}
	for _, r := range rep.Results {
		status[r.Name] = r.Status
	}
	want := map[string]string{"g/a": Pass, "g/b": Pass, "g/c": Pass, "g/d": Pass, "fatal": Fail, "skip": Skip, "xfail": XFail, "xpass": XPass}
	for n, s := range want {
		if status[n] != s {
			t.Errorf("%s: status %q, want %q", n, status[n], s)
		}
	}
	if p := peak.Load(); p < 2 || p > 2 {
		t.Errorf("peak parallelism %d, want 2 (--parallel 2)", p)
	}
	if !cleaned.Load() {
		t.Error("the cleanup of a case that called Fatalf did not run")
	}
	if rep.OK() {
		t.Error("a failed case must make the report not OK")
	}
	if len(rep.Unknown) != 1 || rep.Unknown[0] != "gone" {
		t.Errorf("unknown expected entries: %v", rep.Unknown)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf, false)
	for _, s := range []string{"--- FAIL: fatal", "data.x: want 1, got 2", "--- XFAIL: xfail (expected: known)",
		"unexpectedly passing — remove it from the list", `lists "gone"`, "8 cases in"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, buf.String())
		}
	}
}

// TestWithExpected checks the go-test side of the expected-failures list through the runner's TestLike.
func TestWithExpected(t *testing.T) {
	body := func(t conformance.TestLike) {
		t = conformance.WithExpected(t, conformance.Expected{"known": "reason", "fixed": "reason"})
		t.Run("known", func(t conformance.TestLike) { t.Fatalf("broken") })
		t.Run("fixed", func(t conformance.TestLike) {})
		t.Run("other", func(t conformance.TestLike) {})
	}
	rep := execute([]conformance.Case{{Name: "known"}, {Name: "fixed"}, {Name: "other"}}, nil, body, Options{Timeout: time.Minute})
	status := map[string]string{}
	for _, r := range rep.Results {
		status[r.Name] = r.Status
	}
	if status["known"] != Skip || status["fixed"] != Fail || status["other"] != Pass {
		t.Errorf("statuses %v: want known skipped (expected failure), fixed failed (unexpectedly passing), other passed", status)
	}
}
