// Package payments is the Payments service of the bounded shop: it owns
// each order's payment, its gateway attempts, and its refunds.
//
// It consumes orders.order_confirmed (create the payment) and
// orders.order_cancelled (void a payment not yet taken, refund one taken)
// and publishes payments.payment_captured, payment_declined, payment_voided
// and refund_issued (see package events), each in the transaction of the
// change it reports.
//
// Gateway calls never run inside a transaction: a job claims due payments
// and refunds (a lease in the row, so replicas on PostgreSQL share the work
// and a crashed worker's claim runs out), calls the Gateway from a pool of
// workers, and records each result with its event in one transaction. The
// idempotency key of a charge is the payment id and that of a refund the
// refund id, so repeating a call after a crash never moves money twice.
// The default gateway, a StoredSimulator, keeps its records in tables of
// its own in the service's database, so that every replica calls one
// gateway, as they would a real one.
//
// A call that fails leaves its outcome unknown: it may have charged the
// card (a timeout whose answer was lost). A payment called off so (declined
// with gateway_unavailable, or voided) is looked up at the gateway by its
// key, by the same job, until the gateway says: a charge found is captured
// and refunded at once; none settles it. Lookups never stop: past
// Config.VerifyHorizon each failure is logged at ERROR and counted.
//
// Replicas share the orders stream's messages and may apply one order's
// order_confirmed and order_cancelled at once or in either order; the
// handlers take a per-order lock and remember a cancellation that comes
// first (see lockOrder).
package payments

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	"github.com/bounded-dev/bounded/services/payments/events"
)

//go:embed migrations
var migrations embed.FS

//go:embed openapi.json
var openAPI []byte

// Config configures the Payments service. The zero value is the default.
type Config struct {
	// Gateway charges and refunds. Default: a StoredSimulator without
	// latency on the service's own database, so that every replica of the
	// service calls one gateway, as they would a real one.
	Gateway Gateway
	// Workers is how many gateway calls run at once. Default 16.
	Workers int
	// RetryBackoff is the wait after a charge's first temporary failure; it
	// doubles after each further one, up to MaxRetryBackoff. Defaults
	// 200 ms and 5 s. Refunds back off the same way.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// MaxAttempts is how many gateway calls a charge gets before it is
	// declined with gateway_unavailable. Default 4. (A refund is retried
	// until it succeeds: the money is owed.)
	MaxAttempts int
	// GatewayTimeout bounds one gateway call. Default 10 s.
	GatewayTimeout time.Duration
	// Lease is how long a claimed payment or refund stays with the worker
	// that claimed it; if that worker dies, another claims it after this.
	// It must exceed GatewayTimeout. Default 1 min.
	Lease time.Duration
	// PollInterval is the backstop poll for due work when nothing wakes
	// the job (work committed by another replica). At least 1 s; default 1 s.
	PollInterval time.Duration
	// A payment called off while the outcome of a gateway call made for it
	// was unknown (declined with gateway_unavailable, or voided) is looked
	// up at the gateway (Gateway.LookupCharge) until the gateway says
	// whether it charged. VerifyAfter is the wait before the first lookup,
	// time for a call the gateway was still processing to finish; default
	// GatewayTimeout. Failed lookups back off as charges do (RetryBackoff,
	// MaxRetryBackoff) until VerifyHorizon (default 1 h) has passed since
	// the payment was called off; from then on they are made every
	// VerifyInterval (default 10 min, at least MaxRetryBackoff) for as long
	// as it takes, each failure logged at ERROR and counted in
	// bounded_payments_verify_overdue_total.
	VerifyAfter    time.Duration
	VerifyHorizon  time.Duration
	VerifyInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = 16
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 200 * time.Millisecond
	}
	if c.MaxRetryBackoff == 0 {
		c.MaxRetryBackoff = 5 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 4
	}
	if c.GatewayTimeout == 0 {
		c.GatewayTimeout = 10 * time.Second
	}
	if c.Lease == 0 {
		c.Lease = time.Minute
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.VerifyAfter == 0 {
		c.VerifyAfter = c.GatewayTimeout
	}
	if c.VerifyHorizon == 0 {
		c.VerifyHorizon = time.Hour
	}
	if c.VerifyInterval == 0 {
		c.VerifyInterval = 10 * time.Minute
	}
	return c
}

// Validate reports a configuration (with its defaults applied) that cannot run.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Workers < 1:
		return fmt.Errorf("payments: Workers %d: want at least 1", c.Workers)
	case c.RetryBackoff < 0 || c.MaxRetryBackoff < c.RetryBackoff:
		return fmt.Errorf("payments: RetryBackoff %s, MaxRetryBackoff %s: want 0 < RetryBackoff <= MaxRetryBackoff", c.RetryBackoff, c.MaxRetryBackoff)
	case c.MaxAttempts < 1:
		return fmt.Errorf("payments: MaxAttempts %d: want at least 1", c.MaxAttempts)
	case c.GatewayTimeout < 0:
		return fmt.Errorf("payments: GatewayTimeout %s is negative", c.GatewayTimeout)
	case c.Lease <= c.GatewayTimeout:
		return fmt.Errorf("payments: Lease %s must exceed GatewayTimeout %s", c.Lease, c.GatewayTimeout)
	case c.PollInterval < time.Second:
		return fmt.Errorf("payments: PollInterval %s: want at least 1s (the job wakes on commit; the poll is a backstop)", c.PollInterval)
	case c.VerifyAfter < 0 || c.VerifyHorizon < 0:
		return fmt.Errorf("payments: VerifyAfter %s, VerifyHorizon %s: want neither negative", c.VerifyAfter, c.VerifyHorizon)
	case c.VerifyInterval < c.MaxRetryBackoff:
		return fmt.Errorf("payments: VerifyInterval %s: want at least MaxRetryBackoff %s (past the horizon lookups slow down)", c.VerifyInterval, c.MaxRetryBackoff)
	}
	return nil
}

// policy is the domain's view of the retry and lookup settings.
func (c Config) policy() RetryPolicy {
	return RetryPolicy{MaxAttempts: c.MaxAttempts, Backoff: c.backoff,
		VerifyAfter: c.VerifyAfter, VerifyHorizon: c.VerifyHorizon, VerifyInterval: c.VerifyInterval}
}

// backoff is the wait after n failures: RetryBackoff doubling, capped.
func (c Config) backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := c.RetryBackoff << min(n-1, 30)
	if d <= 0 || d > c.MaxRetryBackoff {
		return c.MaxRetryBackoff
	}
	return d
}

// Spec describes the Payments service. It touches nothing: the handlers
// are method values of a service that gets its Env in Start. Use one Spec
// per host.
func Spec(cfg Config) service.Spec {
	cfg = cfg.withDefaults()
	s := &svc{cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{}, 1)}
	orders := ordersevents.Registry()
	mig, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return service.Spec{
		Name:       "payments",
		Aggregates: []string{"Payment", "PaymentAttempt", "Refund"},
		Events:     events.Registry(),
		Consumes: []service.Consumption{
			service.On(orders, ordersevents.OrderConfirmed, service.EventCarriedState,
				"the amount, currency and card token to charge for the order", s.onOrderConfirmed),
			service.On(orders, ordersevents.OrderCancelled, service.Projection,
				"voids the order's payment if not yet taken, refunds it if taken", s.onOrderCancelled),
		},
		// Replicas batch events of the same orders: lock the batch's
		// orders first, in one order (lockOrder's locks).
		PrepareBatch: service.LockKeys(batchLockSpace, service.JSONField("order_id")),
		Migrations:   mig,
		OpenAPI:      openAPI,
		Start:        s.start,
	}
}

// svc is the running service.
type svc struct {
	cfg Config
	db  *sqldb.DB
	ob  *outbox.Outbox
	log *slog.Logger
	m   *metrics

	wake chan struct{} // work was committed: claim now
	done chan struct{} // a worker finished: a slot is free
	due  dueTime       // the earliest retry (or lookup) this process scheduled
}

func (s *svc) start(ctx context.Context, env service.Env) (*service.Running, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	if s.db != nil {
		return nil, errors.New("payments: Spec started twice; build one Spec per host")
	}
	s.db, s.ob, s.log = env.DB, env.Outbox, env.Logger
	if s.cfg.Gateway == nil {
		s.cfg.Gateway = NewStoredSimulator(env.DB, SimulatorConfig{})
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(env.Metrics)
	if err != nil {
		return nil, err
	}
	s.m = m
	return &service.Running{API: s.routes(env), Jobs: []func(context.Context) error{s.runJob}}, nil
}

// now is the service's clock, at the millisecond precision both dialects keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// wakeJob tells the job that work was committed. It never blocks.
func (s *svc) wakeJob() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// dueAt tells the job, once it is committed, that a payment or refund is
// due at t (none when t is zero).
func (s *svc) dueAt(t time.Time) {
	if !t.IsZero() && s.due.note(t) {
		s.wakeJob() // (re)arm the loop's timer for the earlier time
	}
}

// batchLockSpace: a batch takes the same locks as lockOrder.
const batchLockSpace = orderLockSpace
