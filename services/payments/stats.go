package payments

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/outbox"
)

// Stats are Payments' totals, as `bounded reconcile` compares them with the
// warehouse's, per currency, with the outbox's position, all read in one
// statement (one snapshot).
type Stats struct {
	AsOf       time.Time       `json:"as_of"`
	Outbox     outbox.Position `json:"outbox"`
	ByCurrency []CurrencyTotal `json:"by_currency"`
}

// CurrencyTotal is one currency's payments and refunds. A payment counts
// once, by its status now: captured counts the payments whose money was
// taken (captured, or refunded since), declined and voided those that
// stayed so (a payment charged after it was declined or voided is
// captured). Refunds count those issued; RefundsPending those the gateway
// has yet to make. OutcomeUnknown counts the declined or voided payments
// whose gateway outcome a lookup has yet to settle: one may still turn
// out charged, and be captured and refunded.
type CurrencyTotal struct {
	Currency       string `json:"currency"`
	Pending        int64  `json:"pending"`
	Captured       int64  `json:"captured"`
	CapturedCents  int64  `json:"captured_cents"`
	Declined       int64  `json:"declined"`
	DeclinedCents  int64  `json:"declined_cents"`
	Voided         int64  `json:"voided"`
	VoidedCents    int64  `json:"voided_cents"`
	RefundsIssued  int64  `json:"refunds_issued"`
	RefundedCents  int64  `json:"refunded_cents"`
	RefundsPending int64  `json:"refunds_pending"`
	OutcomeUnknown int64  `json:"outcome_unknown"`
}

// stats reads the totals and the outbox's position in one statement.
func (s *svc) stats(ctx context.Context) (Stats, error) {
	out := Stats{ByCurrency: []CurrencyTotal{}}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT 'payment', status, currency, count(*), CAST(COALESCE(sum(amount_cents), 0) AS bigint)
FROM payments GROUP BY status, currency
UNION ALL SELECT 'refund', status, currency, count(*), CAST(COALESCE(sum(amount_cents), 0) AS bigint)
FROM refunds GROUP BY status, currency
UNION ALL SELECT 'unknown', '', currency, count(*), 0
FROM payments WHERE outcome_unknown_since IS NOT NULL GROUP BY currency
UNION ALL SELECT 'outbox', '', '', p.backlog, p.recorded FROM (`+outbox.PositionQuery(s.db.Dialect())+`) p`)
	if err != nil {
		return out, fmt.Errorf("payments: stats: %w", err)
	}
	defer rows.Close()
	byCur := map[string]*CurrencyTotal{}
	for rows.Next() {
		var kind, status, cur string
		var n, cents int64
		if err := rows.Scan(&kind, &status, &cur, &n, &cents); err != nil {
			return out, fmt.Errorf("payments: stats: %w", err)
		}
		if kind == "outbox" {
			out.Outbox = outbox.Position{Backlog: n, Recorded: cents}
			continue
		}
		t := byCur[cur]
		if t == nil {
			t = &CurrencyTotal{Currency: cur}
			byCur[cur] = t
		}
		switch kind + " " + status {
		case "payment " + string(StatusPending):
			t.Pending += n
		case "payment " + string(StatusCaptured), "payment " + string(StatusRefunded):
			t.Captured, t.CapturedCents = t.Captured+n, t.CapturedCents+cents
		case "payment " + string(StatusDeclined):
			t.Declined, t.DeclinedCents = t.Declined+n, t.DeclinedCents+cents
		case "payment " + string(StatusVoided):
			t.Voided, t.VoidedCents = t.Voided+n, t.VoidedCents+cents
		case "refund " + string(RefundIssued):
			t.RefundsIssued, t.RefundedCents = t.RefundsIssued+n, t.RefundedCents+cents
		case "refund " + string(RefundPending):
			t.RefundsPending += n
		case "unknown ":
			t.OutcomeUnknown += n
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("payments: stats: %w", err)
	}
	for _, t := range byCur {
		out.ByCurrency = append(out.ByCurrency, *t)
	}
	slices.SortFunc(out.ByCurrency, func(a, b CurrencyTotal) int { return strings.Compare(a.Currency, b.Currency) })
	out.AsOf = time.Now().UTC()
	return out, nil
}
