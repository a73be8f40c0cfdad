package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// modeColour is each mode's colour in the chart.
var modeColour = map[string]string{modeEmbedded: "#2c7fb8", modeDistributed: "#e6550d"}

// writeSVG draws the run: each mode's orders shipped per second beside the
// target, and each mode's distribution of checkout → shipped times as a
// cumulative curve with its percentiles marked. When one mode's times are
// several times the other's, the time axis is logarithmic, so that both
// curves keep their shape.
func (r *shopBenchResult) writeSVG(w io.Writer) error {
	const (
		width        = 900
		left, right  = 90, 40
		barH, barGap = 24, 8
	)
	esc := func(s string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	colour := func(mode string) string {
		if c, ok := modeColour[mode]; ok {
			return c
		}
		return "#555"
	}
	var names []string
	for _, mr := range r.Modes {
		names = append(names, mr.Mode)
	}
	var subtitles []string
	for _, mr := range r.Modes {
		switch mr.Mode {
		case modeEmbedded:
			subtitles = append(subtitles, "embedded: six services in one process on their own SQLite files, embedded NATS JetStream")
		case modeDistributed:
			subtitles = append(subtitles, "distributed: a process per service on its own PostgreSQL database, a NATS server, a gateway in front")
		}
	}
	subtitles = append(subtitles, "each order: checkout accepted (202) → orders.order_shipped received")
	barTop := 50 + 16*len(subtitles) + 12
	barsBottom := barTop + len(r.Modes)*(barH+barGap)
	plotTop := barsBottom + 70
	plotBottom := plotTop + 250
	var footer []string
	footer = append(footer, fmt.Sprintf("raw commits/s in the same run (one-row autocommit INSERTs): SQLite %.0f (1 writer)", r.RawSQLite.PerSecond))
	for _, run := range r.RawPostgres {
		footer[0] += fmt.Sprintf(", PostgreSQL %.0f (%d writer%s)", run.PerSecond, run.Writers, map[bool]string{true: "s"}[run.Writers != 1])
	}
	for _, mr := range r.Modes {
		if mr.Commits != nil {
			footer = append(footer, fmt.Sprintf("%s: an order cost %.1f commits over the six databases", mr.Mode, sumCommits(mr.Commits)))
		}
	}
	height := plotBottom + 40 + 16*len(footer)

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		esc(fmt.Sprintf("bounded bench shop, %s: %d orders, %d in flight, %d CPUs; %s", r.When.Format("2006-01-02"), r.Orders, r.Concurrency, r.CPUs, strings.Join(names, " and "))))
	for i, s := range subtitles {
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">%s</text>`+"\n", 40+16*i, esc(s))
	}

	// Throughput against the target, a bar per mode.
	plotW := float64(width - left - right)
	scale := r.TargetPerSec
	for _, mr := range r.Modes {
		scale = max(scale, mr.PerSecond)
	}
	scale *= 1.15
	fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">orders shipped per second</text>`+"\n", barTop-8)
	for i, mr := range r.Modes {
		y := barTop + i*(barH+barGap)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+17, esc(mr.Mode))
		bw := mr.PerSecond / scale * plotW
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, bw, barH, colour(mr.Mode))
		label := fmt.Sprintf("%.0f/s", mr.PerSecond)
		if bw > 60 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="white" font-weight="bold">%s</text>`+"\n", left+6, y+17, esc(label))
		} else {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-weight="bold">%s</text>`+"\n", float64(left)+bw+6, y+17, esc(label))
		}
	}
	tx := float64(left) + r.TargetPerSec/scale*plotW
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>`+"\n", tx, barTop-4, tx, barsBottom)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", tx+4, barsBottom+12, esc(fmt.Sprintf("target %.0f/s", r.TargetPerSec)))

	// The cumulative distributions of the latencies, on one time axis.
	fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">checkout → shipped: share of orders done within x</text>`+"\n", plotTop-22)
	type curve struct {
		mr  *shopModeResult
		lat []time.Duration
	}
	var curves []curve
	// In ms: the fastest p50 and p1; the slowest p99.9.
	lo, first, top := math.Inf(1), math.Inf(1), 0.0
	for _, mr := range r.Modes {
		if len(mr.lat) == 0 {
			continue
		}
		lat := slices.Clone(mr.lat)
		slices.Sort(lat)
		curves = append(curves, curve{mr, lat})
		lo = min(lo, float64(lat[len(lat)/2])/float64(time.Millisecond))
		first = min(first, float64(lat[len(lat)/100])/float64(time.Millisecond))
		top = max(top, float64(lat[min(len(lat)-1, len(lat)*999/1000)])/float64(time.Millisecond))
	}
	if len(curves) > 0 {
		logScale := len(curves) > 1 && top/lo > 10
		xmax := top * 1.1
		xmin := 0.0
		px := func(ms float64) float64 { return float64(left) + min(ms/xmax, 1)*plotW }
		var ticks []float64
		if logScale {
			xmin = math.Pow(10, math.Floor(math.Log10(max(first, 0.01))))
			px = func(ms float64) float64 {
				f := (math.Log10(max(ms, xmin)) - math.Log10(xmin)) / (math.Log10(xmax) - math.Log10(xmin))
				return float64(left) + min(f, 1)*plotW
			}
			for d := xmin; d <= xmax; d *= 10 {
				for _, m := range []float64{1, 2, 5} {
					if t := d * m; t <= xmax {
						ticks = append(ticks, t)
					}
				}
			}
		} else {
			for i := 0; i <= 5; i++ {
				ticks = append(ticks, xmax*float64(i)/5)
			}
		}
		py := func(q float64) float64 { return float64(plotBottom) - q*float64(plotBottom-plotTop) }
		for _, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", left, py(q), width-right, py(q))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%.0f%%</text>`+"\n", left-6, py(q)+4, q*100)
		}
		tickLabel := formatMs
		if logScale {
			tickLabel = func(ms float64) string { return fmt.Sprintf("%g", ms) } // 1, 2, 5, 10, …
		}
		for _, t := range ticks {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", px(t), plotBottom+18, esc(tickLabel(t)))
		}
		axis := "milliseconds"
		if logScale {
			axis = "milliseconds, logarithmic"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#555">%s</text>`+"\n", width-right, plotBottom+34, axis)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`+"\n", left, plotBottom, width-right, plotBottom)
		// The faster curve is on the left: its labels go on its left, the
		// other's on its right, so that they do not overlap.
		fastest := 0
		for i, c := range curves {
			if c.mr.Latency.P50 < curves[fastest].mr.Latency.P50 {
				fastest = i
			}
		}
		for i, c := range curves {
			col := colour(c.mr.Mode)
			var pts bytes.Buffer
			steps := min(len(c.lat), 400)
			for s := 0; s <= steps; s++ {
				k := min(len(c.lat)-1, s*len(c.lat)/steps)
				fmt.Fprintf(&pts, "%.1f,%.1f ", px(float64(c.lat[k])/float64(time.Millisecond)), py(float64(k+1)/float64(len(c.lat))))
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", pts.String(), col)
			for _, p := range []struct {
				name string
				q    float64
				ms   float64
			}{{"p50", 0.5, c.mr.Latency.P50}, {"p90", 0.9, c.mr.Latency.P90}, {"p99", 0.99, c.mr.Latency.P99}} {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", px(p.ms), py(p.q), col)
				label := fmt.Sprintf("%s %s ms", p.name, formatMs(p.ms))
				x, anchor := px(p.ms)+8, "start"
				// Left of the point for the faster curve, and where the
				// label would run off the chart (about 7 px a character).
				if len(curves) > 1 && i == fastest || x+7*float64(len(label)) > width {
					x, anchor = px(p.ms)-8, "end"
				}
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s">%s</text>`+"\n", x, py(p.q)+4, anchor, col, esc(label))
			}
			// Legend.
			ly := plotTop - 8
			lx := left + 200*i
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", lx, ly-4, lx+24, ly-4, col)
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+30, ly, esc(c.mr.Mode))
		}
	}
	for i, s := range footer {
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">%s</text>`+"\n", plotBottom+52+16*i, esc(s))
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// formatMs writes a time in milliseconds with the digits that matter.
func formatMs(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	default:
		return fmt.Sprintf("%.2g", ms)
	}
}

func sumCommits(m map[string]float64) float64 {
	t := 0.0
	for _, c := range m {
		t += c
	}
	return t
}
