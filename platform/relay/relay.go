// Package relay publishes a service's outbox to the service's own NATS
// JetStream stream.
//
// How it runs:
//   - It wakes when events are committed (an in-process signal from the
//     outbox for writers in the same process, PostgreSQL LISTEN for writers in
//     other processes) and polls only as a backstop. It reads the outbox
//     again at once only after a full batch (a backlog); otherwise it waits
//     for the next wake-up, so that a live event costs one read, not two.
//   - On SQLite the leader also takes the rows that writers in its own
//     process commit straight from the outbox (outbox.SetHandoff), with
//     their seqs, and publishes them without reading them back. It knows
//     that every committed row up to some seq has been taken; a handed row
//     that continues that seq goes out at once, one further ahead waits
//     until a read fills the gap (rows another process wrote on the same
//     file). So a live SQLite outbox is read at start, after a gap, during
//     a backlog and once per PollInterval, not per event (Config.NoHandoff
//     turns this off). PostgreSQL always reads: there seqs are drawn before
//     commit by writers in any process, and a gap proves nothing.
//   - It claims a batch of rows in seq order, publishes them asynchronously
//     with a bounded window of unacknowledged messages, waits for every ack,
//     and then deletes the acknowledged rows in one short statement. No
//     database transaction is ever open across a publish.
//   - Claiming, publishing, acknowledging and deleting are pipelined: the
//     next batch is claimed and sent while earlier ones wait for their acks
//     and are deleted (queued deletes are merged into one statement). A claim
//     skips the rows still in flight (in the database: they are neither read
//     nor sent again). Messages go out in seq order over one connection.
//   - Every message carries Nats-Msg-Id = event id. A row that was published
//     but not deleted (a crash, a lost leadership, a failed delete) is
//     published again later; JetStream drops the copy as long as it arrives
//     within the stream's duplicate window. At start the relay refuses a
//     stream whose window is shorter than its RetryHorizon.
//   - On PostgreSQL one relay per database is active: it holds a session
//     advisory lock on a dedicated connection and claims on that same
//     connection, so a relay whose connection (and so its lock) is gone cannot
//     claim again. Standbys try the lock every StandbyInterval.
//   - On SQLite one relay per database file is active too: it holds an
//     flock on FILE-relay.lock; standbys (in a second process on the same
//     file, say) try it every StandbyInterval.
//
// Per-aggregate order: the outbox makes seq order agree with commit order for
// each aggregate (see package outbox), the relay publishes in seq order over
// one connection, and the first failure (a publish error, a missing ack, a
// reconnect in the middle of a batch) stops all sending: everything not
// acknowledged is dropped from flight and claimed again from the oldest row.
// (The one case this cannot cover is a server that refuses one message and
// stores the next on the same healthy connection; JetStream does that only
// for a message that breaks a stream limit, which the outbox's MaxEventBytes
// and a stream without per-subject limits rule out.) When
// two relays overlap during a leadership change, both publish in seq order and
// JetStream keeps the first copy of each id, which preserves the order.
package relay

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/flock"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Config configures a Relay. Stream.Name and Stream.Subjects are required.
type Config struct {
	// Stream is the service's own stream. The relay creates it, or updates
	// the settings it names, at start, and again whenever it may have gone
	// (after a reconnect, or when a publish found no stream).
	Stream jetstream.StreamConfig
	// Subject maps an event to the NATS subject it is published on.
	// Default: the event type, e.g. "orders.order_confirmed.v1".
	Subject func(contract.Event) string
	// BatchSize is the most rows claimed at once. Default 2000.
	BatchSize int
	// Window is the most publishes awaiting an ack at once. Default 2048.
	Window int
	// AckTimeout bounds the wait for one publish's ack. Default 5 s.
	AckTimeout time.Duration
	// DeleteLinger is how long published rows may wait to be deleted
	// together with the rows published after them (a delete is a commit,
	// and commits compete with the service's writers). Default 20 ms.
	DeleteLinger time.Duration
	// BusyRate and BusyLinger trade latency for fewer reads of the outbox
	// when events come fast: while the relay has been publishing at least
	// BusyRate events per second (measured over the last 100 ms), it waits
	// BusyLinger after a wake-up before it reads, so that each read takes
	// many events instead of one or two (every read costs the database, the
	// relay and the NATS server about as much as an event). Below BusyRate
	// it reads at once. Defaults: 2,000 events/s and 5 ms; a negative
	// BusyLinger never waits.
	BusyRate   float64
	BusyLinger time.Duration
	// NoHandoff makes a relay on SQLite read every event from the outbox.
	// By default the leader takes the rows that writers in its own process
	// commit straight from the outbox (outbox.SetHandoff) and reads only to
	// fill gaps (rows another process wrote, a backlog, a start). PostgreSQL
	// always reads.
	NoHandoff bool
	// PollInterval is the backstop poll when no wake-up arrives. Default 1 s.
	// A relay taking hand-offs reads at least this often.
	PollInterval time.Duration
	// StandbyInterval is how often a standby tries to take the lead.
	// Default 1 s.
	StandbyInterval time.Duration
	// RetryHorizon is the longest a published row may wait to be deleted
	// before it is published again (failover, backoff, a database restart).
	// The stream's duplicate window must be at least this long (New
	// refuses a shorter Stream.Duplicates); when Stream.Duplicates is zero
	// it is set to this. Default 2 min.
	RetryHorizon time.Duration
	// MaxBackoff caps the wait between retries after an error. Default 2 s.
	MaxBackoff time.Duration
	// LockKey is the PostgreSQL advisory lock key of the leadership.
	// Default: derived from the stream name.
	LockKey int64
	// Logger receives one line per error and per change of leadership.
	Logger *slog.Logger
	// Metrics, when set, registers the relay's metrics there.
	Metrics prometheus.Registerer

	// FaultBeforeDelete is fault injection, for tests and fault drills;
	// leave it nil. When set, it runs before each delete of published rows,
	// and an error from it stands for a relay that died between publish and
	// delete: the rows stay and are published again.
	FaultBeforeDelete func() error
}

func (c *Config) setDefaults() {
	if c.Subject == nil {
		c.Subject = func(e contract.Event) string { return e.Type }
	}
	if c.BatchSize == 0 {
		c.BatchSize = 2000
	}
	if c.Window == 0 {
		c.Window = 2048
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.DeleteLinger == 0 {
		c.DeleteLinger = 20 * time.Millisecond
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.BusyRate == 0 {
		c.BusyRate = 2000
	}
	if c.BusyLinger == 0 {
		c.BusyLinger = 5 * time.Millisecond
	}
	if c.StandbyInterval == 0 {
		c.StandbyInterval = time.Second
	}
	if c.RetryHorizon == 0 {
		c.RetryHorizon = 2 * time.Minute
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 2 * time.Second
	}
	if c.Stream.Duplicates == 0 {
		c.Stream.Duplicates = c.RetryHorizon
	}
	c.LockKey = c.LeaderLockKey()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// LeaderLockKey is the PostgreSQL advisory lock key the leader holds:
// LockKey, or one derived from the stream name. The leader's backend shows
// in pg_locks with classid = key>>32, objid = key&0xffffffff, objsubid = 1.
func (c Config) LeaderLockKey() int64 {
	if c.LockKey != 0 {
		return c.LockKey
	}
	h := fnv.New64a()
	h.Write([]byte("bounded.relay." + c.Stream.Name))
	return int64(h.Sum64() >> 1)
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Stream.Name == "":
		return errors.New("relay: Stream.Name is required")
	case len(c.Stream.Subjects) == 0:
		return errors.New("relay: Stream.Subjects is required")
	case c.BatchSize < 0 || c.Window < 0:
		return errors.New("relay: BatchSize and Window must not be negative")
	}
	return nil
}

// ErrDuplicateWindow is returned by New when the configured duplicate window
// is shorter than the relay's retry horizon, and by Run when the stream's
// window (as the server reports it) is.
var ErrDuplicateWindow = errors.New("relay: stream duplicate window shorter than retry horizon")

// Relay publishes one outbox to one stream. Create it with New, then call Run.
type Relay struct {
	ob  *outbox.Outbox
	db  *sqldb.DB
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	log *slog.Logger
	m   *metrics
	// stallWait lets a full publish window wait for room as long as an ack
	// may take (the default, 200 ms, would turn a busy server into a failed
	// batch); built once, not per message.
	stallWait jetstream.PublishOpt
	// ensured is the connection's reconnect count when EnsureStream last
	// succeeded; -1 asks for a check before the next publish.
	ensured atomic.Int64
}

// ErrBufferingConn is returned by New for a connection that buffers
// publishes while disconnected.
var ErrBufferingConn = errors.New("relay: the NATS connection buffers publishes while disconnected; " +
	"give the relay its own connection with the reconnect buffer off (bus.ConnConfig.NoReconnectBuffer)")

// New returns a relay for ob publishing over nc. nc must not buffer
// publishes while disconnected (bus.ConnConfig.NoReconnectBuffer): a message
// lost with a broken socket would otherwise be overtaken by the buffered
// messages behind it, breaking per-aggregate order.
func New(ob *outbox.Outbox, nc *nats.Conn, cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nc.Opts.ReconnectBufSize >= 0 {
		return nil, ErrBufferingConn
	}
	cfg.setDefaults()
	// Refuse before touching the stream: EnsureStream would otherwise apply
	// the short window to an existing stream first.
	if cfg.Stream.Duplicates < cfg.RetryHorizon {
		return nil, fmt.Errorf("%w: Stream.Duplicates %s, RetryHorizon %s", ErrDuplicateWindow, cfg.Stream.Duplicates, cfg.RetryHorizon)
	}
	if cfg.Stream.MaxAge != 0 && cfg.Stream.MaxAge < cfg.Stream.Duplicates {
		return nil, fmt.Errorf("relay: stream %s keeps events for %s (MaxAge), shorter than its duplicate window %s; "+
			"JetStream refuses that: keep events at least as long as the relay may re-publish them (RetryHorizon)",
			cfg.Stream.Name, cfg.Stream.MaxAge, cfg.Stream.Duplicates)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.Window),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	m, err := newMetrics(cfg.Metrics, cfg.Stream.Name, ob)
	if err != nil {
		return nil, err
	}
	return &Relay{ob: ob, db: ob.DB(), nc: nc, js: js, cfg: cfg, log: cfg.Logger.With("stream", cfg.Stream.Name), m: m,
		stallWait: jetstream.WithStallWait(cfg.AckTimeout)}, nil
}

// Run publishes until ctx is done, then returns nil. It returns an error
// only for a stream it must not publish to (ErrDuplicateWindow, or a stream
// JetStream refuses to create or update as configured); while NATS or
// JetStream cannot be reached it waits, and every other error is logged,
// counted and retried with backoff.
//
// The stream is the service's own: Run makes it exist with the configured
// settings at start, and again after NATS comes back from a reconnect or a
// publish finds no stream (a server restarted without its store, or a
// stream deleted by hand). Rows published to a stream that is gone are not
// published again: they were acknowledged, and deleted from the outbox.
func (r *Relay) Run(ctx context.Context) error {
	bo := backoff{max: r.cfg.MaxBackoff}
	for waited := false; ; {
		err := r.EnsureStream(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if !bus.IsUnavailable(err) {
			return err
		}
		if !waited {
			r.log.Warn("relay waiting for JetStream", "err", err)
			waited = true
		}
		sleep(ctx, bo.next())
	}
	bo.reset()
	for ctx.Err() == nil {
		var err error
		if r.db.Dialect() == sqldb.Postgres {
			err = r.leadPostgres(ctx)
		} else {
			err = r.leadSQLite(ctx)
		}
		if ctx.Err() != nil {
			break
		}
		if se := (streamError{}); errors.As(err, &se) {
			return se.err
		}
		if err != nil {
			r.log.Error("relay stopped leading; will retry", "err", err)
			sleep(ctx, bo.next())
			continue
		}
		bo.reset()
	}
	return nil
}

// EnsureStream makes the relay's stream exist with the settings of
// Config.Stream (see bus.EnsureStream: missing fields are created, owned
// fields that differ are updated) and checks that its duplicate window
// covers the retry horizon (ErrDuplicateWindow). Run calls it; a host may
// call it earlier, so that consumers in the same process find the stream.
// An error for which bus.IsUnavailable holds may succeed later.
func (r *Relay) EnsureStream(ctx context.Context) error {
	reconnects := r.nc.Stats().Reconnects
	st, err := bus.EnsureStream(ctx, r.js, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("relay: stream %s: %w", r.cfg.Stream.Name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("relay: stream %s: %w", r.cfg.Stream.Name, err)
	}
	if w := info.Config.Duplicates; w < r.cfg.RetryHorizon {
		return fmt.Errorf("%w: stream %s keeps message ids for %s, the relay may re-publish for %s",
			ErrDuplicateWindow, r.cfg.Stream.Name, w, r.cfg.RetryHorizon)
	}
	r.ensured.Store(int64(reconnects))
	return nil
}

// streamStale reports whether the stream should be checked again before
// publishing: the connection reconnected since the last check, and the
// server it reached may have lost the stream.
func (r *Relay) streamStale() bool {
	return r.nc.Stats().Reconnects != uint64(r.ensured.Load())
}

// streamError is an error of EnsureStream that retrying cannot cure.
type streamError struct{ err error }

func (e streamError) Error() string { return e.err.Error() }
func (e streamError) Unwrap() error { return e.err }

// leadPostgres waits until it holds the leadership lock, then leads until an
// error or ctx ends. The lock lives as long as conn.
func (r *Relay) leadPostgres(ctx context.Context) error {
	pcfg, err := pgx.ParseConfig(r.db.DSN())
	if err != nil {
		return fmt.Errorf("relay: leader connection: %w", err)
	}
	// Let the server notice a vanished leader within seconds, so that its
	// lock is released (no effect on Unix sockets, where death is seen at once).
	pcfg.RuntimeParams["tcp_keepalives_idle"] = "2"
	pcfg.RuntimeParams["tcp_keepalives_interval"] = "1"
	pcfg.RuntimeParams["tcp_keepalives_count"] = "2"
	pcfg.RuntimeParams["application_name"] = "bounded relay " + r.cfg.Stream.Name
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("relay: leader connection: %w", err)
	}
	// Closing the connection ends the session and releases the lock with it.
	// A fresh context: ctx may be done.
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, r.cfg.LockKey).Scan(&got); err != nil {
			return fmt.Errorf("relay: take lead: %w", err)
		}
		if got {
			break
		}
		if !sleep(ctx, r.cfg.StandbyInterval) {
			return nil
		}
	}
	r.log.Info("relay leads")
	defer r.log.Info("relay stepped down")
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	go r.listen(lctx)
	return r.lead(ctx, nil, func(ctx context.Context, limit int, ex outbox.Exclude) ([]outbox.Row, int64, error) {
		rows, err := r.ob.PendingPgx(ctx, conn, limit, ex)
		return rows, 0, err
	})
}

// leadSQLite waits until it holds the leadership lock of a SQLite outbox,
// an flock on the file FILE-relay.lock beside the database, then leads
// until an error or ctx ends. A SQLite file normally belongs to one
// process, but nothing stops a second one (a second `bounded serve` on the
// same file): the lock keeps its relay a standby, as on PostgreSQL. The
// kernel releases it with the process, however that ends.
func (r *Relay) leadSQLite(ctx context.Context) error {
	path := r.db.Path() + "-relay.lock"
	var unlock func() error
	for waited := false; ; waited = true {
		var err error
		unlock, err = flock.TryLock(path)
		if err == nil {
			break
		}
		if !errors.Is(err, flock.ErrHeld) {
			return fmt.Errorf("relay: leadership lock %s: %w", path, err)
		}
		if !waited {
			r.log.Info("relay standing by: another relay leads this outbox", "lock", path, "holder", err)
		}
		if !sleep(ctx, r.cfg.StandbyInterval) {
			return nil
		}
	}
	defer unlock()
	r.log.Info("relay leads")
	defer r.log.Info("relay stepped down")
	if r.cfg.NoHandoff {
		return r.lead(ctx, nil, func(ctx context.Context, limit int, ex outbox.Exclude) ([]outbox.Row, int64, error) {
			rows, err := r.ob.Pending(ctx, nil, limit, ex)
			return rows, 0, err
		})
	}
	h := newHandoff(max(r.cfg.Window, r.cfg.BatchSize))
	r.ob.SetHandoff(h.hand)
	defer r.ob.SetHandoff(nil)
	return r.lead(ctx, h, r.ob.PendingAndTop)
}

// listen wakes the relay on NOTIFY from writers in other processes. After
// every (re)connection it wakes the relay once, to catch what it missed.
func (r *Relay) listen(ctx context.Context) {
	bo := backoff{max: r.cfg.MaxBackoff}
	for ctx.Err() == nil {
		err := func() error {
			c, err := pgx.Connect(ctx, r.db.DSN())
			if err != nil {
				return err
			}
			defer c.Close(context.WithoutCancel(ctx))
			if _, err := c.Exec(ctx, "LISTEN "+outbox.NotifyChannel); err != nil {
				return err
			}
			bo.reset()
			r.ob.Wake()
			for {
				if _, err := c.WaitForNotification(ctx); err != nil {
					return err
				}
				r.ob.Wake()
			}
		}()
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("relay listen connection lost; polling until it is back", "err", err)
		sleep(ctx, bo.next())
	}
}

// lead runs the pipeline while this relay is the leader; it retries a failed
// pump (a publish error) itself and returns on a claim error (which on
// PostgreSQL means the leader connection, and the lock, may be gone).
// h, when not nil, takes the rows the outbox hands over (SQLite).
func (r *Relay) lead(ctx context.Context, h *handoff, claim claimFunc) error {
	r.ob.SetLocalLeader(true)
	r.m.leader.Set(1)
	defer func() {
		r.ob.SetLocalLeader(false)
		r.m.leader.Set(0)
	}()
	bo := backoff{max: r.cfg.MaxBackoff}
	for ctx.Err() == nil {
		if r.streamStale() {
			if err := r.EnsureStream(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if !bus.IsUnavailable(err) {
					return streamError{err}
				}
				if !sleep(ctx, bo.next()) {
					return nil
				}
				continue
			}
		}
		claimErr, err := r.pump(ctx, h, claim)
		if ctx.Err() != nil {
			return nil
		}
		if claimErr != nil {
			return claimErr
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			// No stream took the message: it is gone (deleted, or the
			// server lost its store). Make it again before the retry.
			r.ensured.Store(-1)
		}
		r.log.Error("relay publish failed; retrying from the oldest unpublished event", "err", err)
		if !sleep(ctx, bo.next()) {
			return nil
		}
	}
	return nil
}

// claimFunc reads up to limit unpublished rows, skipping those ex names.
// On SQLite it also returns the highest seq drawn and committed as of its
// read (outbox.PendingAndTop), for the hand-off; elsewhere 0.
type claimFunc func(ctx context.Context, limit int, ex outbox.Exclude) (rows []outbox.Row, top int64, err error)

type batch struct {
	rows    []outbox.Row
	futures []jetstream.PubAckFuture // one per row sent
	seqs    []int64                  // the acknowledged prefix of rows, to delete
}

// inflight is the set of rows claimed and not yet deleted (or dropped).
//
// Rows the deleter removed leave the set only when the next claim begins
// (see settle): a claim whose read began before the delete committed may
// still see them, and must skip them rather than publish them again.
type inflight struct {
	mu      sync.Mutex
	set     map[int64]struct{}
	deleted []int64
}

// markDeleted records rows whose delete has committed.
func (f *inflight) markDeleted(rows []outbox.Row) {
	f.mu.Lock()
	for _, row := range rows {
		f.deleted = append(f.deleted, row.Seq)
	}
	f.mu.Unlock()
}

// settle forgets the rows whose delete committed before now; call it just
// before a claim reads, whose snapshot cannot show them any more.
func (f *inflight) settle() {
	f.mu.Lock()
	for _, seq := range f.deleted {
		delete(f.set, seq)
	}
	f.deleted = f.deleted[:0]
	f.mu.Unlock()
}

func (f *inflight) add(rows []outbox.Row) {
	f.mu.Lock()
	for _, row := range rows {
		f.set[row.Seq] = struct{}{}
	}
	f.mu.Unlock()
}

func (f *inflight) remove(rows []outbox.Row) {
	f.mu.Lock()
	for _, row := range rows {
		delete(f.set, row.Seq)
	}
	f.mu.Unlock()
}

// maxHoles bounds the seqs inside the in-flight range that a claim lists
// as not in flight (rows that were not yet committed, or rolled back, when
// their neighbours were claimed).
const maxHoles = 4096

// exclusion describes the rows in flight for a claim. It reports false when
// they are too scattered to describe cheaply; the claim then waits for them
// to leave the flight.
func (f *inflight) exclusion() (outbox.Exclude, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.set) == 0 {
		return outbox.Exclude{}, true
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for seq := range f.set {
		lo, hi = min(lo, seq), max(hi, seq)
	}
	if hi-lo+1-int64(len(f.set)) > maxHoles {
		return outbox.Exclude{}, false
	}
	ex := outbox.Exclude{Lo: lo, Hi: hi}
	for seq := lo; seq <= hi; seq++ {
		if _, ok := f.set[seq]; !ok {
			ex.Holes = append(ex.Holes, seq)
		}
	}
	return ex, true
}

// pump runs claim → publish → delete until an error. It returns claimErr for
// a failed claim and err for a failed publish or delete. With a hand-off
// (h not nil), rows handed over are published without a claim; a claim runs
// first, then whenever the hand-off needs one, after a full claim (a
// backlog), and at least every PollInterval (for rows another process
// wrote).
func (r *Relay) pump(parent context.Context, h *handoff, claim claimFunc) (claimErr, err error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	if h != nil {
		h.start()
		defer h.stop()
	}
	fl := &inflight{set: make(map[int64]struct{})}
	toPublish := make(chan *batch, 1)
	toAck := make(chan *batch, 4)
	toDelete := make(chan *batch, 4)
	deleted := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // sender: publishes batch after batch without waiting for acks
		defer wg.Done()
		defer close(toAck)
		for b := range toPublish {
			if ctx.Err() != nil {
				fl.remove(b.rows)
				continue
			}
			if err := r.send(ctx, b); err != nil {
				// Publish nothing more in this pump: a message after the
				// failed one must not reach the stream before it.
				cancel(err)
			}
			toAck <- b
		}
	}()
	go func() { // acker: waits for every ack, in order
		defer wg.Done()
		defer close(toDelete)
		for b := range toAck {
			if err := r.awaitAcks(ctx, b); err != nil {
				cancel(err)
			}
			fl.remove(b.rows[len(b.seqs):]) // not acknowledged: to be claimed again
			if len(b.seqs) > 0 {
				toDelete <- b
			}
		}
	}()
	go func() { // deleter: deletes acknowledged rows, merging what arrives within DeleteLinger
		defer wg.Done()
		linger := time.NewTimer(0)
		<-linger.C
		for b := range toDelete {
			rows, seqs := b.rows[:len(b.seqs)], b.seqs
			// Each delete is a commit, which competes with the service's
			// own writers: gather small batches for a moment first.
			linger.Reset(r.cfg.DeleteLinger)
		merge:
			for len(seqs) < r.cfg.BatchSize {
				select {
				case more, ok := <-toDelete:
					if !ok {
						break merge
					}
					rows, seqs = append(rows[:len(rows):len(rows)], more.rows[:len(more.seqs)]...), append(seqs[:len(seqs):len(seqs)], more.seqs...)
				case <-linger.C:
					break merge
				}
			}
			linger.Stop()
			// Delete even after a failure elsewhere: these rows are in the
			// stream. A fresh context bounded by the retry horizon, because
			// the pump's may already be cancelled.
			var err error
			if r.cfg.FaultBeforeDelete != nil {
				err = r.cfg.FaultBeforeDelete()
			}
			if err == nil {
				dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.RetryHorizon/4)
				err = r.ob.Delete(dctx, seqs)
				dcancel()
			}
			if err != nil {
				cancel(err)
				fl.remove(rows) // not deleted: to be claimed again
			} else {
				r.m.deletes.Inc()
				fl.markDeleted(rows)
			}
			select {
			case deleted <- struct{}{}:
			default:
			}
		}
	}()
	defer wg.Wait()
	defer close(toPublish)

	publish := func(rows []outbox.Row) {
		if len(rows) == 0 {
			return
		}
		fl.add(rows)
		select {
		case toPublish <- &batch{rows: rows}:
		case <-ctx.Done():
			fl.remove(rows)
		}
	}
	poll := time.NewTimer(r.cfg.PollInterval)
	defer poll.Stop()
	var rate rateMeter
	var lastClaim time.Time
	needClaim := true
	for {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if h != nil && !needClaim {
			rows, need := h.take(r.cfg.BatchSize)
			r.m.handed.Add(float64(len(rows)))
			publish(rows)
			if wait := r.cfg.PollInterval - time.Since(lastClaim); !need && wait > 0 {
				if len(rows) == r.cfg.BatchSize {
					continue // more may be ready
				}
				poll.Reset(wait)
				select {
				case <-ctx.Done():
				case <-r.ob.Wakeups():
				case <-poll.C:
				}
				continue
			}
		}
		fl.settle()
		ex, ok := fl.exclusion()
		if !ok {
			select {
			case <-ctx.Done():
			case <-deleted:
			}
			continue
		}
		if h != nil {
			// Rows handed over and not yet taken are committed: send them
			// first, and skip them in the claim.
			handed := h.beginClaim()
			r.m.handed.Add(float64(len(handed)))
			publish(handed)
			if ex, ok = fl.exclusion(); !ok {
				h.abortClaim()
				continue
			}
		}
		// The claim runs on the parent context: a publish failure cancels
		// ctx, and pgx closes a connection whose query is cancelled, which
		// on PostgreSQL is the leader's connection and its lock.
		rows, top, err := claim(parent, r.cfg.BatchSize, ex)
		r.m.claims.Inc()
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return err, nil
		}
		full := len(rows) == r.cfg.BatchSize
		if h != nil {
			h.endClaim(rows, top, full)
		}
		lastClaim = time.Now()
		rate.add(len(rows), lastClaim)
		publish(rows)
		if needClaim = full; full {
			continue // a backlog: claim the next batch at once
		}
		if h != nil {
			continue // to the hand-off, which waits for the next wake-up
		}
		// The claim found every row committed and not in flight; a row
		// committed since wakes the relay after its commit, so wait for
		// that rather than read again (which would mostly find nothing:
		// every event would cost two claims).
		poll.Reset(r.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-r.ob.Wakeups():
		case <-poll.C:
		}
		if r.cfg.BusyLinger > 0 && rate.at(time.Now()) >= r.cfg.BusyRate {
			// Busy: let more commits gather before the read.
			sleep(ctx, r.cfg.BusyLinger)
		}
	}
}

// rateMeter measures the events claimed per second over windows of
// rateWindow.
type rateMeter struct {
	start     time.Time
	events    int
	perSecond float64 // of the last full window
}

const rateWindow = 100 * time.Millisecond

// at is the rate at now: that of the last full window, or, when more
// than a window has passed since the current one began (an idle spell),
// the current window's so far.
func (m *rateMeter) at(now time.Time) float64 {
	if d := now.Sub(m.start); !m.start.IsZero() && d >= rateWindow {
		return float64(m.events) / d.Seconds()
	}
	return m.perSecond
}

func (m *rateMeter) add(events int, now time.Time) {
	if m.start.IsZero() {
		m.start = now
	}
	m.events += events
	if d := now.Sub(m.start); d >= rateWindow {
		m.perSecond = float64(m.events) / d.Seconds()
		m.start, m.events = now, 0
	}
}

// send publishes every row of b, keeping the futures in b. It stops at the
// first failure, or when the connection reconnected since the batch began
// (an earlier message may have been lost with the old socket).
func (r *Relay) send(ctx context.Context, b *batch) error {
	b.futures = make([]jetstream.PubAckFuture, 0, len(b.rows))
	reconnects := r.nc.Stats().Reconnects
	for i, row := range b.rows {
		e := row.Event
		if i%64 == 0 && (r.nc.Stats().Reconnects != reconnects || ctx.Err() != nil) {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return errors.New("relay: NATS reconnected during the batch")
		}
		msg := &nats.Msg{Subject: r.cfg.Subject(e), Header: nats.Header(e.Header()), Data: e.Data}
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID), r.stallWait)
		if err != nil {
			return fmt.Errorf("relay: publish %s: %w", e.ID, err)
		}
		b.futures = append(b.futures, f)
	}
	return nil
}

// awaitAcks waits for the ack of every message sent from b, in order, and
// leaves in b.seqs the seqs of the acknowledged prefix of b.rows.
func (r *Relay) awaitAcks(ctx context.Context, b *batch) error {
	b.seqs = make([]int64, 0, len(b.futures))
	var ackErr error
	for i, f := range b.futures {
		select {
		case <-f.Ok():
			if ackErr == nil {
				b.seqs = append(b.seqs, b.rows[i].Seq)
				r.m.dwell.Observe(time.Since(b.rows[i].Event.Time).Seconds())
			}
		case err := <-f.Err():
			if ackErr == nil {
				ackErr = fmt.Errorf("relay: publish %s: %w", b.rows[i].Event.ID, err)
			}
		case <-ctx.Done():
			if ackErr == nil {
				ackErr = context.Cause(ctx)
			}
		}
	}
	r.m.published.Add(float64(len(b.seqs)))
	if ackErr == nil && len(b.futures) < len(b.rows) {
		ackErr = context.Cause(ctx) // the sender stopped early; it said why
	}
	if ackErr != nil {
		r.m.errors.Inc()
	}
	return ackErr
}

// backoff doubles from 50 ms up to max, with jitter.
type backoff struct {
	max time.Duration
	cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = 50 * time.Millisecond
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
