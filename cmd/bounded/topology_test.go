package main

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
)

// The floor: ../shared/DESIGN.md's owned-data table. Every aggregate and
// every consumed event in it must exist in the services' own registrations.
var ownedDataFloor = []struct {
	service    string
	aggregates []string
	consumes   []string
}{
	{"catalog", []string{"Product", "Category"}, nil},
	{"cart", []string{"Cart", "CartItem"}, []string{"catalog.product_updated"}},
	{"orders", []string{"Order", "OrderItem"}, []string{"catalog.product_updated", "fulfillment.shipment_dispatched"}},
	{"payments", []string{"PaymentAttempt", "Refund"}, []string{"orders.order_confirmed"}},
	{"inventory", []string{"StockItem", "Reservation", "PurchaseOrder"}, []string{"orders.order_confirmed", "fulfillment.shipment_dispatched"}},
	{"fulfillment", []string{"Shipment", "PackagingRule"}, []string{"orders.order_confirmed", "inventory.reservation_confirmed"}},
	// Reporting consumes every event (checked below) and owns only its warehouse.
	{"reporting", []string{"Fact", "Dimension"}, nil},
}

func runMain(t *testing.T, args ...string) (stdout string, code int) {
	t.Helper()
	var out strings.Builder
	m := &Main{Stdout: &out, Stderr: io.Discard}
	code = m.Main(context.Background(), args)
	return out.String(), code
}

func TestTopologyCoversTheOwnedDataTable(t *testing.T) {
	out, code := runMain(t, "topology", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var top topology
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatal(err)
	}
	published := map[string]bool{}
	for _, s := range top.Services {
		for _, p := range s.Publishes {
			name, _, _ := strings.Cut(p, " ")
			published[name] = true
		}
	}
	for _, want := range ownedDataFloor {
		i := slices.IndexFunc(top.Services, func(s topoService) bool { return s.Name == want.service })
		if i < 0 {
			t.Errorf("no service %s", want.service)
			continue
		}
		s := top.Services[i]
		for _, a := range want.aggregates {
			if !slices.Contains(s.Aggregates, a) {
				t.Errorf("%s does not own %s (owns %v)", s.Name, a, s.Aggregates)
			}
		}
		for _, e := range want.consumes {
			if !slices.Contains(s.Consumes, e) {
				t.Errorf("%s does not consume %s (consumes %v)", s.Name, e, s.Consumes)
			}
		}
	}
	// Every consumed event is published by someone, and every flow names a pattern.
	for _, s := range top.Services {
		for _, e := range s.Consumes {
			if !published[e] {
				t.Errorf("%s consumes %s, which no service publishes", s.Name, e)
			}
		}
	}
	for _, f := range top.Flows {
		if f.Pattern == "" || f.Why == "" || f.From == f.To {
			t.Errorf("flow %+v: want a pattern, a reason, and two services", f)
		}
	}
}

func TestTopologyPrintsATable(t *testing.T) {
	out, code := runMain(t, "topology")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"SERVICE", "DATABASE", "catalog.product_updated (v1, v2)", "event-carried state transfer", "API composition", "FLOWS"} {
		if !strings.Contains(out, want) {
			t.Errorf("topology output lacks %q:\n%s", want, out)
		}
	}
	md, code := runMain(t, "topology", "--format", "markdown")
	if code != 0 || !strings.HasPrefix(md, "| Service | Database |") {
		t.Fatalf("markdown (exit %d):\n%s", code, md)
	}
	if _, code := runMain(t, "topology", "--format", "yaml"); code != 2 {
		t.Fatalf("bad format: exit %d, want 2", code)
	}
}

// TestTopologyReportingIsAConsumer: Reporting consumes every event every
// other service publishes, publishes none, calls no API and owns only its
// warehouse (facts, dimensions and the read model kept from them).
func TestTopologyReportingIsAConsumer(t *testing.T) {
	top := buildTopology(shopSpecs(shopConfig{}))
	var rep *topoService
	var published []string
	for i, s := range top.Services {
		if s.Name == "reporting" {
			rep = &top.Services[i]
			continue
		}
		for _, p := range s.Publishes {
			name, _, _ := strings.Cut(p, " ")
			published = append(published, name)
		}
	}
	if rep == nil {
		t.Fatal("no reporting service")
	}
	slices.Sort(published)
	consumes := slices.Sorted(slices.Values(rep.Consumes))
	if !slices.Equal(consumes, published) {
		t.Errorf("reporting consumes %v, want every published event %v", consumes, published)
	}
	if len(rep.Publishes) != 0 {
		t.Errorf("reporting publishes %v", rep.Publishes)
	}
	if !slices.Equal(rep.Aggregates, []string{"Fact", "Dimension", "OrderHistory (read model)"}) {
		t.Errorf("reporting owns %v", rep.Aggregates)
	}
	for _, f := range top.Flows {
		if f.To == "reporting" && f.Pattern == "API composition" {
			t.Errorf("reporting calls an API: %+v", f)
		}
		if f.From == "reporting" {
			t.Errorf("data flows out of reporting: %+v", f)
		}
	}
}
