package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/service"
)

// embeddedConfig is what the embedded shop runs with.
type embeddedConfig struct {
	dataDir  string
	addr     string // HTTP
	natsHost string
	natsPort int // -1: any free port
	token    string
	log      *slog.Logger
	natsLog  *slog.Logger
	shop     shopConfig
}

// embeddedShop is the whole shop in this process: an embedded NATS
// JetStream server, every service on its SQLite file, and one HTTP server
// in front. `bounded up` and `bounded bench shop` run it.
type embeddedShop struct {
	srv     *bus.Embedded
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

// startEmbedded starts the shop and serves it. On an error, what it started
// is stopped again.
func startEmbedded(ctx context.Context, cfg embeddedConfig) (_ *embeddedShop, err error) {
	e := &embeddedShop{root: http.NewServeMux(), ran: make(chan error, 1), served: make(chan error, 1), stopRun: func() {}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	e.srv, err = bus.StartEmbedded(bus.EmbeddedConfig{Dir: filepath.Join(cfg.dataDir, "nats"), Host: cfg.natsHost, Port: cfg.natsPort, Logger: cfg.natsLog.With("component", "nats")})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, e.srv.Shutdown)
	e.nc, err = bus.Connect(bus.ConnConfig{URL: e.srv.ClientURL(), Name: "bounded", Logger: cfg.log, NoReconnectBuffer: true})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, e.nc.Close)

	e.reg = prometheus.NewRegistry()
	e.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Services reach each other's APIs (API composition) through the same
	// routes as any client, served in process.
	peers := service.NewPeers("http://bounded.internal", &http.Client{Transport: service.HandlerTransport{Handler: e.root}, Timeout: 10 * time.Second})
	e.host, err = service.NewHost(service.HostConfig{
		NATS:       e.nc,
		DSN:        func(name string) string { return filepath.Join(cfg.dataDir, name+".db") },
		Logger:     cfg.log,
		Metrics:    e.reg,
		AdminToken: cfg.token,
		Peers:      peers,
	})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { e.host.Close() })
	if err := e.host.Start(ctx, shopSpecs(cfg.shop)...); err != nil {
		return nil, err
	}
	routeRoot(e.root, e.host, e.reg, e.srv.ClientURL(), cfg.dataDir)

	// The services run on their own context, stopped only after the HTTP
	// server has finished its requests.
	runCtx, stopRun := context.WithCancel(context.Background())
	e.stopRun = stopRun
	go func() { e.ran <- e.host.Run(runCtx) }()
	e.closers = append(e.closers, func() { _ = e.waitRun() })

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	e.base = "http://" + ln.Addr().String()
	e.hs = &http.Server{Handler: e.root, ReadHeaderTimeout: 10 * time.Second}
	go func() { e.served <- e.hs.Serve(ln) }()
	e.closers = append(e.closers, func() { e.hs.Close() })
	return e, nil
}

// waitRun stops the services and waits for them.
func (e *embeddedShop) waitRun() error {
	e.stopRun()
	select {
	case err := <-e.ran:
		e.ran <- err // for a second call
		return err
	case <-time.After(30 * time.Second):
		return errors.New("the services did not stop within 30 s")
	}
}

// wait returns when ctx is done (nil) or the shop failed (its error).
func (e *embeddedShop) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-e.served:
		return fmt.Errorf("serve: %w", err)
	case err := <-e.ran:
		e.ran <- err
		if err == nil {
			err = errors.New("the services stopped")
		}
		return err
	}
}

// stop stops the shop cleanly: the HTTP server finishes its requests, then
// the services stop, then their databases, the NATS connection and server
// close.
func (e *embeddedShop) stop() error {
	// Shut down on a fresh context: the caller's is usually done.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if err := e.hs.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	errs = append(errs, e.waitRun())
	e.close()
	return errors.Join(errs...)
}

// close releases what was started, newest first.
func (e *embeddedShop) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}
