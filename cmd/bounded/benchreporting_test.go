package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/testenv"
)

// TestBenchReporting runs `bounded bench reporting` small, on SQLite and
// PostgreSQL: the rebuild applies every event published, the watermarks
// count them all, and the raw figures are there beside it.
func TestBenchReporting(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rep.json")
	const events = 20000
	code, stdout, stderr := run(t, "bench", "reporting", "--events", "20000", "--json", out,
		"--postgres", testenv.PostgresAdmin(t), "--nats", testenv.NATS(t))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rs []benchReportingResult
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results, want SQLite and PostgreSQL: %s", len(rs), b)
	}
	for _, r := range rs {
		if r.Events != events || r.WatermarkEvents != events {
			t.Errorf("%s: rebuild applied %d events, watermarks count %d, want %d", r.Database, r.Events, r.WatermarkEvents, events)
		}
		if r.Orders < events/15 || r.RebuildPerSec <= 0 || r.RawRowsPerSec <= 0 || r.RawCommitPerSec <= 0 {
			t.Errorf("%s: implausible figures %+v", r.Database, r)
		}
	}
	if !strings.Contains(stdout, "| SQLite | 20000 |") || !strings.Contains(stderr, "rebuild:") && !strings.Contains(stderr, "done:") {
		t.Errorf("no table or no progress:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}
