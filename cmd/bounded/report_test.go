package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/services/reporting"
)

// TestReportUsage: a wrong name or flag is one line on stderr and exit 2,
// before anything is asked of a shop.
func TestReportUsage(t *testing.T) {
	t.Setenv("BOUNDED_URL", "")
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"report"}, "bounded: report: name the report: one of sales-by-day, sales-by-product, sales-by-category, funnel, payments, lead-time, stockouts, purchase-orders, order-history, watermarks\n"},
		{[]string{"report", "revenue"}, `bounded: report: no report "revenue"; the reports are sales-by-day, sales-by-product, sales-by-category, funnel, payments, lead-time, stockouts, purchase-orders, order-history, watermarks` + "\n"},
		{[]string{"report", "funnel", "--from", "yesterday"}, `bounded: report: --from "yesterday": want a date YYYY-MM-DD` + "\n"},
		{[]string{"report", "funnel", "--limit", "5"}, "bounded: report: funnel has no rows to limit (--limit)\n"},
		{[]string{"report", "funnel", "--colour"}, "bounded: report: flag provided but not defined: -colour\n"},
		{[]string{"report", "funnel", "extra"}, `bounded: report: unexpected argument "extra"` + "\n"},
		{[]string{"report", "order-history"}, "bounded: report: order-history needs --customer EMAIL\n"},
		{[]string{"report", "sales-by-day", "--url", "ftp://x"}, `bounded: report: --url "ftp://x": want an http(s) URL such as http://127.0.0.1:8080` + "\n"},
		{[]string{"report", "sales-by-day", "--format", "csv"}, `bounded: report: --format "csv": want table or json` + "\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != 2 || stderr != tc.stderr || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, stdout, stderr, tc.stderr)
			}
		})
	}
	// No shop at the address: one line, exit 1.
	code, _, stderr := run(t, "report", "funnel", "--url", "http://127.0.0.1:1")
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "does not answer at http://127.0.0.1:1") {
		t.Errorf("no shop: exit %d, stderr %q", code, stderr)
	}
}

// TestReport runs `bounded report` against a started shop (embedded): an
// order placed through the HTTP API reaches the warehouse through events
// only, and every report prints as an aligned table.
func TestReport(t *testing.T) {
	t.Parallel()
	s := startShop(t, "")
	s.product(t, "RPT-LAMP", 1250, 10)
	id := s.checkout(t, s.cart(t, "RPT-LAMP", 2), "tok_approve")
	if o := s.settled(t, id); o.Status != "shipped" {
		t.Fatalf("order %s: %s", id, o.Status)
	}
	eventually(t, "the warehouse to have the shipped order", func() bool {
		var v struct {
			Data struct {
				Stages []struct {
					Stage  string `json:"stage"`
					Orders int    `json:"orders"`
				} `json:"stages"`
			} `json:"data"`
		}
		s.get(t, "/reporting/reports/funnel", &v)
		for _, st := range v.Data.Stages {
			if st.Stage == "shipped" && st.Orders == 1 {
				return true
			}
		}
		return false
	})

	code, stdout, stderr := run(t, "report", "sales-by-product", "--url", s.base)
	if code != 0 {
		t.Fatalf("report sales-by-product: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("sales-by-product: want a title, a header and one row:\n%s", stdout)
	}
	header, row := lines[1], lines[2]
	if got := strings.Fields(header); strings.Join(got, " ") != "SKU NAME CATEGORY CURRENCY ORDERS UNITS GROSS CANCELLED NET" {
		t.Errorf("header %q", header)
	}
	if !strings.HasPrefix(row, "RPT-LAMP") || !strings.Contains(row, "Test product RPT-LAMP") || !strings.Contains(row, "kitchen") ||
		!strings.HasSuffix(row, "25.00") || strings.Index(header, "NET") != strings.LastIndex(row, "25.00") {
		t.Errorf("row not aligned under the header or wrong:\n%s\n%s", header, row)
	}

	for _, args := range [][]string{
		{"sales-by-day"}, {"sales-by-category"}, {"funnel"}, {"payments"}, {"lead-time"}, {"stockouts"}, {"purchase-orders"},
		{"watermarks"}, {"order-history", "--customer", "ada@example.com"},
	} {
		code, stdout, stderr := run(t, append(append([]string{"report"}, args...), "--url", s.base)...)
		if code != 0 || stdout == "" || stderr != "" {
			t.Errorf("report %v: exit %d, stderr %q:\n%s", args, code, stderr, stdout)
		}
	}
	code, stdout, _ = run(t, "report", "lead-time", "--url", s.base)
	if code != 0 || !strings.Contains(stdout, "confirmed_to_dispatched  1 ") {
		t.Errorf("lead-time:\n%s", stdout)
	}
	code, stdout, _ = run(t, "report", "order-history", "--customer", "Ada@Example.com", "--url", s.base)
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "shipped") || !strings.Contains(stdout, "dispatched") {
		t.Errorf("order-history:\n%s", stdout)
	}
	code, stdout, _ = run(t, "report", "funnel", "--url", s.base, "--format", "json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v["report"] != "funnel" {
		t.Errorf("--format json: exit %d:\n%s", code, stdout)
	}

	// The service refuses a limit beyond its maximum: its detail, one line, exit 1.
	code, _, stderr = run(t, "report", "stockouts", "--limit", "5000", "--url", s.base)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "limit") || !strings.Contains(stderr, "HTTP 400") {
		t.Errorf("limit 5000: exit %d, stderr %q", code, stderr)
	}
	// The API's own answer is a problem too.
	r := s.do(t, "GET", "/reporting/reports/sales-by-day?from=nope", nil, false)
	if r.Status != http.StatusBadRequest || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("bad query through the shop: %d %s", r.Status, r.Body)
	}

	// The warehouse as Parquet files, one per table.
	out := t.TempDir()
	code, stdout, stderr = run(t, "reporting", "export", "--out", out, "--url", s.base, "--admin-token", servicetest.AdminToken)
	if code != 0 {
		t.Fatalf("reporting export: exit %d, stderr %q", code, stderr)
	}
	for _, table := range reporting.ExportTables {
		b, err := os.ReadFile(filepath.Join(out, table+".parquet"))
		if err != nil {
			t.Fatalf("reporting export: %v\n%s", err, stdout)
		}
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s.parquet: %v", table, err)
		}
		if table == "fact_order_line" && f.NumRows() != 1 {
			t.Errorf("fact_order_line.parquet holds %d rows, want the order's one line", f.NumRows())
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	code, _, stderr = run(t, "reporting", "export", "--out", out, "--url", s.base, "--admin-token", "wrong-token-wrong-token-wrong-token")
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "401") {
		t.Errorf("a wrong token: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "reporting", "export", "--url", s.base)
	if code != 2 || !strings.Contains(stderr, "--out") {
		t.Errorf("no --out: exit %d, stderr %q", code, stderr)
	}
}
