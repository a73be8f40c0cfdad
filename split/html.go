package split

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
)

// WriteHTML draws the report as one self-contained page: a matrix of the
// tables (rows, grouped by owner) against the services or roles that used
// them (columns), each cell saying read, write or both with the calls,
// coloured by whether it is the owner's own use or a crossing; then the
// crossings the schema makes (foreign keys, views, grants) and what could
// not be read.
func (r Report) WriteHTML(w io.Writer) error {
	type cell struct {
		Text, Class, Title string
	}
	type row struct {
		Table, Owner string
		Cells        []cell
	}
	users := map[string]bool{}
	for _, t := range r.Tables {
		for _, u := range append(slices.Clone(t.Readers), t.Writers...) {
			users[u] = true
		}
	}
	// The owners' columns first, in the order of their tables; the rest
	// after, sorted.
	var cols []string
	if r.Manifest {
		for _, t := range r.Tables {
			if t.Owner != "" && !slices.Contains(cols, t.Owner) {
				cols = append(cols, t.Owner)
			}
		}
		slices.Sort(cols)
	}
	var rest []string
	for u := range users {
		if !slices.Contains(cols, u) {
			rest = append(rest, u)
		}
	}
	slices.Sort(rest)
	cols = append(cols, rest...)

	tables := slices.Clone(r.Tables)
	slices.SortStableFunc(tables, func(a, b TableUse) int {
		ao, bo := a.Owner, b.Owner
		if ao == "" {
			ao = "\uffff" // unassigned last
		}
		if bo == "" {
			bo = "\uffff"
		}
		return strings.Compare(ao, bo)
	})
	var rows []row
	for _, t := range tables {
		owner := t.Owner
		if owner == "" && r.Manifest {
			owner = "(unassigned)"
		}
		rw := row{Table: t.Table.String(), Owner: owner}
		for _, c := range cols {
			reads, writes := t.Reads[c], t.Writes[c]
			var cl cell
			switch {
			case reads > 0 && writes > 0:
				cl.Text = "RW"
			case writes > 0:
				cl.Text = "W"
			case reads > 0:
				cl.Text = "R"
			}
			if cl.Text != "" {
				cl.Title = fmt.Sprintf("%s on %s: %d reads, %d writes", c, t.Table, reads, writes)
				switch {
				case !r.Manifest:
					cl.Class = "use"
				case c == t.Owner:
					cl.Class = "own"
				case t.Owner == "":
					cl.Class = "use"
				default:
					cl.Class = "cross"
					cl.Title += " — a crossing: " + t.Owner + " owns it"
				}
			}
			rw.Cells = append(rw.Cells, cl)
		}
		rows = append(rows, rw)
	}
	var structural []Crossing
	kinds := map[string]int{}
	for _, c := range r.Crossings {
		kinds[c.Kind]++
		if c.Kind != "reads" && c.Kind != "writes" {
			structural = append(structural, c)
		}
	}
	var summary []string
	for _, k := range []string{"reads", "writes", "foreign key", "view", "grant"} {
		if kinds[k] > 0 {
			summary = append(summary, fmt.Sprintf("%d %s", kinds[k], k))
		}
	}
	return htmlPage.Execute(w, map[string]any{
		"R": r, "Cols": cols, "Rows": rows, "Structural": structural, "Summary": strings.Join(summary, ", "),
	})
}

var htmlPage = template.Must(template.New("coupling").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Coupling of {{.R.Database}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
th.col { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }
td.m { text-align: center; min-width: 2.5em; }
td.own { background: #cfe8cf; }
td.cross { background: #f3b3b3; font-weight: bold; }
td.use { background: #dde6f3; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 8px; border: 1px solid #ccc; }
.muted { color: #777; }
</style></head><body>
<h1>Coupling of database {{.R.Database}}</h1>
<p class="muted">Evidence: {{.R.Evidence}}</p>
{{if .R.Manifest}}<p><strong>{{len .R.Crossings}} crossings of an owner's line</strong>{{if .Summary}} ({{.Summary}}){{end}}.</p>
<p class="legend"><span class="own" style="background:#cfe8cf">the owner's own use</span><span style="background:#f3b3b3">a crossing</span><span style="background:#dde6f3">a table no service owns yet</span> R read, W write; hover a cell for the calls.</p>
{{else}}<p>No manifest: who uses what, with no owner's line to measure against.</p>{{end}}
<table>
<tr><th>Table</th>{{if .R.Manifest}}<th>Owner</th>{{end}}{{range .Cols}}<th class="col">{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Table}}</td>{{if $.R.Manifest}}<td>{{.Owner}}</td>{{end}}{{range .Cells}}<td class="m {{.Class}}" title="{{.Title}}">{{.Text}}</td>{{end}}</tr>
{{end}}</table>
{{if .Structural}}<h2>What the schema ties together</h2>
<table><tr><th>Who</th><th>Kind</th><th>Table</th><th>Owner</th><th>Detail</th></tr>
{{range .Structural}}<tr><td>{{.Service}}{{if .Role}} ({{.Role}}){{end}}</td><td>{{.Kind}}</td><td>{{.Table}}</td><td>{{.Owner}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{end}}
{{if .R.Unowned}}<p>Tables no service owns yet: {{range $i, $t := .R.Unowned}}{{if $i}}, {{end}}{{$t}}{{end}}</p>{{end}}
{{if .R.Strangers}}<p>Roles the manifest names in no service (shown as ?): {{range $i, $s := .R.Strangers}}{{if $i}}, {{end}}{{$s}}{{end}}</p>{{end}}
{{if .R.DefaultGrants}}<h2>Default privileges (tables created later)</h2><ul>
{{range .R.DefaultGrants}}<li>every table {{.Creator}} creates{{if .Schema}} in schema {{.Schema}}{{end}} grants {{range $i, $p := .Privileges}}{{if $i}}, {{end}}{{$p}}{{end}} to {{.Role}}</li>
{{end}}</ul>{{end}}
{{if .R.Unparsed}}<h2>Statements not read in full</h2><p class="muted">The tables they name are not (all) counted above.</p><ul>
{{range .R.Unparsed}}<li><code>{{.Query}}</code> ({{.Role}}): {{.Err}}</li>
{{end}}</ul>{{end}}
</body></html>
`))
