package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/imspec/imserver/load"
)

// metric is one figure of a result that is compared.
type metric struct {
	name         string
	higherBetter bool
	get          func(load.Result) (float64, bool)
}

func rate(r load.Result) float64 { v, _ := r.Params["rate"].(float64); return v }

// metrics in the order they are printed. A run at a fixed rate acknowledges what it offers, so its
// throughput says nothing and is left out.
var metrics = []metric{
	{"acked/s", true, func(r load.Result) (float64, bool) {
		return r.AckRate, r.AckRate > 0 && r.Scenario != "fanout" && rate(r) == 0
	}},
	{"delivered/s", true, func(r load.Result) (float64, bool) {
		return r.DeliverRate, r.DeliverRate > 0 && r.Scenario == "fanout" && rate(r) == 0
	}},
	{"p50 ms", false, func(r load.Result) (float64, bool) {
		if r.Latency == nil {
			return 0, false
		}
		return r.Latency.P50MS, true
	}},
	{"p99 ms", false, func(r load.Result) (float64, bool) {
		if r.Latency == nil {
			return 0, false
		}
		return r.Latency.P99MS, true
	}},
	{"server+db CPU µs/op", false, func(r load.Result) (float64, bool) {
		return figure(r, "server+database CPU per ")
	}},
	{"server RSS KiB/conn", false, func(r load.Result) (float64, bool) {
		return figure(r, "server RSS per connection")
	}},
}

// figure finds a figure by the start of its name (the unit follows it: "server+database CPU per message").
func figure(r load.Result, prefix string) (float64, bool) {
	for _, f := range r.Figures {
		if strings.HasPrefix(f.Name, prefix) && !strings.Contains(f.Name, " after ") {
			return f.Value, true
		}
	}
	return 0, false
}

// row is one scenario's figure over all the runs of both sides.
type row struct {
	label, metric string
	higherBetter  bool
	base, new     []float64 // per run, NaN where the run lacks the figure
	ratios        []float64 // new/base of each alternated pair that has both
	notOK         int       // runs of either side whose status was not ok
}

// compare lines up the results of the same label (scenario and its parameters) across the runs.
func compare(base, next []load.Report) []row {
	var labels []string
	for _, rep := range append(slices.Clone(base), next...) {
		for _, r := range rep.Results {
			if !slices.Contains(labels, r.Label) {
				labels = append(labels, r.Label)
			}
		}
	}
	var rows []row
	for _, label := range labels {
		for _, m := range metrics {
			rw := row{label: label, metric: m.name, higherBetter: m.higherBetter}
			collect := func(reps []load.Report) []float64 {
				vs := make([]float64, len(reps))
				for i, rep := range reps {
					vs[i] = math.NaN()
					for _, r := range rep.Results {
						if r.Label != label {
							continue
						}
						if r.Status != load.StatusOK {
							rw.notOK++
						}
						if v, ok := m.get(r); ok {
							vs[i] = v
						}
					}
				}
				return vs
			}
			rw.base, rw.new = collect(base), collect(next)
			for i := range min(len(rw.base), len(rw.new)) {
				if b, n := rw.base[i], rw.new[i]; !math.IsNaN(b) && !math.IsNaN(n) && b > 0 {
					rw.ratios = append(rw.ratios, n/b)
				}
			}
			if len(present(rw.base)) > 0 || len(present(rw.new)) > 0 {
				rows = append(rows, rw)
			}
		}
	}
	return rows
}

func present(vs []float64) []float64 {
	var out []float64
	for _, v := range vs {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// spread is the median and range of some figures.
type spread struct{ median, min, max float64 }

func spreadOf(vs []float64) (spread, bool) {
	vs = present(vs)
	if len(vs) == 0 {
		return spread{}, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{m, s[0], s[len(s)-1]}, true
}

// minPairs is the fewest alternated pairs a verdict needs: with two, noise alone makes both pairs agree half
// the time.
const minPairs = 3

// verdict calls a change only when there are minPairs pairs or more and every one of them moved the same
// way by more than the noise: the threshold, or the base runs' own spread ((max-min)/median) when wider.
func verdict(r row, threshold float64) string {
	if len(r.ratios) < minPairs {
		return fmt.Sprintf("(%d pair(s): no verdict below %d)", len(r.ratios), minPairs)
	}
	noise := threshold
	if s, ok := spreadOf(r.base); ok && s.median > 0 {
		noise = max(noise, (s.max-s.min)/s.median)
	}
	up, down := true, true
	for _, x := range r.ratios {
		up = up && x > 1+noise
		down = down && x < 1-noise
	}
	switch {
	case up == r.higherBetter && (up || down):
		return "better"
	case up || down:
		return "WORSE"
	}
	return "~"
}

func writeTable(w io.Writer, rows []row, threshold float64, nBase, nNew int) {
	fmt.Fprintf(w, "new/base over %d alternated pair(s) of runs (base runs %d, new runs %d): the median ratio and its min–max;\n", min(nBase, nNew), nBase, nNew)
	fmt.Fprintf(w, "better/WORSE only when %d or more pairs all moved the same way by more than %.0f%% and more than the base runs' own spread, else ~\n\n", minPairs, 100*threshold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\tbase: median (min–max)\tnew: median (min–max)\tnew/base: median (min–max)\t")
	for _, r := range rows {
		ratio := "—"
		if s, ok := spreadOf(r.ratios); ok {
			ratio = fmt.Sprintf("%s (%s … %s)  %s", pct(s.median), pct(s.min), pct(s.max), verdict(r, threshold))
		}
		note := ""
		if r.notOK > 0 {
			note = fmt.Sprintf("  [%d run(s) not ok]", r.notOK)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%s\t\n", r.label, r.metric, spreadString(r.base), spreadString(r.new), ratio, note)
	}
	tw.Flush()
}

// pct prints a ratio as a change: 1.043 → +4.3%.
func pct(ratio float64) string {
	return fmt.Sprintf("%+.1f%%", 100*(ratio-1))
}

func spreadString(vs []float64) string {
	s, ok := spreadOf(vs)
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.median), num(s.min), num(s.max))
}

// num prints a figure with about three significant digits and thousands separators.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return load.Thousands(v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// benchfmt writes every report as one iteration of Go benchmarks, one line per result:
// BenchmarkPairs/pairs=50,rate=500 1 496 acked/s 28.3 p50-ms …, which benchstat reads.
func benchfmt(reps []load.Report) string {
	var b strings.Builder
	for _, rep := range reps {
		for _, r := range rep.Results {
			if r.Status != load.StatusOK {
				continue
			}
			var vals []string
			for _, m := range metrics {
				if v, ok := m.get(r); ok {
					vals = append(vals, fmt.Sprintf("%g %s", v, unitName(m.name)))
				}
			}
			if len(vals) > 0 {
				fmt.Fprintf(&b, "%s 1 %s\n", benchName(r.Label), strings.Join(vals, " "))
			}
		}
	}
	return b.String()
}

// benchName makes a label a benchmark name: no spaces, "Benchmark" then an upper-case letter.
func benchName(label string) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, strings.Replace(label, ":", "/", 1))
	if s == "" {
		return "Benchmark"
	}
	return "Benchmark" + strings.ToUpper(s[:1]) + s[1:]
}

// unitName makes a figure's name a benchmark unit (no spaces).
func unitName(s string) string { return strings.ReplaceAll(s, " ", "-") }
