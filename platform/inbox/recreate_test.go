package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/inbox"
)

// TestRecreatesItsDurableConsumerWhenGone deletes the durable consumer under
// a running Consumer, and then the whole stream (as a NATS server that lost
// its store would): the Consumer creates its durable consumer again and
// applies what comes next; what it replays from the stream is a no-op.
func TestRecreatesItsDurableConsumerWhenGone(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.run(t, f.consumer(t, inbox.Config{}, record))
		publish := func(from, to int) {
			for i := from; i < to; i++ {
				f.publish(t, f.event(t, "a", i), uuid.NewString())
			}
		}
		ctx := context.Background()
		publish(0, 5)
		waitFor(t, 10*time.Second, "5 events applied", func() bool { return f.applied(t) == 5 })

		if err := f.js.DeleteConsumer(ctx, f.stream, "test"); err != nil {
			t.Fatal(err)
		}
		publish(5, 10)
		waitFor(t, 10*time.Second, "10 events applied after the consumer was deleted", func() bool { return f.applied(t) == 10 })
		// The recreated consumer read the stream from the start again.
		waitFor(t, 10*time.Second, "the first 5 skipped as duplicates", func() bool {
			return f.metric(t, "bounded_inbox_duplicates_total") == 5
		})

		if err := f.js.DeleteStream(ctx, f.stream); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // the stream is missing for a while
		if _, err := f.js.CreateStream(ctx, jetstream.StreamConfig{Name: f.stream, Subjects: []string{f.stream + ".>"}}); err != nil {
			t.Fatal(err)
		}
		publish(10, 15)
		waitFor(t, 15*time.Second, "15 events applied after the stream was recreated", func() bool { return f.applied(t) == 15 })
		if n := f.metric(t, "bounded_inbox_dead_letters_total"); n != 0 {
			t.Fatalf("%v dead letters", n)
		}
	})
}
