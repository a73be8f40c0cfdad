package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/bench"
	"github.com/bounded-dev/bounded/platform/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// tinyConfig runs phases at a size that checks the harness, not the
// toolkit's speed: no figure is compared with a target here.
func tinyConfig(t *testing.T, phases ...string) bench.Config {
	t.Helper()
	return bench.Config{
		NATSURL:      testenv.NATS(t),
		Phases:       phases,
		Events:       500,
		Duration:     time.Second,
		RawDuration:  300 * time.Millisecond,
		Rate:         300,
		Writers:      4,
		StallTimeout: 20 * time.Second,
		TempDir:      t.TempDir(),
	}
}

func mustRun(t *testing.T, cfg bench.Config) *bench.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Failures) != 0 {
		t.Fatalf("failures without an error: %+v", rep.Failures)
	}
	return rep
}

func TestRunPostgres(t *testing.T) {
	cfg := tinyConfig(t, bench.PhaseRawPostgres, bench.PhaseDrainPostgres, bench.PhaseLivePostgres, bench.PhaseWritersPostgres)
	cfg.PostgresAdmin = testenv.PostgresAdmin(t)
	phases, err := bench.SelectPhases(strings.Join(cfg.Phases, ","))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Phases = phases // a drain brings raw-jetstream along
	rep := mustRun(t, cfg)
	checkRawDB(t, rep.RawPostgres)
	checkRawJetStream(t, rep.RawJetStream, cfg.Events)
	checkDrain(t, rep.DrainPostgres, cfg.Events)
	checkLive(t, rep.LivePostgres)
	checkWriters(t, rep.WritersPostgres)
	checkOutputs(t, rep, 2+2+1+5+6)
}

func TestRunSQLiteAndJetStream(t *testing.T) {
	cfg := tinyConfig(t, bench.PhaseRawSQLite, bench.PhaseRawJetStream, bench.PhaseDrainSQLite, bench.PhaseLiveSQLite, bench.PhaseWritersSQLite)
	rep := mustRun(t, cfg)
	checkRawDB(t, rep.RawSQLite)
	checkRawJetStream(t, rep.RawJetStream, cfg.Events)
	checkDrain(t, rep.DrainSQLite, cfg.Events)
	checkLive(t, rep.LiveSQLite)
	checkWriters(t, rep.WritersSQLite)
	checkOutputs(t, rep, 2+2+1+5+6)
	if rep.RawPostgres != nil || rep.DrainPostgres != nil {
		t.Error("PostgreSQL phases ran without being selected")
	}
}

func checkCommitRun(t *testing.T, what string, c bench.CommitRun) {
	t.Helper()
	if c.Commits <= 0 || c.PerSecond <= 0 || c.Seconds <= 0 {
		t.Errorf("%s: %d commits in %.2fs (%.0f/s), want some", what, c.Commits, c.Seconds, c.PerSecond)
	}
	checkPercentiles(t, what+" commit latency", c.Latency, int(c.Commits))
}

func checkPercentiles(t *testing.T, what string, p bench.Percentiles, n int) {
	t.Helper()
	if p.N != n {
		t.Errorf("%s: %d values, want %d", what, p.N, n)
	}
	if !(p.Min <= p.P50 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max) {
		t.Errorf("%s: percentiles out of order: %+v", what, p)
	}
	if p.Mean < p.Min || p.Mean > p.Max {
		t.Errorf("%s: mean %.3f outside [min, max]: %+v", what, p.Mean, p)
	}
}

func checkRawDB(t *testing.T, r *bench.RawDBResult) {
	t.Helper()
	if r == nil {
		t.Fatal("no raw database result")
	}
	checkCommitRun(t, r.Engine+" 1 writer", r.One)
	checkCommitRun(t, r.Engine+" many writers", r.Many)
	if r.One.Writers != 1 || r.Many.Writers != 4 {
		t.Errorf("%s: writers %d and %d, want 1 and 4", r.Engine, r.One.Writers, r.Many.Writers)
	}
}

func checkRawJetStream(t *testing.T, r *bench.RawPublishResult, events int) {
	t.Helper()
	if r == nil {
		t.Fatal("no raw JetStream result")
	}
	if r.Messages != int64(6*events) || len(r.Runs) != 3 || r.Acked != r.Messages || r.Errors != 0 || r.Duplicates != 0 {
		t.Errorf("raw publish: %d messages, %d acked, %d errors, %d duplicates; want %d acked, none else",
			r.Messages, r.Acked, r.Errors, r.Duplicates, 6*events)
	}
	if r.PayloadBytes != 300 || r.HeaderBytes < 200 || r.Window != bench.DefaultWindow {
		t.Errorf("raw publish: %d B body, %d B headers, window %d; want the relay's message and window", r.PayloadBytes, r.HeaderBytes, r.Window)
	}
	if r.PerSecond <= 0 {
		t.Errorf("raw publish: %.0f/s", r.PerSecond)
	}
	if len(r.ConsumedRuns) != 3 || r.Consumed <= 0 {
		t.Errorf("raw publish with a consumer: runs %v, median %.0f/s", r.ConsumedRuns, r.Consumed)
	}
	if r.Latency == nil {
		t.Fatal("raw publish: no latency")
	}
	checkPercentiles(t, "raw publish → received", r.Latency.Receipt, r.Latency.Messages)
	checkPercentiles(t, "raw publish → ack", r.Latency.Ack, r.Latency.Messages)
}

func checkDrain(t *testing.T, r *bench.DrainResult, events int) {
	t.Helper()
	if r == nil {
		t.Fatal("no drain result")
	}
	if r.Events != events || r.Received != int64(events) || r.Duplicates != 0 || r.Unknown != 0 || r.StreamMsgs != uint64(events) {
		t.Errorf("%s drain: %d events, %d received, %d duplicates, %d unknown, stream %d; want every event received once",
			r.Engine, r.Events, r.Received, r.Duplicates, r.Unknown, r.StreamMsgs)
	}
	if r.BacklogAfter != 0 {
		t.Errorf("%s drain: %d events left in the outbox", r.Engine, r.BacklogAfter)
	}
	if r.PerSecond <= 0 || r.Seconds <= 0 || r.FirstReceiptMS < 0 || r.FirstReceiptMS > r.Seconds*1000 {
		t.Errorf("%s drain: %.0f/s over %.3fs, first receipt at %.1f ms", r.Engine, r.PerSecond, r.Seconds, r.FirstReceiptMS)
	}
	checkRelayWork(t, r.Engine+" drain", r.Relay, int64(events))
}

// checkRelayWork checks the relay's counters: every event published, at
// least one claim and one delete, and no more deletes than events. A
// claim per event is what a live relay does; a wake-up that comes during
// a read can cost a read that finds nothing, so a claim count up to twice
// the events passes here (relay's TestOneClaimPerWakeUp checks it closer).
func checkRelayWork(t *testing.T, what string, w bench.RelayWork, events int64) {
	t.Helper()
	if w.Published != events || w.Claims < 1 || w.Claims > 2*events+10 || w.Deletes < 1 || w.Deletes > events || w.Handed > events {
		t.Errorf("%s: relay published %d of %d events in %d claims (%d handed over) and %d deletes", what, w.Published, events, w.Claims, w.Handed, w.Deletes)
	}
}

// checkLive checks a live phase: the relay's round, and the dual-write
// round beside it (the raw limit), which must not have used a relay.
func checkLive(t *testing.T, r *bench.LiveResult) {
	t.Helper()
	if r == nil {
		t.Fatal("no live result")
	}
	checkLiveRound(t, r)
	total := int64(r.Events + r.WarmupEvents)
	checkRelayWork(t, r.Engine+" live", r.Relay, total)
	// SQLite's relay takes its own process's events from the hand-off;
	// PostgreSQL's reads every one.
	if handed := r.Relay.Handed; (r.Engine == "SQLite") != (handed > 0) {
		t.Errorf("%s live: %d of %d events handed over to the relay", r.Engine, handed, total)
	}
	dw := r.DualWrite
	if dw == nil {
		t.Fatalf("%s live: no dual-write round", r.Engine)
	}
	checkLiveRound(t, dw)
	if dw.DualWrite != nil || dw.PublishErrors != 0 || dw.Relay != (bench.RelayWork{}) {
		t.Errorf("%s live, dual write: %d publish errors, relay work %+v, a round of its own %v; want 0, none, none",
			r.Engine, dw.PublishErrors, dw.Relay, dw.DualWrite != nil)
	}
}

func checkLiveRound(t *testing.T, r *bench.LiveResult) {
	t.Helper()
	total := int64(r.Events + r.WarmupEvents)
	if r.Events != 300 {
		t.Errorf("%s live: %d events measured, want rate × duration = 300", r.Engine, r.Events)
	}
	if r.Received != total || r.Handled != total || r.ReceivedDuplicates != 0 || r.HandledDuplicates != 0 || r.Unknown != 0 {
		t.Errorf("%s live: %d written, %d received (%d twice, %d unknown), %d handled (%d twice); want each once",
			r.Engine, total, r.Received, r.ReceivedDuplicates, r.Unknown, r.Handled, r.HandledDuplicates)
	}
	checkPercentiles(t, r.Engine+" commit", r.Commit, r.Events)
	checkPercentiles(t, r.Engine+" commit → received", r.Receipt, r.Events)
	checkPercentiles(t, r.Engine+" commit → handled", r.Handling, r.Events)
	// The wire tap is a plain subscription; allow it a miss, no more.
	if r.Published.N < r.Events-1 || r.Stored.N != r.Published.N {
		t.Errorf("%s live: %d publishes seen, %d stored, of %d events", r.Engine, r.Published.N, r.Stored.N, r.Events)
	}
	checkPercentiles(t, r.Engine+" commit → published", r.Published, r.Published.N)
	checkPercentiles(t, r.Engine+" published → received", r.Stored, r.Stored.N)
	if r.EarlyReceipts == 0 && r.Receipt.Min < 0 {
		t.Errorf("%s live: negative latency %.3f ms without an early receipt", r.Engine, r.Receipt.Min)
	}
	if r.AchievedRate <= 0 {
		t.Errorf("%s live: achieved %.0f/s", r.Engine, r.AchievedRate)
	}
}

func checkWriters(t *testing.T, r *bench.WritersResult) {
	t.Helper()
	if r == nil {
		t.Fatal("no writers result")
	}
	checkCommitRun(t, r.Engine+" baseline", r.Baseline)
	checkCommitRun(t, r.Engine+" with outbox, no relay", r.OutboxNoRelay)
	checkCommitRun(t, r.Engine+" with outbox", r.Outbox)
	// Every counted commit and every warm-up commit (10 per writer and
	// round) recorded one event.
	warm := int64(10 * r.Writers * 3)
	if r.Events != r.Outbox.Commits+warm || r.StreamMsgs != uint64(r.Events) {
		t.Errorf("%s writers: %d commits (+%d warm-up), %d events, streams hold %d; want one event per commit, each in the stream",
			r.Engine, r.Outbox.Commits, warm, r.Events, r.StreamMsgs)
	}
	for _, c := range []bench.CommitRun{r.Baseline, r.OutboxNoRelay, r.Outbox} {
		if len(c.Rounds) != 3 {
			t.Errorf("%s writers: %d rounds, want 3", r.Engine, len(c.Rounds))
		}
	}
	if len(r.Backlog) == 0 || r.BacklogFinal != 0 {
		t.Errorf("%s writers: %d backlog samples, final backlog %d; want samples and a drained outbox", r.Engine, len(r.Backlog), r.BacklogFinal)
	}
	checkRelayWork(t, r.Engine+" writers", r.Relay, r.Events)
	// /proc says where the CPU went (Linux): this process wrote, so it
	// spent some; nobody spends more than all the cores.
	for _, c := range []bench.CommitRun{r.Baseline, r.OutboxNoRelay, r.Outbox} {
		cpu := c.CPU
		if runtime.GOOS == "linux" && (cpu.Seconds <= 0 || cpu.Bench <= 0 || cpu.Bench+cpu.Postgres+cpu.NATS+cpu.Idle > 100*float64(runtime.NumCPU())*1.2) {
			t.Errorf("%s writers: CPU %+v", r.Engine, cpu)
		}
	}
	for _, b := range r.Backlog {
		if b.Events > r.BacklogMax || b.Events < 0 {
			t.Errorf("%s writers: sample %+v beyond max %d", r.Engine, b, r.BacklogMax)
		}
	}
}

// checkOutputs checks the table, the Markdown and the JSON agree on the
// rows.
func checkOutputs(t *testing.T, rep *bench.Report, wantRows int) {
	t.Helper()
	rows := rep.Rows()
	if len(rows) != wantRows {
		t.Errorf("%d rows, want %d: %+v", len(rows), wantRows, rows)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if !strings.Contains(md.String(), "| "+r.Measure+" |") {
			t.Errorf("Markdown lacks the row %q", r.Measure)
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Rows []bench.Row `json:"rows"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	if len(back.Rows) != len(rows) {
		t.Errorf("JSON has %d rows, want %d", len(back.Rows), len(rows))
	}
}

func TestSelectPhases(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []string
	}{
		{"", bench.Phases()},
		{"all", bench.Phases()},
		{"live-sqlite", []string{bench.PhaseLiveSQLite}},
		{"drain-sqlite", []string{bench.PhaseRawJetStream, bench.PhaseDrainSQLite}},
		{"writers, raw-postgres", []string{bench.PhaseRawPostgres, bench.PhaseWritersPostgres, bench.PhaseWritersSQLite}},
		{"sqlite", []string{bench.PhaseRawSQLite, bench.PhaseDrainSQLite, bench.PhaseLiveSQLite, bench.PhaseWritersSQLite, bench.PhaseRawJetStream}},
	} {
		got, err := bench.SelectPhases(tc.list)
		if err != nil {
			t.Errorf("%q: %v", tc.list, err)
			continue
		}
		if strings.Join(sorted(got), ",") != strings.Join(sorted(tc.want), ",") {
			t.Errorf("%q: %v, want %v", tc.list, got, tc.want)
		}
		for i := 1; i < len(got); i++ {
			if index(got[i-1]) > index(got[i]) {
				t.Errorf("%q: %v not in run order", tc.list, got)
			}
		}
	}
	for _, bad := range []string{"nope", "raw,nope", ","} {
		if _, err := bench.SelectPhases(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := bench.Config{NATSURL: "nats://127.0.0.1:4222", PostgresAdmin: "postgres://postgres@127.0.0.1/postgres"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, mutate := range map[string]func(*bench.Config){
		"no NATS":           func(c *bench.Config) { c.NATSURL = "" },
		"no Postgres":       func(c *bench.Config) { c.PostgresAdmin = "" },
		"unknown phase":     func(c *bench.Config) { c.Phases = []string{"nope"} },
		"negative events":   func(c *bench.Config) { c.Events = -1 },
		"negative duration": func(c *bench.Config) { c.Duration = -time.Second },
		"tiny payload":      func(c *bench.Config) { c.PayloadBytes = 8 },
	} {
		c := ok
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil", name)
		}
	}
	sqliteOnly := bench.Config{NATSURL: "nats://127.0.0.1:4222", Phases: []string{bench.PhaseRawSQLite}}
	if err := sqliteOnly.Validate(); err != nil {
		t.Errorf("SQLite phases need no PostgreSQL: %v", err)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func index(phase string) int { return slices.Index(bench.Phases(), phase) }
