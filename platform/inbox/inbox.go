// Package inbox is the idempotent consumer: it reads a durable JetStream
// consumer and applies each event exactly once to the consumer's own database.
//
// For every message, in one local transaction: the inbox row (consumer, event
// id) is inserted, the handler runs on the same transaction (its domain
// changes and any outbox rows it records), and the transaction commits; the
// ack goes out only after the commit. A redelivered event finds its inbox row
// and is acknowledged without running the handler again. Under load, a
// worker applies the events already queued for it in one transaction (see
// Config.MaxBatch): each keeps its own inbox row and handler run, they
// commit together, and a batch that fails is applied again one event at a
// time.
//
// Failures. A handler error rolls the transaction back and the event is
// retried in place, with backoff, up to MaxAttempts (an unavailable database,
// see sqldb.IsUnavailable, is retried for as long as it lasts and uses up no
// attempt); then it is written to the
// consumer's dead-letter table (with the error, the attempt count and the raw
// message), its inbox row is inserted so that a redelivery stays a no-op, and
// it is acknowledged so that the stream moves on. An event that cannot be
// decoded (not a CloudEvent, unknown type or version) and a handler error
// marked with [Permanent] are dead-lettered at once. Dead letters are listed
// with [List] and replayed with [Consumer.Replay]. Nothing is acknowledged
// without either its effect or its dead letter committed.
//
// Order. Messages are spread over Concurrency workers by the event's subject
// (its aggregate id); each worker handles its messages one at a time in
// delivery order, and retries in place, so events of one aggregate are
// applied in stream order. A retrying event holds up only its own worker.
package inbox

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the inbox and dead-letter tables in db.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.Dialect()))
	if err != nil {
		return fmt.Errorf("inbox: migrations: %w", err)
	}
	return db.Migrate(ctx, sub, "bounded_inbox_version")
}

// Handler applies one event within tx. Returning an error rolls tx back; the
// event is then retried, unless the error is [Permanent] or one of contract's
// decoding errors, which dead-letter it at once. A handler must not ack, and
// must do its work only through tx (its effects then commit with the inbox
// row or not at all).
type Handler func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that no retry can cure (bad data, a broken
// invariant): the event is dead-lettered without further attempts.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type transientError struct{ err error }

func (t transientError) Error() string { return t.err.Error() }
func (t transientError) Unwrap() error { return t.err }

// Transient marks err as a passing state of the consumer's own database
// (a rebuild holding it, say) rather than a fault of the event: the event
// is retried with backoff for as long as it lasts, using up no attempt,
// as through a database outage.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

func isTransient(err error) bool {
	var t transientError
	return errors.As(err, &t)
}

// ErrApplied is what a handler returns (wrapped or not) for an event whose
// effect it knows to be in place already by other means than the inbox —
// applied by a rebuild's replay of the stream, say, whose transactions
// write no inbox rows. The consumer rolls the handler's transaction back
// and acks the event without an effect, counted as a duplicate.
var ErrApplied = errors.New("inbox: effect already in place")

// Delivery is where the message a handler is applying came from.
type Delivery struct {
	Consumer  string // the durable consumer
	Stream    string
	StreamSeq uint64 // the message's sequence in the stream
}

type deliveryKey struct{}

// DeliveryOf returns the delivery of the message whose handler ctx was
// given to; false outside a live consumer's handler (a replay, a test).
func DeliveryOf(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(Delivery)
	return d, ok
}

// withDelivery gives a handler's ctx the delivery of msg.
func (c *Consumer) withDelivery(ctx context.Context, msg jetstream.Msg) context.Context {
	meta, err := msg.Metadata()
	if err != nil || meta == nil {
		return ctx
	}
	return context.WithValue(ctx, deliveryKey{}, Delivery{Consumer: c.cfg.Name, Stream: meta.Stream, StreamSeq: meta.Sequence.Stream})
}

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || errors.Is(err, contract.ErrMalformed) ||
		errors.Is(err, contract.ErrUnknownType) || errors.Is(err, contract.ErrUnknownVersion)
}

// Config configures a Consumer. Name and Stream are required.
type Config struct {
	// Name is the durable consumer's name and the inbox's key. Replicas of a
	// service that use the same Name share the work.
	Name string
	// Stream is the stream to read; Subjects, when set, filter it.
	Stream   string
	Subjects []string
	// Handles, when set, says which event types the handler wants, by name
	// without version ("orders.order_confirmed"). Other messages are
	// acknowledged without a transaction and counted as skipped. It lets one
	// consumer read a whole stream (one subject filter, which every
	// JetStream server supports) and keep the stream's per-aggregate order
	// across the types it handles. A message without a readable ce-type is
	// not skipped: it goes to the handler's decode and is dead-lettered.
	Handles func(name string) bool
	// MaxAttempts is how many times a failing event is tried before it is
	// dead-lettered. Default 5.
	MaxAttempts int
	// Backoff gives the wait before attempt n+1 after n failures.
	// Default: 100 ms doubling, at most 5 s.
	Backoff func(n int) time.Duration
	// Concurrency is the number of workers. Default 8.
	Concurrency int
	// AckWait is how long JetStream waits for an ack before redelivering.
	// Default 30 s. Workers extend it while they retry.
	AckWait time.Duration
	// MaxBatch is the most events a worker applies in one transaction: when
	// events wait for a busy worker, it applies those already queued
	// together (one commit instead of one each); an idle worker applies an
	// event at once, alone. A batch whose transaction fails is applied again
	// one event at a time, with the retries and dead letters described
	// above. Default 32; 1 turns batching off.
	MaxBatch int
	// Prepare, when set, runs first in the transaction of every batch of
	// two or more events (see MaxBatch), with the events about to be
	// applied in their order (those already handled included). It is
	// where a service whose handlers lock rows that events of different
	// aggregates share (stock of one product, reserved by many orders)
	// takes all of the batch's locks at once, in one order: otherwise two
	// workers' batches can take them in opposite orders and deadlock. An
	// error fails the batch, which is then applied one event at a time.
	Prepare func(ctx context.Context, tx *sqldb.Tx, batch []contract.Event) error
	// MaxAckPending bounds the messages delivered and not yet acked.
	// Default 4096.
	MaxAckPending int
	// Retention is how long inbox rows are kept. Default: the stream's
	// MaxAge (rows older than the stream's messages cannot be redelivered);
	// kept forever when the stream keeps messages forever.
	Retention time.Duration
	// StartTime, when set on a new consumer, starts delivery at this time
	// instead of the stream's first message.
	StartTime time.Time
	// StartSeq, when set on a new consumer, starts delivery at this stream
	// sequence instead of the stream's first message (it wins over
	// StartTime). [Consumer.StartAt] changes it on a stopped consumer.
	//
	// Both apply only when the durable consumer is created: an existing
	// one keeps the start position it was created with (JetStream refuses
	// to change it), whatever these say.
	StartSeq uint64
	Logger   *slog.Logger
	// Metrics, when set, registers the consumer's metrics there.
	Metrics prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff == nil {
		c.Backoff = func(n int) time.Duration {
			return min(100*time.Millisecond<<min(n-1, 10), 5*time.Second)
		}
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 32
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("inbox: Name is required")
	case c.Stream == "":
		return errors.New("inbox: Stream is required")
	case c.MaxAttempts < 0 || c.Concurrency < 0:
		return errors.New("inbox: MaxAttempts and Concurrency must not be negative")
	}
	return nil
}

// Consumer applies one durable consumer's events to one database.
type Consumer struct {
	db       *sqldb.DB
	js       jetstream.JetStream
	cfg      Config
	h        Handler
	log      *slog.Logger
	m        *metrics
	startSeq atomic.Uint64 // Config.StartSeq, or what StartAt set
}

// New returns a consumer that applies events to db with h. Call [Migrate]
// on db once before Run.
func New(db *sqldb.DB, nc *nats.Conn, cfg Config, h Handler) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("inbox: nil handler")
	}
	cfg.setDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	c := &Consumer{db: db, js: js, cfg: cfg, h: h, log: cfg.Logger.With("consumer", cfg.Name)}
	c.m, err = newMetrics(cfg.Metrics, c)
	if err != nil {
		return nil, err
	}
	c.startSeq.Store(cfg.StartSeq)
	return c, nil
}

// StartAt makes the durable consumer, when Run next creates it, start at
// stream sequence seq (see Config.StartSeq). It is for a consumer whose
// durable consumer was deleted while Run was stopped (a replay of the
// stream's first seq-1 messages took its place); call it only then.
func (c *Consumer) StartAt(seq uint64) { c.startSeq.Store(seq) }

// Name returns the consumer's name.
func (c *Consumer) Name() string { return c.cfg.Name }

// Run consumes until ctx is done and returns nil then. It waits (and says so
// once in the log) while the stream does not exist yet. Errors of single
// events are handled as the package doc says; Run returns an error only when
// it cannot create the consumer for a reason other than a missing stream.
//
// The durable consumer lives on the server, which can lose it: a NATS
// server restarted without its store (a single node that lost its disk),
// or an operator's delete. Run notices (a pull that finds no responder, a
// "consumer deleted" notice, a consume that stopped by itself), checks, and
// creates the consumer again, waiting for the stream if that is gone too.
// A recreated consumer starts again from the stream's first message: the
// inbox makes the events it had handled no-ops.
func (c *Consumer) Run(ctx context.Context) error {
	cons, err := c.consumer(ctx)
	if err != nil || cons == nil {
		return err
	}
	retention := c.cfg.Retention
	if retention == 0 {
		if st, err := c.js.Stream(ctx, c.cfg.Stream); err == nil {
			retention = st.CachedInfo().Config.MaxAge
		}
	}

	work := make([]chan jetstream.Msg, c.cfg.Concurrency)
	done := make(chan struct{})
	for i := range work {
		work[i] = make(chan jetstream.Msg, 64)
		go func(ch chan jetstream.Msg) {
			defer func() { done <- struct{}{} }()
			batch := make([]jetstream.Msg, 0, c.cfg.MaxBatch)
			for msg := range ch {
				if ctx.Err() != nil {
					c.handBack(msg)
					continue
				}
				// Take what else is queued for this worker already: under
				// load, one transaction applies them all.
				batch = append(batch[:0], msg)
			gather:
				for len(batch) < c.cfg.MaxBatch {
					select {
					case m, ok := <-ch:
						if !ok {
							break gather
						}
						batch = append(batch, m)
					default:
						break gather
					}
				}
				c.processBatch(ctx, batch)
			}
		}(work[i])
	}
	// dispatch hands a message to its worker; stopWorkers closes the
	// workers' channels, after which dispatch hands messages back instead
	// (a late delivery must not send on a closed channel).
	var (
		dispatchMu sync.RWMutex
		stopped    bool
	)
	seed := maphash.MakeSeed()
	dispatch := func(msg jetstream.Msg) {
		dispatchMu.RLock()
		defer dispatchMu.RUnlock()
		if stopped || ctx.Err() != nil {
			c.handBack(msg)
			return
		}
		select {
		case work[maphash.String(seed, msg.Headers().Get("ce-subject"))%uint64(len(work))] <- msg:
		case <-ctx.Done():
			c.handBack(msg)
		}
	}
	stopWorkers := func() {
		dispatchMu.Lock()
		stopped = true
		dispatchMu.Unlock()
		for _, ch := range work {
			close(ch)
		}
		for range work {
			<-done
		}
	}
	// suspect hears of consume errors that may mean the consumer is gone.
	suspect := make(chan struct{}, 1)
	consume := func(cons jetstream.Consumer) (jetstream.ConsumeContext, error) {
		c.m.setConsumer(cons)
		cc, err := cons.Consume(dispatch, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("consume", "err", err)
			if mayBeGone(err) {
				select {
				case suspect <- struct{}{}:
				default:
				}
			}
		}))
		if err != nil {
			return nil, fmt.Errorf("inbox %s: consume: %w", c.cfg.Name, err)
		}
		return cc, nil
	}
	cc, err := consume(cons)
	if err != nil {
		stopWorkers()
		return err
	}
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	c.prune(ctx, retention)
	// recheck repeats a check that could not reach JetStream.
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	defer recheck.Stop()
	for ctx.Err() == nil {
		restart := false
		select {
		case <-ctx.Done():
		case <-prune.C:
			c.prune(ctx, retention)
		case <-cc.Closed():
			// Consuming stopped without us: the server said the consumer
			// was deleted, or the connection closed.
			restart = true
		case <-suspect:
			restart = c.lost(ctx, recheck)
		case <-recheck.C:
			restart = c.lost(ctx, recheck)
		}
		if !restart || ctx.Err() != nil {
			continue
		}
		cc.Stop()
		select {
		case <-cc.Closed():
		case <-time.After(drainWait):
		}
		c.log.Warn("durable consumer gone or consume stopped; creating it again", "stream", c.cfg.Stream)
		if cons, err = c.consumer(ctx); err == nil && cons != nil {
			cc, err = consume(cons)
		}
		if err != nil || cons == nil {
			stopWorkers()
			return err // nil when ctx is done
		}
	}
	// Drain passes the messages already received on, to be handed back.
	// It ends with a flush, which waits for a server that may have just
	// gone away: wait for it only briefly, and not at all without a
	// connection. (What is not handed back is redelivered after AckWait.)
	if c.js.Conn().IsConnected() {
		cc.Drain()
	} else {
		cc.Stop()
	}
	select {
	case <-cc.Closed():
	case <-time.After(drainWait):
	}
	stopWorkers()
	return nil
}

// maxConflicts bounds the deadlocks and serialization failures an event
// may meet without using up an attempt: past it, each one counts, so that
// an event that conflicts every time still ends in a dead letter.
const maxConflicts = 20

// drainWait bounds the wait for a draining consume at shutdown.
const drainWait = 2 * time.Second

// mayBeGone reports whether a consume error may mean that the durable
// consumer no longer exists: a pull to a missing consumer finds no
// responder, and a server that lost it sends no heartbeats.
func mayBeGone(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted)
}

// lost asks JetStream whether the durable consumer (or its stream) is gone.
// When JetStream cannot answer, it arms recheck to ask again shortly.
func (c *Consumer) lost(ctx context.Context, recheck *time.Timer) bool {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := c.js.Consumer(qctx, c.cfg.Stream, c.cfg.Name)
	switch {
	case err == nil:
		return false
	case errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound):
		return true
	default:
		recheck.Reset(time.Second)
		return false
	}
}

// consumer creates or updates the durable consumer, waiting for the stream.
func (c *Consumer) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:        c.cfg.Name,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.cfg.AckWait,
		MaxAckPending:  c.cfg.MaxAckPending,
		MaxDeliver:     -1, // attempts are counted here, and end in a dead letter
		FilterSubjects: c.cfg.Subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if seq := c.startSeq.Load(); seq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = seq
	} else if !c.cfg.StartTime.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		t := c.cfg.StartTime
		cfg.OptStartTime = &t
	}
	if len(cfg.FilterSubjects) == 1 {
		cfg.FilterSubject, cfg.FilterSubjects = cfg.FilterSubjects[0], nil
	}
	waited, madeMeanwhile := false, 0
	for {
		// An existing consumer keeps where it started: JetStream refuses
		// to update the deliver policy or the start position.
		if have, err := c.js.Consumer(ctx, c.cfg.Stream, c.cfg.Name); err == nil {
			hc := have.CachedInfo().Config
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = hc.DeliverPolicy, hc.OptStartSeq, hc.OptStartTime
		}
		cons, err := c.js.CreateOrUpdateConsumer(ctx, c.cfg.Stream, cfg)
		if err == nil {
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if bus.IsConsumerStartConflict(err) && madeMeanwhile < 10 {
			// Another replica (or a rebuild) made the consumer between the
			// look above and the create, starting elsewhere: look again,
			// and take its start.
			madeMeanwhile++
			continue
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !bus.IsStreamInTransition(err) && !bus.IsUnavailable(err) {
			return nil, fmt.Errorf("inbox %s: consumer on %s: %w", c.cfg.Name, c.cfg.Stream, err)
		}
		if !waited {
			c.log.Info("waiting for stream", "stream", c.cfg.Stream, "err", err)
			waited = true
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// processBatch applies msgs (in delivery order, all of one worker) in one
// transaction and acks them after the commit. When that fails, or a message
// cannot be decoded, each message goes through process on its own.
func (c *Consumer) processBatch(ctx context.Context, msgs []jetstream.Msg) {
	if len(msgs) == 1 {
		c.process(ctx, msgs[0])
		return
	}
	type item struct {
		msg jetstream.Msg
		e   contract.Event
		dup bool
	}
	items := make([]item, 0, len(msgs))
	for i, msg := range msgs {
		if c.skip(msg) {
			continue
		}
		e, err := contract.FromMessage(msg.Headers(), msg.Data())
		if err != nil {
			// A dead letter on the way: the simple path handles it and
			// the rest (the skipped ones are acked already).
			for _, it := range items {
				c.process(ctx, it.msg)
			}
			for _, m := range msgs[i:] {
				c.process(ctx, m)
			}
			return
		}
		items = append(items, item{msg: msg, e: e})
	}
	if len(items) == 0 {
		return
	}
	err := c.db.Transact(ctx, func(tx *sqldb.Tx) error {
		if c.cfg.Prepare != nil && len(items) > 1 {
			evs := make([]contract.Event, len(items))
			for i := range items {
				evs[i] = items[i].e
			}
			if err := c.cfg.Prepare(ctx, tx, evs); err != nil {
				return fmt.Errorf("inbox: prepare: %w", err)
			}
		}
		for i := range items {
			inserted, err := insertInbox(ctx, tx, c.cfg.Name, items[i].e.ID)
			if err != nil {
				return err
			}
			if items[i].dup = !inserted; items[i].dup {
				continue
			}
			if err := c.h(c.withDelivery(ctx, items[i].msg), tx, items[i].e); err != nil {
				return err // ErrApplied too: process sorts each out alone
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			for _, it := range items {
				c.handBack(it.msg)
			}
			return
		}
		c.m.batchFailures.Inc()
		c.log.Debug("batch failed; applying its events one at a time", "events", len(items), "err", err)
		for _, it := range items {
			c.process(ctx, it.msg)
		}
		return
	}
	c.m.batches.Inc()
	for _, it := range items {
		if meta, _ := it.msg.Metadata(); meta != nil && meta.NumDelivered > 1 {
			c.m.redeliveries.Inc()
		}
		if it.dup {
			c.m.duplicates.Inc()
		} else {
			c.m.handled.Inc()
			c.m.observeLag(it.e.Time)
		}
		c.ack(it.msg)
	}
}

// skip acks a message of a type the consumer does not handle (see
// Config.Handles) and reports whether it did.
func (c *Consumer) skip(msg jetstream.Msg) bool {
	if c.cfg.Handles == nil {
		return false
	}
	name, _, err := contract.ParseType(msg.Headers().Get("ce-type"))
	if err != nil || c.cfg.Handles(name) {
		return false
	}
	c.m.skipped.Inc()
	c.ack(msg)
	return true
}

// process handles one message: decode, apply (with retries), ack. It returns
// once the message is acked, or ctx is done (the message is then redelivered).
func (c *Consumer) process(ctx context.Context, msg jetstream.Msg) {
	meta, _ := msg.Metadata()
	if meta != nil && meta.NumDelivered > 1 {
		c.m.redeliveries.Inc()
	}
	if c.skip(msg) {
		return
	}
	e, err := contract.FromMessage(msg.Headers(), msg.Data())
	if err != nil {
		c.deadLetter(ctx, msg, meta, e, fmt.Errorf("decode: %w", err), 1)
		return
	}
	var lastErr error
	outage := 0    // consecutive failures because the database was unavailable
	conflicts := 0 // failures because of a deadlock or serialization failure
	for attempt := 1; attempt <= c.cfg.MaxAttempts; attempt++ {
		if attempt > 1 || outage > 0 {
			c.m.retries.Inc()
			if !c.wait(ctx, msg, c.cfg.Backoff(max(attempt-1, outage))) {
				c.handBack(msg)
				return
			}
		}
		dup, err := c.apply(c.withDelivery(ctx, msg), e, true)
		if errors.Is(err, ErrApplied) {
			dup, err = true, nil
		}
		if err == nil {
			if dup {
				c.m.duplicates.Inc()
			} else {
				c.m.handled.Inc()
				c.m.observeLag(e.Time)
			}
			c.ack(msg)
			return
		}
		if ctx.Err() != nil {
			c.handBack(msg) // shutting down
			return
		}
		if sqldb.IsUnavailable(err) || isTransient(err) {
			// Not the event's fault: try again without using up an
			// attempt, for as long as the outage lasts.
			if outage++; outage == 1 {
				c.log.Warn("database unavailable; retrying until it is back", "event", e.ID, "err", err)
			}
			attempt--
			continue
		}
		outage = 0
		if sqldb.IsConflict(err) && conflicts < maxConflicts {
			// Not the event's fault either: another transaction (a
			// replica's) won a deadlock or a serialization race. Try
			// again at once, without using up an attempt.
			conflicts++
			c.m.conflicts.Inc()
			c.log.Debug("transaction conflict; retrying", "event", e.ID, "err", err)
			attempt--
			continue
		}
		lastErr = err
		if isPermanent(err) {
			c.deadLetter(ctx, msg, meta, e, err, attempt)
			return
		}
		c.log.Warn("handler failed; will retry", "event", e.ID, "type", e.Type, "attempt", attempt, "err", err)
	}
	c.deadLetter(ctx, msg, meta, e, lastErr, c.cfg.MaxAttempts)
}

// apply runs the handler for e in one transaction with its inbox row. When
// dedupe is set and the row exists already, it does nothing and reports dup.
func (c *Consumer) apply(ctx context.Context, e contract.Event, dedupe bool) (dup bool, err error) {
	err = c.db.Transact(ctx, func(tx *sqldb.Tx) error {
		inserted, err := insertInbox(ctx, tx, c.cfg.Name, e.ID)
		if err != nil {
			return err
		}
		if !inserted && dedupe {
			dup = true
			return nil
		}
		return c.h(ctx, tx, e)
	})
	return dup, err
}

func insertInbox(ctx context.Context, tx *sqldb.Tx, consumer, id string) (bool, error) {
	var now any = time.Now()
	if tx.Dialect() == sqldb.SQLite {
		now = time.Now().UnixMilli()
	}
	res, err := tx.ExecContext(ctx, tx.Dialect().Rebind(
		`INSERT INTO bounded_inbox (consumer, event_id, handled_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`),
		consumer, id, now)
	if err != nil {
		return false, fmt.Errorf("inbox: insert: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("inbox: insert: %w", err)
	}
	return n == 1, nil
}

// wait sleeps d while telling JetStream the message is still being worked on.
func (c *Consumer) wait(ctx context.Context, msg jetstream.Msg, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		_ = msg.InProgress() // a lost one only risks a harmless redelivery
		step := min(left, c.cfg.AckWait/3)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(step):
		}
	}
}

// handBack returns a message the consumer stops without handling, so that
// JetStream redelivers it soon (to a replica, or to this consumer when it
// starts again) instead of after AckWait. The short delay keeps the server
// from handing it straight back to this consumer's pull, which stays open
// while it drains. A lost Nak costs only the AckWait.
func (c *Consumer) handBack(msg jetstream.Msg) { _ = msg.NakWithDelay(handBackDelay) }

const handBackDelay = 500 * time.Millisecond

func (c *Consumer) ack(msg jetstream.Msg) {
	if err := msg.Ack(); err != nil {
		// The effect is committed; a redelivery will find the inbox row.
		c.log.Warn("ack failed; the event will be redelivered and skipped", "err", err)
	}
}

func (c *Consumer) prune(ctx context.Context, retention time.Duration) {
	if retention <= 0 {
		return
	}
	cutoff := any(time.Now().Add(-retention))
	if c.db.Dialect() == sqldb.SQLite {
		cutoff = time.Now().Add(-retention).UnixMilli()
	}
	err := c.db.Transact(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Dialect().Rebind(
			`DELETE FROM bounded_inbox WHERE consumer = $1 AND handled_at < $2`), c.cfg.Name, cutoff)
		return err
	})
	if err != nil && ctx.Err() == nil {
		c.log.Warn("prune inbox", "err", err)
	}
}
