package inbox

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Progress is where a durable consumer is in its stream, as JetStream
// knows it. Sequences are the stream's.
type Progress struct {
	Consumer string
	Stream   string
	// StreamLastSeq is the newest message in the stream (0: none yet),
	// read before the consumer's figures.
	StreamLastSeq uint64
	// Delivered is the last message delivered to the consumer; AckFloor the
	// message up to which every one is acknowledged.
	Delivered, AckFloor uint64
	// Pending is the messages not yet delivered; AckPending those
	// delivered and not yet acknowledged (being applied, or waiting for a
	// retry).
	Pending    uint64
	AckPending int
}

// CaughtUp reports whether the consumer had applied every message the
// stream held when StreamLastSeq was read: none pending and none awaiting
// an acknowledgement (the consumer's figures are read after the stream's,
// so a message newer than StreamLastSeq shows as pending). An
// acknowledgement is sent after the handler's transaction committed (or
// the event was dead-lettered, or skipped as a type the consumer does not
// handle), so a caught-up consumer's database holds the effects of every
// such message. The ack floor is not asked to reach StreamLastSeq: a
// consumer started after a sequence (Config.StartSeq, as a rebuild
// recreates Reporting's) has a floor of 0 on some servers (2.9) until it
// acknowledges its first message.
func (p Progress) CaughtUp() bool {
	return p.Pending == 0 && p.AckPending == 0
}

// Progress asks JetStream where the consumer is: the stream's last
// sequence first, then the consumer's. It fails when JetStream does not
// answer or the stream or the durable consumer does not exist (yet).
func (c *Consumer) Progress(ctx context.Context) (Progress, error) {
	p := Progress{Consumer: c.cfg.Name, Stream: c.cfg.Stream}
	s, err := c.js.Stream(ctx, c.cfg.Stream)
	if err != nil {
		return p, fmt.Errorf("inbox: progress of %s: stream %s: %w", c.cfg.Name, c.cfg.Stream, err)
	}
	si, err := s.Info(ctx)
	if err != nil {
		return p, fmt.Errorf("inbox: progress of %s: stream %s: %w", c.cfg.Name, c.cfg.Stream, err)
	}
	p.StreamLastSeq = si.State.LastSeq
	var cons jetstream.Consumer
	if cons, err = s.Consumer(ctx, c.cfg.Name); err == nil {
		var ci *jetstream.ConsumerInfo
		if ci, err = cons.Info(ctx); err == nil {
			p.Delivered, p.AckFloor = ci.Delivered.Stream, ci.AckFloor.Stream
			p.Pending, p.AckPending = ci.NumPending, ci.NumAckPending
			return p, nil
		}
	}
	return p, fmt.Errorf("inbox: progress of %s: %w", c.cfg.Name, err)
}
