// Package bench measures the toolkit (packages outbox, relay and inbox)
// beside the raw limits of the engines under it, in one run, on real
// servers: PostgreSQL, SQLite (through sqldb) and NATS JetStream.
//
// A run is a sequence of phases (see [Phases]); [Run] executes the chosen
// ones in order and returns a [Report], which renders as a Markdown section
// ([Report.WriteMarkdown]) or JSON ([Report.WriteJSON]); [Report.Rows]
// judges the figures against the targets of issue #2.
//
//   - raw-postgres, raw-sqlite: one-row autocommit INSERTs per second with 1
//     writer and with Config.Writers writers, into a plain table of a fresh
//     database. SQLite goes through sqldb with its default settings (one
//     writer connection, WAL, synchronous=NORMAL).
//   - raw-jetstream: asynchronous publishes per second to a fresh file-storage
//     stream, one publisher, a window of [DefaultWindow] unacknowledged
//     messages, first publish to last ack, median of three runs. Every
//     message is the one the relay sends for an outbox event: the
//     CloudEvents headers, Nats-Msg-Id and a Config.PayloadBytes body. Beside
//     it: the same with an ordered consumer receiving (to the last receipt),
//     and JetStream's publish → receipt latency at the live rate.
//   - drain-postgres, drain-sqlite: Config.Events events are recorded into a
//     fresh outbox before the relay starts; then an ordered consumer and the
//     relay run, and the figure is events received per second, from the
//     relay's start to the receipt of the last event. Only events the
//     consumer received count, each once.
//   - live-postgres, live-sqlite: paced writers offer Config.Rate events per
//     second for Config.Duration, one transaction each (a domain row and its
//     event). Latency runs from the instant the writer's commit returned (an
//     after-commit hook registered before the outbox's own, so before the
//     relay is woken) to receipt by an ordered consumer, and to the commit of
//     an inbox consumer's transaction (its after-commit hook). A plain NATS
//     subscriber on the stream's subjects splits the first into the relay's
//     part and JetStream's.
//   - writers-postgres, writers-sqlite: Config.Writers writers commit as
//     fast as they can: a domain row alone (the raw figure), a domain row and
//     its outbox event without a relay, and the same with the relay running,
//     in interleaved rounds. With the relay running the outbox backlog is
//     sampled every 250 ms, and after the writers stop the run waits for it
//     to drain.
//
// Every measurement creates its own uniquely named databases, SQLite files
// and streams and removes them when it ends, also after an error or a
// cancellation. A phase that loses, duplicates or strands an event fails;
// the others still run. Nothing here reads flags or the environment; the
// binary (cmd/bounded) does, and passes a [Config].
package bench
