package inbox

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	handled, skipped, duplicates, retries, conflicts, batches, batchFailures, redeliveries, deadLetters, replayed prometheus.Counter
	lag                                                                                                           prometheus.Observer
	cons                                                                                                          atomic.Pointer[jetstream.Consumer]
	desc                                                                                                          *prometheus.Desc
}

// newMetrics registers the consumer's metrics on reg (if not nil), labelled
// with the consumer's name, plus a collector that asks JetStream for the
// consumer's pending count at scrape time.
func newMetrics(reg prometheus.Registerer, c *Consumer) (*metrics, error) {
	labels := prometheus.Labels{"consumer": c.cfg.Name}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels})
	}
	m := &metrics{
		handled: counter("bounded_inbox_handled_total", "Events applied (handler committed)."),
		batches: counter("bounded_inbox_batches_total", "Transactions that applied more than one event."),
		batchFailures: counter("bounded_inbox_batch_failures_total",
			"Batches whose transaction failed (their events were then applied one at a time)."),
		conflicts: counter("bounded_inbox_conflicts_total",
			"Transactions of single events that lost a deadlock or a serialization race, retried without using up an attempt."),
		skipped:      counter("bounded_inbox_skipped_total", "Events of types the consumer does not handle, acknowledged without a transaction."),
		duplicates:   counter("bounded_inbox_duplicates_total", "Events skipped because their inbox row existed."),
		retries:      counter("bounded_inbox_retries_total", "Handler attempts after a failure."),
		redeliveries: counter("bounded_inbox_redeliveries_total", "Messages JetStream delivered more than once."),
		deadLetters:  counter("bounded_inbox_dead_letters_total", "Events written to the dead-letter table."),
		replayed:     counter("bounded_inbox_replayed_total", "Dead letters replayed successfully."),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bounded_inbox_event_age_seconds",
			Help: "Time from an event's creation to its handler's commit.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)}),
		desc: prometheus.NewDesc("bounded_inbox_consumer_pending", "Messages in the stream not yet delivered to the consumer (its lag).", nil, labels),
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.handled, m.skipped, m.batches, m.batchFailures, m.duplicates, m.retries, m.conflicts, m.redeliveries, m.deadLetters, m.replayed, m.lag.(prometheus.Collector), m} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("inbox: metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) setConsumer(c jetstream.Consumer) { m.cons.Store(&c) }

func (m *metrics) observeLag(t time.Time) {
	if !t.IsZero() {
		m.lag.Observe(time.Since(t).Seconds())
	}
}

// Describe and Collect report the consumer's pending count.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	c := m.cons.Load()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := (*c).Info(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(info.NumPending))
}
