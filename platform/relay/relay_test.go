package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/relay"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fixture is one outbox and the stream its relay publishes to.
type fixture struct {
	dsn    string
	db     *sqldb.DB
	ob     *outbox.Outbox
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
	prefix string // subject prefix and event source
}

func newFixture(t *testing.T, d sqldb.Dialect, natsURL string) *fixture {
	t.Helper()
	f := &fixture{dsn: toolkittest.DSN(t, d)}
	f.db = toolkittest.OpenDB(t, f.dsn)
	f.attach(t, natsURL)
	return f
}

func (f *fixture) attach(t *testing.T, natsURL string) {
	t.Helper()
	var err error
	if f.ob, err = outbox.New(f.db, outbox.Config{}); err != nil {
		t.Fatal(err)
	}
	f.nc = toolkittest.Connect(t, natsURL)
	if f.js, err = jetstream.New(f.nc); err != nil {
		t.Fatal(err)
	}
	if f.stream == "" {
		f.prefix = testenv.UniqueName("svc")
		f.stream = f.prefix
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = f.js.DeleteStream(ctx, f.stream)
		})
	}
}

func (f *fixture) config(t *testing.T) relay.Config {
	return relay.Config{
		Stream:       jetstream.StreamConfig{Name: f.stream, Subjects: []string{f.prefix + ".>"}, Storage: jetstream.FileStorage},
		Logger:       toolkittest.Logger(t),
		PollInterval: 200 * time.Millisecond,
	}
}

// start runs a relay until the test ends (or until the returned stop is
// called) and returns a channel with Run's result.
func (f *fixture) start(t *testing.T, cfg relay.Config) (stop func(), done <-chan error) {
	t.Helper()
	r, err := relay.New(f.ob, f.nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		ch <- r.Run(ctx)
		close(finished)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-finished:
			case <-time.After(10 * time.Second):
				t.Error("relay did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	return stop, ch
}

type payload struct {
	Agg string `json:"agg"`
	N   int    `json:"n"`
}

func (f *fixture) event(t testing.TB, agg string, n int) contract.Event {
	e, err := contract.New(f.prefix, f.prefix+".thing_happened.v1", agg, payload{agg, n})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// write records events in one transaction each.
func (f *fixture) write(t testing.TB, events ...contract.Event) {
	t.Helper()
	for _, e := range events {
		err := f.db.Transact(context.Background(), func(tx *sqldb.Tx) error { return f.ob.Record(context.Background(), tx, e) })
		if err != nil {
			t.Fatal(err)
		}
	}
}

// collect reads the whole stream from the start with an ordered consumer
// until want messages arrived or the deadline passed.
func (f *fixture) collect(t *testing.T, want int, within time.Duration) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cons, err := f.js.OrderedConsumer(ctx, f.stream, jetstream.OrderedConsumerConfig{})
	for errors.Is(err, jetstream.ErrStreamNotFound) && ctx.Err() == nil { // the relay creates it
		time.Sleep(20 * time.Millisecond)
		cons, err = f.js.OrderedConsumer(ctx, f.stream, jetstream.OrderedConsumerConfig{})
	}
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for len(got) < want {
		batch, err := cons.Fetch(want-len(got), jetstream.FetchMaxWait(time.Second))
		if err != nil && ctx.Err() == nil {
			continue
		}
		for m := range batch.Messages() {
			got = append(got, m)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return got
}

func (f *fixture) streamMsgs(t *testing.T) uint64 {
	t.Helper()
	st, err := f.js.Stream(context.Background(), f.stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func (f *fixture) waitEmpty(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, _, err := f.ob.Backlog(context.Background())
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d rows after %s (err %v)", n, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// each runs fn against every dialect, with the shared NATS server.
func each(t *testing.T, fn func(t *testing.T, d sqldb.Dialect, natsURL string)) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d, testenv.NATS(t))
		})
	}
}

func TestPublishesEveryEventOnceWithItsAttributes(t *testing.T) {
	each(t, func(t *testing.T, d sqldb.Dialect, url string) {
		f := newFixture(t, d, url)
		f.start(t, f.config(t))
		var sent []contract.Event
		for i := range 50 {
			e := f.event(t, fmt.Sprintf("a%d", i%5), i)
			e.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			sent = append(sent, e)
		}
		f.write(t, sent...)
		got := f.collect(t, len(sent), 20*time.Second)
		if len(got) != len(sent) {
			t.Fatalf("received %d of %d events", len(got), len(sent))
		}
		for i, m := range got {
			e, err := contract.FromMessage(m.Headers(), m.Data())
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			want := sent[i]
			if e.ID != want.ID || e.Type != want.Type || e.Subject != want.Subject || e.Source != want.Source ||
				string(e.Data) != string(want.Data) || e.TraceParent != want.TraceParent || !e.Time.Equal(want.Time.Truncate(time.Microsecond)) && !e.Time.Equal(want.Time) {
				t.Fatalf("message %d = %+v, want %+v", i, e, want)
			}
			if id := m.Headers().Get(jetstream.MsgIDHeader); id != want.ID {
				t.Fatalf("message %d Nats-Msg-Id = %q, want the event id %q", i, id, want.ID)
			}
			if m.Subject() != want.Type {
				t.Fatalf("message %d subject = %q, want %q", i, m.Subject(), want.Type)
			}
		}
		f.waitEmpty(t, 10*time.Second)
	})
}

// TestPerAggregateOrderWithConcurrentWriters has 8 writers record events for
// the same 10 aggregates at once. Inside each transaction, after Record
// returned, the writer notes the event in its aggregate's list: Record holds
// the aggregate's lock until commit (SQLite: the one writer connection), so
// the lists are in commit order, and the stream must agree with them.
func TestPerAggregateOrderWithConcurrentWriters(t *testing.T) {
	each(t, func(t *testing.T, d sqldb.Dialect, url string) {
		f := newFixture(t, d, url)
		cfg := f.config(t)
		cfg.BatchSize = 64 // many batches, so that claims overlap commits
		f.start(t, cfg)
		const writers, perWriter, aggs = 8, 150, 10
		var order commitOrder
		runWriters(t, writers, perWriter, func(w, i int) error {
			agg := fmt.Sprintf("agg-%d", rand.IntN(aggs))
			return order.record(f.db, f.ob, agg, f.event(t, agg, w*perWriter+i))
		})
		order.check(t, f, 30*time.Second)
	})
}

// commitOrder notes each aggregate's events in commit order (writers note
// them inside their transaction, after Record, while they hold the
// aggregate's lock) and checks a stream against it.
type commitOrder struct {
	mu    sync.Mutex
	byAgg map[string][]string
	n     int
}

func (c *commitOrder) note(agg string, events ...contract.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byAgg == nil {
		c.byAgg = map[string][]string{}
	}
	for _, e := range events {
		c.byAgg[agg] = append(c.byAgg[agg], e.ID)
	}
	c.n += len(events)
}

// record records events of aggregate agg in one transaction and notes them
// inside it, after Record.
func (c *commitOrder) record(db *sqldb.DB, ob *outbox.Outbox, agg string, events ...contract.Event) error {
	return db.Transact(context.Background(), func(tx *sqldb.Tx) error {
		if err := ob.Record(context.Background(), tx, events...); err != nil {
			return err
		}
		c.note(agg, events...)
		return nil
	})
}

// runWriters runs writers goroutines at once, each calling write(w, i)
// for i from 0 to perWriter-1 until an error, which fails the test.
func runWriters(t *testing.T, writers, perWriter int, write func(w, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := write(w, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// check reads f's stream and requires every noted event on it once, each
// aggregate's in commit order.
func (c *commitOrder) check(t *testing.T, f *fixture, within time.Duration) {
	t.Helper()
	got := f.collect(t, c.n, within)
	if len(got) != c.n {
		t.Fatalf("received %d of %d", len(got), c.n)
	}
	seen := map[string][]string{}
	ids := map[string]bool{}
	for _, m := range got {
		id := m.Headers().Get("ce-id")
		if ids[id] {
			t.Fatalf("event %s on the stream twice", id)
		}
		ids[id] = true
		seen[m.Headers().Get("ce-subject")] = append(seen[m.Headers().Get("ce-subject")], id)
	}
	for agg, want := range c.byAgg {
		if fmt.Sprint(seen[agg]) != fmt.Sprint(want) {
			t.Errorf("aggregate %s: stream order differs from commit order\n got %v\nwant %v", agg, seen[agg], want)
		}
	}
}

// TestRefusesAShortDuplicateWindow: a configured window shorter than the
// retry horizon is refused by New, before the stream is touched; a stream
// whose window was shortened by hand gets the relay's back at Run.
func TestRefusesAShortDuplicateWindow(t *testing.T) {
	f := newFixture(t, sqldb.SQLite, testenv.NATS(t))
	good := f.config(t)
	good.RetryHorizon = 2 * time.Minute
	stop, _ := f.start(t, good)
	f.write(t, f.event(t, "a", 0))
	f.waitEmpty(t, 10*time.Second)
	stop()

	short := good
	short.Stream.Duplicates = 30 * time.Second
	if _, err := relay.New(f.ob, f.nc, short); !errors.Is(err, relay.ErrDuplicateWindow) {
		t.Fatalf("New = %v, want ErrDuplicateWindow", err)
	}
	noRoom := good
	noRoom.Stream.MaxAge = time.Minute // cannot hold a 2 min window
	if _, err := relay.New(f.ob, f.nc, noRoom); err == nil {
		t.Fatal("New took a stream that keeps events for less than the duplicate window")
	}
	window := func() time.Duration {
		st, err := f.js.Stream(context.Background(), f.stream)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().Config.Duplicates
	}
	if w := window(); w != 2*time.Minute {
		t.Fatalf("after the refusals the stream's window is %s, want it untouched at 2m", w)
	}

	// Shortened by hand: the owner sets its own window again.
	st, _ := f.js.Stream(context.Background(), f.stream)
	c := st.CachedInfo().Config
	c.Duplicates = 30 * time.Second
	if _, err := f.js.UpdateStream(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	f.start(t, good)
	f.write(t, f.event(t, "a", 1))
	f.waitEmpty(t, 10*time.Second)
	if w := window(); w != 2*time.Minute {
		t.Fatalf("the relay left the stream's window at %s, want its own 2m", w)
	}
}

// TestRecreatesAStreamThatIsGone deletes the stream under a running relay
// (as a NATS server that lost its store would): the relay makes it again,
// with its settings, and publishes what comes next.
func TestRecreatesAStreamThatIsGone(t *testing.T) {
	each(t, func(t *testing.T, d sqldb.Dialect, url string) {
		f := newFixture(t, d, url)
		cfg := f.config(t)
		cfg.Stream.MaxAge = time.Hour
		f.start(t, cfg)
		for i := range 10 {
			f.write(t, f.event(t, "a", i))
		}
		f.waitEmpty(t, 10*time.Second)
		if err := f.js.DeleteStream(context.Background(), f.stream); err != nil {
			t.Fatal(err)
		}
		for i := 10; i < 20; i++ {
			f.write(t, f.event(t, "a", i))
		}
		f.waitEmpty(t, 15*time.Second)
		got := f.collect(t, 10, 10*time.Second)
		if len(got) != 10 {
			t.Fatalf("the new stream holds %d messages, want the 10 written after the delete", len(got))
		}
		st, err := f.js.Stream(context.Background(), f.stream)
		if err != nil {
			t.Fatal(err)
		}
		if c := st.CachedInfo().Config; c.MaxAge != time.Hour || c.Duplicates != 2*time.Minute {
			t.Fatalf("recreated stream: max age %s, duplicates %s", c.MaxAge, c.Duplicates)
		}
	})
}

// TestNATSDownNothingLost stops the NATS server while writers keep
// committing, then starts it again: every event reaches the stream once.
func TestNATSDownNothingLost(t *testing.T) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			srv := testenv.EmbeddedNATS(t)
			f := newFixture(t, d, srv.ClientURL())
			cfg := f.config(t)
			f.start(t, cfg)
			next := 0
			writeSome := func(n int) {
				for range n {
					f.write(t, f.event(t, fmt.Sprintf("a%d", next%7), next))
					next++
				}
			}
			writeSome(100)
			f.waitEmpty(t, 10*time.Second)
			leader := 0
			if d == sqldb.Postgres {
				leader = leaderPID(t, f.db, cfg.LeaderLockKey())
			}
			srv = restartNATS(t, srv, func() { writeSome(300) }) // written while NATS is down
			writeSome(100)
			f.waitEmpty(t, 30*time.Second)
			// A failed publish is retried by the same leader: it must not
			// cost the leadership (its connection and lock).
			if d == sqldb.Postgres {
				if now := leaderPID(t, f.db, cfg.LeaderLockKey()); now != leader {
					t.Errorf("the leader's backend changed from %d to %d while NATS was down", leader, now)
				}
			}
			if n := f.streamMsgs(t); n != uint64(next) {
				t.Fatalf("stream holds %d messages, want %d", n, next)
			}
			got := f.collect(t, next, 20*time.Second)
			for i, m := range got {
				var p payload
				e, _ := contract.FromMessage(m.Headers(), m.Data())
				if err := jsonUnmarshal(e.Data, &p); err != nil || p.N != i {
					t.Fatalf("message %d carries n=%d (err %v): order or completeness broken", i, p.N, err)
				}
			}
		})
	}
}

// TestKilledBetweenPublishAndDelete makes the first relay fail every delete
// after its publishes were acknowledged (as if killed right there), then
// starts a second relay: it publishes the same rows again, JetStream drops
// the copies, and the stream holds each event once.
func TestKilledBetweenPublishAndDelete(t *testing.T) {
	each(t, func(t *testing.T, d sqldb.Dialect, url string) {
		f := newFixture(t, d, url)
		killed := make(chan struct{})
		var once sync.Once
		killedCfg := withFault(f.config(t), func() error {
			once.Do(func() { close(killed) })
			return errors.New("killed before delete")
		})
		var events []contract.Event
		for i := range 200 {
			events = append(events, f.event(t, fmt.Sprintf("a%d", i%3), i))
		}
		f.write(t, events...)
		stop, _ := f.start(t, killedCfg)
		<-killed
		stop()
		if n, _, _ := f.ob.Backlog(context.Background()); n == 0 {
			t.Fatal("the killed relay deleted rows; the test exercises nothing")
		}
		if n := f.streamMsgs(t); n == 0 {
			t.Fatal("the killed relay published nothing; the test exercises nothing")
		}
		f.start(t, f.config(t))
		f.waitEmpty(t, 20*time.Second)
		if n := f.streamMsgs(t); n != uint64(len(events)) {
			t.Fatalf("stream holds %d messages for %d events: a re-publish was not deduplicated", n, len(events))
		}
	})
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// restartNATS shuts srv down, runs during, and starts a server on the same
// port and store again, stopped when the test ends.
func restartNATS(t *testing.T, srv *bus.Embedded, during func()) *bus.Embedded {
	t.Helper()
	port, dir := srv.Port(), srv.Dir()
	srv.Shutdown()
	during()
	again, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: dir, Port: port})
	if err != nil {
		t.Fatalf("restart NATS: %v", err)
	}
	t.Cleanup(again.Shutdown)
	return again
}

// TestSurvivesADatabaseRestart restarts the outbox's PostgreSQL server (a
// private one: fast shutdown, two seconds down, started again) under a
// running relay while writers keep trying: every committed event reaches the
// stream once and in order, without help.
func TestSurvivesADatabaseRestart(t *testing.T) {
	srv := testenv.NewPostgresServer(t)
	f := &fixture{dsn: srv.DSN()}
	f.db = toolkittest.OpenDB(t, f.dsn)
	f.attach(t, testenv.NATS(t))
	f.start(t, f.config(t))
	const total = 400
	written := make(chan struct{})
	var n atomic.Int64
	var lastErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer close(written)
		for n.Load() < total && ctx.Err() == nil {
			e := f.event(t, "agg", int(n.Load()))
			tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
			err := f.db.Transact(tctx, func(tx *sqldb.Tx) error { return f.ob.Record(tctx, tx, e) })
			tcancel()
			if err != nil {
				lastErr.Store(err.Error())
				time.Sleep(50 * time.Millisecond) // the database is down: try again
				continue
			}
			n.Add(1)
			time.Sleep(3 * time.Millisecond)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	srv.Restart(t, 2*time.Second)
	select {
	case <-written:
	case <-time.After(2 * time.Minute):
		cancel()
		t.Fatalf("the writer committed %d of %d events in 2 min after the restart; its last error: %v", n.Load(), total, lastErr.Load())
	}
	f.waitEmpty(t, 30*time.Second)
	got := f.collect(t, total, 20*time.Second)
	if len(got) != total {
		t.Fatalf("received %d of %d", len(got), total)
	}
	for i, m := range got {
		var p payload
		e, _ := contract.FromMessage(m.Headers(), m.Data())
		if err := json.Unmarshal(e.Data, &p); err != nil || p.N != i {
			t.Fatalf("message %d carries n=%d (err %v)", i, p.N, err)
		}
	}
}

func TestRefusesAConnectionThatBuffersWhileDisconnected(t *testing.T) {
	f := newFixture(t, sqldb.SQLite, testenv.NATS(t))
	nc, err := bus.Connect(bus.ConnConfig{URL: testenv.NATS(t), Logger: toolkittest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := relay.New(f.ob, nc, f.config(t)); !errors.Is(err, relay.ErrBufferingConn) {
		t.Fatalf("New = %v, want ErrBufferingConn", err)
	}
}

func withFault(cfg relay.Config, f func() error) relay.Config {
	cfg.FaultBeforeDelete = f
	return cfg
}

// TestBacklogMetrics reads the outbox backlog and the age of its oldest
// event through the relay's Prometheus collector, before and after a drain.
func TestBacklogMetrics(t *testing.T) {
	each(t, func(t *testing.T, d sqldb.Dialect, url string) {
		f := newFixture(t, d, url)
		reg := prometheus.NewRegistry()
		cfg := f.config(t)
		cfg.Metrics = reg
		if _, err := relay.New(f.ob, f.nc, cfg); err != nil { // registers; not running yet
			t.Fatal(err)
		}
		for i := range 7 {
			f.write(t, f.event(t, "a", i))
		}
		time.Sleep(20 * time.Millisecond)
		if n := toolkittest.Metric(t, reg, "bounded_outbox_backlog"); n != 7 {
			t.Fatalf("backlog = %v, want 7", n)
		}
		if age := toolkittest.Metric(t, reg, "bounded_outbox_oldest_age_seconds"); age <= 0 || age > 60 {
			t.Fatalf("oldest age = %v s", age)
		}
		cfg.Metrics = nil
		f.start(t, cfg)
		f.waitEmpty(t, 10*time.Second)
		if n, age := toolkittest.Metric(t, reg, "bounded_outbox_backlog"), toolkittest.Metric(t, reg, "bounded_outbox_oldest_age_seconds"); n != 0 || age != 0 {
			t.Fatalf("after the drain: backlog %v, oldest age %v", n, age)
		}
	})
}

// TestStartsBeforeNATS starts the relay while its NATS server is down: it
// waits, and publishes once the server is up.
func TestStartsBeforeNATS(t *testing.T) {
	srv := testenv.EmbeddedNATS(t)
	f := newFixture(t, sqldb.SQLite, srv.ClientURL())
	f.write(t, f.event(t, "a", 1))
	var done <-chan error
	restartNATS(t, srv, func() {
		_, done = f.start(t, f.config(t))
		time.Sleep(500 * time.Millisecond) // the relay tries, and waits
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while NATS was down", err)
	default:
	}
	f.waitEmpty(t, 20*time.Second)
	if got := f.collect(t, 1, 10*time.Second); len(got) != 1 {
		t.Fatalf("received %d events, want 1", len(got))
	}
}

// TestOneClaimPerWakeUp writes events one at a time, each after the last
// was published, and counts the relay's reads of the outbox: one per
// event (its wake-up), plus the backstop polls and the first read, not a
// second read after each event to find nothing. Its counters are the ones
// operators see: claims, publishes and deletes. On SQLite it reads so
// only without the hand-off (NoHandoff); TestHandoffReadsOnlyAtStart has
// the hand-off.
func TestOneClaimPerWakeUp(t *testing.T) {
	each(t, func(t *testing.T, d sqldb.Dialect, url string) {
		f := newFixture(t, d, url)
		reg := prometheus.NewRegistry()
		cfg := f.config(t)
		cfg.Metrics = reg
		cfg.PollInterval = time.Hour // no backstop reads to count
		cfg.DeleteLinger = time.Millisecond
		cfg.NoHandoff = true
		f.start(t, cfg)
		const n = 30
		t0 := time.Now()
		for i := range n {
			f.write(t, f.event(t, "a", i))
			deadline := time.Now().Add(10 * time.Second)
			for toolkittest.Metric(t, reg, "bounded_relay_published_total") < float64(i+1) {
				if time.Now().After(deadline) {
					t.Fatalf("event %d not published within 10s", i)
				}
				time.Sleep(time.Millisecond)
			}
		}
		f.waitEmpty(t, 10*time.Second)
		claims := toolkittest.Metric(t, reg, "bounded_relay_claims_total")
		deletes := toolkittest.Metric(t, reg, "bounded_relay_deletes_total")
		// The first read at start, one per event; a wake-up that arrives
		// during a read may cost one more read that finds nothing, which
		// only a slow machine sees now and then.
		if claims < n || claims > n+n/3 {
			t.Errorf("%v reads of the outbox for %d events written one at a time over %s, want %d to %d",
				claims, n, time.Since(t0).Round(time.Millisecond), n, n+n/3)
		}
		if deletes < 1 || deletes > n {
			t.Errorf("%v deletes for %d events, want 1 to %d", deletes, n, n)
		}
		if got := f.collect(t, n, 10*time.Second); len(got) != n {
			t.Fatalf("stream holds %d events, want %d", len(got), n)
		}
	})
}

// TestOneRelayLeadsASQLiteOutbox runs two relays on one SQLite outbox
// (two processes on one file would do the same): one leads, the other
// stands by; when the leader stops, the standby leads within
// StandbyInterval, and every event is published once, in order.
func TestOneRelayLeadsASQLiteOutbox(t *testing.T) {
	f := newFixture(t, sqldb.SQLite, testenv.NATS(t))
	start := func() (*prometheus.Registry, func()) {
		reg := prometheus.NewRegistry()
		cfg := f.config(t)
		cfg.Metrics = reg
		cfg.StandbyInterval = 50 * time.Millisecond
		stop, _ := f.start(t, cfg)
		return reg, stop
	}
	leads := func(reg *prometheus.Registry) bool { return toolkittest.Metric(t, reg, "bounded_relay_leader") == 1 }
	regA, stopA := start()
	waitUntil(t, 10*time.Second, "the first relay leads", func() bool { return leads(regA) })
	regB, _ := start()
	for i := range 10 {
		f.write(t, f.event(t, "a", i))
	}
	f.waitEmpty(t, 10*time.Second)
	if leads(regB) || toolkittest.Metric(t, regB, "bounded_relay_claims_total") != 0 {
		t.Fatal("the second relay leads or claims while the first leads")
	}
	stopA()
	waitUntil(t, 10*time.Second, "the standby leads", func() bool { return leads(regB) })
	for i := 10; i < 20; i++ {
		f.write(t, f.event(t, "a", i))
	}
	f.waitEmpty(t, 10*time.Second)
	got := f.collect(t, 20, 10*time.Second)
	if len(got) != 20 || f.streamMsgs(t) != 20 {
		t.Fatalf("received %d events, the stream holds %d; want 20 each", len(got), f.streamMsgs(t))
	}
	for i, m := range got {
		var p payload
		if err := json.Unmarshal(m.Data(), &p); err != nil || p.N != i {
			t.Fatalf("event %d is %s (%v), want n=%d: order broken", i, m.Data(), err, i)
		}
	}
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBusyRelayReadsLess writes an event every millisecond, one
// transaction each, above BusyRate: the relay waits BusyLinger after a
// wake-up, and each read takes several events. Every event is published
// once, in order.
func TestBusyRelayReadsLess(t *testing.T) {
	each(t, func(t *testing.T, d sqldb.Dialect, url string) {
		f := newFixture(t, d, url)
		reg := prometheus.NewRegistry()
		cfg := f.config(t)
		cfg.Metrics = reg
		cfg.BusyRate, cfg.BusyLinger = 100, 20*time.Millisecond
		f.start(t, cfg)
		const n = 300
		for i := range n {
			f.write(t, f.event(t, "a", i))
			time.Sleep(time.Millisecond)
		}
		f.waitEmpty(t, 10*time.Second)
		claims := toolkittest.Metric(t, reg, "bounded_relay_claims_total")
		if claims > n/3 {
			t.Errorf("%v reads for %d events written one a millisecond above BusyRate; want at most %d (several events a read)", claims, n, n/3)
		}
		got := f.collect(t, n, 10*time.Second)
		if len(got) != n {
			t.Fatalf("received %d events, want %d", len(got), n)
		}
		for i, m := range got {
			var p payload
			if err := json.Unmarshal(m.Data(), &p); err != nil || p.N != i {
				t.Fatalf("event %d is %s, want n=%d", i, m.Data(), i)
			}
		}
	})
}
