// Package servicetest runs services for their tests: a service.Host with the
// given Specs on fresh databases (SQLite or real PostgreSQL) and a real NATS
// server under a namespace of its own, an HTTP server in front of it, and
// helpers to call the API, inject other services' events and wait for the
// events the services publish. StartReplica adds replicas of the services,
// as distributed mode runs them: more hosts on the same PostgreSQL
// databases and NATS namespace.
package servicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/relay"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

// AdminToken is the admin token of every harness.
const AdminToken = "test-admin-token"

// Harness is running services.
type Harness struct {
	URL     string // the HTTP server; service S is under URL + "/S"
	Host    *service.Host
	NC      *nats.Conn
	JS      jetstream.JetStream
	Metrics *prometheus.Registry
	DSNs    map[string]string

	namespace string // of the streams, subjects and durable consumers
	replicas  int    // started by StartReplica

	mu       sync.Mutex
	received []contract.Event
}

// Start runs specs on databases of dialect d until the test ends.
func Start(t testing.TB, d sqldb.Dialect, specs ...service.Spec) *Harness {
	t.Helper()
	h := &Harness{NC: toolkittest.Connect(t, testenv.NATS(t)), Metrics: prometheus.NewRegistry(), DSNs: map[string]string{},
		namespace: testenv.UniqueName("t")}
	for _, s := range specs {
		h.DSNs[s.Name] = toolkittest.DSN(t, d)
	}
	var err error
	if h.JS, err = jetstream.New(h.NC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Registered before the host's cleanup, so run after it: once the
		// host has stopped.
		if h.Host == nil {
			return
		}
		for _, s := range specs {
			st, _ := h.Host.StreamOf(s.Name)
			_ = h.JS.DeleteStream(context.Background(), st)
		}
	})
	h.Host, h.URL = runHost(t, h.NC, h.namespace, h.DSNs, h.Metrics, specs)
	h.watch(t, specs)
	return h
}

// runHost starts a host of specs behind an HTTP server, on NATS connection
// nc under namespace, with the databases dsns, and runs it until the test
// ends; then it stops the host (failing the test if it does not stop
// cleanly within 15 s) and closes its databases.
func runHost(t testing.TB, nc *nats.Conn, namespace string, dsns map[string]string, reg *prometheus.Registry, specs []service.Spec) (*service.Host, string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	host, err := service.NewHost(service.HostConfig{
		NATS:       nc,
		DSN:        func(name string) string { return dsns[name] },
		Logger:     toolkittest.Logger(t),
		Metrics:    reg,
		AdminToken: AdminToken,
		Peers:      service.NewPeers(srv.URL, srv.Client()),
		Namespace:  namespace,
		Relay:      relay.Config{PollInterval: 100 * time.Millisecond},
		Inbox:      inbox.Config{Backoff: func(int) time.Duration { return 20 * time.Millisecond }},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("host: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("host did not stop within 15 s")
		}
		host.Close()
	})
	if err := host.Start(ctx, specs...); err != nil {
		cancel()
		done <- nil
		t.Fatal(err)
	}
	mux.Handle("/", host.Handler())
	go func() { done <- host.Run(ctx) }()
	return host, srv.URL
}

// Replica is another replica of services a Harness runs: another host, as
// another process would be, with its own NATS connection, HTTP server and
// metrics, on the same databases and the same NATS namespace. Its
// consumers share the durable consumers' messages with the harness's, its
// relay stands by while the harness's leads, and its jobs run beside the
// harness's on the same rows. The harness's Published sees what either
// publishes.
type Replica struct {
	URL     string // the replica's HTTP server; service S is under URL + "/S"
	Host    *service.Host
	NC      *nats.Conn
	Metrics *prometheus.Registry
}

// StartReplica runs specs as one more replica of services h runs, until the
// test ends (it stops before h does). Each spec must be a new Spec of a
// service h started on PostgreSQL: SQLite replicas cannot share a
// database file across processes, so the test fails for those. It returns
// once every durable consumer of specs has a pull request waiting from each
// host (the harness's and every replica's), so that the events a test
// injects next are spread over them.
func StartReplica(t testing.TB, h *Harness, specs ...service.Spec) *Replica {
	t.Helper()
	for _, s := range specs {
		dsn, ok := h.DSNs[s.Name]
		switch {
		case !ok:
			t.Fatalf("servicetest: StartReplica: the harness does not run %s", s.Name)
		case sqldb.DialectOf(dsn) != sqldb.Postgres:
			t.Fatalf("servicetest: StartReplica: %s runs on SQLite; replicas need PostgreSQL", s.Name)
		}
	}
	r := &Replica{NC: toolkittest.Connect(t, testenv.NATS(t)), Metrics: prometheus.NewRegistry()}
	r.Host, r.URL = runHost(t, r.NC, h.namespace, h.DSNs, r.Metrics, specs)
	h.mu.Lock()
	h.replicas++
	hosts := 1 + h.replicas
	h.mu.Unlock()
	h.waitConsuming(t, specs, hosts)
	return r
}

// WaitConsuming waits until each durable consumer of specs has a pull
// request waiting from the harness's host and from each of its replicas:
// after the replicas paused and resumed their consumers, say, so that the
// events a test injects next are shared among them.
func (h *Harness) WaitConsuming(t testing.TB, specs ...service.Spec) {
	t.Helper()
	h.mu.Lock()
	hosts := 1 + h.replicas
	h.mu.Unlock()
	h.waitConsuming(t, specs, hosts)
}

// waitConsuming waits until each durable consumer of specs has a pull
// request waiting from each of hosts hosts, so that the events a test
// injects next are shared among them (JetStream serves waiting pull
// requests in turn). It creates the streams the consumers read that do not
// exist yet, as Inject would: a consumer waits for its stream.
func (h *Harness) waitConsuming(t testing.TB, specs []service.Spec, hosts int) {
	t.Helper()
	ctx := toolkittest.Context(t)
	for _, s := range specs {
		for _, src := range s.Sources() {
			stream, subjects := h.Host.StreamOf(src)
			if _, err := h.JS.Stream(ctx, stream); errors.Is(err, jetstream.ErrStreamNotFound) {
				if _, err := h.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subjects}}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = h.JS.DeleteStream(context.Background(), stream) })
			}
			name := h.namespace + "_" + service.ConsumerName(s.Name, src)
			Eventually(t, 10*time.Second, "every replica consuming "+name, func() bool {
				c, err := h.JS.Consumer(ctx, stream, name)
				if err != nil {
					return false
				}
				info, err := c.Info(ctx)
				return err == nil && info.NumWaiting >= hosts
			})
		}
	}
}

// Metric is Harness.Metric on the replica's metrics.
func (r *Replica) Metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	return metric(t, r.Metrics, name, labels...)
}

// watch records every event the services publish.
func (h *Harness) watch(t testing.TB, specs []service.Spec) {
	t.Helper()
	for _, s := range specs {
		_, subj := h.Host.StreamOf(s.Name)
		sub, err := h.NC.Subscribe(subj, func(m *nats.Msg) {
			e, err := contract.FromMessage(m.Header, m.Data)
			if err != nil {
				return
			}
			h.mu.Lock()
			h.received = append(h.received, e)
			h.mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
}

// Published returns the events the services published so far whose type
// name (without version) is name; all when name is empty.
func (h *Harness) Published(name string) []contract.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []contract.Event
	for _, e := range h.received {
		if n, _, _ := contract.ParseType(e.Type); name == "" || n == name {
			out = append(out, e)
		}
	}
	return out
}

// WaitPublished waits until an event of type name for which match holds
// (any, when match is nil) has been published, and returns it.
func (h *Harness) WaitPublished(t testing.TB, name string, match func(contract.Event) bool) contract.Event {
	t.Helper()
	var found contract.Event
	Eventually(t, 15*time.Second, "an event "+name, func() bool {
		for _, e := range h.Published(name) {
			if match == nil || match(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// Inject publishes e as if its producer's relay had: on the producer's
// stream (created when missing), with Nats-Msg-Id = e.ID.
func (h *Harness) Inject(t testing.TB, e contract.Event) {
	t.Helper()
	name, _, err := contract.ParseType(e.Type)
	if err != nil {
		t.Fatal(err)
	}
	src := service.Source(name)
	stream, subjects := h.Host.StreamOf(src)
	ctx := toolkittest.Context(t)
	if _, err := h.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subjects}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.JS.DeleteStream(context.Background(), stream) })
	msg := &nats.Msg{Subject: h.Host.SubjectOf(e.Type), Header: nats.Header(e.Header()), Data: e.Data}
	if _, err := h.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID)); err != nil {
		t.Fatal(err)
	}
}

// Event builds an event of type typ (with version) about subject.
func Event(t testing.TB, source, typ, subject string, data any) contract.Event {
	t.Helper()
	e, err := contract.New(source, typ, subject, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Response is an HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode decodes the body into v, failing the test if it is not JSON.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request with body (JSON-encoded unless it is a string or nil)
// to path under URL; admin adds the admin token.
func (h *Harness) Do(t testing.TB, method, path string, body any, admin bool) Response {
	t.Helper()
	return Do(t, h.URL, method, path, body, admin)
}

// Do is Harness.Do against any base URL.
func Do(t testing.TB, base, method, path string, body any, admin bool) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(toolkittest.Context(t), method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+AdminToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// MustJSON is Do that fails the test unless the status is want, and decodes
// the body into out (when not nil).
func (h *Harness) MustJSON(t testing.TB, method, path string, body any, admin bool, want int, out any) {
	t.Helper()
	r := h.Do(t, method, path, body, admin)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		r.Decode(t, out)
	}
}

// MustProblem is Do that fails the test unless the answer is a problem
// (application/problem+json) with status want; it returns the detail.
func (h *Harness) MustProblem(t testing.TB, method, path string, body any, admin bool, want int) string {
	t.Helper()
	r := h.Do(t, method, path, body, admin)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s %s: content type %q, want application/problem+json", method, path, ct)
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	r.Decode(t, &p)
	if p.Status != want || p.Detail == "" {
		t.Fatalf("%s %s: problem %s: want status %d and a detail", method, path, r.Body, want)
	}
	return p.Detail
}

// Eventually polls cond until it holds, failing the test after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Each runs fn as a parallel subtest per dialect (SQLite and PostgreSQL).
func Each(t *testing.T, fn func(t *testing.T, d sqldb.Dialect)) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// Metric returns the sum of metric name's series whose labels include the
// given name/value pairs ("service", "orders", ...); 0 when there is none.
func (h *Harness) Metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	return metric(t, h.Metrics, name, labels...)
}

func metric(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	sum, _ := MetricSeries(t, reg, name, labels...)
	return sum
}

// MetricSeries sums the series of metric name in reg whose labels include
// the given name/value pairs (a histogram counts its samples), and counts
// those series: a series at 0 is there, one never made is not.
func MetricSeries(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) (sum float64, series int) {
	t.Helper()
	if mf := toolkittest.Gather(t, reg, name); mf != nil {
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			series++
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum, series
}
