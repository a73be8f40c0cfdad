package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/testenv"
)

// benchShopRun is a finished `bounded bench shop`: its outputs.
type benchShopRun struct {
	res            shopBenchResult
	svg            string
	stdout, stderr string
}

// runBenchShop runs `bounded bench shop` with args and a JSON and SVG
// output, and fails the test unless it exits 0.
func runBenchShop(t *testing.T, args ...string) benchShopRun {
	t.Helper()
	dir := t.TempDir()
	jsonOut, svgOut := filepath.Join(dir, "shop.json"), filepath.Join(dir, "shop.svg")
	code, stdout, stderr := run(t, append([]string{"bench", "shop", "--json", jsonOut, "--svg", svgOut}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := benchShopRun{stdout: stdout, stderr: stderr}
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r.res); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(svgOut)
	if err != nil {
		t.Fatal(err)
	}
	r.svg = string(svg)
	return r
}

// checkMode checks one mode's figures: every order shipped, and the figures
// are the ones it measured (not a timing assertion).
func checkMode(t *testing.T, mr *shopModeResult, mode string, orders int) {
	t.Helper()
	if mr.Mode != mode {
		t.Fatalf("mode %q, want %q", mr.Mode, mode)
	}
	l := mr.Latency
	if mr.Shipped != orders || mr.Cancelled != 0 || mr.DeadLetters != 0 || l.N != orders || mr.PerSecond <= 0 || mr.Seconds <= 0 {
		t.Errorf("%s: %+v", mode, mr)
	}
	if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("%s: percentiles out of order: %+v", mode, l)
	}
	// Every order costs commits in every service on its way (catalog is
	// not on it); filling a cart costs some in the cart.
	for _, svc := range []string{"cart", "orders", "payments", "inventory", "fulfillment"} {
		if mr.Commits[svc] < 0.5 {
			t.Errorf("%s: %s: %.2f commits per order", mode, svc, mr.Commits[svc])
		}
	}
	if mr.CartCommits < 1 || mr.CommitsCounted == "" {
		t.Errorf("%s: %.2f cart commits per order; commits counted %q", mode, mr.CartCommits, mr.CommitsCounted)
	}
	if len(mr.Checks) != 5 {
		t.Errorf("%s: %d invariants checked, want 5: %+v", mode, len(mr.Checks), mr.Checks)
	}
	for _, c := range mr.Checks {
		if !c.OK {
			t.Errorf("%s: invariant %q broken: %s", mode, c.Name, c.Detail)
		}
	}
}

// TestBenchShopRuns runs a small shop benchmark in embedded mode alone (no
// PostgreSQL or NATS named).
func TestBenchShopRuns(t *testing.T) {
	t.Setenv("BOUNDED_ADMIN_DSN", "")
	t.Setenv("BOUNDED_NATS_URL", "")
	r := runBenchShop(t, "--orders", "60", "--concurrency", "8", "--products", "3", "--raw-duration", "200ms")
	if len(r.res.Modes) != 1 {
		t.Fatalf("%d modes, want embedded alone: %+v", len(r.res.Modes), r.res.Modes)
	}
	checkMode(t, r.res.Modes[0], modeEmbedded, 60)
	if r.res.RawSQLite.Commits == 0 || r.res.RawPostgres != nil || r.res.Postgres != "" {
		t.Errorf("raw figures: SQLite %+v, PostgreSQL %+v (%q)", r.res.RawSQLite, r.res.RawPostgres, r.res.Postgres)
	}
	if !strings.Contains(r.svg, "<polyline") || !strings.Contains(r.svg, "p99") {
		t.Fatalf("chart:\n%.300s", r.svg)
	}
	if !strings.Contains(r.stdout, "Orders shipped per second") || !strings.Contains(r.stdout, "Raw commits/s, 1 writer") ||
		strings.Contains(r.stdout, "Distributed") || !strings.Contains(r.stderr, "orders shipped: 60/60") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

// TestBenchShopDistributedNeedsBoth refuses --postgres without --nats.
func TestBenchShopDistributedNeedsBoth(t *testing.T) {
	t.Setenv("BOUNDED_ADMIN_DSN", "")
	t.Setenv("BOUNDED_NATS_URL", "")
	code, stdout, stderr := run(t, "bench", "shop", "--postgres", "postgres://postgres@127.0.0.1:5432/postgres")
	if want := "bounded: bench shop: distributed mode needs both --postgres and --nats\n"; code != 2 || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, want)
	}
}

// TestBenchShopDistributed runs a small shop benchmark in both modes, on the
// test machine's PostgreSQL and NATS: both modes' figures are there, beside
// the raw PostgreSQL ones, and the run leaves no database, role or stream
// behind.
func TestBenchShopDistributed(t *testing.T) {
	admin, natsURL := testenv.PostgresAdmin(t), testenv.NATS(t)
	// Faults too: a cart process is killed while checkouts go to it (they
	// are sent again), then a payments and an inventory process while their
	// events are in flight (they come back after AckWait).
	r := runBenchShop(t, "--orders", "60", "--concurrency", "10", "--products", "3", "--raw-duration", "200ms",
		"--postgres", admin, "--nats", natsURL, "--db-conns", "3", "--kill", "cart,payments,inventory", "--kill-every", "300ms")
	if len(r.res.Modes) != 2 {
		t.Fatalf("%d modes, want 2: %+v", len(r.res.Modes), r.res.Modes)
	}
	checkMode(t, r.res.Modes[0], modeEmbedded, 60)
	checkMode(t, r.res.Modes[1], modeDistributed, 60)
	if r.res.RawSQLite.Commits == 0 || len(r.res.RawPostgres) != 2 || !strings.HasPrefix(r.res.Postgres, "PostgreSQL ") {
		t.Fatalf("raw figures: SQLite %+v, PostgreSQL %+v (%q)", r.res.RawSQLite, r.res.RawPostgres, r.res.Postgres)
	}
	if r.res.Modes[0].Deadlocks != nil || r.res.Modes[1].Deadlocks == nil {
		t.Errorf("deadlocks: embedded %v, distributed %v; want them counted in distributed mode only", r.res.Modes[0].Deadlocks, r.res.Modes[1].Deadlocks)
	}
	for i, want := range []int{1, 8} {
		if raw := r.res.RawPostgres[i]; raw.Writers != want || raw.Commits == 0 || raw.PerSecond <= 0 {
			t.Errorf("raw PostgreSQL, %d writers: %+v", want, raw)
		}
	}
	if d := r.res.Modes[1]; len(d.Kills) == 0 || d.Restarts[d.Kills[0].Service] == 0 || len(r.res.Modes[0].Kills) != 0 {
		t.Errorf("kills %+v, restarts %v (embedded kills %+v)", d.Kills, d.Restarts, r.res.Modes[0].Kills)
	}
	for _, s := range []string{"Embedded", "Distributed", "PostgreSQL", "8 writers", "pg_stat_database",
		"Invariants, distributed mode", "killed with SIGKILL", "money taken = value shipped"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	if strings.Count(r.svg, "<polyline") != 2 {
		t.Errorf("chart has %d curves, want 2", strings.Count(r.svg, "<polyline"))
	}
	if !strings.Contains(r.stderr, "orders shipped: 60/60") {
		t.Errorf("stderr:\n%s", r.stderr)
	}

	// The run's own databases, roles and streams are gone.
	m := regexp.MustCompile(`databases and roles (bench_[a-z0-9]+)_<service>`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("stderr does not name the run's prefix:\n%s", r.stderr)
	}
	prefix := m[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left []string
	if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(n), '{}') FROM (
		SELECT datname::text AS n FROM pg_database WHERE starts_with(datname, $1)
		UNION ALL SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1)) x`, prefix+"_").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("left behind in PostgreSQL: %v", left)
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shopSpecs(shopConfig{}) {
		name := prefix + "_" + service.StreamName(s.Name)
		if _, err := js.Stream(ctx, name); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("stream %s: %v, want it gone", name, err)
		}
	}
}
