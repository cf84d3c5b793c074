package main

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imspec/imserver/load"
)

// imload-1.json is imload's --json of a short make bench on this project's 2-core machine (shared).
const fixture = "../testdata/imload-1.json"

func TestChartsFromImloadJSON(t *testing.T) {
	dir := t.TempDir()
	files, err := run(fixture, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pairs-latency.svg", "throughput.svg", "fanout-latency.svg"}
	if len(files) != len(want) {
		t.Fatalf("wrote %v, want %v", files, want)
	}
	rep, err := readReport(fixture)
	if err != nil {
		t.Fatal(err)
	}
	svg := map[string]string{}
	for i, f := range files {
		if filepath.Base(f) != want[i] {
			t.Errorf("file %d is %s, want %s", i, f, want[i])
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		wellFormed(t, f, b)
		svg[want[i]] = string(b)
	}

	// One curve per pairs run at a fixed rate, each legend with its figures.
	var fixed []load.Result
	for _, r := range rep.Results {
		if r.Scenario == "pairs" && param(r, "rate") > 0 {
			fixed = append(fixed, r)
		}
	}
	if len(fixed) < 2 {
		t.Fatalf("the fixture has %d pairs runs at a fixed rate, want 2 or more", len(fixed))
	}
	if got := strings.Count(svg["pairs-latency.svg"], "<polyline"); got != len(fixed) {
		t.Errorf("pairs-latency.svg has %d curves, want %d", got, len(fixed))
	}
	for _, r := range fixed {
		if want := "p99 " + msString(r.Latency.P99MS); !strings.Contains(svg["pairs-latency.svg"], want) {
			t.Errorf("pairs-latency.svg lacks %q for %s", want, r.Label)
		}
	}
	if !strings.Contains(svg["pairs-latency.svg"], "target: p99 ≤ 2 ms") {
		t.Error("pairs-latency.svg lacks the target line")
	}

	// A bar per scenario with a throughput (every result but idle), each value printed.
	rows := bars(rep)
	if len(rows) != len(rep.Results)-1 {
		t.Errorf("%d bars for %d results (one of them idle)", len(rows), len(rep.Results))
	}
	for _, b := range rows {
		if !strings.Contains(svg["throughput.svg"], thousands(b.value)+" "+b.unit) {
			t.Errorf("throughput.svg lacks %s %s (%s)", thousands(b.value), b.unit, b.label)
		}
	}
	if !strings.Contains(svg["fanout-latency.svg"], "fanout, 1,000 members") {
		t.Error("fanout-latency.svg lacks its legend")
	}
}

func wellFormed(t *testing.T, name string, b []byte) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
	}
}

func TestBarsAgainstTargets(t *testing.T) {
	rep, err := readReport(fixture)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bar{}
	for _, b := range bars(rep) {
		got[b.label] = b
	}
	for _, c := range []struct {
		label  string
		target float64
		unit   string
	}{
		{"pairs, 50 pairs, closed loop", 20_000, "msg/s"},
		{"pairs, 50 pairs, 500 msg/s offered", 500, "msg/s"},
		{"hot, 20 senders, WS", 10_000, "msg/s"},
		{"fanout, 1,000 members", 400_000, "deliveries/s"},
		{"rest, /user/get_users_info", 0, "req/s"},
	} {
		b, ok := got[c.label]
		if !ok {
			t.Errorf("no bar %q in %v", c.label, got)
			continue
		}
		if b.target != c.target || b.unit != c.unit || b.value <= 0 {
			t.Errorf("%s: %+v, want target %v %s and a value", c.label, b, c.target, c.unit)
		}
	}
	// The fixture's REST hot run failed (errors answered): its bar says so.
	if b := got["hot, 20 senders, REST"]; b.ok {
		t.Errorf("hot via REST failed in the fixture, but its bar is ok: %+v", b)
	}
}

func TestDistribution(t *testing.T) {
	s := &load.Summary{Count: 2000, MaxMS: 40, Percentiles: []load.Percentile{{Q: 0.5, MS: 2}, {Q: 0.9, MS: 3}, {Q: 0.99, MS: 9}, {Q: 0.999, MS: 30}}}
	pts := distribution(s)
	want := [][2]float64{{math.Log10(2), 2}, {1, 3}, {2, 9}, {3, 30}, {math.Log10(2000), 40}}
	if len(pts) != len(want) {
		t.Fatalf("points %v, want %v", pts, want)
	}
	for i := range want {
		if math.Abs(pts[i][0]-want[i][0]) > 1e-9 || pts[i][1] != want[i][1] {
			t.Errorf("point %d = %v, want %v", i, pts[i], want[i])
		}
	}
}

func TestAxes(t *testing.T) {
	for x, want := range map[float64]string{0: "0%", math.Log10(2): "50%", 1: "90%", 2: "99%", 3: "99.9%", 4: "99.99%"} {
		if got := percentileLabel(x); got != want {
			t.Errorf("percentileLabel(%v) = %q, want %q", x, got, want)
		}
	}
	ticks, from, to := logTicks(1.3, 180)
	if from != 1 || to != 1000 || len(ticks) != 10 || ticks[1] != 2 || ticks[9] != 1000 {
		t.Errorf("logTicks(1.3, 180) = %v [%v, %v]", ticks, from, to)
	}
	s := logScale{1, 100, 400, 0}
	if s.at(1) != 400 || s.at(10) != 200 || s.at(100) != 0 {
		t.Errorf("logScale: %v %v %v", s.at(1), s.at(10), s.at(100))
	}
	for v, want := range map[float64]string{0.5: "0.5", 20: "20", 5000: "5,000"} {
		if got := tickLabel(v); got != want {
			t.Errorf("tickLabel(%v) = %q, want %q", v, got, want)
		}
	}
	if got := thousands(1234567.4); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
}

func TestNoResults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(p, []byte(`{"results":[{"scenario":"idle","label":"idle","status":"ok"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(p, t.TempDir()); err == nil {
		t.Error("a report with nothing to draw wrote charts")
	}
}
