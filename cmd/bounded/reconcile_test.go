package main

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
)

// TestReconcileUsage: bad flags are one line and exit 2; a shop that does
// not answer is one line and exit 3 (no verdict), never 1 (differences).
func TestReconcileUsage(t *testing.T) {
	t.Setenv("BOUNDED_URL", "")
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"reconcile", "--format", "csv"}, `bounded: reconcile: --format "csv": want table or json` + "\n"},
		{[]string{"reconcile", "--wait", "0s"}, "bounded: reconcile: --wait 0s: want a positive duration\n"},
		{[]string{"reconcile", "--url", "ftp://x"}, `bounded: reconcile: --url "ftp://x": want an http(s) URL such as http://127.0.0.1:8080` + "\n"},
		{[]string{"reconcile", "extra"}, `bounded: reconcile: unexpected argument "extra"` + "\n"},
		{[]string{"reconcile", "--colour"}, "bounded: reconcile: flag provided but not defined: -colour\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != 2 || stderr != tc.stderr || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, stdout, stderr, tc.stderr)
			}
		})
	}
	code, stdout, stderr := run(t, "reconcile", "--url", "http://127.0.0.1:1", "--admin-token", "x")
	if code != exitNoVerdict || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "does not answer at http://127.0.0.1:1") {
		t.Errorf("no shop: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = run(t, "reconcile", "--url", "http://127.0.0.1:1", "--data", t.TempDir())
	if code != exitNoVerdict || !strings.Contains(stderr, "no admin token") {
		t.Errorf("no token: exit %d, stderr %q", code, stderr)
	}
}

// reconcileShop runs `bounded reconcile` against a shop whose orders have
// settled: no differences. Then it breaks the warehouse on purpose (one
// shipment's units, written straight into Reporting's database) and sees
// exactly that difference, with exit 1.
func reconcileShop(t *testing.T, s *shop) {
	args := []string{"reconcile", "--url", s.base, "--admin-token", servicetest.AdminToken, "--wait", "60s"}
	code, stdout, stderr := run(t, args...)
	if code != 0 || !strings.HasSuffix(stdout, "no differences\n") {
		t.Fatalf("reconcile of a settled shop: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	for _, want := range []string{"orders shipped EUR", "orders cancelled EUR", "payments captured EUR", "payments declined EUR",
		"units dispatched", "on hand E2E-HAPPY"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `\s+\S+\s+\S+\s+\S+\s+-$`).MatchString(stdout) {
			t.Errorf("no agreeing line for %q:\n%s", want, stdout)
		}
	}
	t.Logf("reconcile:\n%s", stdout)

	// Break the projection: one more unit in the happy path's shipment.
	db := reportingDB(t, s)
	var shipmentID string
	if err := db.Reader().QueryRowContext(t.Context(), `SELECT f.shipment_id FROM fact_shipment f
		JOIN fact_order_line l ON l.order_id = f.order_id WHERE l.sku = 'E2E-HAPPY'`).Scan(&shipmentID); err != nil {
		t.Fatalf("finding the shipment in the warehouse: %v", err)
	}
	if _, err := db.Writer().ExecContext(t.Context(), db.Dialect().Rebind(`UPDATE fact_shipment SET units = units + 1 WHERE shipment_id = $1`), shipmentID); err != nil {
		t.Fatalf("breaking the warehouse: %v", err)
	}
	code, stdout, stderr = run(t, args...)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "1 difference between") {
		t.Fatalf("reconcile of a broken warehouse: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	if !regexp.MustCompile(`(?m)^units dispatched\s+fulfillment\s+(\d+)\s+(\d+)\s+\+1$`).MatchString(stdout) ||
		!strings.Contains(stdout, "1 difference:\n  units dispatched: fulfillment says ") {
		t.Fatalf("the difference is not reported as it is:\n%s", stdout)
	}
	code, stdout, _ = run(t, append(args, "--format", "json")...)
	var v struct {
		Figures []struct {
			Figure     string `json:"figure"`
			Owner      string `json:"owner"`
			Difference int64  `json:"difference"`
		} `json:"figures"`
		Differences int `json:"differences"`
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || code != 1 || v.Differences != 1 {
		t.Fatalf("--format json: exit %d, %v:\n%s", code, err, stdout)
	}
	for _, f := range v.Figures {
		if (f.Difference != 0) != (f.Figure == "units dispatched") || f.Figure == "units dispatched" && (f.Difference != 1 || f.Owner != "fulfillment") {
			t.Errorf("figure %+v", f)
		}
	}
}

// reportingDB opens the shop's Reporting database: DATA/reporting.db in
// embedded mode; in distributed mode the PostgreSQL database `bounded up`
// printed for it, as the server's admin.
func reportingDB(t *testing.T, s *shop) *sqldb.DB {
	t.Helper()
	dsn := filepath.Join(s.data, "reporting.db")
	if m := regexp.MustCompile(`(?m)^\s*reporting\s.*database (\S+)`).FindStringSubmatch(s.stdout.String()); m != nil {
		u, err := url.Parse(testenv.PostgresAdmin(t))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + m[1]
		dsn = u.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, sqldb.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("opening Reporting's database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
