package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bounded-dev/bounded/bench"
	"github.com/bounded-dev/bounded/platform/bus"
)

// shopBenchConfig is what `bounded bench shop` runs with.
type shopBenchConfig struct {
	orders      int
	concurrency int
	products    int
	rawDuration time.Duration
	logLevel    slog.Level
}

// shopBenchResult is what it measured.
type shopBenchResult struct {
	Command     string            `json:"command"`
	When        time.Time         `json:"when"`
	CPUs        int               `json:"cpus"`
	Orders      int               `json:"orders"`
	Concurrency int               `json:"concurrency"`
	Shipped     int               `json:"shipped"`
	Cancelled   int               `json:"cancelled"`
	DeadLetters int               `json:"dead_letters"`
	Seconds     float64           `json:"seconds"`
	PerSecond   float64           `json:"orders_shipped_per_second"`
	Latency     bench.Percentiles `json:"checkout_to_shipped"`
	// Commits is the transactions each service committed during the
	// measured checkouts, per order shipped.
	Commits      map[string]float64 `json:"commits_per_order"`
	CartCommits  float64            `json:"cart_prep_commits_per_order"`
	RawSQLite    bench.CommitRun    `json:"raw_sqlite_one_writer"`
	TargetPerSec float64            `json:"target_orders_per_second"`

	lat []time.Duration // every order's time, for the chart
}

func (m *Main) parseBenchShop(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("bench shop", strings.TrimSpace(`
Measures the shop end to end in embedded mode (one process, embedded NATS
JetStream, one SQLite file per service, in a temporary directory): orders
shipped per second and the time from a checkout accepted (202) to the order
shipped (its orders.order_shipped event), with a fixed number of orders in
flight. Carts are filled before the clock starts; checkouts go over HTTP on
loopback. Beside it, in the same run: the raw SQLite commit rate (one-row
autocommit INSERTs, one writer) and the commits one order costs per service.
Progress goes to stderr, the results (Markdown) to stdout. The exit status is
1 when an order did not ship or an event was dead-lettered.`))
	var (
		cfg      shopBenchConfig
		out      string
		jsonOut  string
		svgOut   string
		logLevel string
		cpuProf  string
	)
	fs.IntVar(&cfg.orders, "orders", 5000, "orders to check out and ship")
	fs.IntVar(&cfg.concurrency, "concurrency", 200, "orders in flight at once (checked out, not yet shipped)")
	fs.IntVar(&cfg.products, "products", 20, "products the orders spread over")
	fs.DurationVar(&cfg.rawDuration, "raw-duration", 3*time.Second, "how long the raw SQLite figure writes")
	fs.StringVar(&out, "out", "", "write the results as a Markdown section to `FILE`")
	fs.StringVar(&jsonOut, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&svgOut, "svg", "", "draw the throughput against its target and the distribution of checkout → shipped times as an SVG chart in `FILE`")
	fs.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the run to `FILE`")
	fs.StringVar(&logLevel, "log", "error", "level of the shop's log lines on stderr")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	switch {
	case cfg.orders < 1 || cfg.orders > 1_000_000:
		return nil, usagef("bench shop: -orders %d: want 1 to 1000000", cfg.orders)
	case cfg.concurrency < 1 || cfg.concurrency > 10_000:
		return nil, usagef("bench shop: -concurrency %d: want 1 to 10000", cfg.concurrency)
	case cfg.products < 2 || cfg.products > 1000:
		return nil, usagef("bench shop: -products %d: want 2 to 1000", cfg.products)
	case cfg.rawDuration < 100*time.Millisecond:
		return nil, usagef("bench shop: -raw-duration %s: want at least 100ms", cfg.rawDuration)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, usagef("bench shop: -log: %v", err)
	}
	command := strings.TrimSpace("bounded bench shop " + strings.Join(args, " "))
	return func(ctx context.Context) error {
		if cpuProf != "" {
			f, err := os.Create(cpuProf)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return err
			}
			m.onClose(func() error { pprof.StopCPUProfile(); return f.Close() })
		}
		res, err := m.benchShop(ctx, cfg)
		if res == nil {
			return err
		}
		res.Command = command
		werr := []error{err, res.writeMarkdown(m.Stdout)}
		if out != "" {
			werr = append(werr, writeFile(out, res.writeMarkdown))
		}
		if svgOut != "" {
			werr = append(werr, writeFile(svgOut, res.writeSVG))
		}
		if jsonOut != "" {
			werr = append(werr, writeFile(jsonOut, func(w io.Writer) error {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}))
		}
		return errors.Join(werr...)
	}, nil
}

// benchShop runs the measurement.
func (m *Main) benchShop(ctx context.Context, cfg shopBenchConfig) (*shopBenchResult, error) {
	res := &shopBenchResult{When: time.Now().UTC(), CPUs: runtime.GOMAXPROCS(0), Orders: cfg.orders, Concurrency: cfg.concurrency, TargetPerSec: 500}
	dir, err := os.MkdirTemp("", "bounded-bench-shop-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	say := func(format string, args ...any) { fmt.Fprintf(m.Stderr, format+"\n", args...) }

	say("raw SQLite: one-row autocommit INSERTs, 1 writer, %s …", cfg.rawDuration)
	if err := os.Mkdir(dir+"/raw", 0o755); err != nil {
		return nil, err
	}
	if res.RawSQLite, err = bench.RawSQLiteCommits(ctx, dir+"/raw", 1, 300, cfg.rawDuration); err != nil {
		return nil, err
	}
	say("  %.0f commits/s", res.RawSQLite.PerSecond)

	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	const token = "bench-admin-token-0123456789"
	shop, err := startProcess(ctx, processConfig{
		embedded: &bus.EmbeddedConfig{Dir: dir + "/shop/nats", Host: "127.0.0.1", Port: -1, Logger: log},
		dsn:      func(name string) string { return filepath.Join(dir, "shop", name+".db") },
		specs:    shopSpecs(shopConfig{}),
		addr:     "127.0.0.1:0", token: token, log: log,
	})
	if err != nil {
		return nil, err
	}
	defer shop.stop()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency + 8, MaxConnsPerHost: cfg.concurrency + 8}}
	api := benchAPI{base: shop.base, token: token, client: client}

	// Watch the orders' fate on the stream, as any consumer would.
	nc, err := nats.Connect(shop.natsURL)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	fate := newOrderFates()
	for subj, status := range map[string]string{"orders.order_shipped.v1": "shipped", "orders.order_cancelled.v1": "cancelled"} {
		if _, err := nc.Subscribe(subj, func(msg *nats.Msg) {
			var v struct {
				OrderID string `json:"order_id"`
			}
			if json.Unmarshal(msg.Data, &v) == nil {
				fate.settle(v.OrderID, status, time.Now())
			}
		}); err != nil {
			return nil, err
		}
	}
	if err := nc.Flush(); err != nil {
		return nil, err
	}

	say("setting up %d products with stock …", cfg.products)
	skus, err := api.products(ctx, cfg.products)
	if err != nil {
		return nil, err
	}
	say("filling %d carts (2 lines each) …", cfg.orders)
	prep0 := shop.host.Commits()["cart"]
	carts, err := api.carts(ctx, skus, cfg.orders, min(cfg.concurrency, 32))
	if err != nil {
		return nil, err
	}
	res.CartCommits = float64(shop.host.Commits()["cart"]-prep0) / float64(cfg.orders)

	say("checking out %d orders, %d in flight …", cfg.orders, cfg.concurrency)
	commits0 := shop.host.Commits()
	var (
		next      atomic.Int64
		done      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		last      time.Time
		firstErr  error
		errOnce   sync.Once
	)
	t0 := time.Now()
	stopProgress := m.progressLine("orders shipped", int64(cfg.orders), &done, t0)
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(carts) {
					return
				}
				orderID, err := api.checkout(ctx, carts[i])
				accepted := time.Now()
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				status, at, ok := fate.await(ctx, orderID, 2*time.Minute)
				if !ok {
					errOnce.Do(func() { firstErr = fmt.Errorf("order %s: not shipped within 2 minutes", orderID) })
					return
				}
				mu.Lock()
				if status == "shipped" {
					latencies = append(latencies, at.Sub(accepted))
					if at.After(last) {
						last = at
					}
				} else {
					res.Cancelled++
				}
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	stopProgress()
	commits1 := shop.host.Commits()
	res.Shipped = len(latencies)
	if res.Shipped > 0 {
		res.Seconds = last.Sub(t0).Seconds()
		res.PerSecond = float64(res.Shipped) / res.Seconds
		res.lat = slices.Clone(latencies)
		res.Latency = bench.Summarize(latencies)
		res.Commits = map[string]float64{}
		for name, c := range commits1 {
			res.Commits[name] = float64(c-commits0[name]) / float64(res.Shipped)
		}
	}
	n, err := api.deadLetters(ctx)
	if err != nil {
		return res, err
	}
	res.DeadLetters = n
	switch {
	case firstErr != nil:
		return res, firstErr
	case ctx.Err() != nil:
		return res, ctx.Err()
	case res.Cancelled > 0 || res.DeadLetters > 0:
		return res, fmt.Errorf("%d orders cancelled and %d events dead-lettered in a run that should ship every order", res.Cancelled, res.DeadLetters)
	}
	return res, nil
}

// progressLine shows n of total and the rate on stderr every second until
// stopped (in place on a terminal).
func (m *Main) progressLine(what string, total int64, n *atomic.Int64, t0 time.Time) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	show := func(final bool) {
		c, el := n.Load(), time.Since(t0).Seconds()
		line := fmt.Sprintf("  %s: %d/%d, %.0f/s", what, c, total, float64(c)/max(el, 0.001))
		switch {
		case m.StderrIsTerminal && !final:
			fmt.Fprintf(m.Stderr, "\r%s\033[K", line)
		case m.StderrIsTerminal:
			fmt.Fprintf(m.Stderr, "\r%s\033[K\n", line)
		default:
			fmt.Fprintln(m.Stderr, line)
		}
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				show(true)
				return
			case <-tick.C:
				show(false)
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// orderFates is what the stream said of each order: shipped or cancelled,
// and when that was received.
type orderFates struct {
	mu      sync.Mutex
	settled map[string]fateAt
	waiters map[string]chan fateAt
}

type fateAt struct {
	status string
	at     time.Time
}

func newOrderFates() *orderFates {
	return &orderFates{settled: map[string]fateAt{}, waiters: map[string]chan fateAt{}}
}

func (f *orderFates) settle(id, status string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.settled[id]; dup {
		return
	}
	f.settled[id] = fateAt{status, at}
	if ch := f.waiters[id]; ch != nil {
		ch <- fateAt{status, at}
		delete(f.waiters, id)
	}
}

func (f *orderFates) await(ctx context.Context, id string, within time.Duration) (string, time.Time, bool) {
	f.mu.Lock()
	if s, ok := f.settled[id]; ok {
		f.mu.Unlock()
		return s.status, s.at, true
	}
	ch := make(chan fateAt, 1)
	f.waiters[id] = ch
	f.mu.Unlock()
	select {
	case s := <-ch:
		return s.status, s.at, true
	case <-ctx.Done():
	case <-time.After(within):
	}
	return "", time.Time{}, false
}

// benchAPI drives the shop's HTTP API.
type benchAPI struct {
	base, token string
	client      *http.Client
}

func (a benchAPI) call(ctx context.Context, method, path string, body any, admin bool, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &statusError{method: method, path: path, status: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

// products creates n products with ample stock (the orders must all ship),
// and waits until the cart knows them all.
func (a benchAPI) products(ctx context.Context, n int) ([]string, error) {
	if err := a.call(ctx, "PUT", "/catalog/categories/bench", map[string]string{"name": "Benchmark"}, true, http.StatusCreated, nil); err != nil {
		return nil, err
	}
	var skus []string
	for i := range n {
		sku := fmt.Sprintf("BENCH-%04d", i)
		skus = append(skus, sku)
		body := map[string]any{"name": "Benchmark product " + sku, "short_description": "A product to benchmark with.",
			"long_description": "A product to benchmark with; it has plenty of stock.", "price_cents": 1000 + i, "currency": "EUR",
			"category": "bench", "active": true}
		if err := a.call(ctx, "PUT", "/catalog/products/"+sku, body, true, http.StatusCreated, nil); err != nil {
			return nil, err
		}
		stock := map[string]int{"on_hand": 1_000_000_000, "reorder_point": 0, "reorder_quantity": 1}
		if err := a.call(ctx, "PUT", "/inventory/stock/"+sku, stock, true, http.StatusCreated, nil); err != nil {
			return nil, err
		}
	}
	var cart struct{ ID string }
	if err := a.call(ctx, "POST", "/cart/carts", map[string]string{}, false, http.StatusCreated, &cart); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, sku := range skus {
		for {
			err := a.call(ctx, "PUT", "/cart/carts/"+cart.ID+"/items/"+sku, map[string]int{"quantity": 1}, false, http.StatusOK, nil)
			var se *statusError
			if err == nil {
				break
			}
			if !errors.As(err, &se) || se.status != http.StatusUnprocessableEntity || time.Now().After(deadline) {
				return nil, err
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return skus, nil
}

// carts creates n carts of two lines each, with workers at once.
func (a benchAPI) carts(ctx context.Context, skus []string, n, workers int) ([]string, error) {
	carts := make([]string, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				var c struct{ ID string }
				err := a.call(ctx, "POST", "/cart/carts", map[string]string{"customer_email": fmt.Sprintf("buyer%d@example.com", i)}, false, http.StatusCreated, &c)
				for j, q := range []int{1, 2} {
					if err == nil {
						err = a.call(ctx, "PUT", "/cart/carts/"+c.ID+"/items/"+skus[(i+j)%len(skus)], map[string]int{"quantity": q}, false, http.StatusOK, nil)
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				carts[i] = c.ID
			}
		})
	}
	wg.Wait()
	return carts, errors.Join(firstErr, ctx.Err())
}

var benchAddress = map[string]string{"name": "Grace Hopper", "line1": "1 Loopback Lane", "city": "Arlington", "postal_code": "22201", "country": "US"}

func (a benchAPI) checkout(ctx context.Context, cartID string) (string, error) {
	var co struct {
		OrderID string `json:"order_id"`
	}
	err := a.call(ctx, "POST", "/cart/carts/"+cartID+"/checkout", map[string]any{"shipping_address": benchAddress, "payment_token": "tok_approve"},
		false, http.StatusAccepted, &co)
	return co.OrderID, err
}

func (a benchAPI) deadLetters(ctx context.Context) (int, error) {
	var v struct{ Count int }
	err := a.call(ctx, "GET", "/ops/dead-letters", nil, true, http.StatusOK, &v)
	return v.Count, err
}

func (r *shopBenchResult) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### The shop end to end (embedded mode)\n\n")
	fmt.Fprintf(&b, "`%s` — %s, %d CPUs. %d orders (2 lines each), %d in flight.\n\n", r.Command, r.When.Format("2006-01-02 15:04 UTC"), r.CPUs, r.Orders, r.Concurrency)
	fmt.Fprintf(&b, "| Figure | Value | Target |\n|---|---|---|\n")
	met := "not met"
	if r.PerSecond >= r.TargetPerSec {
		met = "met"
	}
	fmt.Fprintf(&b, "| Orders shipped per second (checkout accepted → order shipped) | **%.0f/s** (%d in %.1f s) | ≥ %.0f/s: %s |\n", r.PerSecond, r.Shipped, r.Seconds, r.TargetPerSec, met)
	fmt.Fprintf(&b, "| Checkout accepted → shipped, p50 / p90 / p99 | %.1f / %.1f / %.1f ms | |\n", r.Latency.P50, r.Latency.P90, r.Latency.P99)
	fmt.Fprintf(&b, "| Raw SQLite commits/s (1 writer, one-row autocommit) | %.0f/s | the raw limit of one service's database |\n", r.RawSQLite.PerSecond)
	var names []string
	total := 0.0
	for name, c := range r.Commits {
		names = append(names, name)
		total += c
	}
	slices.Sort(names)
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f", name, r.Commits[name]))
	}
	fmt.Fprintf(&b, "| Commits per order, checkout → shipped (all six databases) | %.1f (%s) | |\n", total, strings.Join(parts, ", "))
	fmt.Fprintf(&b, "| Commits per order to fill its cart (before the clock) | %.1f (cart) | |\n", r.CartCommits)
	fmt.Fprintf(&b, "| Orders cancelled / events dead-lettered | %d / %d | 0 / 0 |\n", r.Cancelled, r.DeadLetters)
	_, err := io.WriteString(w, b.String())
	return err
}
