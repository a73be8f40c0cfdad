package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/testenv"
)

// testLogger logs to the test's output until the test's cleanups are done.
// The NATS client calls its handlers on its own goroutine, possibly after
// the test has ended, when writing to t.Output would panic; those lines are
// dropped.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.close) // registered first, so it runs after every later cleanup
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (tw *testWriter) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.closed {
		return len(p), nil
	}
	return tw.w.Write(p)
}

func (tw *testWriter) close() {
	tw.mu.Lock()
	tw.closed = true
	tw.mu.Unlock()
}

// mustConnect connects to url with a short reconnect wait and closes the
// connection when the test ends.
func mustConnect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := bus.Connect(bus.ConnConfig{
		URL: url, Name: t.Name(), Logger: testLogger(t),
		ReconnectWait: 50 * time.Millisecond, ReconnectJitter: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func mustEnsure(t *testing.T, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	s, err := bus.EnsureStream(t.Context(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStartEmbedded(t *testing.T) {
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	if !strings.HasPrefix(e.ClientURL(), "nats://127.0.0.1:") || e.Port() <= 0 {
		t.Fatalf("ClientURL %q, Port %d: want a random loopback port", e.ClientURL(), e.Port())
	}
	for name, url := range map[string]string{"tcp": e.ClientURL(), "in-process": ""} {
		t.Run(name, func(t *testing.T) {
			var opts []nats.Option
			if url == "" {
				opts = append(opts, e.InProcessOption())
			}
			nc, err := nats.Connect(url, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.AccountInfo(t.Context()); err != nil {
				t.Fatalf("JetStream account info: %v", err)
			}
		})
	}
	e.Shutdown()
	e.Shutdown() // idempotent
	if _, err := net.DialTimeout("tcp", e.ClientURL()[len("nats://"):], time.Second); err == nil {
		t.Fatal("server still accepts connections after Shutdown")
	}
}

func TestStartEmbeddedPortInUse(t *testing.T) {
	a := testenv.EmbeddedNATS(t)
	start := time.Now()
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: t.TempDir(), Port: a.Port()})
	if err == nil {
		b.Shutdown()
		t.Fatal("second server on the same port started")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s to fail, want the listen error at once", elapsed)
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("err = %v, want the listen error", err)
	}
}

func TestEmbeddedConfigValidate(t *testing.T) {
	for name, cfg := range map[string]bus.EmbeddedConfig{
		"no dir":        {},
		"bad port":      {Dir: "x", Port: 70000},
		"negative port": {Dir: "x", Port: -2},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil, want error", name)
		}
		if _, err := bus.StartEmbedded(cfg); err == nil {
			t.Errorf("%s: StartEmbedded succeeded", name)
		}
	}
	if err := (bus.EmbeddedConfig{Dir: "x"}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestEnsureStream(t *testing.T) {
	e := testenv.EmbeddedNATS(t)
	_, js := mustConnect(t, e.ClientURL())
	cfg := jetstream.StreamConfig{
		Name:       "ORDERS",
		Subjects:   []string{"orders.>"},
		MaxAge:     time.Hour,
		Duplicates: time.Minute,
		MaxBytes:   1 << 20,
	}
	first := mustEnsure(t, js, cfg)
	created := first.CachedInfo().Created

	t.Run("idempotent", func(t *testing.T) {
		again := mustEnsure(t, js, cfg)
		info, err := again.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !info.Created.Equal(created) || info.Config.Duplicates != time.Minute || info.Config.MaxAge != time.Hour {
			t.Fatalf("second ensure changed the stream: %+v", info.Config)
		}
	})

	t.Run("updates duplicate window, keeps unowned fields", func(t *testing.T) {
		// An operator raised MaxBytes on the server; EnsureStream must keep it.
		tuned := first.CachedInfo().Config
		tuned.MaxBytes = 2 << 20
		if _, err := js.UpdateStream(t.Context(), tuned); err != nil {
			t.Fatal(err)
		}
		want := cfg
		want.Duplicates = 10 * time.Minute
		want.Subjects = []string{"orders.>", "refunds.>"}
		s := mustEnsure(t, js, want)
		info, err := s.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.Duplicates != 10*time.Minute || len(info.Config.Subjects) != 2 {
			t.Fatalf("not updated: duplicates %s, subjects %v", info.Config.Duplicates, info.Config.Subjects)
		}
		if info.Config.MaxBytes != 2<<20 {
			t.Fatalf("MaxBytes = %d, want the operator's %d kept", info.Config.MaxBytes, 2<<20)
		}
		if !info.Created.Equal(created) {
			t.Fatal("stream was recreated, want updated in place")
		}
	})

	t.Run("storage change refused", func(t *testing.T) {
		want := cfg
		want.Storage = jetstream.MemoryStorage
		_, err := bus.EnsureStream(t.Context(), js, want)
		if err == nil || !strings.Contains(err.Error(), "storage") {
			t.Fatalf("err = %v, want an error about storage", err)
		}
	})

	t.Run("defaults compare equal", func(t *testing.T) {
		// No subjects means the stream's name; no duplicate window means the
		// server's default. Neither may cause an update.
		s := mustEnsure(t, js, jetstream.StreamConfig{Name: "plain"})
		before := s.CachedInfo().Config
		s = mustEnsure(t, js, jetstream.StreamConfig{Name: "plain"})
		if got := s.CachedInfo().Config; got.Duplicates != before.Duplicates || len(got.Subjects) != 1 || got.Subjects[0] != "plain" {
			t.Fatalf("config changed: %+v", got)
		}
	})

	t.Run("empty name", func(t *testing.T) {
		if _, err := bus.EnsureStream(t.Context(), js, jetstream.StreamConfig{}); err == nil {
			t.Fatal("want error")
		}
	})
}

// publishTwiceStoredOnce publishes the same message id twice to a new stream
// and checks the stream stored it once.
func publishTwiceStoredOnce(t *testing.T, js jetstream.JetStream, stream string) {
	t.Helper()
	s := mustEnsure(t, js, jetstream.StreamConfig{
		Name: stream, Subjects: []string{stream + ".>"}, Duplicates: time.Minute,
	})
	subject := stream + ".created"
	for i, wantDup := range []bool{false, true} {
		ack, err := js.Publish(t.Context(), subject, []byte("hello"), jetstream.WithMsgID("event-1"))
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Duplicate != wantDup || ack.Sequence != 1 {
			t.Fatalf("publish %d: ack %+v, want duplicate=%v seq=1", i, ack, wantDup)
		}
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestDuplicateMsgIDStoredOnce(t *testing.T) {
	e := testenv.EmbeddedNATS(t)
	_, js := mustConnect(t, e.ClientURL())
	publishTwiceStoredOnce(t, js, "dedup")
}

// TestRealServer runs against the server testenv finds (the machine's
// JetStream on 127.0.0.1:4222 when it is up) with a uniquely named stream.
func TestRealServer(t *testing.T) {
	_, js := mustConnect(t, testenv.NATS(t))
	name := testenv.UniqueName("bus_t_")
	t.Cleanup(func() {
		// A fresh context: the test's own is cancelled before cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, name); err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	publishTwiceStoredOnce(t, js, name)
	if _, err := bus.EnsureStream(t.Context(), js, jetstream.StreamConfig{
		Name: name, Subjects: []string{name + ".>"}, Duplicates: 5 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReconnectAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown() }) // e is reassigned below
	nc, js := mustConnect(t, e.ClientURL())
	s := mustEnsure(t, js, jetstream.StreamConfig{Name: "events", Subjects: []string{"events.>"}})
	if _, err := js.Publish(t.Context(), "events.a", []byte("1"), jetstream.WithMsgID("1")); err != nil {
		t.Fatal(err)
	}

	port := e.Port()
	e.Shutdown()
	waitFor(t, "disconnect", func() bool { return !nc.IsConnected() })

	// A core publish while disconnected goes to the reconnect buffer...
	if err := nc.Publish("events.b", []byte("buffered")); err != nil {
		t.Fatalf("publish while disconnected: %v", err)
	}

	e, err = bus.StartEmbedded(bus.EmbeddedConfig{Dir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnect", nc.IsConnected)

	// ...and is delivered after the reconnect; JetStream publishing works again.
	if _, err := js.Publish(t.Context(), "events.c", []byte("3"), jetstream.WithMsgID("3")); err != nil {
		t.Fatalf("publish after reconnect: %v", err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("stream holds %d messages, want 3 (before, buffered, after)", info.State.Msgs)
	}
	if nc.Stats().Reconnects != 1 {
		t.Fatalf("reconnects = %d, want 1", nc.Stats().Reconnects)
	}
}

// TestConnectBeforeServer checks a service can start before NATS: Connect
// succeeds with nothing listening and connects once the server is up.
func TestConnectBeforeServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	nc, js := mustConnect(t, "nats://127.0.0.1:"+itoa(port))
	if nc.IsConnected() {
		t.Fatal("connected with no server")
	}
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: t.TempDir(), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	waitFor(t, "connect", nc.IsConnected)
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestConnectConfig(t *testing.T) {
	if err := (bus.ConnConfig{}).Validate(); err != nil {
		t.Fatalf("zero config with defaults: %v", err)
	}
	if err := (bus.ConnConfig{ReconnectWait: -time.Second}).Validate(); err == nil {
		t.Fatal("negative ReconnectWait accepted")
	}
	_, err := bus.Connect(bus.ConnConfig{URL: "nats://[bad"})
	if err == nil {
		t.Fatal("bad URL accepted")
	}
	if errors.Unwrap(err) == nil {
		t.Fatalf("error %v does not wrap the cause", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestIsStreamInTransition: the refusal a server sends for a consumer on a
// stream it is setting up or tearing down (as a CI run saw it: "nats: API
// error: code=500 err_code=10012 description=invalid stream"), wrapped as
// callers wrap it, is a transition; other consumer-create refusals and a
// missing stream (from a real server) are not.
func TestIsStreamInTransition(t *testing.T) {
	inTransition := &jetstream.APIError{Code: 500, ErrorCode: jetstream.JSErrCodeConsumerCreate, Description: "invalid stream"}
	if got := inTransition.Error(); got != "nats: API error: code=500 err_code=10012 description=invalid stream" {
		t.Fatalf("the server's refusal reads %q", got)
	}
	if !bus.IsStreamInTransition(fmt.Errorf("inbox x: consumer on S: %w", inTransition)) {
		t.Error("invalid stream: not a transition")
	}
	other := &jetstream.APIError{Code: 500, ErrorCode: jetstream.JSErrCodeConsumerCreate, Description: "consumer config invalid"}
	if bus.IsStreamInTransition(other) || bus.IsStreamInTransition(errors.New("invalid stream")) {
		t.Error("another refusal taken for a transition")
	}
	_, js := mustConnect(t, testenv.NATS(t))
	_, err := js.CreateOrUpdateConsumer(context.Background(), testenv.UniqueName("nosuch"), jetstream.ConsumerConfig{Durable: "c"})
	if !errors.Is(err, jetstream.ErrStreamNotFound) || bus.IsStreamInTransition(err) {
		t.Fatalf("consumer on a missing stream: %v (a transition: %v); want stream not found, not a transition", err, bus.IsStreamInTransition(err))
	}
}

// TestIsConsumerStartConflict: the server's refusal to move an existing
// durable consumer's start (what a create meets when another replica made
// the consumer first) is recognised, wrapped as the inbox wraps it; a
// missing stream is not.
func TestIsConsumerStartConflict(t *testing.T) {
	_, js := mustConnect(t, testenv.NATS(t))
	ctx := t.Context()
	stream := testenv.UniqueName("made")
	mustEnsure(t, js, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}})
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	for i := range 5 {
		if _, err := js.Publish(ctx, stream+".x", []byte("x")); err != nil {
			t.Fatal(i, err)
		}
	}
	base := jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy}
	if _, err := js.CreateOrUpdateConsumer(ctx, stream, base); err != nil {
		t.Fatal(err)
	}
	moved := base
	moved.DeliverPolicy, moved.OptStartSeq = jetstream.DeliverByStartSequencePolicy, 3
	_, err := js.CreateOrUpdateConsumer(ctx, stream, moved)
	if err == nil || !bus.IsConsumerStartConflict(fmt.Errorf("inbox c: consumer on %s: %w", stream, err)) {
		t.Fatalf("moving an existing consumer's start: %v; want a refusal IsConsumerStartConflict knows", err)
	}
	_, err = js.CreateOrUpdateConsumer(ctx, stream+"_none", base)
	if err == nil || bus.IsConsumerStartConflict(err) {
		t.Fatalf("a consumer on a missing stream: %v, taken for a start conflict", err)
	}
}
