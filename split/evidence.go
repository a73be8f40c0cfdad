package split

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Statement is a query a role ran on the shared database, as PostgreSQL
// recorded it (pg_stat_statements: normalized, $1 for constants) or as a
// sample of pg_stat_activity saw it.
type Statement struct {
	Role        string `json:"role"`
	Application string `json:"application,omitempty"` // application_name, when sampled
	Query       string `json:"query"`
	Calls       int64  `json:"calls"` // executions recorded, or times seen running when sampled
}

// ErrNoStatementStats says the database has no pg_stat_statements to read.
var ErrNoStatementStats = errors.New("split: pg_stat_statements is not installed in this database " +
	"(shared_preload_libraries = 'pg_stat_statements' in postgresql.conf, a restart, then CREATE EXTENSION pg_stat_statements; " +
	"or sample the activity instead)")

// StatementStats reads every statement pg_stat_statements recorded on the
// database db is connected to, with the role that ran it, since its
// counters were last reset (reset is that time, or zero when the server
// does not say: before PostgreSQL 14). The reading role needs
// pg_read_all_stats (or superuser) to see other roles' query texts; a text
// it may not see comes back as "<insufficient privilege>", which is an
// error here rather than evidence silently missed.
func StatementStats(ctx context.Context, db *sql.DB) (stmts []Statement, reset time.Time, err error) {
	var schema sql.NullString
	err = db.QueryRowContext(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'pg_stat_statements'`).Scan(&schema)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, ErrNoStatementStats
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("split: pg_stat_statements: %w", err)
	}
	view := quoteIdent(schema.String) + ".pg_stat_statements"
	err = collect(ctx, db, &stmts, `
		SELECT coalesce(pg_get_userbyid(s.userid), s.userid::text), s.query, sum(s.calls)::bigint
		FROM `+view+` s
		WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		GROUP BY 1, 2
		ORDER BY 1, 2`,
		func(rows *sql.Rows, s *Statement) error { return rows.Scan(&s.Role, &s.Query, &s.Calls) })
	if err != nil {
		if strings.Contains(err.Error(), "must be loaded via") || strings.Contains(err.Error(), "shared_preload_libraries") {
			return nil, time.Time{}, fmt.Errorf("%w: %v", ErrNoStatementStats, err)
		}
		return nil, time.Time{}, fmt.Errorf("split: pg_stat_statements: %w", err)
	}
	for _, s := range stmts {
		if s.Query == "<insufficient privilege>" {
			return nil, time.Time{}, fmt.Errorf("split: pg_stat_statements hides %s's queries from this role: connect as a superuser or a member of pg_read_all_stats", s.Role)
		}
	}
	// stats_reset is in pg_stat_statements_info from PostgreSQL 14 on.
	var at sql.NullTime
	if db.QueryRowContext(ctx, `SELECT stats_reset FROM `+quoteIdent(schema.String)+`.pg_stat_statements_info`).Scan(&at) == nil {
		reset = at.Time
	}
	return stmts, reset, nil
}

// SampleConfig says how long and how often to sample pg_stat_activity.
type SampleConfig struct {
	For   time.Duration // how long; required
	Every time.Duration // between two looks; default 20 ms
	// Progress, if set, is called about once a second with the time sampled
	// so far and the distinct statements seen.
	Progress func(elapsed time.Duration, seen int)
}

func (c SampleConfig) Validate() error {
	if c.For <= 0 {
		return errors.New("split: sample: a duration is required")
	}
	if c.Every < 0 {
		return errors.New("split: sample: the interval must not be negative")
	}
	return nil
}

// SampleActivity watches pg_stat_activity on the database db is connected
// to for cfg.For, and returns the statements other sessions ran, each
// counted once per execution seen (a session, its query's start time). A
// session that sits idle shows its last statement, so a short burst is
// seen as long as the session stays open; a statement that starts and ends
// between two looks on a busy session is missed. Sampling is evidence
// that a role crosses, never proof that it does not: prefer
// pg_stat_statements where it can be installed. As with it, the reading
// role needs pg_read_all_stats or superuser to see other roles' queries.
func SampleActivity(ctx context.Context, db *sql.DB, cfg SampleConfig) ([]Statement, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Every == 0 {
		cfg.Every = 20 * time.Millisecond
	}
	type key struct{ role, app, query string }
	type execution struct {
		start time.Time
		query string
	}
	counts := map[key]int64{}
	// The last execution counted of each session: a session runs one
	// statement at a time, so memory stays bounded by the sessions, however
	// long the sample.
	last := map[int64]execution{}
	hidden := ""
	start := time.Now()
	lastProgress := start
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	for {
		rows, err := db.QueryContext(ctx, `
			SELECT pid, coalesce(usename, ''), coalesce(application_name, ''), query, query_start
			FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
			  AND backend_type = 'client backend' AND query <> '' AND query_start IS NOT NULL`)
		if err != nil {
			return nil, fmt.Errorf("split: sample: %w", err)
		}
		for rows.Next() {
			var pid int64
			var e execution
			var k key
			if err := rows.Scan(&pid, &k.role, &k.app, &k.query, &e.start); err != nil {
				rows.Close()
				return nil, fmt.Errorf("split: sample: %w", err)
			}
			if k.query == "<insufficient privilege>" {
				hidden = k.role
				continue
			}
			e.query = k.query
			if last[pid] == e {
				continue
			}
			last[pid] = e
			counts[k]++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("split: sample: %w", err)
		}
		if hidden != "" {
			return nil, fmt.Errorf("split: sample: pg_stat_activity hides %s's queries from this role: connect as a superuser or a member of pg_read_all_stats", hidden)
		}
		now := time.Now()
		if cfg.Progress != nil && now.Sub(lastProgress) >= time.Second {
			cfg.Progress(now.Sub(start), len(counts))
			lastProgress = now
		}
		if now.Sub(start) >= cfg.For {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("split: sample: %w", ctx.Err())
		case <-tick.C:
		}
	}
	stmts := make([]Statement, 0, len(counts))
	for k, n := range counts {
		stmts = append(stmts, Statement{Role: k.role, Application: k.app, Query: k.query, Calls: n})
	}
	slices.SortFunc(stmts, func(a, b Statement) int {
		return cmp.Or(strings.Compare(a.Role, b.Role), strings.Compare(a.Application, b.Application), strings.Compare(a.Query, b.Query))
	})
	return stmts, nil
}

// Use is what one role did to one table, summed over its statements.
type Use struct {
	Role    string    `json:"role"`
	Table   TableName `json:"table"`
	Reads   int64     `json:"reads"`  // calls of statements that read it
	Writes  int64     `json:"writes"` // calls of statements that wrote it
	Example string    `json:"example"`
}

// Unparsed is a statement the parser refused, kept so it is shown, not
// dropped: its tables are unknown.
type Unparsed struct {
	Statement
	Err string `json:"error"`
}

// Usage turns statements into what each role did to each table of the
// catalog: each statement's tables (Accesses), resolved against the
// catalog with the role's search_path (see Catalog.resolve), a view's use
// counted on the view and on the tables it reads. Names the catalog lacks
// (PostgreSQL's own catalogs, temporary tables) are left out; statements
// the parser refuses, and those naming a table the tool cannot tell from
// another of the same name, are returned apart, never dropped.
func Usage(cat Catalog, stmts []Statement) ([]Use, []Unparsed) {
	type key struct {
		role  string
		table TableName
	}
	uses := map[key]*Use{}
	var unparsed []Unparsed
	add := func(role string, t TableName, write bool, calls int64, query string) {
		k := key{role, t}
		u := uses[k]
		if u == nil {
			u = &Use{Role: role, Table: t}
			uses[k] = u
		}
		if write {
			u.Writes += calls
		} else {
			u.Reads += calls
		}
		if u.Example == "" || (write && u.Writes == calls) {
			u.Example = query
		}
	}
	for _, s := range stmts {
		accesses, err := Accesses(s.Query)
		if err != nil {
			unparsed = append(unparsed, Unparsed{Statement: s, Err: err.Error()})
			continue
		}
		var ambiguous []string
		for _, a := range accesses {
			t, ok, schemas := cat.resolve(s.Role, a.Schema, a.Table)
			if len(schemas) > 0 {
				ambiguous = append(ambiguous, fmt.Sprintf("%s is in schemas %s", a.Table, strings.Join(schemas, ", ")))
			}
			if !ok {
				continue
			}
			add(s.Role, t, a.Write, s.Calls, s.Query)
			if v, ok := cat.view(t); ok {
				for _, r := range v.Reads {
					add(s.Role, r, false, s.Calls, s.Query)
				}
			}
		}
		if len(ambiguous) > 0 {
			unparsed = append(unparsed, Unparsed{Statement: s, Err: "not counted there: " + strings.Join(ambiguous, "; ") +
				", and the role's search_path (set by the application?) does not say which"})
		}
	}
	out := make([]Use, 0, len(uses))
	for _, u := range uses {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b Use) int {
		if c := a.Table.compare(b.Table); c != 0 {
			return c
		}
		return strings.Compare(a.Role, b.Role)
	})
	return out, unparsed
}
