package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/service"
)

// serveConfig is what `bounded serve SERVICE` runs with.
type serveConfig struct {
	service   string
	dsn       string
	natsURL   string
	addr      string
	peers     string
	token     string
	namespace string
	logLevel  slog.Level
	dbConns   int
	retention time.Duration
	// cpuProfile, when set, is where the process writes its CPU profile.
	cpuProfile string
}

// dsnEnv is the environment variable that holds service's DSN, as
// `bounded db provision --format env` prints it.
func dsnEnv(service string) string { return "BOUNDED_DSN_" + strings.ToUpper(service) }

// listeningPrefix starts the line `bounded serve` prints once it serves;
// `bounded up` reads the address from it.
const listeningPrefix = "listening on "

func (m *Main) parseServe(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("serve", `Runs one service as its own process: its API, relay, consumers and jobs, on its own
database (a PostgreSQL DSN, as 'bounded db provision' prints it) and a NATS JetStream server.
Run several replicas of a service side by side: their consumers share the work and one relay
publishes (another takes over within 5 s when it dies). It prints "listening on http://ADDR"
once it serves. SIGTERM or Ctrl-C stops it cleanly.

usage: bounded serve SERVICE [flags]`)
	var cfg serveConfig
	// The service may come before or after the flags.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cfg.service, args = args[0], args[1:]
	}
	fs.StringVar(&cfg.dsn, "dsn", "", "the service's database: a PostgreSQL URL or a SQLite file (default $BOUNDED_DSN_<SERVICE>)")
	fs.StringVar(&cfg.natsURL, "nats", envOr("BOUNDED_NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL(s), comma-separated (default $BOUNDED_NATS_URL)")
	fs.StringVar(&cfg.addr, "addr", envOr("BOUNDED_ADDR", "127.0.0.1:0"), "HTTP address to serve on (port 0 picks a free port; default $BOUNDED_ADDR)")
	fs.StringVar(&cfg.peers, "peers", os.Getenv("BOUNDED_PEERS"), "base URL under which the other services' APIs answer at /<service>/ (a gateway or load balancer), for the services that call others (default $BOUNDED_PEERS)")
	fs.StringVar(&cfg.token, "admin-token", os.Getenv("BOUNDED_ADMIN_TOKEN"), "bearer token for admin actions (default $BOUNDED_ADMIN_TOKEN; required)")
	fs.StringVar(&cfg.namespace, "namespace", os.Getenv("BOUNDED_NAMESPACE"), "prefix of the NATS streams, subjects and consumers, so that several shops can share one NATS (default $BOUNDED_NAMESPACE)")
	dbConns := fs.String("db-conns", os.Getenv("BOUNDED_DB_CONNS"), "most connections the service's database pool opens (its relay opens two more); default $BOUNDED_DB_CONNS, else 4 per CPU, at least 8")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the process to `FILE` when it stops (default: DIR/SERVICE-PID.pprof when $BOUNDED_CPUPROFILE_DIR is set)")
	retention := fs.String("retention", os.Getenv("BOUNDED_RETENTION"), retentionUsage)
	level := fs.String("log", "info", "log level: debug, info, warn or error")
	if err := fs.parseN(args, 1); err != nil {
		return nil, err
	}
	var err error
	if cfg.retention, err = parseRetention(*retention); err != nil {
		return nil, usagef("serve: --retention: %v", err)
	}
	if fs.NArg() == 1 {
		if cfg.service != "" {
			return nil, usagef("serve: unexpected argument %q", fs.Arg(0))
		}
		cfg.service = fs.Arg(0)
	}
	var spec *service.Spec
	var names []string
	for _, s := range shopSpecs(shopConfig{}) {
		names = append(names, s.Name)
		if s.Name == cfg.service {
			spec = &s
		}
	}
	switch {
	case cfg.service == "":
		return nil, usagef("serve: name the service to run: one of %s", strings.Join(names, ", "))
	case spec == nil:
		return nil, usagef("serve: no service %q; the services are %s", cfg.service, strings.Join(names, ", "))
	}
	if cfg.dsn == "" {
		cfg.dsn = os.Getenv(dsnEnv(cfg.service))
	}
	if cfg.dsn == "" {
		return nil, usagef("serve: %s needs its database: --dsn or $%s ('bounded db provision' prints it)", cfg.service, dsnEnv(cfg.service))
	}
	if err := checkToken(cfg.token); err != nil {
		return nil, usagef("serve: --admin-token: %v", err)
	}
	if len(spec.Calls) > 0 {
		if cfg.peers == "" {
			var callees []string
			for _, c := range spec.Calls {
				callees = append(callees, c.Service)
			}
			return nil, usagef("serve: %s calls %s: give --peers (or $BOUNDED_PEERS), the address they answer under", cfg.service, strings.Join(slices.Compact(callees), " and "))
		}
		if u, err := url.Parse(cfg.peers); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usagef("serve: --peers %q: want an http(s) URL", cfg.peers)
		}
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, usagef("serve: --log: %v", err)
	}
	if *dbConns != "" {
		n, err := strconv.Atoi(*dbConns)
		if err != nil || n < 1 {
			return nil, usagef("serve: --db-conns %q: want a whole number of at least 1", *dbConns)
		}
		cfg.dbConns = n
	}
	if dir := os.Getenv("BOUNDED_CPUPROFILE_DIR"); cfg.cpuProfile == "" && dir != "" {
		cfg.cpuProfile = filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", cfg.service, os.Getpid()))
	}
	return func(ctx context.Context) error {
		if cfg.cpuProfile != "" {
			f, err := os.Create(cfg.cpuProfile)
			if err != nil {
				return fmt.Errorf("serve: --cpuprofile: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return fmt.Errorf("serve: --cpuprofile: %w", err)
			}
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
		return m.serve(ctx, cfg)
	}, nil
}

// serve runs one service until ctx is done.
func (m *Main) serve(ctx context.Context, cfg serveConfig) error {
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	var spec service.Spec
	for _, s := range shopSpecs(shopConfig{}) {
		if s.Name == cfg.service {
			spec = s
		}
	}
	p, err := startProcess(ctx, processConfig{
		natsURL:    cfg.natsURL,
		dsn:        func(string) string { return cfg.dsn },
		specs:      []service.Spec{spec},
		addr:       cfg.addr,
		token:      cfg.token,
		namespace:  cfg.namespace,
		peers:      cfg.peers,
		clientName: "bounded-" + cfg.service,
		dbConns:    cfg.dbConns,
		retention:  cfg.retention,
		log:        log,
		index:      map[string]any{"mode": "distributed", "namespace": cfg.namespace},
	})
	if err != nil {
		return fmt.Errorf("serve %s: %w", cfg.service, err)
	}
	fmt.Fprintf(m.Stdout, "bounded serve %s: %s%s\n", cfg.service, listeningPrefix, p.base)
	failed := p.wait(ctx)
	if err := errors.Join(failed, p.stop()); err != nil {
		return fmt.Errorf("serve %s: %w", cfg.service, err)
	}
	return nil
}

// checkToken says what is wrong with an admin token, or nil.
func checkToken(t string) error {
	switch {
	case t == "":
		return errors.New("required")
	case len(t) < 16 || strings.ContainsAny(t, " \t\r\n"):
		return errors.New("want at least 16 characters and no spaces")
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
