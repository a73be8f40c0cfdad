package payments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// The store is the only code that knows the tables. Times are timestamptz
// on PostgreSQL and INTEGER unix milliseconds on SQLite (the domain keeps
// them at millisecond precision so both read back equal). Writes take the
// caller's transaction; reads outside one use the read pool.

// querier is what reads need: a transaction or the read pool.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// forUpdate locks the selected rows on PostgreSQL; SQLite has one writer,
// so a transaction there holds everything it reads.
func forUpdate(d sqldb.Dialect) string {
	if d == sqldb.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// orderLockSpace is the first key of the two-key advisory locks lockOrder
// takes, apart from the outbox's (which locks per event subject).
const orderLockSpace = 0x7061

// lockOrder makes the transactions that apply events of one order take
// turns, on PostgreSQL, until tx ends. Replicas of the service share one
// durable consumer, so order_confirmed and order_cancelled of one order may
// be applied at once by two of them, each unable to see what the other has
// not committed: the confirmation would insert the payment after the
// cancellation had found none and only remembered the order as cancelled,
// and the payment would be charged for a cancelled order and never
// refunded. After the lock, each sees what the other committed. SQLite runs
// one write transaction at a time.
func lockOrder(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	if tx.Dialect() != sqldb.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+strconv.Itoa(orderLockSpace)+`, hashtext($1))`, orderID); err != nil {
		return fmt.Errorf("lock order %s: %w", orderID, err)
	}
	return nil
}

const paymentCols = `id, order_id, status, amount_cents, currency, token, attempts, charge_id, reason, next_attempt_at, created_at, updated_at,
	outcome_unknown_since, lookups`

func scanPayment(sc interface{ Scan(...any) error }) (*Payment, error) {
	p := &Payment{}
	err := sc.Scan(&p.id, &p.orderID, &p.status, &p.amountCents, &p.currency, &p.token, &p.attempts, &p.chargeID,
		&p.reason, sqldb.TimeCol{T: &p.nextAttemptAt}, sqldb.TimeCol{T: &p.createdAt}, sqldb.TimeCol{T: &p.updatedAt}, sqldb.TimeCol{T: &p.unknownSince}, &p.lookups)
	return p, err
}

// insertPayment inserts p unless the order already has a payment (a
// duplicate order_confirmed) or was cancelled before it was confirmed; it
// reports whether it did.
func insertPayment(ctx context.Context, tx *sqldb.Tx, p *Payment) (bool, error) {
	d := tx.Dialect()
	res, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO payments (`+paymentCols+`)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
		WHERE NOT EXISTS (SELECT 1 FROM order_cancellations WHERE order_id = $2)
		ON CONFLICT (order_id) DO NOTHING`),
		p.id, p.orderID, p.status, p.amountCents, p.currency, p.token, p.attempts, p.chargeID, p.reason,
		sqldb.TimeArg(d, p.nextAttemptAt), sqldb.TimeArg(d, p.createdAt), sqldb.TimeArg(d, p.updatedAt), sqldb.TimeArg(d, p.unknownSince), p.lookups)
	if err != nil {
		return false, fmt.Errorf("insert payment: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// lockPayment reads the payment with id (or, byOrder, of order id) for
// update; nil when there is none.
func lockPayment(ctx context.Context, tx *sqldb.Tx, id string, byOrder bool) (*Payment, error) {
	col := "id"
	if byOrder {
		col = "order_id"
	}
	d := tx.Dialect()
	p, err := scanPayment(tx.QueryRowContext(ctx, d.Rebind(`SELECT `+paymentCols+` FROM payments WHERE `+col+` = $1`+forUpdate(d)), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read payment: %w", err)
	}
	return p, nil
}

// updatePayment writes p's changeable fields and, release, gives up any
// claim on it (a worker recording its call's result). A cancellation keeps
// the claim: a worker whose call is in flight still holds the payment, and
// its lookup must wait for that call's result (or its lease) to be sure.
func updatePayment(ctx context.Context, tx *sqldb.Tx, p *Payment, release bool) error {
	d := tx.Dialect()
	claim := ""
	if release {
		claim = ", claimed_until = NULL"
	}
	_, err := tx.ExecContext(ctx, d.Rebind(`UPDATE payments SET status = $2, token = $3, attempts = $4, charge_id = $5,
		reason = $6, next_attempt_at = $7, updated_at = $8, outcome_unknown_since = $9, lookups = $10`+claim+` WHERE id = $1`),
		p.id, p.status, p.token, p.attempts, p.chargeID, p.reason, sqldb.TimeArg(d, p.nextAttemptAt), sqldb.TimeArg(d, p.updatedAt),
		sqldb.TimeArg(d, p.unknownSince), p.lookups)
	if err != nil {
		return fmt.Errorf("update payment: %w", err)
	}
	return nil
}

func insertAttempt(ctx context.Context, tx *sqldb.Tx, paymentID string, a Attempt) error {
	d := tx.Dialect()
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO payment_attempts (payment_id, n, at, outcome, reason, charge_id)
		VALUES ($1, $2, $3, $4, $5, $6)`), paymentID, a.N, sqldb.TimeArg(d, a.At), a.Outcome, a.Reason, a.ChargeID)
	if err != nil {
		return fmt.Errorf("insert attempt: %w", err)
	}
	return nil
}

// insertCancellation remembers that an order without a payment was
// cancelled, so that a later order_confirmed for it creates none.
func insertCancellation(ctx context.Context, tx *sqldb.Tx, orderID, reason string, at time.Time) error {
	d := tx.Dialect()
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO order_cancellations (order_id, reason, cancelled_at)
		VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING`), orderID, reason, sqldb.TimeArg(d, at))
	if err != nil {
		return fmt.Errorf("insert cancellation: %w", err)
	}
	return nil
}

const refundCols = `id, payment_id, order_id, charge_id, amount_cents, currency, reason, status, attempts, last_error,
	gateway_refund_id, next_attempt_at, created_at, refunded_at`

func scanRefund(sc interface{ Scan(...any) error }) (*Refund, error) {
	r := &Refund{}
	err := sc.Scan(&r.id, &r.paymentID, &r.orderID, &r.chargeID, &r.amountCents, &r.currency, &r.reason, &r.status,
		&r.attempts, &r.lastError, &r.gatewayRefundID, sqldb.TimeCol{T: &r.nextAttemptAt}, sqldb.TimeCol{T: &r.createdAt}, sqldb.TimeCol{T: &r.refundedAt})
	return r, err
}

// insertRefund inserts r unless its payment already has a refund; it
// reports whether it did.
func insertRefund(ctx context.Context, tx *sqldb.Tx, r *Refund) (bool, error) {
	d := tx.Dialect()
	res, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO refunds (`+refundCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (payment_id) DO NOTHING`),
		r.id, r.paymentID, r.orderID, r.chargeID, r.amountCents, r.currency, r.reason, r.status, r.attempts, r.lastError,
		r.gatewayRefundID, sqldb.TimeArg(d, r.nextAttemptAt), sqldb.TimeArg(d, r.createdAt), sqldb.TimeArg(d, r.refundedAt))
	if err != nil {
		return false, fmt.Errorf("insert refund: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// lockRefund reads the refund with id for update (nil when there is none).
// On PostgreSQL it locks the refund's payment first: every transaction that
// touches both rows locks the payment, then the refund, so that recording a
// refund cannot deadlock with a cancellation (which locks the payment and
// inserts the refund).
func lockRefund(ctx context.Context, tx *sqldb.Tx, id string) (*Refund, error) {
	d := tx.Dialect()
	if d == sqldb.Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM payments WHERE id = (SELECT payment_id FROM refunds WHERE id = $1) FOR UPDATE`, id); err != nil {
			return nil, fmt.Errorf("lock refund's payment: %w", err)
		}
	}
	r, err := scanRefund(tx.QueryRowContext(ctx, d.Rebind(`SELECT `+refundCols+` FROM refunds WHERE id = $1`+forUpdate(d)), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read refund: %w", err)
	}
	return r, nil
}

// updateRefund writes r's changeable fields, gives up any claim on it and,
// once it is issued, marks its payment refunded.
func updateRefund(ctx context.Context, tx *sqldb.Tx, r *Refund, now time.Time) error {
	d := tx.Dialect()
	_, err := tx.ExecContext(ctx, d.Rebind(`UPDATE refunds SET status = $2, attempts = $3, last_error = $4,
		gateway_refund_id = $5, next_attempt_at = $6, refunded_at = $7, claimed_until = NULL WHERE id = $1`),
		r.id, r.status, r.attempts, r.lastError, r.gatewayRefundID, sqldb.TimeArg(d, r.nextAttemptAt), sqldb.TimeArg(d, r.refundedAt))
	if err != nil {
		return fmt.Errorf("update refund: %w", err)
	}
	if r.status != RefundIssued {
		return nil
	}
	_, err = tx.ExecContext(ctx, d.Rebind(`UPDATE payments SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4`),
		r.paymentID, StatusRefunded, sqldb.TimeArg(d, now), StatusCaptured)
	if err != nil {
		return fmt.Errorf("mark payment refunded: %w", err)
	}
	return nil
}

// chargeTask is a payment claimed for a gateway call, until claim.
type chargeTask struct {
	paymentID, orderID, token, currency string
	amountCents                         int64
	claim                               time.Time
}

// refundTask is a refund claimed for a gateway call, until claim.
type refundTask struct {
	refundID, paymentID, chargeID, currency string
	amountCents                             int64
	claim                                   time.Time
}

// verifyTask is a payment whose outcome is unknown, claimed for a lookup,
// until claim.
type verifyTask struct {
	paymentID, orderID string
	claim              time.Time
}

// claimSQL is the claim statement on table: up to $3 rows that match which
// (pending ones, or those whose outcome is unknown), are due ($2 = now) and
// are not leased are leased until $1, oldest due first. On PostgreSQL SKIP
// LOCKED lets replicas claim side by side; SQLite's single writer
// serializes claims anyway.
func claimSQL(d sqldb.Dialect, table, which, returning string) string {
	lock := ""
	if d == sqldb.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return d.Rebind(`UPDATE ` + table + ` SET claimed_until = $1 WHERE id IN (
		SELECT id FROM ` + table + ` WHERE ` + which + ` AND next_attempt_at <= $2
			AND (claimed_until IS NULL OR claimed_until <= $2)
		ORDER BY next_attempt_at LIMIT $3` + lock + `)
		RETURNING ` + returning)
}

const (
	pendingRows = `status = 'pending'`
	unknownRows = `outcome_unknown_since IS NOT NULL` // never pending ones: see Payment.becomeUnknown
)

// claimCharges leases up to limit due pending payments until now+lease.
func claimCharges(ctx context.Context, tx *sqldb.Tx, now time.Time, lease time.Duration, limit int) ([]chargeTask, error) {
	d := tx.Dialect()
	rows, err := tx.QueryContext(ctx, claimSQL(d, "payments", pendingRows, "id, order_id, token, currency, amount_cents"),
		sqldb.TimeArg(d, now.Add(lease)), sqldb.TimeArg(d, now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim payments: %w", err)
	}
	defer rows.Close()
	var out []chargeTask
	for rows.Next() {
		t := chargeTask{claim: now.Add(lease)}
		if err := rows.Scan(&t.paymentID, &t.orderID, &t.token, &t.currency, &t.amountCents); err != nil {
			return nil, fmt.Errorf("claim payments: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// claimRefunds leases up to limit due pending refunds until now+lease.
func claimRefunds(ctx context.Context, tx *sqldb.Tx, now time.Time, lease time.Duration, limit int) ([]refundTask, error) {
	d := tx.Dialect()
	rows, err := tx.QueryContext(ctx, claimSQL(d, "refunds", pendingRows, "id, payment_id, charge_id, currency, amount_cents"),
		sqldb.TimeArg(d, now.Add(lease)), sqldb.TimeArg(d, now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim refunds: %w", err)
	}
	defer rows.Close()
	var out []refundTask
	for rows.Next() {
		t := refundTask{claim: now.Add(lease)}
		if err := rows.Scan(&t.refundID, &t.paymentID, &t.chargeID, &t.currency, &t.amountCents); err != nil {
			return nil, fmt.Errorf("claim refunds: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// claimVerifications leases up to limit payments due for a lookup (their
// outcome unknown) until now+lease. A payment still claimed by a charge
// worker (voided while its call was in flight) is not due until that
// worker records its result or its lease runs out.
func claimVerifications(ctx context.Context, tx *sqldb.Tx, now time.Time, lease time.Duration, limit int) ([]verifyTask, error) {
	d := tx.Dialect()
	rows, err := tx.QueryContext(ctx, claimSQL(d, "payments", unknownRows, "id, order_id"),
		sqldb.TimeArg(d, now.Add(lease)), sqldb.TimeArg(d, now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim lookups: %w", err)
	}
	defer rows.Close()
	var out []verifyTask
	for rows.Next() {
		t := verifyTask{claim: now.Add(lease)}
		if err := rows.Scan(&t.paymentID, &t.orderID); err != nil {
			return nil, fmt.Errorf("claim lookups: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// paymentView is a payment with its attempts and refunds, as the API shows it.
type paymentView struct {
	payment  *Payment
	attempts []Attempt
	refunds  []*Refund
}

// readPayments returns the payments whose column col ("id" or "order_id")
// is value, oldest first, with their attempts and refunds: three queries,
// whatever the number of payments.
func readPayments(ctx context.Context, db querier, d sqldb.Dialect, col, value string) ([]*paymentView, error) {
	rows, err := db.QueryContext(ctx, d.Rebind(`SELECT `+paymentCols+` FROM payments WHERE `+col+` = $1 ORDER BY created_at, id`), value)
	if err != nil {
		return nil, fmt.Errorf("read payments: %w", err)
	}
	var views []*paymentView
	byID := map[string]*paymentView{}
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read payments: %w", err)
		}
		v := &paymentView{payment: p}
		views = append(views, v)
		byID[p.id] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read payments: %w", err)
	}
	if len(views) == 0 {
		return nil, nil
	}
	sub := `SELECT id FROM payments WHERE ` + col + ` = $1`
	rows, err = db.QueryContext(ctx, d.Rebind(`SELECT payment_id, n, at, outcome, reason, charge_id FROM payment_attempts
		WHERE payment_id IN (`+sub+`) ORDER BY payment_id, n`), value)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	for rows.Next() {
		var pid string
		var a Attempt
		if err := rows.Scan(&pid, &a.N, sqldb.TimeCol{T: &a.At}, &a.Outcome, &a.Reason, &a.ChargeID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read attempts: %w", err)
		}
		if v := byID[pid]; v != nil {
			v.attempts = append(v.attempts, a)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	refunds, err := readRefunds(ctx, db, d, `payment_id IN (`+sub+`)`, value)
	if err != nil {
		return nil, err
	}
	for _, r := range refunds {
		if v := byID[r.paymentID]; v != nil {
			v.refunds = append(v.refunds, r)
		}
	}
	return views, nil
}

// readRefunds returns the refunds that match where (with $1 = arg), oldest
// first.
func readRefunds(ctx context.Context, db querier, d sqldb.Dialect, where, arg string) ([]*Refund, error) {
	rows, err := db.QueryContext(ctx, d.Rebind(`SELECT `+refundCols+` FROM refunds WHERE `+where+` ORDER BY created_at, id`), arg)
	if err != nil {
		return nil, fmt.Errorf("read refunds: %w", err)
	}
	defer rows.Close()
	var out []*Refund
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, fmt.Errorf("read refunds: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read refunds: %w", err)
	}
	return out, nil
}
