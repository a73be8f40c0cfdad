package split

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// TableName is a table or view, schema-qualified.
type TableName struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// String is schema.name, as a manifest writes it.
func (t TableName) String() string { return t.Schema + "." + t.Name }

// Quoted is the name as SQL writes it, each part quoted.
func (t TableName) Quoted() string { return quoteIdent(t.Schema) + "." + quoteIdent(t.Name) }

func (t TableName) compare(u TableName) int {
	if c := strings.Compare(t.Schema, u.Schema); c != 0 {
		return c
	}
	return strings.Compare(t.Name, u.Name)
}

// ParseTableName reads "schema.table", or "table" in schema public.
func ParseTableName(s string) (TableName, error) {
	schema, name, ok := strings.Cut(s, ".")
	if !ok {
		schema, name = "public", s
	}
	if schema == "" || name == "" || strings.Contains(name, ".") {
		return TableName{}, fmt.Errorf("split: %q is not a table name (schema.table)", s)
	}
	return TableName{Schema: schema, Name: name}, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Table is a table of the shared database.
type Table struct {
	TableName
	Owner string `json:"owner"` // the role that owns it (and so holds every privilege on it)
	Rows  int64  `json:"rows"`  // PostgreSQL's estimate (reltuples), -1 before the first ANALYZE
}

// ForeignKey is a constraint of one table referencing another.
type ForeignKey struct {
	Name       string    `json:"name"`
	From       TableName `json:"from"`
	To         TableName `json:"to"`
	Columns    []string  `json:"columns"`
	RefColumns []string  `json:"ref_columns"`
}

// View is a view or materialized view and the tables and views it reads.
type View struct {
	TableName
	Materialized bool        `json:"materialized"`
	Reads        []TableName `json:"reads"`
}

// Grant is what one role may do to one table, beyond owning it.
type Grant struct {
	Role       string    `json:"role"` // "PUBLIC" for every role
	Table      TableName `json:"table"`
	Privileges []string  `json:"privileges"` // SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
}

// Sequence is a sequence owned by a column of Table.
type Sequence struct {
	TableName
	Owner string    `json:"owner"` // the role that owns the sequence
	Table TableName `json:"table"`
}

// DefaultGrant is a default privilege on tables: each table Creator
// creates (in Schema, or anywhere when it is empty) will grant Privileges
// to Role.
type DefaultGrant struct {
	Creator    string   `json:"creator"`
	Schema     string   `json:"schema,omitempty"`
	Role       string   `json:"role"` // "PUBLIC" for every role
	Privileges []string `json:"privileges"`
}

// Catalog is the shape of the shared database: its tables, the foreign keys
// and views that tie them together, and who may touch them.
type Catalog struct {
	Database    string       `json:"database"`
	Tables      []Table      `json:"tables"`
	ForeignKeys []ForeignKey `json:"foreign_keys"`
	Views       []View       `json:"views"`
	Grants      []Grant      `json:"grants"`
	// Sequences are the sequences a table's column owns (serial,
	// identity), and SequenceGrants the privileges granted on them: they
	// go with their table's owner.
	Sequences      []Sequence `json:"sequences,omitempty"`
	SequenceGrants []Grant    `json:"sequence_grants,omitempty"`
	// DefaultGrants are the privileges tables created later will grant
	// (ALTER DEFAULT PRIVILEGES), from pg_default_acl.
	DefaultGrants []DefaultGrant `json:"default_grants,omitempty"`
	// SearchPaths are the search_path settings of roles that have one in
	// this database (or in all), from pg_db_role_setting.
	SearchPaths map[string][]string `json:"search_paths,omitempty"`
}

// Table returns the table named t, if the catalog has it.
func (c Catalog) Table(t TableName) (Table, bool) {
	i, ok := slices.BinarySearchFunc(c.Tables, t, func(a Table, b TableName) int { return a.compare(b) })
	if !ok {
		return Table{}, false
	}
	return c.Tables[i], true
}

// resolve finds the relation a name in a query that role ran means, as
// PostgreSQL would: a qualified name as it is; an unqualified one in the
// first schema of the role's search_path that has it (the path set for the
// role in pg_db_role_setting, else PostgreSQL's default "$user", public).
// A path the application sets itself (SET search_path) the tool cannot
// see: failing the path, a name only one schema has is taken to be that
// one. found is false for a name the catalog lacks (a system catalog, a
// temporary table, a table dropped since); ambiguous lists the schemas of
// a name the path does not settle and more than one schema has.
func (c Catalog) resolve(role, schema, name string) (t TableName, found bool, ambiguous []string) {
	if schema != "" {
		t := TableName{schema, name}
		return t, c.has(t), nil
	}
	path, ok := c.SearchPaths[role]
	if !ok {
		path = []string{"$user", "public"}
	}
	for _, s := range path {
		if s == "$user" {
			s = role
		}
		if t := (TableName{s, name}); c.has(t) {
			return t, true, nil
		}
	}
	var candidates []TableName
	for _, t := range c.Tables {
		if t.Name == name {
			candidates = append(candidates, t.TableName)
		}
	}
	for _, v := range c.Views {
		if v.Name == name {
			candidates = append(candidates, v.TableName)
		}
	}
	switch len(candidates) {
	case 0:
		return TableName{}, false, nil
	case 1:
		return candidates[0], true, nil
	}
	for _, t := range candidates {
		ambiguous = append(ambiguous, t.Schema)
	}
	return TableName{}, false, ambiguous
}

func (c Catalog) has(t TableName) bool {
	if _, ok := c.Table(t); ok {
		return true
	}
	_, ok := c.view(t)
	return ok
}

func (c Catalog) view(t TableName) (View, bool) {
	for _, v := range c.Views {
		if v.TableName == t {
			return v, true
		}
	}
	return View{}, false
}

// systemSchemas are PostgreSQL's own; the catalogue leaves them out.
const systemSchemas = `('pg_catalog', 'information_schema', 'pg_toast')`

// ReadCatalog reads the catalog of the database db is connected to: every
// ordinary and partitioned table, foreign key, view and table privilege
// outside PostgreSQL's own schemas. It needs no privilege beyond CONNECT.
func ReadCatalog(ctx context.Context, db *sql.DB) (Catalog, error) {
	var c Catalog
	if err := db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&c.Database); err != nil {
		return Catalog{}, fmt.Errorf("split: catalog: %w", err)
	}
	err := collect(ctx, db, &c.Tables, `
		SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), c.reltuples::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND n.nspname NOT IN `+systemSchemas+` AND n.nspname NOT LIKE 'pg_temp%'
		ORDER BY 1, 2`,
		func(rows *sql.Rows, t *Table) error { return rows.Scan(&t.Schema, &t.Name, &t.Owner, &t.Rows) })
	if err == nil {
		err = collect(ctx, db, &c.ForeignKeys, `
			SELECT con.conname, fn.nspname, f.relname, tn.nspname, t.relname,
			       (SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
			          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n),
			       (SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
			          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n)
			FROM pg_constraint con
			JOIN pg_class f ON f.oid = con.conrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
			JOIN pg_class t ON t.oid = con.confrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
			WHERE con.contype = 'f' AND fn.nspname NOT IN `+systemSchemas+`
			  AND con.conparentid = 0
			ORDER BY 2, 3, 1`,
			func(rows *sql.Rows, fk *ForeignKey) error {
				var cols, refs string
				if err := rows.Scan(&fk.Name, &fk.From.Schema, &fk.From.Name, &fk.To.Schema, &fk.To.Name, &cols, &refs); err != nil {
					return err
				}
				fk.Columns, fk.RefColumns = strings.Split(cols, ","), strings.Split(refs, ",")
				return nil
			})
	}
	if err == nil {
		// A view's rules depend on the relations its query reads.
		err = collect(ctx, db, &c.Views, `
			SELECT vn.nspname, v.relname, v.relkind = 'm',
			       coalesce(array_agg(DISTINCT tn.nspname || '.' || t.relname) FILTER (WHERE t.oid IS NOT NULL), '{}')::text
			FROM pg_class v JOIN pg_namespace vn ON vn.oid = v.relnamespace
			LEFT JOIN pg_rewrite r ON r.ev_class = v.oid
			LEFT JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
			     AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid
			LEFT JOIN pg_class t ON t.oid = d.refobjid
			LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
			WHERE v.relkind IN ('v', 'm') AND vn.nspname NOT IN `+systemSchemas+`
			GROUP BY 1, 2, 3
			ORDER BY 1, 2`,
			func(rows *sql.Rows, v *View) error {
				var reads string
				if err := rows.Scan(&v.Schema, &v.Name, &v.Materialized, &reads); err != nil {
					return err
				}
				for _, r := range textArray(reads) {
					t, err := ParseTableName(r)
					if err != nil {
						return err
					}
					v.Reads = append(v.Reads, t)
				}
				return nil
			})
	}
	if err == nil {
		// relacl lists the privileges granted; an owner's own are implied
		// (and listed once granted explicitly: left out here).
		err = collectGrants(ctx, db, &c.Grants, "'r', 'p', 'v', 'm'")
	}
	if err == nil {
		err = collect(ctx, db, &c.Sequences, `
			SELECT sn.nspname, s.relname, pg_get_userbyid(s.relowner), tn.nspname, t.relname
			FROM pg_class s JOIN pg_namespace sn ON sn.oid = s.relnamespace
			JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
			     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
			JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
			WHERE s.relkind = 'S' AND sn.nspname NOT IN `+systemSchemas+`
			ORDER BY 1, 2`,
			func(rows *sql.Rows, q *Sequence) error {
				return rows.Scan(&q.Schema, &q.Name, &q.Owner, &q.Table.Schema, &q.Table.Name)
			})
	}
	if err == nil {
		err = collectGrants(ctx, db, &c.SequenceGrants, "'S'")
	}
	if err == nil {
		err = collect(ctx, db, &c.DefaultGrants, `
			SELECT pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''),
			       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
			       string_agg(DISTINCT a.privilege_type, ',' ORDER BY a.privilege_type)
			FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
			     LATERAL aclexplode(d.defaclacl) a
			WHERE d.defaclobjtype = 'r' AND a.grantee <> d.defaclrole
			GROUP BY 1, 2, 3
			ORDER BY 1, 2, 3`,
			func(rows *sql.Rows, g *DefaultGrant) error {
				var privs string
				if err := rows.Scan(&g.Creator, &g.Schema, &g.Role, &privs); err != nil {
					return err
				}
				g.Privileges = strings.Split(privs, ",")
				return nil
			})
	}
	if err == nil {
		// A setting for this database wins over one for all databases.
		var paths []struct{ role, path string }
		err = collect(ctx, db, &paths, `
			SELECT DISTINCT ON (r.rolname) r.rolname, substr(cfg, length('search_path=') + 1)
			FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole, unnest(s.setconfig) cfg
			WHERE cfg LIKE 'search_path=%'
			  AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
			ORDER BY r.rolname, s.setdatabase DESC`,
			func(rows *sql.Rows, p *struct{ role, path string }) error { return rows.Scan(&p.role, &p.path) })
		for _, p := range paths {
			if c.SearchPaths == nil {
				c.SearchPaths = map[string][]string{}
			}
			c.SearchPaths[p.role] = searchPath(p.path)
		}
	}
	if err != nil {
		return Catalog{}, fmt.Errorf("split: catalog of %s: %w", c.Database, err)
	}
	return c, nil
}

// searchPath splits a search_path setting ("$user", public, "My Schema")
// into its schemas, unquoted.
func searchPath(setting string) []string {
	var out []string
	for part := range strings.SplitSeq(setting, ",") {
		part = strings.TrimSpace(part)
		if len(part) >= 2 && part[0] == '"' && part[len(part)-1] == '"' {
			part = strings.ReplaceAll(part[1:len(part)-1], `""`, `"`)
		}
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

// collectGrants appends the privileges granted on the relations of the
// given kinds (pg_class.relkind values, quoted), to anyone but their
// owner, one Grant per grantee and relation.
func collectGrants(ctx context.Context, db *sql.DB, dst *[]Grant, kinds string) error {
	return collect(ctx, db, dst, `
		SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
		       n.nspname, c.relname, string_agg(DISTINCT a.privilege_type, ',' ORDER BY a.privilege_type)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
		     LATERAL aclexplode(c.relacl) a
		WHERE c.relkind IN (`+kinds+`) AND n.nspname NOT IN `+systemSchemas+`
		  AND a.grantee <> c.relowner
		GROUP BY 1, 2, 3
		ORDER BY 2, 3, 1`,
		func(rows *sql.Rows, g *Grant) error {
			var privs string
			if err := rows.Scan(&g.Role, &g.Table.Schema, &g.Table.Name, &privs); err != nil {
				return err
			}
			g.Privileges = strings.Split(privs, ",")
			return nil
		})
}

// collect appends one T per row of query.
func collect[T any](ctx context.Context, db *sql.DB, dst *[]T, query string, scan func(*sql.Rows, *T) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return err
		}
		*dst = append(*dst, v)
	}
	return rows.Err()
}

// textArray splits PostgreSQL's text form of a text[] whose elements need
// no quoting beyond what schema.name produces ({a.b,c.d}); quoted elements
// (names with commas, quotes or braces) are unquoted.
func textArray(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if s == "" {
		return nil
	}
	var out []string
	var b strings.Builder
	quoted, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			b.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteRune(r)
		}
	}
	return append(out, b.String())
}
