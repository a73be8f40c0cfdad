package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/relay"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

// TestEndToEndExactlyOnceThroughAReRelay runs producer outbox → relay →
// stream → inbox. The first relay dies between publish and delete; the
// stream's duplicate window is made to pass before a second relay publishes
// the same rows again, so the copies do reach the stream. The consumer still
// applies every event exactly once: its inbox drops the copies.
func TestEndToEndExactlyOnceThroughAReRelay(t *testing.T) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			consumer := newFixture(t, d) // its own database and a stream name
			producerDB := toolkittest.NewDB(t, d)
			ob, err := outbox.New(producerDB, outbox.Config{})
			if err != nil {
				t.Fatal(err)
			}
			// The fixture made the stream; let the relay own it instead.
			_ = consumer.js.DeleteStream(context.Background(), consumer.stream)
			const window = time.Second
			cfg := relay.Config{
				Stream:       jetstream.StreamConfig{Name: consumer.stream, Subjects: []string{consumer.stream + ".>"}, Duplicates: window},
				RetryHorizon: window,
				Logger:       toolkittest.Logger(t),
			}
			runRelay := func(cfg relay.Config) (stop func()) {
				r, err := relay.New(ob, consumer.nc, cfg)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					if err := r.Run(ctx); err != nil {
						t.Error(err)
					}
				}()
				var once sync.Once
				stop = func() { once.Do(func() { cancel(); <-done }) }
				t.Cleanup(stop)
				return stop
			}

			const total = 100
			for i := range total {
				e, err := contract.New(consumer.stream, consumer.stream+".thing_happened.v1", fmt.Sprint("a", i%4), payload{fmt.Sprint("a", i%4), i})
				if err != nil {
					t.Fatal(err)
				}
				if err := producerDB.Transact(context.Background(), func(tx *sqldb.Tx) error { return ob.Record(context.Background(), tx, e) }); err != nil {
					t.Fatal(err)
				}
			}
			killed := make(chan struct{})
			var once sync.Once
			stop := runRelay(withFault(cfg, func() error {
				once.Do(func() { close(killed) })
				return errors.New("killed before delete")
			}))
			<-killed
			stop()
			time.Sleep(window + 500*time.Millisecond) // the stream forgets the ids
			runRelay(cfg)

			consumer.run(t, consumer.consumer(t, inbox.Config{}, record))
			waitFor(t, 20*time.Second, "the copies to reach the consumer", func() bool {
				return consumer.applied(t) == total && consumer.metric(t, "bounded_inbox_duplicates_total") > 0
			})
			time.Sleep(300 * time.Millisecond)
			if n := consumer.applied(t); n != total {
				t.Fatalf("applied %d, want %d: an event was applied twice or lost", n, total)
			}
			st, _ := consumer.js.Stream(context.Background(), consumer.stream)
			info, _ := st.Info(context.Background())
			t.Logf("stream holds %d messages for %d events; the inbox dropped %v copies",
				info.State.Msgs, total, consumer.metric(t, "bounded_inbox_duplicates_total"))
			if info.State.Msgs <= total {
				t.Fatalf("the stream holds %d messages: the test did not get copies past the duplicate window", info.State.Msgs)
			}
		})
	}
}

func withFault(cfg relay.Config, f func() error) relay.Config {
	cfg.FaultBeforeDelete = f
	return cfg
}
