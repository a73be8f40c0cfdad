package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bounded-dev/bounded/platform/bus"
)

// upConfig is what `bounded up` runs with.
type upConfig struct {
	dataDir  string
	addr     string
	natsAddr string
	logLevel slog.Level
}

func (m *Main) parseUp(_ context.Context, args []string) (func(context.Context) error, error) {
	var cfg upConfig
	fs := flag.NewFlagSet("bounded up", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&cfg.dataDir, "data", "data", "data directory: the embedded JetStream store and one SQLite file per service")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "HTTP address to serve on (127.0.0.1:0 picks a free port)")
	fs.StringVar(&cfg.natsAddr, "nats-addr", "127.0.0.1:0", "address of the embedded NATS server (port 0 picks a free port)")
	level := fs.String("log", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "usage: bounded up [flags]\n\nStarts bounded on embedded defaults: an embedded NATS JetStream server and one SQLite file per service\nin the data directory, all in this process. Ctrl-C stops it cleanly.\n\nFlags:")
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

// up runs the platform until ctx is done.
func (m *Main) up(ctx context.Context, cfg upConfig, natsHost string, natsPort int) error {
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return fmt.Errorf("up: data directory: %w", err)
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
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: filepath.Join(cfg.dataDir, "nats"), Host: natsHost, Port: natsPort, Logger: natsLog.With("component", "nats")})
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	m.closers = append(m.closers, func() error { srv.Shutdown(); return nil })
	nc, err := bus.Connect(bus.ConnConfig{URL: srv.ClientURL(), Name: "bounded up", Logger: log})
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	m.closers = append(m.closers, func() error { nc.Close(); return nil })

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		status, code := map[string]string{"nats": "ok"}, http.StatusOK
		if !nc.IsConnected() {
			status["nats"], code = "disconnected", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(status)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"name": "bounded", "version": version(), "nats": srv.ClientURL(), "data": cfg.dataDir,
			"services": []string{}, "endpoints": []string{"/healthz", "/metrics"},
		})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": "Not Found", "status": http.StatusNotFound,
			"detail": fmt.Sprintf("no endpoint %s %s; try GET /, /healthz or /metrics", r.Method, r.URL.Path)})
	})
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("up: listen: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(m.Stdout, "bounded is up: http://%s\n  NATS JetStream (embedded): %s\n  data: %s\n  Ctrl-C stops it.\n", ln.Addr(), srv.ClientURL(), cfg.dataDir)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("up: serve: %w", err)
	}
	// Shut down on a fresh context: ctx is already done.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("up: shutdown: %w", err)
	}
	fmt.Fprintln(m.Stdout, "bounded stopped")
	return nil
}
