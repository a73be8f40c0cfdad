package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/web"
)

// upConfig is what `bounded up` runs with.
type upConfig struct {
	dataDir    string
	addr       string
	natsAddr   string
	logLevel   slog.Level
	adminToken string
	seed       bool
	shop       shopConfig
	// Distributed mode: an admin DSN and a NATS URL.
	postgres  string
	natsURL   string
	prefix    string
	namespace string
	dbSecret  string
	replicas  map[string]int // processes per service; 1 when not named
	dbConns   int            // each process's database pool bound (0: serve's default)
	retention time.Duration  // how long the streams keep events (0: forever)
}

func (m *Main) parseUp(_ context.Context, args []string) (func(context.Context) error, error) {
	var cfg upConfig
	fs := m.newFlagSet("up", `Starts the shop. Ctrl-C stops it cleanly; starting it again on the same data directory
(and databases) resumes where it stopped.

Embedded (the default): every service in this process, an embedded NATS JetStream server and one
SQLite file per service in the data directory.

Distributed (--postgres and --nats): provisions one PostgreSQL database and role per service (as
'bounded db provision' does), starts one process per service ('bounded serve'), restarts any that
dies, and serves a gateway on --addr in front of them: the same API and pages as embedded.

usage: bounded up [flags]`)
	fs.StringVar(&cfg.dataDir, "data", "data", "data directory: the embedded JetStream store and one SQLite file per service; in distributed mode, the admin token and the database password secret")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "HTTP address to serve on (127.0.0.1:0 picks a free port)")
	fs.StringVar(&cfg.natsAddr, "nats-addr", "127.0.0.1:0", "address of the embedded NATS server (port 0 picks a free port)")
	fs.StringVar(&cfg.adminToken, "admin-token", os.Getenv("BOUNDED_ADMIN_TOKEN"), "bearer token for admin actions (default $BOUNDED_ADMIN_TOKEN, else the one in DATA/admin-token, generated on first start)")
	fs.BoolVar(&cfg.seed, "seed", true, "seed a demo catalog with stock into a new shop")
	fs.StringVar(&cfg.postgres, "postgres", os.Getenv("BOUNDED_ADMIN_DSN"), "distributed mode: a PostgreSQL admin DSN to provision the services' databases and roles with (default $BOUNDED_ADMIN_DSN)")
	fs.StringVar(&cfg.natsURL, "nats", os.Getenv("BOUNDED_NATS_URL"), "distributed mode: NATS server URL(s), comma-separated (default $BOUNDED_NATS_URL)")
	fs.StringVar(&cfg.prefix, "prefix", "bounded", "distributed mode: the databases and roles are named PREFIX_<service>")
	fs.StringVar(&cfg.namespace, "namespace", os.Getenv("BOUNDED_NAMESPACE"), "distributed mode: prefix of the NATS streams, subjects and consumers (default $BOUNDED_NAMESPACE)")
	fs.StringVar(&cfg.dbSecret, "db-secret", os.Getenv("BOUNDED_DB_SECRET"), "distributed mode: the secret the roles' passwords are derived from (default $BOUNDED_DB_SECRET, else the one in DATA/db-secret, generated on first start)")
	replicas := fs.String("replicas", "", "distributed mode: processes per service, e.g. payments=2,orders=3 (1 for the others)")
	fs.IntVar(&cfg.dbConns, "db-conns", 0, "distributed mode: most connections each service process's database pool opens (its relay opens two more); default: serve's")
	retention := fs.String("retention", os.Getenv("BOUNDED_RETENTION"), retentionUsage)
	level := fs.String("log", "info", "log level: debug, info, warn or error")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, usagef("up: --log: %v", err)
	}
	var err error
	if cfg.retention, err = parseRetention(*retention); err != nil {
		return nil, usagef("up: --retention: %v", err)
	}
	if cfg.replicas, err = parseReplicas(*replicas); err != nil {
		return nil, usagef("up: --replicas: %v", err)
	}
	if t := cfg.adminToken; t != "" {
		if err := checkToken(t); err != nil {
			return nil, usagef("up: --admin-token: %v", err)
		}
	}
	if cfg.dbConns < 0 {
		return nil, usagef("up: --db-conns %d: want at least 1", cfg.dbConns)
	}
	if (cfg.postgres == "") != (cfg.natsURL == "") {
		return nil, usagef("up: distributed mode needs both --postgres and --nats")
	}
	if cfg.postgres != "" {
		return func(ctx context.Context) error { return m.upDistributed(ctx, cfg) }, nil
	}
	if len(cfg.replicas) > 0 || cfg.dbConns != 0 {
		return nil, usagef("up: --replicas and --db-conns are for distributed mode (--postgres and --nats)")
	}
	host, port, err := net.SplitHostPort(cfg.natsAddr)
	if err != nil {
		return nil, usagef("up: --nats-addr %q: %v", cfg.natsAddr, err)
	}
	var natsPort int
	if _, err := fmt.Sscan(port, &natsPort); err != nil {
		return nil, usagef("up: --nats-addr %q: bad port", cfg.natsAddr)
	}
	return func(ctx context.Context) error { return m.up(ctx, cfg, host, natsPort) }, nil
}

// parseReplicas reads "name=N,name=N" (empty: none).
func parseReplicas(list string) (map[string]int, error) {
	out := map[string]int{}
	if list == "" {
		return out, nil
	}
	var names []string
	for _, s := range shopSpecs(shopConfig{}) {
		names = append(names, s.Name)
	}
	for _, item := range strings.Split(list, ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(item), "=")
		var count int
		if _, err := fmt.Sscan(n, &count); !ok || err != nil || count < 1 || count > 16 {
			return nil, fmt.Errorf("%q: want SERVICE=N with N from 1 to 16", item)
		}
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("no service %q; the services are %s", name, strings.Join(names, ", "))
		}
		out[name] = count
	}
	return out, nil
}

// up runs the shop until ctx is done.
func (m *Main) up(ctx context.Context, cfg upConfig, natsHost string, natsPort int) error {
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return fmt.Errorf("up: data directory: %w", err)
	}
	unlock, err := lockDataDir(cfg.dataDir)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	defer unlock()
	fresh := isNewDataDir(cfg.dataDir)
	token, generated, err := adminToken(cfg)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if natsPort == 0 {
		natsPort = -1 // the embedded server's "any free port"
	}
	// The embedded server's notices (its start-up banner among them) only
	// at --log debug; its warnings and errors always.
	natsLog := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: max(cfg.logLevel, slog.LevelWarn)}))
	if cfg.logLevel <= slog.LevelDebug {
		natsLog = log
	}
	shop, err := startProcess(ctx, processConfig{
		embedded: &bus.EmbeddedConfig{Dir: filepath.Join(cfg.dataDir, "nats"), Host: natsHost, Port: natsPort, Logger: natsLog.With("component", "nats")},
		dsn:      func(name string) string { return filepath.Join(cfg.dataDir, name+".db") },
		specs:    shopSpecs(cfg.shop),
		addr:     cfg.addr, token: token, web: true, log: log, retention: cfg.retention,
		index: map[string]any{"mode": "embedded", "data": cfg.dataDir},
	})
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if fresh && cfg.seed {
		if err := seedDemo(ctx, shop.root, token); err != nil {
			return errors.Join(fmt.Errorf("up: seeding the demo catalog: %w", err), shop.stop())
		}
		if err := os.WriteFile(filepath.Join(cfg.dataDir, "seeded"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
			log.Warn("could not mark the data directory as seeded", "err", err)
		}
	}
	base := shop.base
	fmt.Fprintf(m.Stdout, "bounded is up: %s\n", base)
	fmt.Fprintf(m.Stdout, "  services: %s (APIs under %s/<service>/, OpenAPI at %s/<service>/openapi.json)\n", strings.Join(shop.host.Services(), ", "), base, base)
	fmt.Fprintf(m.Stdout, "  NATS JetStream (embedded): %s\n  data: %s\n", shop.natsURL, cfg.dataDir)
	switch {
	case generated:
		fmt.Fprintf(m.Stdout, "  admin token (new, kept in %s): %s\n", filepath.Join(cfg.dataDir, "admin-token"), token)
	case cfg.adminToken == "":
		fmt.Fprintf(m.Stdout, "  admin token: in %s\n", filepath.Join(cfg.dataDir, "admin-token"))
	}
	if fresh && cfg.seed {
		fmt.Fprintln(m.Stdout, "  seeded a demo catalog with stock")
	}
	fmt.Fprintln(m.Stdout, "  Ctrl-C stops it.")

	failed := shop.wait(ctx)
	if err := errors.Join(failed, shop.stop()); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	fmt.Fprintln(m.Stdout, "bounded stopped")
	return nil
}

// rootConfig is what the root of a bounded HTTP address serves.
type rootConfig struct {
	services []string     // the services served under /NAME/
	api      http.Handler // serves /NAME/... and /ops/...
	health   func(ctx context.Context) (map[string]string, bool)
	metrics  prometheus.Gatherer
	log      *slog.Logger   // where a metric that could not be read is told (nil: nowhere)
	web      bool           // the shop's pages under /shop/
	index    map[string]any // more fields for the JSON index
}

// routeRoot serves the services' and the operations routes, and the
// binary's own: an index (a browser asking for HTML is redirected to the
// shop's pages under /shop/, when served), /healthz, /metrics; anything
// else is a 404 problem.
func routeRoot(root *http.ServeMux, rc rootConfig) {
	for _, name := range rc.services {
		root.Handle("/"+name+"/", rc.api)
	}
	root.Handle("/ops/", rc.api)
	// A metric read from the database or the server when scraped (an
	// outbox's backlog, a consumer's pending count) can time out while the
	// service is busy; the scrape goes on without it rather than failing
	// whole, and the error is logged.
	root.Handle("GET /metrics", promhttp.HandlerFor(rc.metrics, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      scrapeLog{rc.log},
	}))
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		status, ok := rc.health(r.Context())
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		_ = httpapi.WriteJSON(w, code, status)
	})
	endpoints := []string{"/healthz", "/metrics", "/ops/dead-letters (admin)"}
	if rc.web {
		root.Handle(web.Prefix, web.Handler())
		endpoints = append([]string{web.Prefix}, endpoints...)
	}
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// A browser is sent to the shop's pages; other clients get the
		// index. The answer depends on Accept, so caches must know.
		w.Header().Add("Vary", "Accept")
		if rc.web && strings.Contains(strings.Join(r.Header.Values("Accept"), ","), "text/html") {
			http.Redirect(w, r, web.Prefix, http.StatusFound)
			return
		}
		services := map[string]string{}
		for _, name := range rc.services {
			services[name] = "/" + name + "/openapi.json"
		}
		index := map[string]any{"name": "bounded", "version": version(), "services": services, "endpoints": endpoints}
		for k, v := range rc.index {
			index[k] = v
		}
		_ = httpapi.WriteJSON(w, http.StatusOK, index)
	})
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteProblem(w, r, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s; GET / lists the services", r.Method, r.URL.Path))
	})
}

// isNewDataDir reports whether dir holds no shop yet (it is seeded once).
func isNewDataDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "seeded"))
	if err == nil {
		return false
	}
	// A data directory from before seeding existed, or whose seeding was
	// switched off, has service databases: not new.
	dbs, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	return len(dbs) == 0 && errors.Is(err, fs.ErrNotExist)
}

// adminToken is the configured token, or the one kept in the data
// directory, or a new one written there (generated reports that).
func adminToken(cfg upConfig) (token string, generated bool, err error) {
	return keptSecret(cfg.adminToken, filepath.Join(cfg.dataDir, "admin-token"), "admin token")
}

// keptSecret is given when set, else the secret kept in the file at path,
// else a new random one written there (generated reports that).
func keptSecret(given, path, what string) (secret string, generated bool, err error) {
	if given != "" {
		return given, false, nil
	}
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, false, nil
		}
		return "", false, fmt.Errorf("%s file %s is empty; delete it to get a new one", what, path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("%s: %w", what, err)
	}
	raw := make([]byte, 24)
	rand.Read(raw)
	secret = base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("%s: %w", what, err)
	}
	return secret, true, nil
}

// scrapeLog tells a failed metric read to a logger (promhttp.Logger).
type scrapeLog struct{ log *slog.Logger }

func (l scrapeLog) Println(v ...any) {
	if l.log != nil {
		l.log.Warn("metrics", "err", fmt.Sprint(v...))
	}
}
