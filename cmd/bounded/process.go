package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/service"
)

// processConfig is what one bounded process hosting services runs with:
// the whole shop in embedded mode (`bounded up`), or one service of the
// distributed shop (`bounded serve`).
type processConfig struct {
	// embedded, when set, starts an embedded NATS JetStream server and
	// connects to it; otherwise the process connects to natsURL.
	embedded *bus.EmbeddedConfig
	natsURL  string
	// dsn gives each service's database.
	dsn   func(service string) string
	specs []service.Spec
	addr  string // HTTP
	token string
	// namespace prefixes the streams, subjects and consumers (see
	// service.HostConfig.Namespace).
	namespace string
	// peers is the base URL of the other services' APIs (API composition);
	// empty: the services in this process serve each other in process.
	peers string
	// web serves the shop's pages under /shop/ (the process in front).
	web bool
	// dbConns bounds each service's database pool (0: sqldb's default).
	dbConns int
	// retention is how long the streams keep events (0: forever).
	retention time.Duration
	// clientName names the NATS connection.
	clientName string
	// index holds more fields for the JSON index at /.
	index map[string]any
	log   *slog.Logger
}

// hostProcess is a running set of services: their host, the NATS
// connection (and the embedded server, if any), and one HTTP server in
// front.
type hostProcess struct {
	srv     *bus.Embedded // nil unless embedded
	natsURL string
	nc      *nats.Conn
	host    *service.Host
	root    *http.ServeMux
	reg     *prometheus.Registry
	hs      *http.Server
	base    string // http://ADDR
	ran     chan error
	served  chan error
	stopRun context.CancelFunc
	closers []func()
}

// startProcess starts the services and serves them. On an error, what it
// started is stopped again.
func startProcess(ctx context.Context, cfg processConfig) (_ *hostProcess, err error) {
	p := &hostProcess{root: http.NewServeMux(), ran: make(chan error, 1), served: make(chan error, 1), stopRun: func() {}, natsURL: cfg.natsURL}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if cfg.embedded != nil {
		p.srv, err = bus.StartEmbedded(*cfg.embedded)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, p.srv.Shutdown)
		p.natsURL = p.srv.ClientURL()
	}
	if cfg.clientName == "" {
		cfg.clientName = "bounded"
	}
	// Connect returns at once even when NATS is not up yet, and reconnects
	// forever: the relays and consumers wait for it.
	p.nc, err = bus.Connect(bus.ConnConfig{URL: p.natsURL, Name: cfg.clientName, Logger: cfg.log, NoReconnectBuffer: true})
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.nc.Close)

	p.reg = prometheus.NewRegistry()
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Services reach each other's APIs (API composition) through the same
	// routes as any client: served in process when they all run here,
	// through the given address otherwise.
	peers := service.NewPeers("http://bounded.internal", &http.Client{Transport: service.HandlerTransport{Handler: p.root}, Timeout: 10 * time.Second})
	if cfg.peers != "" {
		peers = service.NewPeers(cfg.peers, &http.Client{Timeout: 10 * time.Second})
	}
	p.host, err = service.NewHost(service.HostConfig{
		NATS:       p.nc,
		DSN:        cfg.dsn,
		Logger:     cfg.log,
		Metrics:    p.reg,
		AdminToken: cfg.token,
		Peers:      peers,
		Namespace:  cfg.namespace,
		DBMaxConns: cfg.dbConns,
		Retention:  cfg.retention,
	})
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, func() { p.host.Close() })
	if err := p.host.Start(ctx, cfg.specs...); err != nil {
		return nil, err
	}
	routeRoot(p.root, rootConfig{
		services: p.host.Services(),
		api:      p.host.Handler(),
		health:   p.host.Health,
		metrics:  p.reg,
		log:      cfg.log,
		web:      cfg.web,
		index:    withNATS(cfg.index, p.natsURL),
	})

	// The services run on their own context, stopped only after the HTTP
	// server has finished its requests.
	runCtx, stopRun := context.WithCancel(context.Background())
	p.stopRun = stopRun
	go func() { p.ran <- p.host.Run(runCtx) }()
	p.closers = append(p.closers, func() { _ = p.waitRun() })

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	p.base = "http://" + ln.Addr().String()
	p.hs = &http.Server{Handler: p.root, ReadHeaderTimeout: 10 * time.Second}
	go func() { p.served <- p.hs.Serve(ln) }()
	p.closers = append(p.closers, func() { p.hs.Close() })
	return p, nil
}

// waitRun stops the services and waits for them.
func (p *hostProcess) waitRun() error {
	p.stopRun()
	select {
	case err := <-p.ran:
		p.ran <- err // for a second call
		return err
	case <-time.After(30 * time.Second):
		return errors.New("the services did not stop within 30 s")
	}
}

// wait returns when ctx is done (nil) or the process failed (its error).
func (p *hostProcess) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-p.served:
		return fmt.Errorf("serve: %w", err)
	case err := <-p.ran:
		p.ran <- err
		if err == nil {
			err = errors.New("the services stopped")
		}
		return err
	}
}

// stop stops the process cleanly: the HTTP server finishes its requests,
// then the services stop, then their databases, the NATS connection and
// the embedded server close.
func (p *hostProcess) stop() error {
	// Shut down on a fresh context: the caller's is usually done.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if err := p.hs.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	errs = append(errs, p.waitRun())
	p.close()
	return errors.Join(errs...)
}

// close releases what was started, newest first.
func (p *hostProcess) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

// withNATS returns index with the NATS URL added.
func withNATS(index map[string]any, natsURL string) map[string]any {
	out := map[string]any{"nats": natsURL}
	for k, v := range index {
		out[k] = v
	}
	return out
}
