package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/bench"
	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/pgprovision"
	"github.com/bounded-dev/bounded/platform/service"
)

// shopBenchConfig is what `bounded bench shop` runs with.
type shopBenchConfig struct {
	orders      int
	concurrency int
	products    int
	rawDuration time.Duration
	logLevel    slog.Level
	// postgres (an admin DSN) and natsURL, both set, add the raw
	// PostgreSQL figure and the distributed mode on those servers.
	postgres string
	natsURL  string
	dbConns  int // distributed mode: each process's pool bound (0: serve's default)
	// kill names services of which a process is killed (SIGKILL) every
	// killEvery during the distributed checkouts, in turn.
	kill      []string
	killEvery time.Duration
}

// The modes, in the order a run measures them.
const (
	modeEmbedded    = "embedded"
	modeDistributed = "distributed"
)

// rawPostgresWriters are the writer counts of the raw PostgreSQL figure.
var rawPostgresWriters = []int{1, 8}

// shopBenchResult is what a run measured: the shop in each mode, and the
// raw commit rates of the databases under them.
type shopBenchResult struct {
	Command      string    `json:"command"`
	When         time.Time `json:"when"`
	CPUs         int       `json:"cpus"`
	Orders       int       `json:"orders"`
	Concurrency  int       `json:"concurrency"`
	TargetPerSec float64   `json:"target_orders_per_second"`
	// Postgres describes the server of the raw PostgreSQL figure and of
	// distributed mode (version and commit durability); empty without one.
	Postgres    string            `json:"postgres,omitempty"`
	RawSQLite   bench.CommitRun   `json:"raw_sqlite_one_writer"`
	RawPostgres []bench.CommitRun `json:"raw_postgres,omitempty"` // one per rawPostgresWriters
	Modes       []*shopModeResult `json:"modes"`
}

// shopModeResult is the shop measured in one mode.
type shopModeResult struct {
	Mode        string            `json:"mode"`
	Shipped     int               `json:"shipped"`
	Cancelled   int               `json:"cancelled"`
	DeadLetters int               `json:"dead_letters"`
	Seconds     float64           `json:"seconds"`
	PerSecond   float64           `json:"orders_shipped_per_second"`
	Latency     bench.Percentiles `json:"checkout_to_shipped"`
	// Commits is the transactions each service's database committed
	// during the measured checkouts, per order shipped; CommitsCounted
	// says which transactions count, as that differs by mode.
	Commits        map[string]float64 `json:"commits_per_order"`
	CommitsCounted string             `json:"commits_counted"`
	CartCommits    float64            `json:"cart_prep_commits_per_order"`
	// Deadlocks is the deadlocks PostgreSQL detected on the services'
	// databases during the measured checkouts (distributed mode only).
	Deadlocks *int64 `json:"deadlocks,omitempty"`
	// Kills are the processes --kill killed, and Restarts how often the
	// supervisor started each service's processes again (distributed mode).
	Kills    []shopKill     `json:"kills,omitempty"`
	Restarts map[string]int `json:"restarts,omitempty"`
	// Checks are the invariants checked once the orders settled.
	Checks []shopCheck `json:"checks"`

	lat []time.Duration // every order's time, for the chart
}

func (m *Main) parseBenchShop(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("bench shop", strings.TrimSpace(`
Measures the shop end to end: orders shipped per second and the time from a
checkout accepted (202) to the order shipped (its orders.order_shipped
event), with a fixed number of orders in flight. Carts are filled before the
clock starts; checkouts go over HTTP on loopback.

Embedded mode always (one process, embedded NATS JetStream, one SQLite file
per service, in a temporary directory). With --postgres and --nats, the same
orders in distributed mode too (one 'bounded serve' process per service,
each on a PostgreSQL database and role of its own, behind a gateway, on that
NATS), under database, role and stream names of the run's own that it
removes at the end.

Beside them, in the same run: the raw commit rates of the databases (one-row
autocommit INSERTs into a fresh database: SQLite with 1 writer, PostgreSQL
with 1 and 8) and the commits one order costs per service.

Faults: with --kill, one process of each service listed is killed (SIGKILL, as
a crash), in order, one every --kill-every from the first distributed checkout
(list a service twice to kill it twice); the supervisor starts it again, a
checkout that met a cart restarting is sent again (it is idempotent), and the
killed process's unacknowledged events come back after the consumers' AckWait
(30 s). In every run, once the orders have settled, the
invariants are checked through the owners' APIs: each order counted once in
its final state, money taken = value shipped with nothing in flight, one
shipment per shipped order, stock moved once per unit shipped with nothing
reserved, and the warehouse equal to the owners (reconcile).

Progress goes to stderr, the results (Markdown) to stdout. The exit status is
1 when an order did not ship, an event was dead-lettered or an invariant does
not hold, in either mode.`))
	var (
		cfg      shopBenchConfig
		out      string
		jsonOut  string
		svgOut   string
		logLevel string
		cpuProf  string
	)
	fs.IntVar(&cfg.orders, "orders", 5000, "orders to check out and ship (in each mode)")
	fs.IntVar(&cfg.concurrency, "concurrency", 200, "orders in flight at once (checked out, not yet shipped)")
	fs.IntVar(&cfg.products, "products", 20, "products the orders spread over")
	fs.DurationVar(&cfg.rawDuration, "raw-duration", 3*time.Second, "how long each raw database figure writes")
	fs.StringVar(&cfg.postgres, "postgres", os.Getenv("BOUNDED_ADMIN_DSN"), "distributed mode and the raw PostgreSQL figure: an admin `DSN` of the PostgreSQL server (creates and drops databases and roles; default $BOUNDED_ADMIN_DSN)")
	fs.IntVar(&cfg.dbConns, "db-conns", 0, "distributed mode: most connections each service process's database pool opens, as 'bounded up --db-conns' (default: serve's)")
	kill := fs.String("kill", "", "distributed mode: `services`, comma-separated, of which one process each is killed (SIGKILL), in order, one every --kill-every from the first checkout (e.g. cart,payments,inventory)")
	fs.DurationVar(&cfg.killEvery, "kill-every", 5*time.Second, "with --kill: the time between two kills")
	fs.StringVar(&cfg.natsURL, "nats", os.Getenv("BOUNDED_NATS_URL"), "distributed mode: NATS server `URL`(s), comma-separated, with JetStream (default $BOUNDED_NATS_URL)")
	fs.StringVar(&out, "out", "", "write the results as a Markdown section to `FILE`")
	fs.StringVar(&jsonOut, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&svgOut, "svg", "", "draw the throughput against its target and the distribution of checkout → shipped times as an SVG chart in `FILE`")
	fs.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of this process to `FILE` (in distributed mode, the services run in processes of their own)")
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
	case cfg.dbConns < 0:
		return nil, usagef("bench shop: -db-conns %d: want at least 1", cfg.dbConns)
	case (cfg.postgres == "") != (cfg.natsURL == ""):
		return nil, usagef("bench shop: distributed mode needs both --postgres and --nats")
	case *kill != "" && cfg.postgres == "":
		return nil, usagef("bench shop: --kill needs distributed mode (--postgres and --nats): embedded mode has one process")
	case cfg.killEvery < 100*time.Millisecond:
		return nil, usagef("bench shop: -kill-every %s: want at least 100ms", cfg.killEvery)
	}
	if *kill != "" {
		for svc := range strings.SplitSeq(*kill, ",") {
			svc = strings.TrimSpace(svc)
			if !slices.Contains(shopServiceNames(), svc) {
				return nil, usagef("bench shop: --kill: no service %q; the services are %s", svc, strings.Join(shopServiceNames(), ", "))
			}
			cfg.kill = append(cfg.kill, svc)
		}
	}
	if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, usagef("bench shop: -log: %v", err)
	}
	command := "bounded bench shop " + strings.Join(redactedArgs(args), " ")
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
		sb := &shopBench{cfg: cfg, stderr: &lockedWriter{w: m.Stderr}, tty: m.StderrIsTerminal}
		res, err := sb.run(ctx)
		if res == nil {
			return err
		}
		res.Command = strings.TrimSpace(command)
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

// redactedArgs is args with the password of any URL among them hidden: the
// command line goes into the report.
func redactedArgs(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if strings.Contains(a, "://") {
			out[i] = redactURL(a)
		}
	}
	return out
}

// shopBench is one run of `bounded bench shop`.
type shopBench struct {
	cfg shopBenchConfig
	// stderr takes the progress lines and the shop's log, also from the
	// services' processes, one write at a time.
	stderr *lockedWriter
	tty    bool // stderr is a terminal
}

func (sb *shopBench) say(format string, args ...any) { fmt.Fprintf(sb.stderr, format+"\n", args...) }

// run runs the measurements in order: raw SQLite, raw PostgreSQL (with
// a server), embedded mode, distributed mode (with a server). A mode whose
// orders did not all ship does not keep the next from running; a cancelled
// ctx does. The result holds what was measured, also on an error.
func (sb *shopBench) run(ctx context.Context) (*shopBenchResult, error) {
	cfg := sb.cfg
	res := &shopBenchResult{When: time.Now().UTC(), CPUs: runtime.GOMAXPROCS(0), Orders: cfg.orders, Concurrency: cfg.concurrency, TargetPerSec: 500}
	dir, err := os.MkdirTemp("", "bounded-bench-shop-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	say := sb.say

	say("raw SQLite: one-row autocommit INSERTs, 1 writer, %s …", cfg.rawDuration)
	if err := os.Mkdir(filepath.Join(dir, "raw"), 0o755); err != nil {
		return nil, err
	}
	if res.RawSQLite, err = bench.RawSQLiteCommits(ctx, filepath.Join(dir, "raw"), 1, 300, cfg.rawDuration); err != nil {
		return nil, err
	}
	say("  %.0f commits/s", res.RawSQLite.PerSecond)

	var admin *pgx.Conn
	if cfg.postgres != "" {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		admin, err = pgx.Connect(cctx, cfg.postgres)
		if err == nil {
			defer admin.Close(context.WithoutCancel(ctx))
			res.Postgres, err = describePostgres(cctx, admin)
		}
		cancel()
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL at %s: %w", redactURL(cfg.postgres), err)
		}
		for _, w := range rawPostgresWriters {
			say("raw PostgreSQL (%s): one-row autocommit INSERTs, %d writer(s), %s …", res.Postgres, w, cfg.rawDuration)
			cr, err := bench.RawPostgresCommits(ctx, cfg.postgres, w, 300, cfg.rawDuration)
			if err != nil {
				return res, err
			}
			res.RawPostgres = append(res.RawPostgres, cr)
			say("  %.0f commits/s", cr.PerSecond)
		}
	}

	var errs []error
	say("== embedded mode")
	mr, err := sb.embedded(ctx, filepath.Join(dir, "embedded"))
	if mr != nil {
		res.Modes = append(res.Modes, mr)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("embedded mode: %w", err))
	}
	if cfg.postgres != "" && ctx.Err() == nil {
		say("== distributed mode")
		mr, err := sb.distributed(ctx, admin, filepath.Join(dir, "distributed"))
		if mr != nil {
			res.Modes = append(res.Modes, mr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("distributed mode: %w", err))
		}
	}
	return res, errors.Join(errs...)
}

// describePostgres names the server's version and how durable its commits
// are, which the raw figure depends on.
func describePostgres(ctx context.Context, conn *pgx.Conn) (string, error) {
	var version, fsync, syncCommit string
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')`).
		Scan(&version, &fsync, &syncCommit); err != nil {
		return "", err
	}
	if i := strings.IndexByte(version, ' '); i > 0 {
		version = version[:i] // "15.2 (Debian 15.2-1)"
	}
	return fmt.Sprintf("PostgreSQL %s, fsync %s, synchronous_commit %s", version, fsync, syncCommit), nil
}

const benchToken = "bench-admin-token-0123456789"

// embedded measures the shop in embedded mode, in dir.
func (sb *shopBench) embedded(ctx context.Context, dir string) (*shopModeResult, error) {
	cfg := sb.cfg
	log := slog.New(slog.NewTextHandler(sb.stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	shop, err := startProcess(ctx, processConfig{
		embedded: &bus.EmbeddedConfig{Dir: filepath.Join(dir, "nats"), Host: "127.0.0.1", Port: -1, Logger: log},
		dsn:      func(name string) string { return filepath.Join(dir, name+".db") },
		specs:    shopSpecs(shopConfig{}),
		addr:     "127.0.0.1:0", token: benchToken, log: log,
	})
	if err != nil {
		return nil, err
	}
	defer shop.stop()
	return sb.drive(ctx, benchedShop{
		mode: modeEmbedded, base: shop.base, natsURL: shop.natsURL,
		commits:        func(context.Context) (map[string]int64, error) { return shop.host.Commits(), nil },
		commitsCounted: "the transactions the services committed through sqldb (Transact)",
	})
}

// pgStatsLag bounds how late PostgreSQL's cumulative statistics
// (pg_stat_database) may show a committed transaction: since PostgreSQL
// 15, a backend that goes idle within a second of its last report holds
// its counts for up to 10 s (PGSTAT_IDLE_INTERVAL); before, the collector
// lagged by about half a second.
const pgStatsLag = 11 * time.Second

// distributed measures the shop in distributed mode on the configured
// PostgreSQL and NATS, under a prefix and namespace of its own; admin reads the
// databases' statistics. The databases, roles and streams are removed
// before it returns, also on an error or a cancelled ctx.
func (sb *shopBench) distributed(ctx context.Context, admin *pgx.Conn, dir string) (_ *shopModeResult, err error) {
	cfg := sb.cfg
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	name := "bench_" + strings.ToLower(rand.Text()[:10])
	var services []string
	for _, s := range shopSpecs(shopConfig{}) {
		services = append(services, s.Name)
	}
	defer func() {
		// On a fresh context: ctx may be cancelled (an interrupt), and the
		// databases and streams must go still.
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if cerr := removeBenchShop(cctx, cfg, name, services); cerr != nil {
			err = errors.Join(err, fmt.Errorf("removing databases and streams %s_*: %w", name, cerr))
		}
	}()
	log := slog.New(slog.NewTextHandler(sb.stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	sb.say("provisioning databases and roles %s_<service>, starting a process per service (streams %s_<SERVICE>) …", name, name)
	d, err := startDistributed(ctx, upConfig{
		dataDir: dir, addr: "127.0.0.1:0", logLevel: cfg.logLevel, shop: shopConfig{},
		postgres: cfg.postgres, natsURL: cfg.natsURL, prefix: name, namespace: name,
		dbSecret: rand.Text(), dbConns: cfg.dbConns,
	}, benchToken, sb.stderr, log)
	if err != nil {
		return nil, err
	}
	// Run before the removal above (deferred later, so run earlier).
	defer func() {
		if serr := d.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	dbService := map[string]string{}
	for _, db := range d.dbs {
		dbService[db.Name] = db.Service
	}
	return sb.drive(ctx, benchedShop{
		mode: modeDistributed, base: d.base, natsURL: cfg.natsURL, namespace: name,
		commits: func(ctx context.Context) (map[string]int64, error) {
			return databaseStats(ctx, admin, dbService, "xact_commit")
		},
		deadlocks: func(ctx context.Context) (int64, error) {
			n, err := databaseStats(ctx, admin, dbService, "deadlocks")
			return sumCounts(n), err
		},
		commitsCounted: "every transaction PostgreSQL committed on the service's database (pg_stat_database.xact_commit): reads outside a transaction, the relay's and the jobs' work and background polling included",
		commitsLag:     pgStatsLag,
	})
}

// databaseStats reads a counter of pg_stat_database (column, a constant)
// on each database named in dbService (database → service), per service.
func databaseStats(ctx context.Context, admin *pgx.Conn, dbService map[string]string, column string) (map[string]int64, error) {
	var names []string
	for db := range dbService {
		names = append(names, db)
	}
	rows, err := admin.Query(ctx, `SELECT datname::text, `+column+` FROM pg_stat_database WHERE datname = ANY($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("reading pg_stat_database: %w", err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var db string
		var n int64
		if err := rows.Scan(&db, &n); err != nil {
			return nil, err
		}
		out[dbService[db]] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading pg_stat_database: %w", err)
	}
	return out, nil
}

// removeBenchShop drops the databases and roles of a distributed run under
// prefix and deletes its streams; what is missing is fine.
func removeBenchShop(ctx context.Context, cfg shopBenchConfig, prefix string, services []string) error {
	errs := []error{pgprovision.Drop(ctx, cfg.postgres, prefix, services)}
	nc, err := nats.Connect(cfg.natsURL)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, s := range services {
		if err := js.DeleteStream(ctx, prefix+"_"+service.StreamName(s)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("delete stream of %s: %w", s, err))
		}
	}
	return errors.Join(errs...)
}

// benchedShop is a running shop, in either mode, as the measurement sees
// it.
type benchedShop struct {
	mode    string
	base    string // the HTTP API
	natsURL string
	// namespace prefixes the subjects (see service.HostConfig.Namespace).
	namespace string
	// commits returns each service's committed transactions so far; they
	// may show up to commitsLag late.
	commits        func(ctx context.Context) (map[string]int64, error)
	commitsCounted string
	commitsLag     time.Duration
	// deadlocks, when set, returns the deadlocks detected so far on the
	// shop's databases, with the same lag.
	deadlocks func(ctx context.Context) (int64, error)
}

func sumCounts(m map[string]int64) int64 {
	var t int64
	for _, n := range m {
		t += n
	}
	return t
}

// drive runs the measurement on shop: products, carts, then the
// checkouts with cfg.concurrency orders in flight. The result holds what
// was measured, also on an error.
func (sb *shopBench) drive(ctx context.Context, shop benchedShop) (*shopModeResult, error) {
	cfg := sb.cfg
	res := &shopModeResult{Mode: shop.mode, CommitsCounted: shop.commitsCounted}
	say := sb.say
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency + 8, MaxConnsPerHost: cfg.concurrency + 8}}
	defer client.CloseIdleConnections()
	api := benchAPI{base: shop.base, token: benchToken, client: client}
	// commitsNow reads the counts once every transaction until now shows.
	commitsNow := func() (map[string]int64, error) {
		if shop.commitsLag > 0 {
			say("waiting %s for the databases' statistics to show every commit …", shop.commitsLag)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(shop.commitsLag):
			}
		}
		return shop.commits(ctx)
	}

	// Watch the orders' fate on the stream, as any consumer would.
	nc, err := nats.Connect(shop.natsURL)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	fate := newOrderFates()
	for subj, status := range map[string]string{"orders.order_shipped.v1": "shipped", "orders.order_cancelled.v1": "cancelled"} {
		if shop.namespace != "" {
			subj = shop.namespace + "." + subj
		}
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
	prep0, err := commitsNow()
	if err != nil {
		return nil, err
	}
	say("filling %d carts (2 lines each) …", cfg.orders)
	carts, err := api.carts(ctx, skus, cfg.orders, min(cfg.concurrency, 32))
	if err != nil {
		return nil, err
	}
	commits0, err := commitsNow()
	if err != nil {
		return nil, err
	}
	var deadlocks0 int64
	if shop.deadlocks != nil {
		if deadlocks0, err = shop.deadlocks(ctx); err != nil {
			return nil, err
		}
	}
	res.CartCommits = float64(commits0["cart"]-prep0["cart"]) / float64(cfg.orders)
	owners := shopClient{base: shop.base, token: benchToken}
	before, err := readTotals(ctx, owners)
	if err != nil {
		return nil, err
	}

	say("checking out %d orders, %d in flight …", cfg.orders, cfg.concurrency)
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
	stopProgress := sb.progressLine("orders shipped", int64(cfg.orders), &done, t0)
	var kills *killer
	stopKills := func() {}
	if shop.mode == modeDistributed && len(cfg.kill) > 0 {
		say("killing a process of %s, one every %s …", strings.Join(cfg.kill, ", then "), cfg.killEvery)
		kills = &killer{api: api, services: cfg.kill, every: cfg.killEvery, t0: t0}
		kctx, cancel := context.WithCancel(ctx)
		killed := make(chan struct{})
		go func() { kills.run(kctx); close(killed) }()
		stopKills = func() { cancel(); <-killed }
	}
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
				status, at, ok := fate.await(ctx, orderID, settleWithin)
				if !ok {
					errOnce.Do(func() { firstErr = fmt.Errorf("order %s: not shipped within %s", orderID, settleWithin) })
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
	stopKills()
	stopProgress()
	if kills != nil {
		var kerr error
		res.Kills, kerr = kills.result()
		if kerr != nil {
			errOnce.Do(func() { firstErr = kerr })
		}
		if res.Restarts, err = restarts(ctx, api); err != nil {
			return res, err
		}
		say("  killed %d processes; restarts by the supervisor: %s", len(res.Kills), formatCounts(res.Restarts))
	}
	res.Shipped = len(latencies)
	if res.Shipped > 0 {
		res.Seconds = last.Sub(t0).Seconds()
		res.PerSecond = float64(res.Shipped) / res.Seconds
		res.lat = slices.Clone(latencies)
		res.Latency = bench.Summarize(latencies)
	}
	if firstErr == nil && ctx.Err() == nil {
		commits1, err := commitsNow()
		if err != nil {
			return res, err
		}
		if res.Shipped > 0 {
			res.Commits = map[string]float64{}
			for name, c := range commits1 {
				res.Commits[name] = float64(c-commits0[name]) / float64(res.Shipped)
			}
		}
		if shop.deadlocks != nil {
			n, err := shop.deadlocks(ctx)
			if err != nil {
				return res, err
			}
			n -= deadlocks0
			res.Deadlocks = &n
		}
	}
	n, err := api.deadLetters(ctx)
	if err != nil {
		return res, err
	}
	res.DeadLetters = n
	if firstErr == nil && ctx.Err() == nil {
		say("checking the invariants …")
		if res.Checks, err = invariants(ctx, owners, before, res.Shipped, res.Cancelled, time.Minute); err != nil {
			return res, err
		}
	}
	var broken []string
	for _, c := range res.Checks {
		if !c.OK {
			broken = append(broken, c.Name+" ("+c.Detail+")")
		}
	}
	switch {
	case firstErr != nil:
		return res, firstErr
	case ctx.Err() != nil:
		return res, ctx.Err()
	case res.Cancelled > 0 || res.DeadLetters > 0:
		return res, fmt.Errorf("%d orders cancelled and %d events dead-lettered in a run that should ship every order", res.Cancelled, res.DeadLetters)
	case len(broken) > 0:
		return res, fmt.Errorf("%s mode: invariants broken: %s", shop.mode, strings.Join(broken, "; "))
	}
	say("  %s mode: %.0f orders shipped/s, p50 %.1f ms, p99 %.1f ms", shop.mode, res.PerSecond, res.Latency.P50, res.Latency.P99)
	return res, nil
}

// settleWithin bounds the wait for one order to ship after its checkout:
// ample for a queue of orders, and for a killed process's events, which come
// back after the consumers' AckWait (30 s).
const settleWithin = 2 * time.Minute

// progressLine shows n of total and the rate on stderr every second until
// stopped (in place on a terminal).
func (sb *shopBench) progressLine(what string, total int64, n *atomic.Int64, t0 time.Time) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	show := func(final bool) {
		c, el := n.Load(), time.Since(t0).Seconds()
		line := fmt.Sprintf("  %s: %d/%d, %.0f/s", what, c, total, float64(c)/max(el, 0.001))
		switch {
		case sb.tty && !final:
			fmt.Fprintf(sb.stderr, "\r%s\033[K", line)
		case sb.tty:
			fmt.Fprintf(sb.stderr, "\r%s\033[K\n", line)
		default:
			fmt.Fprintln(sb.stderr, line)
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
	// A product the cart lets into a cart is one it knows. A cart holds at
	// most 100 lines (cart.Config.MaxLines), so a new one every 50.
	var cart struct{ ID string }
	deadline := time.Now().Add(30 * time.Second)
	for i, sku := range skus {
		if i%50 == 0 {
			if err := a.call(ctx, "POST", "/cart/carts", map[string]string{}, false, http.StatusCreated, &cart); err != nil {
				return nil, err
			}
		}
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
	// A checkout is idempotent (a cart checked out answers 200 with its
	// order), so one that met a cart process killed or restarting (503 from
	// the gateway, a dropped connection) is sent again, as a client would,
	// for up to a minute.
	start := time.Now()
	for {
		err := a.call(ctx, "POST", "/cart/carts/"+cartID+"/checkout", map[string]any{"shipping_address": benchAddress, "payment_token": "tok_approve"},
			false, http.StatusAccepted, &co)
		var se *statusError
		switch {
		case err == nil:
			return co.OrderID, nil
		case errors.As(err, &se) && se.status == http.StatusOK:
			return co.OrderID, json.Unmarshal([]byte(se.body), &co)
		case ctx.Err() != nil || time.Since(start) > time.Minute:
			return "", err
		case errors.As(err, &se) && se.status != http.StatusServiceUnavailable && se.status != http.StatusBadGateway:
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (a benchAPI) deadLetters(ctx context.Context) (int, error) {
	var v struct{ Count int }
	err := a.call(ctx, "GET", "/ops/dead-letters", nil, true, http.StatusOK, &v)
	return v.Count, err
}

// redactURL hides the password of a URL (a DSN) for the report.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	return u.Redacted()
}

// modeTitle is how a mode heads its column.
func modeTitle(mode string) string {
	switch mode {
	case modeEmbedded:
		return "Embedded (one process, SQLite, embedded NATS)"
	case modeDistributed:
		return "Distributed (a process per service, PostgreSQL, NATS server)"
	}
	return mode
}

func (r *shopBenchResult) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	var names []string
	has := map[string]bool{}
	for _, mr := range r.Modes {
		names = append(names, mr.Mode)
		has[mr.Mode] = true
	}
	title := strings.Join(names, " and ")
	if title == "" {
		title = "no mode measured"
	}
	fmt.Fprintf(&b, "### The shop end to end (%s)\n\n", title)
	fmt.Fprintf(&b, "`%s` — %s, %d CPUs. %d orders (2 lines each) per mode, %d in flight.", r.Command, r.When.Format("2006-01-02 15:04 UTC"), r.CPUs, r.Orders, r.Concurrency)
	if r.Postgres != "" {
		fmt.Fprintf(&b, " %s.", r.Postgres)
	}
	b.WriteString("\n\n")

	// The raw figures, each under the mode that runs on its database.
	type rawFigure struct {
		mode, figure, target string
		run                  bench.CommitRun
	}
	raws := []rawFigure{{modeEmbedded, "SQLite", "the raw limit of one service's database", r.RawSQLite}}
	for _, run := range r.RawPostgres {
		target := "the raw limit of one service's database"
		if run.Writers > 1 {
			target = "the raw limit of the server the six databases share"
		}
		raws = append(raws, rawFigure{modeDistributed, "PostgreSQL", target, run})
	}
	if len(r.Modes) > 0 {
		// One column per mode.
		b.WriteString("| Figure |")
		for _, mr := range r.Modes {
			fmt.Fprintf(&b, " %s |", modeTitle(mr.Mode))
		}
		b.WriteString(" Target |\n|---|")
		for range r.Modes {
			b.WriteString("---|")
		}
		b.WriteString("---|\n")
		row := func(figure string, cell func(*shopModeResult) string, target string) {
			fmt.Fprintf(&b, "| %s |", figure)
			for _, mr := range r.Modes {
				fmt.Fprintf(&b, " %s |", cell(mr))
			}
			fmt.Fprintf(&b, " %s |\n", target)
		}
		row("Orders shipped per second (checkout accepted → order shipped)", func(mr *shopModeResult) string {
			met := "not met"
			if mr.PerSecond >= r.TargetPerSec {
				met = "met"
			}
			return fmt.Sprintf("**%.0f/s** (%d in %.1f s; %s)", mr.PerSecond, mr.Shipped, mr.Seconds, met)
		}, fmt.Sprintf("≥ %.0f/s", r.TargetPerSec))
		row("Checkout accepted → shipped, p50 / p90 / p99", func(mr *shopModeResult) string {
			return fmt.Sprintf("%.1f / %.1f / %.1f ms", mr.Latency.P50, mr.Latency.P90, mr.Latency.P99)
		}, "")
		row("Commits per order, checkout → shipped (all six databases; see below)", func(mr *shopModeResult) string {
			if mr.Commits == nil {
				return "—"
			}
			var services []string
			for name := range mr.Commits {
				services = append(services, name)
			}
			slices.Sort(services)
			var parts []string
			for _, name := range services {
				parts = append(parts, fmt.Sprintf("%s %.1f", name, mr.Commits[name]))
			}
			return fmt.Sprintf("%.1f (%s)", sumCommits(mr.Commits), strings.Join(parts, ", "))
		}, "")
		row("Commits per order to fill its cart (before the clock)", func(mr *shopModeResult) string {
			return fmt.Sprintf("%.1f (cart)", mr.CartCommits)
		}, "")
		row("Orders cancelled / events dead-lettered", func(mr *shopModeResult) string {
			return fmt.Sprintf("%d / %d", mr.Cancelled, mr.DeadLetters)
		}, "0 / 0")
		if has[modeDistributed] {
			row("Deadlocks PostgreSQL detected, checkout → shipped (each after deadlock_timeout; the victim's events are retried)", func(mr *shopModeResult) string {
				if mr.Deadlocks == nil {
					return "—"
				}
				return fmt.Sprint(*mr.Deadlocks)
			}, "")
		}
		for _, writers := range []int{1, 8} {
			var in []rawFigure
			for _, f := range raws {
				if f.run.Writers == writers && has[f.mode] {
					in = append(in, f)
				}
			}
			if len(in) == 0 {
				continue
			}
			figure := "Raw commits/s, 1 writer (one-row autocommit INSERTs into a fresh database)"
			if writers != 1 {
				figure = fmt.Sprintf("Raw commits/s, %d writers", writers)
			}
			row(figure, func(mr *shopModeResult) string {
				for _, f := range in {
					if f.mode == mr.Mode {
						return fmt.Sprintf("%s %.0f/s", f.figure, f.run.PerSecond)
					}
				}
				return "—"
			}, in[0].target)
		}
		b.WriteString("\n")
	}
	// The raw figures of a mode that did not run (it failed to start).
	for _, f := range raws {
		if !has[f.mode] && f.run.Commits > 0 {
			fmt.Fprintf(&b, "Raw %s commits/s, %d writer(s), one-row autocommit INSERTs: %.0f/s.\n", f.figure, f.run.Writers, f.run.PerSecond)
		}
	}
	for _, mr := range r.Modes {
		fmt.Fprintf(&b, "Commits counted in %s mode: %s.\n", mr.Mode, mr.CommitsCounted)
	}
	for _, mr := range r.Modes {
		if len(mr.Checks) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nInvariants, %s mode, once the orders settled", mr.Mode)
		if len(mr.Kills) > 0 {
			var kills []string
			for _, k := range mr.Kills {
				kills = append(kills, fmt.Sprintf("%s (pid %d) at %.1f s", k.Service, k.PID, k.At))
			}
			fmt.Fprintf(&b, ", after %d processes killed with SIGKILL during the checkouts: %s; restarts by the supervisor: %s",
				len(mr.Kills), strings.Join(kills, ", "), formatCounts(mr.Restarts))
		}
		b.WriteString(":\n\n| Invariant | Holds | Figures |\n|---|---|---|\n")
		for _, c := range mr.Checks {
			holds := "**yes**"
			if !c.OK {
				holds = "**NO**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, holds, c.Detail)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatCounts writes counts as "a 1, b 2", sorted by name, leaving out
// zeros.
func formatCounts(counts map[string]int) string {
	var names []string
	for name, n := range counts {
		if n > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %d", name, counts[name]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
