package relay_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

// TestHandoffReadsOnlyAtStart: on SQLite the leader takes the events its
// own process commits from the outbox's hand-off, so events written one at
// a time cost no read of the outbox, only the first read at start.
func TestHandoffReadsOnlyAtStart(t *testing.T) {
	f := newFixture(t, sqldb.SQLite, testenv.NATS(t))
	reg := prometheus.NewRegistry()
	cfg := f.config(t)
	cfg.Metrics = reg
	cfg.PollInterval = time.Hour // no backstop reads to count
	cfg.DeleteLinger = time.Millisecond
	f.start(t, cfg)
	waitUntil(t, 10*time.Second, "the first read", func() bool { return toolkittest.Metric(t, reg, "bounded_relay_claims_total") >= 1 })
	const n = 30
	for i := range n {
		f.write(t, f.event(t, "a", i))
		waitUntil(t, 10*time.Second, fmt.Sprintf("event %d published", i), func() bool {
			return toolkittest.Metric(t, reg, "bounded_relay_published_total") >= float64(i+1)
		})
	}
	f.waitEmpty(t, 10*time.Second)
	claims := toolkittest.Metric(t, reg, "bounded_relay_claims_total")
	handed := toolkittest.Metric(t, reg, "bounded_relay_handed_total")
	if claims != 1 || handed != n {
		t.Errorf("%v reads of the outbox and %v events handed over for %d events; want 1 read and %d handed", claims, handed, n, n)
	}
	got := f.collect(t, n, 10*time.Second)
	if len(got) != n {
		t.Fatalf("stream holds %d events, want %d", len(got), n)
	}
	for i, m := range got {
		e, err := contract.FromMessage(m.Headers(), m.Data())
		if err != nil {
			t.Fatal(err)
		}
		var p payload
		if err := jsonUnmarshal(e.Data, &p); err != nil || p.N != i {
			t.Fatalf("message %d carries %s (%v), want n %d", i, e.Data, err, i)
		}
	}
}

// TestHandoffWithAnotherWriterOnTheFile has writers in the relay's process
// (their events handed over) and writers of a second database handle on the
// same SQLite file, as another process would have (theirs are not: no relay
// leads there) record events for the same aggregates at once. The relay
// must notice each row it was not handed before publishing the handed rows
// after it, so per-aggregate order holds; the hand-off must still carry
// most of the local events. Each writer notes its event inside its
// transaction after Record (SQLite's write lock is held from the insert to
// the commit, across both handles), so the lists are in commit order.
func TestHandoffWithAnotherWriterOnTheFile(t *testing.T) {
	f := newFixture(t, sqldb.SQLite, testenv.NATS(t))
	other := toolkittest.OpenDB(t, f.dsn)
	otherOb, err := outbox.New(other, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := f.config(t)
	cfg.Metrics = reg
	cfg.BatchSize = 64
	f.start(t, cfg)

	const writers, perWriter, aggs = 6, 120, 8
	var order commitOrder
	runWriters(t, writers, perWriter, func(w, i int) error {
		db, ob := f.db, f.ob
		if w%3 == 2 {
			db, ob = other, otherOb // a third of the writers elsewhere
		}
		agg := fmt.Sprintf("agg-%d", rand.IntN(aggs))
		events := []contract.Event{f.event(t, agg, w*perWriter+i)}
		if i%10 == 0 { // now and then two events in one transaction
			events = append(events, f.event(t, agg, -(w*perWriter+i)))
		}
		return order.record(db, ob, agg, events...)
	})
	order.check(t, f, 30*time.Second)
	total := order.n
	f.waitEmpty(t, 10*time.Second)
	handed := toolkittest.Metric(t, reg, "bounded_relay_handed_total")
	claims := toolkittest.Metric(t, reg, "bounded_relay_claims_total")
	t.Logf("%d events: %v handed over, %v reads", total, handed, claims)
	if handed == 0 || handed >= float64(total) || claims < 2 {
		t.Errorf("%v of %d events handed over in %v reads; want some handed, and reads for the other handle's", handed, total, claims)
	}
}
