package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/bus"
)

// LoopbackNATS is the URL tried after BOUNDED_TEST_NATS.
const LoopbackNATS = "nats://127.0.0.1:4222"

type natsResult struct {
	url    string
	source string
	err    error
}

// NATS returns the URL of a JetStream-enabled NATS server for this test
// binary: BOUNDED_TEST_NATS if set (the test fails if it does not answer
// with JetStream), else the server on 127.0.0.1:4222 if it has JetStream,
// else one embedded server per process, stopped by Main. The answer is
// found on the first call and cached for the process.
//
// The server is shared with other tests and, for the first two, with other
// test binaries: use UniqueName for streams and consumers and delete them in
// tb.Cleanup. Tests that stop or restart the server use EmbeddedNATS.
func NATS(tb testing.TB) string {
	tb.Helper()
	state.natsOnce.Do(func() { state.nats = discoverNATS() })
	r := state.nats
	if r.err != nil {
		tb.Fatalf("testenv: NATS: %v", r.err)
	}
	if state.natsAnnounced.CompareAndSwap(false, true) {
		tb.Logf("testenv: NATS: %s: %s", r.source, r.url)
	}
	return r.url
}

func discoverNATS() natsResult {
	if env := os.Getenv(EnvNATS); env != "" {
		if err := checkJetStream(env); err != nil {
			return natsResult{err: fmt.Errorf("%s=%s: %w", EnvNATS, env, err)}
		}
		return natsResult{url: env, source: "from " + EnvNATS}
	}
	if checkJetStream(LoopbackNATS) == nil {
		return natsResult{url: LoopbackNATS, source: "loopback server"}
	}
	dir, err := os.MkdirTemp("", "bounded-testenv-nats-")
	if err != nil {
		return natsResult{err: fmt.Errorf("embedded server: %w", err)}
	}
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: dir})
	if err != nil {
		_ = os.RemoveAll(dir)
		return natsResult{err: fmt.Errorf("embedded server: %w", err)}
	}
	state.mu.Lock()
	state.embedded, state.natsDir = e, dir
	state.mu.Unlock()
	return natsResult{url: e.ClientURL(), source: "embedded server"}
}

// checkJetStream reports whether url answers a JetStream account info
// request within a few seconds.
func checkJetStream(url string) error {
	nc, err := nats.Connect(url, nats.Name("bounded-testenv"), nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

// EmbeddedNATS starts a JetStream server private to this test, listening on
// a random loopback port with its store in a fresh temp dir, and shuts it
// down when the test ends. Use it for tests that stop, restart or otherwise
// disturb the server; restart one with bus.StartEmbedded on its Port and Dir.
func EmbeddedNATS(tb testing.TB) *bus.Embedded {
	tb.Helper()
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(e.Shutdown) // registered after TempDir's, so it runs before the dir is removed
	return e
}
