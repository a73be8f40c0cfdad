package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/outbox"
)

type metrics struct {
	published prometheus.Counter
	errors    prometheus.Counter
	claims    prometheus.Counter
	handed    prometheus.Counter
	deletes   prometheus.Counter
	leader    prometheus.Gauge
	dwell     prometheus.Observer
}

// newMetrics registers the relay's metrics on reg (if not nil), labelled
// with the stream name, together with a collector of the outbox backlog that
// queries the database at scrape time.
func newMetrics(reg prometheus.Registerer, stream string, ob *outbox.Outbox) (*metrics, error) {
	labels := prometheus.Labels{"stream": stream}
	published := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bounded_relay_published_total", Help: "Events published to JetStream and acknowledged.", ConstLabels: labels})
	errs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bounded_relay_publish_errors_total", Help: "Batches whose publish failed (they are retried).", ConstLabels: labels})
	claims := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bounded_relay_claims_total", Help: "Reads of the outbox for events to publish, found or not (published_total / claims_total is the events per read).", ConstLabels: labels})
	handed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bounded_relay_handed_total", Help: "Events taken without a read: handed over by writers in the relay's process as they committed (SQLite).", ConstLabels: labels})
	deletes := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bounded_relay_deletes_total", Help: "Deletes of published events from the outbox (each one short transaction).", ConstLabels: labels})
	leader := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bounded_relay_leader", Help: "1 while this relay is the active publisher of its outbox.", ConstLabels: labels})
	dwell := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "bounded_relay_dwell_seconds", Help: "Time from an event's creation to JetStream's ack of it.",
		ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	m := &metrics{published: published, errors: errs, claims: claims, handed: handed, deletes: deletes, leader: leader, dwell: dwell}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{published, errs, claims, handed, deletes, leader, dwell, &backlogCollector{ob: ob, labels: labels}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("relay: metrics: %w", err)
		}
	}
	return m, nil
}

// backlogCollector reports the outbox backlog, read from the database when
// scraped.
type backlogCollector struct {
	ob     *outbox.Outbox
	labels prometheus.Labels
}

func (c *backlogCollector) descs() (n, age *prometheus.Desc) {
	return prometheus.NewDesc("bounded_outbox_backlog", "Events recorded and not yet published.", nil, c.labels),
		prometheus.NewDesc("bounded_outbox_oldest_age_seconds", "Age of the oldest unpublished event (0 when none).", nil, c.labels)
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	n, age := c.descs()
	ch <- n
	ch <- age
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	nd, ad := c.descs()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, oldest, err := c.ob.Backlog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(nd, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = time.Since(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(nd, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(ad, prometheus.GaugeValue, age)
}
