// Package toolkittest gives tests of code built on the toolkit what they
// need in one call: a fresh database of either dialect with the toolkit's
// tables, a NATS connection, an outbox. The servers come from package
// testenv (real PostgreSQL and NATS, never mocks).
package toolkittest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
)

// Dialects are the engines every toolkit contract suite runs against.
var Dialects = []sqldb.Dialect{sqldb.SQLite, sqldb.Postgres}

// Context returns a context cancelled when the test ends, with a generous
// bound so that a hung test fails instead of hanging the suite.
func Context(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// DSN returns the DSN of a new, empty database of dialect d, removed when the
// test ends.
func DSN(tb testing.TB, d sqldb.Dialect) string {
	tb.Helper()
	if d == sqldb.Postgres {
		return testenv.NewPostgresDB(tb)
	}
	return filepath.Join(tb.TempDir(), "test.db")
}

// OpenDB opens dsn, migrates the outbox and inbox tables into it, and closes
// it when the test ends.
func OpenDB(tb testing.TB, dsn string) *sqldb.DB {
	tb.Helper()
	ctx := Context(tb)
	db, err := sqldb.Open(ctx, sqldb.Config{DSN: dsn})
	if err != nil {
		tb.Fatalf("open %s: %v", dsn, err)
	}
	tb.Cleanup(func() { db.Close() })
	ob, err := outbox.New(db, outbox.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := ob.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := inbox.Migrate(ctx, db); err != nil {
		tb.Fatal(err)
	}
	return db
}

// NewDB is DSN followed by OpenDB.
func NewDB(tb testing.TB, d sqldb.Dialect) *sqldb.DB {
	tb.Helper()
	return OpenDB(tb, DSN(tb, d))
}

// Connect connects to the NATS server at url, closed when the test ends.
// The connection does not buffer publishes while disconnected, so a relay
// may use it.
func Connect(tb testing.TB, url string) *nats.Conn {
	tb.Helper()
	nc, err := bus.Connect(bus.ConnConfig{URL: url, Name: tb.Name(), Logger: Logger(tb), NoReconnectBuffer: true,
		ReconnectWait: 50 * time.Millisecond, ReconnectJitter: 10 * time.Millisecond})
	if err != nil {
		tb.Fatalf("connect %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Logger returns a logger that writes to the test's log until the test's
// cleanup begins, and drops lines after that: NATS runs connection callbacks
// (a "closed" notice) asynchronously, and testing panics on a log line that
// arrives after the test has completed.
func Logger(tb testing.TB) *slog.Logger {
	w := &tbWriter{tb: tb}
	tb.Cleanup(func() {
		// Under the lock: once this returns, no Write is half-way through
		// logging to a test that is about to complete.
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct {
	tb   testing.TB
	mu   sync.Mutex
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.tb.Helper()
	w.tb.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// Metric returns the value of the counter or gauge name gathered from reg
// (its first series), failing the test if there is none.
func Metric(tb testing.TB, reg prometheus.Gatherer, name string) float64 {
	tb.Helper()
	mf := Gather(tb, reg, name)
	if mf == nil || len(mf.GetMetric()) == 0 {
		tb.Fatalf("no metric %s", name)
	}
	m := mf.GetMetric()[0]
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// Gather returns the family of metric name gathered from reg (nil if it has
// none). It fails the test if gathering failed for that metric, or for one it
// cannot tell; a metric read when scraped that failed under load (an
// outbox's backlog query timing out while a test fills the pool) does not
// fail a test reading another one.
func Gather(tb testing.TB, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		var errs prometheus.MultiError
		if !errors.As(err, &errs) {
			errs = prometheus.MultiError{err}
		}
		for _, err := range errs {
			other := metricNamed.FindStringSubmatch(err.Error())
			if other == nil || other[1] == name {
				tb.Fatal(err)
			}
			tb.Logf("not reading %s: %v", other[1], err)
		}
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// metricNamed finds the metric a gathering error names, as
// prometheus.Registry.Gather writes it ("error collecting metric Desc{fqName:
// "NAME", …}: …").
var metricNamed = regexp.MustCompile(`error collecting metric Desc\{fqName: "([^"]+)"`)

// LockedBuffer collects output that goroutines (a child process, a host's
// logger) may still write while the test reads it. Its zero value is ready.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
