package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/service"
)

// topology is the owned-data table and the flows between services, built
// from the services' Specs (never hand-kept).
type topology struct {
	Services []topoService `json:"services"`
	Flows    []topoFlow    `json:"flows"`
}

type topoService struct {
	Name       string   `json:"name"`
	Database   string   `json:"database"`
	Aggregates []string `json:"aggregates"`
	Publishes  []string `json:"publishes"` // "catalog.product_updated (v1, v2)"
	Consumes   []string `json:"consumes"`
}

type topoFlow struct {
	From    string `json:"from"`
	To      string `json:"to"`
	What    string `json:"what"`
	Pattern string `json:"pattern"`
	Why     string `json:"why"`
}

func buildTopology(specs []service.Spec) topology {
	var t topology
	for _, s := range specs {
		ts := topoService{Name: s.Name, Database: s.Name, Aggregates: s.Aggregates, Publishes: publishes(s.Events), Consumes: []string{}}
		for _, c := range s.Consumes {
			ts.Consumes = append(ts.Consumes, c.Event)
			t.Flows = append(t.Flows, topoFlow{From: service.Source(c.Event), To: s.Name, What: c.Event, Pattern: string(c.Pattern), Why: c.Why})
		}
		for _, c := range s.Calls {
			// The data flows from the called service to the caller.
			t.Flows = append(t.Flows, topoFlow{From: c.Service, To: s.Name, What: c.Service + " HTTP API", Pattern: string(service.APIComposition), Why: c.Why})
		}
		t.Services = append(t.Services, ts)
	}
	slices.SortStableFunc(t.Flows, func(a, b topoFlow) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	return t
}

// publishes lists a registry's event names with their versions.
func publishes(r *contract.Registry) []string {
	versions := map[string][]string{}
	var names []string
	for _, typ := range r.Types() {
		name, v, err := contract.ParseType(typ)
		if err != nil {
			continue
		}
		if versions[name] == nil {
			names = append(names, name)
		}
		versions[name] = append(versions[name], fmt.Sprintf("v%d", v))
	}
	slices.Sort(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + " (" + strings.Join(versions[n], ", ") + ")"
	}
	return out
}

func (m *Main) parseTopology(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("topology", "Prints the owned-data table: each service, its database, the aggregates it owns,\n"+
		"the events it publishes and consumes, and the pattern of every flow between services.\n"+
		"It is generated from the services' own registrations.")
	format := fs.String("format", "text", "output format: text, markdown or json")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	switch *format {
	case "text", "markdown", "json":
	default:
		return nil, usagef("topology: --format %q: want text, markdown or json", *format)
	}
	return func(context.Context) error {
		return writeTopology(m.Stdout, buildTopology(shopSpecs(shopConfig{})), *format)
	}, nil
}

func orDash(ss []string) string {
	if len(ss) == 0 {
		return "—"
	}
	return strings.Join(ss, ", ")
}

func writeTopology(w io.Writer, t topology, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(t)
	case "markdown":
		fmt.Fprintln(w, "| Service | Database | Owned aggregates | Publishes | Consumes (via events) |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, s := range t.Services {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", s.Name, s.Database, orDash(s.Aggregates), orDash(s.Publishes), orDash(s.Consumes))
		}
		fmt.Fprintln(w, "\n| From | To | What | Pattern | Why |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, f := range t.Flows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", f.From, f.To, f.What, f.Pattern, f.Why)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tDATABASE\tOWNS\tPUBLISHES\tCONSUMES")
	for _, s := range t.Services {
		// One line per published or consumed event keeps the table narrow.
		rows := max(1, len(s.Publishes), len(s.Consumes))
		for i := range rows {
			name, db, owns := "", "", ""
			if i == 0 {
				name, db, owns = s.Name, s.Database, orDash(s.Aggregates)
			}
			pub, con := "", ""
			if i < len(s.Publishes) {
				pub = s.Publishes[i]
			}
			if i < len(s.Consumes) {
				con = s.Consumes[i]
			}
			if i == 0 && len(s.Consumes) == 0 {
				con = "—"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, db, owns, pub, con)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nEach database is the service's own: a SQLite file DATA/<database>.db in embedded mode.")
	fmt.Fprintln(w, "\nFLOWS (data moves from → to)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tTO\tWHAT\tPATTERN\tWHY")
	for _, f := range t.Flows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.From, f.To, f.What, f.Pattern, f.Why)
	}
	return tw.Flush()
}
