package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bounded-dev/bounded/platform/pgprovision"
)

// distributedShop is the shop in distributed mode, as `bounded up
// --postgres --nats` runs it on one machine: one `bounded serve` process
// per service, each on its own database and role, kept running by a
// supervisor, and a gateway in front of them on one address.
type distributedShop struct {
	children []*child
	gw       *gateway
	hs       *http.Server
	base     string
	served   chan error
	dbs      []pgprovision.Database
}

// startDistributed provisions the databases, starts the gateway's listener
// (the processes reach each other's APIs through it), then each service's
// process in the shop's order, waiting for each to serve. On an error, what
// it started is stopped again.
func startDistributed(ctx context.Context, cfg upConfig, token string, stderr *lockedWriter, log *slog.Logger) (_ *distributedShop, err error) {
	secret, _, err := keptSecret(cfg.dbSecret, filepath.Join(cfg.dataDir, "db-secret"), "database secret")
	if err != nil {
		return nil, err
	}
	specs := shopSpecs(cfg.shop)
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	d := &distributedShop{served: make(chan error, 1)}
	d.dbs, err = pgprovision.Provision(ctx, cfg.postgres, pgprovision.Config{Prefix: cfg.prefix, Services: names, Secret: secret})
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start the services with: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	d.base = "http://" + ln.Addr().String()
	defer func() {
		if err != nil {
			ln.Close()
			d.stopChildren()
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	restarts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bounded_process_restarts_total",
		Help: "Service processes started again after they died, by service.",
	}, []string{"service"})
	reg.MustRegister(restarts)
	for _, db := range d.dbs {
		args := []string{"serve", db.Service, "--addr", "127.0.0.1:0", "--log", cfg.logLevel.String()}
		if cfg.dbConns > 0 {
			args = append(args, "--db-conns", strconv.Itoa(cfg.dbConns))
		}
		if cfg.retention > 0 {
			args = append(args, "--retention", cfg.retention.String())
		}
		for replica := range max(1, cfg.replicas[db.Service]) {
			c := &child{done: make(chan struct{}), cfg: childConfig{
				service: db.Service,
				replica: replica + 1,
				exe:     exe,
				args:    args,
				// Secrets go through the environment, not the command line
				// that every user of the machine can read.
				env: []string{
					dsnEnv(db.Service) + "=" + db.DSN,
					"BOUNDED_ADMIN_TOKEN=" + token,
					"BOUNDED_NATS_URL=" + cfg.natsURL,
					"BOUNDED_NAMESPACE=" + cfg.namespace,
					"BOUNDED_PEERS=" + d.base,
				},
				stderr:    stderr,
				log:       log,
				restarted: restarts.WithLabelValues(db.Service),
			}}
			exited, err := c.start()
			if err != nil {
				return nil, err
			}
			d.children = append(d.children, c)
			go c.supervise(exited)
		}
	}
	d.gw = newGateway(d.children, token, log)
	root := http.NewServeMux()
	routeRoot(root, rootConfig{
		services: names,
		api:      d.gw,
		health:   d.gw.health,
		metrics:  reg,
		log:      log,
		web:      true,
		index:    map[string]any{"mode": "distributed", "nats": cfg.natsURL, "namespace": cfg.namespace, "data": cfg.dataDir},
	})
	d.hs = &http.Server{Handler: root, ReadHeaderTimeout: 10 * time.Second}
	go func() { d.served <- d.hs.Serve(ln) }()
	return d, nil
}

// stop stops the gateway, then the processes (SIGTERM, each finishes its
// work; SIGKILL after 20 s).
func (d *distributedShop) stop() error {
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if err := d.hs.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	d.stopChildren()
	return errors.Join(errs...)
}

func (d *distributedShop) stopChildren() {
	var wg sync.WaitGroup
	for _, c := range d.children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop(20 * time.Second)
		}()
	}
	wg.Wait()
}

// upDistributed runs the distributed shop until ctx is done.
func (m *Main) upDistributed(ctx context.Context, cfg upConfig) error {
	stderr := &lockedWriter{w: m.Stderr}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return fmt.Errorf("up: data directory: %w", err)
	}
	unlock, err := lockDataDir(cfg.dataDir)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	defer unlock()
	token, generated, err := adminToken(cfg)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	d, err := startDistributed(ctx, cfg, token, stderr, log)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	// A new shop is one whose catalog database this start created.
	fresh := len(d.dbs) > 0 && d.dbs[0].Created
	if fresh && cfg.seed {
		if err := seedDemo(ctx, d.hs.Handler, token); err != nil {
			return errors.Join(fmt.Errorf("up: seeding the demo catalog: %w", err), d.stop())
		}
	}
	fmt.Fprintf(m.Stdout, "bounded is up: %s\n", d.base)
	fmt.Fprintf(m.Stdout, "  distributed: one process per service, APIs under %s/<service>/ through this gateway\n", d.base)
	for _, c := range d.children {
		st := c.status()
		var db pgprovision.Database
		for _, x := range d.dbs {
			if x.Service == st.Service {
				db = x
			}
		}
		fmt.Fprintf(m.Stdout, "  %-12s #%d pid %-7d %s  database %s (role %s)\n", st.Service, st.Replica, st.PID, st.Addr, db.Name, db.Role)
	}
	ns := cfg.namespace
	if ns == "" {
		ns = "(none)"
	}
	fmt.Fprintf(m.Stdout, "  NATS JetStream: %s, namespace %s\n  data: %s\n", cfg.natsURL, ns, cfg.dataDir)
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

	var failed error
	select {
	case <-ctx.Done():
	case err := <-d.served:
		failed = fmt.Errorf("serve: %w", err)
	}
	if err := errors.Join(failed, d.stop()); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	fmt.Fprintln(m.Stdout, "bounded stopped")
	return nil
}

// lockedWriter serialises writes from several goroutines (the processes'
// output and the supervisor's log) to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
