package split

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Manifest says which service owns which tables of the shared database, and
// which roles each service connects as. It is the team's decision, written
// down and kept beside the code: the coupling report measures the live
// database against it, and sever enforces it.
type Manifest struct {
	Services []Ownership `json:"services"`
	// Unassigned are tables nobody has taken yet (a proposed manifest lists
	// the tables no role was seen using). A table here is a decision still
	// to make; the report lists it, and sever leaves it alone.
	Unassigned []string `json:"unassigned,omitempty"`
}

// Ownership is one service: the roles it connects as and the tables it
// alone may read and write.
type Ownership struct {
	Service string   `json:"service"`
	Roles   []string `json:"roles"`
	Tables  []string `json:"tables"` // schema.table
}

// ReadManifest reads a manifest (JSON) from path and validates it.
func ReadManifest(path string) (Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("split: manifest: %w", err)
	}
	defer f.Close()
	return DecodeManifest(f)
}

// DecodeManifest reads a manifest (JSON) and validates it. Unknown fields
// are refused: a misspelt "tables" would otherwise own nothing.
func DecodeManifest(r io.Reader) (Manifest, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("split: manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Validate checks that every service has a name and a role, and that no
// role, table or service name appears twice.
func (m Manifest) Validate() error {
	var errs []error
	services, roles, tables := map[string]bool{}, map[string]string{}, map[string]string{}
	claim := func(table, by string) {
		t, err := ParseTableName(table)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if prev, ok := tables[t.String()]; ok {
			errs = append(errs, fmt.Errorf("split: manifest: table %s is in both %s and %s", t, prev, by))
		}
		tables[t.String()] = by
	}
	for _, s := range m.Services {
		if s.Service == "" {
			errs = append(errs, errors.New("split: manifest: a service has no name"))
			continue
		}
		if services[s.Service] {
			errs = append(errs, fmt.Errorf("split: manifest: service %s appears twice", s.Service))
		}
		services[s.Service] = true
		if len(s.Roles) == 0 {
			errs = append(errs, fmt.Errorf("split: manifest: service %s names no role", s.Service))
		}
		for _, r := range s.Roles {
			if prev, ok := roles[r]; ok {
				errs = append(errs, fmt.Errorf("split: manifest: role %s is in both %s and %s", r, prev, s.Service))
			}
			roles[r] = s.Service
		}
		for _, t := range s.Tables {
			claim(t, s.Service)
		}
	}
	for _, t := range m.Unassigned {
		claim(t, "unassigned")
	}
	return errors.Join(errs...)
}

// Write writes the manifest as indented JSON.
func (m Manifest) Write(w io.Writer) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ownerOf is the service owning t, or "" when none does.
func (m Manifest) ownerOf(t TableName) string {
	for _, s := range m.Services {
		for _, name := range s.Tables {
			if u, err := ParseTableName(name); err == nil && u == t {
				return s.Service
			}
		}
	}
	return ""
}

// serviceOf is the service role connects as, or "" when none names it.
func (m Manifest) serviceOf(role string) string {
	for _, s := range m.Services {
		if slices.Contains(s.Roles, role) {
			return s.Service
		}
	}
	return ""
}

// rolesOf are the roles service connects as.
func (m Manifest) rolesOf(service string) []string {
	for _, s := range m.Services {
		if s.Service == service {
			return s.Roles
		}
	}
	return nil
}

// ProposeManifest drafts a manifest from the evidence: one service per role
// that wrote something (named after the role), owning the tables it writes
// most; a table nobody wrote goes to the role that read it most; a table
// nobody used is left unassigned. It is a draft for the team to correct —
// two roles of one service become one entry by hand — never a decision.
func ProposeManifest(cat Catalog, uses []Use) Manifest {
	owner := map[TableName]string{}
	best := map[TableName][2]int64{} // writes, reads of the current owner
	for _, u := range uses {
		if _, ok := cat.Table(u.Table); !ok {
			continue // a view: owned with what it reads, not on its own
		}
		b, ok := best[u.Table]
		if !ok || u.Writes > b[0] || (u.Writes == b[0] && u.Reads > b[1]) ||
			(u.Writes == b[0] && u.Reads == b[1] && u.Role < owner[u.Table]) {
			owner[u.Table] = u.Role
			best[u.Table] = [2]int64{u.Writes, u.Reads}
		}
	}
	byRole := map[string][]string{}
	var m Manifest
	for _, t := range cat.Tables {
		if r, ok := owner[t.TableName]; ok {
			byRole[r] = append(byRole[r], t.String())
		} else {
			m.Unassigned = append(m.Unassigned, t.String())
		}
	}
	for _, u := range uses {
		if _, ok := byRole[u.Role]; !ok {
			byRole[u.Role] = nil // a role that only reads others' tables is a service too
		}
	}
	roles := make([]string, 0, len(byRole))
	for r := range byRole {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	prefix := commonPrefix(roles)
	named := map[string]int{}
	for _, r := range roles {
		named[serviceName(r, prefix)]++
	}
	for _, r := range roles {
		name := serviceName(r, prefix)
		if named[name] > 1 {
			name = r // two roles would make one name: keep each role's own
		}
		m.Services = append(m.Services, Ownership{Service: name, Roles: []string{r}, Tables: byRole[r]})
	}
	return m
}

// commonPrefix is the part up to an underscore that every one of two or
// more roles starts with ("shop_" of shop_orders and shop_payments), or "".
func commonPrefix(roles []string) string {
	if len(roles) < 2 {
		return ""
	}
	p := roles[0]
	for _, r := range roles[1:] {
		for !strings.HasPrefix(r, p) {
			p = p[:len(p)-1]
		}
	}
	if i := strings.LastIndexByte(p, '_'); i >= 0 {
		return p[:i+1]
	}
	return ""
}

// serviceName guesses a service's name from its role's: without the
// prefix every role shares, and without a suffix such as _app:
// "shop_inventory_app" becomes "inventory".
func serviceName(role, prefix string) string {
	if rest, ok := strings.CutPrefix(role, prefix); ok && rest != "" {
		role = rest
	}
	for _, suffix := range []string{"_app", "_svc", "_service", "_user", "_rw"} {
		if s, ok := strings.CutSuffix(role, suffix); ok && s != "" {
			return s
		}
	}
	return role
}
