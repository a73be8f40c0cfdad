package payments_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/toolkittest"
	"github.com/bounded-dev/bounded/services/payments"
)

// simulator is a gateway simulator and what the tests read of its records.
// Every test of the simulators runs against each of them (eachSimulator).
type simulator interface {
	payments.Gateway
	charges(t testing.TB) []payments.SimCharge
	chargesFor(t testing.TB, ref string) []payments.SimCharge
	refunds(t testing.TB) []payments.SimRefund
	chargeCalls(t testing.TB, key string) int
	lookupCalls(t testing.TB, key string) int
}

type memorySimulator struct{ *payments.Simulator }

func (s memorySimulator) charges(testing.TB) []payments.SimCharge { return s.Charges() }
func (s memorySimulator) chargesFor(_ testing.TB, ref string) []payments.SimCharge {
	return s.ChargesFor(ref)
}
func (s memorySimulator) refunds(testing.TB) []payments.SimRefund  { return s.Refunds() }
func (s memorySimulator) chargeCalls(_ testing.TB, key string) int { return s.ChargeCalls(key) }
func (s memorySimulator) lookupCalls(_ testing.TB, key string) int { return s.LookupCalls(key) }

type storedSimulator struct{ *payments.StoredSimulator }

func (s storedSimulator) charges(t testing.TB) []payments.SimCharge { return s.chargesFor(t, "") }

func (s storedSimulator) chargesFor(t testing.TB, ref string) []payments.SimCharge {
	t.Helper()
	cs, err := s.ChargesFor(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func (s storedSimulator) refunds(t testing.TB) []payments.SimRefund {
	t.Helper()
	rs, err := s.Refunds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func (s storedSimulator) chargeCalls(t testing.TB, key string) int {
	t.Helper()
	n, err := s.ChargeCalls(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s storedSimulator) lookupCalls(t testing.TB, key string) int {
	t.Helper()
	n, err := s.LookupCalls(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// eachSimulator runs test, in parallel, against a Simulator and against a
// StoredSimulator on each dialect, each new and made with cfg.
func eachSimulator(t *testing.T, cfg payments.SimulatorConfig, test func(t *testing.T, sim simulator)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, memorySimulator{payments.NewSimulator(cfg)})
	})
	for _, d := range toolkittest.Dialects {
		t.Run("stored-"+string(d), func(t *testing.T) {
			t.Parallel()
			db := toolkittest.NewDB(t, d)
			if err := payments.Migrate(toolkittest.Context(t), db); err != nil {
				t.Fatal(err)
			}
			test(t, storedSimulator{payments.NewStoredSimulator(db, cfg)})
		})
	}
}

func charge(key, token string, amount int64) payments.ChargeRequest {
	return payments.ChargeRequest{IdempotencyKey: key, Token: token, AmountCents: amount, Currency: "EUR", Reference: "order-" + key}
}

func TestSimulatorTokens(t *testing.T) {
	eachSimulator(t, payments.SimulatorConfig{}, func(t *testing.T, sim simulator) {
		ctx := context.Background()
		for _, c := range []struct {
			token    string
			approved bool
			reason   string
		}{
			{payments.TokenApprove, true, ""},
			{payments.TokenDecline, false, "card_declined"},
			{payments.TokenInsufficientFunds, false, "insufficient_funds"},
			{"tok_whatever", false, "invalid_token"},
			{"", false, "invalid_token"},
		} {
			ch, err := sim.Charge(ctx, charge("k"+c.token, c.token, 100))
			if err != nil || ch.Approved != c.approved || ch.DeclineReason != c.reason || (ch.ID != "") != c.approved {
				t.Errorf("%q: %+v, %v", c.token, ch, err)
			}
		}
		// Flaky: temporary twice per key, then approved.
		for i := 1; i <= 3; i++ {
			ch, err := sim.Charge(ctx, charge("flaky", payments.TokenFlaky, 100))
			if i <= 2 && (!errors.Is(err, payments.ErrTemporary) || ch.Approved) {
				t.Fatalf("flaky call %d: %+v, %v", i, ch, err)
			}
			if i == 3 && (err != nil || !ch.Approved) {
				t.Fatalf("flaky call 3: %+v, %v", ch, err)
			}
		}
		if _, err := sim.Charge(ctx, charge("other-flaky", payments.TokenFlaky, 100)); !errors.Is(err, payments.ErrTemporary) {
			t.Fatalf("another key's first flaky call: %v", err)
		}
		// Unavailable: always temporary.
		for range 5 {
			if _, err := sim.Charge(ctx, charge("down", payments.TokenUnavailable, 100)); !errors.Is(err, payments.ErrTemporary) {
				t.Fatalf("unavailable: %v", err)
			}
		}
		if n := len(sim.charges(t)); n != 2 {
			t.Fatalf("%d charges, want 2 (approve, flaky)", n)
		}
		if n := sim.chargeCalls(t, "down"); n != 5 {
			t.Fatalf("ChargeCalls = %d", n)
		}
		// Invalid requests are refused and not temporary.
		for _, req := range []payments.ChargeRequest{
			{Token: payments.TokenApprove, AmountCents: 1, Currency: "EUR"},
			{IdempotencyKey: "z", Token: payments.TokenApprove, AmountCents: 0, Currency: "EUR"},
			{IdempotencyKey: "z", Token: payments.TokenApprove, AmountCents: 1, Currency: "eur"},
		} {
			if _, err := sim.Charge(ctx, req); !errors.Is(err, payments.ErrGatewayInvalidRequest) || errors.Is(err, payments.ErrTemporary) {
				t.Errorf("%+v: %v", req, err)
			}
		}
	})
}

func TestSimulatorIdempotency(t *testing.T) {
	eachSimulator(t, payments.SimulatorConfig{}, func(t *testing.T, sim simulator) {
		ctx := context.Background()
		first, err := sim.Charge(ctx, charge("pay-1", payments.TokenApprove, 500))
		if err != nil {
			t.Fatal(err)
		}
		again, err := sim.Charge(ctx, charge("pay-1", payments.TokenApprove, 500))
		if err != nil || again != first {
			t.Fatalf("same key: %+v %v, first %+v", again, err, first)
		}
		if _, err := sim.Charge(ctx, charge("pay-1", payments.TokenApprove, 501)); !errors.Is(err, payments.ErrIdempotencyMismatch) {
			t.Fatalf("same key, other amount: %v", err)
		}
		d1, _ := sim.Charge(ctx, charge("pay-2", payments.TokenDecline, 500))
		d2, _ := sim.Charge(ctx, charge("pay-2", payments.TokenDecline, 500))
		if d1 != d2 || d1.Approved {
			t.Fatalf("a decline repeated: %+v %+v", d1, d2)
		}
		if c := sim.charges(t); len(c) != 1 || c[0].ID != first.ID || c[0].Reference != "order-pay-1" {
			t.Fatalf("charges = %+v", c)
		}
		if c := sim.chargesFor(t, "order-pay-1"); len(c) != 1 {
			t.Fatalf("ChargesFor = %+v", c)
		}

		// Refunds: by key, at most the charge, twice with one key is one refund.
		refund := func(key string, amount int64) (payments.RefundResult, error) {
			return sim.Refund(ctx, payments.RefundRequest{IdempotencyKey: key, ChargeID: first.ID, AmountCents: amount, Currency: "EUR"})
		}
		r1, err := refund("ref-1", 300)
		if err != nil || r1.ID == "" {
			t.Fatalf("refund: %+v %v", r1, err)
		}
		r1again, err := refund("ref-1", 300)
		if err != nil || r1again != r1 {
			t.Fatalf("refund again: %+v %v", r1again, err)
		}
		if _, err := refund("ref-2", 201); !errors.Is(err, payments.ErrRefundExceedsCharge) {
			t.Fatalf("refund beyond the charge: %v", err)
		}
		if _, err := refund("ref-2", 200); err != nil {
			t.Fatalf("the rest: %v", err)
		}
		if _, err := refund("ref-3", 1); !errors.Is(err, payments.ErrRefundExceedsCharge) {
			t.Fatalf("refund of a fully refunded charge: %v", err)
		}
		if _, err := refund("ref-1", 250); !errors.Is(err, payments.ErrIdempotencyMismatch) {
			t.Fatalf("refund key reused with another amount: %v", err)
		}
		if _, err := sim.Refund(ctx, payments.RefundRequest{IdempotencyKey: "ref-4", ChargeID: "ch_nope", AmountCents: 1, Currency: "EUR"}); !errors.Is(err, payments.ErrUnknownCharge) {
			t.Fatalf("refund of an unknown charge: %v", err)
		}
		if rs := sim.refunds(t); len(rs) != 2 || rs[0].AmountCents+rs[1].AmountCents != 500 {
			t.Fatalf("refunds = %+v", rs)
		}
	})
}

// TestSimulatorLookup: LookupCharge finds the charge made under a key,
// approved or declined, and nothing for a key that never charged;
// tok_charged_timeout charges once yet every Charge call fails temporarily,
// and only the lookup shows the charge.
func TestSimulatorLookup(t *testing.T) {
	eachSimulator(t, payments.SimulatorConfig{}, func(t *testing.T, sim simulator) {
		ctx := context.Background()
		approved, err := sim.Charge(ctx, charge("ok", payments.TokenApprove, 100))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = sim.Charge(ctx, charge("no", payments.TokenDecline, 100))
		_, _ = sim.Charge(ctx, charge("down", payments.TokenUnavailable, 100))
		for key, want := range map[string]struct {
			found bool
			ch    payments.Charge
		}{
			"ok":    {true, approved},
			"no":    {true, payments.Charge{DeclineReason: "card_declined"}},
			"down":  {false, payments.Charge{}},
			"never": {false, payments.Charge{}},
		} {
			ch, found, err := sim.LookupCharge(ctx, key)
			if err != nil || found != want.found || ch != want.ch {
				t.Errorf("LookupCharge(%q) = %+v, %v, %v; want %+v, %v", key, ch, found, err, want.ch, want.found)
			}
		}
		for i := 1; i <= 3; i++ {
			ch, err := sim.Charge(ctx, charge("lost", payments.TokenChargedTimeout, 700))
			if !errors.Is(err, payments.ErrTemporary) || ch.Approved {
				t.Fatalf("charged_timeout call %d: %+v, %v", i, ch, err)
			}
		}
		cs := sim.chargesFor(t, "order-lost")
		if len(cs) != 1 || cs[0].AmountCents != 700 || cs[0].ID == "" {
			t.Fatalf("charged_timeout: charges %+v, want one", cs)
		}
		ch, found, err := sim.LookupCharge(ctx, "lost")
		if err != nil || !found || !ch.Approved || ch.ID != cs[0].ID {
			t.Fatalf("LookupCharge(lost) = %+v, %v, %v; want the charge %s", ch, found, err, cs[0].ID)
		}
		if _, _, err := sim.LookupCharge(ctx, ""); !errors.Is(err, payments.ErrGatewayInvalidRequest) {
			t.Fatalf("LookupCharge without a key: %v", err)
		}
		if n := sim.lookupCalls(t, "lost"); n != 1 {
			t.Fatalf("LookupCalls = %d", n)
		}
	})
}

func TestSimulatorLookupFailures(t *testing.T) {
	eachSimulator(t, payments.SimulatorConfig{LookupFailures: 2}, func(t *testing.T, sim simulator) {
		ctx := context.Background()
		ch, _ := sim.Charge(ctx, charge("p", payments.TokenApprove, 100))
		for i := 1; i <= 2; i++ {
			if _, found, err := sim.LookupCharge(ctx, "p"); !errors.Is(err, payments.ErrTemporary) || found {
				t.Fatalf("lookup call %d: %v, %v", i, found, err)
			}
		}
		if got, found, err := sim.LookupCharge(ctx, "p"); err != nil || !found || got != ch {
			t.Fatalf("lookup call 3: %+v, %v, %v", got, found, err)
		}
		if n := sim.lookupCalls(t, "p"); n != 3 {
			t.Fatalf("LookupCalls = %d", n)
		}
	})
}

func TestSimulatorRefundFailures(t *testing.T) {
	eachSimulator(t, payments.SimulatorConfig{RefundFailures: 2}, func(t *testing.T, sim simulator) {
		ctx := context.Background()
		ch, _ := sim.Charge(ctx, charge("p", payments.TokenApprove, 100))
		req := payments.RefundRequest{IdempotencyKey: "r", ChargeID: ch.ID, AmountCents: 100, Currency: "EUR"}
		for i := 1; i <= 2; i++ {
			if _, err := sim.Refund(ctx, req); !errors.Is(err, payments.ErrTemporary) {
				t.Fatalf("refund call %d: %v", i, err)
			}
		}
		if _, err := sim.Refund(ctx, req); err != nil {
			t.Fatalf("refund call 3: %v", err)
		}
	})
}

func TestSimulatorLatency(t *testing.T) {
	eachSimulator(t, payments.SimulatorConfig{Latency: 50 * time.Millisecond}, func(t *testing.T, sim simulator) {
		start := time.Now()
		if _, err := sim.Charge(context.Background(), charge("slow", payments.TokenApprove, 1)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Fatalf("a call took %s, latency is 50ms", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		if _, err := sim.Charge(ctx, charge("cut", payments.TokenApprove, 1)); !errors.Is(err, payments.ErrTemporary) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a call cut short: %v", err)
		}
		if n := len(sim.chargesFor(t, "order-cut")); n != 0 {
			t.Fatal("a call cut short charged")
		}
	})
}

// TestSimulatorConcurrency hammers the simulator from many goroutines (run
// with -race): one key charged concurrently is one charge; refunds of one
// charge under distinct keys never exceed it; flaky keys approve exactly on
// their third call.
func TestSimulatorConcurrency(t *testing.T) {
	eachSimulator(t, payments.SimulatorConfig{Latency: time.Millisecond}, func(t *testing.T, sim simulator) {
		ctx := context.Background()
		const n = 64
		var wg sync.WaitGroup
		ids := make([]string, n)
		for i := range n {
			wg.Go(func() {
				ch, err := sim.Charge(ctx, charge("same", payments.TokenApprove, 1000))
				if err != nil {
					t.Error(err)
				}
				ids[i] = ch.ID
			})
			wg.Go(func() {
				_, _ = sim.Charge(ctx, charge(fmt.Sprint("flaky-", i%8), payments.TokenFlaky, 10))
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] || id == "" {
				t.Fatalf("one key, several charges: %q vs %q", id, ids[0])
			}
		}
		if c := sim.chargesFor(t, "order-same"); len(c) != 1 {
			t.Fatalf("%d charges for one key", len(c))
		}
		for k := range 8 {
			key := fmt.Sprint("flaky-", k)
			if calls, charged := sim.chargeCalls(t, key), len(sim.chargesFor(t, "order-"+key)); calls != 8 || charged != 1 {
				t.Fatalf("%s: %d calls, %d charges", key, calls, charged)
			}
		}
		// 64 refunds of 100 against a charge of 1000: exactly 10 succeed.
		var mu sync.Mutex
		ok := 0
		for i := range n {
			wg.Go(func() {
				_, err := sim.Refund(ctx, payments.RefundRequest{IdempotencyKey: fmt.Sprint("r", i), ChargeID: ids[0], AmountCents: 100, Currency: "EUR"})
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if !errors.Is(err, payments.ErrRefundExceedsCharge) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok != 10 || len(sim.refunds(t)) != 10 {
			t.Fatalf("%d refunds succeeded, %d recorded; want 10", ok, len(sim.refunds(t)))
		}
	})
}
