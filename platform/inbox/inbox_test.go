package inbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	db     *sqldb.DB
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
	reg    *prometheus.Registry
	dsn    string
}

func newFixture(t *testing.T, d sqldb.Dialect) *fixture {
	t.Helper()
	return newFixtureOn(t, toolkittest.DSN(t, d))
}

func newFixtureOn(t *testing.T, dsn string) *fixture {
	t.Helper()
	f := &fixture{db: toolkittest.OpenDB(t, dsn), dsn: dsn, stream: testenv.UniqueName("inbox"), reg: prometheus.NewRegistry()}
	f.nc = toolkittest.Connect(t, testenv.NATS(t))
	var err error
	if f.js, err = jetstream.New(f.nc); err != nil {
		t.Fatal(err)
	}
	ctx := toolkittest.Context(t)
	if _, err := f.js.CreateStream(ctx, jetstream.StreamConfig{Name: f.stream, Subjects: []string{f.stream + ".>"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.js.DeleteStream(context.Background(), f.stream) })
	err = f.db.Transact(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE applied (event_id TEXT PRIMARY KEY, agg TEXT NOT NULL, n INTEGER NOT NULL)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type payload struct {
	Agg string `json:"agg"`
	N   int    `json:"n"`
}

func (f *fixture) event(t *testing.T, agg string, n int) contract.Event {
	t.Helper()
	e, err := contract.New(f.stream, f.stream+".thing_happened.v1", agg, payload{agg, n})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// publish sends e to the stream as the relay would, with msgID as
// Nats-Msg-Id (pass a fresh one to get a second copy past JetStream's dedupe).
func (f *fixture) publish(t *testing.T, e contract.Event, msgID string) {
	t.Helper()
	msg := &nats.Msg{Subject: e.Type, Header: nats.Header(e.Header()), Data: e.Data}
	if _, err := f.js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) publishRaw(t *testing.T, subject string, h nats.Header, data []byte) {
	t.Helper()
	if _, err := f.js.PublishMsg(context.Background(), &nats.Msg{Subject: subject, Header: h, Data: data}); err != nil {
		t.Fatal(err)
	}
}

// record is the handler effect: one row per applied event.
func record(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
	var p payload
	if err := json.Unmarshal(e.Data, &p); err != nil {
		return inbox.Permanent(err)
	}
	_, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`INSERT INTO applied (event_id, agg, n) VALUES ($1, $2, $3)`), e.ID, p.Agg, p.N)
	return err
}

func (f *fixture) consumer(t *testing.T, cfg inbox.Config, h inbox.Handler) *inbox.Consumer {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	cfg.Stream = f.stream
	cfg.Logger = toolkittest.Logger(t)
	cfg.Metrics = f.reg
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	c, err := inbox.New(f.db, f.nc, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) run(t *testing.T, c *inbox.Consumer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("consumer did not stop within 10s")
		}
	})
}

func (f *fixture) applied(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.db.QueryRowContext(context.Background(), `SELECT count(*) FROM applied`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) metric(t *testing.T, name string) float64 {
	t.Helper()
	return toolkittest.Metric(t, f.reg, name)
}

func each(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, newFixture(t, d))
		})
	}
}

func TestRedeliveredEventIsANoOp(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		var calls atomic.Int32
		slowOnce := make(chan struct{})
		var once sync.Once
		h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			calls.Add(1)
			// Hold the first event past AckWait: JetStream redelivers it
			// while it is still being handled.
			once.Do(func() {
				time.Sleep(1500 * time.Millisecond)
				close(slowOnce)
			})
			return record(ctx, tx, e)
		}
		f.run(t, f.consumer(t, inbox.Config{AckWait: time.Second, Concurrency: 1}, h))
		e := f.event(t, "a", 1)
		f.publish(t, e, e.ID)
		f.publish(t, e, "another-copy-past-dedupe")
		e2 := f.event(t, "a", 2)
		f.publish(t, e2, e2.ID)
		waitFor(t, 15*time.Second, "both events applied and the copies seen", func() bool {
			return f.applied(t) == 2 && f.metric(t, "bounded_inbox_duplicates_total") >= 2
		})
		<-slowOnce
		time.Sleep(200 * time.Millisecond)
		if n := f.applied(t); n != 2 {
			t.Fatalf("applied %d rows, want 2", n)
		}
		if r := f.metric(t, "bounded_inbox_redeliveries_total"); r < 1 {
			t.Fatalf("redeliveries = %v: the test did not provoke a redelivery", r)
		}
		if h := f.metric(t, "bounded_inbox_handled_total"); h != 2 {
			t.Fatalf("handled = %v, want 2", h)
		}
	})
}

func TestRetriesWithBackoffThenApplies(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		var calls atomic.Int32
		h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			// The effect is written, then the attempt fails: the rollback
			// must take the effect with it.
			if err := record(ctx, tx, e); err != nil {
				return err
			}
			if calls.Add(1) <= 2 {
				return errors.New("temporary failure")
			}
			return nil
		}
		f.run(t, f.consumer(t, inbox.Config{MaxAttempts: 5}, h))
		e := f.event(t, "a", 1)
		f.publish(t, e, e.ID)
		waitFor(t, 10*time.Second, "the event applied", func() bool { return f.applied(t) == 1 })
		if c := calls.Load(); c != 3 {
			t.Fatalf("handler called %d times, want 3", c)
		}
		if r := f.metric(t, "bounded_inbox_retries_total"); r != 2 {
			t.Fatalf("retries = %v, want 2", r)
		}
		if n, _ := inbox.Count(context.Background(), f.db, ""); n != 0 {
			t.Fatalf("%d dead letters, want 0", n)
		}
	})
}

func TestDeadLettersAfterMaxAttemptsThenReplays(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		var broken atomic.Bool
		broken.Store(true)
		h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			var p payload
			_ = json.Unmarshal(e.Data, &p)
			if p.N == 1 && broken.Load() {
				return errors.New("supplier rejected the order")
			}
			return record(ctx, tx, e)
		}
		c := f.consumer(t, inbox.Config{MaxAttempts: 3}, h)
		f.run(t, c)
		bad, good := f.event(t, "a", 1), f.event(t, "a", 2) // same aggregate: same worker
		f.publish(t, bad, bad.ID)
		f.publish(t, good, good.ID)
		waitFor(t, 10*time.Second, "the next event applied", func() bool { return f.applied(t) == 1 })
		ctx := context.Background()
		dls, err := inbox.List(ctx, f.db, "test")
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) != 1 {
			t.Fatalf("%d dead letters, want 1", len(dls))
		}
		dl := dls[0]
		if dl.EventID != bad.ID || dl.Attempts != 3 || !strings.Contains(dl.Error, "supplier rejected") ||
			string(dl.Data) != string(bad.Data) || dl.EventType != bad.Type {
			t.Fatalf("dead letter = %+v", dl)
		}
		if v := f.metric(t, "bounded_inbox_dead_letters_total"); v != 1 {
			t.Fatalf("dead letter metric = %v", v)
		}
		// Still broken: the replay fails and the dead letter stays, with one
		// more attempt.
		if err := c.Replay(ctx, dl.ID); err == nil {
			t.Fatal("replay of a still-failing event succeeded")
		}
		if dls, _ := inbox.List(ctx, f.db, "test"); len(dls) != 1 || dls[0].Attempts != 4 {
			t.Fatalf("after a failed replay: %+v", dls)
		}
		broken.Store(false)
		if err := c.Replay(ctx, dl.ID); err != nil {
			t.Fatalf("replay: %v", err)
		}
		if n := f.applied(t); n != 2 {
			t.Fatalf("applied %d after replay, want 2", n)
		}
		if n, _ := inbox.Count(ctx, f.db, "test"); n != 0 {
			t.Fatalf("%d dead letters left after replay", n)
		}
		if err := c.Replay(ctx, dl.ID); !errors.Is(err, inbox.ErrNotFound) {
			t.Fatalf("second replay = %v, want ErrNotFound", err)
		}
	})
}

func TestMalformedMessagesAreDeadLetteredAndDoNotBlock(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		reg := contract.NewRegistry()
		contract.Register[payload](reg, f.stream+".thing_happened", 1)
		h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			if _, err := reg.Decode(e); err != nil {
				return err // contract's decoding errors dead-letter at once
			}
			return record(ctx, tx, e)
		}
		f.run(t, f.consumer(t, inbox.Config{MaxAttempts: 5, Concurrency: 1}, h))
		good := f.event(t, "a", 1)
		badJSON := good
		badJSON.ID, badJSON.Data = "bad-json", []byte(`{"agg": "a", "n": `)
		unknownType := good
		unknownType.ID, unknownType.Type = "unknown-type", f.stream+".something_else.v1"
		newVersion := good
		newVersion.ID, newVersion.Type = "new-version", f.stream+".thing_happened.v9"
		for _, e := range []contract.Event{badJSON, unknownType, newVersion} {
			f.publish(t, e, e.ID)
		}
		f.publishRaw(t, f.stream+".raw", nats.Header{"ce-id": {"no-type"}}, []byte("{}"))
		f.publishRaw(t, f.stream+".raw", nil, []byte("not even JSON"))
		f.publish(t, good, good.ID)
		waitFor(t, 10*time.Second, "the good event applied", func() bool { return f.applied(t) == 1 })
		dls, err := inbox.List(context.Background(), f.db, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) != 5 {
			t.Fatalf("%d dead letters, want 5: %+v", len(dls), dls)
		}
		wants := []string{"malformed", "unknown event type", "unknown event version", "decode", "decode"}
		for i, dl := range dls {
			if dl.Attempts != 1 {
				t.Errorf("dead letter %d (%s) took %d attempts; a decoding error is not retried", i, dl.EventID, dl.Attempts)
			}
			if !strings.Contains(dl.Error, wants[i]) {
				t.Errorf("dead letter %d (%s) error %q does not mention %q", i, dl.EventID, dl.Error, wants[i])
			}
		}
		if dls[4].EventID == "" || string(dls[4].Data) != "not even JSON" {
			t.Errorf("raw dead letter lost its identity or payload: %+v", dls[4])
		}
	})
}

// TestPerAggregateOrder sends interleaved events of 20 aggregates through 8
// workers; the handler refuses (permanently) any event that is not the next
// of its aggregate, so a single reordering shows up as a dead letter.
func TestPerAggregateOrder(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			var p payload
			if err := json.Unmarshal(e.Data, &p); err != nil {
				return inbox.Permanent(err)
			}
			var last int
			err := tx.QueryRowContext(ctx, tx.Dialect().Rebind(`SELECT coalesce(max(n), 0) FROM applied WHERE agg = $1`), p.Agg).Scan(&last)
			if err != nil {
				return err
			}
			if p.N != last+1 {
				return inbox.Permanent(fmt.Errorf("aggregate %s: got %d after %d", p.Agg, p.N, last))
			}
			return record(ctx, tx, e)
		}
		f.run(t, f.consumer(t, inbox.Config{Concurrency: 8}, h))
		const aggs, per = 20, 40
		for n := 1; n <= per; n++ {
			for a := range aggs {
				e := f.event(t, fmt.Sprintf("agg-%d", a), n)
				f.publish(t, e, e.ID)
			}
		}
		waitFor(t, 30*time.Second, "every event applied", func() bool {
			c, _ := inbox.Count(context.Background(), f.db, "")
			return f.applied(t)+c == aggs*per
		})
		if dls, _ := inbox.List(context.Background(), f.db, ""); len(dls) > 0 {
			t.Fatalf("%d events out of order, first: %s", len(dls), dls[0].Error)
		}
	})
}

func TestPrunesInboxRowsOlderThanRetention(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		old, recent := any(time.Now().Add(-2*time.Hour)), any(time.Now())
		if f.db.Dialect() == sqldb.SQLite {
			old, recent = time.Now().Add(-2*time.Hour).UnixMilli(), time.Now().UnixMilli()
		}
		err := f.db.Transact(ctx, func(tx *sqldb.Tx) error {
			_, err := tx.ExecContext(ctx, tx.Dialect().Rebind(
				`INSERT INTO bounded_inbox (consumer, event_id, handled_at) VALUES ('test', 'old', $1), ('test', 'recent', $2), ('other', 'old', $1)`), old, recent)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		f.run(t, f.consumer(t, inbox.Config{Retention: time.Hour}, record))
		waitFor(t, 10*time.Second, "the old row pruned", func() bool {
			var ids []string
			rows, err := f.db.QueryContext(ctx, `SELECT consumer || '/' || event_id FROM bounded_inbox ORDER BY 1`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var s string
				rows.Scan(&s)
				ids = append(ids, s)
			}
			return fmt.Sprint(ids) == "[other/old test/recent]"
		})
	})
}

// TestSurvivesADatabaseRestart restarts the consumer's PostgreSQL server
// (a private one: fast shutdown, two seconds down, started again) while
// events flow: every event is applied once and none is dead-lettered,
// although the outage outlasts MaxAttempts: an unavailable database must not
// use up an event's attempts.
func TestSurvivesADatabaseRestart(t *testing.T) {
	srv := testenv.NewPostgresServer(t)
	f := newFixtureOn(t, srv.DSN())
	f.run(t, f.consumer(t, inbox.Config{MaxAttempts: 2, Backoff: func(n int) time.Duration { return min(time.Duration(n)*50*time.Millisecond, time.Second) }}, record))
	const total = 600
	go func() {
		for i := range total {
			e := f.event(t, fmt.Sprintf("a%d", i%10), i)
			f.publish(t, e, e.ID)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitFor(t, 10*time.Second, "some events applied", func() bool { return f.applied(t) > 50 })
	srv.Restart(t, 2*time.Second)
	waitFor(t, 30*time.Second, "every event applied", func() bool {
		var n int
		err := f.db.QueryRowContext(context.Background(), `SELECT count(*) FROM applied`).Scan(&n)
		return err == nil && n == total
	})
	if n, _ := inbox.Count(context.Background(), f.db, ""); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	if r := f.metric(t, "bounded_inbox_retries_total"); r == 0 {
		t.Fatal("no handler attempt failed: the restart did not hit the consumer")
	}
}

func TestSkipsTypesItDoesNotHandle(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		wanted := f.stream + ".thing_happened"
		f.run(t, f.consumer(t, inbox.Config{Handles: func(name string) bool { return name == wanted }}, record))
		other, err := contract.New(f.stream, f.stream+".other_thing.v1", "a", payload{"a", 0})
		if err != nil {
			t.Fatal(err)
		}
		f.publish(t, other, other.ID)
		// Malformed: no ce-type at all. Not skipped: dead-lettered.
		f.publishRaw(t, f.stream+".x", nats.Header{"ce-id": {"x"}}, []byte(`{}`))
		e := f.event(t, "a", 1)
		f.publish(t, e, e.ID)
		waitFor(t, 15*time.Second, "the handled event applied, the other skipped, the malformed one dead-lettered", func() bool {
			return f.applied(t) == 1 && f.metric(t, "bounded_inbox_skipped_total") == 1 &&
				f.metric(t, "bounded_inbox_dead_letters_total") == 1
		})
		var inboxRows int
		if err := f.db.QueryRowContext(context.Background(), `SELECT count(*) FROM bounded_inbox`).Scan(&inboxRows); err != nil {
			t.Fatal(err)
		}
		// The applied event and the dead letter have inbox rows; the skipped one costs no transaction.
		if inboxRows != 2 {
			t.Fatalf("inbox rows = %d, want 2", inboxRows)
		}
	})
}

// TestStoppedConsumerHandsBackItsMessages: a consumer that stops with
// messages delivered to it and not handled hands them back, so that the
// next consumer gets them at once, not after AckWait (two minutes here;
// the test gives up long before).
func TestStoppedConsumerHandsBackItsMessages(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		slow := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
			return record(ctx, tx, e)
		}
		cfg := inbox.Config{Name: "handback", AckWait: 2 * time.Minute, Concurrency: 1, MaxBatch: 1}
		first := f.consumer(t, cfg, slow)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- first.Run(ctx) }()
		const n = 30
		for i := range n {
			e := f.event(t, "a", i+1)
			f.publish(t, e, e.ID)
		}
		waitFor(t, 15*time.Second, "the first consumer to apply some", func() bool { return f.applied(t) >= 2 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := f.applied(t); got >= n {
			t.Fatalf("the first consumer applied all %d: the test stopped nothing", got)
		}
		cfg.Concurrency = 4
		f.reg = prometheus.NewRegistry() // the first consumer's metrics are registered
		f.run(t, f.consumer(t, cfg, record))
		waitFor(t, 20*time.Second, "the second consumer to apply the rest, well before AckWait", func() bool { return f.applied(t) == n })
	})
}

// TestAppliesQueuedEventsInBatches: events waiting for a worker are applied
// several to a transaction, in order, each once; a batch with a failing
// event falls back to one event at a time, so only that one is
// dead-lettered.
func TestAppliesQueuedEventsInBatches(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			var p payload
			if err := json.Unmarshal(e.Data, &p); err != nil {
				return inbox.Permanent(err)
			}
			if p.N == 77 {
				return errors.New("event 77 always fails")
			}
			var prev int
			if err := tx.QueryRowContext(ctx, tx.Dialect().Rebind(`SELECT coalesce(max(n), 0) FROM applied WHERE agg = $1`), p.Agg).Scan(&prev); err != nil {
				return err
			}
			if want := p.N - 1; prev != want && !(p.N == 78 && prev == 76) {
				return inbox.Permanent(fmt.Errorf("got %d after %d", p.N, prev))
			}
			return record(ctx, tx, e)
		}
		const n = 300
		for i := 1; i <= n; i++ {
			e := f.event(t, "a", i)
			f.publish(t, e, e.ID)
		}
		// Started after the events are waiting: one worker gets them queued.
		f.run(t, f.consumer(t, inbox.Config{Concurrency: 1, MaxAttempts: 2}, h))
		waitFor(t, 30*time.Second, "every event applied or dead-lettered", func() bool {
			c, _ := inbox.Count(context.Background(), f.db, "")
			return f.applied(t)+c == n
		})
		dls, _ := inbox.List(context.Background(), f.db, "")
		if len(dls) != 1 || !strings.Contains(dls[0].Error, "event 77") {
			t.Fatalf("dead letters %+v, want only event 77", dls)
		}
		if b := f.metric(t, "bounded_inbox_batches_total"); b < 1 {
			t.Fatalf("batches = %v: no event shared a transaction", b)
		}
		if h := f.metric(t, "bounded_inbox_handled_total"); h != n-1 {
			t.Fatalf("handled = %v, want %d", h, n-1)
		}
	})
}

// TestPrepareRunsFirstInEachBatch checks that Prepare sees a batch's events
// on the batch's own transaction before any handler, and that a failing
// Prepare costs nothing: the batch is applied one event at a time.
func TestPrepareRunsFirstInEachBatch(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		ctx := toolkittest.Context(t)
		err := f.db.Transact(ctx, func(tx *sqldb.Tx) error {
			_, err := tx.ExecContext(ctx, `CREATE TABLE prepared (event_id TEXT PRIMARY KEY)`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var batches, failed atomic.Int64
		prepare := func(ctx context.Context, tx *sqldb.Tx, batch []contract.Event) error {
			if len(batch) < 2 {
				return fmt.Errorf("prepare called with %d events", len(batch))
			}
			batches.Add(1)
			for _, e := range batch {
				var p payload
				if err := json.Unmarshal(e.Data, &p); err != nil {
					return err
				}
				if p.N%50 == 0 {
					failed.Add(1)
					return errors.New("prepare refuses a batch holding a multiple of 50")
				}
				if _, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`INSERT INTO prepared (event_id) VALUES ($1)`), e.ID); err != nil {
					return err
				}
			}
			return nil
		}
		var alone atomic.Int64 // events applied without a Prepare
		h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			var n int
			if err := tx.QueryRowContext(ctx, tx.Dialect().Rebind(`SELECT count(*) FROM prepared WHERE event_id = $1`), e.ID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				alone.Add(1)
			}
			return record(ctx, tx, e)
		}
		const n = 300
		for i := 1; i <= n; i++ {
			e := f.event(t, "a", i)
			f.publish(t, e, e.ID)
		}
		f.run(t, f.consumer(t, inbox.Config{Concurrency: 1, MaxAttempts: 2, Prepare: prepare}, h))
		waitFor(t, 30*time.Second, "every event applied", func() bool { return f.applied(t) == n })
		if c, _ := inbox.Count(ctx, f.db, ""); c != 0 {
			t.Fatalf("%d dead letters", c)
		}
		b := f.metric(t, "bounded_inbox_batches_total")
		if b < 1 || float64(batches.Load()) < b {
			t.Fatalf("%v batches committed, Prepare called %d times", b, batches.Load())
		}
		// The events a refused batch held were applied alone, and only
		// those; the others had their Prepare on their own transaction.
		if failed.Load() == 0 || f.metric(t, "bounded_inbox_batch_failures_total") != float64(failed.Load()) {
			t.Fatalf("Prepare refused %d batches, batch failures counted %v", failed.Load(), f.metric(t, "bounded_inbox_batch_failures_total"))
		}
		var prepared int
		if err := f.db.QueryRowContext(ctx, `SELECT count(*) FROM prepared`).Scan(&prepared); err != nil {
			t.Fatal(err)
		}
		if int64(prepared)+alone.Load() != n || alone.Load() == 0 {
			t.Fatalf("%d events prepared in their batch, %d applied alone, want %d in all, some alone", prepared, alone.Load(), n)
		}
	})
}

// TestConflictsUseUpNoAttempt: an event whose transaction loses a deadlock
// (PostgreSQL's 40P01, as pgx returns it) more times than MaxAttempts is
// still applied, not dead-lettered; one that keeps failing otherwise is.
func TestConflictsUseUpNoAttempt(t *testing.T) {
	f := newFixture(t, sqldb.Postgres)
	var tries atomic.Int64
	h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
		if tries.Add(1) <= 6 {
			return fmt.Errorf("update: %w", &pgconn.PgError{Code: "40P01", Message: "deadlock detected"})
		}
		return record(ctx, tx, e)
	}
	e := f.event(t, "a", 1)
	f.publish(t, e, e.ID)
	f.run(t, f.consumer(t, inbox.Config{Concurrency: 1, MaxAttempts: 2}, h))
	waitFor(t, 30*time.Second, "the event applied", func() bool { return f.applied(t) == 1 })
	if c, _ := inbox.Count(context.Background(), f.db, ""); c != 0 {
		t.Fatalf("%d dead letters", c)
	}
	if got := f.metric(t, "bounded_inbox_conflicts_total"); got != 6 {
		t.Fatalf("conflicts = %v, want 6", got)
	}
}
