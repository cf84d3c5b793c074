package main

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"

	"github.com/imspec/imserver/load"
)

// canvas accumulates one SVG document.
type canvas struct {
	b    strings.Builder
	w, h float64
}

func newCanvas(w, h float64, title string) *canvas {
	c := &canvas{w: w, h: h}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&c.b, "<title>%s</title>\n", esc(title))
	fmt.Fprintf(&c.b, `<rect width="%g" height="%g" fill="white"/>`+"\n", w, h)
	return c
}

func (c *canvas) text(x, y float64, anchor, attrs, s string) {
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, attrs, esc(s))
}

func (c *canvas) line(x1, y1, x2, y2 float64, attrs string) {
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" %s/>`+"\n", x1, y1, x2, y2, attrs)
}

func (c *canvas) rect(x, y, w, h float64, attrs string) {
	fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" %s/>`+"\n", x, y, w, h, attrs)
}

// polyline draws the points as a line with a dot on each.
func (c *canvas) polyline(pts [][2]float64, color string) {
	var s strings.Builder
	for i, p := range pts {
		if i > 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%.1f,%.1f", p[0], p[1])
	}
	fmt.Fprintf(&c.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", s.String(), color)
	for _, p := range pts {
		fmt.Fprintf(&c.b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", p[0], p[1], color)
	}
}

func (c *canvas) String() string { return c.b.String() + "</svg>\n" }

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// palette: distinguishable for the common forms of colour blindness (Okabe–Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

// logScale maps [lo, hi] (both > 0) onto [a, b] logarithmically.
type logScale struct{ lo, hi, a, b float64 }

func (s logScale) at(v float64) float64 {
	v = math.Max(v, s.lo)
	return s.a + (math.Log10(v)-math.Log10(s.lo))/(math.Log10(s.hi)-math.Log10(s.lo))*(s.b-s.a)
}

// logTicks are the 1-2-5 values of the decades that cover [lo, hi], and the covering range itself.
func logTicks(lo, hi float64) (ticks []float64, from, to float64) {
	from = math.Pow(10, math.Floor(math.Log10(lo)))
	to = math.Pow(10, math.Ceil(math.Log10(hi)))
	if to <= from {
		to = from * 10
	}
	for d := from; d < to*1.001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= to*1.001 {
				ticks = append(ticks, v)
			}
		}
	}
	return ticks, from, to
}

// thousands prints v rounded to an integer with thousands separators.
func thousands(v float64) string { return load.Thousands(v) }

// msString prints milliseconds with two significant decimals below 10 ms.
func msString(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}
