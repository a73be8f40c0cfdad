package payments

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are Payments' own metrics (the host labels them service=payments).
type metrics struct {
	captured      prometheus.Counter
	declined      prometheus.Counter
	voided        prometheus.Counter
	refunded      prometheus.Counter
	gatewayErrors *prometheus.CounterVec   // op=charge|refund|lookup
	gatewayCall   *prometheus.HistogramVec // op=charge|refund|lookup
	claims        prometheus.Counter       // claim transactions the job ran
	verified      *prometheus.CounterVec   // result=charged|not_charged
	verifyOverdue prometheus.Counter
}

// newMetrics builds the metrics and registers them with reg (when not nil).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		captured: prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_payments_captured_total",
			Help: "Payments captured."}),
		declined: prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_payments_declined_total",
			Help: "Payments declined (by the card's issuer, or the gateway unavailable through every attempt)."}),
		voided: prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_payments_voided_total",
			Help: "Payments voided before any money was taken (the order was cancelled)."}),
		refunded: prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_payments_refunded_total",
			Help: "Refunds issued."}),
		gatewayErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounded_payments_gateway_errors_total",
			Help: "Gateway calls that failed (temporary failures and unknown errors; all are retried)."}, []string{"op"}),
		gatewayCall: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bounded_payments_gateway_call_seconds",
			Help:    "Time of a gateway call.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"op"}),
		claims: prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_payments_job_claims_total",
			Help: "Claims of due payments and refunds the job made (one per wake, poll or free worker; it never spins)."}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounded_payments_outcomes_verified_total",
			Help: "Payments called off with the outcome of a gateway call unknown whose outcome was then settled: charged (captured and refunded at once) or not_charged."}, []string{"result"}),
		verifyOverdue: prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_payments_verify_overdue_total",
			Help: "Lookups that failed for a payment whose outcome had been unknown past the verify horizon (each logged at ERROR; they go on). Above zero: a card may have been charged for a cancelled order, and the gateway does not say."}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.captured, m.declined, m.voided, m.refunded, m.gatewayErrors, m.gatewayCall, m.claims, m.verified, m.verifyOverdue} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
