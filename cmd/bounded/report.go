package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bounded-dev/bounded/services/reporting"
)

// reportConfig is what `bounded report` runs with.
type reportConfig struct {
	name     string
	base     string // the shop's address, as `bounded up` prints it
	from, to string
	limit    int
	customer string
	format   string
}

// reportNames are the names `bounded report` takes: the Reporting
// service's reports, its order-history read model and its watermarks.
func reportNames() []string {
	return append(slices.Clone(reporting.Reports), "order-history", "watermarks")
}

// defaultShopURL is where `bounded up` serves by default.
const defaultShopURL = "http://127.0.0.1:8080"

func (m *Main) parseReport(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("report", "Prints a report of the running shop's Reporting service as a table: one of\n  "+
		strings.Join(reportNames(), ", ")+".\n"+
		"The figures come from the warehouse, which is fed only by events: see docs/reporting.md.\n\n"+
		"usage: bounded report NAME [flags]")
	var cfg reportConfig
	base := os.Getenv("BOUNDED_URL")
	if base == "" {
		base = defaultShopURL
	}
	fs.StringVar(&cfg.base, "url", base, "the shop's `address`, as 'bounded up' prints it (default $BOUNDED_URL, else "+defaultShopURL+")")
	fs.StringVar(&cfg.from, "from", "", "first day of the period, YYYY-MM-DD (UTC)")
	fs.StringVar(&cfg.to, "to", "", "last day of the period, YYYY-MM-DD (UTC, included)")
	fs.IntVar(&cfg.limit, "limit", 0, "the most rows (default: the service's, 50)")
	fs.StringVar(&cfg.customer, "customer", "", "order-history: the customer's `email`")
	fs.StringVar(&cfg.format, "format", "table", "output: table or json (the API's answer)")
	// The name may come before the flags (bounded report funnel --from ...)
	// or after them.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cfg.name, args = args[0], args[1:]
		if err := fs.parse(args); err != nil {
			return nil, err
		}
	} else {
		if err := fs.parseN(args, 1); err != nil {
			return nil, err
		}
		cfg.name = fs.Arg(0)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return m.report(ctx, cfg) }, nil
}

// check reports a usage error in cfg.
func (cfg reportConfig) check() error {
	names := reportNames()
	switch {
	case cfg.name == "":
		return usagef("report: name the report: one of %s", strings.Join(names, ", "))
	case !slices.Contains(names, cfg.name):
		return usagef("report: no report %q; the reports are %s", cfg.name, strings.Join(names, ", "))
	case cfg.format != "table" && cfg.format != "json":
		return usagef("report: --format %q: want table or json", cfg.format)
	case cfg.limit < 0:
		return usagef("report: --limit %d: want a positive number", cfg.limit)
	}
	if u, err := url.Parse(cfg.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("report: --url %q: want an http(s) URL such as %s", cfg.base, defaultShopURL)
	}
	for _, d := range []struct{ flag, v string }{{"from", cfg.from}, {"to", cfg.to}} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, d.v); err != nil {
			return usagef("report: --%s %q: want a date YYYY-MM-DD", d.flag, d.v)
		}
	}
	switch cfg.name {
	case "order-history":
		if cfg.customer == "" {
			return usagef("report: order-history needs --customer EMAIL")
		}
		if cfg.from != "" || cfg.to != "" {
			return usagef("report: order-history takes no period (--from, --to)")
		}
	case "watermarks":
		if cfg.from != "" || cfg.to != "" || cfg.limit != 0 || cfg.customer != "" {
			return usagef("report: watermarks takes no --from, --to, --limit or --customer")
		}
	default:
		if cfg.customer != "" {
			return usagef("report: --customer is for order-history")
		}
		if cfg.limit != 0 && slices.Contains([]string{"funnel", "payments", "lead-time"}, cfg.name) {
			return usagef("report: %s has no rows to limit (--limit)", cfg.name)
		}
	}
	return nil
}

// path is the Reporting API's path and query for cfg.
func (cfg reportConfig) path() string {
	q := url.Values{}
	for k, v := range map[string]string{"from": cfg.from, "to": cfg.to, "customer_email": cfg.customer} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if cfg.limit > 0 {
		q.Set("limit", strconv.Itoa(cfg.limit))
	}
	p := "/reporting/reports/" + cfg.name
	switch cfg.name {
	case "order-history", "watermarks":
		p = "/reporting/" + cfg.name
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// report asks the shop's Reporting API and prints its answer.
func (m *Main) report(ctx context.Context, cfg reportConfig) error {
	body, err := callShop(ctx, cfg.base, "", http.MethodGet, cfg.path(), http.StatusOK)
	if se := (*shopError)(nil); errors.As(err, &se) && se.Status == http.StatusNotFound && strings.HasPrefix(se.Detail, "no service") {
		se.Detail = "this shop runs no reporting service"
	}
	if err != nil {
		return fmt.Errorf("report %s: %w", cfg.name, err)
	}
	if cfg.format == "json" {
		_, err := m.Stdout.Write(body)
		return err
	}
	return writeReport(m.Stdout, cfg.name, body)
}

// reportEnvelope is the Reporting API's answer to GET /reports/{name}.
type reportEnvelope struct {
	From string          `json:"from"`
	To   string          `json:"to"`
	AsOf time.Time       `json:"as_of"`
	Data json.RawMessage `json:"data"`
}

// table collects rows and prints them aligned.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.rows = append(t.rows, row)
}

func (t *table) write(w io.Writer) error {
	if len(t.rows) == 0 {
		_, err := fmt.Fprintln(w, "(no rows)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// money prints cents as units with two decimals.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

func percent(r float64) string { return strconv.FormatFloat(r*100, 'f', 1, 64) + "%" }

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func orDashStr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeReport prints the API's answer for report name as tables.
func writeReport(w io.Writer, name string, body []byte) error {
	switch name {
	case "order-history":
		var h struct {
			CustomerEmail string                   `json:"customer_email"`
			Orders        []reporting.HistoryOrder `json:"orders"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			return fmt.Errorf("report %s: %w", name, err)
		}
		fmt.Fprintf(w, "order history of %s (read model: each order's lag is its last event's apply time minus its creation time)\n", h.CustomerEmail)
		t := table{header: []string{"ORDER", "CONFIRMED", "STATUS", "TOTAL", "PAYMENT", "SHIPMENT", "EVENTS", "LAG"}}
		for _, o := range h.Orders {
			status := o.Status
			if o.CancelReason != "" {
				status += " (" + o.CancelReason + ")"
			}
			t.add(o.OrderID, stamp(o.ConfirmedAt), status, money(o.TotalCents)+" "+o.Currency, o.PaymentStatus, o.ShipmentStatus,
				len(o.Timeline), time.Duration(o.Freshness.LagMillis)*time.Millisecond)
		}
		return t.write(w)
	case "watermarks":
		var wm struct {
			Streams []reporting.Watermark `json:"streams"`
		}
		if err := json.Unmarshal(body, &wm); err != nil {
			return fmt.Errorf("report %s: %w", name, err)
		}
		t := table{header: []string{"STREAM", "EVENTS APPLIED", "NEWEST EVENT", "LAST APPLIED"}}
		for _, s := range wm.Streams {
			t.add(s.Stream, s.EventsApplied, stamp(s.LastEventAt), stamp(s.LastAppliedAt))
		}
		return t.write(w)
	}
	var env reportEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("report %s: %w", name, err)
	}
	fmt.Fprintf(w, "%s, %s to %s (UTC days), as of %s\n", name, orDashStr(env.From), orDashStr(env.To), stamp(env.AsOf))
	decode := func(v any) error {
		if err := json.Unmarshal(env.Data, v); err != nil {
			return fmt.Errorf("report %s: %w", name, err)
		}
		return nil
	}
	switch name {
	case "sales-by-day", "sales-by-product", "sales-by-category":
		var d struct {
			Rows []reporting.SalesRow `json:"rows"`
		}
		if err := decode(&d); err != nil {
			return err
		}
		measures := []string{"CURRENCY", "ORDERS", "UNITS", "GROSS", "CANCELLED", "NET"}
		var t table
		switch name {
		case "sales-by-day":
			t.header = append([]string{"DAY"}, measures...)
		case "sales-by-product":
			t.header = append([]string{"SKU", "NAME", "CATEGORY"}, measures...)
		default:
			t.header = append([]string{"CATEGORY", "NAME"}, measures...)
		}
		for _, r := range d.Rows {
			m := []any{r.Currency, r.Orders, r.Units, money(r.GrossCents), money(r.CancelledCents), money(r.NetCents)}
			switch name {
			case "sales-by-day":
				t.add(append([]any{r.Day}, m...)...)
			case "sales-by-product":
				t.add(append([]any{r.SKU, r.Name, orDashStr(r.Category)}, m...)...)
			default:
				t.add(append([]any{orDashStr(r.Category), r.Name}, m...)...)
			}
		}
		return t.write(w)
	case "funnel":
		var f reporting.Funnel
		if err := decode(&f); err != nil {
			return err
		}
		fmt.Fprintf(w, "carts checked out: %d\n", f.CheckedOut)
		t := table{header: []string{"STAGE", "ORDERS", "OF PLACED"}}
		for _, s := range f.Stages {
			t.add(s.Stage, s.Orders, percent(s.Share))
		}
		if err := t.write(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
		c := table{header: []string{"CANCELLED BECAUSE", "ORDERS"}}
		for _, r := range f.Cancellations {
			c.add(r.Reason, r.Count)
		}
		return c.write(w)
	case "payments":
		var p reporting.Payments
		if err := decode(&p); err != nil {
			return err
		}
		t := table{header: []string{"FIGURE", "VALUE"}}
		t.add("captured", p.Captured)
		t.add("declined", p.Declined)
		t.add("voided", p.Voided)
		t.add("decline rate", percent(p.DeclineRate)+" (declined / decided)")
		t.add("refunds", p.Refunds)
		t.add("refund rate", percent(p.RefundRate)+" (payments refunded / captured)")
		if err := t.write(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
		a := table{header: []string{"CURRENCY", "CAPTURED", "DECLINED", "VOIDED", "REFUNDED"}}
		for _, x := range p.Amounts {
			a.add(x.Currency, money(x.CapturedCents), money(x.DeclinedCents), money(x.VoidedCents), money(x.RefundedCents))
		}
		if err := a.write(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
		r := table{header: []string{"DECLINED BECAUSE", "PAYMENTS"}}
		for _, x := range p.DeclinesByReason {
			r.add(x.Reason, x.Count)
		}
		return r.write(w)
	case "lead-time":
		var d struct {
			Measures []reporting.LeadTime `json:"measures"`
		}
		if err := decode(&d); err != nil {
			return err
		}
		t := table{header: []string{"MEASURE", "SHIPMENTS", "P50", "P95", "MAX"}}
		for _, l := range d.Measures {
			t.add(l.Measure, l.Shipments, seconds(l.P50Seconds), seconds(l.P95Seconds), seconds(l.MaxSeconds))
		}
		return t.write(w)
	case "stockouts":
		var s reporting.Stockouts
		if err := decode(&s); err != nil {
			return err
		}
		fmt.Fprintf(w, "reservations: %d confirmed, %d refused (%s)\n", s.ReservationsConfirmed, s.ReservationsFailed, percent(s.StockoutRate))
		t := table{header: []string{"SKU", "NAME", "REASON", "ORDERS", "UNITS ASKED", "UNITS SHORT", "LAST"}}
		for _, r := range s.Rows {
			t.add(r.SKU, orDashStr(r.Name), r.Reason, r.Orders, r.UnitsRequested, r.UnitsShort, stamp(r.LastAt))
		}
		return t.write(w)
	case "purchase-orders":
		var p reporting.PurchaseOrders
		if err := decode(&p); err != nil {
			return err
		}
		fmt.Fprintf(w, "purchase orders: %d placed (%d units), %d flagged, %d received (%d units), %d open\n",
			p.Placed, p.UnitsOrdered, p.Flagged, p.Received, p.UnitsReceived, p.Open)
		t := table{header: []string{"SKU", "NAME", "PLACED", "FLAGGED", "RECEIVED", "OPEN", "UNITS ORDERED", "UNITS RECEIVED"}}
		for _, r := range p.Rows {
			t.add(r.SKU, orDashStr(r.Name), r.Placed, r.Flagged, r.Received, r.Open, r.UnitsOrdered, r.UnitsReceived)
		}
		return t.write(w)
	}
	return fmt.Errorf("report %s: no table for it", name)
}
