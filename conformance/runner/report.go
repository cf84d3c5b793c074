package runner

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/imspec/imserver/conformance"
	"github.com/imspec/imserver/conformance/match"
)

// CoverageItem is a coverage item of the specs with its outcome: passed (every case covering it passed),
// failed (one of them failed, or is expected to), or uncovered (no case covers it).
type CoverageItem struct {
	conformance.Item
	Status string   `json:"status"`
	Cases  []string `json:"cases,omitempty"`
}

func coverage(items []conformance.Item, results []Result) []CoverageItem {
	byItem := map[string][]Result{}
	for _, r := range results {
		for _, id := range r.Covers {
			byItem[id] = append(byItem[id], r)
		}
	}
	var out []CoverageItem
	for _, it := range items {
		ci := CoverageItem{Item: it, Status: "uncovered"}
		rs := byItem[it.ID]
		if len(rs) > 0 {
			ci.Status = "passed"
			for _, r := range rs {
				ci.Cases = append(ci.Cases, r.Name)
				if r.Status != Pass && r.Status != XPass {
					ci.Status = "failed"
				}
			}
		}
		out = append(out, ci)
	}
	return out
}

// WriteText writes the human report: each failure with its output, expected failures and unexpected passes, the
// summary, and the coverage matrix.
func (r *Report) WriteText(w io.Writer, verbose bool) {
	for _, s := range r.Setup {
		fmt.Fprintf(w, "SETUP FAILURE: %s\n", s)
	}
	for _, res := range r.Results {
		switch res.Status {
		case Fail:
			fmt.Fprintf(w, "--- FAIL: %s (%.2fs)\n", res.Name, res.Seconds)
			writeOutput(w, res.Output)
		case XFail:
			fmt.Fprintf(w, "--- XFAIL: %s (expected: %s)\n", res.Name, res.Reason)
			if verbose {
				writeOutput(w, res.Output)
			}
		case XPass:
			fmt.Fprintf(w, "--- XPASS: %s: unexpectedly passing — remove it from the list (it says: %s)\n", res.Name, res.Reason)
		default:
			if verbose {
				fmt.Fprintf(w, "--- %s: %s (%.2fs)\n", strings.ToUpper(res.Status), res.Name, res.Seconds)
				writeOutput(w, res.Output)
			}
		}
	}
	for _, n := range r.Unknown {
		fmt.Fprintf(w, "warning: the expected-failures file lists %q, which is not a case of this suite\n", n)
	}
	fmt.Fprintln(w)
	r.writeCoverage(w)
	fmt.Fprintln(w)
	c := r.Counts()
	fmt.Fprintf(w, "%d cases in %s: %d passed, %d failed, %d expected failures, %d unexpectedly passing, %d skipped\n",
		len(r.Results), r.Duration.Round(10*time.Millisecond), c[Pass], c[Fail], c[XFail], c[XPass], c[Skip])
	switch {
	case r.TimedOut:
		fmt.Fprintln(w, "FAIL (timed out)")
	case r.OK():
		fmt.Fprintln(w, "PASS")
	default:
		fmt.Fprintln(w, "FAIL")
	}
}

func writeOutput(w io.Writer, lines []string) {
	for _, l := range lines {
		for _, part := range strings.Split(l, "\n") {
			fmt.Fprintf(w, "    %s\n", part)
		}
	}
}

type tally struct{ passed, covered, total int }

func (t *tally) add(status string) {
	t.total++
	if status == "passed" {
		t.passed++
	}
	if status != "uncovered" {
		t.covered++
	}
}

func pct(n, d int) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d %.0f%%", n, d, 100*float64(n)/float64(d))
}

func (t tally) String() string {
	if t.total == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d %3.0f%%", t.passed, t.total, 100*float64(t.passed)/float64(t.total))
}

// writeCoverage prints operations × (examples, documented errors), events × triggers and the WebSocket
// operations, each as passed/in-the-spec with a percentage.
func (r *Report) writeCoverage(w io.Writer) {
	type row struct {
		name           string
		examples, errs tally
	}
	var ops []*row
	opRow := map[string]*row{}
	var events []*row
	evRow := map[string]*row{}
	var ws tally
	var wsFailed []string
	var totEx, totErr, totTr tally
	for _, it := range r.Coverage {
		switch it.Kind {
		case "example", "error":
			rw := opRow[it.Group]
			if rw == nil {
				rw = &row{name: it.Group}
				opRow[it.Group] = rw
				ops = append(ops, rw)
			}
			if it.Kind == "example" {
				rw.examples.add(it.Status)
				totEx.add(it.Status)
			} else {
				rw.errs.add(it.Status)
				totErr.add(it.Status)
			}
		case "trigger":
			rw := evRow[it.Group]
			if rw == nil {
				rw = &row{name: it.Group}
				evRow[it.Group] = rw
				events = append(events, rw)
			}
			rw.examples.add(it.Status)
			totTr.add(it.Status)
		case "wsop":
			ws.add(it.Status)
			if it.Status == "failed" || (it.Status == "uncovered" && !r.Filtered) {
				wsFailed = append(wsFailed, it.Label+" ("+it.Status+")")
			}
		}
	}
	fmt.Fprintln(w, "COVERAGE (items of the specs whose cases all passed / items in the specs)")
	if r.Filtered {
		fmt.Fprintln(w, "(--run selected a subset of the cases: rows without a selected case are left out, and the items of the cases not run count as not covered)")
	}
	fmt.Fprintf(w, "%-28s %-14s %s\n", "operation", "examples", "documented errors")
	for _, rw := range ops {
		if r.Filtered && rw.examples.covered+rw.errs.covered == 0 {
			continue
		}
		fmt.Fprintf(w, "%-28s %-14s %s\n", rw.name, rw.examples, rw.errs)
	}
	fmt.Fprintf(w, "%-28s %-14s %s\n", "all operations", totEx, totErr)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-28s %s\n", "event", "x-trigger rules")
	for _, rw := range events {
		if r.Filtered && rw.examples.covered == 0 {
			continue
		}
		fmt.Fprintf(w, "%-28s %s\n", rw.name, rw.examples)
	}
	fmt.Fprintf(w, "%-28s %s\n", "all events", totTr)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-28s %s\n", "WebSocket operations", ws)
	if len(wsFailed) > 0 {
		fmt.Fprintf(w, "  not passing: %s\n", strings.Join(wsFailed, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-28s %-18s %-18s %-18s %s\n", "", "examples", "documented errors", "x-trigger rules", "WebSocket ops")
	fmt.Fprintf(w, "%-28s %-18s %-18s %-18s %s\n", "covered by a case", pct(totEx.covered, totEx.total), pct(totErr.covered, totErr.total),
		pct(totTr.covered, totTr.total), pct(ws.covered, ws.total))
	fmt.Fprintf(w, "%-28s %-18s %-18s %-18s %s\n", "passed", pct(totEx.passed, totEx.total), pct(totErr.passed, totErr.total),
		pct(totTr.passed, totTr.total), pct(ws.passed, ws.total))
	fmt.Fprintln(w, "(a documented error counts as covered when an example or a generated case provokes it; 500 is not counted)")
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string     `xml:"classname,attr"`
	Name      string     `xml:"name,attr"`
	Time      string     `xml:"time,attr"`
	Failure   *junitText `xml:"failure,omitempty"`
	Skipped   *junitText `xml:"skipped,omitempty"`
	SystemOut string     `xml:"system-out,omitempty"`
}

type junitText struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one testsuite per first name element (tag, events, ws), one
// testcase per case; expected failures are skipped with their reason, unexpected passes are failures.
func (r *Report) WriteJUnit(path string) error {
	var suites []junitSuite
	index := map[string]int{}
	for _, res := range r.Results {
		top, rest, _ := strings.Cut(res.Name, "/")
		i, ok := index[top]
		if !ok {
			i = len(suites)
			index[top] = i
			suites = append(suites, junitSuite{Name: "imconform/" + top})
		}
		class, name := top, rest
		if j := strings.LastIndex(rest, "/"); j >= 0 {
			class, name = top+"."+strings.ReplaceAll(rest[:j], "/", "."), rest[j+1:]
		}
		jc := junitCase{Classname: class, Name: name, Time: fmt.Sprintf("%.3f", res.Seconds)}
		out := strings.Join(res.Output, "\n")
		switch res.Status {
		case Fail:
			msg := res.Failure // the failed check, not the case's first log line
			if msg == "" {
				msg = out
			}
			jc.Failure = &junitText{Message: firstLine(msg), Body: out}
			suites[i].Failures++
		case XPass:
			jc.Failure = &junitText{Message: "unexpectedly passing — remove it from the expected-failures list", Body: res.Reason}
			suites[i].Failures++
		case XFail:
			jc.Skipped = &junitText{Message: "expected failure: " + res.Reason, Body: out}
			suites[i].Skipped++
		case Skip:
			jc.Skipped = &junitText{Message: firstLine(out), Body: out}
			suites[i].Skipped++
		default:
			jc.SystemOut = out
		}
		suites[i].Tests++
		suites[i].Cases = append(suites[i].Cases, jc)
	}
	for i := range suites {
		var total float64
		for _, c := range suites[i].Cases {
			var f float64
			fmt.Sscanf(c.Time, "%g", &f)
			total += f
		}
		suites[i].Time = fmt.Sprintf("%.3f", total)
	}
	b, err := xml.MarshalIndent(junitSuites{Suites: suites}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return match.Cut(s, 200)
}
