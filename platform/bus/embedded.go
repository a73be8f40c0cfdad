package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Defaults for EmbeddedConfig.
const (
	DefaultEmbeddedHost         = "127.0.0.1"
	DefaultEmbeddedPort         = -1 // a random free port
	DefaultEmbeddedReadyTimeout = 10 * time.Second
)

// EmbeddedConfig configures an in-process NATS server with JetStream.
type EmbeddedConfig struct {
	// Dir is the JetStream file store directory. Required. Restarting a
	// server on the same Dir recovers its streams and messages.
	Dir string
	// Host is the client listen address. Default DefaultEmbeddedHost.
	Host string
	// Port is the client port. Zero or -1 picks a random free port (read it
	// back with Port or ClientURL); the NATS default is 4222, pass it
	// explicitly to use it.
	Port int
	// ServerName names the server in its INFO and logs. Default: the server ID.
	ServerName string
	// ReadyTimeout bounds how long StartEmbedded waits for the server to
	// accept connections. Default DefaultEmbeddedReadyTimeout.
	ReadyTimeout time.Duration
	// Logger receives the server's notices, warnings and errors (and debug
	// lines when the logger is enabled for slog.LevelDebug). Nil means the
	// server logs nothing.
	Logger *slog.Logger
}

func (c EmbeddedConfig) withDefaults() EmbeddedConfig {
	if c.Host == "" {
		c.Host = DefaultEmbeddedHost
	}
	if c.Port == 0 {
		c.Port = DefaultEmbeddedPort
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultEmbeddedReadyTimeout
	}
	return c
}

// Validate reports whether the configuration, after defaults, can start a server.
func (c EmbeddedConfig) Validate() error {
	c = c.withDefaults()
	if c.Dir == "" {
		return errors.New("bus: embedded config: Dir is required")
	}
	if c.Port < -1 || c.Port > 65535 {
		return fmt.Errorf("bus: embedded config: Port %d out of range", c.Port)
	}
	if c.ReadyTimeout < 0 {
		return fmt.Errorf("bus: embedded config: negative ReadyTimeout %s", c.ReadyTimeout)
	}
	return nil
}

// Embedded is a running in-process NATS server with JetStream enabled.
// Its methods are safe for concurrent use.
type Embedded struct {
	srv *server.Server
	cfg EmbeddedConfig
}

// StartEmbedded starts a NATS server with JetStream (file storage in
// cfg.Dir) inside this process and returns once it accepts client
// connections. It returns an error, having stopped the server, if the server
// cannot be created, is not ready within cfg.ReadyTimeout, or came up
// without JetStream (for example because Dir is not writable).
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		NoSigs:     true, // signals belong to the host process, not to the library
		NoLog:      cfg.Logger == nil,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: start embedded nats: %w", err)
	}
	if cfg.Logger != nil {
		debug := cfg.Logger.Enabled(context.Background(), slog.LevelDebug)
		srv.SetLoggerV2(slogAdapter{cfg.Logger}, debug, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("bus: start embedded nats on %s: not ready after %s",
			net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), cfg.ReadyTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("bus: start embedded nats: JetStream did not start (store dir %q)", cfg.Dir)
	}
	return &Embedded{srv: srv, cfg: cfg}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Port is the client port the server listens on (the chosen one when the
// config asked for a random port). A server restarted with this Port and
// the same Dir is, to clients, the same server.
func (e *Embedded) Port() int {
	if a, ok := e.srv.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return e.cfg.Port
}

// Dir is the JetStream store directory.
func (e *Embedded) Dir() string { return e.cfg.Dir }

// InProcessOption returns a nats.Option that connects to this server
// through an in-memory pipe instead of TCP. Such a connection skips the
// network but also cannot reconnect to a restarted server.
func (e *Embedded) InProcessOption() nats.Option { return nats.InProcessServer(e.srv) }

// Shutdown stops the server and waits until it has stopped. Connected
// clients see a disconnect. It is safe to call more than once.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// slogAdapter routes the server's logger interface to slog.
type slogAdapter struct{ l *slog.Logger }

var _ server.Logger = slogAdapter{}

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }

// Fatalf logs at error level. The server's own logger would exit the
// process; a library must not, so the caller sees the failure through
// StartEmbedded's readiness check instead.
func (a slogAdapter) Fatalf(format string, v ...any) {
	a.l.Error(fmt.Sprintf(format, v...), "fatal", true)
}
