package web_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// route is an operation of a service's OpenAPI document, its path with the
// server prefix and with every parameter written {}: "GET /cart/carts/{}".
type route struct {
	method, path string
}

// documentedRoutes reads services/*/openapi.json from disk: each
// operation's route and its query parameters' names.
func documentedRoutes(t *testing.T) (routes map[route][]string, prefixes []string) {
	t.Helper()
	docs, err := filepath.Glob("../services/*/openapi.json")
	if err != nil || len(docs) < 6 {
		t.Fatalf("found %d OpenAPI documents (%v); want the six services'", len(docs), err)
	}
	param := regexp.MustCompile(`\{[^}]*\}`)
	routes = map[route][]string{}
	for _, name := range docs {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		type parameter struct{ Name, In string }
		var doc struct {
			Servers []struct{ URL string }
			Paths   map[string]map[string]json.RawMessage
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(doc.Servers) != 1 || !strings.HasPrefix(doc.Servers[0].URL, "/") {
			t.Fatalf("%s: want one server URL, a path", name)
		}
		prefix := doc.Servers[0].URL
		prefixes = append(prefixes, prefix)
		for p, item := range doc.Paths {
			var shared []parameter
			if raw, ok := item["parameters"]; ok {
				_ = json.Unmarshal(raw, &shared)
			}
			for method, raw := range item {
				if method == "parameters" || method == "summary" || method == "description" {
					continue
				}
				var op struct{ Parameters []parameter }
				if err := json.Unmarshal(raw, &op); err != nil {
					t.Fatalf("%s %s %s: %v", name, method, p, err)
				}
				var query []string
				for _, prm := range append(slices.Clone(shared), op.Parameters...) {
					if prm.In == "query" {
						query = append(query, prm.Name)
					}
				}
				routes[route{strings.ToUpper(method), param.ReplaceAllString(prefix+p, "{}")}] = query
			}
		}
	}
	return routes, prefixes
}

var (
	// A call of api.js: call("PUT", `/cart/carts/${seg(id)}/items/${seg(sku)}`, ...).
	callRE = regexp.MustCompile("call\\(\\s*\"([A-Z]+)\"\\s*,\\s*`([^`]*)`")
	// The query of a call: `...?${query({ active: "true", limit: 500, after })}`.
	queryRE       = regexp.MustCompile(`^\$\{query\(\{([^}]*)\}\)\}$`)
	templateVarRE = regexp.MustCompile(`\$\{[^}]*\}`)
	identRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// TestScriptsCallOnlyDocumentedRoutes extracts every API call of the
// scripts (method, path template and the query parameters it names) and
// holds it to the services' OpenAPI documents, read from disk. No script
// may name a service path outside such a call.
func TestScriptsCallOnlyDocumentedRoutes(t *testing.T) {
	routes, prefixes := documentedRoutes(t)
	literal := regexp.MustCompile("[\"'`](" + strings.Join(prefixes, "|") + ")/")
	calls := 0
	for _, name := range sortedKeys(scripts(t)) {
		src := scripts(t)[name]
		found := callRE.FindAllStringSubmatch(src, -1)
		if n := len(literal.FindAllString(src, -1)); n != len(found) {
			t.Errorf("%s names a service path %d times but makes %d calls of the form call(\"METHOD\", `path`): "+
				"every request must go through call in that form, for this test to see it", name, n, len(found))
		}
		for _, m := range found {
			calls++
			method, tmpl := m[1], m[2]
			p, q, _ := strings.Cut(tmpl, "?")
			r := route{method, templateVarRE.ReplaceAllString(p, "{}")}
			documented, ok := routes[r]
			if !ok {
				t.Errorf("%s: %s %s is in no service's OpenAPI document", name, method, tmpl)
				continue
			}
			if q == "" {
				continue
			}
			qm := queryRE.FindStringSubmatch(q)
			if qm == nil {
				t.Errorf("%s: %s %s: build the query with ${query({...})}, for this test to read it", name, method, tmpl)
				continue
			}
			for _, part := range strings.Split(qm[1], ",") {
				key, _, _ := strings.Cut(strings.TrimSpace(part), ":")
				key = strings.TrimSpace(key)
				if strings.HasPrefix(key, "...") {
					continue // a spread of the caller's filter: not checked here
				}
				if !identRE.MatchString(key) {
					t.Errorf("%s: %s %s: cannot read the query parameter %q", name, method, tmpl, key)
				} else if !slices.Contains(documented, key) {
					t.Errorf("%s: %s %s: query parameter %q is not documented (the route has %v)", name, method, p, key, documented)
				}
			}
		}
	}
	if calls < 10 {
		t.Fatalf("found %d API calls in the scripts; has the pattern gone stale?", calls)
	}
}

// TestCheckoutOffersTheSimulatorsTokens: the checkout's card-token choices
// are the payment simulator's test tokens (its Token* constants, read from
// the source of services/payments), plus one token it does not know.
func TestCheckoutOffersTheSimulatorsTokens(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("../services/payments/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var simulator []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Token") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						simulator = append(simulator, s)
					}
				}
			}
		}
	}
	if len(simulator) < 5 {
		t.Fatalf("found %d Token constants in services/payments: %v", len(simulator), simulator)
	}
	src := scripts(t)["js/views/checkout.js"]
	var offered []string
	for _, m := range regexp.MustCompile(`token: "([^"]+)"`).FindAllStringSubmatch(src, -1) {
		offered = append(offered, m[1])
	}
	var unknown []string
	for _, tok := range offered {
		if !slices.Contains(simulator, tok) {
			unknown = append(unknown, tok)
		}
	}
	for _, tok := range simulator {
		if !slices.Contains(offered, tok) {
			t.Errorf("the checkout does not offer the simulator's token %q", tok)
		}
	}
	if len(unknown) != 1 {
		t.Errorf("the checkout offers %v the simulator does not know; want exactly one (to show invalid_token)", unknown)
	}
}
