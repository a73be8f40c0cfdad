package bus

import (
	"context"
	"errors"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// IsUnavailable reports whether err says NATS or JetStream could not be
// reached (yet): no connection, a reconnect in progress, a request that timed
// out or found no responder, JetStream not (yet) enabled. The same call can
// succeed unchanged later. A closed connection is not unavailable: it never
// comes back.
func IsUnavailable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrJetStreamNotEnabled)
}

// IsStreamInTransition reports JetStream's refusal to create a consumer on a
// stream that the server is setting up or tearing down at that moment
// (code 10012, "invalid stream": the stream exists, but not yet or no longer
// in full). The same call succeeds, or finds no stream, a moment later.
func IsStreamInTransition(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeConsumerCreate &&
		strings.Contains(apiErr.Description, "invalid stream")
}

// IsConsumerStartConflict reports JetStream's refusal to change where an
// existing durable consumer starts: a create that meets a consumer another
// party made since it looked (a replica, a rebuild). Looking again, and
// taking the existing consumer's start, succeeds.
func IsConsumerStartConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeConsumerCreate &&
		(strings.Contains(apiErr.Description, "deliver policy can not be updated") ||
			strings.Contains(apiErr.Description, "start sequence can not be updated") ||
			strings.Contains(apiErr.Description, "start time can not be updated"))
}
