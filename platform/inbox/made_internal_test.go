package inbox

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/testenv"
)

// TestIsMadeMeanwhile: the server's refusal to move an existing durable
// consumer's start (what a create meets when another replica made the
// consumer first) is recognised, wrapped as ensureConsumer wraps it; a
// missing stream is not.
func TestIsMadeMeanwhile(t *testing.T) {
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stream := testenv.UniqueName("made")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}}); err != nil {
		t.Fatal(err)
	}
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
	_, err = js.CreateOrUpdateConsumer(ctx, stream, moved)
	if err == nil || !isMadeMeanwhile(fmt.Errorf("inbox c: consumer on %s: %w", stream, err)) {
		t.Fatalf("moving an existing consumer's start: %v; want a refusal isMadeMeanwhile knows", err)
	}
	_, err = js.CreateOrUpdateConsumer(ctx, stream+"_none", base)
	if err == nil || isMadeMeanwhile(err) {
		t.Fatalf("a consumer on a missing stream: %v, taken for one made meanwhile", err)
	}
}
