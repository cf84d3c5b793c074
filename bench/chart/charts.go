package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/imspec/imserver/load"
)

// The targets drawn on the charts: this round's, listed in bench/README.md (section Charts).
const (
	targetPairsMsgs   = 20_000  // pairs, closed loop, durable msg/s
	targetHotMsgs     = 10_000  // hot: msg/s into one conversation
	targetFanoutDeliv = 400_000 // fanout: deliveries/s
	targetPairsP99MS  = 2       // pairs at 500 msg/s: send→receive p99
	targetFanoutP99MS = 100     // fanout: p99 to the last member
)

// param reads a number imload put in a result's params (JSON numbers decode as float64).
func param(r load.Result, key string) float64 {
	v, _ := r.Params[key].(float64)
	return v
}

// name is a result's short description for a legend or a row.
func name(r load.Result) string {
	switch r.Scenario {
	case "pairs":
		if rate := param(r, "rate"); rate > 0 {
			return fmt.Sprintf("pairs, %s pairs, %s msg/s offered", thousands(param(r, "pairs")), thousands(rate))
		}
		return fmt.Sprintf("pairs, %s pairs, closed loop", thousands(param(r, "pairs")))
	case "hot":
		via, _ := r.Params["via"].(string)
		return fmt.Sprintf("hot, %s senders, %s", thousands(param(r, "senders")), strings.ToUpper(via))
	case "fanout":
		return fmt.Sprintf("fanout, %s members", thousands(param(r, "members")))
	case "rest":
		// rest gives one result per operation; its label names the operation.
		if _, op, ok := strings.Cut(r.LatencyOf, "/"); ok {
			return "rest, /" + strings.TrimSuffix(op, ")")
		}
	}
	return r.Label
}

// subtitle says where and when the figures were made.
func subtitle(rep load.Report) string {
	m := rep.Machine
	s := fmt.Sprintf("imload, %d CPUs", m.CPUs)
	if m.CPUModel != "" {
		s += " (" + m.CPUModel + ")"
	}
	if !rep.Started.IsZero() {
		s += ", " + rep.Started.UTC().Format(time.DateOnly)
	}
	return s + "; server, PostgreSQL and imload on one machine"
}

// curve is one latency distribution: x = log10(1/(1-q)), y = ms.
type curve struct {
	label string
	pts   [][2]float64
}

// distribution turns a Summary into points: its percentiles, then the maximum at q = 1-1/count.
func distribution(s *load.Summary) [][2]float64 {
	var pts [][2]float64
	for _, p := range s.Percentiles {
		pts = append(pts, [2]float64{nines(p.Q), p.MS})
	}
	if s.Count > 1 {
		if x := math.Log10(float64(s.Count)); len(pts) == 0 || x > pts[len(pts)-1][0] {
			pts = append(pts, [2]float64{x, s.MaxMS})
		}
	}
	return pts
}

// tickLabel prints a 1-2-5 tick: 0.5, 20, 5,000.
func tickLabel(v float64) string {
	if v >= 1000 {
		return thousands(v)
	}
	return fmt.Sprintf("%g", v)
}

// nines is log10(1/(1-q)): 1 at the 90th percentile, 2 at the 99th, 3 at the 99.9th.
func nines(q float64) float64 { return -math.Log10(1 - q) }

// percentileLabel names a position of the x axis.
func percentileLabel(x float64) string {
	q := 100 * (1 - math.Pow(10, -x))
	switch {
	case x == 0:
		return "0%"
	case x <= 1:
		return fmt.Sprintf("%.0f%%", q)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.*f", int(math.Ceil(x))-2, q), "0"), ".") + "%"
	}
}

// latencyChart draws distributions on a log-log plot with a dashed horizontal target line.
func latencyChart(title, sub string, curves []curve, targetMS float64, targetLabel string) string {
	const w, h, left, right, top, bottom = 760.0, 430.0, 64.0, 24.0, 56.0, 110.0
	c := newCanvas(w, h, title)
	c.text(w/2, 22, "middle", `font-size="15" font-weight="bold"`, title)
	c.text(w/2, 40, "middle", `fill="#555"`, sub)
	lo, hi, xmax := math.Inf(1), targetMS, 2.0
	for _, cv := range curves {
		for _, p := range cv.pts {
			if p[1] > 0 {
				lo = math.Min(lo, p[1])
			}
			hi = math.Max(hi, p[1])
			xmax = math.Max(xmax, p[0])
		}
	}
	if math.IsInf(lo, 1) {
		lo = hi / 10
	}
	ticks, from, to := logTicks(lo, hi)
	y := logScale{from, to, h - bottom, top}
	xmax = math.Ceil(xmax)
	x := func(v float64) float64 { return left + v/xmax*(w-left-right) }
	for _, t := range ticks {
		c.line(left, y.at(t), w-right, y.at(t), `stroke="#e4e4e4"`)
		c.text(left-6, y.at(t)+4, "end", "", tickLabel(t))
	}
	for _, t := range []float64{0, math.Log10(2), 1, 2, 3, 4, 5, 6} {
		if t > xmax {
			break
		}
		c.line(x(t), top, x(t), h-bottom, `stroke="#e4e4e4"`)
		c.text(x(t), h-bottom+16, "middle", "", percentileLabel(t))
	}
	c.text(16, (top+h-bottom)/2, "middle", fmt.Sprintf(`transform="rotate(-90 16 %.1f)"`, (top+h-bottom)/2), "latency, ms (log scale)")
	c.text((left+w-right)/2, h-bottom+34, "middle", "", "percentile (log scale of 1/(1−q): the tail spread out)")
	c.rect(left, top, w-left-right, h-bottom-top, `fill="none" stroke="#888"`)
	if targetMS > 0 {
		c.line(left, y.at(targetMS), w-right, y.at(targetMS), `stroke="#c00" stroke-dasharray="6 4" stroke-width="1.5"`)
		c.text(w-right-4, y.at(targetMS)-5, "end", `fill="#c00"`, targetLabel)
	}
	for i, cv := range curves {
		color := palette[i%len(palette)]
		pts := make([][2]float64, len(cv.pts))
		for j, p := range cv.pts {
			pts[j] = [2]float64{x(p[0]), y.at(p[1])}
		}
		c.polyline(pts, color)
		ly := h - bottom + 56 + float64(i)*17
		c.line(left, ly-4, left+22, ly-4, fmt.Sprintf(`stroke="%s" stroke-width="3"`, color))
		c.text(left+28, ly, "start", "", cv.label)
	}
	return c.String()
}

// pairsLatency is the send→receive distribution of every pairs run at a fixed rate.
func pairsLatency(rep load.Report) (string, bool) {
	var curves []curve
	for _, r := range rep.Results {
		if r.Scenario != "pairs" || param(r, "rate") == 0 || r.Latency == nil {
			continue
		}
		s := r.Latency
		curves = append(curves, curve{
			label: fmt.Sprintf("%s: p50 %s, p99 %s, max %s ms (%s messages)%s", name(r), msString(s.P50MS), msString(s.P99MS), msString(s.MaxMS), thousands(float64(s.Count)), failedNote(r)),
			pts:   distribution(s),
		})
	}
	if len(curves) == 0 {
		return "", false
	}
	return latencyChart("pairs: send→receive latency at fixed rates", subtitle(rep), curves,
		targetPairsP99MS, fmt.Sprintf("target: p99 ≤ %d ms at 500 msg/s", targetPairsP99MS)), true
}

// fanoutLatency is the distribution of the time to the last member of the group, per fanout run.
func fanoutLatency(rep load.Report) (string, bool) {
	var curves []curve
	for _, r := range rep.Results {
		if r.Scenario != "fanout" || r.Latency == nil {
			continue
		}
		s := r.Latency
		curves = append(curves, curve{
			label: fmt.Sprintf("%s: %s deliveries/s; to the last member p50 %s, p99 %s ms%s", name(r), thousands(r.DeliverRate), msString(s.P50MS), msString(s.P99MS), failedNote(r)),
			pts:   distribution(s),
		})
	}
	if len(curves) == 0 {
		return "", false
	}
	return latencyChart("fanout: time from send to the last member", subtitle(rep), curves,
		targetFanoutP99MS, fmt.Sprintf("target: p99 ≤ %d ms", targetFanoutP99MS)), true
}

func failedNote(r load.Result) string {
	if r.Status != load.StatusOK {
		return " [" + r.Status + "]"
	}
	return ""
}

// bar is one row of the throughput chart.
type bar struct {
	label       string
	value       float64
	unit        string
	target      float64 // 0: none
	targetLabel string
	ok          bool
}

// bars are the scenarios with a throughput: acknowledged messages (or requests) per second, deliveries per
// second for fanout. A run at a fixed rate is measured against the rate it offered.
func bars(rep load.Report) []bar {
	var out []bar
	for _, r := range rep.Results {
		b := bar{label: name(r), value: r.AckRate, unit: "msg/s", ok: r.Status == load.StatusOK}
		switch r.Scenario {
		case "pairs":
			if rate := param(r, "rate"); rate > 0 {
				b.target, b.targetLabel = rate, "offered"
			} else {
				b.target, b.targetLabel = targetPairsMsgs, "target"
			}
		case "hot":
			b.target, b.targetLabel = targetHotMsgs, "target"
		case "fanout":
			b.value, b.unit, b.target, b.targetLabel = r.DeliverRate, "deliveries/s", targetFanoutDeliv, "target"
		case "rest":
			b.unit = "req/s"
		default:
			continue
		}
		if b.value == 0 && r.Status == load.StatusSkipped {
			continue
		}
		out = append(out, b)
	}
	return out
}

// throughput draws one bar per scenario, each on its own scale (they differ by 100×), with its target.
func throughput(rep load.Report) (string, bool) {
	rows := bars(rep)
	if len(rows) == 0 {
		return "", false
	}
	const w, left, barW, rowH, top = 880.0, 240.0, 300.0, 34.0, 60.0
	h := top + rowH*float64(len(rows)) + 40
	title := "Throughput per scenario against its target"
	c := newCanvas(w, h, title)
	c.text(w/2, 22, "middle", `font-size="15" font-weight="bold"`, title)
	c.text(w/2, 40, "middle", `fill="#555"`, subtitle(rep)+"; each row on its own scale")
	for i, b := range rows {
		y := top + rowH*float64(i)
		full := math.Max(b.value, b.target) * 1.15
		if full == 0 {
			full = 1
		}
		color := "#0072B2"
		if !b.ok {
			color = "#999"
		}
		c.text(left-10, y+rowH/2+4, "end", "", b.label)
		c.rect(left, y+7, barW, rowH-14, `fill="#f2f2f2"`)
		c.rect(left, y+7, b.value/full*barW, rowH-14, fmt.Sprintf(`fill="%s"`, color))
		val := thousands(b.value) + " " + b.unit
		if b.target > 0 {
			tx := left + b.target/full*barW
			c.line(tx, y+3, tx, y+rowH-3, `stroke="#c00" stroke-width="2"`)
			val += fmt.Sprintf(" (%.0f%% of %s %s)", 100*b.value/b.target, b.targetLabel, thousands(b.target))
		}
		if !b.ok {
			val += " [not ok]"
		}
		c.text(left+barW+8, y+rowH/2+4, "start", `font-size="11"`, val)
	}
	ly := h - 16
	c.line(left, ly-8, left, ly+2, `stroke="#c00" stroke-width="2"`)
	c.text(left+6, ly, "start", `fill="#555"`, "target (bench/README.md), or the rate offered for runs at a fixed rate")
	return c.String(), true
}
