package load

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Status of a scenario.
const (
	StatusOK      = "ok"
	StatusSkipped = "skipped" // the server cannot run it (errCode 1009) or the run was interrupted
	StatusFailed  = "failed"  // setup failed, or messages were lost, errors answered, or a check failed
)

// Report is a whole run.
type Report struct {
	Command  string    `json:"command"`
	Target   string    `json:"target"`
	Machine  Machine   `json:"machine"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Results  []Result  `json:"results"`
}

// Machine is where the run happened (imload runs on the server's machine).
type Machine struct {
	CPUModel  string  `json:"cpuModel,omitempty"`
	CPUs      int     `json:"cpus"`
	MemoryGiB float64 `json:"memoryGiB,omitempty"`
	Kernel    string  `json:"kernel,omitempty"`
	GOOS      string  `json:"goos"`
	GOARCH    string  `json:"goarch"`
	GoVersion string  `json:"goVersion"`
}

// Result is one scenario's figures.
type Result struct {
	Scenario    string         `json:"scenario"`
	Label       string         `json:"label"`
	Params      map[string]any `json:"params,omitempty"`
	Status      string         `json:"status"`
	Reason      string         `json:"reason,omitempty"`
	WallSeconds float64        `json:"wallSeconds"`

	SendSeconds float64 `json:"sendSeconds,omitempty"`
	Sent        int64   `json:"sent,omitempty"`
	Acked       int64   `json:"acked,omitempty"`
	Delivered   int64   `json:"delivered,omitempty"`
	Lost        int64   `json:"lost"`
	Errors      int64   `json:"errors"`
	AckRate     float64 `json:"ackedPerSec,omitempty"`
	DeliverRate float64 `json:"deliveredPerSec,omitempty"`

	Latency    *Summary `json:"latency,omitempty"`
	LatencyOf  string   `json:"latencyOf,omitempty"`
	AckLatency *Summary `json:"ackLatency,omitempty"`

	// Headline is the scenario's key figure beyond the columns of the table (idle memory, checked seqs).
	Headline     string   `json:"headline,omitempty"`
	Figures      []Figure `json:"figures,omitempty"`
	Checks       []string `json:"failedChecks,omitempty"`
	Notes        []string `json:"notes,omitempty"`
	ErrorSamples []string `json:"errorSamples,omitempty"`
}

// Figure is a named number of a scenario.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

func (r *Result) add(name string, v float64, unit string) {
	r.Figures = append(r.Figures, Figure{Name: name, Value: v, Unit: unit})
}

func failed(format string, a ...any) Result {
	return Result{Status: StatusFailed, Reason: fmt.Sprintf(format, a...)}
}

// finish sets the status from what was found.
func (r Result) finish(Config) Result {
	var why []string
	if r.Lost > 0 {
		why = append(why, fmt.Sprintf("%d acknowledged messages never delivered", r.Lost))
	}
	if r.Errors > 0 {
		why = append(why, fmt.Sprintf("%d requests failed", r.Errors))
	}
	why = append(why, r.Checks...)
	if len(why) > 0 {
		r.Status, r.Reason = StatusFailed, strings.Join(why, "; ")
	} else if r.Status == "" {
		r.Status = StatusOK
	}
	return r
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// WriteJSON writes the report, indented.
func (rep Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints the results: one row per scenario, then each scenario's other figures and findings.
func WriteTable(w io.Writer, rep Report) {
	m := rep.Machine
	fmt.Fprintf(w, "\nimload against %s — %d CPUs (%s), %.0f GiB, %s, %s\n\n", rep.Target, m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.GoVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tstatus\tacked/s\tdelivered/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tlost\terrors\t  also")
	for _, r := range rep.Results {
		lat := []string{"", "", "", ""}
		if s := r.Latency; s != nil {
			lat = []string{f2(s.P50MS), f2(s.P95MS), f2(s.P99MS), f2(s.MaxMS)}
		}
		lost, errs := "", ""
		if r.Status != StatusSkipped {
			lost, errs = fmt.Sprint(r.Lost), fmt.Sprint(r.Errors)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t  %s\n", r.Label, r.Status, rate(r.AckRate), rate(r.DeliverRate),
			lat[0], lat[1], lat[2], lat[3], lost, errs, r.Headline)
	}
	tw.Flush()
	for _, r := range rep.Results {
		fmt.Fprintf(w, "\n%s (%s)\n", r.Label, paramString(r.Params))
		if r.Reason != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Status, r.Reason)
		}
		switch {
		case r.Delivered > 0:
			fmt.Fprintf(w, "  sent %d, acknowledged %d, delivered %d in %.1fs of sending\n", r.Sent, r.Acked, r.Delivered, r.SendSeconds)
		case r.Sent > 0:
			fmt.Fprintf(w, "  sent %d, answered %d in %.1fs\n", r.Sent, r.Acked, r.SendSeconds)
		}
		if s := r.Latency; s != nil {
			fmt.Fprintf(w, "  latency %s: mean %s p50 %s p95 %s p99 %s max %s ms (%d samples)\n", r.LatencyOf, f2(s.MeanMS), f2(s.P50MS), f2(s.P95MS), f2(s.P99MS), f2(s.MaxMS), s.Count)
		}
		if s := r.AckLatency; s != nil {
			fmt.Fprintf(w, "  latency send→ack: mean %s p50 %s p95 %s p99 %s max %s ms\n", f2(s.MeanMS), f2(s.P50MS), f2(s.P95MS), f2(s.P99MS), f2(s.MaxMS))
		}
		for _, f := range r.Figures {
			fmt.Fprintf(w, "  %s: %s %s\n", f.Name, num(f.Value), f.Unit)
		}
		for _, c := range r.Checks {
			fmt.Fprintf(w, "  CHECK FAILED: %s\n", c)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		for _, e := range r.ErrorSamples {
			fmt.Fprintf(w, "  error: %s\n", e)
		}
	}
	fmt.Fprintln(w)
}

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func rate(v float64) string {
	if v == 0 {
		return ""
	}
	return num(v)
}

// num prints a figure with thousands separators (integers) or three significant decimals.
func num(v float64) string {
	if v != math.Trunc(v) || math.Abs(v) >= 1e15 {
		switch a := math.Abs(v); {
		case a >= 100:
			return fmt.Sprintf("%.0f", v)
		case a >= 1:
			return fmt.Sprintf("%.2f", v)
		default:
			return fmt.Sprintf("%.4f", v)
		}
	}
	return Thousands(v)
}

// Thousands prints v rounded to an integer with thousands separators (-1,234,567).
func Thousands(v float64) string {
	n := int64(math.Round(math.Abs(v)))
	s := fmt.Sprint(n)
	var b strings.Builder
	if v < 0 && n != 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
