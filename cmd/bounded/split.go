package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/split"
	"github.com/bounded-dev/bounded/split/demo"
)

// The 'split' commands lead a team with a shared PostgreSQL database out of
// it: catalogue the coupling, write down who owns what, compare a moved
// service's data with the shared copy, and sever. docs/split.md walks
// through them.

// evidenceFlags choose where the uses of the shared database come from.
type evidenceFlags struct {
	dsn    string
	sample time.Duration
}

func (f *evidenceFlags) register(fs flagSet) {
	fs.StringVar(&f.dsn, "dsn", os.Getenv("BOUNDED_SHARED_DSN"), "the shared database's `URL` (postgres://...), as a superuser or a member of pg_read_all_stats; required (default $BOUNDED_SHARED_DSN)")
	fs.DurationVar(&f.sample, "sample", 0, "sample pg_stat_activity for this long instead of reading pg_stat_statements (which needs the extension); e.g. 10m")
}

func (f evidenceFlags) check(name string) error {
	if f.dsn == "" {
		return usagef("%s: --dsn (or $BOUNDED_SHARED_DSN) is required: the shared PostgreSQL database's URL", name)
	}
	if sqldb.DialectOf(f.dsn) != sqldb.Postgres {
		return usagef("%s: --dsn %q: want a PostgreSQL URL (postgres://...)", name, f.dsn)
	}
	if f.sample < 0 {
		return usagef("%s: --sample must not be negative", name)
	}
	return nil
}

// openShared opens the shared database and checks that it answers.
func openShared(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to the shared database: %w", err)
	}
	return db, nil
}

// evidence reads the catalog and what each role did to each table, and
// says where that came from.
func (m *Main) evidence(ctx context.Context, db *sql.DB, f evidenceFlags) (split.Catalog, []split.Use, []split.Unparsed, string, error) {
	cat, err := split.ReadCatalog(ctx, db)
	if err != nil {
		return split.Catalog{}, nil, nil, "", err
	}
	var stmts []split.Statement
	var source string
	if f.sample > 0 {
		stmts, err = split.SampleActivity(ctx, db, split.SampleConfig{For: f.sample, Progress: func(elapsed time.Duration, seen int) {
			m.progress(fmt.Sprintf("sampling pg_stat_activity: %s of %s, %d distinct statements", elapsed.Round(time.Second), f.sample, seen))
		}})
		m.progress("")
		source = fmt.Sprintf("pg_stat_activity sampled for %s (%d distinct statements; a statement between two looks is missed)", f.sample, len(stmts))
	} else {
		var reset time.Time
		stmts, reset, err = split.StatementStats(ctx, db)
		source = fmt.Sprintf("pg_stat_statements (%d statements", len(stmts))
		if !reset.IsZero() {
			source += ", since " + reset.UTC().Format(time.RFC3339)
		}
		source += ")"
		if errors.Is(err, split.ErrNoStatementStats) {
			err = fmt.Errorf("%w; or pass --sample 10m", err)
		}
	}
	if err != nil {
		return split.Catalog{}, nil, nil, "", err
	}
	uses, unparsed := split.Usage(cat, stmts)
	return cat, uses, unparsed, source, nil
}

func (m *Main) parseSplitCoupling(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("split coupling", strings.TrimSpace(`
Catalogues the coupling of a shared PostgreSQL database: which role reads and writes which table
(from pg_stat_statements, or from sampling pg_stat_activity with --sample), beside the foreign
keys, views and grants that tie the tables together. With --manifest it lists every crossing of
an owner's line — a service reading, writing, referencing or holding privileges on a table
another service owns — and exits 1 if there is one, so it can guard a deployment.
Statements the parser refuses are listed, never dropped.`))
	var f evidenceFlags
	f.register(fs)
	manifest := fs.String("manifest", "", "the ownership manifest (JSON, from 'bounded split manifest', edited by the team)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	htmlOut := fs.String("html", "", "also draw the report as a page in `FILE`: tables against services, crossings in red")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := f.check("split coupling"); err != nil {
		return nil, err
	}
	var man *split.Manifest
	if *manifest != "" {
		mf, err := split.ReadManifest(*manifest)
		if err != nil {
			return nil, usagef("split coupling: %v", err)
		}
		man = &mf
	}
	return func(ctx context.Context) error {
		db, err := openShared(ctx, f.dsn)
		if err != nil {
			return fmt.Errorf("split coupling: %w", err)
		}
		defer db.Close()
		cat, uses, unparsed, source, err := m.evidence(ctx, db, f)
		if err != nil {
			return fmt.Errorf("split coupling: %w", err)
		}
		r := split.Coupling(cat, uses, unparsed, source, man)
		if *htmlOut != "" {
			if err := writeFile(*htmlOut, r.WriteHTML); err != nil {
				return fmt.Errorf("split coupling: %w", err)
			}
		}
		if *asJSON {
			err = writeJSON(m.Stdout, r)
		} else {
			err = r.WriteText(m.Stdout)
		}
		if err != nil {
			return err
		}
		if r.Coupled() {
			return exitError{1, fmt.Errorf("split coupling: %d crossings of an owner's line", len(r.Crossings))}
		}
		return nil
	}, nil
}

func (m *Main) parseSplitManifest(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("split manifest", strings.TrimSpace(`
Drafts an ownership manifest from the evidence of who uses the shared database: one service per
role, owning the tables it writes most (a table nobody writes goes to its heaviest reader; one
nobody uses is left unassigned). It is a draft: the team corrects it — two roles of one service
become one entry — and keeps it beside the code, where 'split coupling' and 'split sever' read it.`))
	var f evidenceFlags
	f.register(fs)
	out := fs.String("out", "", "write the manifest to this `file` instead of standard output (refused if it exists)")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := f.check("split manifest"); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		db, err := openShared(ctx, f.dsn)
		if err != nil {
			return fmt.Errorf("split manifest: %w", err)
		}
		defer db.Close()
		cat, uses, unparsed, _, err := m.evidence(ctx, db, f)
		if err != nil {
			return fmt.Errorf("split manifest: %w", err)
		}
		man := split.ProposeManifest(cat, uses)
		w := m.Stdout
		if *out != "" {
			file, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return fmt.Errorf("split manifest: %w", err)
			}
			defer file.Close()
			w = file
		}
		if err := man.Write(w); err != nil {
			return fmt.Errorf("split manifest: %w", err)
		}
		if len(unparsed) > 0 {
			fmt.Fprintf(m.Stderr, "split manifest: %d statements could not be read in full; 'bounded split coupling' lists them\n", len(unparsed))
		}
		return nil
	}, nil
}

func (m *Main) parseSplitSever(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("split sever", strings.TrimSpace(`
Makes the manifest true in the shared database: each owner's roles are granted directly what they
may do to their own tables now; every other grant on those tables (other services' roles, group
roles, PUBLIC) is revoked; foreign keys from one owner's table to another's are dropped. Without
--apply it prints the plan and changes nothing. With --apply it first reads the evidence and
refuses while a service still reads or writes another's tables (--force overrides), runs the plan
in one transaction, then checks, role by role, that no service may still touch another's tables
(exit 1 if one may). Views spanning owners and tables owned by the wrong role are listed for the
team to move by hand.`))
	var f evidenceFlags
	f.register(fs)
	manifest := fs.String("manifest", "", "the ownership manifest (JSON); required")
	apply := fs.Bool("apply", false, "run the plan (without it, only print it)")
	force := fs.Bool("force", false, "with --apply: sever even while the evidence shows services crossing (they will get permission errors)")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := f.check("split sever"); err != nil {
		return nil, err
	}
	if *manifest == "" {
		return nil, usagef("split sever: --manifest is required: the ownership manifest to enforce")
	}
	if *force && !*apply {
		return nil, usagef("split sever: --force only means something with --apply")
	}
	man, err := split.ReadManifest(*manifest)
	if err != nil {
		return nil, usagef("split sever: %v", err)
	}
	return func(ctx context.Context) error {
		db, err := openShared(ctx, f.dsn)
		if err != nil {
			return fmt.Errorf("split sever: %w", err)
		}
		defer db.Close()
		cat, err := split.ReadCatalog(ctx, db)
		if err != nil {
			return fmt.Errorf("split sever: %w", err)
		}
		plan, err := split.SeverPlan(ctx, db, cat, man)
		if err != nil {
			return err
		}
		writePlan(m.Stdout, plan)
		if !*apply {
			fmt.Fprintln(m.Stdout, "\nNothing changed: run again with --apply to sever.")
			return nil
		}
		if !*force {
			_, uses, unparsed, source, err := m.evidence(ctx, db, f)
			if err != nil {
				return fmt.Errorf("split sever: the evidence (or --force): %w", err)
			}
			blocking, err := split.Blocking(ctx, db, split.Coupling(cat, uses, unparsed, source, &man))
			if err != nil {
				return err
			}
			var crossing []string
			for _, c := range blocking {
				who := c.Service
				if who == "?" {
					who = "role " + c.Role
				}
				crossing = append(crossing, fmt.Sprintf("%s %s %s", who, c.Kind, c.Table))
			}
			if len(crossing) > 0 {
				return exitError{1, fmt.Errorf("split sever: refused: by %s, %s; move them onto the owner's API or events first (or --force)",
					source, strings.Join(crossing, "; "))}
			}
		}
		if err := plan.Apply(ctx, db); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "\nApplied %d statements in one transaction.\n", len(plan.Steps))
		left, err := split.Remaining(ctx, db, cat, man)
		if err != nil {
			return fmt.Errorf("split sever: checking: %w", err)
		}
		if len(left) > 0 {
			fmt.Fprintln(m.Stdout, "Still crossing (see the steps to take by hand):")
			for _, l := range left {
				fmt.Fprintln(m.Stdout, "  "+l)
			}
			return exitError{1, fmt.Errorf("split sever: %d privileges still cross an owner's line", len(left))}
		}
		fmt.Fprintln(m.Stdout, "Checked: no service's role may touch another service's tables.")
		return nil
	}, nil
}

func (m *Main) parseSplitCompare(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("split compare", strings.TrimSpace(`
Compares what the shared database holds with what a service's own database holds, key by key:
run while the service's copy fills from events, before the service stops reading the shared
tables. Both queries are streamed in key order (constant memory, any size); the columns both return
are compared as canonical text (numbers without trailing zeros, booleans, times in UTC, NULL apart
from ''), the others are named. Exits 1 on a difference, with examples of each kind.`))
	shared := fs.String("shared", os.Getenv("BOUNDED_SHARED_DSN"), "the shared database's `URL`; required (default $BOUNDED_SHARED_DSN)")
	sharedQuery := fs.String("shared-query", "", "the `query` whose rows the shared database holds, e.g. 'SELECT sku, name FROM products'; required")
	service := fs.String("service", "", "the service's database: a PostgreSQL `URL` or a SQLite file; required")
	serviceQuery := fs.String("service-query", "", "the `query` that should return the same rows from the service's database; required")
	key := fs.String("key", "", "the `columns`, comma-separated, that identify a row in both queries; required")
	samples := fs.Int("samples", 10, "examples of each kind of difference to print")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	var keys []string
	for k := range strings.SplitSeq(*key, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	cfg := split.CompareConfig{
		Shared:  split.Side{DSN: *shared, Query: *sharedQuery},
		Service: split.Side{DSN: *service, Query: *serviceQuery},
		Key:     keys, Samples: *samples,
		Progress: func(p split.CompareProgress) {
			m.progress(fmt.Sprintf("comparing: %d rows read from the shared database, %d from the service's, %s",
				p.SharedRows, p.ServiceRows, p.Elapsed.Round(time.Second)))
		},
	}
	if err := cfg.Validate(); err != nil {
		return nil, usagef("split compare: %s", strings.TrimPrefix(err.Error(), "split: compare: "))
	}
	return func(ctx context.Context) error {
		r, err := split.Compare(ctx, cfg)
		m.progress("")
		if err != nil {
			return err
		}
		if *asJSON {
			err = writeJSON(m.Stdout, r)
		} else {
			err = writeComparison(m.Stdout, r)
		}
		if err != nil {
			return err
		}
		if !r.Equal() {
			return exitError{1, fmt.Errorf("split compare: %d missing, %d extra, %d changed", r.Missing, r.Extra, r.Changed)}
		}
		return nil
	}, nil
}

func writeComparison(w io.Writer, r split.CompareResult) error {
	fmt.Fprintf(w, "Compared %s: %d rows in the shared database, %d in the service's.\n",
		strings.Join(r.Columns, ", "), r.SharedRows, r.ServiceRows)
	fmt.Fprintf(w, "  matched %d, missing %d (shared only), extra %d (service only), changed %d\n", r.Matched, r.Missing, r.Extra, r.Changed)
	if len(r.OnlyShared) > 0 {
		fmt.Fprintf(w, "Not compared, only in the shared query: %s\n", strings.Join(r.OnlyShared, ", "))
	}
	if len(r.OnlyService) > 0 {
		fmt.Fprintf(w, "Not compared, only in the service's query: %s\n", strings.Join(r.OnlyService, ", "))
	}
	for _, d := range r.Samples {
		fmt.Fprintln(w, "  "+d.String())
	}
	verdict := "Different."
	if r.Equal() {
		verdict = "Equal."
	}
	_, err := fmt.Fprintln(w, verdict)
	return err
}

func (m *Main) parseSplitDemo(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("split demo", strings.TrimSpace(`
Makes a shared database to try the other 'split' commands on, on a PostgreSQL server you name:
Catalog, Inventory and Orders connect as roles of their own, reach every table through one group
role, and are tied by foreign keys and a view; Inventory's purchase-order job reads the catalog's
product descriptions. It prints the database's URL and the commands to try, then runs the three
services' statements until Ctrl-C (or --for), so that 'split coupling --sample' sees them. The
database stays until 'split demo --drop'.`))
	admin := fs.String("admin", os.Getenv("BOUNDED_ADMIN_DSN"), "a PostgreSQL superuser's `URL` (postgres://...); required (default $BOUNDED_ADMIN_DSN)")
	name := fs.String("name", "bounded_split_demo", "the database; its roles are NAME_<service> and NAME_rw")
	runFor := fs.Duration("for", 0, "stop the services' statements after this long (0: at Ctrl-C)")
	drop := fs.Bool("drop", false, "drop the database and its roles instead")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if *admin == "" {
		return nil, usagef("split demo: --admin (or $BOUNDED_ADMIN_DSN) is required: a PostgreSQL superuser's URL")
	}
	if sqldb.DialectOf(*admin) != sqldb.Postgres {
		return nil, usagef("split demo: --admin %q: want a PostgreSQL URL (postgres://...)", *admin)
	}
	if *runFor < 0 {
		return nil, usagef("split demo: --for must not be negative")
	}
	return func(ctx context.Context) error {
		if *drop {
			if err := demo.Drop(ctx, *admin, *name); err != nil {
				return fmt.Errorf("split demo: %w", err)
			}
			fmt.Fprintf(m.Stdout, "dropped %s and its roles\n", *name)
			return nil
		}
		s, err := demo.Create(ctx, *admin, *name)
		if err != nil {
			return fmt.Errorf("split demo: %w (an earlier demo? 'bounded split demo --drop')", err)
		}
		fmt.Fprintf(m.Stdout, "Made the shared database %s; its services connect as %s, %s and %s.\n\n",
			s.Name, s.Roles["catalog"], s.Roles["inventory"], s.Roles["orders"])
		fmt.Fprintf(m.Stdout, "In another terminal:\n  export BOUNDED_SHARED_DSN=%s\n", shellWord(s.Admin))
		fmt.Fprintf(m.Stdout, "  bounded split coupling --sample 10s\n  bounded split manifest --sample 10s --out owners.json\n")
		fmt.Fprintf(m.Stdout, "  bounded split coupling --sample 10s --manifest owners.json\n  bounded split sever --manifest owners.json\n\n")
		fmt.Fprintf(m.Stdout, "Running the services' statements; Ctrl-C stops them (the database stays).\n")
		run := ctx
		if *runFor > 0 {
			var cancel context.CancelFunc
			run, cancel = context.WithTimeout(ctx, *runFor)
			defer cancel()
		}
		wait, ran, err := s.Start(run, 20*time.Millisecond)
		if err != nil {
			return fmt.Errorf("split demo: %w", err)
		}
		start := time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
	loop:
		for {
			select {
			case <-run.Done():
				break loop
			case <-tick.C:
				m.progress(fmt.Sprintf("%d statements in %s", ran.Load(), time.Since(start).Round(time.Second)))
			}
		}
		m.progress("")
		err = wait()
		fmt.Fprintf(m.Stdout, "Ran %d statements in %s. 'bounded split demo --drop' removes the database.\n",
			ran.Load(), time.Since(start).Round(time.Second))
		if err != nil {
			return fmt.Errorf("split demo: %w", err)
		}
		return nil
	}, nil
}

func writePlan(w io.Writer, p split.Plan) {
	if len(p.Steps) == 0 {
		fmt.Fprintln(w, "Nothing to run: the grants and foreign keys already keep to the manifest.")
	}
	for _, s := range p.Steps {
		fmt.Fprintf(w, "-- %s\n%s;\n", s.Why, s.SQL)
	}
	if len(p.ByHand) > 0 {
		fmt.Fprintln(w, "\nBy hand (sever does not do these):")
		for _, b := range p.ByHand {
			fmt.Fprintln(w, "  - "+b)
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
