package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/servicetest"
)

// rebuildShop runs `bounded reporting rebuild` against a shop whose
// warehouse reconcile has just found broken (reconcileShop adds a unit to a
// shipment by hand): the warehouse is replayed from the streams, and then
// reconciles with the owners again.
func rebuildShop(t *testing.T, s *shop) {
	code, stdout, stderr := run(t, "reporting", "rebuild", "--url", s.base, "--admin-token", servicetest.AdminToken)
	if code != 0 {
		t.Fatalf("reporting rebuild: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	t.Logf("reporting rebuild:\n%s%s", stderr, stdout)
	code, stdout, stderr = run(t, "reconcile", "--url", s.base, "--admin-token", servicetest.AdminToken, "--wait", "60s")
	if code != 0 || !strings.HasSuffix(stdout, "no differences\n") {
		t.Fatalf("reconcile after the rebuild: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	// The rebuilt warehouse keeps following the streams.
	s.product(t, "E2E-AFTER-REBUILD", 500, 5)
	if o := s.settled(t, s.checkout(t, s.cart(t, "E2E-AFTER-REBUILD", 1), "tok_approve")); o.Status != "shipped" {
		t.Fatalf("order after the rebuild: %+v", o)
	}
	code, stdout, stderr = run(t, "reconcile", "--url", s.base, "--admin-token", servicetest.AdminToken, "--wait", "60s")
	if code != 0 || !strings.HasSuffix(stdout, "no differences\n") {
		t.Fatalf("reconcile after an order placed after the rebuild: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	// The rebuilt warehouse answers reports and exports, in this mode too.
	code, stdout, stderr = run(t, "report", "funnel", "--url", s.base)
	if code != 0 || !regexp.MustCompile(`(?m)^shipped\s+[1-9]`).MatchString(stdout) {
		t.Fatalf("report funnel after the rebuild: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	out := t.TempDir()
	code, stdout, stderr = run(t, "reporting", "export", "--out", out, "--url", s.base, "--admin-token", servicetest.AdminToken)
	if code != 0 || !regexp.MustCompile(`(?m)^fact_order_line\.parquet\s+[1-9]\d* rows`).MatchString(stdout) {
		t.Fatalf("reporting export after the rebuild: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	if code, _, stderr = run(t, "reporting", "rebuild", "--url", "http://127.0.0.1:1", "--admin-token", servicetest.AdminToken); code != 1 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("rebuild of no shop: exit %d, stderr %q", code, stderr)
	}
}
