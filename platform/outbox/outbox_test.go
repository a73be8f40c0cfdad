package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newOutbox(t *testing.T, db *sqldb.DB, cfg outbox.Config) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

func event(t *testing.T, subject string, data any) contract.Event {
	t.Helper()
	e, err := contract.New("orders", "orders.order_confirmed.v1", subject, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func pending(t *testing.T, ob *outbox.Outbox) []outbox.Row {
	t.Helper()
	rows, err := ob.Pending(context.Background(), nil, 1000, outbox.Exclude{})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, toolkittest.NewDB(t, d))
		})
	}
}

func TestRecordCommitsAndRollsBackWithTheTransaction(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ob := newOutbox(t, db, outbox.Config{})
		kept, dropped := event(t, "o-1", map[string]int{"n": 1}), event(t, "o-2", map[string]int{"n": 2})
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, kept) }); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("domain rule broken")
		err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			if err := ob.Record(ctx, tx, dropped); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Transact = %v, want the callback's error", err)
		}
		rows := pending(t, ob)
		if len(rows) != 1 {
			t.Fatalf("%d rows pending, want 1", len(rows))
		}
		got := rows[0].Event
		if got.ID != kept.ID || got.Type != kept.Type || got.Subject != kept.Subject || got.Source != kept.Source ||
			string(got.Data) != string(kept.Data) || got.DataContentType != kept.DataContentType ||
			got.Time.Sub(kept.Time).Abs() > time.Microsecond {
			t.Fatalf("stored %+v, recorded %+v", got, kept)
		}
		n, oldest, err := ob.Backlog(ctx)
		if err != nil || n != 1 || oldest.Sub(kept.Time).Abs() > time.Microsecond {
			t.Fatalf("Backlog = %d, %v, %v", n, oldest, err)
		}
		if err := ob.Delete(ctx, []int64{rows[0].Seq, 999999}); err != nil {
			t.Fatal(err)
		}
		if rows := pending(t, ob); len(rows) != 0 {
			t.Fatalf("%d rows left after delete", len(rows))
		}
	})
}

func TestRecordRejectsBadEvents(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ob := newOutbox(t, db, outbox.Config{MaxEventBytes: 1024})
		invalid := event(t, "o-1", 1)
		invalid.Type = "NotAType"
		big := event(t, "o-1", strings.Repeat("x", 2000))
		for name, tc := range map[string]struct {
			e    contract.Event
			want error
		}{
			"invalid type": {invalid, contract.ErrMalformed},
			"too large":    {big, outbox.ErrTooLarge},
		} {
			err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, tc.e) })
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: Record = %v, want %v", name, err, tc.want)
			}
		}
		if rows := pending(t, ob); len(rows) != 0 {
			t.Fatalf("a rejected event was stored: %+v", rows)
		}
	})
}

func TestPendingIsInSeqOrderAndSkipsInFlightRows(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ob := newOutbox(t, db, outbox.Config{})
		var ids []string
		err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			var evs []contract.Event
			for i := range 10 {
				e := event(t, []string{"b", "a", "c"}[i%3], i) // several subjects in one call
				evs = append(evs, e)
				ids = append(ids, e.ID)
			}
			return ob.Record(ctx, tx, evs...)
		})
		if err != nil {
			t.Fatal(err)
		}
		all := pending(t, ob)
		for i, r := range all {
			if r.Event.ID != ids[i] {
				t.Fatalf("row %d is %s, want %s: not in record order", i, r.Event.ID, ids[i])
			}
		}
		// In flight: rows 0, 2 and 3 (row 1 is a hole inside their range).
		ex := outbox.Exclude{Lo: all[0].Seq, Hi: all[3].Seq, Holes: []int64{all[1].Seq}}
		rows, err := ob.Pending(ctx, nil, 4, ex)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Event.ID)
		}
		if want := []string{ids[1], ids[4], ids[5], ids[6]}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("Pending skipping in-flight rows = %v, want %v", got, want)
		}
	})
}

func TestCommitWakesTheLocalRelay(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ob := newOutbox(t, db, outbox.Config{})
		select {
		case <-ob.Wakeups():
			t.Fatal("woken before any commit")
		default:
		}
		_ = db.Transact(ctx, func(tx *sqldb.Tx) error {
			_ = ob.Record(ctx, tx, event(t, "o-1", 1))
			return errors.New("roll back")
		})
		select {
		case <-ob.Wakeups():
			t.Fatal("woken by a rolled-back transaction")
		default:
		}
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, event(t, "o-1", 1)) }); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ob.Wakeups():
		case <-time.After(time.Second):
			t.Fatal("a commit did not wake the relay")
		}
	})
}

// TestNotifiesOtherProcessesOnlyWithoutALocalLeader listens on the outbox
// channel as a relay in another process would.
func TestNotifiesOtherProcessesOnlyWithoutALocalLeader(t *testing.T) {
	dsn := toolkittest.DSN(t, sqldb.Postgres)
	db := toolkittest.OpenDB(t, dsn)
	ob := newOutbox(t, db, outbox.Config{})
	ctx := toolkittest.Context(t)
	l, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if _, err := l.Exec(ctx, "LISTEN "+outbox.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	notified := func() bool {
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		_, err := l.WaitForNotification(wctx)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && wctx.Err() == nil {
			t.Fatalf("listen: %v", err)
		}
		return err == nil
	}
	record := func() {
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, event(t, "o-1", 1)) }); err != nil {
			t.Fatal(err)
		}
	}
	record()
	if !notified() {
		t.Fatal("no NOTIFY without a local leader")
	}
	ob.SetLocalLeader(true)
	record()
	if notified() {
		t.Fatal("NOTIFY sent although the local relay leads")
	}
}

// TestSeqIsNeverReused guards the invariant Delete's safety rests on: after
// the table empties, the next row still gets a larger seq.
func TestSeqIsNeverReused(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ob := newOutbox(t, db, outbox.Config{})
		record := func() int64 {
			if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, event(t, "o-1", 1)) }); err != nil {
				t.Fatal(err)
			}
			rows := pending(t, ob)
			if len(rows) != 1 {
				t.Fatalf("%d rows pending, want 1", len(rows))
			}
			if err := ob.Delete(ctx, []int64{rows[0].Seq}); err != nil {
				t.Fatal(err)
			}
			return rows[0].Seq
		}
		first := record()
		if second := record(); second <= first {
			t.Fatalf("seq %d reused or went back (after %d) once the table emptied", second, first)
		}
	})
}

// TestDeleteRemovesExactlyTheGivenRows deletes scattered and consecutive
// seqs at once (runs of one and of several) and checks nothing else went.
func TestDeleteRemovesExactlyTheGivenRows(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ob := newOutbox(t, db, outbox.Config{})
		var evs []contract.Event
		for i := range 20 {
			evs = append(evs, event(t, "o", i))
		}
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, evs...) }); err != nil {
			t.Fatal(err)
		}
		all := pending(t, ob)
		gone := map[int]bool{0: true, 1: true, 2: true, 5: true, 9: true, 10: true, 11: true, 12: true, 19: true}
		var seqs []int64
		for i := range all {
			if gone[i] {
				seqs = append(seqs, all[i].Seq)
			}
		}
		seqs = append(seqs, all[5].Seq) // a repeat is harmless
		if err := ob.Delete(ctx, seqs); err != nil {
			t.Fatal(err)
		}
		left := pending(t, ob)
		var want []int64
		for i := range all {
			if !gone[i] {
				want = append(want, all[i].Seq)
			}
		}
		var got []int64
		for _, r := range left {
			got = append(got, r.Seq)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("left %v, want %v", got, want)
		}
	})
}

// TestHandoff: on SQLite a committed Record hands the relay's hand-off
// function its rows as a read would return them (seq, time at the stored
// precision, a copy of the data), before the wake-up; a rolled-back one
// hands nothing, and its seq is drawn again; PendingAndTop tells the
// highest committed seq from its own snapshot. PostgreSQL never hands off.
func TestHandoff(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ob := newOutbox(t, db, outbox.Config{})
		if err := ob.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var handed [][]outbox.Row
		ob.SetHandoff(func(rows []outbox.Row) {
			select {
			case <-ob.Wakeups():
				t.Error("woken before the hand-off")
			default:
			}
			handed = append(handed, rows)
		})
		quiet := func() { // forget earlier wake-ups
			select {
			case <-ob.Wakeups():
			default:
			}
		}
		data := []byte(`{"n":1}`)
		e1, e2 := event(t, "o-1", nil), event(t, "o-1", nil)
		e1.Data = data
		quiet()
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, e1, e2) }); err != nil {
			t.Fatal(err)
		}
		copy(data, `{"n":9}`) // the caller reuses its buffer
		errBoom := errors.New("boom")
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			if err := ob.Record(ctx, tx, event(t, "o-2", nil)); err != nil {
				return err
			}
			return errBoom
		}); !errors.Is(err, errBoom) {
			t.Fatal(err)
		}
		e3 := event(t, "o-3", nil)
		quiet()
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, e3) }); err != nil {
			t.Fatal(err)
		}
		read := pending(t, ob)
		if db.Dialect() == sqldb.Postgres {
			if len(handed) != 0 {
				t.Fatalf("PostgreSQL handed off %d transactions", len(handed))
			}
			return
		}
		if len(handed) != 2 || len(handed[0]) != 2 || len(handed[1]) != 1 {
			t.Fatalf("handed %d transactions (%v), want 2: two rows, then one", len(handed), handed)
		}
		got := append(handed[0], handed[1]...)
		for i, r := range read {
			h := got[i]
			if h.Seq != r.Seq || h.Event.ID != r.Event.ID || string(h.Event.Data) != string(r.Event.Data) || !h.Event.Time.Equal(r.Event.Time) ||
				h.Event.Time.Location() != r.Event.Time.Location() || fmt.Sprint(h.Event.Header()) != fmt.Sprint(r.Event.Header()) {
				t.Fatalf("row %d handed %+v, read %+v", i, h, r)
			}
		}
		if string(got[0].Event.Data) != `{"n":1}` {
			t.Fatalf("handed data %s, want the data as recorded", got[0].Event.Data)
		}
		if read[2].Seq != read[1].Seq+1 {
			t.Fatalf("seqs %d, %d: the rolled-back seq was not drawn again", read[1].Seq, read[2].Seq)
		}
		rows, top, err := ob.PendingAndTop(ctx, 1, outbox.Exclude{})
		if err != nil || len(rows) != 1 || rows[0].Seq != read[0].Seq || top != read[2].Seq {
			t.Fatalf("PendingAndTop = %d rows (first %v), top %d, %v; want 1 row, seq %d, top %d", len(rows), rows, top, err, read[0].Seq, read[2].Seq)
		}
		ob.SetHandoff(nil)
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, event(t, "o-4", nil)) }); err != nil {
			t.Fatal(err)
		}
		if len(handed) != 2 {
			t.Fatalf("handed off after SetHandoff(nil)")
		}
	})
}
