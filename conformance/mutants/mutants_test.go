package mutants_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/imspec/imserver/conformance"
	"github.com/imspec/imserver/conformance/harness"
	"github.com/imspec/imserver/conformance/mutants"
	"github.com/imspec/imserver/conformance/runner"
)

func TestMain(m *testing.M) { harness.Main(m) }

func repoRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// TestSetWellFormed checks the set itself (IDs unique, areas known, a real change) and says which mutants no
// longer apply to the current tree (stale: the code they change moved or was rewritten).
func TestSetWellFormed(t *testing.T) {
	ids := map[string]bool{}
	areas := map[string]bool{}
	for _, a := range mutants.Areas {
		areas[a] = true
	}
	root := repoRoot(t)
	stale := 0
	for _, m := range mutants.Set {
		switch {
		case m.ID == "" || m.Desc == "" || m.Files == "" || m.Find == "":
			t.Errorf("%+v: ID, Desc, Files and Find are required", m)
		case ids[m.ID]:
			t.Errorf("%s: duplicate ID", m.ID)
		case !areas[m.Area]:
			t.Errorf("%s: area %q is not one of %v", m.ID, m.Area, mutants.Areas)
		case m.Find == m.Replace:
			t.Errorf("%s: the replacement changes nothing", m.ID)
		}
		ids[m.ID] = true
		if _, n, err := m.Locate(root); err != nil || n != 1 {
			stale++
			t.Logf("stale: %s: the snippet occurs %d times in %s (%v): %q", m.ID, n, m.Files, err, m.Find)
		}
	}
	t.Logf("%d mutants, %d stale on this tree", len(mutants.Set), stale)
}

// result is what became of one mutant.
type result struct {
	m      mutants.Mutant
	status string // killed, survived, stale, broken (does not build)
	by     []string
	detail string
	took   time.Duration
}

// TestMutants runs the suite against every mutant of the set selected by IMCONFORM_MUTANTS: "all", "sample"
// (the first of each area), or a regular expression on IDs. It fails when the suite does not pass the
// unmutated server, and prints the kill rate per area. IMCONFORM_MUTANTS_MIN (a percentage) makes a lower kill
// rate fail the test.
func TestMutants(t *testing.T) {
	sel := os.Getenv("IMCONFORM_MUTANTS")
	if sel == "" {
		t.Skip("set IMCONFORM_MUTANTS=all|sample|<regexp on IDs> to run the suite against the mutants (make mutants)")
	}
	var set []mutants.Mutant
	switch sel {
	case "all":
		set = mutants.Set
	case "sample":
		set = mutants.Sample(mutants.Set)
	default:
		re := regexp.MustCompile(sel)
		for _, m := range mutants.Set {
			if re.MatchString(m.ID) {
				set = append(set, m)
			}
		}
	}
	if len(set) == 0 {
		t.Skipf("IMCONFORM_MUTANTS=%s selects no mutant", sel)
	}
	root := repoRoot(t)
	work := filepath.Join(root, ".bin", "mutants-run")
	tree := filepath.Join(work, "tree")
	if err := mutants.CopyTree(root, tree); err != nil {
		t.Fatal(err)
	}
	s, err := conformance.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Now()
	base := filepath.Join(work, "imserver-base")
	if err := mutants.Build(ctx, tree, base); err != nil {
		t.Fatalf("building the unmutated server: %v", err)
	}
	t.Logf("unmutated server built in %s", time.Since(t0).Round(time.Second))
	if rep := runSuite(t, s, base, false); !rep.OK() {
		t.Fatalf("the suite fails on the unmutated server (%v): the mutants would prove nothing", failedNames(rep, 5))
	}

	// Build the next mutant while the suite runs against the current one.
	type built struct {
		m   mutants.Mutant
		bin string
		err error
		dur time.Duration
	}
	ch := make(chan built, 1)
	go func() {
		defer close(ch)
		for _, m := range set {
			t0 := time.Now()
			bin := filepath.Join(work, "imserver-"+m.ID)
			restore, err := m.Apply(tree)
			if err == nil {
				err = mutants.Build(ctx, tree, bin)
				if rerr := restore(); rerr != nil && err == nil {
					err = rerr
				}
			}
			ch <- built{m: m, bin: bin, err: err, dur: time.Since(t0)}
		}
	}()
	var results []result
	var lines []string
	for b := range ch {
		r := result{m: b.m}
		t0 := time.Now()
		switch {
		case b.err != nil && strings.HasPrefix(b.err.Error(), mutants.Stale):
			r.status, r.detail = "stale", b.err.Error()
		case b.err != nil:
			r.status, r.detail = "broken", firstLines(b.err.Error(), 6)
		default:
			rep := runSuite(t, s, b.bin, true)
			if rep.OK() {
				r.status = "survived"
			} else {
				r.status, r.by = "killed", failedNames(rep, 3)
				if len(rep.Setup) > 0 {
					r.by = append(r.by, "(setup) "+firstLines(strings.Join(rep.Setup, "; "), 1))
				}
			}
			_ = os.Remove(b.bin)
		}
		r.took = b.dur + time.Since(t0)
		results = append(results, r)
		line := fmt.Sprintf("%-9s %-28s %-13s %5.1fs  %s", r.status, r.m.ID, r.m.Area, r.took.Seconds(), r.m.Desc)
		if len(r.by) > 0 {
			line += "\n          by " + strings.Join(r.by, ", ")
		}
		if r.detail != "" {
			line += "\n          " + r.detail
		}
		fmt.Fprintln(os.Stderr, line)
		lines = append(lines, line)
	}
	summary, rate := summarize(results)
	fmt.Fprint(os.Stderr, summary)
	if err := os.WriteFile(filepath.Join(work, "report.txt"), []byte(strings.Join(lines, "\n")+"\n"+summary), 0o644); err != nil {
		t.Log(err)
	}
	t.Logf("done in %s", time.Since(t0).Round(time.Second))
	if min := os.Getenv("IMCONFORM_MUTANTS_MIN"); min != "" {
		var want float64
		fmt.Sscanf(min, "%g", &want)
		if rate < want {
			t.Errorf("kill rate %.1f %% is below IMCONFORM_MUTANTS_MIN=%s", rate, min)
		}
	}
}

// runSuite starts a server from bin (a fresh database on the test binary's cluster) and runs the suite.
func runSuite(t *testing.T, s *conformance.Suite, bin string, failFast bool) *runner.Report {
	var rep *runner.Report
	t.Run(filepath.Base(bin), func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Rate limits off: a 429 under the suite's load must not pass for a kill.
		tg, err := harness.ProcessBinary(bin, "IMSERVER_RATE_LIMIT=off").Start(ctx, t)
		if err != nil {
			// A mutant that cannot even start is killed by anyone; say so.
			rep = &runner.Report{Setup: []string{"the server did not start: " + firstLines(err.Error(), 1)}}
			return
		}
		rep = runner.Run(s, runner.Options{Target: conformance.Target{APIURL: tg.APIURL, WSURL: tg.WSURL, Secret: tg.Secret,
			Admin: tg.Admin}, Parallel: 16, Timeout: 5 * time.Minute, FailFast: failFast})
	})
	return rep
}

func failedNames(rep *runner.Report, n int) []string {
	var out []string
	if rep.FirstFailed != "" {
		// With FailFast the cases still running when the first failed end with their context: only the first
		// failure says what killed the mutant.
		return []string{rep.FirstFailed}
	}
	for _, r := range rep.Results {
		if r.Status == runner.Fail && len(out) < n && r.Name != rep.FirstFailed && !strings.Contains(strings.Join(r.Output, " "), "context canceled") {
			out = append(out, r.Name)
		}
	}
	if len(out) == 0 {
		for _, r := range rep.Results {
			if r.Status == runner.Fail && len(out) < n {
				out = append(out, r.Name)
			}
		}
	}
	return out
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

// summarize prints the kill rate per area (stale and broken mutants are not counted) and the survivors.
func summarize(rs []result) (string, float64) {
	type tally struct{ killed, survived, stale, broken int }
	by := map[string]*tally{}
	var total tally
	for _, r := range rs {
		if by[r.m.Area] == nil {
			by[r.m.Area] = &tally{}
		}
		for _, t := range []*tally{by[r.m.Area], &total} {
			switch r.status {
			case "killed":
				t.killed++
			case "survived":
				t.survived++
			case "stale":
				t.stale++
			case "broken":
				t.broken++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nKILL RATE BY AREA (killed / applied; stale and broken mutants are not counted)\n")
	fmt.Fprintf(&b, "%-14s %8s %8s %6s %6s\n", "area", "killed", "rate", "stale", "broken")
	areas := append([]string{}, mutants.Areas...)
	sort.SliceStable(areas, func(i, j int) bool { return false })
	pct := func(t tally) float64 {
		if n := t.killed + t.survived; n > 0 {
			return 100 * float64(t.killed) / float64(n)
		}
		return 0
	}
	for _, a := range areas {
		t := by[a]
		if t == nil {
			continue
		}
		fmt.Fprintf(&b, "%-14s %4d/%-3d %7.1f%% %6d %6d\n", a, t.killed, t.killed+t.survived, pct(*t), t.stale, t.broken)
	}
	fmt.Fprintf(&b, "%-14s %4d/%-3d %7.1f%% %6d %6d\n", "all", total.killed, total.killed+total.survived, pct(total), total.stale, total.broken)
	for _, r := range rs {
		if r.status == "survived" {
			fmt.Fprintf(&b, "survivor: %s (%s): %s\n", r.m.ID, r.m.Area, r.m.Desc)
		}
	}
	return b.String(), pct(total)
}
