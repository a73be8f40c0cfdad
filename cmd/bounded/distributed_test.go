//go:build unix

package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func (s *shop) process(t testing.TB, service string) processJSON {
	t.Helper()
	var ps processesJSON
	s.must(t, "GET", "/ops/processes", nil, true, http.StatusOK, &ps)
	for _, p := range ps.Processes {
		if p.Service == service {
			return p
		}
	}
	t.Fatalf("no process of %s in %+v", service, ps)
	return processJSON{}
}

// kill9 kills service's process as kill -9 would, through the gateway's
// POST /ops/processes/{service}/kill, and waits until the supervisor has
// started it again.
func (s *shop) kill9(t *testing.T, service string) {
	t.Helper()
	before := s.process(t, service)
	if before.Status != "running" {
		t.Fatalf("%s is %s before the kill", service, before.Status)
	}
	var killed processJSON
	s.must(t, "POST", "/ops/processes/"+service+"/kill", nil, true, http.StatusAccepted, &killed)
	if killed.PID != before.PID || killed.Service != service {
		t.Fatalf("killed %+v, want %s's process %d", killed, service, before.PID)
	}
	t.Logf("killed %s (pid %d) with SIGKILL", service, before.PID)
	eventually(t, service+" started again", func() bool {
		p := s.process(t, service)
		return p.Status == "running" && p.PID != before.PID && p.Restarts == before.Restarts+1
	})
}

// TestKillAServiceProcessInABurstOfOrders kills Payments and then
// Inventory with kill -9 while a burst of checkouts is under way. The
// supervisor starts each again; every order still reaches a final state, no
// event is lost, no payment is taken twice and no stock moves twice.
func TestKillAServiceProcessInABurstOfOrders(t *testing.T) {
	const orders, units, price = 60, 40, 1100
	s := startShop(t, "", distributedFlags(t)...)
	// The events a killed process had taken and not acknowledged are
	// delivered again after the consumers' AckWait (30 s).
	s.settleWithin = 90 * time.Second
	s.product(t, "E2E-KILL", price, units)
	carts := make([]string, orders)
	for i := range carts {
		carts[i] = s.cart(t, "E2E-KILL", 1)
	}
	tokens := []string{"tok_approve", "tok_approve", "tok_flaky", "tok_decline"}
	ids := make([]string, orders)
	var wg sync.WaitGroup
	for i := range carts {
		switch i {
		case orders / 3:
			s.kill9(t, "payments")
		case 2 * orders / 3:
			s.kill9(t, "inventory")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = s.checkout(t, carts[i], tokens[i%len(tokens)])
		}()
		time.Sleep(20 * time.Millisecond) // a burst, spread over the kills
	}
	wg.Wait()

	var shipped, shippedValue, captured, refunded int64
	for i, id := range ids {
		o := s.settled(t, id)
		ps := s.payments(t, id)
		if len(ps) > 1 {
			t.Errorf("order %s has %d payments, want at most one", id, len(ps))
		}
		charges := 0
		for _, p := range ps {
			if p.ChargeID != nil {
				charges++
				captured += p.AmountCents
			}
			for _, r := range p.Refunds {
				refunded += r.AmountCents
			}
		}
		switch o.Status {
		case "shipped":
			shipped++
			shippedValue += o.TotalCents
			if charges != 1 {
				t.Errorf("shipped order %s has %d charges, want 1", id, charges)
			}
			if ss := s.shipments(t, id); len(ss) != 1 {
				t.Errorf("shipped order %s has %d shipments, want 1", id, len(ss))
			}
		case "cancelled":
			// A declined card's order is cancelled for the decline, or for
			// the stock when its reservation failed first (a kill can hold
			// the payment back for the consumers' AckWait while the stock
			// runs out); either way it is never charged.
			if tokens[i%len(tokens)] == "tok_decline" && (o.CancelReason != "payment_declined" && o.CancelReason != "out_of_stock" || charges != 0) {
				t.Errorf("order %s with a declined card cancelled for %q with %d charges", id, o.CancelReason, charges)
			}
		}
		if tokens[i%len(tokens)] == "tok_decline" && o.Status != "cancelled" {
			t.Errorf("order %s with a declined card is %s, want cancelled", id, o.Status)
		}
	}
	// Money: what was kept is what was shipped, nothing charged twice.
	if captured-refunded != shippedValue {
		t.Errorf("captured %d − refunded %d = %d, want the shipped orders' value %d", captured, refunded, captured-refunded, shippedValue)
	}
	// Stock: every shipped unit left once, nothing is left reserved.
	if st := s.stock(t, "E2E-KILL"); st.OnHand != units-int(shipped) || st.Reserved != 0 {
		t.Errorf("stock %+v, want %d on hand (%d shipped of %d) and none reserved", st, units-int(shipped), shipped, units)
	}
	// A quarter of the cards are declined; of the rest, some find the
	// stock held by a reservation of an order about to be declined (the
	// payment and the reservation run side by side) and are cancelled
	// out_of_stock and refunded or voided.
	if eligible := int64(orders - orders/len(tokens)); shipped == 0 || shipped > min(units, eligible) {
		t.Errorf("%d orders shipped, want between 1 and %d", shipped, min(units, eligible))
	}
	var dls struct{ Count int }
	s.must(t, "GET", "/ops/dead-letters", nil, true, http.StatusOK, &dls)
	if dls.Count != 0 {
		t.Errorf("%d dead letters", dls.Count)
	}
	for _, svc := range []string{"payments", "inventory"} {
		if p := s.process(t, svc); p.Restarts != 1 {
			t.Errorf("%s restarted %d times, want 1", svc, p.Restarts)
		}
	}
	t.Logf("%d orders: %d shipped (%d cents), captured %d, refunded %d", orders, shipped, shippedValue, captured, refunded)
}

// replicaMetric reads a metric (summed over its series with the labels
// given, "name=value") from one process's own /metrics.
func replicaMetric(t *testing.T, p processJSON, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(p.Addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s replica %d: %v", p.Service, p.Replica, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			match = match && strings.Contains(line, k+`="`+v+`"`)
		}
		if !match {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

func (s *shop) replicas(t *testing.T, service string) []processJSON {
	t.Helper()
	var ps processesJSON
	s.must(t, "GET", "/ops/processes", nil, true, http.StatusOK, &ps)
	var out []processJSON
	for _, p := range ps.Processes {
		if p.Service == service {
			out = append(out, p)
		}
	}
	return out
}

// TestReplicasShareTheWork runs Payments as two processes (--replicas):
// both consume the orders stream's events, one relay publishes; when the
// leading one is killed with kill -9, the orders placed after still ship.
func TestReplicasShareTheWork(t *testing.T) {
	s := startShop(t, "", append(distributedFlags(t), "--replicas", "payments=2")...)
	s.product(t, "E2E-REPLICAS", 900, 100)
	order := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = s.checkout(t, s.cart(t, "E2E-REPLICAS", 1), "tok_approve")
		}
		for _, id := range ids {
			if o := s.settled(t, id); o.Status != "shipped" {
				t.Fatalf("order %+v, want shipped", o)
			}
		}
		return ids
	}
	order(30)
	ps := s.replicas(t, "payments")
	if len(ps) != 2 {
		t.Fatalf("payments runs as %d processes, want 2: %+v", len(ps), ps)
	}
	var leader *processJSON
	for i, p := range ps {
		handled := replicaMetric(t, p, "bounded_inbox_handled_total", "service=payments")
		leads := replicaMetric(t, p, "bounded_relay_leader", "service=payments")
		t.Logf("payments replica %d (pid %d): %v events handled, relay leader %v", p.Replica, p.PID, handled, leads)
		if handled == 0 {
			t.Errorf("payments replica %d handled no event: the replicas do not share the durable consumer's work", p.Replica)
		}
		if leads == 1 {
			if leader != nil {
				t.Fatalf("two payments relays lead at once")
			}
			leader = &ps[i]
		}
	}
	if leader == nil {
		t.Fatal("no payments relay leads")
	}
	if err := syscall.Kill(leader.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	t.Logf("killed the leading payments replica %d (pid %d)", leader.Replica, leader.PID)
	eventually(t, "another payments relay to lead", func() bool {
		for _, p := range s.replicas(t, "payments") {
			if p.Status == "running" && p.PID != leader.PID && replicaMetric(t, p, "bounded_relay_leader", "service=payments") == 1 {
				t.Logf("payments replica %d (pid %d) leads %s after the kill", p.Replica, p.PID, time.Since(killed).Round(10*time.Millisecond))
				return true
			}
		}
		return false
	})
	order(10)
}
