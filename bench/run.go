package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/relay"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Run runs the phases of cfg in order and returns their results. A phase
// that fails (a server error, a lost or duplicated event, no progress for
// cfg.StallTimeout) is recorded in Report.Failures and the run goes on with
// the next; Run then returns the report with the failures joined in its
// error. A cancelled ctx ends the run after the current phase's cleanup. Whatever a phase created is removed before the next one
// starts, also when ctx is cancelled (cleanup then runs on a fresh context,
// bounded in time).
//
// Run does not judge the figures against their targets; see [Report.Rows].
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	r := &runner{cfg: cfg, prog: newProgress(cfg.Progress, cfg.ProgressTTY)}
	defer r.prog.close()
	rep := &Report{Started: time.Now().UTC(), Settings: settingsOf(cfg)}
	if err := r.open(ctx, rep); err != nil {
		return nil, err
	}
	defer r.close()

	phases := map[string]func(context.Context, *Report) error{
		PhaseRawPostgres: func(ctx context.Context, rep *Report) (err error) {
			rep.RawPostgres, err = r.rawDB(ctx, sqldb.Postgres)
			return
		},
		PhaseRawSQLite: func(ctx context.Context, rep *Report) (err error) {
			rep.RawSQLite, err = r.rawDB(ctx, sqldb.SQLite)
			return
		},
		PhaseRawJetStream: func(ctx context.Context, rep *Report) (err error) {
			rep.RawJetStream, err = r.rawJetStream(ctx)
			return
		},
		PhaseDrainPostgres: func(ctx context.Context, rep *Report) (err error) {
			rep.DrainPostgres, err = r.drain(ctx, sqldb.Postgres)
			return
		},
		PhaseDrainSQLite: func(ctx context.Context, rep *Report) (err error) {
			rep.DrainSQLite, err = r.drain(ctx, sqldb.SQLite)
			return
		},
		PhaseLivePostgres: func(ctx context.Context, rep *Report) (err error) {
			rep.LivePostgres, err = r.live(ctx, sqldb.Postgres)
			return
		},
		PhaseLiveSQLite: func(ctx context.Context, rep *Report) (err error) {
			rep.LiveSQLite, err = r.live(ctx, sqldb.SQLite)
			return
		},
		PhaseWritersPostgres: func(ctx context.Context, rep *Report) (err error) {
			rep.WritersPostgres, err = r.writers(ctx, sqldb.Postgres)
			return
		},
		PhaseWritersSQLite: func(ctx context.Context, rep *Report) (err error) {
			rep.WritersSQLite, err = r.writers(ctx, sqldb.SQLite)
			return
		},
	}
	var errs []error
	for _, p := range cfg.Phases {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		start := time.Now()
		r.prog.note("== %s", p)
		err := phases[p](ctx, rep)
		rep.Elapsed = time.Since(rep.Started).Seconds()
		if err != nil {
			// Go on with the next phase: one broken measurement should not
			// hide the others. The report says which failed and why.
			rep.Failures = append(rep.Failures, PhaseFailure{Phase: p, Error: err.Error()})
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			r.prog.note("== %s FAILED after %.1fs: %v", p, time.Since(start).Seconds(), err)
			continue
		}
		r.prog.note("== %s done in %.1fs", p, time.Since(start).Seconds())
	}
	rep.Env.LoadAfter = loadAverage()
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("bench: %w", err)
	}
	return rep, nil
}

// runner holds what the phases of one run share: the servers and the
// directory of the SQLite files.
type runner struct {
	cfg  Config
	prog *progress

	nc *nats.Conn // for streams and consumers; publishers have their own
	js jetstream.JetStream

	pgMu sync.Mutex
	pg   *pgx.Conn // admin connection: CREATE and DROP DATABASE

	dir string // SQLite files
}

// open connects to the servers and fills rep.Env.
func (r *runner) open(ctx context.Context, rep *Report) (err error) {
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	rep.Env = Environment{
		LoadBefore: loadAverage(),
		GoVersion:  runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		NATSURL: redactURL(r.cfg.NATSURL),
	}
	r.nc, err = r.connect("bounded-bench", false)
	if err != nil {
		return err
	}
	if r.js, err = jetstream.New(r.nc); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.js.AccountInfo(actx); err != nil {
		return fmt.Errorf("bench: JetStream at %s: %w", redactURL(r.cfg.NATSURL), err)
	}
	rep.Env.NATSServer = r.nc.ConnectedServerVersion()

	if r.cfg.needsPostgres() {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		r.pg, err = pgx.Connect(pctx, r.cfg.PostgresAdmin)
		if err != nil {
			return fmt.Errorf("bench: PostgreSQL at %s: %w", redactURL(r.cfg.PostgresAdmin), err)
		}
		if err := r.pg.QueryRow(pctx, `SELECT current_setting('server_version'), current_setting('fsync'),
			current_setting('synchronous_commit'), current_setting('shared_buffers')`).Scan(
			&rep.Env.PostgresVersion, &rep.Env.PostgresFsync, &rep.Env.PostgresSynchronousCommit, &rep.Env.PostgresSharedBuffers); err != nil {
			return fmt.Errorf("bench: PostgreSQL settings: %w", err)
		}
	}
	// The SQLite library compiled into this binary (modernc.org/sqlite).
	if mem, err := sql.Open("sqlite", ":memory:"); err == nil {
		_ = mem.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&rep.Env.SQLiteVersion)
		mem.Close()
	}
	r.dir, err = os.MkdirTemp(r.cfg.TempDir, "bounded-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

func (r *runner) close() {
	if r.pg != nil {
		_ = r.pg.Close(context.Background())
	}
	if r.nc != nil {
		r.nc.Close()
	}
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
}

// connect opens a NATS connection of its own. Publishers (the relay and
// the raw publisher alike) get one that fails publishes while disconnected
// instead of buffering them, as the relay requires.
func (r *runner) connect(name string, publisher bool) (*nats.Conn, error) {
	nc, err := bus.Connect(bus.ConnConfig{URL: r.cfg.NATSURL, Name: name, Logger: r.cfg.Logger, NoReconnectBuffer: publisher})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return nc, nil
}

// scope collects what one phase created and removes it, newest first.
type scope struct {
	fns []func(context.Context) error
}

func (s *scope) onClose(f func(context.Context) error) { s.fns = append(s.fns, f) }

// close runs the cleanups on a fresh context: the phase's own may be
// cancelled (an interrupted run), and the databases and streams must still
// go. It returns the cleanup errors joined.
func (s *scope) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for i := len(s.fns) - 1; i >= 0; i-- {
		errs = append(errs, s.fns[i](ctx))
	}
	s.fns = nil
	return errors.Join(errs...)
}

// withScope runs f with a fresh scope and closes it, joining its error to
// f's.
func withScope[T any](f func(s *scope) (T, error)) (T, error) {
	s := &scope{}
	v, err := f(s)
	if cerr := s.close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
	}
	return v, err
}

// newDB creates a fresh database of engine d (a PostgreSQL database or a
// SQLite file), opens it with sqldb's default settings and arranges for it
// to be closed and removed with s.
func (r *runner) newDB(ctx context.Context, s *scope, d sqldb.Dialect, prefix string) (*sqldb.DB, error) {
	name := uniqueName(prefix)
	var dsn string
	switch d {
	case sqldb.Postgres:
		u, err := url.Parse(r.cfg.PostgresAdmin)
		if err != nil {
			return nil, fmt.Errorf("admin URL: %w", err)
		}
		u.Path, u.RawPath = "/"+name, ""
		dsn = u.String()
		if err := r.adminExec(ctx, "CREATE DATABASE "+pgIdent(name)); err != nil {
			return nil, err
		}
		s.onClose(func(ctx context.Context) error {
			return r.adminExec(ctx, "DROP DATABASE IF EXISTS "+pgIdent(name)+" WITH (FORCE)")
		})
	default:
		dsn = filepath.Join(r.dir, name+".db")
		s.onClose(func(context.Context) error {
			var errs []error
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(dsn + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		})
	}
	db, err := sqldb.Open(ctx, sqldb.Config{DSN: dsn})
	if err != nil {
		return nil, err
	}
	s.onClose(func(context.Context) error { return db.Close() })
	return db, nil
}

func (r *runner) adminExec(ctx context.Context, sql string) error {
	r.pgMu.Lock()
	defer r.pgMu.Unlock()
	if _, err := r.pg.Exec(ctx, sql); err != nil {
		return fmt.Errorf("postgres: %s: %w", sql, err)
	}
	return nil
}

// newStream creates a fresh file-storage stream configured as the relay
// would configure it (so that the relay's own EnsureStream finds it equal
// and leaves it alone), and deletes it with s.
func (r *runner) newStream(ctx context.Context, s *scope) (jetstream.StreamConfig, error) {
	name := uniqueName("bench_")
	cfg := jetstream.StreamConfig{
		Name:     name,
		Subjects: []string{name + ".>"},
		Storage:  jetstream.FileStorage,
		// relay.Config.RetryHorizon's default, which the relay requires of
		// the duplicate window and sets when it is zero.
		Duplicates: 2 * time.Minute,
	}
	if _, err := bus.EnsureStream(ctx, r.js, cfg); err != nil {
		return cfg, err
	}
	s.onClose(func(ctx context.Context) error {
		if err := r.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("delete stream %s: %w", name, err)
		}
		return nil
	})
	return cfg, nil
}

// streamMsgs returns how many messages the stream holds.
func (r *runner) streamMsgs(ctx context.Context, name string) (uint64, error) {
	st, err := r.js.Stream(ctx, name)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// newOutbox returns a migrated outbox in db.
func newOutbox(ctx context.Context, db *sqldb.DB) (*outbox.Outbox, error) {
	ob, err := outbox.New(db, outbox.Config{})
	if err != nil {
		return nil, err
	}
	if err := ob.Migrate(ctx); err != nil {
		return nil, err
	}
	return ob, nil
}

// startRelay runs a relay of ob to stream on a NATS connection of its own
// until s closes (or the returned run's stop is called). Settings are the
// relay's defaults, except the window, which is set to r.cfg.Window
// (DefaultWindow unless configured) so that it is by construction the raw
// publisher's.
func (r *runner) startRelay(s *scope, ob *outbox.Outbox, stream jetstream.StreamConfig) (*relayRun, error) {
	nc, err := r.connect("bounded-bench-relay", true)
	if err != nil {
		return nil, err
	}
	s.onClose(func(context.Context) error { nc.Close(); return nil })
	reg := prometheus.NewRegistry()
	rl, err := relay.New(ob, nc, relay.Config{Stream: stream, Window: r.cfg.Window, Logger: r.cfg.Logger, Metrics: reg})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rl.Run(ctx) }()
	run := &relayRun{reg: reg}
	var once sync.Once
	var runErr error
	run.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("relay did not stop within 30s")
			}
		})
		return runErr
	}
	s.onClose(func(context.Context) error { return run.stop() })
	return run, nil
}

// relayRun is a relay started by startRelay.
type relayRun struct {
	stop func() error
	reg  *prometheus.Registry
}

// RelayWork is what a relay did to publish its events: how often it read
// the outbox and deleted from it (each a statement on the service's
// database, competing with the writers).
type RelayWork struct {
	Published int64 `json:"published"`
	Claims    int64 `json:"claims"`
	// Handed counts the events taken without a read: handed over by the
	// writers of the relay's process as they committed (SQLite).
	Handed  int64 `json:"handed,omitempty"`
	Deletes int64 `json:"deletes"`
}

func (w *RelayWork) add(o RelayWork) {
	w.Published += o.Published
	w.Claims += o.Claims
	w.Handed += o.Handed
	w.Deletes += o.Deletes
}

// String says it per event, e.g. "12.3 events per claim, 48.0 per delete".
func (w RelayWork) String() string {
	if w.Claims == 0 || w.Deletes == 0 {
		return "no claims"
	}
	handed := ""
	if w.Handed > 0 {
		handed = fmt.Sprintf(" (%s of the events handed over by the writers, without a read)", thousands(float64(w.Handed)))
	}
	return fmt.Sprintf("%s claims, %.1f events per claim%s; %s deletes, %.1f events per delete",
		thousands(float64(w.Claims)), float64(w.Published)/float64(w.Claims), handed,
		thousands(float64(w.Deletes)), float64(w.Published)/float64(w.Deletes))
}

// work reads the relay's counters.
//
// The registry also holds the outbox's backlog, read from the database when
// gathered; under load that read can time out. Gather still returns every
// counter then, so its error fails the reading only if a counter is missing.
func (rr *relayRun) work() (RelayWork, error) {
	mfs, gatherErr := rr.reg.Gather()
	var w RelayWork
	found := 0
	for _, mf := range mfs {
		var dst *int64
		switch mf.GetName() {
		case "bounded_relay_published_total":
			dst = &w.Published
		case "bounded_relay_claims_total":
			dst = &w.Claims
		case "bounded_relay_handed_total":
			dst = &w.Handed
		case "bounded_relay_deletes_total":
			dst = &w.Deletes
		default:
			continue
		}
		found++
		for _, m := range mf.GetMetric() {
			*dst += int64(m.GetCounter().GetValue())
		}
	}
	if gatherErr != nil && found < 4 {
		return RelayWork{}, gatherErr
	}
	return w, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	return u.Redacted()
}

// waitFor polls cond every few milliseconds until it returns true, ctx ends,
// or the value returned by progress has not changed for stall (progress may
// be nil: then stall bounds the whole wait).
func waitFor(ctx context.Context, stall time.Duration, progress func() int64, cond func() bool) error {
	last, lastAt := int64(-1), time.Now()
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if progress != nil {
			if v := progress(); v != last {
				last, lastAt = v, time.Now()
			}
		}
		if time.Since(lastAt) > stall {
			return fmt.Errorf("no progress for %s", stall)
		}
	}
	return nil
}
