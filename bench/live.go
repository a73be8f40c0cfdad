package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// LiveResult is the latency of events written at a steady rate, each in its
// own transaction, with the relay and two consumers running.
type LiveResult struct {
	Engine       string  `json:"engine"`
	OfferedRate  float64 `json:"offered_per_second"`
	Events       int     `json:"events"`        // measured events
	WarmupEvents int     `json:"warmup_events"` // written and checked, not measured
	WriteSeconds float64 `json:"write_seconds"`
	AchievedRate float64 `json:"achieved_per_second"`
	// MaxLateMS is how far behind its schedule the latest event was handed
	// to a writer (all writers busy); the rate is only offered while it is
	// small.
	MaxLateMS float64 `json:"max_late_ms"`

	Received           int64 `json:"received"`
	ReceivedDuplicates int64 `json:"received_duplicates"`
	Unknown            int64 `json:"unknown"`
	Handled            int64 `json:"handled"`
	HandledDuplicates  int64 `json:"handled_duplicates"`

	// Commit is the writers' own transaction time (begin to commit return).
	Commit Percentiles `json:"commit"`
	// Receipt runs from the writer's commit returning to the ordered
	// consumer's receipt of the event.
	Receipt Percentiles `json:"commit_to_received"`
	// Handling runs from the writer's commit returning to the commit of the
	// inbox consumer's transaction that applied the event.
	Handling Percentiles `json:"commit_to_handled"`
	// Published runs from the writer's commit returning to the relay's
	// publish of the event crossing the NATS server (seen by a plain
	// subscriber to the stream's subjects): the relay's share. Stored runs
	// from there to the JetStream consumer's receipt: JetStream's share.
	Published Percentiles `json:"commit_to_published"`
	Stored    Percentiles `json:"published_to_received"`
	// EarlyReceipts counts events received before their writer saw its
	// commit return (the relay can see a row as soon as the server has
	// committed it); their latency counts as negative.
	EarlyReceipts int64 `json:"early_receipts"`
	// Relay is what the relay did: its claims and deletes.
	Relay RelayWork `json:"relay"`

	// DualWrite is the raw limit of the figures above, measured in the
	// same phase right after them: the same writers, rate, consumers and
	// engine, but each writer publishes its event to JetStream itself as
	// soon as its commit returns (a dual write: no outbox row, no relay).
	// It is the latency of the fastest way to get a committed change onto
	// the stream, the one an outbox gives up to lose nothing. Nil in the
	// dual-write round itself.
	DualWrite *LiveResult `json:"dual_write,omitempty"`
	// PublishErrors counts dual-write publishes JetStream refused or did
	// not acknowledge (dual-write round only).
	PublishErrors int64 `json:"publish_errors,omitempty"`
}

// live measures the relay's latency (liveRound with the relay), then the
// raw limit beside it (liveRound with dual writes) in the same phase.
func (r *runner) live(ctx context.Context, d sqldb.Dialect) (*LiveResult, error) {
	res, err := r.liveRound(ctx, d, false)
	if err != nil {
		return res, err
	}
	res.DualWrite, err = r.liveRound(ctx, d, true)
	if err != nil {
		return res, fmt.Errorf("dual-write round: %w", err)
	}
	return res, nil
}

// liveRound writes r.cfg.Rate events per second for r.cfg.Duration into a
// fresh database of engine d, each event in its own transaction with a
// domain row, while an ordered consumer receives them from a fresh stream
// and an inbox consumer (a trivial handler, its own fresh database of the
// same engine) applies them. Without dualWrite each transaction records
// its event in the outbox and the relay publishes it; with dualWrite the
// writer publishes the event itself once its commit has returned.
func (r *runner) liveRound(ctx context.Context, d sqldb.Dialect, dualWrite bool) (*LiveResult, error) {
	return withScope(func(s *scope) (*LiveResult, error) {
		res := &LiveResult{Engine: engineName(d), OfferedRate: float64(r.cfg.Rate)}
		round := ""
		if dualWrite {
			round = " (dual write)"
		}
		res.Events = max(1, int(float64(r.cfg.Rate)*r.cfg.Duration.Seconds()))
		res.WarmupEvents = min(max(r.cfg.Rate/10, 10), 500)
		warm, total := res.WarmupEvents, res.WarmupEvents+res.Events

		db, err := r.newDomainDB(ctx, s, d, "bench_live_")
		if err != nil {
			return nil, err
		}
		ob, err := newOutbox(ctx, db)
		if err != nil {
			return nil, err
		}
		inboxDB, err := r.newDB(ctx, s, d, "bench_inbox_")
		if err != nil {
			return nil, err
		}
		if err := inbox.Migrate(ctx, inboxDB); err != nil {
			return nil, err
		}
		stream, err := r.newStream(ctx, s)
		if err != nil {
			return nil, err
		}
		space := newEventSpace(stream.Name, r.cfg.PayloadBytes)

		base := time.Now()
		commitAt := make([]atomic.Int64, total)
		handledAt := make([]atomic.Int64, total)
		commitLat := make([]time.Duration, total)
		var handled, handledDup atomic.Int64

		rc, err := r.startReceiver(ctx, s, stream.Name, space, total, base)
		if err != nil {
			return nil, err
		}
		tap, err := r.startWireTap(s, stream.Subjects[0], space, total, base)
		if err != nil {
			return nil, err
		}
		consumerName := uniqueName("bench_inbox_")
		if err := r.startInbox(ctx, s, inboxDB, stream.Name, consumerName, func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			i, ok := space.index(e.ID)
			if !ok || i >= total {
				return inbox.Permanent(fmt.Errorf("event %s is not one of this run's", e.ID))
			}
			tx.AfterCommit(func() {
				if stampAt(handledAt, i, base) {
					handled.Add(1)
				} else {
					handledDup.Add(1)
				}
			})
			return nil
		}); err != nil {
			return nil, err
		}
		var rl *relayRun
		var publish func(contract.Event) error
		var publishErrors atomic.Int64
		if dualWrite {
			// One connection for the writers, as the relay has one.
			nc, err := r.connect("bounded-bench-dual-write", true)
			if err != nil {
				return nil, err
			}
			s.onClose(func(context.Context) error { nc.Close(); return nil })
			js, err := jetstream.New(nc,
				jetstream.WithPublishAsyncMaxPending(r.cfg.Window),
				jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { publishErrors.Add(1) }))
			if err != nil {
				return nil, err
			}
			publish = func(e contract.Event) error {
				// The relay's own message for the event (see relay.send).
				msg := &nats.Msg{Subject: e.Type, Header: nats.Header(e.Header()), Data: e.Data}
				_, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID))
				return err
			}
		} else {
			rl, err = r.startRelay(s, ob, stream)
			if err != nil {
				return nil, err
			}
		}

		data := make([]byte, r.cfg.PayloadBytes)
		insert := d.Rebind(insertDomainRow)
		write := func(ctx context.Context, w, i int) error {
			id := newRowID()
			e := space.event(i, id)
			c0 := time.Now()
			err := db.Transact(ctx, func(tx *sqldb.Tx) error {
				// Registered before Record registers the relay's wake-up, so
				// the stamp is taken as soon as the commit has returned and
				// before the relay is told about it.
				tx.AfterCommit(func() { stampAt(commitAt, i, base) })
				if _, err := tx.ExecContext(ctx, insert, id, w, i, data); err != nil {
					return err
				}
				if dualWrite {
					return nil
				}
				return ob.Record(ctx, tx, e)
			})
			commitLat[i] = time.Since(c0)
			if err == nil && dualWrite {
				err = publish(e)
			}
			return err
		}
		allIn := func(upTo int) func() bool {
			return func() bool { return rc.received.Load() >= int64(upTo) && handled.Load() >= int64(upTo) }
		}
		progressOf := func(c *atomic.Int64) func() int64 {
			return func() int64 {
				v := rc.received.Load() + handled.Load()
				if c != nil {
					c.Store(max(0, min(rc.received.Load(), handled.Load())-int64(warm)))
				}
				return v
			}
		}

		// Warm up (connections, caches, the consumers' first pulls), then
		// measure.
		c := r.prog.step(res.Engine+round+": warm-up", "events", int64(warm))
		if _, _, err := paced(ctx, 0, warm, r.cfg.Rate, r.cfg.LiveWriters, c, write); err != nil {
			r.prog.end("failed")
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if err := waitFor(ctx, r.cfg.StallTimeout, progressOf(nil), allIn(warm)); err != nil {
			r.prog.end("failed")
			return nil, fmt.Errorf("warm-up: %d received, %d handled of %d (%s): %w", rc.received.Load(), handled.Load(), warm, r.whereAre(ob, stream.Name), err)
		}
		r.prog.end("")

		c = r.prog.step(fmt.Sprintf("%s%s: writing %d events/s", res.Engine, round, r.cfg.Rate), "events committed", int64(res.Events))
		elapsed, late, err := paced(ctx, warm, res.Events, r.cfg.Rate, r.cfg.LiveWriters, c, write)
		r.prog.end("")
		if err != nil {
			return nil, err
		}
		res.WriteSeconds, res.AchievedRate, res.MaxLateMS = elapsed.Seconds(), perSecond(int64(res.Events), elapsed), ms(late)
		c = r.prog.step(res.Engine+round+": waiting for receipts and handling", "events", int64(res.Events))
		err = waitFor(ctx, r.cfg.StallTimeout, progressOf(c), allIn(total))
		r.prog.end("")
		res.Received, res.Handled = rc.received.Load(), handled.Load()
		if rl != nil {
			if w, werr := rl.work(); werr == nil {
				res.Relay = w // the warm-up's events and claims included
			}
		}
		res.PublishErrors = publishErrors.Load()
		if err != nil {
			where := r.whereAre(ob, stream.Name)
			if n := publishErrors.Load(); n > 0 {
				where += fmt.Sprintf("; %d dual-write publishes failed", n)
			}
			return res, fmt.Errorf("%d received, %d handled of %d (%s): %w", res.Received, res.Handled, total, where, err)
		}
		time.Sleep(100 * time.Millisecond) // room for a late duplicate
		res.ReceivedDuplicates, res.Unknown, res.HandledDuplicates = rc.duplicates.Load(), rc.unknown.Load(), handledDup.Load()

		var commits, receipts, handlings, published, stored []time.Duration
		for i := warm; i < total; i++ {
			ct := commitAt[i].Load()
			if ct == 0 {
				return res, fmt.Errorf("event %d has no commit time", i)
			}
			rt, ht, pt := rc.at[i].Load(), handledAt[i].Load(), tap.at[i].Load()
			if rt < ct {
				res.EarlyReceipts++
			}
			commits = append(commits, commitLat[i])
			receipts = append(receipts, time.Duration(rt-ct))
			handlings = append(handlings, time.Duration(ht-ct))
			if pt != 0 { // the tap is a plain subscription: it may miss one
				published = append(published, time.Duration(pt-ct))
				stored = append(stored, time.Duration(rt-pt))
			}
		}
		res.Commit, res.Receipt, res.Handling = percentiles(commits), percentiles(receipts), percentiles(handlings)
		res.Published, res.Stored = percentiles(published), percentiles(stored)
		if res.PublishErrors != 0 {
			return res, fmt.Errorf("%d dual-write publishes failed", res.PublishErrors)
		}
		if res.ReceivedDuplicates != 0 || res.Unknown != 0 || res.HandledDuplicates != 0 {
			return res, fmt.Errorf("%d duplicates received, %d unknown, %d handled twice", res.ReceivedDuplicates, res.Unknown, res.HandledDuplicates)
		}
		return res, nil
	})
}

// startInbox runs an inbox consumer with default settings on a NATS
// connection of its own until s closes, and returns once its durable
// consumer exists on the stream.
func (r *runner) startInbox(ctx context.Context, s *scope, db *sqldb.DB, stream, name string, h inbox.Handler) error {
	nc, err := r.connect("bounded-bench-inbox", false)
	if err != nil {
		return err
	}
	s.onClose(func(context.Context) error { nc.Close(); return nil })
	c, err := inbox.New(db, nc, inbox.Config{Name: name, Stream: stream, Logger: r.cfg.Logger}, h)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	s.onClose(func(context.Context) error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("inbox consumer did not stop within 30s")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.js.Consumer(ctx, stream, name)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) || time.Now().After(deadline) {
			return fmt.Errorf("inbox consumer %s: %w", name, err)
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			return fmt.Errorf("inbox consumer %s stopped at start: %v", name, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// paced hands the indexes from, from+1, … from+n-1 to writers goroutines
// calling write, one every 1/rate seconds from now, and returns once every
// write has returned: the time from the first due instant to the last
// write's return, and how late the latest hand-off was (all writers busy).
// The first write error stops the run and is returned. counter is advanced
// per completed write.
func paced(ctx context.Context, from, n, rate, writers int, counter *atomic.Int64,
	write func(ctx context.Context, writer, i int) error) (elapsed, maxLate time.Duration, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan int)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range ch {
				if err := write(ctx, w, i); err != nil {
					cancel(fmt.Errorf("event %d: %w", i, err))
					continue
				}
				counter.Add(1)
			}
		})
	}
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
loop:
	for k := range n {
		due := start.Add(time.Duration(k) * interval)
		if d := time.Until(due); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				break loop
			}
		}
		select {
		case ch <- from + k:
			maxLate = max(maxLate, time.Since(due))
		case <-ctx.Done():
			break loop
		}
	}
	close(ch)
	wg.Wait()
	return time.Since(start), maxLate, context.Cause(ctx)
}

// whereAre says where the events of a stalled phase are: still in the
// outbox, or in the stream.
func (r *runner) whereAre(ob *outbox.Outbox, stream string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	backlog, oldest, err := ob.Backlog(ctx)
	if err != nil {
		return fmt.Sprintf("outbox backlog: %v", err)
	}
	msgs, err := r.streamMsgs(ctx, stream)
	if err != nil {
		return fmt.Sprintf("outbox backlog %d; stream: %v", backlog, err)
	}
	age := ""
	if !oldest.IsZero() {
		age = fmt.Sprintf(", the oldest %s old", time.Since(oldest).Round(time.Millisecond))
	}
	return fmt.Sprintf("the outbox holds %d events%s; the stream holds %d", backlog, age, msgs)
}
