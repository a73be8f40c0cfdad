package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/split"
	"github.com/bounded-dev/bounded/split/demo"
	"github.com/bounded-dev/bounded/split/splittest"
)

// TestSplit leads the shared database of split/splittest out through the
// CLI, as a team would: catalogue it while its services work, draft a
// manifest, measure against the team's manifest (exit 1: crossings), plan,
// be refused while services still cross, sever with --force, and check.
func TestSplit(t *testing.T) {
	s := splittest.New(t, testenv.PostgresAdmin(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	splittest.Run(t, ctx, s)
	dir := t.TempDir()

	code, stdout, stderr := run(t, "split", "coupling", "--dsn", s.Admin, "--sample", "1s")
	if code != 0 || !strings.Contains(stdout, "No manifest") || !strings.Contains(stdout, "public.purchase_orders") {
		t.Fatalf("coupling without a manifest: exit %d\n%s%s", code, stdout, stderr)
	}

	draft := filepath.Join(dir, "draft.json")
	if code, stdout, stderr = run(t, "split", "manifest", "--dsn", s.Admin, "--sample", "1s", "--out", draft); code != 0 {
		t.Fatalf("manifest: exit %d\n%s%s", code, stdout, stderr)
	}
	m, err := split.ReadManifest(draft)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Services) != 3 {
		t.Errorf("draft: %+v, want 3 services", m)
	}
	if code, _, stderr = run(t, "split", "manifest", "--dsn", s.Admin, "--sample", "1s", "--out", draft); code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("manifest over an existing file: exit %d, %q", code, stderr)
	}

	// The team's manifest names the services.
	owners := filepath.Join(dir, "owners.json")
	writeManifest(t, owners, split.Manifest{Services: []split.Ownership{
		{Service: "catalog", Roles: []string{s.Roles["catalog"]}, Tables: []string{"public.products"}},
		{Service: "inventory", Roles: []string{s.Roles["inventory"]}, Tables: []string{"public.stock", "public.purchase_orders"}},
		{Service: "orders", Roles: []string{s.Roles["orders"]}, Tables: []string{"public.orders", "public.order_lines", "public.legacy_notes"}},
	}})
	page := filepath.Join(dir, "coupling.html")
	code, stdout, stderr = run(t, "split", "coupling", "--dsn", s.Admin, "--sample", "1s", "--manifest", owners, "--json", "--html", page)
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), `class="m cross"`) {
		t.Errorf("the page: %v\n%.400s", err, b)
	}
	var report split.Report
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("coupling --json: %v\n%s", err, stdout)
	}
	if code != 1 || len(report.Crossings) == 0 ||
		!strings.HasSuffix(stderr, "\nbounded: split coupling: "+strconv.Itoa(len(report.Crossings))+" crossings of an owner's line\n") {
		t.Errorf("coupling with crossings: exit %d, %d crossings, stderr %q", code, len(report.Crossings), stderr)
	}

	code, stdout, _ = run(t, "split", "sever", "--dsn", s.Admin, "--manifest", owners)
	if code != 0 || !strings.Contains(stdout, "REVOKE ALL ON TABLE") || !strings.Contains(stdout, "Nothing changed") {
		t.Errorf("sever plan: exit %d\n%s", code, stdout)
	}
	code, _, stderr = run(t, "split", "sever", "--dsn", s.Admin, "--manifest", owners, "--apply", "--sample", "1s")
	if code != 1 || !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "inventory reads public.products") {
		t.Errorf("sever while inventory reads the catalog's products: exit %d, %q", code, stderr)
	}
	if err := splittest.Exec(t, s, "inventory", "SELECT description FROM products"); err != nil {
		t.Fatalf("a refused sever changed something: %v", err)
	}

	cancel() // the services stop; severed, their crossing statements fail
	code, stdout, stderr = run(t, "split", "sever", "--dsn", s.Admin, "--manifest", owners, "--apply", "--force")
	if code != 0 || !strings.Contains(stdout, "Checked: no service's role may touch another service's tables") {
		t.Fatalf("sever --force: exit %d\n%s%s", code, stdout, stderr)
	}
	if err := splittest.Exec(t, s, "inventory", "SELECT description FROM products"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("inventory reads the catalog's products after the sever: %v", err)
	}

	// Inventory's own copy of the products, as its consumer of Catalog's
	// events keeps it, in the SQLite file embedded mode keeps it in.
	copies := filepath.Join(dir, "inventory.db")
	sqlite, err := sql.Open("sqlite", copies)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlite.Close()
	if _, err := sqlite.Exec(`CREATE TABLE product_copies (sku TEXT PRIMARY KEY, name TEXT, long_description TEXT);
		INSERT INTO product_copies VALUES ('MUG', 'Mug', 'A mug.'), ('PAN', 'Pan', 'A pan, old.')`); err != nil {
		t.Fatal(err)
	}
	compare := []string{"split", "compare", "--shared", s.Admin, "--shared-query", "SELECT sku, name, description FROM products",
		"--service", copies, "--service-query", "SELECT sku, name, long_description AS description FROM product_copies", "--key", "sku"}
	code, stdout, stderr = run(t, compare...)
	if code != 1 || !strings.Contains(stdout, `changed ("PAN"): description: shared "A pan.", service "A pan, old."`) ||
		!strings.HasSuffix(stderr, "bounded: split compare: 0 missing, 0 extra, 1 changed\n") {
		t.Errorf("compare with a stale copy: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := sqlite.Exec(`UPDATE product_copies SET long_description = 'A pan.' WHERE sku = 'PAN'`); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr = run(t, compare...); code != 0 || !strings.Contains(stdout, "Equal.") {
		t.Errorf("compare with a faithful copy: exit %d\n%s%s", code, stdout, stderr)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"split", "compare", "--shared", s.Admin, "--shared-query", "SELECT 1", "--service", copies, "--service-query", "SELECT 1"}, "no Key"},
		{[]string{"split", "coupling"}, "split coupling: --dsn (or $BOUNDED_SHARED_DSN) is required"},
		{[]string{"split", "coupling", "--dsn", "shop.db"}, "want a PostgreSQL URL"},
		{[]string{"split", "coupling", "--dsn", s.Admin, "--manifest", filepath.Join(dir, "none.json")}, "no such file"},
		{[]string{"split", "sever", "--dsn", s.Admin}, "--manifest is required"},
		{[]string{"split", "sever", "--dsn", s.Admin, "--manifest", owners, "--force"}, "--force only means something with --apply"},
		{[]string{"split", "coupling", "--dsn", s.Admin}, "pg_stat_statements is not installed"},
	} {
		code, _, stderr := run(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q, want one line with %q", c.args, code, stderr, c.want)
		}
	}
}

func writeManifest(t *testing.T, path string, m split.Manifest) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := m.Write(f); err != nil {
		t.Fatal(err)
	}
}

// TestSplitDemo makes the demo's shared database, runs its services for a
// second, refuses to make it twice, and drops it.
func TestSplitDemo(t *testing.T) {
	admin := testenv.PostgresAdmin(t)
	name := testenv.UniqueName("bounded_split_demo_")
	t.Cleanup(func() { _ = demo.Drop(context.Background(), admin, name) })

	code, stdout, stderr := run(t, "split", "demo", "--admin", admin, "--name", name, "--for", "1s")
	if code != 0 || !strings.Contains(stdout, "Made the shared database "+name) || !strings.Contains(stdout, "export BOUNDED_SHARED_DSN=") {
		t.Fatalf("demo: exit %d\n%s%s", code, stdout, stderr)
	}
	var ran int
	if _, err := fmt.Sscanf(stdout[strings.Index(stdout, "Ran "):], "Ran %d statements", &ran); err != nil || ran < 7 {
		t.Errorf("demo ran %d statements (%v), want every service's at least once:\n%s", ran, err, stdout)
	}
	if code, _, stderr = run(t, "split", "demo", "--admin", admin, "--name", name, "--for", "1s"); code != 1 ||
		!strings.Contains(stderr, "already exists") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("a second demo of one name: exit %d, %q", code, stderr)
	}
	if code, stdout, stderr = run(t, "split", "demo", "--admin", admin, "--name", name, "--drop"); code != 0 {
		t.Fatalf("demo --drop: exit %d\n%s%s", code, stdout, stderr)
	}
	conn := pgConnect(t, admin)
	if n := pgCount(t, conn, "SELECT count(*) FROM pg_database WHERE datname = $1", name); n != 0 {
		t.Errorf("the database is still there after --drop")
	}
	if n := pgCount(t, conn, "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", name+"%"); n != 0 {
		t.Errorf("%d roles still there after --drop", n)
	}
}
