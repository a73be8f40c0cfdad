package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"time"
)

// writeSVG draws the run: orders shipped per second beside the target, and
// the distribution of checkout → shipped times as a cumulative curve with
// its percentiles marked.
func (r *shopBenchResult) writeSVG(w io.Writer) error {
	const (
		width, height = 900, 470
		left, right   = 70, 40
		barTop        = 70
		plotTop       = 170
		plotBottom    = 420
	)
	esc := func(s string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		esc(fmt.Sprintf("bounded bench shop, %s: %d orders, %d in flight, %d CPUs", r.When.Format("2006-01-02"), r.Orders, r.Concurrency, r.CPUs)))
	fmt.Fprintf(&b, `<text x="10" y="40" fill="#555">%s</text>`+"\n",
		esc("embedded mode: six services on their own SQLite files, embedded NATS JetStream; checkout accepted (202) → orders.order_shipped received"))

	// Throughput against the target.
	plotW := float64(width - left - right)
	scale := max(r.PerSecond, r.TargetPerSec) * 1.15
	colour := "#c0392b"
	if r.PerSecond >= r.TargetPerSec {
		colour = "#27ae60"
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">orders shipped per second</text>`+"\n", barTop-8)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="24" fill="%s"/>`+"\n", left, barTop, r.PerSecond/scale*plotW, colour)
	tx := float64(left) + r.TargetPerSec/scale*plotW
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>`+"\n", tx, barTop-4, tx, barTop+28)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", tx+4, barTop+44, esc(fmt.Sprintf("target %.0f/s", r.TargetPerSec)))
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="white" font-weight="bold">%s</text>`+"\n", left+6, barTop+17, esc(fmt.Sprintf("%.0f/s", r.PerSecond)))

	// The cumulative distribution of the latencies.
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">checkout → shipped: share of orders done within x</text>`+"\n", plotTop-12)
	if len(lat) > 0 {
		xmax := float64(lat[min(len(lat)-1, len(lat)*999/1000)]) / float64(time.Millisecond) * 1.1
		px := func(ms float64) float64 { return float64(left) + min(ms/xmax, 1)*plotW }
		py := func(q float64) float64 { return plotBottom - q*float64(plotBottom-plotTop) }
		// Axes and grid.
		for _, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", left, py(q), width-right, py(q))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%.0f%%</text>`+"\n", left-6, py(q)+4, q*100)
		}
		for i := 0; i <= 5; i++ {
			ms := xmax * float64(i) / 5
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%.0f ms</text>`+"\n", px(ms), plotBottom+18, ms)
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`+"\n", left, plotBottom, width-right, plotBottom)
		var pts bytes.Buffer
		steps := min(len(lat), 400)
		for i := 0; i <= steps; i++ {
			k := min(len(lat)-1, i*len(lat)/steps)
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(float64(lat[k])/float64(time.Millisecond)), py(float64(k+1)/float64(len(lat))))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#2c7fb8" stroke-width="2"/>`+"\n", pts.String())
		for _, p := range []struct {
			name string
			q    float64
			ms   float64
		}{{"p50", 0.5, r.Latency.P50}, {"p90", 0.9, r.Latency.P90}, {"p99", 0.99, r.Latency.P99}} {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#2c7fb8"/>`+"\n", px(p.ms), py(p.q))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", px(p.ms)+8, py(p.q)+4, esc(fmt.Sprintf("%s %.1f ms", p.name, p.ms)))
		}
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">%s</text>`+"\n", height-12,
		esc(fmt.Sprintf("raw SQLite in the same run: %.0f commits/s (1 writer); an order cost %.1f commits over the six databases", r.RawSQLite.PerSecond, sumCommits(r.Commits))))
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

func sumCommits(m map[string]float64) float64 {
	t := 0.0
	for _, c := range m {
		t += c
	}
	return t
}
