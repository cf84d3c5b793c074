// Package runner runs the conformance suite outside `go test`: it is the imconform command (flags, progress,
// reports, JUnit XML, JSON, coverage matrix, expected failures) over its own implementation of
// conformance.TestLike.
package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/imspec/imserver/conformance"
	"github.com/imspec/imserver/conformance/match"
)

// Options configure a run.
type Options struct {
	Target   conformance.Target
	Run      *regexp.Regexp       // only the cases whose names match (nil: all)
	Parallel int                  // cases at once (default 16)
	Timeout  time.Duration        // bound on the whole run (default 10 minutes)
	Expected conformance.Expected // cases expected to fail
	Progress io.Writer            // the progress line (nil: none)
	Verbose  bool                 // also print the logs of cases that passed
	// FailFast ends the run at the first unexpected failure (the cases still running end with their context):
	// for the mutation runs, where one failure is the answer.
	FailFast bool
}

// Status of a case.
const (
	Pass  = "pass"
	Fail  = "fail"
	Skip  = "skip"
	XFail = "xfail" // failed, as the expected-failures file says
	XPass = "xpass" // passed, though the expected-failures file says it fails
)

// Result is the outcome of one case.
type Result struct {
	Name     string        `json:"name"`
	Status   string        `json:"status"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	Output   []string      `json:"output,omitempty"`
	Reason   string        `json:"expectedFailure,omitempty"`
	Failure  string        `json:"failure,omitempty"` // the first failed check
	Covers   []string      `json:"covers,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Target   conformance.Target `json:"target"`
	Started  time.Time          `json:"started"`
	Duration time.Duration      `json:"-"`
	Seconds  float64            `json:"seconds"`
	Results  []Result           `json:"cases"`
	Setup    []string           `json:"setupErrors,omitempty"` // failures outside any case (e.g. the server unreachable)
	TimedOut bool               `json:"timedOut,omitempty"`
	Filtered bool               `json:"filtered,omitempty"`        // --run selected a subset
	Unknown  []string           `json:"unknownExpected,omitempty"` // expected-failure entries that name no case
	Coverage []CoverageItem     `json:"coverage"`
	// FirstFailed is the case that failed first (in time), "" when none did.
	FirstFailed string `json:"firstFailed,omitempty"`
}

// Counts tallies the results by status.
func (r *Report) Counts() map[string]int {
	c := map[string]int{}
	for _, x := range r.Results {
		c[x.Status]++
	}
	return c
}

// OK tells whether everything not expected to fail passed.
func (r *Report) OK() bool {
	return !r.TimedOut && len(r.Setup) == 0 && r.Counts()[Fail] == 0
}

type run struct {
	order    map[string]int
	o        Options
	sem      chan struct{}
	selected func(name string) bool
	total    int
	covers   map[string][]string

	cancel  context.CancelFunc
	mu      sync.Mutex
	first   string // the first case that failed
	stopped bool   // FailFast ended the run
	running map[*tnode]bool
	results []Result
	failed  int
	root    *tnode
}

// Run runs the suite against o.Target.
func Run(s *conformance.Suite, o Options) *Report {
	return execute(s.Cases(), s.Items(), func(t conformance.TestLike) { s.Run(t, o.Target) }, o)
}

// execute runs body (which starts the cases as subtests) and reports on the given cases and items.
func execute(cases []conformance.Case, items []conformance.Item, body func(conformance.TestLike), o Options) *Report {
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	r := &run{order: map[string]int{}, o: o, sem: make(chan struct{}, o.Parallel), running: map[*tnode]bool{}, covers: map[string][]string{}}
	names := map[string]bool{}
	for i, c := range cases {
		r.order[c.Name] = i
		r.covers[c.Name] = c.Covers
		if o.Run == nil || o.Run.MatchString(c.Name) {
			names[c.Name] = true
			r.total++
		}
	}
	r.selected = func(n string) bool {
		if names[n] {
			return true
		}
		for c := range names {
			if strings.HasPrefix(c, n+"/") {
				return true
			}
		}
		return false
	}
	rep := &Report{Target: o.Target, Started: time.Now(), Filtered: o.Run != nil}
	for _, n := range o.Expected.Names() {
		if _, ok := r.covers[n]; !ok {
			rep.Unknown = append(rep.Unknown, n)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	r.cancel = cancel
	r.root = newNode(r, "", nil, ctx)
	go r.root.exec(body)

	stopProgress := r.progress()
	select {
	case <-r.root.done:
	case <-ctx.Done():
		r.mu.Lock()
		rep.TimedOut = !r.stopped
		r.mu.Unlock()
		// Give the cases a moment to notice their ended context, then report what is still running.
		select {
		case <-r.root.done:
		case <-time.After(5 * time.Second):
		}
	}
	stopProgress()

	r.mu.Lock()
	rep.Results = append(rep.Results, r.results...)
	rep.FirstFailed = r.first
	if rep.TimedOut {
		for n := range r.running {
			if !n.hasChildren {
				rep.Results = append(rep.Results, Result{Name: n.name, Status: Fail, Duration: time.Since(n.start),
					Output: append(n.snapshotLogs(), fmt.Sprintf("timed out: the run's --timeout %s ended while it ran", o.Timeout))})
			}
		}
	}
	r.mu.Unlock()
	if logs := r.root.snapshotLogs(); r.root.Failed() && len(logs) > 0 {
		rep.Setup = logs
	}
	sort.SliceStable(rep.Results, func(i, j int) bool { return r.rank(rep.Results[i].Name) < r.rank(rep.Results[j].Name) })
	rep.Duration = time.Since(rep.Started)
	rep.Seconds = rep.Duration.Seconds()
	for i := range rep.Results {
		rep.Results[i].Seconds = rep.Results[i].Duration.Seconds()
	}
	rep.Coverage = coverage(items, rep.Results)
	return rep
}

func (r *run) rank(name string) int {
	if i, ok := r.order[name]; ok {
		return i
	}
	return 1 << 30
}

func (t *tnode) snapshotLogs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.logs...)
}

func (r *run) started(t *tnode) {
	r.mu.Lock()
	r.running[t] = true
	r.mu.Unlock()
}

// finished records a case (a test without subtests) when it ends.
func (r *run) finished(t *tnode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, t)
	if t.hasChildren || t == r.root {
		return
	}
	res := Result{Name: t.name, Duration: time.Since(t.start), Output: t.logs, Covers: r.covers[t.name], Failure: t.failure}
	reason, expected := r.o.Expected[t.name]
	switch {
	case t.failed && expected:
		res.Status, res.Reason = XFail, reason
	case t.failed:
		res.Status = Fail
		r.failed++
		if r.first == "" {
			r.first = t.name
		}
		if r.o.FailFast && !r.stopped {
			r.stopped = true
			r.cancel()
		}
	case t.skipped:
		res.Status = Skip
	case expected:
		res.Status, res.Reason = XPass, reason
	default:
		res.Status = Pass
	}
	r.results = append(r.results, res)
}

// progress prints "[done/total] failed · running: …" while the run goes on; it returns the function that stops it.
func (r *run) progress() func() {
	w := r.o.Progress
	if w == nil {
		return func() {}
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	every := 5 * time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	line := func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		var cur []string
		for n := range r.running {
			if !n.hasChildren && n.parallel {
				cur = append(cur, n.name)
			}
		}
		sort.Strings(cur)
		s := fmt.Sprintf("[%d/%d] %d failed", len(r.results), r.total, r.failed)
		if len(cur) > 0 {
			s += " · running: " + cur[0]
			if len(cur) > 1 {
				s += fmt.Sprintf(" (+%d)", len(cur)-1)
			}
		}
		s = match.Cut(s, 110)
		return s
	}
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				if tty {
					fmt.Fprintf(w, "\r\033[K")
				}
				return
			case <-tick.C:
				if tty {
					fmt.Fprintf(w, "\r\033[K%s", line())
				} else {
					fmt.Fprintln(w, line())
				}
			}
		}
	}()
	return func() { close(stop); wg.Wait() }
}
