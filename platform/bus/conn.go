package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults for ConnConfig.
const (
	DefaultName            = "bounded"
	DefaultReconnectWait   = time.Second
	DefaultReconnectJitter = 500 * time.Millisecond
	DefaultReconnectBuf    = 64 << 20 // 64 MiB
)

// ConnConfig configures a client connection made by Connect.
type ConnConfig struct {
	// URL is the server URL, or a comma-separated list of them.
	// Default nats.DefaultURL (nats://127.0.0.1:4222).
	URL string
	// Name identifies the client in the server's connection list. Default DefaultName.
	Name string
	// Logger receives one line per connection event. Default slog.Default().
	Logger *slog.Logger
	// ReconnectWait is the pause between reconnect attempts to the same
	// server; a random jitter of up to ReconnectJitter is added so that many
	// clients do not return at once. Defaults DefaultReconnectWait and
	// DefaultReconnectJitter.
	ReconnectWait   time.Duration
	ReconnectJitter time.Duration
	// ReconnectBufSize is how many bytes of publishes are buffered while
	// disconnected. Default DefaultReconnectBuf.
	ReconnectBufSize int
	// NoReconnectBuffer makes publishes fail at once while disconnected
	// instead of being buffered and sent after the reconnect. A publisher
	// that must keep its order (the relay) needs it: a message lost with the
	// old socket must not be overtaken by buffered messages sent after it.
	NoReconnectBuffer bool
}

func (c ConnConfig) withDefaults() ConnConfig {
	if c.URL == "" {
		c.URL = nats.DefaultURL
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.ReconnectJitter == 0 {
		c.ReconnectJitter = DefaultReconnectJitter
	}
	if c.ReconnectBufSize == 0 {
		c.ReconnectBufSize = DefaultReconnectBuf
	}
	return c
}

// Validate reports whether the configuration, after defaults, is usable.
func (c ConnConfig) Validate() error {
	c = c.withDefaults()
	if c.ReconnectWait < 0 || c.ReconnectJitter < 0 {
		return errors.New("bus: conn config: negative reconnect wait or jitter")
	}
	if c.ReconnectBufSize < 0 {
		return errors.New("bus: conn config: negative ReconnectBufSize")
	}
	return nil
}

// Connect opens a client connection that never gives up on the server:
//
//   - If no server answers at start, Connect still returns a connection (in
//     the RECONNECTING state) and keeps trying in the background, so a
//     service can start before NATS does. Connect fails only on a bad
//     configuration or URL.
//   - After a disconnect it reconnects forever, every ReconnectWait plus a
//     random jitter, to any server in the URL list or learned from the
//     cluster.
//   - While disconnected, core publishes (nc.Publish) are buffered in memory,
//     up to ReconnectBufSize bytes, and sent on reconnect; once the buffer is
//     full Publish returns nats.ErrReconnectBufExceeded. Buffered messages
//     are lost if the process exits or the connection is closed first, so
//     they carry no delivery guarantee.
//   - JetStream publishes wait for the server's ack and so fail with a
//     timeout while disconnected; the request may still sit in the buffer
//     and reach the stream after reconnect. Callers that need exactly-once
//     storage therefore retry with the same Nats-Msg-Id, which the stream's
//     duplicate window collapses.
//   - Subscriptions are re-established on reconnect.
//
// Each connect, disconnect, reconnect, close and asynchronous error (for
// example a slow consumer) is logged once at the matching level; individual
// failed reconnect attempts are not logged.
//
// The caller owns the connection and must Close (or Drain) it.
func Connect(cfg ConnConfig) (*nats.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.NoReconnectBuffer {
		cfg.ReconnectBufSize = -1
	}
	log := cfg.Logger.With("nats_client", cfg.Name)
	nc, err := nats.Connect(cfg.URL,
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectJitter(cfg.ReconnectJitter, cfg.ReconnectJitter),
		nats.ReconnectBufSize(cfg.ReconnectBufSize),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("nats connected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			// Without an error the disconnect is our own Close, which the
			// closed handler reports.
			if err != nil {
				log.Warn("nats disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				log.Warn("nats connection closed", "err", err)
				return
			}
			log.Info("nats connection closed")
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			args := []any{"err", err}
			if sub != nil {
				args = append(args, "subject", sub.Subject)
			}
			log.Error("nats async error", args...)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", cfg.URL, err)
	}
	return nc, nil
}
