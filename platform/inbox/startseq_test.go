package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/inbox"
)

// TestStartSeq: a new durable consumer with StartSeq starts at that stream
// sequence; a consumer that exists keeps its start position whatever a
// later Config says (JetStream refuses to change it).
func TestStartSeq(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for i := range 5 {
			f.publish(t, f.event(t, "a", i), uuid.NewString())
		}
		f.run(t, f.consumer(t, inbox.Config{StartSeq: 4}, record))
		waitFor(t, 10*time.Second, "events 4 and 5 applied", func() bool { return f.applied(t) == 2 })

		// Started again with another start: it attaches to the existing
		// consumer, which goes on from where it was.
		f.reg = prometheus.NewRegistry()
		c := f.consumer(t, inbox.Config{}, record)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		f.publish(t, f.event(t, "a", 5), uuid.NewString())
		waitFor(t, 10*time.Second, "event 6 applied", func() bool { return f.applied(t) == 3 })
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run with another start position on an existing consumer: %v", err)
		}
		if n := f.applied(t); n != 3 {
			t.Fatalf("%d events applied, want 3 (the first 3 never)", n)
		}
	})
}
