package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/bounded-dev/bounded/platform/pgprovision"
)

// dbFlags are the flags `db provision` and `db drop` share.
type dbFlags struct {
	admin    string
	prefix   string
	services string
}

// register adds the shared flags to fs.
func (f *dbFlags) register(fs flagSet) {
	fs.StringVar(&f.admin, "admin", os.Getenv("BOUNDED_ADMIN_DSN"), "a PostgreSQL superuser's `URL` (postgres://...); required (default $BOUNDED_ADMIN_DSN)")
	fs.StringVar(&f.prefix, "prefix", pgprovision.DefaultPrefix, "the databases and roles are named PREFIX_<service>")
	fs.StringVar(&f.services, "services", strings.Join(shopServiceNames(), ","), "the services, comma-separated")
}

// check validates the shared flags of command name and returns the
// services.
func (f dbFlags) check(name string) ([]string, error) {
	if f.admin == "" {
		return nil, usagef("%s: --admin (or $BOUNDED_ADMIN_DSN) is required: a PostgreSQL superuser's URL", name)
	}
	all := shopServiceNames()
	var services []string
	for s := range strings.SplitSeq(f.services, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(all, s) {
			return nil, usagef("%s: --services: no service %q; the services are %s", name, s, strings.Join(all, ", "))
		}
		if slices.Contains(services, s) {
			return nil, usagef("%s: --services: %s listed twice", name, s)
		}
		services = append(services, s)
	}
	// Secret is checked by the caller; any will do for the names.
	if err := (pgprovision.Config{Prefix: f.prefix, Services: services, Secret: "-"}).Validate(); err != nil {
		return nil, usagef("%s: %s", name, strings.TrimPrefix(err.Error(), "pgprovision: "))
	}
	return services, nil
}

func shopServiceNames() []string {
	var names []string
	for _, s := range shopSpecs(shopConfig{}) {
		names = append(names, s.Name)
	}
	return names
}

func (m *Main) parseDBProvision(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("db provision", strings.TrimSpace(`
Creates, on a PostgreSQL server, one database and one login role per service: the role owns its
database and can reach no other service's (no CONNECT on them, nothing granted to PUBLIC). Then it
prints each service's DSN, for 'bounded serve' ($BOUNDED_DSN_<SERVICE>).

Each role's password is derived from --secret (HMAC-SHA256(secret, role)), so running it again with
the same secret changes nothing and prints the same DSNs; a new secret changes every password.
Keep the secret like a password: whoever has it can log in as every service. Existing databases
and their data are kept.`))
	var f dbFlags
	f.register(fs)
	secret := fs.String("secret", os.Getenv("BOUNDED_DB_SECRET"), "the secret the roles' passwords are derived from, e.g. from 'openssl rand -base64 24'; required (default $BOUNDED_DB_SECRET)")
	format := fs.String("format", "text", "output: text (a table, then the DSNs), env (BOUNDED_DSN_<SERVICE>=... lines for a shell) or json")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	services, err := f.check("db provision")
	if err != nil {
		return nil, err
	}
	if *secret == "" {
		return nil, usagef("db provision: --secret (or $BOUNDED_DB_SECRET) is required: the roles' passwords are derived from it")
	}
	if !slices.Contains([]string{"text", "env", "json"}, *format) {
		return nil, usagef("db provision: --format %q: want text, env or json", *format)
	}
	cfg := pgprovision.Config{Prefix: f.prefix, Services: services, Secret: *secret}
	return func(ctx context.Context) error {
		dbs, err := pgprovision.Provision(ctx, f.admin, cfg)
		if err != nil {
			return err
		}
		return writeDatabases(m.Stdout, dbs, *format)
	}, nil
}

// databaseJSON is a provisioned database in `db provision --format json`.
type databaseJSON struct {
	Service  string `json:"service"`
	Database string `json:"database"`
	Role     string `json:"role"`
	DSN      string `json:"dsn"`
	Created  bool   `json:"created"`
}

func writeDatabases(w io.Writer, dbs []pgprovision.Database, format string) error {
	switch format {
	case "json":
		out := make([]databaseJSON, len(dbs))
		for i, db := range dbs {
			out[i] = databaseJSON{Service: db.Service, Database: db.Name, Role: db.Role, DSN: db.DSN, Created: db.Created}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "env":
		for _, db := range dbs {
			fmt.Fprintf(w, "%s=%s\n", dsnEnv(db.Service), shellWord(db.DSN))
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tDATABASE\tROLE\tSTATE")
	for _, db := range dbs {
		state := "existing"
		if db.Created {
			state = "created"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", db.Service, db.Name, db.Role, state)
	}
	fmt.Fprintln(tw, "\nDSNs (each service's own, with its password):")
	for _, db := range dbs {
		fmt.Fprintf(tw, "%s\t%s\n", db.Service, db.DSN)
	}
	return tw.Flush()
}

// shellWord is s as one shell word: as it is when every byte is safe
// unquoted (a DSN usually is), else single-quoted.
func shellWord(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_?-", r)
	}
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !safe(r) }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (m *Main) parseDBDrop(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("db drop", strings.TrimSpace(`
Drops the databases and roles 'bounded db provision' made, with all their data: it terminates the
connections to them first. Missing ones are skipped. Without --yes it only prints what it would drop.`))
	var f dbFlags
	f.register(fs)
	yes := fs.Bool("yes", false, "really drop them")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	services, err := f.check("db drop")
	if err != nil {
		return nil, err
	}
	prefix := f.prefix
	var names []string
	for _, s := range services {
		names = append(names, prefix+"_"+s)
	}
	return func(ctx context.Context) error {
		if !*yes {
			fmt.Fprintf(m.Stdout, "would drop these databases and roles (where they exist): %s\n", strings.Join(names, ", "))
			return usagef("db drop: nothing dropped; give --yes to drop %d databases and their roles", len(names))
		}
		if err := pgprovision.Drop(ctx, f.admin, prefix, services); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "dropped these databases and roles (where they existed): %s\n", strings.Join(names, ", "))
		return nil
	}, nil
}
