// Package bus is the NATS JetStream plumbing shared by every service and tool:
// an embedded JetStream server for the single-process mode and for tests
// (StartEmbedded), a client connection that survives server restarts
// (Connect), and idempotent stream provisioning (EnsureStream).
//
// The package knows nothing of the shop's subjects or events; callers pass
// their own stream configurations.
package bus
