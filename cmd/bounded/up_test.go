package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/toolkittest"
)

// TestUpServesAndStopsCleanly starts `bounded up` on free ports, checks
// its health and metrics over HTTP, then stops it as Ctrl-C would.
func TestUpServesAndStopsCleanly(t *testing.T) {
	out, w := io.Pipe()
	m := &Main{Stdout: w, Stderr: io.Discard}
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- m.Main(ctx, []string{"up", "--addr", "127.0.0.1:0", "--data", data, "--log", "warn"})
		w.Close()
	}()
	lines := bufio.NewScanner(out)
	var base string
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "bounded is up: "); ok {
			base = rest
			break
		}
	}
	if base == "" {
		t.Fatalf("bounded up printed no address (exit %v)", <-done)
	}
	go io.Copy(io.Discard, out)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/metrics", "/"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
		}
		if path == "/healthz" && !strings.Contains(string(body), `"nats":"ok"`) {
			t.Fatalf("GET /healthz = %s", body)
		}
	}
	resp, err := client.Get(base + "/no/such/thing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown path: %d %s, want 404 application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// A second shop on the same data directory is refused, in one line.
	var stderr strings.Builder
	second := &Main{Stdout: io.Discard, Stderr: &stderr}
	if code := second.Main(ctx, []string{"up", "--addr", "127.0.0.1:0", "--data", data, "--log", "warn"}); code == 0 ||
		!strings.Contains(stderr.String(), fmt.Sprintf("is in use by another bounded (pid %d)", os.Getpid())) ||
		strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
		t.Fatalf("a second bounded up on the same data directory: exit %d, stderr %q; want a one-line refusal naming pid %d", code, stderr.String(), os.Getpid())
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d after Ctrl-C, want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("bounded up did not stop within 15 s")
	}
	// Stopped, it let the directory go.
	unlock, err := lockDataDir(data)
	if err != nil {
		t.Fatalf("after bounded up stopped: %v", err)
	}
	unlock()
}

func TestUpRejectsBadFlags(t *testing.T) {
	var stderr strings.Builder
	m := &Main{Stdout: io.Discard, Stderr: &stderr}
	if code := m.Main(context.Background(), []string{"up", "--nats-addr", "nonsense"}); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if got := strings.Count(strings.TrimSpace(stderr.String()), "\n"); got != 0 || !strings.Contains(stderr.String(), "--nats-addr") {
		t.Fatalf("want one line naming the flag, got %q", stderr.String())
	}
}

// TestUpGeneratesTheAdminTokenOnce: a first start generates the admin token,
// prints it and keeps it (readable by its owner only); it guards the admin
// routes; a restart uses the same one and does not print it again.
func TestUpGeneratesTheAdminTokenOnce(t *testing.T) {
	data := t.TempDir()
	start := func() (out string, stop func()) {
		r, w := io.Pipe()
		m := &Main{Stdout: w, Stderr: io.Discard}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- m.Main(ctx, []string{"up", "--addr", "127.0.0.1:0", "--data", data, "--log", "error"})
			w.Close()
		}()
		var b strings.Builder
		lines := bufio.NewScanner(r)
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
			if strings.Contains(lines.Text(), "Ctrl-C stops it") {
				break
			}
		}
		go io.Copy(io.Discard, r)
		return b.String(), func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("exit %d", code)
			}
		}
	}
	out, stop := start()
	var base, token string
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "bounded is up: "); ok {
			base = rest
		}
		if i := strings.Index(line, "admin token (new, kept in "); i >= 0 {
			token = line[strings.LastIndex(line, " ")+1:]
		}
	}
	if base == "" || len(token) < 16 {
		t.Fatalf("no address or no new token printed:\n%s", out)
	}
	fi, err := os.Stat(filepath.Join(data, "admin-token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	for tok, want := range map[string]int{token: 200, "": 401, "wrong-token-wrong-token": 401} {
		req, _ := http.NewRequest("GET", base+"/ops/dead-letters", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token %q: %d, want %d", tok, resp.StatusCode, want)
		}
	}
	stop()
	out, stop = start()
	defer stop()
	if strings.Contains(out, token) || !strings.Contains(out, "admin token: in ") {
		t.Fatalf("restart printed:\n%s", out)
	}
}

// failingCollector is a metric read when scraped whose read fails, as an
// outbox's backlog does when its query times out.
type failingCollector struct{ desc *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, context.DeadlineExceeded)
}

// TestMetricsGoOnWithoutAMetricThatFails scrapes /metrics while one metric
// cannot be read: the others are served, and the failure is logged.
func TestMetricsGoOnWithoutAMetricThatFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	ok := prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_test_ok_total", Help: "A counter."})
	ok.Add(3)
	reg.MustRegister(ok, failingCollector{prometheus.NewDesc("bounded_test_backlog", "A backlog read when scraped.", nil, nil)})
	var logged toolkittest.LockedBuffer
	root := http.NewServeMux()
	routeRoot(root, rootConfig{
		api:     http.NotFoundHandler(),
		health:  func(context.Context) (map[string]string, bool) { return nil, true },
		metrics: reg,
		log:     slog.New(slog.NewTextHandler(&logged, nil)),
	})
	rec := httptest.NewRecorder()
	root.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	if body := rec.Body.String(); !strings.Contains(body, "bounded_test_ok_total 3") || strings.Contains(body, "bounded_test_backlog") {
		t.Fatalf("/metrics served:\n%s", body)
	}
	if !strings.Contains(logged.String(), "bounded_test_backlog") || !strings.Contains(logged.String(), "deadline exceeded") {
		t.Fatalf("the failed read was not logged: %q", logged.String())
	}
}
