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
	// The adapter is installed even without a Logger: it also catches the
	// server's fatal errors (a port in use, say), which arrive only as log
	// lines, so that StartEmbedded fails at once and says why.
	logger := &serverLogger{l: cfg.Logger, fatal: make(chan string, 1)}
	debug := cfg.Logger != nil && cfg.Logger.Enabled(context.Background(), slog.LevelDebug)
	srv.SetLoggerV2(logger, debug, false, false)
	srv.Start()
	stop := func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	deadline := time.Now().Add(cfg.ReadyTimeout)
	for !srv.ReadyForConnections(25 * time.Millisecond) {
		select {
		case msg := <-logger.fatal:
			stop()
			return nil, fmt.Errorf("bus: start embedded nats on %s: %s", addr, msg)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("bus: start embedded nats on %s: not ready after %s", addr, cfg.ReadyTimeout)
		}
	}
	if !srv.JetStreamEnabled() {
		stop()
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

// serverLogger routes the server's log lines to slog (if l is set) and
// passes the first fatal one to StartEmbedded.
type serverLogger struct {
	l     *slog.Logger // nil: discard
	fatal chan string  // capacity 1
}

var _ server.Logger = (*serverLogger)(nil)

func (a *serverLogger) log(level slog.Level, format string, v []any) {
	if a.l != nil {
		a.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}

func (a *serverLogger) Noticef(format string, v ...any) { a.log(slog.LevelInfo, format, v) }
func (a *serverLogger) Warnf(format string, v ...any)   { a.log(slog.LevelWarn, format, v) }
func (a *serverLogger) Errorf(format string, v ...any)  { a.log(slog.LevelError, format, v) }
func (a *serverLogger) Debugf(format string, v ...any)  { a.log(slog.LevelDebug, format, v) }
func (a *serverLogger) Tracef(format string, v ...any)  { a.log(slog.LevelDebug, format, v) }

// Fatalf logs at error level and reports the message to StartEmbedded. The
// server's own logger would exit the process; a library must not.
func (a *serverLogger) Fatalf(format string, v ...any) {
	a.log(slog.LevelError, format, v)
	select {
	case a.fatal <- fmt.Sprintf(format, v...):
	default:
	}
}
