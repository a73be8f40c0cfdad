package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/service"
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
}

func (m *Main) parseUp(_ context.Context, args []string) (func(context.Context) error, error) {
	var cfg upConfig
	fs := flag.NewFlagSet("bounded up", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&cfg.dataDir, "data", "data", "data directory: the embedded JetStream store and one SQLite file per service")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "HTTP address to serve on (127.0.0.1:0 picks a free port)")
	fs.StringVar(&cfg.natsAddr, "nats-addr", "127.0.0.1:0", "address of the embedded NATS server (port 0 picks a free port)")
	fs.StringVar(&cfg.adminToken, "admin-token", os.Getenv("BOUNDED_ADMIN_TOKEN"), "bearer token for admin actions (default $BOUNDED_ADMIN_TOKEN, else the one in DATA/admin-token, generated on first start)")
	fs.BoolVar(&cfg.seed, "seed", true, "seed a demo catalog with stock into a new data directory")
	level := fs.String("log", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "usage: bounded up [flags]\n\nStarts the shop on embedded defaults: every service in this process, an embedded NATS JetStream\nserver and one SQLite file per service in the data directory. Ctrl-C stops it cleanly; starting\nit again on the same data directory resumes where it stopped.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("up: %v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("up: unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, usagef("up: --log: %v", err)
	}
	if t := cfg.adminToken; t != "" && (len(t) < 16 || strings.ContainsAny(t, " \t\r\n")) {
		return nil, usagef("up: --admin-token: want at least 16 characters and no spaces")
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

// up runs the shop until ctx is done.
func (m *Main) up(ctx context.Context, cfg upConfig, natsHost string, natsPort int) error {
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return fmt.Errorf("up: data directory: %w", err)
	}
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
	shop, err := startEmbedded(ctx, embeddedConfig{dataDir: cfg.dataDir, addr: cfg.addr, natsHost: natsHost, natsPort: natsPort,
		token: token, log: log, natsLog: natsLog, shop: cfg.shop})
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
	fmt.Fprintf(m.Stdout, "  NATS JetStream (embedded): %s\n  data: %s\n", shop.srv.ClientURL(), cfg.dataDir)
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

// routeRoot serves the host's services and operations routes, and the
// binary's own: an index (a browser asking for HTML is redirected to the
// shop's pages under /shop/), /healthz, /metrics, the pages; anything else
// is a 404 problem.
func routeRoot(root *http.ServeMux, host *service.Host, reg *prometheus.Registry, natsURL, dataDir string) {
	for _, name := range host.Services() {
		root.Handle("/"+name+"/", host.Handler())
	}
	root.Handle("/ops/", host.Handler())
	root.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		status, ok := host.Health(r.Context())
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		_ = httpapi.WriteJSON(w, code, status)
	})
	root.Handle(web.Prefix, web.Handler())
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// A browser is sent to the shop's pages; other clients get the
		// index. The answer depends on Accept, so caches must know.
		w.Header().Add("Vary", "Accept")
		if strings.Contains(strings.Join(r.Header.Values("Accept"), ","), "text/html") {
			http.Redirect(w, r, web.Prefix, http.StatusFound)
			return
		}
		services := map[string]string{}
		for _, name := range host.Services() {
			services[name] = "/" + name + "/openapi.json"
		}
		_ = httpapi.WriteJSON(w, http.StatusOK, map[string]any{
			"name": "bounded", "version": version(), "nats": natsURL, "data": dataDir,
			"services":  services,
			"endpoints": []string{web.Prefix, "/healthz", "/metrics", "/ops/dead-letters (admin)"},
		})
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
	if cfg.adminToken != "" {
		return cfg.adminToken, false, nil
	}
	path := filepath.Join(cfg.dataDir, "admin-token")
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, false, nil
		}
		return "", false, fmt.Errorf("admin token file %s is empty; delete it to get a new token", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	raw := make([]byte, 24)
	rand.Read(raw)
	token = base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	return token, true, nil
}
