package split

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Crossing is one way a service reaches into a table another service owns:
// the coupling that makes a schema change in one break the other.
type Crossing struct {
	Kind    string    `json:"kind"`    // "reads", "writes", "foreign key", "view", "grant"
	Service string    `json:"service"` // the service that crosses ("?" for a role no service names; the view's name for a view)
	Role    string    `json:"role,omitempty"`
	Table   TableName `json:"table"`
	Owner   string    `json:"owner"` // the service that owns Table
	Calls   int64     `json:"calls,omitempty"`
	Detail  string    `json:"detail"` // an example query, the constraint, the view, the privileges
}

// TableUse is one table: its owner and the services that used it.
type TableUse struct {
	Table   TableName `json:"table"`
	Owner   string    `json:"owner,omitempty"` // "" without a manifest, or when unassigned
	Readers []string  `json:"readers"`         // roles, or services with a manifest
	Writers []string  `json:"writers"`
	// Reads and Writes are the calls of each reader and writer.
	Reads  map[string]int64 `json:"reads,omitempty"`
	Writes map[string]int64 `json:"writes,omitempty"`
}

// Report is the coupling of a shared database: what each service does to
// which table, and every crossing of an owner's line the manifest draws.
type Report struct {
	Database  string      `json:"database"`
	Evidence  string      `json:"evidence"` // where the uses come from
	Tables    []TableUse  `json:"tables"`
	Crossings []Crossing  `json:"crossings"`
	Unparsed  []Unparsed  `json:"unparsed,omitempty"`
	Unowned   []TableName `json:"unowned,omitempty"`       // tables the manifest gives no service
	Strangers []string    `json:"unknown_roles,omitempty"` // roles seen that the manifest names in no service
	// DefaultGrants are what tables created later will grant: coupling to
	// come, whatever the tables now allow.
	DefaultGrants []DefaultGrant `json:"default_grants,omitempty"`
	Manifest      bool           `json:"manifest"`
}

// Coupled reports whether any service crosses into another's tables.
func (r Report) Coupled() bool { return len(r.Crossings) > 0 }

// Coupling measures the shared database against the manifest. Without a
// manifest (m nil) it lists who uses which table and finds no crossings:
// there is no line to cross yet.
func Coupling(cat Catalog, uses []Use, unparsed []Unparsed, evidence string, m *Manifest) Report {
	r := Report{Database: cat.Database, Evidence: evidence, Unparsed: unparsed, Manifest: m != nil, DefaultGrants: cat.DefaultGrants}
	who := func(role string) string {
		if m == nil {
			return role
		}
		if s := m.serviceOf(role); s != "" {
			return s
		}
		return "?"
	}
	owner := func(t TableName) string {
		if m == nil {
			return ""
		}
		return m.ownerOf(t)
	}
	strangers := map[string]bool{}
	perTable := map[TableName]*TableUse{}
	for _, t := range cat.Tables {
		perTable[t.TableName] = &TableUse{Table: t.TableName, Owner: owner(t.TableName)}
		if m != nil && owner(t.TableName) == "" {
			r.Unowned = append(r.Unowned, t.TableName)
		}
	}
	for _, u := range uses {
		s := who(u.Role)
		if s == "?" {
			strangers[u.Role] = true
		}
		tu := perTable[u.Table]
		if tu == nil {
			continue // a view: its reads are counted on its tables
		}
		tally(&tu.Readers, &tu.Reads, s, u.Reads)
		tally(&tu.Writers, &tu.Writes, s, u.Writes)
		if m == nil || tu.Owner == "" || tu.Owner == s {
			continue
		}
		if u.Writes > 0 {
			r.Crossings = append(r.Crossings, Crossing{Kind: "writes", Service: s, Role: u.Role, Table: u.Table,
				Owner: tu.Owner, Calls: u.Writes, Detail: u.Example})
		}
		if u.Reads > 0 {
			r.Crossings = append(r.Crossings, Crossing{Kind: "reads", Service: s, Role: u.Role, Table: u.Table,
				Owner: tu.Owner, Calls: u.Reads, Detail: u.Example})
		}
	}
	for _, t := range cat.Tables {
		tu := perTable[t.TableName]
		slices.Sort(tu.Readers)
		slices.Sort(tu.Writers)
		r.Tables = append(r.Tables, *tu)
	}
	if m != nil {
		r.Crossings = append(r.Crossings, structuralCrossings(cat, *m)...)
	}
	for s := range strangers {
		r.Strangers = append(r.Strangers, s)
	}
	slices.Sort(r.Strangers)
	return r
}

// tally counts calls of who in names and per, when there are any.
func tally(names *[]string, per *map[string]int64, who string, calls int64) {
	if calls == 0 {
		return
	}
	if !slices.Contains(*names, who) {
		*names = append(*names, who)
	}
	if *per == nil {
		*per = map[string]int64{}
	}
	(*per)[who] += calls
}

// structuralCrossings are the crossings the schema itself makes: foreign
// keys from one owner's table to another's, views reading more than one
// owner's tables, and privileges a service's role holds on another's
// tables.
func structuralCrossings(cat Catalog, m Manifest) []Crossing {
	var out []Crossing
	for _, fk := range cat.ForeignKeys {
		from, to := m.ownerOf(fk.From), m.ownerOf(fk.To)
		if from != "" && to != "" && from != to {
			out = append(out, Crossing{Kind: "foreign key", Service: from, Table: fk.To, Owner: to,
				Detail: fmt.Sprintf("%s: %s(%s) references %s(%s)", fk.Name, fk.From, strings.Join(fk.Columns, ", "),
					fk.To, strings.Join(fk.RefColumns, ", "))})
		}
	}
	for _, v := range cat.Views {
		owners := map[string]bool{}
		for _, t := range v.Reads {
			if o := m.ownerOf(t); o != "" {
				owners[o] = true
			}
		}
		if len(owners) < 2 {
			continue
		}
		for _, t := range v.Reads {
			if o := m.ownerOf(t); o != "" {
				out = append(out, Crossing{Kind: "view", Service: v.TableName.String(), Table: t, Owner: o,
					Detail: fmt.Sprintf("view %s reads the tables of %d services", v.TableName, len(owners))})
			}
		}
	}
	for _, g := range cat.Grants {
		o := m.ownerOf(g.Table)
		if o == "" {
			continue
		}
		s, detail := m.serviceOf(g.Role), strings.Join(g.Privileges, ", ")
		switch {
		case g.Role == "PUBLIC":
			s = "every role"
		case s == o:
			continue
		case s == "":
			// A group role: its members reach the table through it.
			s, detail = "?", detail+" (to a role no service names: its members have them too)"
		}
		out = append(out, Crossing{Kind: "grant", Service: s, Role: g.Role, Table: g.Table, Owner: o, Detail: detail})
	}
	for _, t := range cat.Tables {
		o := m.ownerOf(t.TableName)
		if s := m.serviceOf(t.Owner); o != "" && s != "" && s != o {
			out = append(out, Crossing{Kind: "grant", Service: s, Role: t.Owner, Table: t.TableName, Owner: o,
				Detail: "owns the table (every privilege)"})
		}
	}
	return out
}

// WriteText prints the report for a person: the tables and their users,
// then every crossing, then what could not be read.
func (r Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Coupling of database %s — evidence: %s\n\n", r.Database, r.Evidence)
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	if r.Manifest {
		fmt.Fprintln(tw, "TABLE\tOWNER\tREAD BY\tWRITTEN BY")
	} else {
		fmt.Fprintln(tw, "TABLE\tREAD BY\tWRITTEN BY")
	}
	for _, t := range r.Tables {
		readers, writers := orDash(t.Readers), orDash(t.Writers)
		if r.Manifest {
			owner := t.Owner
			if owner == "" {
				owner = "(unassigned)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Table, owner, readers, writers)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Table, readers, writers)
		}
	}
	_ = tw.Flush()
	if r.Manifest {
		ew.printf("\n%d crossings", len(r.Crossings))
		if len(r.Crossings) == 0 {
			ew.printf(": every service keeps to its own tables.\n")
		} else {
			ew.printf(" of an owner's line:\n")
			tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tKIND\tTABLE\tOWNER\tCALLS\tDETAIL")
			for _, c := range r.Crossings {
				calls := "-"
				if c.Calls > 0 {
					calls = fmt.Sprint(c.Calls)
				}
				who := c.Service
				if c.Role != "" && c.Role != c.Service {
					who += " (" + c.Role + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", who, c.Kind, c.Table, c.Owner, calls, oneLine(c.Detail, 80))
			}
			_ = tw.Flush()
		}
		if len(r.Unowned) > 0 {
			names := make([]string, len(r.Unowned))
			for i, t := range r.Unowned {
				names[i] = t.String()
			}
			ew.printf("\nTables no service owns yet: %s\n", strings.Join(names, ", "))
		}
		if len(r.Strangers) > 0 {
			ew.printf("\nRoles the manifest names in no service (shown as ?): %s\n", strings.Join(r.Strangers, ", "))
		}
	} else {
		ew.printf("\nNo manifest: no owner's line to measure against. 'bounded split manifest' drafts one from this evidence.\n")
	}
	if len(r.DefaultGrants) > 0 {
		ew.printf("\nDefault privileges (tables created later):\n")
	}
	for _, g := range r.DefaultGrants {
		where := ""
		if g.Schema != "" {
			where = " in schema " + g.Schema
		}
		ew.printf("  every table %s creates%s grants %s to %s\n", g.Creator, where, strings.Join(g.Privileges, ", "), g.Role)
	}
	if len(r.Unparsed) > 0 {
		ew.printf("\n%d statements could not be read in full; the tables they name are not (all) counted above:\n", len(r.Unparsed))
		for _, u := range r.Unparsed {
			ew.printf("  %s: %s (%s)\n", u.Role, oneLine(u.Query, 80), u.Err)
		}
	}
	return ew.err
}

func orDash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// oneLine folds whitespace and cuts s to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// errWriter keeps the first write error, so a report is written without an
// error check per line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
