package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
	"github.com/bounded-dev/bounded/services/reporting"
)

// benchReportingConfig is what `bounded bench reporting` runs with.
type benchReportingConfig struct {
	events   int
	postgres string // admin DSN: also measure on PostgreSQL
	natsURL  string // with postgres: a NATS server (else embedded)
	out      string
	jsonOut  string
	cpuProf  string
	rawRows  int
}

// benchReportingResult is one database's figures.
type benchReportingResult struct {
	Database        string  `json:"database"`
	Events          int64   `json:"events"`
	PublishSeconds  float64 `json:"publish_seconds"`
	RebuildSeconds  float64 `json:"rebuild_seconds"`
	RebuildPerSec   float64 `json:"rebuild_events_per_second"`
	RawRowsPerSec   float64 `json:"raw_batched_insert_rows_per_second"`
	RawCommitPerSec float64 `json:"raw_autocommit_commits_per_second"`
	Orders          int64   `json:"orders"`
	WatermarkEvents int64   `json:"watermark_events"`
}

func (m *Main) parseBenchReporting(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("bench reporting", strings.TrimSpace(`
Measures 'bounded reporting rebuild': fills the event streams with N valid events built with
each service's own event constructors (catalog, carts, orders with lines, payments, refunds,
reservations, shipments, stock movements, purchase orders, in a shop's proportions), then
rebuilds the Reporting warehouse from them through its admin API, timed; beside it, in the
same run, the raw insert rate of the same database: batched INSERTs of 4096 rows per
transaction into a fresh table, and one-row autocommit commits. SQLite (embedded NATS)
always; PostgreSQL too with --postgres (and --nats, else embedded NATS). Progress on stderr,
a Markdown table on stdout.`))
	var cfg benchReportingConfig
	fs.IntVar(&cfg.events, "events", 1_000_000, "events to fill the streams with")
	fs.StringVar(&cfg.postgres, "postgres", "", "admin `URL` of a PostgreSQL server: measure there too (creates and drops a database)")
	fs.StringVar(&cfg.natsURL, "nats", "", "with --postgres: `URL` of a JetStream-enabled NATS server (default: an embedded one)")
	fs.StringVar(&cfg.out, "out", "", "write the results as a Markdown section to `FILE`")
	fs.StringVar(&cfg.jsonOut, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&cfg.cpuProf, "cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if cfg.events < 100 {
		return nil, usagef("bench reporting: --events %d: want at least 100", cfg.events)
	}
	cfg.rawRows = max(20_000, min(cfg.events/5, 200_000))
	return func(ctx context.Context) error {
		if cfg.cpuProf != "" {
			f, err := os.Create(cfg.cpuProf)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		_, err := m.benchReporting(ctx, cfg)
		return err
	}, nil
}

func (m *Main) benchReporting(ctx context.Context, cfg benchReportingConfig) ([]benchReportingResult, error) {
	var results []benchReportingResult
	dir, err := os.MkdirTemp("", "bounded-bench-reporting-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r, err := m.benchReportingOn(ctx, cfg, "SQLite", filepath.Join(dir, "sqlite"), filepath.Join(dir, "sqlite", "reporting.db"), "")
	if err != nil {
		return nil, fmt.Errorf("bench reporting (SQLite): %w", err)
	}
	results = append(results, r)
	if cfg.postgres != "" {
		dsn, drop, err := benchCreateDatabase(ctx, cfg.postgres)
		if err != nil {
			return nil, fmt.Errorf("bench reporting (PostgreSQL): %w", err)
		}
		r, err := m.benchReportingOn(ctx, cfg, "PostgreSQL", filepath.Join(dir, "postgres"), dsn, cfg.natsURL)
		drop()
		if err != nil {
			return nil, fmt.Errorf("bench reporting (PostgreSQL): %w", err)
		}
		results = append(results, r)
	}
	md := benchReportingMarkdown(cfg, results)
	fmt.Fprint(m.Stdout, md)
	if cfg.out != "" {
		if err := writeFile(cfg.out, func(w io.Writer) error { _, err := io.WriteString(w, md); return err }); err != nil {
			return results, err
		}
	}
	if cfg.jsonOut != "" {
		if err := writeFile(cfg.jsonOut, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(results)
		}); err != nil {
			return results, err
		}
	}
	return results, nil
}

// benchReportingOn fills the streams, rebuilds on the database dsn, and
// measures the database's raw insert rates.
func (m *Main) benchReportingOn(ctx context.Context, cfg benchReportingConfig, name, dir, dsn, natsURL string) (benchReportingResult, error) {
	res := benchReportingResult{Database: name}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	namespace := "benchrep_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	var embedded *bus.Embedded
	if natsURL == "" {
		var err error
		embedded, err = bus.StartEmbedded(bus.EmbeddedConfig{Dir: filepath.Join(dir, "nats"), Port: -1})
		if err != nil {
			return res, err
		}
		defer embedded.Shutdown()
		natsURL = embedded.ClientURL()
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return res, err
	}
	defer nc.Close()
	// Publishes are asynchronous, acknowledged in windows of 8192.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(16384))
	if err != nil {
		return res, err
	}
	// 1. Fill the streams, before the shop runs: as if it had run a while.
	fmt.Fprintf(m.Stderr, "%s: publishing %d events\n", name, cfg.events)
	start := time.Now()
	streams, err := benchFill(ctx, js, namespace, cfg.events, func(n int) {
		m.progress(fmt.Sprintf("%s: published %d of %d events", name, n, cfg.events))
	})
	m.progress("")
	if err != nil {
		return res, fmt.Errorf("publish: %w", err)
	}
	res.PublishSeconds = time.Since(start).Seconds()
	defer func() {
		for _, s := range streams {
			_ = js.DeleteStream(context.WithoutCancel(ctx), s)
		}
	}()

	// 2. Run the Reporting service on the fresh database and rebuild.
	p, err := startProcess(ctx, processConfig{natsURL: natsURL, dsn: func(string) string { return dsn },
		specs: []service.Spec{reporting.Spec(reporting.Config{})}, addr: "127.0.0.1:0", token: benchToken, namespace: namespace,
		log: slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), clientName: "bounded-bench-reporting"})
	if err != nil {
		return res, err
	}
	defer p.stop()
	fmt.Fprintf(m.Stderr, "%s: rebuilding the warehouse from them\n", name)
	st, err := m.reportingRebuild(ctx, rebuildConfig{base: p.base, token: benchToken, every: time.Second})
	if err != nil {
		return res, err
	}
	res.Events = st.EventsApplied
	if st.StartedAt != nil && st.FinishedAt != nil {
		res.RebuildSeconds = st.FinishedAt.Sub(*st.StartedAt).Seconds()
		res.RebuildPerSec = float64(st.EventsApplied) / res.RebuildSeconds
	}
	db, err := sqldb.Open(ctx, sqldb.Config{DSN: dsn})
	if err != nil {
		return res, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM fact_order`).Scan(&res.Orders); err != nil {
		return res, err
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(events_applied), 0) FROM watermarks`).Scan(&res.WatermarkEvents); err != nil {
		return res, err
	}
	if res.WatermarkEvents != int64(cfg.events) {
		return res, fmt.Errorf("the watermarks count %d events, want %d", res.WatermarkEvents, cfg.events)
	}
	// 3. The same database's raw limits, in the same run.
	fmt.Fprintf(m.Stderr, "%s: raw insert rates\n", name)
	res.RawRowsPerSec, res.RawCommitPerSec, err = benchRawInserts(ctx, db, cfg.rawRows)
	return res, err
}

// benchRawInserts measures batched INSERTs (4096 rows per transaction,
// one prepared statement) into a fresh table shaped like a fact, and
// one-row autocommit commits for two seconds.
func benchRawInserts(ctx context.Context, db *sqldb.DB, rows int) (rowsPerSec, commitsPerSec float64, err error) {
	create := `CREATE TABLE bench_raw (k TEXT PRIMARY KEY, order_id TEXT NOT NULL, amount BIGINT NOT NULL, at BIGINT NOT NULL, note TEXT)`
	if _, err := db.Writer().ExecContext(ctx, create); err != nil {
		return 0, 0, err
	}
	defer db.Writer().ExecContext(context.WithoutCancel(ctx), `DROP TABLE bench_raw`)
	ins := db.Dialect().Rebind(`INSERT INTO bench_raw (k, order_id, amount, at, note) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`)
	start := time.Now()
	for done := 0; done < rows; {
		n := min(4096, rows-done)
		err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			for i := range n {
				k := fmt.Sprintf("row-%09d", done+i)
				if _, err := tx.ExecContext(ctx, ins, k, k+"-order", int64(i)*100, time.Now().UnixMilli(), "a fact"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
		done += n
	}
	rowsPerSec = float64(rows) / time.Since(start).Seconds()
	start = time.Now()
	commits := 0
	for time.Since(start) < 2*time.Second {
		k := fmt.Sprintf("one-%09d", commits)
		err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			_, err := tx.ExecContext(ctx, ins, k, k, int64(1), time.Now().UnixMilli(), "one")
			return err
		})
		if err != nil {
			return 0, 0, err
		}
		commits++
	}
	return rowsPerSec, float64(commits) / time.Since(start).Seconds(), nil
}

// benchCreateDatabase creates a fresh PostgreSQL database and returns its
// DSN and a function that drops it.
func benchCreateDatabase(ctx context.Context, admin string) (string, func(), error) {
	adb, err := sqldb.Open(ctx, sqldb.Config{DSN: admin})
	if err != nil {
		return "", nil, err
	}
	name := "bench_reporting_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := adb.Writer().ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		adb.Close()
		return "", nil, err
	}
	dsn, err := withDatabase(admin, name)
	if err != nil {
		adb.Close()
		return "", nil, err
	}
	return dsn, func() {
		_, _ = adb.Writer().ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		adb.Close()
	}, nil
}

// withDatabase is the PostgreSQL URL admin naming database name instead.
func withDatabase(admin, name string) (string, error) {
	i := strings.Index(admin, "://")
	if i < 0 {
		return "", errors.New("--postgres: want a postgres:// URL")
	}
	rest := admin[i+3:]
	q := ""
	if j := strings.IndexByte(rest, '?'); j >= 0 {
		rest, q = rest[:j], rest[j:]
	}
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		rest = rest[:j]
	}
	return admin[:i+3] + rest + "/" + name + q, nil
}

// benchFill publishes n events about a plausible shop into the source
// streams of namespace (created here) and returns the streams' names.
func benchFill(ctx context.Context, js jetstream.JetStream, namespace string, n int, progress func(int)) ([]string, error) {
	var streams []string
	for _, src := range []string{"catalog", "cart", "orders", "payments", "inventory", "fulfillment"} {
		name := namespace + "_" + service.StreamName(src)
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{namespace + "." + src + ".>"},
			Storage: jetstream.FileStorage}); err != nil {
			return streams, err
		}
		streams = append(streams, name)
	}
	g := benchShop{rng: rand.New(rand.NewPCG(1, 2)), at: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)}
	published := 0
	lastShown := time.Now()
	publish := func(e contract.Event, err error) error {
		if err != nil {
			return err
		}
		if published >= n {
			return nil
		}
		msg := &nats.Msg{Subject: namespace + "." + e.Type, Header: nats.Header(e.Header()), Data: e.Data}
		if _, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID)); err != nil {
			return err
		}
		published++
		if published%8192 == 0 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(30 * time.Second):
				return errors.New("publishes not acknowledged within 30 s")
			}
			if time.Since(lastShown) > time.Second {
				progress(published)
				lastShown = time.Now()
			}
		}
		return nil
	}
	for published < n {
		if err := g.next(publish); err != nil {
			return streams, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		return streams, errors.New("publishes not acknowledged within 30 s")
	}
	return streams, nil
}

// benchShop makes a shop's events: a catalog first, then orders, each
// with the events its life publishes.
type benchShop struct {
	rng     *rand.Rand
	at      time.Time
	skus    []string
	onHand  map[string]int
	started bool
	pos     int
}

type benchLine struct {
	sku   string
	qty   int
	price int64
}

func (g *benchShop) next(publish func(contract.Event, error) error) error {
	if !g.started {
		g.started, g.onHand = true, map[string]int{}
		cats := []string{"kitchen", "coffee-tea", "textiles", "garden", "bath", "office", "toys", "tools"}
		for _, c := range cats {
			if err := publish(catalogevents.NewCategoryUpdated(catalogevents.CategoryUpdatedV1{Slug: c, Name: strings.ToUpper(c[:1]) + c[1:], Version: 1})); err != nil {
				return err
			}
		}
		for i := range 200 {
			sku := fmt.Sprintf("SKU-%04d", i)
			g.skus = append(g.skus, sku)
			g.onHand[sku] = 1000
			if err := publish(catalogevents.NewProductUpdated(2, catalogevents.ProductState{SKU: sku, Name: "Product " + sku,
				ShortDescription: "A product.", LongDescription: "A product, described.", PriceCents: int64(500 + i*25),
				Currency: "EUR", Category: cats[i%len(cats)], Active: true, Version: 1})); err != nil {
				return err
			}
		}
	}
	id := func() string { return uuid.Must(uuid.NewV7()).String() }
	g.at = g.at.Add(time.Duration(5+g.rng.IntN(60)) * time.Second)
	at := g.at
	order, cart, email := id(), id(), fmt.Sprintf("customer%d@example.com", g.rng.IntN(20000))
	var lines []benchLine
	var total int64
	for range 1 + g.rng.IntN(3) {
		i := g.rng.IntN(len(g.skus))
		l := benchLine{sku: g.skus[i], qty: 1 + g.rng.IntN(3), price: int64(500 + i*25)}
		lines = append(lines, l)
		total += int64(l.qty) * l.price
	}
	addr := cartevents.Address{Name: "Ada", Line1: "1 High St", City: "London", PostalCode: "N1", Country: "GB"}
	co := cartevents.CheckedOutV1{CartID: cart, OrderID: order, CustomerEmail: email, PaymentToken: "tok_approve", Currency: "EUR",
		ShippingAddress: addr, CheckedOutAt: at}
	oc := ordersevents.OrderConfirmedV1{OrderID: order, CartID: cart, CustomerEmail: email, PaymentToken: "tok_approve", Currency: "EUR",
		ShippingAddress: ordersevents.Address(addr), ConfirmedAt: at.Add(50 * time.Millisecond), TotalCents: total}
	var inv []inventoryevents.Line
	var ful []fulfillmentevents.Line
	for _, l := range lines {
		co.Items = append(co.Items, cartevents.Item{SKU: l.sku, Name: "Product " + l.sku, Quantity: l.qty, UnitPriceCents: l.price, ProductVersion: 1})
		oc.Items = append(oc.Items, ordersevents.Item{SKU: l.sku, Name: "Product " + l.sku, Quantity: l.qty, UnitPriceCents: l.price})
		inv = append(inv, inventoryevents.Line{SKU: l.sku, Quantity: l.qty})
		ful = append(ful, fulfillmentevents.Line{SKU: l.sku, Quantity: l.qty})
	}
	steps := []func() (contract.Event, error){
		func() (contract.Event, error) { return cartevents.NewCheckedOut(co) },
		func() (contract.Event, error) { return ordersevents.NewOrderConfirmed(oc) },
	}
	t := func(d time.Duration) time.Time { return at.Add(d) }
	payment := id()
	g.pos++
	roll := g.rng.IntN(100)
	switch {
	case roll < 8: // declined: cancelled, reservation released
		res := id()
		steps = append(steps,
			func() (contract.Event, error) {
				return inventoryevents.NewReservationConfirmed(inventoryevents.ReservationConfirmedV1{ReservationID: res, OrderID: order, Items: inv, ConfirmedAt: t(time.Second)})
			},
			func() (contract.Event, error) {
				return paymentsevents.NewPaymentDeclined(paymentsevents.PaymentDeclinedV1{PaymentID: payment, OrderID: order, AmountCents: total,
					Currency: "EUR", Reason: "card_declined", Attempts: 1, DeclinedAt: t(2 * time.Second)})
			},
			func() (contract.Event, error) {
				return ordersevents.NewOrderCancelled(ordersevents.OrderCancelledV1{OrderID: order, Reason: ordersevents.ReasonPaymentDeclined,
					PreviousStatus: ordersevents.StatusConfirmed, TotalCents: total, Currency: "EUR", CancelledAt: t(3 * time.Second)})
			},
			func() (contract.Event, error) {
				return inventoryevents.NewReservationReleased(inventoryevents.ReservationReleasedV1{ReservationID: res, OrderID: order,
					Reason: ordersevents.ReasonPaymentDeclined, Items: inv, ReleasedAt: t(4 * time.Second)})
			})
	case roll < 11: // out of stock: refused, cancelled after capture, refunded
		steps = append(steps,
			func() (contract.Event, error) {
				return paymentsevents.NewPaymentCaptured(paymentsevents.PaymentCapturedV1{PaymentID: payment, OrderID: order, AmountCents: total,
					Currency: "EUR", Attempts: 1, CapturedAt: t(time.Second)})
			},
			func() (contract.Event, error) {
				return inventoryevents.NewReservationFailed(inventoryevents.ReservationFailedV1{OrderID: order, Reason: inventoryevents.FailureOutOfStock,
					Shortages: []inventoryevents.Shortage{{SKU: lines[0].sku, Requested: lines[0].qty, Available: 0}}, FailedAt: t(time.Second)})
			},
			func() (contract.Event, error) {
				return ordersevents.NewOrderCancelled(ordersevents.OrderCancelledV1{OrderID: order, Reason: ordersevents.ReasonOutOfStock,
					PreviousStatus: ordersevents.StatusPaid, TotalCents: total, Currency: "EUR", CancelledAt: t(2 * time.Second)})
			},
			func() (contract.Event, error) {
				return paymentsevents.NewRefundIssued(paymentsevents.RefundIssuedV1{RefundID: id(), PaymentID: payment, OrderID: order,
					AmountCents: total, Currency: "EUR", Reason: ordersevents.ReasonOutOfStock, RefundedAt: t(3 * time.Second)})
			})
	default: // paid, reserved, shipped
		res, shipment := id(), id()
		steps = append(steps,
			func() (contract.Event, error) {
				return paymentsevents.NewPaymentCaptured(paymentsevents.PaymentCapturedV1{PaymentID: payment, OrderID: order, AmountCents: total,
					Currency: "EUR", Attempts: 1, CapturedAt: t(time.Second)})
			},
			func() (contract.Event, error) {
				return ordersevents.NewOrderPaid(ordersevents.OrderPaidV1{OrderID: order, PaymentID: payment, TotalCents: total, Currency: "EUR", PaidAt: t(time.Second)})
			},
			func() (contract.Event, error) {
				return inventoryevents.NewReservationConfirmed(inventoryevents.ReservationConfirmedV1{ReservationID: res, OrderID: order, Items: inv, ConfirmedAt: t(time.Second)})
			},
			func() (contract.Event, error) {
				return ordersevents.NewOrderReserved(ordersevents.OrderReservedV1{OrderID: order, ReservationID: res, ReservedAt: t(2 * time.Second)})
			},
			func() (contract.Event, error) {
				return fulfillmentevents.NewShipmentCreated(fulfillmentevents.ShipmentCreatedV1{ShipmentID: shipment, OrderID: order, Package: "small_box", Items: ful, CreatedAt: t(3 * time.Second)})
			},
			func() (contract.Event, error) {
				return fulfillmentevents.NewShipmentDispatched(fulfillmentevents.ShipmentDispatchedV1{ShipmentID: shipment, OrderID: order, Package: "small_box", Items: ful,
					DispatchedAt: t(time.Hour)})
			},
			func() (contract.Event, error) {
				return ordersevents.NewOrderShipped(ordersevents.OrderShippedV1{OrderID: order, ShipmentID: shipment, ShippedAt: t(time.Hour)})
			})
		for _, l := range lines {
			g.onHand[l.sku] -= l.qty
			onHand, sku, qty := g.onHand[l.sku], l.sku, l.qty
			steps = append(steps, func() (contract.Event, error) {
				return inventoryevents.NewStockChanged(inventoryevents.StockChangedV1{SKU: sku, DeltaOnHand: -qty, OnHand: onHand, ReorderPoint: 100,
					Reason: inventoryevents.StockShipment, Ref: order, ChangedAt: t(time.Hour)})
			})
			if onHand < 100 { // reorder: a purchase order, received
				po := id()
				g.onHand[sku] += 1000
				after := g.onHand[sku]
				steps = append(steps,
					func() (contract.Event, error) {
						return inventoryevents.NewPurchaseOrderPlaced(inventoryevents.PurchaseOrderPlacedV1{PurchaseOrderID: po, SKU: sku, Name: "Product " + sku,
							Description: "A product.", Quantity: 1000, PlacedAt: t(time.Hour)})
					},
					func() (contract.Event, error) {
						return inventoryevents.NewStockChanged(inventoryevents.StockChangedV1{SKU: sku, DeltaOnHand: 1000, OnHand: after, ReorderPoint: 100,
							Reason: inventoryevents.StockPurchaseOrderReceived, Ref: po, ChangedAt: t(25 * time.Hour)})
					})
			}
		}
	}
	for _, s := range steps {
		if err := publish(s()); err != nil {
			return err
		}
	}
	return nil
}

func benchReportingMarkdown(cfg benchReportingConfig, rs []benchReportingResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| Database | Events | Rebuild | Rebuild events/s | Raw batched INSERT rows/s (4096 a commit) | Raw one-row commits/s | Orders in the warehouse |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %.1f s | %.0f | %.0f | %.0f | %d |\n", r.Database, r.Events, r.RebuildSeconds, r.RebuildPerSec,
			r.RawRowsPerSec, r.RawCommitPerSec, r.Orders)
	}
	fmt.Fprintf(&b, "\nReproduce: `go run ./cmd/bounded bench reporting --events %d", cfg.events)
	if cfg.postgres != "" {
		b.WriteString(" --postgres URL")
		if cfg.natsURL != "" {
			b.WriteString(" --nats URL")
		}
	}
	b.WriteString("`\n")
	return b.String()
}
