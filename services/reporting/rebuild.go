package reporting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// A rebuild drops the warehouse (every fact, dimension, watermark and
// read-model row, and the service's consumers' inbox rows and dead
// letters) and replays every source stream from its first kept message
// into the fresh one, through the same handlers the live consumers use.
//
// How it stays exact:
//
//  1. The rebuild_state row is the lock: a rebuild starts only by turning
//     it from anything but "running" (or a running one whose heartbeat is
//     older than rebuildStale: its process died) to "running".
//  2. Live consumption stops. This process pauses its consumers (their Run
//     returns: nothing of theirs is in flight). Other replicas see the row
//     within a second (follow) and pause theirs, and on PostgreSQL the
//     rebuild waits that long before it goes on, so that no replica's
//     consumer, finding itself deleted in step 3, makes itself again while
//     the rebuild runs (startConsumerAt copes with one that does anyway);
//     until they pause, every live handler reads the row FOR SHARE first
//     and backs off (inbox.Transient) while it says running. The row's update to
//     "running" waits for the live transactions that read it before, so
//     none of them commits after it. (SQLite has one process and one
//     writer: the pause is enough.)
//  3. The durable consumers are deleted, each stream's last sequence is
//     read (after the pause: every event a live consumer applied is at or
//     below it), the warehouse is emptied.
//  4. Each stream is read with an ordered consumer up to that sequence,
//     in chunks of replayChunk events, each chunk one transaction with no
//     inbox rows (the warehouse is fresh and each row is keyed by a
//     natural key: nothing can be applied twice). A chunk that fails is
//     applied again one event per transaction; an event a handler refuses
//     for good is dead-lettered, as the live consumer would.
//  5. The durable consumers are created again, each starting at its
//     stream's last sequence + 1, the row says "done", and live
//     consumption resumes: every event is applied once, by the replay or
//     by the live consumers.
//
// A rebuild that fails (or whose process dies) leaves the row "failed"
// (or "running" with a stale heartbeat) and the consumers paused: the
// warehouse is half-built, the reports say so (503), and the cure is to
// run the rebuild again.

// Rebuild states.
const (
	rebuildIdle    = "idle"
	rebuildRunning = "running"
	rebuildDone    = "done"
	rebuildFailed  = "failed"
)

const (
	// replayChunk is the events one replay transaction applies.
	replayChunk = 4096
	// rebuildStale is how old a running rebuild's heartbeat may get before
	// another may take its place (its process is presumed dead).
	rebuildStale = 30 * time.Second
)

// warehouseTables are the tables a rebuild empties.
var warehouseTables = []string{"dim_category", "dim_product", "dim_date", "fact_checkout", "fact_order", "fact_order_line",
	"fact_payment", "fact_refund", "fact_reservation", "fact_stockout", "fact_shipment", "fact_stock_movement",
	"fact_purchase_order", "watermarks", "order_history", "order_history_entries"}

// errRebuilding is what a live handler meets while a rebuild runs.
var errRebuilding = errors.New("reporting: the warehouse is being rebuilt")

// replayKey marks the context of a replay's handlers.
type replayKey struct{}

func replaying(ctx context.Context) bool { return ctx.Value(replayKey{}) != nil }

// fence keeps a live handler on PostgreSQL from writing while a rebuild
// runs (see the comment at the top of this file), and from applying after
// one an event its replay applied: a replica that had not paused may hold
// such an event, fetched from the consumer the rebuild deleted, and retry
// it until the rebuild is over. Its inbox row is gone with the warehouse,
// so only its stream sequence tells: below the sequence the rebuild made
// the consumer start at, it is acked without an effect (inbox.ErrApplied).
//
// The row is read once per transaction (a consumer's batch shares one):
// read FOR SHARE, it cannot change until the transaction ends.
func fence(ctx context.Context, tx *sqldb.Tx) error {
	if replaying(ctx) || tx.Dialect() != sqldb.Postgres {
		return nil
	}
	v, err := tx.Memo(fenceKey{}, func() (any, error) {
		var f fenceState
		var starts sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT state, start_seqs FROM rebuild_state WHERE id = 1 FOR SHARE`).Scan(&f.state, &starts); err != nil {
			return nil, fmt.Errorf("rebuild state: %w", err)
		}
		if starts.Valid && starts.String != "" {
			if err := json.Unmarshal([]byte(starts.String), &f.starts); err != nil {
				return nil, fmt.Errorf("rebuild state: start_seqs: %w", err)
			}
		}
		return f, nil
	})
	if err != nil {
		return err
	}
	f := v.(fenceState)
	if f.state == rebuildRunning || f.state == rebuildFailed {
		return inbox.Transient(errRebuilding)
	}
	if d, ok := inbox.DeliveryOf(ctx); ok {
		if start, ok := f.starts[d.Consumer]; ok && d.StreamSeq < start {
			return fmt.Errorf("%s seq %d, replayed by the last rebuild (live from %d): %w", d.Stream, d.StreamSeq, start, inbox.ErrApplied)
		}
	}
	return nil
}

// fenceKey memoizes the fence's reading in a transaction.
type fenceKey struct{}

// fenceState is the rebuild row as the fence reads it.
type fenceState struct {
	state  string
	starts map[string]uint64 // consumer → the stream sequence it was made to start at
}

// RebuildStatus is the state of the last rebuild, as the API answers it.
type RebuildStatus struct {
	RebuildID     string     `json:"rebuild_id,omitempty"`
	State         string     `json:"state"` // idle, running, done or failed
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	EventsTotal   int64      `json:"events_total"`
	EventsApplied int64      `json:"events_applied"`
	// EventsPerSecond is the mean rate since the start (until the end).
	EventsPerSecond float64 `json:"events_per_second"`
	// ETASeconds is the time left at that rate, while running.
	ETASeconds float64 `json:"eta_seconds,omitempty"`
	Error      string  `json:"error,omitempty"`
	owner      string
	startSeqs  map[string]uint64
	heartbeat  time.Time
}

func readRebuild(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (RebuildStatus, error) {
	var st RebuildStatus
	var id, owner, seqs, msg sql.NullString
	var started, finished time.Time
	err := q.QueryRowContext(ctx, `SELECT rebuild_id, state, owner, started_at, heartbeat_at, finished_at, events_total,
		events_applied, start_seqs, error FROM rebuild_state WHERE id = 1`).Scan(&id, &st.State, &owner, sqldb.TimeCol{T: &started},
		sqldb.TimeCol{T: &st.heartbeat}, sqldb.TimeCol{T: &finished}, &st.EventsTotal, &st.EventsApplied, &seqs, &msg)
	if err != nil {
		return st, fmt.Errorf("rebuild state: %w", err)
	}
	st.RebuildID, st.owner, st.Error = id.String, owner.String, msg.String
	if seqs.Valid && seqs.String != "" {
		if err := json.Unmarshal([]byte(seqs.String), &st.startSeqs); err != nil {
			return st, fmt.Errorf("rebuild state: start sequences: %w", err)
		}
	}
	end := time.Now()
	if !started.IsZero() {
		st.StartedAt = &started
	}
	if !finished.IsZero() {
		st.FinishedAt, end = &finished, finished
	}
	if !started.IsZero() {
		if secs := end.Sub(started).Seconds(); secs > 0 {
			st.EventsPerSecond = float64(st.EventsApplied) / secs
		}
		if st.State == rebuildRunning && st.EventsPerSecond > 0 && st.EventsTotal > st.EventsApplied {
			st.ETASeconds = float64(st.EventsTotal-st.EventsApplied) / st.EventsPerSecond
		}
	}
	return st, nil
}

// startRebuild takes the lock for a new rebuild and returns its id, or an
// ErrConflict when one is running.
func (s *reporting) startRebuild(ctx context.Context) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	var taken int64
	err = s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		d := tx.Dialect()
		t := now()
		res, err := tx.ExecContext(ctx, d.Rebind(`UPDATE rebuild_state SET rebuild_id = $1, state = 'running', owner = $2,
				started_at = $3, heartbeat_at = $3, finished_at = NULL, events_total = 0, events_applied = 0,
				start_seqs = NULL, error = NULL
			WHERE id = 1 AND (state <> 'running' OR heartbeat_at < $4)`),
			id.String(), s.owner, dbTime(d, t), dbTime(d, t.Add(-rebuildStale)))
		if err != nil {
			return err
		}
		taken, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("rebuild: %w", err)
	}
	if taken == 0 {
		st, err := readRebuild(ctx, s.env.DB.Reader())
		if err != nil {
			return "", err
		}
		return "", fmt.Errorf("%w: rebuild %s is running (%d of %d events)", errConflict, st.RebuildID, st.EventsApplied, st.EventsTotal)
	}
	return id.String(), nil
}

var errConflict = errors.New("conflict")

// followInterval is how often a replica reads the rebuild row (follow);
// followMargin is what a rebuild adds to it while it waits for the other
// replicas to pause.
const (
	followInterval = time.Second
	followMargin   = 500 * time.Millisecond
)

// rebuildJob runs the rebuilds this replica is asked for, and follows the
// others' (pausing this replica's consumers while one runs elsewhere).
func (s *reporting) rebuildJob(ctx context.Context) error {
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	s.follow(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-s.rebuilds:
			if err := s.rebuild(ctx, id); err != nil {
				s.log.Error("rebuild failed", "rebuild", id, "err", err)
			}
		case <-tick.C:
			s.follow(ctx)
		}
	}
}

// follow pauses this replica's consumers while a rebuild another runs (or
// one that failed) holds the warehouse, and resumes them after.
func (s *reporting) follow(ctx context.Context) {
	cs := s.env.Consumers
	if cs == nil {
		return
	}
	st, err := readRebuild(ctx, s.env.DB.Reader())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("rebuild state", "err", err)
		}
		return
	}
	switch st.State {
	case rebuildRunning, rebuildFailed:
		if !s.followPaused && !cs.Paused() {
			s.log.Info("the warehouse is being rebuilt; consumers paused", "rebuild", st.RebuildID, "state", st.State)
			if err := cs.Pause(ctx); err != nil {
				return
			}
			s.followPaused = true
		}
	default:
		if s.followPaused {
			s.followPaused = false
			s.log.Info("rebuild over; consumers resumed", "rebuild", st.RebuildID)
			cs.Resume(st.startSeqs)
		}
	}
}

// rebuild runs rebuild id, whose lock startRebuild took.
func (s *reporting) rebuild(ctx context.Context, id string) (err error) {
	defer func() {
		if err == nil {
			return
		}
		// Record the failure even when ctx is done (shutting down).
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.env.DB.Transact(fctx, func(tx *sqldb.Tx) error {
			d := tx.Dialect()
			return exec(fctx, tx, `UPDATE rebuild_state SET state = 'failed', error = $1, finished_at = $2 WHERE id = 1 AND rebuild_id = $3`,
				err.Error(), dbTime(d, now()), id)
		})
	}()
	cs := s.env.Consumers
	if cs == nil {
		return errors.New("no consumers to rebuild from")
	}
	s.log.Info("rebuild: pausing the consumers", "rebuild", id)
	if err := cs.Pause(ctx); err != nil {
		return fmt.Errorf("pause consumers: %w", err)
	}
	s.followPaused = true // resumed below, or by follow after a later rebuild
	if s.env.DB.Dialect() == sqldb.Postgres {
		// Other replicas may share this database: give them the time to
		// see the row and pause (SQLite belongs to one process).
		s.log.Info("rebuild: waiting for the other replicas to pause", "rebuild", id, "wait", followInterval+followMargin)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followInterval + followMargin):
		}
	}
	js, err := jetstream.New(cs.NATS())
	if err != nil {
		return err
	}
	sources := cs.List()
	type plan struct {
		info   service.ConsumerInfo
		last   uint64
		events int64
	}
	var plans []plan
	var total int64
	for _, c := range sources {
		if err := deleteConsumer(ctx, js, s.log, c); err != nil {
			return err
		}
		p := plan{info: c}
		st, err := js.Stream(ctx, c.Stream)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
		case err != nil:
			return fmt.Errorf("stream %s: %w", c.Stream, err)
		default:
			state := st.CachedInfo().State
			p.last, p.events = state.LastSeq, int64(state.Msgs)
		}
		total += p.events
		plans = append(plans, p)
	}
	s.log.Info("rebuild: dropping the warehouse", "rebuild", id, "events", total)
	err = s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		if tx.Dialect() == sqldb.Postgres {
			if _, err := tx.ExecContext(ctx, `TRUNCATE `+strings.Join(warehouseTables, ", ")); err != nil {
				return err
			}
		} else {
			for _, t := range warehouseTables {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
					return fmt.Errorf("empty %s: %w", t, err)
				}
			}
		}
		for _, p := range plans {
			if err := inbox.Forget(ctx, tx, p.info.Durable); err != nil {
				return err
			}
		}
		return exec(ctx, tx, `UPDATE rebuild_state SET events_total = $1, heartbeat_at = $2 WHERE id = 1 AND rebuild_id = $3`,
			total, dbTime(tx.Dialect(), now()), id)
	})
	if err != nil {
		return fmt.Errorf("drop the warehouse: %w", err)
	}
	s.dates.Clear()

	if s.env.DB.Dialect() == sqldb.SQLite {
		restore, err := s.replayCache(ctx)
		if err != nil {
			return err
		}
		defer restore()
	}

	r := &replay{s: s, id: id}
	starts := map[string]uint64{}
	for _, p := range plans {
		if p.events > 0 {
			if err := r.stream(ctx, js, p.info, p.last); err != nil {
				return fmt.Errorf("replay %s: %w", p.info.Stream, err)
			}
		}
		starts[p.info.Durable] = p.last + 1
	}
	// Live consumption starts where the replay ended: each durable consumer
	// is created again at its stream's last replayed sequence + 1.
	for _, p := range plans {
		if err := startConsumerAt(ctx, js, s.log, p.info, p.last+1); err != nil {
			return err
		}
	}
	seqs, _ := json.Marshal(starts)
	err = s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		d := tx.Dialect()
		return exec(ctx, tx, `UPDATE rebuild_state SET state = 'done', finished_at = $1, heartbeat_at = $1, events_applied = $2,
			start_seqs = $3 WHERE id = 1 AND rebuild_id = $4`, dbTime(d, now()), r.applied, string(seqs), id)
	})
	if err != nil {
		return fmt.Errorf("finish: %w", err)
	}
	s.followPaused = false
	cs.Resume(starts)
	s.log.Info("rebuild done; consumers resumed", "rebuild", id, "events", r.applied, "took", time.Since(r.started).Round(time.Millisecond))
	return nil
}

// consumerRetry bounds how long a rebuild retries deleting or creating a
// durable consumer that the server or a replica holds up.
const consumerRetry = 10 * time.Second

// deleteConsumer deletes c's durable consumer; one that is gone already
// counts as deleted. A replica that has not paused yet may still be
// acknowledging on it, and the server may then refuse the delete for the
// moment (nats-server 2.9: "unlinkat …/obs/…: directory not empty"): it is
// tried again for up to consumerRetry.
func deleteConsumer(ctx context.Context, js jetstream.JetStream, log *slog.Logger, c service.ConsumerInfo) error {
	deadline := time.Now().Add(consumerRetry)
	for {
		err := js.DeleteConsumer(ctx, c.Stream, c.Durable)
		if err == nil || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("delete consumer %s: %w", c.Durable, err)
		}
		log.Warn("rebuild: delete of a consumer refused; trying again", "consumer", c.Durable, "err", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// startConsumerAt makes c's durable consumer start at seq: deleted, then
// created there. A replica that has not paused yet may make it again in
// between (its consumer found itself deleted), with its own start; then
// the create fails, and both are tried again until the replica has paused
// (it does within a second of the rebuild's start) or consumerRetry has
// passed. seq 1 on a stream with no messages yet leaves no consumer: the
// live consumer makes it at the first message.
func startConsumerAt(ctx context.Context, js jetstream.JetStream, log *slog.Logger, c service.ConsumerInfo, seq uint64) error {
	deadline := time.Now().Add(consumerRetry)
	for {
		if err := deleteConsumer(ctx, js, log, c); err != nil {
			return err
		}
		if seq <= 1 {
			return nil
		}
		cons, err := js.CreateConsumer(ctx, c.Stream, jetstream.ConsumerConfig{
			Durable: c.Durable, AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: -1,
			FilterSubject: c.Subject, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq,
		})
		if err == nil {
			// A create meets an existing durable with another start as a
			// refusal (nats-server 2.9.10: "deliver policy can not be
			// updated"), and the same config as success; check anyway
			// that the consumer starts where the replay ended.
			got := cons.CachedInfo().Config
			if got.DeliverPolicy == jetstream.DeliverByStartSequencePolicy && got.OptStartSeq == seq {
				return nil
			}
			err = fmt.Errorf("a replica made it again first, starting at %v (seq %d)", got.DeliverPolicy, got.OptStartSeq)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("create consumer %s: %w", c.Durable, err)
		}
		log.Warn("rebuild: consumer not made at the replay's end; trying again", "consumer", c.Durable, "start", seq, "err", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// replayCacheKiB is SQLite's page cache while a replay writes (its
// default is 2 MiB): a replay's upserts land all over the tables and
// indexes of a warehouse far larger than that, and every page that falls
// out of the cache is read again from the file. The cache is memory only:
// the durability of each chunk's commit does not change.
const replayCacheKiB = 256 << 10

// replayCache sets the writer's page cache for a replay and returns what
// restores the one it had (on a fresh context: it runs however the
// replay ended).
func (s *reporting) replayCache(ctx context.Context) (func(), error) {
	var was int64
	err := s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		if err := tx.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&was); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -replayCacheKiB))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replay cache: %w", err)
	}
	return func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := s.env.DB.Transact(rctx, func(tx *sqldb.Tx) error {
			_, err := tx.ExecContext(rctx, fmt.Sprintf(`PRAGMA cache_size = %d`, was))
			return err
		})
		if err != nil {
			s.log.Warn("rebuild: restore the page cache", "err", err)
		}
	}, nil
}

// replay applies streams' events to the warehouse in large transactions.
type replay struct {
	s       *reporting
	id      string
	applied int64
	started time.Time
}

// replayed is one message read from a stream: its event, or why it could
// not be decoded.
type replayed struct {
	e       contract.Event
	err     error
	subject string
	header  map[string][]string
	data    []byte
	seq     uint64
}

// stream replays c's stream from its first message up to sequence last.
// One goroutine reads and decodes while this one applies.
func (r *replay) stream(ctx context.Context, js jetstream.JetStream, c service.ConsumerInfo, last uint64) error {
	if r.started.IsZero() {
		r.started = time.Now()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	oc, err := js.OrderedConsumer(ctx, c.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.Subject},
		DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return err
	}
	it, err := oc.Messages(jetstream.PullMaxMessages(2 * replayChunk))
	if err != nil {
		return err
	}
	defer it.Stop()
	chunks := make(chan prepared, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(chunks)
		chunk := make([]replayed, 0, replayChunk)
		send := func() bool {
			if len(chunk) == 0 {
				return true
			}
			select {
			case chunks <- r.prepare(ctx, chunk):
				chunk = make([]replayed, 0, replayChunk)
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			msg, err := it.Next()
			if err != nil {
				readErr <- err
				return
			}
			meta, err := msg.Metadata()
			if err != nil {
				readErr <- err
				return
			}
			seq := meta.Sequence.Stream
			if seq > last {
				send()
				readErr <- nil
				return
			}
			m := replayed{subject: msg.Subject(), seq: seq}
			m.e, m.err = contract.FromMessage(msg.Headers(), msg.Data())
			if m.err != nil {
				m.header, m.data = msg.Headers(), msg.Data()
			}
			chunk = append(chunk, m)
			if seq == last || meta.NumPending == 0 {
				send()
				readErr <- nil
				return
			}
			if len(chunk) == replayChunk && !send() {
				readErr <- ctx.Err()
				return
			}
		}
	}()
	for chunk := range chunks {
		if err := r.apply(ctx, c, chunk.events, chunk.rows); err != nil {
			return err
		}
	}
	return <-readErr
}

// prepared is a chunk of events and the rows their handlers wrote, or
// nil rows when one of them failed (the chunk is then applied one event
// at a time).
type prepared struct {
	events []replayed
	rows   *writeBuffer
}

// prepare runs a chunk's handlers into a buffer, on the reading goroutine:
// they write nothing but the buffer (see writeBuffer), so the applying
// goroutine's only work is to flush it, and the two run on two cores.
func (r *replay) prepare(ctx context.Context, chunk []replayed) prepared {
	b := newWriteBuffer(r.s.env.DB.Dialect())
	bctx := withBuffer(context.WithValue(ctx, replayKey{}, true), b)
	for i := range chunk {
		if chunk[i].err != nil {
			return prepared{events: chunk}
		}
		if err := r.s.replayOne(bctx, nil, chunk[i].e); err != nil {
			return prepared{events: chunk}
		}
	}
	return prepared{events: chunk, rows: b}
}

// flushed writes b's rows in tx and remembers its dates once tx commits.
func (s *reporting) flushed(ctx context.Context, tx *sqldb.Tx, b *writeBuffer) error {
	if err := b.flush(ctx, tx); err != nil {
		return err
	}
	dates := b.dates
	tx.AfterCommit(func() {
		for _, k := range dates {
			s.dates.Store(k, true)
		}
	})
	return nil
}

// apply writes one chunk's rows in one transaction, or, when its handlers
// or that transaction fail, applies each event in its own, dead-lettering
// those a handler refuses for good.
func (r *replay) apply(ctx context.Context, c service.ConsumerInfo, chunk []replayed, rows *writeBuffer) error {
	s := r.s
	rctx := context.WithValue(ctx, replayKey{}, true)
	progress := func(tx *sqldb.Tx, applied int64) error {
		return exec(ctx, tx, `UPDATE rebuild_state SET events_applied = $1, heartbeat_at = $2 WHERE id = 1 AND rebuild_id = $3`,
			applied, dbTime(tx.Dialect(), now()), r.id)
	}
	n := int64(len(chunk))
	err := errors.New("a handler failed")
	if rows != nil {
		err = s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
			if err := s.flushed(ctx, tx, rows); err != nil {
				return err
			}
			return progress(tx, r.applied+n)
		})
	}
	if err == nil {
		r.applied += n
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.log.Warn("rebuild: a chunk failed; applying its events one at a time", "events", len(chunk), "err", err)
	for _, m := range chunk {
		err := s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
			if m.err != nil {
				return m.err
			}
			b := newWriteBuffer(tx.Dialect())
			if err := s.replayOne(withBuffer(rctx, b), tx, m.e); err != nil {
				return err
			}
			if err := s.flushed(ctx, tx, b); err != nil {
				return err
			}
			return progress(tx, r.applied+1)
		})
		if err != nil && (m.err != nil || inbox.IsPermanent(err)) {
			id := m.e.ID
			if id == "" {
				id = fmt.Sprintf("stream:%s:%d", c.Stream, m.seq)
			}
			dl := inbox.DeadLetter{Consumer: c.Durable, EventID: id, EventType: m.e.Type, NATSSubject: m.subject,
				Header: m.header, Data: m.data, Error: err.Error(), Attempts: 1, StreamSeq: m.seq}
			if m.err == nil {
				dl.Header, dl.Data = m.e.Header(), m.e.Data
			}
			s.log.Error("rebuild: event dead-lettered", "event", id, "type", m.e.Type, "err", err)
			err = s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
				if err := inbox.RecordDeadLetter(ctx, tx, dl); err != nil {
					return err
				}
				return progress(tx, r.applied+1)
			})
		}
		if err != nil {
			return fmt.Errorf("event %s (stream sequence %d): %w", m.e.ID, m.seq, err)
		}
		r.applied++
	}
	return nil
}

// replayOne applies e with the handler its type's consumption names; the
// types the service does not consume are passed over, as the live
// consumers skip them.
func (s *reporting) replayOne(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
	name, _, err := contract.ParseType(e.Type)
	if err != nil {
		return inbox.Permanent(err)
	}
	c, ok := s.handlers[name]
	if !ok {
		return nil
	}
	return c.Handle(ctx, tx, e)
}
