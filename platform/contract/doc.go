// Package contract defines the event envelope every service publishes and the
// machinery that keeps producers and consumers of those events compatible.
//
// # The envelope
//
// An [Event] carries the CloudEvents 1.0 attributes id, source, type, subject,
// time, datacontenttype and data, plus the W3C traceparent extension. The
// specversion is always "1.0" and is therefore not a field. The type names
// both the event and the version of its payload: "orders.order_confirmed.v1"
// is version 1 of the event named "orders.order_confirmed" (see [ParseType]).
// A change a consumer could notice gets a new version; the name stays.
//
// On NATS an event travels in the binary content mode of the CloudEvents NATS
// binding: the attributes are message headers ("ce-id", "ce-type", ...) and
// the payload is the message body, untouched. [Event.Header] and [FromMessage]
// convert in both directions. The relay also sets "Nats-Msg-Id" to the event
// id for JetStream's duplicate detection; that header belongs to the transport
// and is not produced here.
//
// # Versions and upcasting
//
// A consumer registers the Go type of each payload version it understands in a
// [Registry], together with upcasters that turn a payload of version N into
// version N+1. [Registry.Decode] always returns the latest registered version,
// so handler code deals with one shape while older events (replays, events
// still in flight during a deploy) keep working.
//
// # Consumer-driven contracts
//
// A producer cannot know which fields its consumers read, so consumers say so:
// each declares a [Reliance] ("inventory relies on description of
// catalog.product_updated"). The producer's own test calls [CheckReliances]
// with an example of every event it publishes and every consumer's
// reliances; a change that drops a relied-upon field fails the producer's
// build instead of silently breaking the consumer in production.
package contract
