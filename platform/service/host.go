package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/relay"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// HostConfig configures a Host. NATS and DSN are required.
type HostConfig struct {
	// NATS is the connection relays and consumers use. It must not buffer
	// publishes while disconnected (bus.ConnConfig{NoReconnectBuffer: true}).
	NATS *nats.Conn
	// DSN gives each service's database: a PostgreSQL URL or a SQLite path.
	DSN func(service string) string
	// Logger is the root logger; each service logs with service=NAME.
	Logger *slog.Logger
	// Metrics, when set, receives the toolkit's and the services' metrics.
	Metrics prometheus.Registerer
	// AdminToken guards the admin routes (services' and /ops/).
	AdminToken string
	// Peers reaches the services' APIs for API composition.
	Peers *Peers
	// Retention is how long each service's stream keeps events. A consumer
	// (a projection) can be rebuilt from as far back as its sources' streams
	// reach. Zero keeps them forever (limited only by the disk), which is
	// the default; the consumers then keep their inbox rows forever too
	// (see inbox.Config.Retention).
	Retention time.Duration
	// Namespace, when set, prefixes every stream name, subject and durable
	// consumer name, so that several shops (test runs) can share one NATS
	// server. Letters, digits and '_' only.
	Namespace string
	// DBMaxConns bounds each service's database pool (sqldb.Config.MaxConns;
	// 0: its default). On PostgreSQL a service holds up to DBMaxConns
	// connections, and its relay two more of its own.
	DBMaxConns int
	// Relay and Inbox tune every relay and consumer; Stream, Name and
	// similar per-service fields are set by the host.
	Relay relay.Config
	Inbox inbox.Config
}

// Host runs services: for each, its database, migrations, relay, consumers,
// jobs and HTTP API.
type Host struct {
	cfg      HostConfig
	services []*hosted
	mux      *httpapi.Mux
	outer    *http.ServeMux
}

type hosted struct {
	spec      Spec
	db        *sqldb.DB
	ob        *outbox.Outbox
	relay     *relay.Relay
	consumers *Consumers // runs the consumers, pausing them on request
	run       *Running
	log       *slog.Logger
	// discarded counts the dead letters discarded, by consumer (ops.go).
	discarded *prometheus.CounterVec
}

var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// NewHost returns a Host with no services.
func NewHost(cfg HostConfig) (*Host, error) {
	if cfg.NATS == nil || cfg.DSN == nil {
		return nil, errors.New("service: HostConfig needs NATS and DSN")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Namespace != "" && !namespaceRE.MatchString(cfg.Namespace) {
		return nil, fmt.Errorf("service: Namespace %q: letters, digits and '_' only", cfg.Namespace)
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("service: Retention %s: want 0 (forever) or more", cfg.Retention)
	}
	h := &Host{cfg: cfg, outer: http.NewServeMux()}
	h.mux = httpapi.NewMux(httpapi.MuxConfig{Logger: cfg.Logger, AdminToken: cfg.AdminToken})
	h.routeOps()
	h.routeConsumers()
	h.outer.Handle("/ops/", h.mux)
	return h, nil
}

// Start opens, migrates and starts each service, in the order given. On an
// error the services started so far stay open: call Close.
func (h *Host) Start(ctx context.Context, specs ...Spec) error {
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return err
		}
		for _, have := range h.services {
			if have.spec.Name == s.Name {
				return fmt.Errorf("service %s: started twice", s.Name)
			}
		}
		hs, err := h.start(ctx, s)
		if hs != nil {
			h.services = append(h.services, hs)
		}
		if err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
		prefix := "/" + s.Name
		h.outer.Handle(prefix+"/", http.StripPrefix(prefix, hs.run.API))
	}
	return nil
}

func (h *Host) start(ctx context.Context, s Spec) (*hosted, error) {
	log := h.cfg.Logger.With("service", s.Name)
	db, err := sqldb.Open(ctx, sqldb.Config{DSN: h.cfg.DSN(s.Name), MaxConns: h.cfg.DBMaxConns})
	if err != nil {
		return nil, err
	}
	hs := &hosted{spec: s, db: db, log: log}
	if hs.ob, err = outbox.New(db, outbox.Config{}); err != nil {
		return hs, err
	}
	if err := hs.ob.Migrate(ctx); err != nil {
		return hs, err
	}
	if err := inbox.Migrate(ctx, db); err != nil {
		return hs, err
	}
	sub, err := fs.Sub(s.Migrations, string(db.Dialect()))
	if err != nil {
		return hs, fmt.Errorf("migrations: %w", err)
	}
	if err := db.Migrate(ctx, sub, "schema_version"); err != nil {
		return hs, err
	}
	reg := h.registerer(s.Name)
	rc := h.cfg.Relay
	rc.Stream = jetstream.StreamConfig{
		Name:        h.streamName(s.Name),
		Description: "events published by the " + s.Name + " service",
		Subjects:    []string{h.subject(s.Name + ".>")},
		Storage:     jetstream.FileStorage,
		MaxAge:      h.cfg.Retention,
	}
	rc.Logger, rc.Metrics = log.With("component", "relay"), reg
	rc.Subject = func(e contract.Event) string { return h.subject(e.Type) }
	if hs.relay, err = relay.New(hs.ob, h.cfg.NATS, rc); err != nil {
		return hs, err
	}
	// Create the stream now, so that the consumers of the services started
	// in the same host find it at once, with the relay's own settings (so
	// that its check at Run finds nothing to change). The relay checks it
	// again when it runs (and creates it, if NATS is unavailable now); a
	// stream JetStream refuses fails the start.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = hs.relay.EnsureStream(sctx)
	cancel()
	if err != nil && !bus.IsUnavailable(err) {
		return hs, err
	}
	if err != nil {
		log.Debug("stream not created at start; the relay will", "err", err)
	}
	hs.consumers = &Consumers{nc: h.cfg.NATS}
	for _, src := range s.Sources() {
		handle, handles := s.handlerFor(src)
		ic := h.cfg.Inbox
		ic.Name = h.consumerName(s.Name, src)
		ic.Stream = h.streamName(src)
		ic.Subjects = []string{h.subject(src + ".>")}
		ic.Handles = handles
		if s.PrepareBatch != nil {
			ic.Prepare = s.PrepareBatch
		}
		ic.Logger, ic.Metrics = log.With("component", "inbox"), reg
		c, err := inbox.New(db, h.cfg.NATS, ic, handle)
		if err != nil {
			return hs, err
		}
		hs.consumers.slots = append(hs.consumers.slots, newSlot(c, ConsumerInfo{Source: src, Stream: ic.Stream,
			Subject: ic.Subjects[0], Durable: ic.Name}))
	}
	var names []string
	for _, slot := range hs.consumers.slots {
		names = append(names, slot.c.Name())
	}
	if hs.discarded, err = newDiscardedCounter(reg, names); err != nil {
		return hs, err
	}
	hs.run, err = s.Start(ctx, Env{DB: db, Outbox: hs.ob, Logger: log, Metrics: reg, AdminToken: h.cfg.AdminToken,
		Peers: h.cfg.Peers, Consumers: hs.consumers})
	if err != nil {
		return hs, err
	}
	if hs.run == nil || hs.run.API == nil {
		return hs, errors.New("Start returned no API")
	}
	if len(s.OpenAPI) > 0 {
		doc := s.OpenAPI
		hs.run.API.Handle("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Content-Type", "application/json")
			_, err := w.Write(doc)
			return err
		})
	}
	return hs, nil
}

// streamName is the stream of service, in the host's namespace.
func (h *Host) streamName(service string) string {
	if h.cfg.Namespace != "" {
		return h.cfg.Namespace + "_" + StreamName(service)
	}
	return StreamName(service)
}

// Subject is the NATS subject of an event type (or a pattern of them), in
// the host's namespace.
func (h *Host) subject(s string) string {
	if h.cfg.Namespace != "" {
		return h.cfg.Namespace + "." + s
	}
	return s
}

func (h *Host) consumerName(service, source string) string {
	if h.cfg.Namespace != "" {
		return h.cfg.Namespace + "_" + ConsumerName(service, source)
	}
	return ConsumerName(service, source)
}

// StreamOf returns the stream name and subject pattern of service's events
// on this host (its namespace applied).
func (h *Host) StreamOf(service string) (stream, subjects string) {
	return h.streamName(service), h.subject(service + ".>")
}

// SubjectOf returns the subject an event of type typ is published on.
func (h *Host) SubjectOf(typ string) string { return h.subject(typ) }

// registerer labels a service's metrics with service=NAME.
func (h *Host) registerer(name string) prometheus.Registerer {
	if h.cfg.Metrics == nil {
		return nil
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"service": name}, h.cfg.Metrics)
}

// Handler serves every service's API under /NAME/ and the operations
// routes under /ops/.
func (h *Host) Handler() http.Handler { return h.outer }

// Services returns the names of the started services, in start order.
func (h *Host) Services() []string {
	out := make([]string, len(h.services))
	for i, s := range h.services {
		out[i] = s.spec.Name
	}
	return out
}

// Run runs every relay, consumer and job until ctx is done, then returns
// nil; or, when one of them fails, stops the others and returns its error.
func (h *Host) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	goRun := func(what string, log *slog.Logger, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				log.Error(what+" stopped", "err", err)
				once.Do(func() { first = fmt.Errorf("%s: %w", what, err) })
				cancel()
			}
		}()
	}
	for _, s := range h.services {
		goRun(s.spec.Name+" relay", s.log, s.relay.Run)
		for _, c := range s.consumers.slots {
			goRun(s.spec.Name+" consumer "+c.info.Durable, s.log, c.run)
		}
		for i, job := range s.run.Jobs {
			goRun(s.spec.Name+" job "+strconv.Itoa(i), s.log, job)
		}
	}
	wg.Wait()
	// The consumers handed back the messages they did not handle (Nak);
	// make sure those reach the server before the connection is closed.
	_ = h.cfg.NATS.FlushTimeout(2 * time.Second)
	return first
}

// Close closes the services' databases. Call it after Run has returned.
func (h *Host) Close() error {
	var errs []error
	for _, s := range h.services {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// Health reports each service's database as "ok" or the error, and NATS.
func (h *Host) Health(ctx context.Context) (map[string]string, bool) {
	out, ok := map[string]string{"nats": "ok"}, true
	if !h.cfg.NATS.IsConnected() {
		out["nats"], ok = "disconnected", false
	}
	for _, s := range h.services {
		out[s.spec.Name] = "ok"
		if err := s.db.Reader().PingContext(ctx); err != nil {
			out[s.spec.Name], ok = err.Error(), false
		}
	}
	return out, ok
}

// Routes returns the routes service name serves (relative to /name), or nil
// when it does not run here.
func (h *Host) Routes(name string) []httpapi.Route {
	if s := h.service(name); s != nil {
		return s.run.API.Routes()
	}
	return nil
}

// Specs returns the Specs of the services started, in start order.
func (h *Host) Specs() []Spec {
	out := make([]Spec, len(h.services))
	for i, s := range h.services {
		out[i] = s.spec
	}
	return out
}

// Commits returns, per service, the transactions committed on its
// database so far (see sqldb.DB.Commits).
func (h *Host) Commits() map[string]int64 {
	out := map[string]int64{}
	for _, s := range h.services {
		out[s.spec.Name] = s.db.Commits()
	}
	return out
}
