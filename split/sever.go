package split

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Step is one statement of a sever plan, and why it is there.
type Step struct {
	SQL string `json:"sql"`
	Why string `json:"why"`
}

// Plan is what severing the shared database along the manifest's lines
// takes: the statements to run, and what no statement can do.
type Plan struct {
	Steps []Step `json:"steps"`
	// ByHand are crossings sever does not change: a view reading several
	// services' tables (it is a contract of its own: move it into the
	// service that reads it, or make it an API), and a table owned by a
	// role of another service or by a role no service names (changing the
	// owner of a table is a migration the team runs).
	ByHand []string `json:"by_hand"`
}

// privileges are the table privileges PostgreSQL has.
var privileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}

// SeverPlan plans the statements that make the manifest true in the
// database db is connected to: on each table a service owns, every grant to
// anyone but that service's roles is revoked (another service's role, a
// group role its members reach it through, a role no service names,
// PUBLIC), and each foreign key from one owner's table to another's is
// dropped (the reference becomes an id the owner's events or API resolve).
// First, each owner's role is granted directly what it may do to its own
// tables now, through whatever path: revoking a group's or PUBLIC's grant
// never locks an owner out. Tables the manifest leaves unassigned are not
// touched. What no statement here can do is listed in ByHand.
func SeverPlan(ctx context.Context, db *sql.DB, cat Catalog, m Manifest) (Plan, error) {
	var p Plan
	direct := map[TableName]map[string][]string{} // table → grantee → privileges
	for _, g := range cat.Grants {
		if direct[g.Table] == nil {
			direct[g.Table] = map[string][]string{}
		}
		direct[g.Table][g.Role] = g.Privileges
	}
	for _, t := range cat.Tables {
		o := m.ownerOf(t.TableName)
		if o == "" {
			continue
		}
		roles := m.rolesOf(o)
		for _, role := range roles {
			if role == t.Owner {
				continue
			}
			has, err := effectivePrivileges(ctx, db, role, t.TableName)
			if err != nil {
				return Plan{}, err
			}
			var missing []string
			for _, priv := range has {
				if !slices.Contains(direct[t.TableName][role], priv) {
					missing = append(missing, priv)
				}
			}
			if len(missing) > 0 {
				p.Steps = append(p.Steps, Step{
					SQL: fmt.Sprintf("GRANT %s ON TABLE %s TO %s", strings.Join(missing, ", "), t.Quoted(), quoteIdent(role)),
					Why: fmt.Sprintf("%s owns %s; %s keeps what it may do now, granted to it directly", o, t.TableName, role),
				})
			}
		}
		grantees := make([]string, 0, len(direct[t.TableName]))
		for g := range direct[t.TableName] {
			grantees = append(grantees, g)
		}
		slices.Sort(grantees)
		for _, g := range grantees {
			if slices.Contains(roles, g) {
				continue
			}
			who := "every role (PUBLIC)"
			switch s := m.serviceOf(g); {
			case g == "PUBLIC":
			case s != "":
				who = fmt.Sprintf("%s (%s)", s, g)
			default:
				who = fmt.Sprintf("role %s, which no service names (its members reach the table through it)", g)
			}
			grantee := "PUBLIC"
			if g != "PUBLIC" {
				grantee = quoteIdent(g)
			}
			p.Steps = append(p.Steps, Step{
				SQL: fmt.Sprintf("REVOKE ALL ON TABLE %s FROM %s", t.Quoted(), grantee),
				Why: fmt.Sprintf("%s may %s %s, owned by %s", who, strings.Join(direct[t.TableName][g], ", "), t.TableName, o),
			})
		}
	}
	for _, fk := range cat.ForeignKeys {
		from, to := m.ownerOf(fk.From), m.ownerOf(fk.To)
		if from == "" || to == "" || from == to {
			continue
		}
		p.Steps = append(p.Steps, Step{
			SQL: fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", fk.From.Quoted(), quoteIdent(fk.Name)),
			Why: fmt.Sprintf("%s's %s references %s's %s", from, fk.From, to, fk.To),
		})
	}
	for _, v := range cat.Views {
		var owners []string
		for _, t := range v.Reads {
			if o := m.ownerOf(t); o != "" && !slices.Contains(owners, o) {
				owners = append(owners, o)
			}
		}
		if len(owners) > 1 {
			slices.Sort(owners)
			p.ByHand = append(p.ByHand, fmt.Sprintf("view %s reads the tables of %s: move it into the service that reads it, or make it an API",
				v.TableName, strings.Join(owners, " and ")))
		}
	}
	for _, t := range cat.Tables {
		o := m.ownerOf(t.TableName)
		if o == "" || slices.Contains(m.rolesOf(o), t.Owner) {
			continue
		}
		// A table owned by the role migrations ran as (no service's) is
		// common and harmless; owned by another service's role, it is
		// theirs to do anything with.
		if s := m.serviceOf(t.Owner); s != "" {
			p.ByHand = append(p.ByHand, fmt.Sprintf("%s is owned by role %s of %s, which keeps every privilege on it: ALTER TABLE %s OWNER TO one of %s's roles",
				t.TableName, t.Owner, s, t.Quoted(), o))
		}
	}
	for _, g := range cat.DefaultGrants {
		// Only a grant that would reach past an owner's line: to a role of
		// a service, a role no service names (a group), or PUBLIC. Which
		// service a later table belongs to is the team's to say, so this
		// is by hand.
		if m.serviceOf(g.Role) != "" && m.serviceOf(g.Role) == m.serviceOf(g.Creator) {
			continue
		}
		where, in, grantee := "", "", "PUBLIC"
		if g.Schema != "" {
			where, in = " in schema "+g.Schema, " IN SCHEMA "+quoteIdent(g.Schema)
		}
		if g.Role != "PUBLIC" {
			grantee = quoteIdent(g.Role)
		}
		p.ByHand = append(p.ByHand, fmt.Sprintf("every table %s creates%s from now on grants %s to %s (default privileges), severed or not: "+
			"ALTER DEFAULT PRIVILEGES FOR ROLE %s%s REVOKE ALL ON TABLES FROM %s, and grant each new table to its owner's roles",
			g.Creator, where, strings.Join(g.Privileges, ", "), g.Role, quoteIdent(g.Creator), in, grantee))
	}
	for _, s := range m.Services {
		for _, role := range s.Roles {
			var super bool
			err := db.QueryRowContext(ctx, `SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = $1`, role).Scan(&super)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return Plan{}, fmt.Errorf("split: sever: role %s: %w", role, err)
			}
			if super {
				p.ByHand = append(p.ByHand, fmt.Sprintf("role %s of %s is a superuser (or bypasses row security): no privilege binds it; give %s a role of its own",
					role, s.Service, s.Service))
			}
		}
	}
	return p, nil
}

// effectivePrivileges are the privileges role has on t now, by any path
// (its own grants, a group's, PUBLIC's). A role that does not exist has
// none.
func effectivePrivileges(ctx context.Context, db *sql.DB, role string, t TableName) ([]string, error) {
	var has []string
	for _, priv := range privileges {
		var ok sql.NullBool
		err := db.QueryRowContext(ctx, `SELECT CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = $1)
			THEN has_table_privilege($1, $2::regclass, $3) END`, role, t.Quoted(), priv).Scan(&ok)
		if err != nil {
			return nil, fmt.Errorf("split: sever: privileges of %s on %s: %w", role, t, err)
		}
		if ok.Bool {
			has = append(has, priv)
		}
	}
	return has, nil
}

// Remaining lists, after a sever, every privilege a service's role still
// has on another service's table (by any path: a grant, a group, PUBLIC,
// owning it, being a superuser). Empty means the manifest holds in the
// database.
func Remaining(ctx context.Context, db *sql.DB, cat Catalog, m Manifest) ([]string, error) {
	var out []string
	for _, t := range cat.Tables {
		o := m.ownerOf(t.TableName)
		if o == "" {
			continue
		}
		for _, s := range m.Services {
			if s.Service == o {
				continue
			}
			for _, role := range s.Roles {
				has, err := effectivePrivileges(ctx, db, role, t.TableName)
				if err != nil {
					return nil, err
				}
				if len(has) > 0 {
					out = append(out, fmt.Sprintf("%s (%s) may still %s %s, owned by %s", s.Service, role, strings.Join(has, ", "), t.TableName, o))
				}
			}
		}
	}
	return out, nil
}

// Apply runs the plan's steps in one transaction: all of them or none.
func (p Plan) Apply(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("split: sever: %w", err)
	}
	defer tx.Rollback()
	for _, s := range p.Steps {
		if _, err := tx.ExecContext(ctx, s.SQL); err != nil {
			return fmt.Errorf("split: sever: %s: %w", s.SQL, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("split: sever: %w", err)
	}
	return nil
}

// Blocking are the crossings of r that a sever would break: a role that
// reads or writes another service's table and is no superuser (a
// superuser's access no revoke takes away; it is the team's to move, and
// SeverPlan lists a service's superuser role by hand).
func Blocking(ctx context.Context, db *sql.DB, r Report) ([]Crossing, error) {
	var out []Crossing
	for _, c := range r.Crossings {
		if c.Kind != "reads" && c.Kind != "writes" {
			continue
		}
		var super bool
		err := db.QueryRowContext(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = $1`, c.Role).Scan(&super)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("split: sever: role %s: %w", c.Role, err)
		}
		if !super {
			out = append(out, c)
		}
	}
	return out, nil
}
