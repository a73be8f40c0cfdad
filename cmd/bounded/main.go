// Command bounded is the project's one binary: it runs the system and its
// tools. Subcommands are chosen by name (see [Main.commands]); each reads
// its own flags. Flags and the environment are read here and nowhere else.
//
// Exit codes: 0 success, 1 a command that failed, 2 a usage error (unknown
// command, bad flag), reported in one line on stderr, 130 interrupted. A
// command may give codes of its own (reconcile: 1 differences found, 3 no
// verdict).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
)

func main() {
	// bounded is a server whose heap is small (tens of MB for the whole
	// embedded system) and whose work is allocation-heavy (events in and
	// out): trading some memory for fewer collections buys ~10% of relay
	// throughput. GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(NewMain().Main(ctx, os.Args[1:]))
}

// Main is the program: ParseFlags picks the subcommand and reads its flags,
// Run runs it, Close releases what Run opened. Tests drive it the same way
// main does, with their own writers.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	// StderrIsTerminal says Stderr is a terminal (progress is then drawn in
	// place).
	StderrIsTerminal bool

	// run is the parsed command, set by ParseFlags.
	run func(ctx context.Context) error
	// closers run in Close, newest first.
	closers []func() error
}

// NewMain returns a Main writing to the process's stdout and stderr.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, StderrIsTerminal: isTerminal(os.Stderr)}
}

// Main runs the whole program on args (without the program name) and
// returns the process's exit code.
func (m *Main) Main(ctx context.Context, args []string) int {
	err := m.ParseFlags(ctx, args)
	if err == nil {
		err = m.Run(ctx)
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	var usage usageError
	var exit exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		// A command that chose its exit code (reconcile: 1 differences,
		// 3 no verdict).
		fmt.Fprintf(m.Stderr, "bounded: %v\n", err)
		return exit.code
	case ctx.Err() != nil:
		// Interrupted (Ctrl-C, SIGTERM): what the command created is gone;
		// the details of what the cancellation broke are noise.
		fmt.Fprintln(m.Stderr, "bounded: interrupted")
		return 130
	case errors.As(err, &usage):
		fmt.Fprintf(m.Stderr, "bounded: %v\n", err)
		return 2
	default:
		fmt.Fprintf(m.Stderr, "bounded: %v\n", err)
		return 1
	}
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand. name is the words that select it ("bench
// toolkit"); parse reads the arguments after them and returns what Run
// does. To add a subcommand, add a line to [Main.commands] and its parse
// function in a file of its own.
type command struct {
	name    string
	summary string
	parse   func(ctx context.Context, args []string) (func(context.Context) error, error)
}

func (m *Main) commands() []command {
	return []command{
		{"help", "show the commands", m.parseHelp},
		{"version", "print the version", m.parseVersion},
		{"up", "start bounded on embedded defaults (embedded NATS JetStream, SQLite files in a data directory)", m.parseUp},
		{"serve", "run one service as its own process, on its own PostgreSQL database and a NATS server (distributed mode)", m.parseServe},
		{"topology", "print the owned-data table and the flows between services, from the services' own registrations", m.parseTopology},
		{"reconcile", "compare the warehouse's totals with the owning services' at a consistent point; exit 1 on a difference", m.parseReconcile},
		{"reporting export", "fetch the Reporting warehouse's dimensions and facts as Parquet files, one per table", m.parseReportingExport},
		{"reporting rebuild", "drop the Reporting warehouse and replay every stream into a fresh one, inside the running shop, with progress", m.parseReportingRebuild},
		{"report", "print a report of the running shop (sales, funnel, payments, lead time, stock-outs, ...) from its warehouse", m.parseReport},
		{"dead-letters list", "list the running shop's dead letters: events a consumer could not apply", m.parseDeadLettersList},
		{"dead-letters replay", "run one dead letter through its consumer again (deleted if it succeeds)", m.parseDeadLettersReplay},
		{"dead-letters discard", "delete one dead letter that can never succeed, without applying it (with --yes; the shop logs it whole)", m.parseDeadLettersDiscard},
		{"db provision", "create one PostgreSQL database and role per service, each reaching only its own, and print their DSNs", m.parseDBProvision},
		{"db drop", "drop the databases and roles 'db provision' made (with --yes)", m.parseDBDrop},
		{"split coupling", "catalogue a shared PostgreSQL database's coupling: who reads and writes which table; with a manifest, every crossing of an owner's line (exit 1)", m.parseSplitCoupling},
		{"split manifest", "draft an ownership manifest for a shared database from who writes which table", m.parseSplitManifest},
		{"split compare", "compare a query's rows in the shared database with a service's own database, key by key, streamed (exit 1 on a difference)", m.parseSplitCompare},
		{"split demo", "make a shared database of three services to try the 'split' commands on, and run their statements until Ctrl-C", m.parseSplitDemo},
		{"split sever", "revoke every privilege on a service's tables but its own roles', drop foreign keys between owners; a plan unless --apply", m.parseSplitSever},
		{"bench shop", "measure the shop end to end, embedded (and distributed with --postgres and --nats): orders shipped per second and checkout-to-shipped time", m.parseBenchShop},
		{"bench reporting", "measure 'bounded reporting rebuild' on N events (SQLite; PostgreSQL with --postgres) beside the raw insert rate of the same database", m.parseBenchReporting},
		{"bench toolkit", "measure the outbox, relay and inbox beside the raw limits of PostgreSQL, SQLite and JetStream", m.parseBenchToolkit},
	}
}

// ParseFlags picks the subcommand named by the first words of args and
// parses the rest as its flags. It returns a usage error for an unknown
// command or a bad flag, and flag.ErrHelp after printing a command's help
// for -h.
func (m *Main) ParseFlags(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("no command given; run 'bounded help'")
	}
	if slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		args = append([]string{"help"}, args[1:]...)
	}
	var best *command
	for _, c := range m.commands() {
		words := strings.Fields(c.name)
		if len(words) <= len(args) && slices.Equal(words, args[:len(words)]) && (best == nil || len(words) > len(strings.Fields(best.name))) {
			best = &c
		}
	}
	if best == nil {
		// A group with subcommands ("bench") named alone or with an unknown
		// subcommand.
		var subs []string
		for _, c := range m.commands() {
			if strings.HasPrefix(c.name, args[0]+" ") {
				subs = append(subs, c.name)
			}
		}
		if len(subs) > 0 {
			return usagef("%q needs a subcommand: %s", strings.Join(args[:min(2, len(args))], " "), strings.Join(subs, ", "))
		}
		return usagef("unknown command %q; run 'bounded help'", args[0])
	}
	run, err := best.parse(ctx, args[len(strings.Fields(best.name)):])
	if err != nil {
		return err
	}
	m.run = run
	return nil
}

// Run runs the command ParseFlags chose.
func (m *Main) Run(ctx context.Context) error {
	if m.run == nil {
		return errors.New("Run called before ParseFlags")
	}
	return m.run(ctx)
}

// Close releases what Run opened (an embedded server, files), newest
// first. It is safe to call more than once.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

func (m *Main) onClose(f func() error) { m.closers = append(m.closers, f) }

// flagSet is a command's flags. Parse errors come back as usage errors,
// without printing anything; -h prints the command's usage to stdout.
type flagSet struct {
	*flag.FlagSet
	synopsis string
	stdout   io.Writer
}

func (m *Main) newFlagSet(name, synopsis string) flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error; we print only for -h
	return flagSet{FlagSet: fs, synopsis: synopsis, stdout: m.Stdout}
}

// parse parses args; it allows no arguments beyond the flags.
func (fs flagSet) parse(args []string) error { return fs.parseN(args, 0) }

// parseN parses args; it allows up to n arguments after the flags
// (fs.Args).
func (fs flagSet) parseN(args []string, n int) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(fs.stdout, "usage: bounded %s [flags]\n\n%s\n\nflags:\n", fs.Name(), fs.synopsis)
		fs.SetOutput(fs.stdout)
		fs.PrintDefaults()
		return err
	case err != nil:
		return usagef("%s: %v", fs.Name(), err)
	case fs.NArg() > n:
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(n))
	}
	return nil
}

func (m *Main) parseHelp(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("help", "Shows the commands.")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	return func(context.Context) error { m.printHelp(m.Stdout); return nil }, nil
}

func (m *Main) printHelp(w io.Writer) {
	fmt.Fprint(w, "usage: bounded <command> [flags]\n\ncommands:\n")
	width := 0
	for _, c := range m.commands() {
		width = max(width, len(c.name))
	}
	for _, c := range m.commands() {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'bounded <command> -h' for a command's flags.\n")
}

func (m *Main) parseVersion(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("version", "Prints the version of this binary.")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	return func(context.Context) error { fmt.Fprintln(m.Stdout, "bounded", version()); return nil }, nil
}

// version is the module version and VCS revision the binary was built
// from, as the Go toolchain recorded them.
func version() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev != "" {
		v += " " + rev[:min(12, len(rev))]
		if dirty {
			v += "-dirty"
		}
	}
	return v + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
