package service_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/bus"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/relay"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

const restartToken = "restart-test-admin-token"

// restartRig is the writer and the reader of specs on one host, connected
// (as in production: bus.Connect, no reconnect buffer) to a NATS server the
// test may stop and start.
type restartRig struct {
	host   *service.Host
	nc     *nats.Conn
	dsns   map[string]string
	writer *sqldb.DB // the test's own handles on the services' databases
	reader *sqldb.DB
	outbox *outbox.Outbox
	ran    chan struct{} // closed when Run has returned, with runErr
	runErr error
	next   int // the next note to write
}

func startRestartRig(t *testing.T, d sqldb.Dialect, url string, cfg service.HostConfig) *restartRig {
	t.Helper()
	nc, err := bus.Connect(bus.ConnConfig{URL: url, Name: t.Name(), Logger: toolkittest.Logger(t), NoReconnectBuffer: true,
		ReconnectWait: 100 * time.Millisecond, ReconnectJitter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r := &restartRig{nc: nc, dsns: map[string]string{"writer": toolkittest.DSN(t, d), "reader": toolkittest.DSN(t, d)}, ran: make(chan struct{})}
	cfg.NATS = nc
	cfg.DSN = func(name string) string { return r.dsns[name] }
	cfg.Logger = toolkittest.Logger(t)
	cfg.AdminToken = restartToken
	cfg.Relay.PollInterval = 100 * time.Millisecond
	cfg.Inbox.Backoff = func(int) time.Duration { return 20 * time.Millisecond }
	if r.host, err = service.NewHost(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, rd := specs(t)
	if err := r.host.Start(ctx, w, rd); err != nil {
		cancel()
		r.host.Close()
		t.Fatal(err)
	}
	go func() {
		r.runErr = r.host.Run(ctx)
		close(r.ran)
	}()
	// Cleanups run last-registered first: the host stops before the NATS
	// server the test began with, but after one restarted later. Either
	// way it must stop promptly.
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.ran:
			if r.runErr != nil {
				t.Errorf("host Run returned %v", r.runErr)
			}
		case <-time.After(8 * time.Second):
			t.Error("host did not stop within 8 s of its context's end")
		}
		r.host.Close()
	})
	r.writer = toolkittest.OpenDB(t, r.dsns["writer"])
	r.reader = toolkittest.OpenDB(t, r.dsns["reader"])
	if r.outbox, err = outbox.New(r.writer, outbox.Config{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// write writes the next n notes through the writer's API, each in its own
// transaction with its outbox row.
func (r *restartRig) write(t *testing.T, n int) {
	t.Helper()
	for range n {
		id := fmt.Sprintf("n%04d", r.next)
		req := httptest.NewRequest("PUT", "/writer/notes/"+id, strings.NewReader(`{"body":"b`+id+`"}`))
		req.Header.Set("Authorization", "Bearer "+restartToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		r.host.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			t.Errorf("PUT note %s: %d %s", id, rec.Code, rec.Body)
			return
		}
		r.next++
	}
}

// state is what the test checks: the reader's copies and inbox rows, the
// writer's outbox backlog, the reader's dead letters.
type rigState struct {
	copies, inboxRows, backlog int64
	deadLetters                int
}

func (s rigState) String() string {
	return fmt.Sprintf("reader has %d copies and %d inbox rows, writer's outbox holds %d, %d dead letters",
		s.copies, s.inboxRows, s.backlog, s.deadLetters)
}

func (r *restartRig) state(t *testing.T) rigState {
	t.Helper()
	ctx := context.Background()
	var s rigState
	if err := r.reader.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&s.copies); err != nil {
		t.Fatal(err)
	}
	if err := r.reader.QueryRowContext(ctx, `SELECT count(*) FROM bounded_inbox`).Scan(&s.inboxRows); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.backlog, _, err = r.outbox.Backlog(ctx); err != nil {
		t.Fatal(err)
	}
	dls, err := inbox.List(ctx, r.reader, "")
	if err != nil {
		t.Fatal(err)
	}
	s.deadLetters = len(dls)
	return s
}

// waitAllApplied waits until every note written so far has been applied by
// the reader exactly once and the writer's outbox is empty, and checks that
// nothing was dead-lettered and the host still runs.
func (r *restartRig) waitAllApplied(t *testing.T, within time.Duration) {
	t.Helper()
	want := int64(r.next)
	deadline := time.Now().Add(within)
	for {
		s := r.state(t)
		if s.deadLetters > 0 || s.copies > want || s.inboxRows > want {
			t.Fatalf("after writing %d notes: %s", want, s)
		}
		if s.copies == want && s.inboxRows == want && s.backlog == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, of %d notes written: %s", within, want, s)
		}
		select {
		case <-r.ran:
			t.Fatalf("host Run returned %v while the notes were on their way (%s)", r.runErr, s)
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.checkRunning(t)
}

func (r *restartRig) checkRunning(t *testing.T) {
	t.Helper()
	select {
	case <-r.ran:
		t.Fatalf("host Run returned %v", r.runErr)
	default:
	}
}

// waitHealth waits until Host.Health reports NATS as want ("ok" or not).
func (r *restartRig) waitHealth(t *testing.T, ok bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, _ := r.host.Health(context.Background())
		if (got["nats"] == "ok") == ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s Health reports nats=%q, want ok=%v", within, got["nats"], ok)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restartNATS shuts srv down, runs during (NATS is down meanwhile), and
// starts a server on the same port: with the same store when keepStore is
// set, else with an empty one (a single node that lost its disk).
func restartNATS(t *testing.T, srv *bus.Embedded, keepStore bool, during func()) *bus.Embedded {
	t.Helper()
	port, dir := srv.Port(), srv.Dir()
	if !keepStore {
		dir = t.TempDir()
	}
	srv.Shutdown()
	during()
	again, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: dir, Port: port})
	if err != nil {
		t.Fatalf("restart NATS on port %d: %v", port, err)
	}
	t.Cleanup(again.Shutdown)
	return again
}

// TestHostSurvivesANATSRestart writes notes steadily while the NATS server
// goes down for two seconds and comes back with its store: every note
// reaches the reader exactly once, the outbox drains, NATS is healthy again
// and the host never stopped.
func TestHostSurvivesANATSRestart(t *testing.T) {
	const total = 300
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			srv := testenv.EmbeddedNATS(t)
			r := startRestartRig(t, d, srv.ClientURL(), service.HostConfig{})
			r.waitHealth(t, true, 5*time.Second)
			t.Logf("%s: host running", time.Since(began).Round(time.Millisecond))

			// Writes go on throughout: ~4.5 s at one note every 15 ms.
			written := make(chan struct{})
			go func() {
				defer close(written)
				for r.next < total && !t.Failed() {
					r.write(t, 1)
					time.Sleep(15 * time.Millisecond)
				}
			}()
			time.Sleep(time.Second)
			srv = restartNATS(t, srv, true, func() {
				r.waitHealth(t, false, 5*time.Second)
				time.Sleep(2 * time.Second)
			})
			<-written
			if t.Failed() {
				return
			}
			t.Logf("%s: %d notes written", time.Since(began).Round(time.Millisecond), r.next)
			r.waitAllApplied(t, 30*time.Second)
			t.Logf("%s: all applied", time.Since(began).Round(time.Millisecond))
			r.waitHealth(t, true, 5*time.Second)
			if r.next != total {
				t.Fatalf("wrote %d notes, want %d", r.next, total)
			}
		})
	}
}

// TestHostSurvivesANATSServerThatLostItsStore restarts NATS with an empty
// store: the streams and durable consumers are gone. The relay recreates its
// stream and the reader its durable consumer, and new notes flow. (Notes
// that reached the old stream were applied before it went, which the test
// makes sure of: events a lost disk held and nobody had read yet are gone
// with it, and only a replicated stream avoids that.)
func TestHostSurvivesANATSServerThatLostItsStore(t *testing.T) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			srv := testenv.EmbeddedNATS(t)
			r := startRestartRig(t, d, srv.ClientURL(), service.HostConfig{Retention: time.Hour})
			r.write(t, 50)
			r.waitAllApplied(t, 15*time.Second)
			t.Logf("%s: first notes applied", time.Since(began).Round(time.Millisecond))
			srv = restartNATS(t, srv, false, func() {
				r.waitHealth(t, false, 5*time.Second)
				r.write(t, 50) // kept in the outbox meanwhile
				time.Sleep(time.Second)
			})
			t.Logf("%s: NATS restarted with an empty store", time.Since(began).Round(time.Millisecond))
			r.write(t, 50)
			r.waitAllApplied(t, 20*time.Second)
			t.Logf("%s: all applied", time.Since(began).Round(time.Millisecond))
			r.waitHealth(t, true, 5*time.Second)

			// The recreated stream has the owner's settings.
			js, err := jetstream.New(r.nc)
			if err != nil {
				t.Fatal(err)
			}
			st, err := js.Stream(context.Background(), "WRITER")
			if err != nil {
				t.Fatal(err)
			}
			if c := st.CachedInfo().Config; c.MaxAge != time.Hour || c.Storage != jetstream.FileStorage || c.Duplicates < 2*time.Minute {
				t.Fatalf("recreated stream: max age %s, storage %s, duplicates %s", c.MaxAge, c.Storage, c.Duplicates)
			}
			r.write(t, 10)
			r.waitAllApplied(t, 10*time.Second)
		})
	}
}

// TestHostOwnsItsStreamSettings checks that each service's stream is set up
// as its owner (the host, from HostConfig and the relay's retry horizon)
// decides, also when the stream exists with other settings.
func TestHostOwnsItsStreamSettings(t *testing.T) {
	url := testenv.NATS(t)
	nc := toolkittest.Connect(t, url)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ns := testenv.UniqueName("t")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range []string{"WRITER", "READER"} {
			_ = js.DeleteStream(ctx, ns+"_"+s)
		}
	})
	const horizon = 90 * time.Second
	check := func(t *testing.T, retention time.Duration) {
		t.Helper()
		for _, svc := range []string{"writer", "reader"} {
			st, err := js.Stream(context.Background(), ns+"_"+strings.ToUpper(svc))
			if err != nil {
				t.Fatalf("%s's stream: %v", svc, err)
			}
			c := st.CachedInfo().Config
			if len(c.Subjects) != 1 || c.Subjects[0] != ns+"."+svc+".>" {
				t.Errorf("%s's stream subjects = %v, want [%s.%s.>]", svc, c.Subjects, ns, svc)
			}
			if c.MaxAge != retention {
				t.Errorf("%s's stream max age = %s, want %s", svc, c.MaxAge, retention)
			}
			if c.Duplicates != horizon {
				t.Errorf("%s's stream duplicate window = %s, want the relay's retry horizon %s", svc, c.Duplicates, horizon)
			}
			if c.Storage != jetstream.FileStorage {
				t.Errorf("%s's stream storage = %s, want file", svc, c.Storage)
			}
		}
	}
	run := func(t *testing.T, retention time.Duration) {
		t.Helper()
		cfg := service.HostConfig{Namespace: ns, Retention: retention, Relay: relay.Config{RetryHorizon: horizon}}
		// Each host runs for a moment and stops when its subtest ends.
		r := startRestartRig(t, sqldb.SQLite, url, cfg)
		check(t, retention) // set at Start
		r.write(t, 3)
		r.waitAllApplied(t, 10*time.Second)
		check(t, retention) // and left so by the relay
	}
	t.Run("created", func(t *testing.T) { run(t, time.Hour) })
	t.Run("retention changed", func(t *testing.T) { run(t, 2*time.Hour) })
	t.Run("window shortened by hand", func(t *testing.T) {
		st, err := js.Stream(context.Background(), ns+"_WRITER")
		if err != nil {
			t.Fatal(err)
		}
		c := st.CachedInfo().Config
		c.Duplicates = 30 * time.Second
		if _, err := js.UpdateStream(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		run(t, 2*time.Hour)
	})
	t.Run("refused", func(t *testing.T) {
		// A retention shorter than the retry horizon cannot hold a
		// duplicate window that long: the host refuses to start, saying so.
		h, err := service.NewHost(service.HostConfig{NATS: nc, DSN: func(string) string { return t.TempDir() + "/db" },
			Namespace: ns + "_short", Retention: time.Minute, Relay: relay.Config{RetryHorizon: horizon}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		w, _ := specs(t)
		err = h.Start(context.Background(), w)
		if err == nil {
			_ = js.DeleteStream(context.Background(), ns+"_short_WRITER")
			t.Fatal("a host whose retention is shorter than the relay's retry horizon started")
		}
		t.Logf("refused: %v", err)
	})
}
