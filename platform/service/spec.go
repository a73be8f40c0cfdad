// Package service is how a bounded context is described to, and run by, a
// host: the service's Spec declares what it owns, what it publishes, what it
// consumes and with which pattern, and how to start it; a Host opens the
// service's own database, migrates it, runs its relay, its consumers, its
// jobs and its HTTP API.
//
// The Spec is the single source of truth about a service's boundaries:
// `bounded topology` prints the owned-data table from the Specs, and the
// Host subscribes exactly the consumptions a Spec declares. A Spec is cheap
// to build and touches nothing: the handlers it names are method values of a
// service that receives its dependencies later, in Start.
package service

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Pattern names how data crosses a service boundary.
type Pattern string

const (
	// EventCarriedState: the event holds the state the consumer needs, and
	// the consumer keeps its own read-only copy of it.
	EventCarriedState Pattern = "event-carried state transfer"
	// Projection: the consumer reacts to events and keeps its own
	// projection of them; it tolerates eventual consistency.
	Projection Pattern = "events + consumer-owned projection"
	// APIComposition: a synchronous call to the owner's HTTP API, for small
	// and fresh reads.
	APIComposition Pattern = "API composition"
)

// Spec describes one service.
type Spec struct {
	// Name is the service's name: lower-case letters. It names the
	// database, the stream (upper-cased), the event type prefix and the HTTP
	// prefix (/name/).
	Name string
	// Aggregates are the aggregates the service owns.
	Aggregates []string
	// Events is the service's published contract (its events package).
	Events *contract.Registry
	// Consumes are the events it consumes, each with its handler.
	Consumes []Consumption
	// PrepareBatch, when set, is its consumers' inbox.Config.Prepare: it
	// takes the locks a batch of consumed events needs, in one order,
	// before the handlers run (see inbox.Config.Prepare).
	PrepareBatch func(ctx context.Context, tx *sqldb.Tx, batch []contract.Event) error
	// Calls are the other services' APIs it calls (API composition).
	Calls []Call
	// Migrations holds the service's goose migrations in the directories
	// "postgres" and "sqlite".
	Migrations fs.FS
	// OpenAPI is the service's OpenAPI 3 document (JSON), served at
	// /name/openapi.json and checked against the routes it serves.
	OpenAPI []byte
	// Start starts the service on its database; the Host calls it once,
	// after the migrations.
	Start func(ctx context.Context, env Env) (*Running, error)
}

// Consumption is one consumed event type and its handler.
type Consumption struct {
	// Event is the event's name without version ("catalog.product_updated");
	// every version is delivered, upcast to the handler's.
	Event   string
	Pattern Pattern
	// Why says what the service uses the event for (shown in the topology).
	Why    string
	handle inbox.Handler
}

// Handle is the consumption's handler (it decodes the event and calls the
// function given to On).
func (c Consumption) Handle(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
	return c.handle(ctx, tx, e)
}

// Call is one API composition: this service calls another's HTTP API.
type Call struct {
	Service string
	Why     string
}

// On declares a consumption of event (a name without version) whose data
// decodes, through reg (the producer's events registry), into T. An event
// that cannot be decoded into T is dead-lettered at once. h runs in the
// consumer's transaction: its writes, its outbox rows and the inbox row
// commit together.
func On[T any](reg *contract.Registry, event string, p Pattern, why string, h func(ctx context.Context, tx *sqldb.Tx, e contract.Event, data T) error) Consumption {
	return Consumption{Event: event, Pattern: p, Why: why, handle: func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
		v, err := contract.DecodeAs[T](reg, e)
		if err != nil {
			return err // contract errors are permanent: a dead letter at once
		}
		return h(ctx, tx, e, v)
	}}
}

// Env is what a service gets to run with.
type Env struct {
	DB     *sqldb.DB
	Outbox *outbox.Outbox
	Logger *slog.Logger
	// Metrics is where the service registers its own metrics.
	Metrics prometheus.Registerer
	// AdminToken guards admin routes; pass it to httpapi.MuxConfig.
	AdminToken string
	// Peers reaches the other services' HTTP APIs, for API composition:
	// Peers.Get(ctx, "payments", "/payments?order_id=...", &v).
	Peers *Peers
	// Consumers stops and starts the service's own consumers and reads
	// their streams, for a rebuild of what they project (see Consumers).
	Consumers *Consumers
}

// Running is a started service.
type Running struct {
	// API serves the service's routes, relative to its prefix (/name/).
	API *httpapi.Mux
	// Jobs run until their context is done; an error ends the host.
	Jobs []func(ctx context.Context) error
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// Validate reports a Spec that cannot run.
func (s Spec) Validate() error {
	switch {
	case !nameRE.MatchString(s.Name):
		return fmt.Errorf("service: name %q: want lower-case letters and digits", s.Name)
	case s.Events == nil:
		return fmt.Errorf("service %s: no Events registry", s.Name)
	case s.Migrations == nil:
		return fmt.Errorf("service %s: no Migrations", s.Name)
	case s.Start == nil:
		return fmt.Errorf("service %s: no Start", s.Name)
	}
	for _, t := range s.Events.Types() {
		if !strings.HasPrefix(t, s.Name+".") {
			return fmt.Errorf("service %s: publishes %s, outside its own prefix %s.", s.Name, t, s.Name)
		}
	}
	seen := map[string]bool{}
	for _, c := range s.Consumes {
		if c.handle == nil {
			return fmt.Errorf("service %s: consumption of %s has no handler (build it with service.On)", s.Name, c.Event)
		}
		if seen[c.Event] {
			return fmt.Errorf("service %s: consumes %s twice", s.Name, c.Event)
		}
		seen[c.Event] = true
		if src := Source(c.Event); src == "" || src == s.Name {
			return fmt.Errorf("service %s: consumes %q: want another service's event, \"service.event_name\"", s.Name, c.Event)
		}
	}
	return nil
}

// Source is the service that publishes event ("catalog" for
// "catalog.product_updated").
func Source(event string) string {
	src, _, ok := strings.Cut(event, ".")
	if !ok {
		return ""
	}
	return src
}

// StreamName is the name of a service's JetStream stream.
func StreamName(service string) string { return strings.ToUpper(service) }

// Sources returns the services whose events s consumes, sorted.
func (s Spec) Sources() []string {
	var out []string
	for _, c := range s.Consumes {
		if src := Source(c.Event); !slices.Contains(out, src) {
			out = append(out, src)
		}
	}
	slices.Sort(out)
	return out
}

// ConsumerName is the durable consumer's name for service reading source's
// stream.
func ConsumerName(service, source string) string { return service + "-" + source }

// HandlerFor returns the handler for the consumptions of s from source.
func (s Spec) handlerFor(source string) (inbox.Handler, func(string) bool) {
	byName := map[string]inbox.Handler{}
	for _, c := range s.Consumes {
		if Source(c.Event) == source {
			byName[c.Event] = c.handle
		}
	}
	handles := func(name string) bool { return byName[name] != nil }
	return func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
		name, _, err := contract.ParseType(e.Type)
		if err != nil {
			return fmt.Errorf("%w: %v", contract.ErrMalformed, err)
		}
		h := byName[name]
		if h == nil {
			return inbox.Permanent(fmt.Errorf("no handler for %s", e.Type))
		}
		return h(ctx, tx, e)
	}, handles
}

// Peers calls other services' HTTP APIs, each under /name/ of a base URL.
type Peers struct {
	base   string
	client *http.Client
}

// NewPeers returns Peers that reach service S at base + "/S".
func NewPeers(base string, client *http.Client) *Peers {
	return &Peers{base: strings.TrimSuffix(base, "/"), client: client}
}
