package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// WritersResult is many writers committing as fast as they can, without and
// with the outbox and its relay.
type WritersResult struct {
	Engine  string `json:"engine"`
	Writers int    `json:"writers"`
	// Baseline: one domain row per transaction, no outbox, no relay.
	Baseline CommitRun `json:"baseline"`
	// OutboxNoRelay: one domain row and its outbox event per transaction,
	// no relay: the cost of recording alone.
	OutboxNoRelay CommitRun `json:"outbox_no_relay"`
	// Outbox: one domain row and its outbox event per transaction, the relay
	// publishing meanwhile.
	Outbox CommitRun `json:"outbox"`
	// Events is every event recorded with the relay running (the counted
	// commits and the warm-up), and StreamMsgs how many the streams hold.
	Events     int64  `json:"events"`
	StreamMsgs uint64 `json:"stream_msgs"`
	// Backlog is the outbox backlog sampled every 250 ms while the relay
	// ran, from the writers' start until it drained after they stopped.
	Backlog        []BacklogSample `json:"backlog"`
	BacklogMax     int64           `json:"backlog_max"`
	OldestAgeMaxMS float64         `json:"oldest_age_max_ms"`
	// BacklogAtStop is the largest backlog left when the writers stopped;
	// DrainMS the longest time from then until the backlog was empty;
	// BacklogFinal the backlog at the end (0 when it drained).
	BacklogAtStop int64   `json:"backlog_at_stop"`
	DrainMS       float64 `json:"drain_ms"`
	BacklogFinal  int64   `json:"backlog_final"`
	// Relay is what the relays of the rounds did: their claims and deletes
	// (the drain after the writers stopped included).
	Relay RelayWork `json:"relay"`
}

// BacklogSample is the outbox backlog at one instant.
type BacklogSample struct {
	Round       int     `json:"round"`
	AtMS        float64 `json:"t_ms"` // since the writers' start in the round
	Events      int64   `json:"events"`
	OldestAgeMS float64 `json:"oldest_age_ms"`
}

const backlogEvery = 250 * time.Millisecond

// writers measures r.cfg.Writers writers committing as fast as they can on
// engine d, each transaction one domain row (the raw figure), one domain
// row and its outbox event without a relay (what recording costs), and the
// same with the relay publishing to a fresh stream (the figure). The three
// are measured in r.cfg.WriterRounds interleaved rounds of
// r.cfg.Duration/rounds each, every run on a fresh database, and each
// figure is the median of its rounds: a small machine's speed drifts over a
// minute by more than the differences measured, and interleaving exposes
// the three to the same drift. With the relay running the backlog is
// sampled, and after the writers stop the round waits for it to drain.
func (r *runner) writers(ctx context.Context, d sqldb.Dialect) (*WritersResult, error) {
	res := &WritersResult{Engine: engineName(d), Writers: r.cfg.Writers}
	per := max(r.cfg.Duration/time.Duration(r.cfg.WriterRounds), 100*time.Millisecond)
	var base, noRelay, relayed []CommitRun
	for round := 1; round <= r.cfg.WriterRounds; round++ {
		cr, err := r.writersRun(ctx, d, res, round, per, false, false)
		if err != nil {
			return res, fmt.Errorf("round %d, domain row only: %w", round, err)
		}
		base = append(base, cr)
		if cr, err = r.writersRun(ctx, d, res, round, per, true, false); err != nil {
			return res, fmt.Errorf("round %d, outbox without relay: %w", round, err)
		}
		noRelay = append(noRelay, cr)
		if cr, err = r.writersRun(ctx, d, res, round, per, true, true); err != nil {
			return res, fmt.Errorf("round %d, outbox with relay: %w", round, err)
		}
		relayed = append(relayed, cr)
	}
	res.Baseline, res.OutboxNoRelay, res.Outbox = mergeRounds(base), mergeRounds(noRelay), mergeRounds(relayed)
	for _, b := range res.Backlog {
		res.BacklogMax = max(res.BacklogMax, b.Events)
		res.OldestAgeMaxMS = max(res.OldestAgeMaxMS, b.OldestAgeMS)
	}
	return res, nil
}

// writersRun is one run of the writers phase on a fresh database: a domain
// row per transaction, plus its outbox event when outbox is set, plus the
// relay when relay is set (then the backlog and stream figures go to res).
func (r *runner) writersRun(ctx context.Context, d sqldb.Dialect, res *WritersResult, round int, dur time.Duration, withOutbox, withRelay bool) (CommitRun, error) {
	return withScope(func(s *scope) (CommitRun, error) {
		db, err := r.newDomainDB(ctx, s, d, "bench_writers_")
		if err != nil {
			return CommitRun{}, err
		}
		data := make([]byte, r.cfg.PayloadBytes)
		insert := d.Rebind(insertDomainRow)
		what := "domain row only"
		var ob *outbox.Outbox
		var space eventSpace
		if withOutbox {
			what = "domain row + outbox event, no relay"
			if ob, err = newOutbox(ctx, db); err != nil {
				return CommitRun{}, err
			}
			// As when a relay in this process leads (which it sets itself
			// when it runs), so that Record skips NOTIFY in both runs.
			ob.SetLocalLeader(true)
			space = newEventSpace(uniqueName("bench_"), r.cfg.PayloadBytes)
		}
		var (
			stream  jetstream.StreamConfig
			rl      *relayRun
			monOB   *outbox.Outbox
			mu      sync.Mutex
			samples []BacklogSample
			t0      = time.Now()
		)
		if withRelay {
			what = "domain row + outbox event, relay running"
			// The backlog is read through a pool of its own, as a metrics
			// scrape from another process would, so that sampling takes no
			// connection from the writers.
			mon, err := sqldb.Open(ctx, sqldb.Config{DSN: db.DSN(), MaxConns: 1})
			if err != nil {
				return CommitRun{}, err
			}
			s.onClose(func(context.Context) error { return mon.Close() })
			if monOB, err = outbox.New(mon, outbox.Config{}); err != nil {
				return CommitRun{}, err
			}
			if stream, err = r.newStream(ctx, s); err != nil {
				return CommitRun{}, err
			}
			space = newEventSpace(stream.Name, r.cfg.PayloadBytes)
			if rl, err = r.startRelay(s, ob, stream); err != nil {
				return CommitRun{}, err
			}
			defer func() {
				mu.Lock()
				res.Backlog = append(res.Backlog, samples...)
				mu.Unlock()
			}()
		}
		sample := func() (BacklogSample, error) {
			n, oldest, err := monOB.Backlog(ctx)
			if err != nil {
				return BacklogSample{}, err
			}
			now := time.Now()
			b := BacklogSample{Round: round, AtMS: ms(now.Sub(t0)), Events: n}
			if !oldest.IsZero() {
				b.OldestAgeMS = ms(now.Sub(oldest))
			}
			mu.Lock()
			samples = append(samples, b)
			mu.Unlock()
			return b, nil
		}
		sampling, stopSampling := context.WithCancel(ctx)
		defer stopSampling()
		sampled := make(chan error, 1)
		if withRelay {
			go func() {
				t := time.NewTicker(backlogEvery)
				defer t.Stop()
				for {
					select {
					case <-sampling.Done():
						sampled <- nil
						return
					case <-t.C:
					}
					if _, err := sample(); err != nil && sampling.Err() == nil {
						sampled <- err
						return
					}
				}
			}()
		} else {
			sampled <- nil
		}

		var events atomicCounter
		c := r.prog.step(fmt.Sprintf("%s: %d writers, %s (round %d of %d)", res.Engine, r.cfg.Writers, what, round, r.cfg.WriterRounds), "commits", 0)
		cpu0 := snapCPU()
		cr, err := commitLoop(ctx, r.cfg.Writers, dur, 10, c, func(ctx context.Context, w int) error {
			id := newRowID()
			if ob == nil {
				return db.Transact(ctx, func(tx *sqldb.Tx) error {
					_, err := tx.ExecContext(ctx, insert, id, w, 0, data)
					return err
				})
			}
			e := space.event(int(events.next()), id)
			return db.Transact(ctx, func(tx *sqldb.Tx) error {
				if _, err := tx.ExecContext(ctx, insert, id, w, 0, data); err != nil {
					return err
				}
				return ob.Record(ctx, tx, e)
			})
		})
		cr.CPU = cpu0.use(snapCPU())
		r.prog.end("")
		stopped := time.Now()
		stopSampling()
		if serr := <-sampled; serr != nil {
			return CommitRun{}, fmt.Errorf("backlog: %w", serr)
		}
		if err != nil || !withRelay {
			return cr, err
		}
		n := events.n.Load()
		res.Events += n

		// The backlog left behind, and how long the relay takes to clear it.
		c = r.prog.step(res.Engine+": relay draining what is left", "events left", 0)
		last, err := sample()
		if err != nil {
			return CommitRun{}, fmt.Errorf("backlog: %w", err)
		}
		res.BacklogAtStop = max(res.BacklogAtStop, last.Events)
		lastAt, cur := time.Now(), last.Events
		err = waitFor(ctx, r.cfg.StallTimeout, func() int64 { return cur }, func() bool {
			n, _, err := monOB.Backlog(ctx)
			if err != nil {
				return false
			}
			cur = n
			c.Store(n)
			if n == 0 || time.Since(lastAt) >= backlogEvery {
				if b, err := sample(); err == nil {
					last, lastAt = b, time.Now()
				}
			}
			return n == 0
		})
		res.DrainMS = max(res.DrainMS, ms(time.Since(stopped)))
		r.prog.end("")
		res.BacklogFinal = last.Events
		if err != nil {
			return CommitRun{}, fmt.Errorf("backlog of %d did not drain: %w", last.Events, err)
		}
		if err := rl.stop(); err != nil {
			return CommitRun{}, fmt.Errorf("relay: %w", err)
		}
		work, err := rl.work()
		if err != nil {
			return CommitRun{}, err
		}
		res.Relay.add(work)
		msgs, err := r.streamMsgs(ctx, stream.Name)
		if err != nil {
			return CommitRun{}, err
		}
		res.StreamMsgs += msgs
		if msgs != uint64(n) {
			return CommitRun{}, fmt.Errorf("%d events recorded, the stream holds %d", n, msgs)
		}
		return cr, nil
	})
}
