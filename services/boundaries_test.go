package services_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/bounded-dev/bounded"

// pkg is what `go list -json` says of a package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// violation says why from may not import to, or "" when it may.
//
//   - A service imports only the toolkit (platform/...), its own packages,
//     and other services' published events packages.
//   - A service's events package is a contract: it imports only
//     platform/contract from the module (its tests may import other
//     services' events packages, to check their reliances).
//   - The toolkit imports no service and not the binary.
func violation(from, to string, test bool) string {
	rel, ok := strings.CutPrefix(to, module+"/")
	if !ok {
		return "" // the standard library or a third-party module
	}
	fromRel := strings.TrimPrefix(from, module+"/")
	switch {
	case strings.HasPrefix(fromRel, "services/"):
		parts := strings.Split(fromRel, "/")
		if len(parts) < 2 {
			return "" // the services folder's own tests
		}
		own := "services/" + parts[1]
		if len(parts) >= 3 && parts[2] == "events" && !test {
			if rel != "platform/contract" {
				return "an events package (a published contract) imports only platform/contract"
			}
			return ""
		}
		switch {
		case strings.HasPrefix(rel, "platform/"), rel == own, strings.HasPrefix(rel, own+"/"):
			return ""
		case strings.HasPrefix(rel, "services/"):
			p := strings.Split(rel, "/")
			if len(p) == 3 && p[2] == "events" {
				return ""
			}
			return fmt.Sprintf("%s may use another service only through its events package (services/%s/events) or its HTTP API", own, p[1])
		}
		return "a service imports only the toolkit, itself and other services' events packages"
	case strings.HasPrefix(fromRel, "platform/"):
		if !strings.HasPrefix(rel, "platform/") {
			return "the toolkit knows nothing of the shop or the binary"
		}
	}
	return ""
}

func TestImportGraphKeepsServicesApart(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var problems []string
	services := map[string]bool{}
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if rel, ok := strings.CutPrefix(p.ImportPath, module+"/services/"); ok {
			services[strings.Split(rel, "/")[0]] = true
		}
		check := func(imports []string, test bool) {
			for _, to := range imports {
				if why := violation(p.ImportPath, to, test); why != "" {
					problems = append(problems, fmt.Sprintf("%s imports %s: %s", p.ImportPath, to, why))
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, true)
		check(p.XTestImports, true)
	}
	for _, want := range []string{"catalog", "cart", "orders", "payments", "inventory", "fulfillment", "reporting"} {
		if !services[want] {
			problems = append(problems, "no service "+want+" found: the check looked at nothing")
		}
	}
	slices.Sort(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestViolationCatchesCrossings holds the rule itself to account: the test
// above is worthless if it lets these through.
func TestViolationCatchesCrossings(t *testing.T) {
	m := module + "/"
	for _, c := range []struct {
		from, to string
		test     bool
		ok       bool
	}{
		{m + "services/orders", m + "services/payments", false, false},
		{m + "services/orders", m + "services/payments/gatewaysim", true, false},
		{m + "services/orders/store", m + "services/catalog/internal/db", false, false},
		{m + "services/orders", m + "cmd/bounded", false, false},
		{m + "services/orders/events", m + "platform/sqldb", false, false},
		{m + "services/orders/events", m + "services/catalog/events", false, false},
		{m + "platform/relay", m + "services/orders/events", false, false},
		{m + "services/orders", m + "services/payments/events", false, true},
		{m + "services/orders", m + "services/orders/events", false, true},
		{m + "services/orders", m + "platform/service", false, true},
		{m + "services/orders/events", m + "platform/contract", false, true},
		{m + "services/orders/events", m + "services/inventory/events", true, true},
		{m + "services/orders", "github.com/google/uuid", false, true},
		{m + "cmd/bounded", m + "services/orders", false, true},
	} {
		got := violation(c.from, c.to, c.test) == ""
		if got != c.ok {
			t.Errorf("%s → %s (test %v): allowed = %v, want %v", c.from, c.to, c.test, got, c.ok)
		}
	}
}
