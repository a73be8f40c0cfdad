package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// RawDBResult is a raw database limit: one-row autocommit INSERTs into a
// plain table of a fresh database, with one writer and with many.
type RawDBResult struct {
	Engine string    `json:"engine"`
	One    CommitRun `json:"one_writer"`
	Many   CommitRun `json:"many_writers"`
}

// rawDB measures one-row commits on engine d: one writer, then
// r.cfg.Writers writers, each on a fresh database. On SQLite the writers
// share sqldb's single writer connection, as every writer of a service does.
func (r *runner) rawDB(ctx context.Context, d sqldb.Dialect) (*RawDBResult, error) {
	res := &RawDBResult{Engine: engineName(d)}
	for _, run := range []struct {
		writers int
		dst     *CommitRun
	}{{1, &res.One}, {r.cfg.Writers, &res.Many}} {
		cr, err := withScope(func(s *scope) (CommitRun, error) {
			db, err := r.newDomainDB(ctx, s, d, "bench_raw_")
			if err != nil {
				return CommitRun{}, err
			}
			data := make([]byte, r.cfg.PayloadBytes)
			insert := d.Rebind(insertDomainRow)
			label := "1 writer"
			if run.writers != 1 {
				label = fmt.Sprintf("%d writers", run.writers)
			}
			counter := r.prog.step(fmt.Sprintf("%s: INSERT autocommit, %s", res.Engine, label), "commits", 0)
			var n atomicCounter
			cr, err := commitLoop(ctx, run.writers, r.cfg.RawDuration, 10, counter, func(ctx context.Context, w int) error {
				_, err := db.Writer().ExecContext(ctx, insert, newRowID(), w, n.next(), data)
				return err
			})
			r.prog.end("")
			return cr, err
		})
		if err != nil {
			return res, err
		}
		*run.dst = cr
	}
	return res, nil
}

// RawPublishResult is the raw JetStream limit: asynchronous publishes of the
// relay's own messages by one publisher with a bounded window.
type RawPublishResult struct {
	// Messages, Acked, Errors, Duplicates and StreamMsgs add up every run
	// (warm-up messages not counted).
	Messages     int64 `json:"messages"`
	Acked        int64 `json:"acked"`
	Errors       int64 `json:"errors"`
	Duplicates   int64 `json:"duplicates"`
	Window       int   `json:"window"`
	HeaderBytes  int   `json:"header_bytes"`
	PayloadBytes int   `json:"payload_bytes"`
	// Seconds and PerSecond are the median run's; Runs has every run's rate.
	Seconds    float64   `json:"seconds"`
	PerSecond  float64   `json:"per_second"`
	Runs       []float64 `json:"runs_per_second"`
	StreamMsgs uint64    `json:"stream_msgs"`
	// Latency is JetStream's own latency at the live phases' rate.
	Latency *RawLatency `json:"latency,omitempty"`
	// Consumed is the same publishing with an ordered consumer receiving
	// meanwhile, timed from the first publish to the last receipt: the
	// engine's limit for what the drain phases measure (they count
	// receipts), shown beside the publish-only figure the target uses.
	// ConsumedRuns has every run's rate; Consumed is their median.
	Consumed     float64   `json:"consumed_per_second"`
	ConsumedRuns []float64 `json:"consumed_runs_per_second"`
}

// RawLatency is JetStream alone at a steady rate: one message at a time,
// published asynchronously and its ack awaited, as the relay does for an
// event committed on its own, to a fresh stream with an ordered consumer.
type RawLatency struct {
	Rate     int `json:"rate"`
	Messages int `json:"messages"`
	// Receipt runs from the publish call to the consumer's receipt; Ack
	// from the publish call to the ack.
	Receipt Percentiles `json:"publish_to_received"`
	Ack     Percentiles `json:"publish_to_ack"`
}

// rawRuns is how many times the raw publish rate is measured; the figure
// is the median. A single run of 100,000 messages lasts about a second and
// varies by a quarter from run to run on a small machine (a file-store block
// rolling over, a GC); the median of three is steadier.
const rawRuns = 3

// rawJetStream publishes r.cfg.Events messages to a fresh file-storage
// stream, asynchronously with at most r.cfg.Window unacknowledged, and
// measures from the first publish to the last ack; rawRuns times, each on a
// fresh stream, reporting the median. Each message is built beforehand
// exactly as the relay builds it for an outbox row (same headers, same body
// size, same subject) and published with the same call and Nats-Msg-Id
// option, so the figure is what the relay could reach if reading and
// deleting rows cost nothing. Then it measures JetStream's latency at the
// live phases' rate (see rawLatency).
func (r *runner) rawJetStream(ctx context.Context) (*RawPublishResult, error) {
	return withScope(func(s *scope) (*RawPublishResult, error) {
		nc, err := r.connect("bounded-bench-publisher", true)
		if err != nil {
			return nil, err
		}
		s.onClose(func(context.Context) error { nc.Close(); return nil })
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(r.cfg.Window),
			jetstream.WithPublishAsyncTimeout(r.cfg.StallTimeout))
		if err != nil {
			return nil, err
		}
		res := &RawPublishResult{Window: r.cfg.Window}
		var elapsed, consumed []time.Duration
		for run := range rawRuns {
			// Each run's stream goes before the next run starts. The runs
			// with a consumer alternate with those without, so that both
			// see the same drift of the machine.
			for _, withConsumer := range []bool{false, true} {
				d, err := withScope(func(s *scope) (time.Duration, error) {
					return r.rawPublishRun(ctx, s, js, res, run, withConsumer)
				})
				if err != nil {
					return res, err
				}
				if withConsumer {
					consumed = append(consumed, d)
					res.ConsumedRuns = append(res.ConsumedRuns, perSecond(int64(r.cfg.Events), d))
				} else {
					elapsed = append(elapsed, d)
					res.Runs = append(res.Runs, perSecond(int64(r.cfg.Events), d))
				}
			}
		}
		slices.Sort(elapsed)
		slices.Sort(consumed)
		med := elapsed[len(elapsed)/2]
		res.Seconds, res.PerSecond = med.Seconds(), perSecond(int64(r.cfg.Events), med)
		res.Consumed = perSecond(int64(r.cfg.Events), consumed[len(consumed)/2])
		res.Latency, err = r.rawLatency(ctx, s, js)
		return res, err
	})
}

// rawPublishRun is one run of rawJetStream, on a fresh stream; it adds its
// counts to res and returns the time from the first publish to the last ack
// or, withConsumer, to the last receipt by an ordered consumer.
func (r *runner) rawPublishRun(ctx context.Context, s *scope, js jetstream.JetStream, res *RawPublishResult, run int, withConsumer bool) (time.Duration, error) {
	stream, err := r.newStream(ctx, s)
	if err != nil {
		return 0, err
	}
	space := newEventSpace(stream.Name, r.cfg.PayloadBytes)
	warm := min(1000, r.cfg.Events)
	total := warm + r.cfg.Events
	type pub struct {
		msg *nats.Msg
		id  string
	}
	msgs := make([]pub, total)
	for i := range msgs {
		e := space.event(i, space.id(i))
		msgs[i] = pub{message(e), e.ID}
	}
	res.HeaderBytes, res.PayloadBytes = messageBytes(space.event(0, space.id(0)))
	base := time.Now()
	var rc *receiver
	if withConsumer {
		var err error
		if rc, err = r.startReceiver(ctx, s, stream.Name, space, total, base); err != nil {
			return 0, err
		}
	}

	publish := func(ps []pub, counter *atomic.Int64) ([]jetstream.PubAckFuture, error) {
		fs := make([]jetstream.PubAckFuture, 0, len(ps))
		for _, p := range ps {
			f, err := js.PublishMsgAsync(p.msg, jetstream.WithMsgID(p.id), jetstream.WithStallWait(r.cfg.StallTimeout))
			if err != nil {
				return fs, fmt.Errorf("publish: %w", err)
			}
			fs = append(fs, f)
			if counter != nil {
				counter.Add(1)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return fs, ctx.Err()
		case <-time.After(r.cfg.StallTimeout):
			return fs, fmt.Errorf("acks still pending after %s", r.cfg.StallTimeout)
		}
		return fs, nil
	}
	// Warm up: the reply subscription, the stream's first block.
	if _, err := publish(msgs[:warm], nil); err != nil {
		return 0, fmt.Errorf("warm-up: %w", err)
	}
	what := "async publish"
	if withConsumer {
		what = "async publish, a consumer receiving"
		// Start the clock with the warm-up received, as the drain starts it
		// with its consumer in place.
		if err := waitFor(ctx, r.cfg.StallTimeout, rc.received.Load, func() bool { return rc.received.Load() >= int64(warm) }); err != nil {
			return 0, fmt.Errorf("warm-up: %w", err)
		}
	}
	counter := r.prog.step(fmt.Sprintf("JetStream: %s, window %d, run %d of %d", what, r.cfg.Window, run+1, rawRuns), "messages", int64(r.cfg.Events))
	t0 := time.Now()
	fs, err := publish(msgs[warm:], counter)
	elapsed := time.Since(t0)
	if err == nil && withConsumer {
		err = waitFor(ctx, r.cfg.StallTimeout, rc.received.Load, func() bool { return rc.received.Load() >= int64(total) })
		elapsed = time.Duration(rc.last.Load()) - t0.Sub(base)
	}
	r.prog.end("")
	if err != nil {
		return 0, err
	}
	var acked, dups, errs int64
	for _, f := range fs {
		select {
		case ack := <-f.Ok():
			acked++
			if ack.Duplicate {
				dups++
			}
		case <-f.Err():
			errs++
		default:
			errs++
		}
	}
	res.Messages += int64(r.cfg.Events)
	res.Acked, res.Duplicates, res.Errors = res.Acked+acked, res.Duplicates+dups, res.Errors+errs
	msgsIn, err := r.streamMsgs(ctx, stream.Name)
	if err != nil {
		return 0, err
	}
	res.StreamMsgs += msgsIn - uint64(warm)
	if acked != int64(r.cfg.Events) || dups != 0 || msgsIn != uint64(total) {
		return 0, fmt.Errorf("run %d: published %d: %d acked (%d duplicates), %d errors; the stream holds %d of %d",
			run+1, r.cfg.Events, acked, dups, errs, msgsIn, total)
	}
	if rc != nil && (rc.duplicates.Load() != 0 || rc.unknown.Load() != 0) {
		return 0, fmt.Errorf("run %d: the consumer received %d duplicates, %d unknown", run+1, rc.duplicates.Load(), rc.unknown.Load())
	}
	return elapsed, nil
}

// rawLatency publishes r.cfg.Rate messages per second for at most 2 s (and
// at most r.cfg.Duration) to a fresh stream, one at a time, each awaiting
// its ack before the next is due, and measures publish → receipt by an
// ordered consumer and publish → ack.
func (r *runner) rawLatency(ctx context.Context, s *scope, js jetstream.JetStream) (*RawLatency, error) {
	stream, err := r.newStream(ctx, s)
	if err != nil {
		return nil, err
	}
	res := &RawLatency{Rate: r.cfg.Rate, Messages: max(1, int(float64(r.cfg.Rate)*min(r.cfg.Duration, 2*time.Second).Seconds()))}
	warm := min(max(r.cfg.Rate/10, 10), 500)
	total := warm + res.Messages
	space := newEventSpace(stream.Name, r.cfg.PayloadBytes)
	base := time.Now()
	rc, err := r.startReceiver(ctx, s, stream.Name, space, total, base)
	if err != nil {
		return nil, err
	}
	pubAt := make([]time.Duration, total)
	ackLat := make([]time.Duration, total)
	publish := func(_ context.Context, _, i int) error {
		e := space.event(i, space.id(i))
		m := message(e)
		pubAt[i] = time.Since(base)
		f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(e.ID))
		if err != nil {
			return err
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-time.After(r.cfg.StallTimeout):
			return errors.New("no ack")
		}
		ackLat[i] = time.Since(base) - pubAt[i]
		return nil
	}
	c := r.prog.step(fmt.Sprintf("JetStream: publish → receipt at %d/s", r.cfg.Rate), "messages", int64(total))
	if _, _, err := paced(ctx, 0, warm, r.cfg.Rate, 1, c, publish); err != nil {
		r.prog.end("failed")
		return nil, err
	}
	_, _, err = paced(ctx, warm, res.Messages, r.cfg.Rate, 1, c, publish)
	if err == nil {
		err = waitFor(ctx, r.cfg.StallTimeout, rc.received.Load, func() bool { return rc.received.Load() >= int64(total) })
	}
	r.prog.end("")
	if err != nil {
		return nil, fmt.Errorf("latency: %d of %d received: %w", rc.received.Load(), total, err)
	}
	var receipts, acks []time.Duration
	for i := warm; i < total; i++ {
		receipts = append(receipts, time.Duration(rc.at[i].Load())-pubAt[i])
		acks = append(acks, ackLat[i])
	}
	res.Receipt, res.Ack = percentiles(receipts), percentiles(acks)
	return res, nil
}

func engineName(d sqldb.Dialect) string {
	if d == sqldb.Postgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

// atomicCounter hands out 0, 1, 2, ... to concurrent callers.
type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) next() int64 { return c.n.Add(1) - 1 }
