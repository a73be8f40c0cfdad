package payments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// StoredSimulator is the Simulator's gateway with its records in the
// Payments database (the gateway_sim_* tables of Payments' migrations). It
// is the shop's default gateway: a real gateway is one service that every
// replica of Payments calls and that keeps its idempotency keys for good,
// and so is this one. A charge made through one replica is refunded
// through another, a call repeated by another replica after a crash (or a
// lease that ran out) returns the first answer instead of charging again,
// tok_flaky counts its calls across replicas, a lookup through one replica
// finds a charge made through another, and a restart forgets nothing.
//
// It follows the Simulator's rules to the letter. Each call is a
// transaction of its own, never the caller's (a gateway's records do not
// commit or roll back with what Payments records about them). It is safe
// for concurrent use by any number of processes: calls with one
// idempotency key take turns (a row lock on PostgreSQL, the single writer
// on SQLite), and so do refunds of one charge. A database error is a
// temporary failure of the gateway (ErrTemporary).
type StoredSimulator struct {
	db  *sqldb.DB
	cfg SimulatorConfig
}

var _ Gateway = (*StoredSimulator)(nil)

// NewStoredSimulator returns a StoredSimulator on db, which must hold
// Payments' tables (the service migrates them at start).
func NewStoredSimulator(db *sqldb.DB, cfg SimulatorConfig) *StoredSimulator {
	return &StoredSimulator{db: db, cfg: cfg}
}

// Charge charges req.Token; see Simulator.
func (s *StoredSimulator) Charge(ctx context.Context, req ChargeRequest) (Charge, error) {
	if err := checkChargeRequest(req); err != nil {
		return Charge{}, err
	}
	if err := simWait(ctx, s.cfg.Latency); err != nil {
		return Charge{}, err
	}
	var (
		c       *SimCharge
		callErr error // the call's answer, committed with its count
	)
	err := s.db.Transact(ctx, func(tx *sqldb.Tx) error {
		n, err := countSimCall(ctx, tx, "charge", req.IdempotencyKey)
		if err != nil {
			return err
		}
		if c, err = simChargeByKey(ctx, tx, req.IdempotencyKey); err != nil || c != nil {
			return err
		}
		if c, callErr = newSimCharge(req, n, now()); callErr != nil {
			return nil
		}
		return insertSimCharge(ctx, tx, c)
	})
	if err != nil {
		return Charge{}, fmt.Errorf("%w: the simulator's records: %w", ErrTemporary, err)
	}
	if callErr != nil {
		return Charge{}, callErr
	}
	return c.answer(req)
}

// Refund gives back part or all of an approved charge; see Simulator.
func (s *StoredSimulator) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	if err := checkRefundRequest(req); err != nil {
		return RefundResult{}, err
	}
	if err := simWait(ctx, s.cfg.Latency); err != nil {
		return RefundResult{}, err
	}
	var (
		r       *SimRefund
		callErr error
	)
	err := s.db.Transact(ctx, func(tx *sqldb.Tx) error {
		n, err := countSimCall(ctx, tx, "refund", req.IdempotencyKey)
		if err != nil {
			return err
		}
		if n <= s.cfg.RefundFailures {
			callErr = refundHiccup(n)
			return nil
		}
		if r, err = simRefundByKey(ctx, tx, req.IdempotencyKey); err != nil || r != nil {
			return err
		}
		c, err := lockSimCharge(ctx, tx, req.ChargeID)
		if err != nil {
			return err
		}
		if callErr = c.canRefund(req); callErr != nil {
			return nil
		}
		r = newSimRefund(req, now())
		return insertSimRefund(ctx, tx, r)
	})
	if err != nil {
		return RefundResult{}, fmt.Errorf("%w: the simulator's records: %w", ErrTemporary, err)
	}
	if callErr != nil {
		return RefundResult{}, callErr
	}
	return r.answer(req)
}

// LookupCharge returns the charge made under key; see Simulator.
func (s *StoredSimulator) LookupCharge(ctx context.Context, key string) (Charge, bool, error) {
	if err := checkLookup(key); err != nil {
		return Charge{}, false, err
	}
	if err := simWait(ctx, s.cfg.Latency); err != nil {
		return Charge{}, false, err
	}
	var (
		c       *SimCharge
		callErr error
	)
	err := s.db.Transact(ctx, func(tx *sqldb.Tx) error {
		n, err := countSimCall(ctx, tx, "lookup", key)
		if err != nil {
			return err
		}
		if n <= s.cfg.LookupFailures {
			callErr = lookupHiccup(n)
			return nil
		}
		c, err = simChargeByKey(ctx, tx, key)
		return err
	})
	if err != nil {
		return Charge{}, false, fmt.Errorf("%w: the simulator's records: %w", ErrTemporary, err)
	}
	if callErr != nil {
		return Charge{}, false, callErr
	}
	if c == nil {
		return Charge{}, false, nil
	}
	return c.found(), true, nil
}

// Charges returns the approved charges, oldest first.
func (s *StoredSimulator) Charges(ctx context.Context) ([]SimCharge, error) {
	return s.ChargesFor(ctx, "")
}

// ChargesFor returns the approved charges whose Reference is ref (an order
// id, for Payments), oldest first; all of them when ref is empty.
func (s *StoredSimulator) ChargesFor(ctx context.Context, ref string) ([]SimCharge, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Dialect().Rebind(`SELECT `+simChargeCols+` FROM gateway_sim_charges
		WHERE approved AND ($1 = '' OR reference = $1) ORDER BY at, idempotency_key`), ref)
	if err != nil {
		return nil, fmt.Errorf("simulator: charges: %w", err)
	}
	defer rows.Close()
	var out []SimCharge
	for rows.Next() {
		c, err := scanSimCharge(rows)
		if err != nil {
			return nil, fmt.Errorf("simulator: charges: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// Refunds returns the refunds made, oldest first.
func (s *StoredSimulator) Refunds(ctx context.Context) ([]SimRefund, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+simRefundCols+` FROM gateway_sim_refunds ORDER BY at, idempotency_key`)
	if err != nil {
		return nil, fmt.Errorf("simulator: refunds: %w", err)
	}
	defer rows.Close()
	var out []SimRefund
	for rows.Next() {
		r, err := scanSimRefund(rows)
		if err != nil {
			return nil, fmt.Errorf("simulator: refunds: %w", err)
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// ChargeCalls returns how many Charge calls reached the simulator with
// idempotency key key, as Simulator.ChargeCalls.
func (s *StoredSimulator) ChargeCalls(ctx context.Context, key string) (int, error) {
	return s.calls(ctx, "charge", key)
}

// LookupCalls returns how many LookupCharge calls reached the simulator
// with key key, as Simulator.LookupCalls.
func (s *StoredSimulator) LookupCalls(ctx context.Context, key string) (int, error) {
	return s.calls(ctx, "lookup", key)
}

func (s *StoredSimulator) calls(ctx context.Context, kind, key string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Dialect().Rebind(`SELECT n FROM gateway_sim_calls WHERE kind = $1 AND idempotency_key = $2`), kind, key).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("simulator: %s calls: %w", kind, err)
	}
	return n, nil
}

// countSimCall counts one more call of kind with key and returns the count.
// Its row stays locked until tx ends, so calls with one key take turns.
func countSimCall(ctx context.Context, tx *sqldb.Tx, kind, key string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, tx.Dialect().Rebind(`INSERT INTO gateway_sim_calls (kind, idempotency_key, n) VALUES ($1, $2, 1)
		ON CONFLICT (kind, idempotency_key) DO UPDATE SET n = gateway_sim_calls.n + 1 RETURNING n`), kind, key).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s call: %w", kind, err)
	}
	return n, nil
}

const simChargeCols = `idempotency_key, id, token, reference, amount_cents, currency, approved, decline_reason, refunded_cents, at`

func scanSimCharge(sc interface{ Scan(...any) error }) (*SimCharge, error) {
	c := &SimCharge{}
	var id sql.NullString
	err := sc.Scan(&c.IdempotencyKey, &id, &c.Token, &c.Reference, &c.AmountCents, &c.Currency, &c.Approved,
		&c.DeclineReason, &c.RefundedCents, sqldb.TimeCol{T: &c.At})
	c.ID = id.String
	return c, err
}

// simChargeByKey returns the charge made with key, or nil.
func simChargeByKey(ctx context.Context, tx *sqldb.Tx, key string) (*SimCharge, error) {
	c, err := scanSimCharge(tx.QueryRowContext(ctx, tx.Dialect().Rebind(`SELECT `+simChargeCols+` FROM gateway_sim_charges
		WHERE idempotency_key = $1`), key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read charge: %w", err)
	}
	return c, nil
}

// lockSimCharge returns the approved charge with id, locked for tx, or nil.
func lockSimCharge(ctx context.Context, tx *sqldb.Tx, id string) (*SimCharge, error) {
	d := tx.Dialect()
	c, err := scanSimCharge(tx.QueryRowContext(ctx, d.Rebind(`SELECT `+simChargeCols+` FROM gateway_sim_charges
		WHERE id = $1`+forUpdate(d)), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read charge: %w", err)
	}
	return c, nil
}

func insertSimCharge(ctx context.Context, tx *sqldb.Tx, c *SimCharge) error {
	d := tx.Dialect()
	var id any
	if c.ID != "" {
		id = c.ID
	}
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO gateway_sim_charges (`+simChargeCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`),
		c.IdempotencyKey, id, c.Token, c.Reference, c.AmountCents, c.Currency, c.Approved, c.DeclineReason, c.RefundedCents, sqldb.TimeArg(d, c.At))
	if err != nil {
		return fmt.Errorf("insert charge: %w", err)
	}
	return nil
}

const simRefundCols = `idempotency_key, id, charge_id, amount_cents, currency, at`

func scanSimRefund(sc interface{ Scan(...any) error }) (*SimRefund, error) {
	r := &SimRefund{}
	err := sc.Scan(&r.IdempotencyKey, &r.ID, &r.ChargeID, &r.AmountCents, &r.Currency, sqldb.TimeCol{T: &r.At})
	return r, err
}

// simRefundByKey returns the refund made with key, or nil.
func simRefundByKey(ctx context.Context, tx *sqldb.Tx, key string) (*SimRefund, error) {
	r, err := scanSimRefund(tx.QueryRowContext(ctx, tx.Dialect().Rebind(`SELECT `+simRefundCols+` FROM gateway_sim_refunds
		WHERE idempotency_key = $1`), key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read refund: %w", err)
	}
	return r, nil
}

// insertSimRefund records r and takes its amount off its (locked) charge.
func insertSimRefund(ctx context.Context, tx *sqldb.Tx, r *SimRefund) error {
	d := tx.Dialect()
	if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE gateway_sim_charges SET refunded_cents = refunded_cents + $2 WHERE id = $1`),
		r.ChargeID, r.AmountCents); err != nil {
		return fmt.Errorf("refund charge: %w", err)
	}
	if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO gateway_sim_refunds (`+simRefundCols+`) VALUES ($1, $2, $3, $4, $5, $6)`),
		r.IdempotencyKey, r.ID, r.ChargeID, r.AmountCents, r.Currency, sqldb.TimeArg(d, r.At)); err != nil {
		return fmt.Errorf("insert refund: %w", err)
	}
	return nil
}
