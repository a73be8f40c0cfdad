package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Phase names, in the order a run executes them.
const (
	PhaseRawPostgres     = "raw-postgres"
	PhaseRawSQLite       = "raw-sqlite"
	PhaseRawJetStream    = "raw-jetstream"
	PhaseDrainPostgres   = "drain-postgres"
	PhaseDrainSQLite     = "drain-sqlite"
	PhaseLivePostgres    = "live-postgres"
	PhaseLiveSQLite      = "live-sqlite"
	PhaseWritersPostgres = "writers-postgres"
	PhaseWritersSQLite   = "writers-sqlite"
)

// Phases returns every phase name in run order.
func Phases() []string {
	return []string{
		PhaseRawPostgres, PhaseRawSQLite, PhaseRawJetStream,
		PhaseDrainPostgres, PhaseDrainSQLite,
		PhaseLivePostgres, PhaseLiveSQLite,
		PhaseWritersPostgres, PhaseWritersSQLite,
	}
}

// phaseGroups returns the names that select several phases at once in
// [SelectPhases]: a kind of measurement, or an engine.
func phaseGroups() map[string][]string {
	return map[string][]string{
		"all":       Phases(),
		"raw":       {PhaseRawPostgres, PhaseRawSQLite, PhaseRawJetStream},
		"drain":     {PhaseDrainPostgres, PhaseDrainSQLite},
		"live":      {PhaseLivePostgres, PhaseLiveSQLite},
		"writers":   {PhaseWritersPostgres, PhaseWritersSQLite},
		"postgres":  {PhaseRawPostgres, PhaseDrainPostgres, PhaseLivePostgres, PhaseWritersPostgres},
		"sqlite":    {PhaseRawSQLite, PhaseDrainSQLite, PhaseLiveSQLite, PhaseWritersSQLite},
		"jetstream": {PhaseRawJetStream},
	}
}

// SelectPhases parses a comma-separated list of phase names and group names
// (all, raw, drain, live, writers, postgres, sqlite, jetstream) into phase
// names in run order. An empty list selects every phase. A drain phase
// brings raw-jetstream with it, since its figure is a ratio to that one.
func SelectPhases(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return Phases(), nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if g, ok := phaseGroups()[name]; ok {
			for _, p := range g {
				want[p] = true
			}
			continue
		}
		if !slices.Contains(Phases(), name) {
			return nil, fmt.Errorf("bench: unknown phase %q (phases: %s; groups: all, raw, drain, live, writers, postgres, sqlite, jetstream)",
				name, strings.Join(Phases(), ", "))
		}
		want[name] = true
	}
	if want[PhaseDrainPostgres] || want[PhaseDrainSQLite] {
		want[PhaseRawJetStream] = true
	}
	var phases []string
	for _, p := range Phases() {
		if want[p] {
			phases = append(phases, p)
		}
	}
	if len(phases) == 0 {
		return nil, errors.New("bench: no phase selected")
	}
	return phases, nil
}

// DefaultWindow is the publish window of both the raw JetStream measurement
// and the relay under test: relay.Config's documented default. Both are set
// from this one constant, so they cannot drift apart.
const DefaultWindow = 2048

// Config says what to measure and where. NATSURL is required, and so is
// PostgresAdmin when a PostgreSQL phase is selected.
type Config struct {
	// PostgresAdmin is a postgres:// URL of a role that may create and drop
	// databases. Each PostgreSQL measurement creates its own database
	// through it and drops it afterwards.
	PostgresAdmin string
	// NATSURL is the client URL of a JetStream-enabled NATS server. Each
	// measurement creates its own stream and deletes it afterwards.
	NATSURL string
	// Phases to run, as returned by SelectPhases. Default: all.
	Phases []string
	// Events is the size of the drain backlog and of the raw publish run.
	// Default 100,000.
	Events int
	// Duration is how long the live and writers phases write. Default 10 s.
	Duration time.Duration
	// RawDuration is how long each raw database measurement writes.
	// Default 5 s.
	RawDuration time.Duration
	// Rate is the offered rate of the live phases, in events per second.
	// Default 1,000.
	Rate int
	// LiveWriters is the number of paced writers sharing the live schedule,
	// so that one slow commit does not delay the events due after it.
	// Default 4.
	LiveWriters int
	// Writers is the number of concurrent writers of the raw "many writers"
	// figures and of the writers phases. Default 8.
	Writers int
	// PayloadBytes is the size of every event's body (and of every raw
	// row's data column). Default 300.
	PayloadBytes int
	// WriterRounds is how many interleaved rounds the writers phases run
	// (each of Duration/WriterRounds per figure). Default 3.
	WriterRounds int
	// RecordBatch is how many events the drain phases record per
	// transaction. Default 1,000.
	RecordBatch int
	// Window is the publish window of the raw publisher and of the relay.
	// Default DefaultWindow.
	Window int
	// StallTimeout fails a phase that sees no progress for this long
	// (no event received, backlog not shrinking). Default 30 s.
	StallTimeout time.Duration
	// TempDir holds the SQLite files (in a fresh directory removed at the
	// end). Default os.TempDir().
	TempDir string
	// Progress, when set, receives a live progress line per step.
	Progress io.Writer
	// ProgressTTY says Progress is a terminal: the line is then rewritten in
	// place a few times per second; otherwise one line is written per step
	// every few seconds.
	ProgressTTY bool
	// Logger receives the toolkit's own log lines (relay, inbox, NATS
	// client). Default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if len(c.Phases) == 0 {
		c.Phases = Phases()
	}
	if c.Events == 0 {
		c.Events = 100_000
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.RawDuration == 0 {
		c.RawDuration = 5 * time.Second
	}
	if c.Rate == 0 {
		c.Rate = 1000
	}
	if c.LiveWriters == 0 {
		c.LiveWriters = 4
	}
	if c.Writers == 0 {
		c.Writers = 8
	}
	if c.PayloadBytes == 0 {
		c.PayloadBytes = 300
	}
	if c.WriterRounds == 0 {
		c.WriterRounds = 3
	}
	if c.RecordBatch == 0 {
		c.RecordBatch = 1000
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration that cannot run.
func (c Config) Validate() error {
	c.setDefaults()
	for _, p := range c.Phases {
		if !slices.Contains(Phases(), p) {
			return fmt.Errorf("bench: unknown phase %q", p)
		}
	}
	if strings.TrimSpace(c.NATSURL) == "" {
		return errors.New("bench: NATSURL is required")
	}
	if c.needsPostgres() && !strings.HasPrefix(c.PostgresAdmin, "postgres://") && !strings.HasPrefix(c.PostgresAdmin, "postgresql://") {
		return fmt.Errorf("bench: PostgresAdmin must be a postgres:// URL, got %q", c.PostgresAdmin)
	}
	switch {
	case c.Events < 1 || c.Rate < 1 || c.LiveWriters < 1 || c.Writers < 1 || c.WriterRounds < 1 || c.RecordBatch < 1 || c.Window < 1:
		return errors.New("bench: Events, Rate, LiveWriters, Writers, WriterRounds, RecordBatch and Window must be positive")
	case c.Duration < 0 || c.RawDuration < 0 || c.StallTimeout < 0:
		return errors.New("bench: durations must not be negative")
	case c.PayloadBytes < 32:
		return fmt.Errorf("bench: PayloadBytes %d is below the minimum of 32", c.PayloadBytes)
	case c.Rate > 1_000_000:
		return fmt.Errorf("bench: Rate %d is above 1,000,000 events/s", c.Rate)
	}
	return nil
}

func (c Config) needsPostgres() bool {
	for _, p := range c.Phases {
		if strings.HasSuffix(p, "-postgres") {
			return true
		}
	}
	return false
}

func (c Config) has(phase string) bool { return slices.Contains(c.Phases, phase) }
