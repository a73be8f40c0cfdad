package bench_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/bench"
)

// TestWriteSVG draws a report and checks the SVG is well-formed XML with
// one bar per judged figure, in the colour of its verdict, and its labels.
func TestWriteSVG(t *testing.T) {
	rep := &bench.Report{
		Started:       time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		RawJetStream:  &bench.RawPublishResult{PerSecond: 60000},
		DrainPostgres: &bench.DrainResult{Engine: "PostgreSQL", Events: 1000, PerSecond: 45000},
	}
	rows := 0
	for _, r := range rep.Rows() {
		if r.Pass != nil {
			rows++
		}
	}
	if rows == 0 {
		t.Fatal("the sample report has no judged figure; the test would check nothing")
	}
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
	}
	if got := strings.Count(svg, `height="12"`); got != rows {
		t.Errorf("%d figure bars, want %d", got, rows)
	}
	if !strings.Contains(svg, `fill="#27ae60"`) { // 45,000 of 60,000 = 75%: meets ≥ 70%
		t.Errorf("the drain at 75%% of raw is not drawn as met:\n%s", svg)
	}
	if !strings.Contains(svg, "45,000/s = 75% of raw") {
		t.Errorf("label missing:\n%s", svg)
	}
}
