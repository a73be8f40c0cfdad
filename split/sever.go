package split

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
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
	// service that reads it, or make it an API), a table owned by another
	// service's role (changing an owner is a migration the team runs), a
	// service role that is a superuser, and default privileges that would
	// grant tables created later past an owner's line.
	ByHand []string `json:"by_hand"`
}

// ownedRelation is a table, or a sequence a table's column owns (it goes with
// the table), as sever treats it.
type ownedRelation struct {
	name    TableName
	kind    relationKind
	owner   string // the role owning it
	service string // the service the manifest gives it (its table's), or ""
}

// relationKind is what PostgreSQL's privileges apply to.
type relationKind struct {
	word       string   // as GRANT and REVOKE name it
	privileges []string // the privileges it has
	check      string   // the has_*_privilege function
}

var (
	tableKind    = relationKind{"TABLE", []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}, "has_table_privilege"}
	sequenceKind = relationKind{"SEQUENCE", []string{"USAGE", "SELECT", "UPDATE"}, "has_sequence_privilege"}
)

// severObject plans one relation a service owns: its owner's roles granted
// directly what they may do to it now, by any path, then every other
// grant on it revoked.
func severObject(ctx context.Context, db *sql.DB, m Manifest, r ownedRelation, grants []Grant) ([]Step, error) {
	if r.service == "" {
		return nil, nil
	}
	direct := map[string][]string{} // grantee → privileges
	for _, g := range grants {
		if g.Table == r.name {
			direct[g.Role] = g.Privileges
		}
	}
	var steps []Step
	roles := m.rolesOf(r.service)
	for _, role := range roles {
		if role == r.owner {
			continue
		}
		has, err := effectivePrivileges(ctx, db, role, r.name, r.kind)
		if err != nil {
			return nil, err
		}
		var missing []string
		for _, priv := range has {
			if !slices.Contains(direct[role], priv) {
				missing = append(missing, priv)
			}
		}
		if len(missing) > 0 {
			steps = append(steps, Step{
				SQL: fmt.Sprintf("GRANT %s ON %s %s TO %s", strings.Join(missing, ", "), r.kind.word, r.name.Quoted(), quoteIdent(role)),
				Why: fmt.Sprintf("%s owns %s; %s keeps what it may do now, granted to it directly", r.service, r.name, role),
			})
		}
	}
	for _, g := range slices.Sorted(maps.Keys(direct)) {
		if slices.Contains(roles, g) {
			continue
		}
		who, grantee := "every role (PUBLIC)", "PUBLIC"
		switch s := m.serviceOf(g); {
		case g == "PUBLIC":
		case s != "":
			who = fmt.Sprintf("%s (%s)", s, g)
		default:
			who = fmt.Sprintf("role %s, which no service names (its members reach it through it)", g)
		}
		if g != "PUBLIC" {
			grantee = quoteIdent(g)
		}
		steps = append(steps, Step{
			SQL: fmt.Sprintf("REVOKE ALL ON %s %s FROM %s", r.kind.word, r.name.Quoted(), grantee),
			Why: fmt.Sprintf("%s may %s %s, owned by %s", who, strings.Join(direct[g], ", "), r.name, r.service),
		})
	}
	return steps, nil
}

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
	for _, t := range cat.Tables {
		steps, err := severObject(ctx, db, m, ownedRelation{t.TableName, tableKind, t.Owner, m.ownerOf(t.TableName)}, cat.Grants)
		if err != nil {
			return Plan{}, err
		}
		p.Steps = append(p.Steps, steps...)
	}
	for _, q := range cat.Sequences {
		steps, err := severObject(ctx, db, m, ownedRelation{q.TableName, sequenceKind, q.Owner, m.ownerOf(q.Table)}, cat.SequenceGrants)
		if err != nil {
			return Plan{}, err
		}
		p.Steps = append(p.Steps, steps...)
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
	super, err := superusers(ctx, db)
	if err != nil {
		return Plan{}, err
	}
	for _, s := range m.Services {
		for _, role := range s.Roles {
			if super[role] {
				p.ByHand = append(p.ByHand, fmt.Sprintf("role %s of %s is a superuser: no privilege binds it; give %s a role of its own",
					role, s.Service, s.Service))
			}
		}
	}
	return p, nil
}

// effectivePrivileges are the privileges role has on t (of kind) now, by
// any path (its own grants, a group's, PUBLIC's, owning it). A role that
// does not exist has none.
func effectivePrivileges(ctx context.Context, db *sql.DB, role string, t TableName, kind relationKind) ([]string, error) {
	// One round trip per role and relation: the privileges in kind's order.
	var has sql.NullString
	err := db.QueryRowContext(ctx, `SELECT string_agg(p, ',' ORDER BY i)
		FROM unnest($3::text[]) WITH ORDINALITY AS k(p, i)
		WHERE CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = $1) THEN `+kind.check+`($1, $2::regclass, p) ELSE false END`,
		role, t.Quoted(), kind.privileges).Scan(&has)
	if err != nil {
		return nil, fmt.Errorf("split: sever: privileges of %s on %s: %w", role, t, err)
	}
	if !has.Valid || has.String == "" {
		return nil, nil
	}
	return strings.Split(has.String, ","), nil
}

// Remaining lists, after a sever, every privilege a service's role still
// has on another service's table or its sequences (by any path: a grant, a
// group, PUBLIC, owning it, being a superuser). Empty means the manifest
// holds in the database.
func Remaining(ctx context.Context, db *sql.DB, cat Catalog, m Manifest) ([]string, error) {
	var rels []ownedRelation
	for _, t := range cat.Tables {
		rels = append(rels, ownedRelation{t.TableName, tableKind, t.Owner, m.ownerOf(t.TableName)})
	}
	for _, q := range cat.Sequences {
		rels = append(rels, ownedRelation{q.TableName, sequenceKind, q.Owner, m.ownerOf(q.Table)})
	}
	var out []string
	for _, r := range rels {
		if r.service == "" {
			continue
		}
		for _, s := range m.Services {
			if s.Service == r.service {
				continue
			}
			for _, role := range s.Roles {
				has, err := effectivePrivileges(ctx, db, role, r.name, r.kind)
				if err != nil {
					return nil, err
				}
				if len(has) > 0 {
					out = append(out, fmt.Sprintf("%s (%s) may still %s %s, owned by %s", s.Service, role, strings.Join(has, ", "), r.name, r.service))
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
	super, err := superusers(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []Crossing
	for _, c := range r.Crossings {
		if (c.Kind == "reads" || c.Kind == "writes") && !super[c.Role] {
			out = append(out, c)
		}
	}
	return out, nil
}

// superusers are the server's superuser roles.
func superusers(ctx context.Context, db *sql.DB) (map[string]bool, error) {
	var names []string
	if err := collect(ctx, db, &names, `SELECT rolname FROM pg_roles WHERE rolsuper`,
		func(rows *sql.Rows, name *string) error { return rows.Scan(name) }); err != nil {
		return nil, fmt.Errorf("split: sever: superusers: %w", err)
	}
	super := map[string]bool{}
	for _, n := range names {
		super[n] = true
	}
	return super, nil
}
