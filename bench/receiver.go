package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// receiver is a plain JetStream consumer (an ordered consumer: ephemeral,
// no acks, gap-free) that notes when each event of a space first arrived.
// It counts only the events of its space, each once; a second copy counts as
// a duplicate and a foreign message as unknown.
type receiver struct {
	space eventSpace
	base  time.Time
	at    []atomic.Int64 // receipt time of event i, as ns since base; 0: not yet

	received   atomic.Int64
	duplicates atomic.Int64
	unknown    atomic.Int64
	last       atomic.Int64 // receipt time of the latest new event, ns since base
}

// startReceiver starts a receiver of events 0..n-1 of space on stream, on a
// NATS connection of its own, stopped with s. Times are measured from base,
// which must precede every event's commit.
func (r *runner) startReceiver(ctx context.Context, s *scope, stream string, space eventSpace, n int, base time.Time) (*receiver, error) {
	nc, err := r.connect("bounded-bench-receiver", false)
	if err != nil {
		return nil, err
	}
	s.onClose(func(context.Context) error { nc.Close(); return nil })
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	rc := &receiver{space: space, base: base, at: make([]atomic.Int64, n)}
	cc, err := cons.Consume(rc.handle)
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	s.onClose(func(context.Context) error { cc.Stop(); return nil })
	return rc, nil
}

func (rc *receiver) handle(msg jetstream.Msg) {
	rc.note(nats.Header(msg.Headers()).Get(jetstream.MsgIDHeader))
}

// note notes the receipt of the message with the given Nats-Msg-Id.
func (rc *receiver) note(msgID string) {
	now := max(int64(time.Since(rc.base)), 1)
	i, ok := rc.space.index(msgID)
	if !ok || i >= len(rc.at) {
		rc.unknown.Add(1)
		return
	}
	if !rc.at[i].CompareAndSwap(0, now) {
		rc.duplicates.Add(1)
		return
	}
	rc.last.Store(now)
	rc.received.Add(1)
}

// startWireTap starts a receiver that sees the relay's publishes as they
// cross the server, before JetStream stores them: a plain NATS subscription
// to the stream's subjects, on a connection of its own. Comparing its
// times with the JetStream consumer's splits the latency into the relay's
// part and JetStream's.
func (r *runner) startWireTap(s *scope, subjects string, space eventSpace, n int, base time.Time) (*receiver, error) {
	nc, err := r.connect("bounded-bench-wiretap", false)
	if err != nil {
		return nil, err
	}
	s.onClose(func(context.Context) error { nc.Close(); return nil })
	rc := &receiver{space: space, base: base, at: make([]atomic.Int64, n)}
	sub, err := nc.Subscribe(subjects, func(m *nats.Msg) { rc.note(m.Header.Get(jetstream.MsgIDHeader)) })
	if err != nil {
		return nil, fmt.Errorf("wire tap: %w", err)
	}
	// A burst must not be dropped as a slow consumer: the tap only stamps.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("wire tap: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("wire tap: %w", err)
	}
	return rc, nil
}

// stampAt notes, once, the time of event i in at (ns since base); it reports
// false when the event was already stamped.
func stampAt(at []atomic.Int64, i int, base time.Time) bool {
	return at[i].CompareAndSwap(0, max(int64(time.Since(base)), 1))
}
