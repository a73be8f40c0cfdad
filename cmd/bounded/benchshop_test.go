package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchShopRuns runs a small shop benchmark: every order ships, and the
// figures it reports are the ones it measured (not a timing assertion).
func TestBenchShopRuns(t *testing.T) {
	jsonOut := filepath.Join(t.TempDir(), "shop.json")
	svgOut := filepath.Join(t.TempDir(), "shop.svg")
	var out, errOut strings.Builder
	m := &Main{Stdout: &out, Stderr: &errOut}
	code := m.Main(context.Background(), []string{"bench", "shop", "--orders", "60", "--concurrency", "8", "--products", "3", "--raw-duration", "200ms", "--json", jsonOut, "--svg", svgOut})
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	f, err := os.Open(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	var res shopBenchResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Shipped != 60 || res.Cancelled != 0 || res.DeadLetters != 0 || res.Latency.N != 60 || res.PerSecond <= 0 || res.RawSQLite.Commits == 0 {
		t.Fatalf("result %+v", res)
	}
	// Every order costs commits in every service on its way (catalog is not on it).
	for _, svc := range []string{"cart", "orders", "payments", "inventory", "fulfillment"} {
		if res.Commits[svc] < 0.5 {
			t.Errorf("%s: %.2f commits per order", svc, res.Commits[svc])
		}
	}
	svg, err := os.ReadFile(svgOut)
	if err != nil || !strings.Contains(string(svg), "<polyline") || !strings.Contains(string(svg), "p99") {
		t.Fatalf("chart: %v\n%.300s", err, svg)
	}
	if !strings.Contains(out.String(), "Orders shipped per second") || !strings.Contains(errOut.String(), "orders shipped: 60/60") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
}
