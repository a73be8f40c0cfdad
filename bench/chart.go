package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
)

// ReadJSON reads a report written by WriteJSON, to render it again.
func ReadJSON(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("bench: read report: %w", err)
	}
	return &rep, nil
}

// WriteSVG draws every figure that has a target, one row each on its own
// scale: a bar for the figure (green when it meets its target, red when
// not), a grey bar behind it for the raw limit it is compared with, and a
// tick at the target.
func (rep *Report) WriteSVG(w io.Writer) error {
	var rows []Row
	for _, r := range rep.Rows() {
		if r.Pass != nil {
			rows = append(rows, r)
		}
	}
	const (
		width, labelW, barW, rowH, top = 1180, 470, 330, 30, 56
	)
	groups := 0
	for i, r := range rows {
		if i == 0 || r.Group != rows[i-1].Group {
			groups++
		}
	}
	height := top + (len(rows)+groups)*rowH + 40
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", esc("bounded bench toolkit, "+rep.Started.Format("2006-01-02")))
	fmt.Fprintf(&b, `<text x="10" y="40" fill="#555">%s</text>`+"\n",
		esc("bar: the figure (green: target met, red: not); grey: the raw limit of the same run; black tick: the target"))
	group := ""
	y := top
	for _, r := range rows {
		if r.Group != group {
			group = r.Group
			fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+22, esc(group))
			y += rowH
		}
		scale := max(r.Value, r.Raw, r.TargetValue) * 1.1
		if scale <= 0 {
			scale = 1
		}
		x := func(v float64) float64 { return float64(labelW) + v/scale*barW }
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`+"\n", y+19, esc(shorten(r.Measure, 72)))
		if r.Raw > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="20" fill="#ddd"/>`+"\n", labelW, y+5, x(r.Raw)-labelW)
		}
		colour := "#c0392b"
		if *r.Pass {
			colour = "#27ae60"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="12" fill="%s"/>`+"\n", labelW, y+9, x(r.Value)-labelW, colour)
		if r.TargetValue > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>`+"\n", x(r.TargetValue), y+2, x(r.TargetValue), y+28)
		}
		label := formatValue(r.Value, r.Unit)
		if r.Raw > 0 && r.Ratio > 0 {
			label += fmt.Sprintf(" = %.0f%% of raw", r.Ratio*100)
		} else if r.Raw > 0 {
			label += " (raw " + formatValue(r.Raw, r.Unit) + ")"
		}
		label += ", target " + r.Target
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#333">%s</text>`+"\n", labelW+barW+10, y+19, esc(shorten(label, 60)))
		y += rowH
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">%s</text>`+"\n", height-14, esc(fmt.Sprintf("%d CPUs, %s; %s", rep.Env.CPUs, rep.Env.GoVersion, "nats-server "+rep.Env.NATSServer)))
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
