package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/bench"
	"github.com/bounded-dev/bounded/platform/bus"
)

const (
	defaultPostgresAdmin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultNATS          = "nats://127.0.0.1:4222"
)

// parseBenchToolkit reads the flags of 'bounded bench toolkit'.
func (m *Main) parseBenchToolkit(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("bench toolkit", strings.TrimSpace(`
Measures the toolkit beside the raw limits, in one run: raw PostgreSQL and
SQLite commits and JetStream publishes; the relay draining a backlog; live
latency from commit to receipt and to handling; writers with and without the
outbox. Every measurement uses fresh databases and streams and removes them.
Progress goes to stderr, the results table (Markdown) to stdout. The exit
status is 1 when a phase did not complete (an event lost, duplicated or
stranded, a server error); a figure that misses its target does not change it.

Phases (for -only): `+strings.Join(bench.Phases(), ", ")+`;
groups: all, raw, drain, live, writers, postgres, sqlite, jetstream.`))
	var (
		cfg      bench.Config
		only     string
		out      string
		jsonOut  string
		svgOut   string
		from     string
		natsURL  string
		logLevel string
		cpuProf  string
	)
	fs.StringVar(&cfg.PostgresAdmin, "postgres", defaultPostgresAdmin, "admin `URL` of the PostgreSQL server (creates and drops databases)")
	fs.StringVar(&natsURL, "nats", defaultNATS, "`URL` of a JetStream-enabled NATS server, or \"embedded\" to start one in this process")
	fs.IntVar(&cfg.Events, "events", 100_000, "events in the drain backlog and in the raw publish run")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long the live and writers phases write")
	fs.DurationVar(&cfg.RawDuration, "raw-duration", 5*time.Second, "how long each raw database figure writes")
	fs.IntVar(&cfg.Rate, "rate", 1000, "events per second offered in the live phases")
	fs.IntVar(&cfg.Writers, "writers", 8, "concurrent writers of the raw many-writer figures and the writers phases")
	fs.StringVar(&only, "only", "", "comma-separated `phases` or groups to run (default all)")
	fs.StringVar(&out, "out", "", "write the results as a Markdown section to `FILE`")
	fs.StringVar(&jsonOut, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&svgOut, "svg", "", "draw the figures that have targets, beside their raw limits, as an SVG chart in `FILE`")
	fs.StringVar(&from, "from", "", "measure nothing: render the results saved by -json in `FILE` again (with -out, -svg, -json)")
	fs.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the whole run to `FILE` (for go tool pprof)")
	fs.StringVar(&logLevel, "log", "error", "level of the toolkit's own log lines on stderr: debug, info, warn, error")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	var err error
	if cfg.Phases, err = bench.SelectPhases(only); err != nil {
		return nil, usagef("bench toolkit: -only: %v", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, usagef("bench toolkit: -log: %v", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.NATSURL = natsURL
	cfg.Progress, cfg.ProgressTTY = m.Stderr, m.StderrIsTerminal
	if natsURL == "embedded" {
		cfg.NATSURL = "nats://embedded" // replaced in run; lets Validate pass
	}
	if err := cfg.Validate(); err != nil {
		return nil, usagef("bench toolkit: %v", err)
	}
	command := "bounded bench toolkit " + strings.Join(args, " ")

	return func(ctx context.Context) error {
		if natsURL == "embedded" {
			dir, err := os.MkdirTemp("", "bounded-bench-nats-")
			if err != nil {
				return err
			}
			m.onClose(func() error { return os.RemoveAll(dir) })
			e, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: dir})
			if err != nil {
				return err
			}
			m.onClose(func() error { e.Shutdown(); return nil })
			cfg.NATSURL = e.ClientURL()
		}
		if cpuProf != "" {
			f, err := os.Create(cpuProf)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return err
			}
			m.onClose(func() error { pprof.StopCPUProfile(); return f.Close() })
		}
		var rep *bench.Report
		var err error
		if from != "" {
			rep, err = readReport(from)
		} else {
			rep, err = bench.Run(ctx, cfg)
			if rep != nil {
				rep.Command = strings.TrimSpace(command)
			}
		}
		if rep == nil {
			return err
		}
		// Write the results also when a phase failed: the table names it, and
		// the other phases' figures stand.
		werr := []error{rep.WriteMarkdown(m.Stdout)}
		if out != "" {
			werr = append(werr, writeFile(out, rep.WriteMarkdown))
		}
		if jsonOut != "" {
			werr = append(werr, writeFile(jsonOut, rep.WriteJSON))
		}
		if svgOut != "" {
			werr = append(werr, writeFile(svgOut, rep.WriteSVG))
		}
		return errors.Join(append([]error{err}, werr...)...)
	}, nil
}

// writeFile writes a file with write, reporting a failed close.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readReport reads a report saved with -json.
func readReport(path string) (*bench.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return bench.ReadJSON(f)
}
