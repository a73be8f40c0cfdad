package service

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/bounded-dev/bounded/platform/inbox"
)

// Consumers lets a service stop and start its own durable consumers and
// read their streams: what a rebuild of a projection needs (stop live
// consumption, replay the streams into a fresh database, start live
// consumption again where the replay ended). The host runs each consumer
// through it; a paused consumer's Run has returned, so nothing of it is
// applying an event.
//
// Its methods are safe for concurrent use.
type Consumers struct {
	nc    *nats.Conn
	slots []*consumerSlot
}

// ConsumerInfo names one of a service's consumers.
type ConsumerInfo struct {
	Source  string // the service whose events it reads
	Stream  string // that service's stream, in the host's namespace
	Subject string // the subject filter (SOURCE.> in the namespace)
	Durable string // the durable consumer's name, also its inbox key
}

// NATS is the host's connection, to read the streams with.
func (c *Consumers) NATS() *nats.Conn { return c.nc }

// List returns the service's consumers, sorted by source.
func (c *Consumers) List() []ConsumerInfo {
	out := make([]ConsumerInfo, len(c.slots))
	for i, s := range c.slots {
		out[i] = s.info
	}
	return out
}

// Pause stops every consumer and returns once none is running (each Run
// has returned: its in-flight transactions have ended and its unhandled
// messages were handed back), or ctx is done. A paused consumer stays
// stopped until Resume; pausing a paused one does nothing.
func (c *Consumers) Pause(ctx context.Context) error {
	for _, s := range c.slots {
		if err := s.pause(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Resume starts the paused consumers again. startSeq, by durable name,
// gives the stream sequence a consumer starts at when its durable
// consumer has to be created (one deleted while paused); see
// inbox.Consumer.StartAt.
func (c *Consumers) Resume(startSeq map[string]uint64) {
	for _, s := range c.slots {
		if seq, ok := startSeq[s.info.Durable]; ok {
			s.c.StartAt(seq)
		}
		s.resume()
	}
}

// Paused reports whether any consumer is paused.
func (c *Consumers) Paused() bool {
	for _, s := range c.slots {
		s.mu.Lock()
		p := s.paused
		s.mu.Unlock()
		if p {
			return true
		}
	}
	return false
}

// consumerSlot runs one consumer, stopping and starting it on request.
type consumerSlot struct {
	c    *inbox.Consumer
	info ConsumerInfo

	mu      sync.Mutex
	paused  bool
	wake    chan struct{}      // closed by resume
	cancel  context.CancelFunc // of the Run in progress
	running chan struct{}      // closed when the Run in progress returns
}

func newSlot(c *inbox.Consumer, info ConsumerInfo) *consumerSlot {
	return &consumerSlot{c: c, info: info, wake: make(chan struct{})}
}

// run runs the consumer until ctx is done, stopping it while paused. An
// error of Run that no pause caused is returned.
func (s *consumerSlot) run(ctx context.Context) error {
	for {
		s.mu.Lock()
		for s.paused {
			wake := s.wake
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			}
			s.mu.Lock()
		}
		rctx, cancel := context.WithCancel(ctx)
		running := make(chan struct{})
		s.cancel, s.running = cancel, running
		s.mu.Unlock()

		err := s.c.Run(rctx)
		cancel()
		close(running)
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		paused := s.paused
		s.mu.Unlock()
		if !paused {
			return err // Run returns only when its context is done or on an error
		}
	}
}

func (s *consumerSlot) pause(ctx context.Context) error {
	s.mu.Lock()
	s.paused = true
	cancel, running := s.cancel, s.running
	s.mu.Unlock()
	if cancel == nil {
		return nil // not started yet: run will see paused
	}
	cancel()
	select {
	case <-running:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *consumerSlot) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		s.paused = false
		close(s.wake)
		s.wake = make(chan struct{})
	}
}
