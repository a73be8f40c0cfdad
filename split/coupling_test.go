package split_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/split"
	"github.com/bounded-dev/bounded/split/demo"
	"github.com/bounded-dev/bounded/split/splittest"
)

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func table(name string) split.TableName {
	t, err := split.ParseTableName(name)
	if err != nil {
		panic(err)
	}
	return t
}

// manifest is how the team splits the shared database.
func manifest(s *demo.Shared) split.Manifest {
	return split.Manifest{
		Services: []split.Ownership{
			{Service: "catalog", Roles: []string{s.Roles["catalog"]}, Tables: []string{"public.products"}},
			{Service: "inventory", Roles: []string{s.Roles["inventory"]}, Tables: []string{"public.stock", "public.purchase_orders"}},
			{Service: "orders", Roles: []string{s.Roles["orders"]}, Tables: []string{"public.orders", "public.order_lines"}},
		},
		Unassigned: []string{"public.legacy_notes"},
	}
}

// use finds what role did to t.
func use(uses []split.Use, role string, t split.TableName) (split.Use, bool) {
	for _, u := range uses {
		if u.Role == role && u.Table == t {
			return u, true
		}
	}
	return split.Use{}, false
}

// checkUses checks that the evidence shows each service's workload: its
// own writes, and the reads that cross into the catalog's products.
func checkUses(t *testing.T, s *demo.Shared, uses []split.Use) {
	t.Helper()
	for _, c := range []struct {
		service, table string
		read, write    bool
	}{
		{"catalog", "public.products", true, true},
		{"inventory", "public.stock", true, true},
		{"inventory", "public.purchase_orders", false, true},
		{"inventory", "public.products", true, false},
		{"inventory", "public.low_stock", true, false},
		{"orders", "public.orders", false, true},
		{"orders", "public.order_lines", false, true},
		{"orders", "public.products", true, false},
	} {
		u, ok := use(uses, s.Roles[c.service], table(c.table))
		if !ok || (u.Reads > 0) != c.read || (u.Writes > 0) != c.write {
			t.Errorf("%s on %s: %+v (found %v), want read %v write %v", c.service, c.table, u, ok, c.read, c.write)
		}
	}
	if _, ok := use(uses, s.Roles["catalog"], table("public.stock")); ok {
		t.Errorf("catalog never touches stock, but the evidence says it did: %+v", uses)
	}
}

// TestCatalogueSampled reads the shared database's catalog and samples its
// activity while its three services work, then measures it against the
// manifest: every crossing the workload and the schema make is reported,
// and none that is not there.
func TestCatalogueSampled(t *testing.T) {
	s := splittest.New(t, testenv.PostgresAdmin(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	splittest.Run(t, ctx, s)
	db := open(t, s.Admin)

	cat, err := split.ReadCatalog(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range cat.Tables {
		names = append(names, tb.String())
	}
	if want := []string{"public.legacy_notes", "public.order_lines", "public.orders", "public.products", "public.purchase_orders", "public.stock"}; !slices.Equal(names, want) {
		t.Fatalf("tables %v, want %v", names, want)
	}
	if len(cat.ForeignKeys) != 4 {
		t.Errorf("foreign keys: %+v, want 4", cat.ForeignKeys)
	}
	if len(cat.Views) != 1 || !slices.Equal(cat.Views[0].Reads, []split.TableName{table("public.products"), table("public.stock")}) {
		t.Errorf("views: %+v, want low_stock reading products and stock", cat.Views)
	}
	if len(cat.DefaultGrants) != 1 || cat.DefaultGrants[0].Role != s.Group || cat.DefaultGrants[0].Schema != "public" ||
		!slices.Equal(cat.DefaultGrants[0].Privileges, []string{"DELETE", "INSERT", "SELECT", "UPDATE"}) {
		t.Errorf("default grants: %+v, want the group's on public", cat.DefaultGrants)
	}

	var progressed int
	stmts, err := split.SampleActivity(ctx, db, split.SampleConfig{For: 1500 * time.Millisecond, Every: 5 * time.Millisecond,
		Progress: func(time.Duration, int) { progressed++ }})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if progressed == 0 {
		t.Error("no progress in 1.5 s")
	}
	uses, unparsed := split.Usage(cat, stmts)
	if len(unparsed) != 0 {
		t.Errorf("unparsed: %+v", unparsed)
	}
	checkUses(t, s, uses)

	m := manifest(s)
	r := split.Coupling(cat, uses, unparsed, "sampled", &m)
	type crossing struct{ service, kind, table string }
	var got []crossing
	for _, c := range r.Crossings {
		got = append(got, crossing{c.Service, c.Kind, c.Table.String()})
	}
	for _, want := range []crossing{
		{"inventory", "reads", "public.products"},
		{"orders", "reads", "public.products"},
		{"inventory", "foreign key", "public.products"},
		{"orders", "foreign key", "public.products"},
		{"public.low_stock", "view", "public.products"},
		{"public.low_stock", "view", "public.stock"},
		{"?", "grant", "public.products"},
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no crossing %+v in %+v", want, got)
		}
	}
	for _, c := range got {
		if c.kind == "reads" || c.kind == "writes" {
			if c.service == "catalog" || c.table != "public.products" {
				t.Errorf("a crossing the workload does not make: %+v", c)
			}
		}
	}
	if !slices.Equal(r.Unowned, []split.TableName{table("public.legacy_notes")}) || !r.Coupled() {
		t.Errorf("unowned %v, coupled %v", r.Unowned, r.Coupled())
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// products: catalog's own use, then the two crossings, by column (catalog, inventory, orders).
		`<tr><td>public.products</td><td>catalog</td><td class="m own" title="catalog on public.products:`,
		`<td class="m cross" title="inventory on public.products:`,
		`<td class="m cross" title="orders on public.products:`,
		`<td>stock_sku_fkey: public.stock(sku) references public.products(sku)</td>`,
	} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if !slices.ContainsFunc(strings.Split(text.String(), "\n"), func(line string) bool {
		return strings.Join(strings.Fields(line), " ") == "public.products catalog catalog, inventory, orders catalog"
	}) || !strings.Contains(text.String(), "crossings of an owner's line") {
		t.Errorf("report:\n%s", text.String())
	}

	// The draft manifest gives each table to its writer.
	draft := split.ProposeManifest(cat, uses)
	if err := draft.Validate(); err != nil {
		t.Fatal(err)
	}
	owns := map[string][]string{}
	for _, o := range draft.Services {
		owns[o.Roles[0]] = o.Tables
	}
	if !slices.Equal(owns[s.Roles["catalog"]], []string{"public.products"}) ||
		!slices.Equal(owns[s.Roles["inventory"]], []string{"public.purchase_orders", "public.stock"}) ||
		!slices.Equal(owns[s.Roles["orders"]], []string{"public.order_lines", "public.orders"}) ||
		!slices.Equal(draft.Unassigned, []string{"public.legacy_notes"}) {
		t.Errorf("draft manifest: %+v", draft)
	}
}

// TestCatalogueFromStatementStats reads the same evidence from
// pg_stat_statements, on a server of the test's own that loads it.
func TestCatalogueFromStatementStats(t *testing.T) {
	server := testenv.NewPostgresServer(t, "shared_preload_libraries = 'pg_stat_statements'")
	s := splittest.New(t, server.DSN())
	db := open(t, s.Admin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := split.StatementStats(ctx, db); !errors.Is(err, split.ErrNoStatementStats) {
		t.Fatalf("before CREATE EXTENSION: %v, want ErrNoStatementStats", err)
	}
	if _, err := db.ExecContext(ctx, "CREATE EXTENSION pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	splittest.Run(t, run, s)
	stop()

	cat, err := split.ReadCatalog(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	stmts, reset, err := split.StatementStats(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if reset.IsZero() {
		t.Error("no reset time from PostgreSQL 14+")
	}
	uses, unparsed := split.Usage(cat, stmts)
	if len(unparsed) != 0 {
		t.Errorf("unparsed: %+v", unparsed)
	}
	checkUses(t, s, uses)
	for _, u := range uses {
		if u.Role == s.Roles["inventory"] && u.Table == table("public.products") && !strings.Contains(u.Example, "description") {
			t.Errorf("the example of inventory reading products is %q, want the purchase-order job's", u.Example)
		}
	}
}

// TestSever severs the shared database along the manifest: each service
// keeps what it did to its own tables and loses every other, the foreign
// keys between owners go, the one inside Orders stays, and nothing is left
// crossing.
func TestSever(t *testing.T) {
	s := splittest.New(t, testenv.PostgresAdmin(t))
	db := open(t, s.Admin)
	ctx := context.Background()
	cat, err := split.ReadCatalog(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	m := manifest(s)
	before, err := split.Remaining(ctx, db, cat, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 14 { // 2 other services × (5 owned tables + 2 sequences: orders' and purchase orders' ids)
		t.Errorf("before: %d crossings, want 14: %q", len(before), before)
	}
	plan, err := split.SeverPlan(ctx, db, cat, m)
	if err != nil {
		t.Fatal(err)
	}
	var sqls []string
	for _, st := range plan.Steps {
		sqls = append(sqls, st.SQL)
	}
	for _, want := range []string{
		`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."products" TO "` + s.Roles["catalog"] + `"`,
		`REVOKE ALL ON TABLE "public"."products" FROM "` + s.Group + `"`,
		`ALTER TABLE "public"."stock" DROP CONSTRAINT "stock_sku_fkey"`,
		`GRANT USAGE ON SEQUENCE "public"."orders_id_seq" TO "` + s.Roles["orders"] + `"`,
		`REVOKE ALL ON SEQUENCE "public"."purchase_orders_id_seq" FROM "` + s.Group + `"`,
	} {
		if !slices.Contains(sqls, want) {
			t.Errorf("plan lacks %s:\n%s", want, strings.Join(sqls, "\n"))
		}
	}
	if len(plan.ByHand) != 2 || !strings.Contains(plan.ByHand[0], "low_stock") ||
		!strings.Contains(plan.ByHand[1], "ALTER DEFAULT PRIVILEGES FOR ROLE") || !strings.Contains(plan.ByHand[1], "FROM \""+s.Group+"\"") {
		t.Errorf("by hand: %q, want the view and the group's default privileges", plan.ByHand)
	}
	if err := plan.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	left, err := split.Remaining(ctx, db, cat, m)
	if err != nil || len(left) != 0 {
		t.Fatalf("after: %q, %v", left, err)
	}

	for _, c := range []struct {
		service, query string
		refused        bool
	}{
		{"inventory", "SELECT description FROM products", true},
		{"orders", "SELECT price_cents FROM products", true},
		{"catalog", "SELECT count(*) FROM stock", true},
		{"catalog", "UPDATE products SET price_cents = 1 WHERE sku = 'MUG'", false},
		{"inventory", "UPDATE stock SET on_hand = 9 WHERE sku = 'MUG'", false},
		{"inventory", "INSERT INTO purchase_orders (sku, quantity, note) VALUES ('MUG', 1, 'from an event')", false},
		{"orders", "SELECT count(*) FROM orders JOIN order_lines ON order_id = id", false},
		{"orders", "INSERT INTO orders (email) VALUES ('grace@example.com')", false}, // its own sequence
		{"orders", "SELECT nextval('purchase_orders_id_seq')", true},
	} {
		err := splittest.Exec(t, s, c.service, c.query)
		var pgErr *pgconn.PgError
		refused := errors.As(err, &pgErr) && pgErr.Code == "42501"
		if refused != c.refused || (err != nil && !refused) {
			t.Errorf("%s: %s: %v, want refused %v", c.service, c.query, err, c.refused)
		}
	}
	cat, err = split.ReadCatalog(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.ForeignKeys) != 1 || cat.ForeignKeys[0].From != table("public.order_lines") || cat.ForeignKeys[0].To != table("public.orders") {
		t.Errorf("foreign keys after: %+v, want only order_lines → orders", cat.ForeignKeys)
	}
	// Severed, a second plan has nothing left to run.
	again, err := split.SeverPlan(ctx, db, cat, m)
	if err != nil || len(again.Steps) != 0 {
		t.Errorf("a second plan: %+v, %v", again.Steps, err)
	}
	// A role the manifest names that the server lacks has no privileges,
	// and is no error.
	m.Services = append(m.Services, split.Ownership{Service: "ghost", Roles: []string{"bounded_no_such_role"}})
	if _, err := split.SeverPlan(ctx, db, cat, m); err != nil {
		t.Errorf("a plan naming a missing role: %v", err)
	}
	if left, err := split.Remaining(ctx, db, cat, m); err != nil || len(left) != 0 {
		t.Errorf("remaining with a missing role: %q, %v", left, err)
	}
}

func TestManifestValidate(t *testing.T) {
	for _, c := range []struct {
		json, err string
	}{
		{`{"services":[{"service":"a","roles":["r"],"tables":["t"]}]}`, ""},
		{`{"services":[{"service":"a","roles":["r"],"tables":["t"]},{"service":"b","roles":["s"],"tables":["public.t"]}]}`, "table public.t is in both a and b"},
		{`{"services":[{"service":"a","roles":["r"]},{"service":"b","roles":["r"]}]}`, "role r is in both a and b"},
		{`{"services":[{"service":"a","roles":["r"]},{"service":"a","roles":["s"]}]}`, "service a appears twice"},
		{`{"services":[{"service":"a"}]}`, "service a names no role"},
		{`{"services":[{"service":"a","roles":["r"],"table":["t"]}]}`, `unknown field "table"`},
		{`{"services":[{"service":"a","roles":["r"],"tables":["a.b.c"]}]}`, "not a table name"},
	} {
		_, err := split.DecodeManifest(strings.NewReader(c.json))
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.json, err, c.err)
		}
	}
}

// TestUsageFollowsSearchPaths resolves unqualified names as PostgreSQL
// would for the role that ran them: its search_path setting, else "$user"
// then public; a name the path does not settle and two schemas have is
// reported, not guessed.
func TestUsageFollowsSearchPaths(t *testing.T) {
	cat := split.Catalog{
		Tables: []split.Table{
			{TableName: table("a.events")}, {TableName: table("b.events")}, {TableName: table("public.notes")},
		},
		SearchPaths: map[string][]string{"ra": {"a", "public"}},
	}
	uses, unread := split.Usage(cat, []split.Statement{
		{Role: "ra", Query: "SELECT * FROM events JOIN notes ON true", Calls: 2},
		{Role: "b", Query: "INSERT INTO events VALUES (1)", Calls: 3}, // "$user" is b
		{Role: "rc", Query: "SELECT * FROM events, notes", Calls: 1},
	})
	for _, want := range []split.Use{
		{Role: "ra", Table: table("a.events"), Reads: 2},
		{Role: "ra", Table: table("public.notes"), Reads: 2},
		{Role: "b", Table: table("b.events"), Writes: 3},
		{Role: "rc", Table: table("public.notes"), Reads: 1},
	} {
		u, ok := use(uses, want.Role, want.Table)
		if !ok || u.Reads != want.Reads || u.Writes != want.Writes {
			t.Errorf("%s on %s: %+v (found %v), want %+v", want.Role, want.Table, u, ok, want)
		}
	}
	if len(uses) != 4 {
		t.Errorf("uses %+v, want 4", uses)
	}
	if len(unread) != 1 || unread[0].Role != "rc" || !strings.Contains(unread[0].Err, "events is in schemas a, b") {
		t.Errorf("unread %+v, want rc's events named as ambiguous", unread)
	}
}

// TestCatalogReadsSearchPaths reads a role's search_path setting, the one
// for this database over the one for all.
func TestCatalogReadsSearchPaths(t *testing.T) {
	s := splittest.New(t, testenv.PostgresAdmin(t))
	db := open(t, s.Admin)
	ctx := context.Background()
	inv, orders := s.Roles["inventory"], s.Roles["orders"]
	for _, q := range []string{
		`ALTER ROLE ` + inv + ` SET search_path = everywhere`,
		`ALTER ROLE ` + inv + ` IN DATABASE ` + s.Name + ` SET search_path = inventory, "My Schema", public`,
		`ALTER ROLE ` + orders + ` SET search_path = "$user", orders`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), `ALTER ROLE `+inv+` RESET search_path`)
		_, _ = db.ExecContext(context.Background(), `ALTER ROLE `+orders+` RESET search_path`)
	})
	cat, err := split.ReadCatalog(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got := cat.SearchPaths[inv]; !slices.Equal(got, []string{"inventory", "My Schema", "public"}) {
		t.Errorf("inventory's path %q", got)
	}
	if got := cat.SearchPaths[orders]; !slices.Equal(got, []string{"$user", "orders"}) {
		t.Errorf("orders' path %q", got)
	}
	if _, ok := cat.SearchPaths[s.Roles["catalog"]]; ok {
		t.Errorf("catalog has no setting, but %q", cat.SearchPaths[s.Roles["catalog"]])
	}
}

// TestProposeManifestNames names each drafted service after its role,
// without the prefix all roles share or a suffix such as _app, and keeps
// the role's own name where two would meet.
func TestProposeManifestNames(t *testing.T) {
	cat := split.Catalog{Tables: []split.Table{{TableName: table("public.a")}, {TableName: table("public.b")}, {TableName: table("public.c")}}}
	for _, c := range []struct {
		roles []string
		want  []string
	}{
		{[]string{"shop_orders_app", "shop_payments_app", "shop_stock"}, []string{"orders", "payments", "stock"}},
		{[]string{"orders_app", "orders_svc", "payments"}, []string{"orders_app", "orders_svc", "payments"}},
		{[]string{"alpha", "beta"}, []string{"alpha", "beta"}},
		{[]string{"x_one", "x_"}, []string{"x_", "one"}}, // sorted by role; "x_" has nothing past the prefix
	} {
		var uses []split.Use
		for i, r := range c.roles {
			uses = append(uses, split.Use{Role: r, Table: cat.Tables[i%3].TableName, Writes: 1})
		}
		m := split.ProposeManifest(cat, uses)
		var got []string
		for _, s := range m.Services {
			got = append(got, s.Service)
		}
		if !slices.Equal(got, c.want) || m.Validate() != nil {
			t.Errorf("%q: services %q (%v), want %q", c.roles, got, m.Validate(), c.want)
		}
	}
}
