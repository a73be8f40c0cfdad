package httpapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// OpenAPIRoutes reads the routes an OpenAPI 3 document (JSON) declares. An
// operation with a non-empty security requirement is an admin route.
func OpenAPIRoutes(doc []byte) ([]Route, error) {
	var d struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Sec     []map[string][]string                 `json:"security"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		return nil, fmt.Errorf("openapi: version %q, want 3.x", d.OpenAPI)
	}
	var out []Route
	for path, ops := range d.Paths {
		for method, raw := range ops {
			m := strings.ToUpper(method)
			switch m {
			case "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS":
			default:
				continue // parameters, summary, ...
			}
			var op struct {
				Security *[]map[string][]string `json:"security"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("openapi: %s %s: %w", m, path, err)
			}
			sec := d.Sec
			if op.Security != nil {
				sec = *op.Security
			}
			out = append(out, Route{Method: m, Path: path, Admin: len(sec) > 0 && len(sec[0]) > 0})
		}
	}
	return out, nil
}

// CheckOpenAPI compares the routes a Mux serves with those its OpenAPI
// document declares, and describes every difference: a route served but not
// documented, documented but not served, or admin in one and not the other.
func CheckOpenAPI(doc []byte, served []Route) error {
	documented, err := OpenAPIRoutes(doc)
	if err != nil {
		return err
	}
	key := func(r Route) string { return r.Method + " " + r.Path }
	docs := map[string]Route{}
	for _, r := range documented {
		docs[key(r)] = r
	}
	var problems []string
	seen := map[string]bool{}
	for _, r := range served {
		k := key(r)
		seen[k] = true
		d, ok := docs[k]
		switch {
		case !ok:
			problems = append(problems, "served, not documented: "+k)
		case d.Admin != r.Admin:
			problems = append(problems, fmt.Sprintf("%s: served with admin=%v, documented with admin=%v", k, r.Admin, d.Admin))
		}
	}
	for k := range docs {
		if !seen[k] {
			problems = append(problems, "documented, not served: "+k)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("openapi: %s", strings.Join(problems, "; "))
	}
	return nil
}
