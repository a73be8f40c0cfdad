package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Targets of issue #2, against which [Report.Rows] judges the figures.
const (
	// DrainTarget: the relay drains a backlog at this fraction of the raw
	// JetStream publish rate, or better.
	DrainTarget = 0.70
	// WritersTarget: writers recording an outbox event keep this fraction of
	// the commits per second they reach without it, or better.
	WritersTarget = 0.85
	// LiveP50TargetMS and LiveP99TargetMS bound the latency from a writer's
	// commit to the event's receipt, in milliseconds.
	LiveP50TargetMS = 1.0
	LiveP99TargetMS = 3.0
	// KeepUpAgeMS: the relay keeps up when no event waits in the outbox
	// longer than this while the writers run, and the backlog drains to 0
	// once they stop.
	KeepUpAgeMS = 1000.0
)

// Report is the outcome of a run. A phase that did not run leaves its
// field nil.
type Report struct {
	// Command is the command line that produced the report, when the
	// caller sets it.
	Command  string      `json:"command,omitempty"`
	Started  time.Time   `json:"started"`
	Elapsed  float64     `json:"elapsed_seconds"`
	Env      Environment `json:"environment"`
	Settings Settings    `json:"settings"`

	RawPostgres     *RawDBResult      `json:"raw_postgres,omitempty"`
	RawSQLite       *RawDBResult      `json:"raw_sqlite,omitempty"`
	RawJetStream    *RawPublishResult `json:"raw_jetstream,omitempty"`
	DrainPostgres   *DrainResult      `json:"drain_postgres,omitempty"`
	DrainSQLite     *DrainResult      `json:"drain_sqlite,omitempty"`
	LivePostgres    *LiveResult       `json:"live_postgres,omitempty"`
	LiveSQLite      *LiveResult       `json:"live_sqlite,omitempty"`
	WritersPostgres *WritersResult    `json:"writers_postgres,omitempty"`
	WritersSQLite   *WritersResult    `json:"writers_sqlite,omitempty"`

	// Failures are the phases that did not complete. Their results above
	// may be partial, and are left out of the table.
	Failures []PhaseFailure `json:"failures,omitempty"`
}

// PhaseFailure is a phase that did not complete, and why.
type PhaseFailure struct {
	Phase string `json:"phase"`
	Error string `json:"error"`
}

// failed returns why phase failed, or "" when it did not.
func (rep *Report) failed(phase string) string {
	for _, f := range rep.Failures {
		if f.Phase == phase {
			return f.Error
		}
	}
	return ""
}

// ifOK returns v when phase completed, and nil when it failed.
func ifOK[T any](rep *Report, phase string, v *T) *T {
	if rep.failed(phase) != "" {
		return nil
	}
	return v
}

// groupOf returns the table group of a phase.
func groupOf(phase string) string {
	switch {
	case strings.HasPrefix(phase, "raw-"):
		return GroupRaw
	case strings.HasPrefix(phase, "drain-"):
		return GroupDrain
	case strings.HasPrefix(phase, "live-"):
		return GroupLive
	default:
		return GroupWriters
	}
}

// Environment is the machine and the servers a run measured.
type Environment struct {
	GoVersion                 string `json:"go_version"`
	OS                        string `json:"os"`
	Arch                      string `json:"arch"`
	CPUs                      int    `json:"cpus"`
	GOMAXPROCS                int    `json:"gomaxprocs"`
	PostgresVersion           string `json:"postgres_version,omitempty"`
	PostgresFsync             string `json:"postgres_fsync,omitempty"`
	PostgresSynchronousCommit string `json:"postgres_synchronous_commit,omitempty"`
	PostgresSharedBuffers     string `json:"postgres_shared_buffers,omitempty"`
	SQLiteVersion             string `json:"sqlite_version,omitempty"`
	NATSServer                string `json:"nats_server"`
	NATSURL                   string `json:"nats_url"`
	// LoadAverage is the machine's 1-minute load average before and after
	// the run (Linux; empty elsewhere). Other work on the machine skews
	// every figure: a load well above 0 before the run is a warning.
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
}

// loadAverage returns the 1-minute load average, or "" where unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// Settings are the sizes a run used.
type Settings struct {
	Phases          []string `json:"phases"`
	Events          int      `json:"events"`
	PayloadBytes    int      `json:"payload_bytes"`
	Window          int      `json:"window"`
	DurationSeconds float64  `json:"duration_seconds"`
	RawSeconds      float64  `json:"raw_duration_seconds"`
	Rate            int      `json:"rate"`
	LiveWriters     int      `json:"live_writers"`
	Writers         int      `json:"writers"`
	WriterRounds    int      `json:"writer_rounds"`
	RecordBatch     int      `json:"record_batch"`
}

func settingsOf(c Config) Settings {
	return Settings{
		Phases: c.Phases, Events: c.Events, PayloadBytes: c.PayloadBytes, Window: c.Window,
		DurationSeconds: c.Duration.Seconds(), RawSeconds: c.RawDuration.Seconds(), Rate: c.Rate,
		LiveWriters: c.LiveWriters, Writers: c.Writers, WriterRounds: c.WriterRounds, RecordBatch: c.RecordBatch,
	}
}

// Row is one line of the results table: a figure, and where it has one,
// the raw limit it is compared with and its target.
type Row struct {
	Group   string  `json:"group"`
	Measure string  `json:"measure"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	// Raw is the raw limit the figure is compared with (same unit), 0 when
	// there is none; Ratio is Value/Raw.
	Raw   float64 `json:"raw,omitempty"`
	Ratio float64 `json:"ratio,omitempty"`
	// Target is the target in words; Pass is nil when there is none.
	Target string `json:"target,omitempty"`
	Pass   *bool  `json:"pass,omitempty"`
	// TargetValue is the target as a figure in Unit (a floor for ratio
	// targets, a ceiling for upper bounds); 0 when there is none.
	TargetValue float64 `json:"target_value,omitempty"`
}

// Table groups, in the order they are printed.
const (
	GroupRaw     = "Raw limits"
	GroupDrain   = "Backlog drain"
	GroupLive    = "Live latency"
	GroupWriters = "Live writers"
)

func ratioRow(group, measure, unit string, value, raw, target float64) Row {
	r := Row{Group: group, Measure: measure, Value: value, Unit: unit, Raw: raw,
		Target: fmt.Sprintf("≥ %.0f%% of raw", target*100)}
	if raw > 0 {
		r.Ratio = value / raw
		r.TargetValue = target * raw
		pass := r.Ratio >= target
		r.Pass = &pass
	}
	return r
}

// maxRow is a figure with an upper bound; raw, when not 0, is the same
// figure for the engine alone, shown for comparison.
func maxRow(group, measure, unit string, value, raw, limit float64) Row {
	pass := value <= limit
	return Row{Group: group, Measure: measure, Value: value, Unit: unit, Raw: raw,
		Target: "≤ " + formatValue(limit, unit), Pass: &pass, TargetValue: limit}
}

func infoRow(group, measure, unit string, value float64) Row {
	return Row{Group: group, Measure: measure, Value: value, Unit: unit}
}

// Rows returns the results table: every figure of the phases that ran,
// judged against its target where it has one.
func (rep *Report) Rows() []Row {
	var rawJS float64
	var rawLat Percentiles
	if rep.RawJetStream != nil && rep.failed(PhaseRawJetStream) == "" {
		rawJS = rep.RawJetStream.PerSecond
		if l := rep.RawJetStream.Latency; l != nil {
			rawLat = l.Receipt
		}
	}
	var rows []Row
	for _, p := range Phases() {
		if why := rep.failed(p); why != "" {
			pass := false
			rows = append(rows, Row{Group: groupOf(p), Measure: p + " did not complete: " + why, Pass: &pass})
			continue
		}
		switch p {
		case PhaseRawPostgres:
			rows = append(rows, rawDBRows(rep.RawPostgres)...)
		case PhaseRawSQLite:
			rows = append(rows, rawDBRows(rep.RawSQLite)...)
		case PhaseRawJetStream:
			if j := rep.RawJetStream; j != nil {
				rows = append(rows,
					infoRow(GroupRaw, fmt.Sprintf("JetStream async publishes/s, Nats-Msg-Id, %d B body + %d B headers, window %d",
						j.PayloadBytes, j.HeaderBytes, j.Window), "/s", j.PerSecond),
					infoRow(GroupRaw, "JetStream async publishes/s with an ordered consumer receiving, first publish → last receipt", "/s", j.Consumed))
			}
		case PhaseDrainPostgres:
			rows = append(rows, drainRows(rep.DrainPostgres, rawJS)...)
		case PhaseDrainSQLite:
			rows = append(rows, drainRows(rep.DrainSQLite, rawJS)...)
		case PhaseLivePostgres:
			rows = append(rows, liveRows(rep.LivePostgres, rawLat)...)
		case PhaseLiveSQLite:
			rows = append(rows, liveRows(rep.LiveSQLite, rawLat)...)
		case PhaseWritersPostgres:
			rows = append(rows, writersRows(rep.WritersPostgres)...)
		case PhaseWritersSQLite:
			rows = append(rows, writersRows(rep.WritersSQLite)...)
		}
	}
	return rows
}

func rawDBRows(raw *RawDBResult) []Row {
	if raw == nil {
		return nil
	}
	return []Row{
		infoRow(GroupRaw, raw.Engine+" INSERT commits/s, 1 writer", "/s", raw.One.PerSecond),
		infoRow(GroupRaw, fmt.Sprintf("%s INSERT commits/s, %d writers", raw.Engine, raw.Many.Writers), "/s", raw.Many.PerSecond),
	}
}

func drainRows(d *DrainResult, rawJS float64) []Row {
	if d == nil {
		return nil
	}
	return []Row{ratioRow(GroupDrain,
		fmt.Sprintf("%s: %s-event backlog, relay start → last event received, events/s", d.Engine, thousands(float64(d.Events))),
		"/s", d.PerSecond, rawJS, DrainTarget)}
}

// liveRows are the live latencies beside their raw limit: the same
// figure of the phase's dual-write round (each writer publishing its own
// event after its commit, under the same load) or, in a report from before
// that round existed, JetStream's own publish → receipt latency at the same
// rate (rawJS).
func liveRows(l *LiveResult, rawJS Percentiles) []Row {
	if l == nil {
		return nil
	}
	rawReceipt, rawHandling := rawJS, Percentiles{}
	if dw := l.DualWrite; dw != nil {
		rawReceipt, rawHandling = dw.Receipt, dw.Handling
	}
	handled := func(measure string, value, raw float64) Row {
		r := infoRow(GroupLive, measure, "ms", value)
		r.Raw = raw
		return r
	}
	return []Row{
		maxRow(GroupLive, l.Engine+": commit → received, p50", "ms", l.Receipt.P50, rawReceipt.P50, LiveP50TargetMS),
		maxRow(GroupLive, l.Engine+": commit → received, p99", "ms", l.Receipt.P99, rawReceipt.P99, LiveP99TargetMS),
		handled(l.Engine+": commit → handled (inbox committed), p50", l.Handling.P50, rawHandling.P50),
		handled(l.Engine+": commit → handled (inbox committed), p99", l.Handling.P99, rawHandling.P99),
		infoRow(GroupLive, fmt.Sprintf("%s: events written/s (offered %s/s)", l.Engine, thousands(l.OfferedRate)), "/s", l.AchievedRate),
	}
}

func writersRows(w *WritersResult) []Row {
	if w == nil {
		return nil
	}
	keep := w.OldestAgeMaxMS <= KeepUpAgeMS && w.BacklogFinal == 0 && len(w.Backlog) > 0
	noRelay := infoRow(GroupWriters, fmt.Sprintf("%s: %d writers, domain row + outbox event, no relay, commits/s", w.Engine, w.Writers),
		"/s", w.OutboxNoRelay.PerSecond)
	if w.Baseline.PerSecond > 0 {
		noRelay.Raw, noRelay.Ratio = w.Baseline.PerSecond, w.OutboxNoRelay.PerSecond/w.Baseline.PerSecond
	}
	return []Row{
		noRelay,
		ratioRow(GroupWriters, fmt.Sprintf("%s: %d writers, domain row + outbox event, relay running, commits/s", w.Engine, w.Writers),
			"/s", w.Outbox.PerSecond, w.Baseline.PerSecond, WritersTarget),
		infoRow(GroupWriters, w.Engine+": outbox backlog, max while writing", "events", float64(w.BacklogMax)),
		infoRow(GroupWriters, w.Engine+": outbox backlog when the writers stopped", "events", float64(w.BacklogAtStop)),
		infoRow(GroupWriters, w.Engine+": outbox backlog, final", "events", float64(w.BacklogFinal)),
		{Group: GroupWriters, Measure: w.Engine + ": relay keeps up: oldest waiting event, max age", Value: w.OldestAgeMaxMS, Unit: "ms",
			Target: fmt.Sprintf("≤ %s, drains to 0", formatValue(KeepUpAgeMS, "ms")), Pass: &keep, TargetValue: KeepUpAgeMS},
	}
}

// WriteMarkdown writes the results as a Markdown section for
// docs/benchmarks.md: the environment, one table per group (figure, raw
// limit, ratio, target, result) and how each figure was measured.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	e := rep.Env
	fmt.Fprintf(&b, "## Toolkit benchmark, %s\n\n", rep.Started.Format("2006-01-02"))
	if rep.Command != "" {
		fmt.Fprintf(&b, "`%s`, %.0f s in all. ", rep.Command, rep.Elapsed)
	}
	fmt.Fprintf(&b, "%d CPUs (GOMAXPROCS %d), %s %s/%s", e.CPUs, e.GOMAXPROCS, e.GoVersion, e.OS, e.Arch)
	if e.PostgresVersion != "" {
		fmt.Fprintf(&b, "; PostgreSQL %s (fsync %s, synchronous_commit %s, shared_buffers %s)",
			e.PostgresVersion, e.PostgresFsync, e.PostgresSynchronousCommit, e.PostgresSharedBuffers)
	}
	if e.SQLiteVersion != "" {
		fmt.Fprintf(&b, "; SQLite %s with sqldb's defaults (WAL, synchronous NORMAL, one writer connection)", e.SQLiteVersion)
	}
	fmt.Fprintf(&b, "; nats-server %s, file storage. Events of %d B, relay and raw publish window %d, live phases %s.",
		e.NATSServer, rep.Settings.PayloadBytes, rep.Settings.Window, time.Duration(rep.Settings.DurationSeconds*float64(time.Second)))
	if e.LoadBefore != "" {
		fmt.Fprintf(&b, " Load average %s before the run, %s after.", e.LoadBefore, e.LoadAfter)
	}
	b.WriteString("\n")

	rows := rep.Rows()
	passed, failed := 0, 0
	for _, group := range []string{GroupRaw, GroupDrain, GroupLive, GroupWriters} {
		var in []Row
		for _, r := range rows {
			if r.Group == group {
				in = append(in, r)
			}
		}
		if len(in) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n", group)
		b.WriteString("| Measure | Figure | Raw limit | Ratio | Target | Result |\n|---|--:|--:|--:|---|---|\n")
		for _, r := range in {
			raw, ratio, result := "—", "—", "—"
			if r.Raw > 0 {
				raw = formatValue(r.Raw, r.Unit)
			}
			if r.Ratio > 0 {
				ratio = fmt.Sprintf("%.0f%%", r.Ratio*100)
			}
			target := r.Target
			if target == "" {
				target = "—"
			}
			if r.Pass != nil {
				if *r.Pass {
					result = "pass"
					passed++
				} else {
					result = "**fail**"
					failed++
				}
			}
			figure := formatValue(r.Value, r.Unit)
			if r.Unit == "" {
				figure = "—"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", strings.ReplaceAll(r.Measure, "|", "\\|"), figure, raw, ratio, target, result)
		}
		for _, note := range rep.notes(group) {
			if note == "" {
				continue
			}
			fmt.Fprintf(&b, "\n%s\n", note)
		}
	}
	fmt.Fprintf(&b, "\nTargets: %d pass, %d fail.\n", passed, failed)
	_, err := io.WriteString(w, b.String())
	return err
}

// notes says how the figures of a group were measured, with the details a
// reader needs to trust them.
func (rep *Report) notes(group string) []string {
	s := rep.Settings
	pct := func(p Percentiles) string {
		return fmt.Sprintf("p50 %.2f, p90 %.2f, p99 %.2f, p99.9 %.2f, max %.2f ms", p.P50, p.P90, p.P99, p.P999, p.Max)
	}
	var out []string
	switch group {
	case GroupRaw:
		if rep.RawPostgres != nil || rep.RawSQLite != nil {
			out = append(out, fmt.Sprintf("Raw databases: one-row autocommit INSERTs (a %d-byte row) into a plain table of a fresh database, %s per figure; "+
				"the SQLite writers share sqldb's single writer connection.", s.PayloadBytes, secs(s.RawSeconds)))
		}
		if j := ifOK(rep, PhaseRawJetStream, rep.RawJetStream); j != nil {
			out = append(out, fmt.Sprintf("Raw JetStream: %s messages, each the relay's own message for an outbox event (CloudEvents headers, Nats-Msg-Id, "+
				"%d B body), published by one publisher with at most %d unacknowledged, to a fresh file-storage stream; first publish to last ack; "+
				"the median of %d runs (%s/s).",
				thousands(float64(s.Events)), j.PayloadBytes, j.Window, len(j.Runs), joinRates(j.Runs)))
			if l := j.Latency; l != nil {
				out = append(out, fmt.Sprintf("Raw JetStream latency, without the live phases' load: %s messages at %s/s, one at a time with its ack awaited, "+
					"as the relay publishes a lone event. Publish → received by an ordered consumer: %s. Publish → ack: %s.",
					thousands(float64(l.Messages)), thousands(float64(l.Rate)), pct(l.Receipt), pct(l.Ack)))
			}
		}
	case GroupDrain:
		if j := ifOK(rep, PhaseRawJetStream, rep.RawJetStream); j != nil && j.Consumed > 0 {
			out = append(out, fmt.Sprintf("The target compares the drain with raw publishing alone (%s/s), as issue #2 defines it. The drain also delivers every event "+
				"to a consumer, which JetStream alone does at %s/s (first publish → last receipt, median of %d runs: %s/s); against that the drains reach %s.",
				thousands(j.PerSecond), thousands(j.Consumed), len(j.ConsumedRuns), joinRates(j.ConsumedRuns), drainShares(rep, j.Consumed)))
		}
		for _, d := range []*DrainResult{ifOK(rep, PhaseDrainPostgres, rep.DrainPostgres), ifOK(rep, PhaseDrainSQLite, rep.DrainSQLite)} {
			if d != nil {
				out = append(out, fmt.Sprintf("%s: %s events recorded %d per transaction in %.1f s before the relay started; an ordered consumer received "+
					"%s (each once) in %.2f s; first event received %.1f ms after the relay's start. The relay: %s.",
					d.Engine, thousands(float64(d.Events)), s.RecordBatch, d.RecordSeconds, thousands(float64(d.Received)), d.Seconds, d.FirstReceiptMS, d.Relay))
			}
		}
	case GroupLive:
		for _, l := range []*LiveResult{ifOK(rep, PhaseLivePostgres, rep.LivePostgres), ifOK(rep, PhaseLiveSQLite, rep.LiveSQLite)} {
			if l != nil {
				out = append(out, fmt.Sprintf("%s: %s events at %s/s, each its own transaction (a domain row and its event), paced by %d writers; "+
					"the clock starts when the writer's commit returns. Commit → received: %s. Commit → handled (inbox transaction committed): %s. "+
					"Where the time goes: commit → the relay's publish seen on the wire %s; publish → received %s. Writer's own transaction: p50 %.2f, p99 %.2f ms. "+
					"The relay, warm-up included: %s.",
					l.Engine, thousands(float64(l.Events)), thousands(l.OfferedRate), s.LiveWriters,
					pct(l.Receipt), pct(l.Handling), pct(l.Published), pct(l.Stored), l.Commit.P50, l.Commit.P99, l.Relay))
				if dw := l.DualWrite; dw != nil {
					out = append(out, fmt.Sprintf("%s, the raw limit (the Raw limit column of the live rows): right after the round above, the same again "+
						"on a fresh database and stream, but each writer publishes its event to JetStream itself as soon as its commit returns "+
						"(a dual write: no outbox row, no relay; the fastest way to get a committed change onto the stream, and the one that loses it "+
						"when the process dies between commit and publish). Commit → received: %s. Commit → handled: %s. "+
						"Commit → publish seen on the wire %s. Writer's own transaction (no outbox row): p50 %.2f, p99 %.2f ms.",
						dw.Engine, pct(dw.Receipt), pct(dw.Handling), pct(dw.Published), dw.Commit.P50, dw.Commit.P99))
				}
			}
		}
	case GroupWriters:
		for _, w := range []*WritersResult{ifOK(rep, PhaseWritersPostgres, rep.WritersPostgres), ifOK(rep, PhaseWritersSQLite, rep.WritersSQLite)} {
			if w != nil {
				out = append(out, fmt.Sprintf("%s: %d writers; one domain row per transaction (the raw figure), one domain row and its outbox event without a relay, "+
					"and the same with the relay running, measured in %d interleaved rounds of %s each, every run on a fresh database; each figure is the median "+
					"of its rounds (raw %s/s; no relay %s/s; relay %s/s). Commit p50/p99: %.2f/%.2f, %.2f/%.2f and %.2f/%.2f ms. "+
					"Backlog sampled every 250 ms; after the writers stopped it drained in at most %.0f ms; the streams hold %s events, one per commit. "+
					"The relays: %s.%s",
					w.Engine, w.Writers, s.WriterRounds, secs(s.DurationSeconds/float64(max(1, s.WriterRounds))),
					joinRates(w.Baseline.Rounds), joinRates(w.OutboxNoRelay.Rounds), joinRates(w.Outbox.Rounds),
					w.Baseline.Latency.P50, w.Baseline.Latency.P99,
					w.OutboxNoRelay.Latency.P50, w.OutboxNoRelay.Latency.P99,
					w.Outbox.Latency.P50, w.Outbox.Latency.P99, w.DrainMS, thousands(float64(w.StreamMsgs)), w.Relay, cpuNote(w)))
			}
		}
	}
	return out
}

// WriteJSON writes the report, with its table of rows, as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		Rows []Row `json:"rows"`
	}{rep, rep.Rows()})
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		if v < 10 {
			return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
		}
		return thousands(v) + " ms"
	case "/s":
		return thousands(v) + "/s"
	default:
		return thousands(v)
	}
}

// thousands formats v rounded to an integer, with thin commas: 12,345.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// drainShares says what share of rate each completed drain reached.
func drainShares(rep *Report, rate float64) string {
	var parts []string
	for _, d := range []*DrainResult{ifOK(rep, PhaseDrainPostgres, rep.DrainPostgres), ifOK(rep, PhaseDrainSQLite, rep.DrainSQLite)} {
		if d != nil {
			parts = append(parts, fmt.Sprintf("%.0f%% (%s)", 100*d.PerSecond/rate, d.Engine))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " and ")
}

func joinRates(rs []float64) string {
	out := make([]string, len(rs))
	for i, v := range rs {
		out[i] = thousands(v)
	}
	return strings.Join(out, ", ")
}

func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// cpuNote says where the CPU went in the three kinds of writers rounds
// ("" where /proc could not tell).
func cpuNote(w *WritersResult) string {
	if w.Baseline.CPU.Seconds == 0 || w.OutboxNoRelay.CPU.Seconds == 0 || w.Outbox.CPU.Seconds == 0 {
		return ""
	}
	f := func(c CPUUse) string {
		return fmt.Sprintf("this process %.0f%%, PostgreSQL %.0f%%, nats-server %.0f%%, idle %.0f%%", c.Bench, c.Postgres, c.NATS, c.Idle)
	}
	return fmt.Sprintf(" CPU while writing, in percent of one core (%d cores): domain rows only: %s; outbox, no relay: %s; relay running: %s.",
		runtime.NumCPU(), f(w.Baseline.CPU), f(w.OutboxNoRelay.CPU), f(w.Outbox.CPU))
}
