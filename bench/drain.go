package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// DrainResult is the relay draining a backlog recorded before it started.
type DrainResult struct {
	Engine string `json:"engine"`
	Events int    `json:"events"`
	// RecordSeconds is how long recording the backlog took (not part of
	// the figure).
	RecordSeconds float64 `json:"record_seconds"`
	// Received, Duplicates and Unknown are what the consumer saw.
	Received   int64 `json:"received"`
	Duplicates int64 `json:"duplicates"`
	Unknown    int64 `json:"unknown"`
	// Seconds runs from the relay's start to the receipt of the last event.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// FirstReceiptMS is when the first event arrived, after the relay's
	// start (start-up, the first claim and publish).
	FirstReceiptMS float64 `json:"first_receipt_ms"`
	StreamMsgs     uint64  `json:"stream_msgs"`
	// BacklogAfter is the outbox's backlog once the relay had deleted what
	// it published (0 when all went well).
	BacklogAfter int64 `json:"backlog_after"`
	// Relay is what the relay did: its claims and deletes.
	Relay RelayWork `json:"relay"`
}

// drain records r.cfg.Events events into a fresh outbox of engine d,
// r.cfg.RecordBatch per transaction, then starts an ordered consumer on a
// fresh stream and, with the clock, the relay; the figure is events
// received per second, from the relay's start to the receipt of the last.
func (r *runner) drain(ctx context.Context, d sqldb.Dialect) (*DrainResult, error) {
	return withScope(func(s *scope) (*DrainResult, error) {
		n := r.cfg.Events
		res := &DrainResult{Engine: engineName(d), Events: n}
		db, err := r.newDB(ctx, s, d, "bench_drain_")
		if err != nil {
			return nil, err
		}
		ob, err := newOutbox(ctx, db)
		if err != nil {
			return nil, err
		}
		stream, err := r.newStream(ctx, s)
		if err != nil {
			return nil, err
		}
		space := newEventSpace(stream.Name, r.cfg.PayloadBytes)

		counter := r.prog.step(res.Engine+": recording the backlog", "events", int64(n))
		t0 := time.Now()
		events := make([]contract.Event, 0, r.cfg.RecordBatch)
		for i := 0; i < n; {
			events = events[:0]
			for ; i < n && len(events) < r.cfg.RecordBatch; i++ {
				events = append(events, space.event(i, space.id(i)))
			}
			if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, events...) }); err != nil {
				r.prog.end("failed")
				return nil, fmt.Errorf("record: %w", err)
			}
			counter.Add(int64(len(events)))
		}
		res.RecordSeconds = time.Since(t0).Seconds()
		r.prog.end("")

		base := time.Now()
		rc, err := r.startReceiver(ctx, s, stream.Name, space, n, base)
		if err != nil {
			return nil, err
		}
		counter = r.prog.step(res.Engine+": relay draining the backlog", "events received", int64(n))
		start := time.Since(base)
		rl, err := r.startRelay(s, ob, stream)
		if err != nil {
			return nil, err
		}
		err = waitFor(ctx, r.cfg.StallTimeout, func() int64 {
			v := rc.received.Load()
			counter.Store(v)
			return v
		}, func() bool { return rc.received.Load() >= int64(n) })
		counter.Store(rc.received.Load())
		r.prog.end("")
		res.Received, res.Duplicates, res.Unknown = rc.received.Load(), rc.duplicates.Load(), rc.unknown.Load()
		if err != nil {
			return res, fmt.Errorf("drain: %d of %d events received: %w", res.Received, n, err)
		}
		elapsed := time.Duration(rc.last.Load()) - start
		res.Seconds, res.PerSecond = elapsed.Seconds(), perSecond(res.Received, elapsed)
		first := time.Duration(1<<63 - 1)
		for i := range rc.at {
			first = min(first, time.Duration(rc.at[i].Load()))
		}
		res.FirstReceiptMS = ms(first - start)

		// Let the relay delete what it published, then stop it.
		err = waitFor(ctx, r.cfg.StallTimeout, nil, func() bool {
			n, _, berr := ob.Backlog(ctx)
			res.BacklogAfter = n
			return berr == nil && n == 0
		})
		if err := rl.stop(); err != nil {
			return res, fmt.Errorf("relay: %w", err)
		}
		if res.Relay, err = rl.work(); err != nil {
			return res, err
		}
		if err != nil {
			return res, fmt.Errorf("outbox still holds %d events after the drain: %w", res.BacklogAfter, err)
		}
		// A late duplicate would arrive within milliseconds; give it the chance.
		time.Sleep(100 * time.Millisecond)
		res.Duplicates, res.Unknown = rc.duplicates.Load(), rc.unknown.Load()
		if res.StreamMsgs, err = r.streamMsgs(ctx, stream.Name); err != nil {
			return res, err
		}
		if res.Duplicates != 0 || res.Unknown != 0 || res.StreamMsgs != uint64(n) {
			return res, fmt.Errorf("received %d events, %d duplicates, %d unknown; the stream holds %d of %d",
				res.Received, res.Duplicates, res.Unknown, res.StreamMsgs, n)
		}
		return res, nil
	})
}
