package split

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	// Only the parser subpackage: the module's root package and
	// pganalyze/pg_query_go bring in a cgo build of libpg_query, which must
	// stay out of the binary. This one runs libpg_query as WebAssembly.
	"github.com/wasilibs/go-pgquery/parser"
)

// Access is one table a statement reads or writes.
type Access struct {
	Schema string // as written in the query; "" when unqualified
	Table  string
	Write  bool // the statement inserts, updates, deletes, merges into, truncates or COPYs into it
}

// Accesses parses query (one or more SQL statements, as an application sends
// them or as pg_stat_statements normalizes them, with $1 placeholders) with
// PostgreSQL's own parser and returns every table it reads or writes, each
// (schema, table) once, sorted by schema, table; an access that both reads and
// writes a table is reported once with Write true.
//
// Names are the parser's: unquoted identifiers case-folded to lower case,
// quoted ones kept as written. Nothing is resolved against a database, so
// "public.orders" and "orders" are two accesses, a view is reported like a
// table, and a database name in a three-part name is dropped. System catalogs
// (pg_catalog.pg_class, or pg_class unqualified) are reported like any other
// relation: deciding what to ignore is the caller's business.
//
// Writes are the target of INSERT, UPDATE, DELETE, MERGE, TRUNCATE and
// COPY ... FROM, and the table SELECT ... INTO and CREATE TABLE AS create;
// data-modifying statements inside WITH count too. Every other relation named
// is a read: FROM and JOIN items, subqueries, UPDATE ... FROM, DELETE ...
// USING, the source of INSERT ... SELECT and MERGE, COPY ... TO, LOCK TABLE
// and SELECT ... FOR UPDATE, and also the relation named by DDL (ALTER TABLE,
// CREATE INDEX, ...), which this is not meant to classify. Names that refer to
// a common table expression in scope are not tables and are left out.
//
// A query the parser refuses returns an error wrapping the parser's
// *parser.Error. An empty query (or one of only comments) has no accesses
// and no error.
//
// Accesses is safe for concurrent use: the parser package hands each call its
// own WebAssembly instance from a pool guarded by a mutex. Instances are
// created on demand, so the first call, and every call that finds all
// instances busy, first compiles and starts one (seconds of CPU, and memory
// that stays with the pool).
func Accesses(query string) ([]Access, error) {
	tree, err := parser.ParseToJSON(query)
	if err != nil {
		return nil, fmt.Errorf("split: parse: %w", err)
	}
	// The tree is walked generically rather than into typed structs: the
	// typed parse tree lives in the cgo packages excluded above.
	var root any
	if err := json.Unmarshal([]byte(tree), &root); err != nil {
		return nil, fmt.Errorf("split: decode parse tree: %w", err)
	}

	w := walker{written: map[relation]bool{}, cteScope: map[string]int{}}
	w.walkValue("", root, false)

	accesses := make([]Access, 0, len(w.written))
	for rel, write := range w.written {
		accesses = append(accesses, Access{Schema: rel.schema, Table: rel.table, Write: write})
	}
	slices.SortFunc(accesses, func(a, b Access) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Table, b.Table))
	})
	if len(accesses) == 0 {
		return nil, nil
	}
	return accesses, nil
}

// relation is a table name as written: schema "" when unqualified.
type relation struct{ schema, table string }

// walker collects the relations of one parse tree in its JSON form, where a
// node is either wrapped in an object naming its type ({"SelectStmt": {...}},
// wherever the field may hold any node) or bare (a field typed as one node
// type, such as InsertStmt.relation, a RangeVar).
type walker struct {
	// written maps every relation seen to whether any statement writes it.
	written map[relation]bool
	// cteScope counts, per name, the WITH clauses in scope that define a
	// CTE of that name.
	cteScope map[string]int
}

// walkValue walks v, found under key (the field name, or the node type for a
// wrapped node; "" for a list element or the root). write is true inside the
// target of a writing statement.
func (w *walker) walkValue(key string, v any, write bool) {
	switch v := v.(type) {
	case []any:
		for _, element := range v {
			w.walkValue("", element, write)
		}
	case map[string]any:
		w.walkObject(key, v, write)
	}
}

func (w *walker) walkObject(key string, node map[string]any, write bool) {
	// Only a RangeVar has relname in a raw parse tree (WithCheckOption has
	// one too, but only the rewriter makes those). It names a table, view,
	// sequence or CTE and holds nothing further to walk.
	if table, ok := node["relname"].(string); ok {
		schema, _ := node["schemaname"].(string)
		w.record(relation{schema: schema, table: table}, write)
		return
	}

	// A WITH clause's names are in scope for the statement that owns it and
	// everything nested in it: its other CTEs, its body, its subqueries. That
	// is PostgreSQL's rule but for one approximation: a non-recursive CTE
	// that names itself or a later sibling means a table there, and is taken
	// for the CTE here.
	if with, ok := node["withClause"].(map[string]any); ok {
		names := cteNames(with)
		for _, name := range names {
			w.cteScope[name]++
		}
		defer func() {
			for _, name := range names {
				w.cteScope[name]--
			}
		}()
	}

	target := writeTarget(key, node)
	for field, child := range node {
		w.walkValue(field, child, write || field == target)
	}
}

// record notes one relation. An unqualified name read while a CTE of that
// name is in scope is the CTE, not a table. A write target never is: INSERT,
// UPDATE, DELETE and MERGE resolve their target among tables only, and the
// other writes create or copy into tables.
func (w *walker) record(rel relation, write bool) {
	if !write && rel.schema == "" && w.cteScope[rel.table] > 0 {
		return
	}
	w.written[rel] = w.written[rel] || write
}

// writeTarget names the field of node, a node found under key, that holds the
// relations it writes, or "" if it writes none.
func writeTarget(key string, node map[string]any) string {
	switch key {
	case "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt":
		return "relation"
	case "TruncateStmt":
		return "relations"
	case "CopyStmt":
		// COPY t FROM loads t; COPY t TO dumps it; COPY (query) TO has
		// no relation, only a query whose tables are reads.
		if from, _ := node["is_from"].(bool); from {
			return "relation"
		}
	case "CreateTableAsStmt": // also CREATE MATERIALIZED VIEW ... AS
		return "into"
	}
	// SELECT ... INTO creates its table. The clause sits on the leftmost
	// SELECT of a set operation, which is a bare node under "larg", so it is
	// recognised by its field name rather than by key.
	if _, ok := node["intoClause"]; ok {
		return "intoClause"
	}
	return ""
}

// cteNames lists the names a WithClause defines.
func cteNames(with map[string]any) []string {
	ctes, _ := with["ctes"].([]any)
	names := make([]string, 0, len(ctes))
	for _, wrapped := range ctes {
		wrapped, _ := wrapped.(map[string]any)
		cte, _ := wrapped["CommonTableExpr"].(map[string]any)
		if name, ok := cte["ctename"].(string); ok {
			names = append(names, name)
		}
	}
	return names
}
