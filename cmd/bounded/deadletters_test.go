package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/servicetest"
)

// TestDeadLettersUsage: a missing or bad argument, or a discard without
// --yes, is one line on stderr and exit 2, before anything is asked of a
// shop; a shop that does not answer is one line and exit 1.
func TestDeadLettersUsage(t *testing.T) {
	t.Setenv("BOUNDED_URL", "")
	t.Setenv("BOUNDED_ADMIN_TOKEN", "")
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"dead-letters"}, `bounded: "dead-letters" needs a subcommand: dead-letters list, dead-letters replay, dead-letters discard` + "\n"},
		{[]string{"dead-letters", "show"}, `bounded: "dead-letters show" needs a subcommand: dead-letters list, dead-letters replay, dead-letters discard` + "\n"},
		{[]string{"dead-letters", "list", "extra"}, `bounded: dead-letters list: unexpected argument "extra"` + "\n"},
		{[]string{"dead-letters", "list", "--bogus"}, "bounded: dead-letters list: flag provided but not defined: -bogus\n"},
		{[]string{"dead-letters", "list", "--url", "ftp://x"}, `bounded: dead-letters list: --url "ftp://x": want an http(s) URL such as http://127.0.0.1:8080` + "\n"},
		{[]string{"dead-letters", "replay"}, "bounded: dead-letters replay: want SERVICE ID (as 'bounded dead-letters list' shows them)\n"},
		{[]string{"dead-letters", "replay", "orders"}, "bounded: dead-letters replay: want SERVICE ID (as 'bounded dead-letters list' shows them)\n"},
		{[]string{"dead-letters", "replay", "orders", "x"}, `bounded: dead-letters replay: dead letter id "x": want a positive integer` + "\n"},
		{[]string{"dead-letters", "replay", "orders", "0"}, `bounded: dead-letters replay: dead letter id "0": want a positive integer` + "\n"},
		{[]string{"dead-letters", "replay", "orders", "1", "2"}, `bounded: dead-letters replay: unexpected argument "2"` + "\n"},
		{[]string{"dead-letters", "replay", "orders", "1", "--url", "x"}, `bounded: dead-letters replay: --url "x": want an http(s) URL such as http://127.0.0.1:8080` + "\n"},
		{[]string{"dead-letters", "discard", "orders", "1"}, "bounded: dead-letters discard: nothing discarded; give --yes to delete dead letter 1 of orders for good\n"},
		{[]string{"dead-letters", "discard", "--yes"}, "bounded: dead-letters discard: want SERVICE ID (as 'bounded dead-letters list' shows them)\n"},
		{[]string{"dead-letters", "discard", "orders", "-1", "--yes"}, "bounded: dead-letters discard: flag provided but not defined: -1\n"},
		{[]string{"dead-letters", "discard", "--yes", "--", "orders", "-1"}, `bounded: dead-letters discard: dead letter id "-1": want a positive integer` + "\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != 2 || stderr != tc.stderr || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, stdout, stderr, tc.stderr)
			}
		})
	}
	for _, args := range [][]string{
		{"dead-letters", "list"},
		{"dead-letters", "replay", "orders", "1"},
		{"dead-letters", "discard", "--yes", "orders", "1"},
	} {
		code, _, stderr := run(t, append(args, "--url", "http://127.0.0.1:1", "--admin-token", "t")...)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "does not answer at http://127.0.0.1:1") {
			t.Errorf("%v with no shop: exit %d, stderr %q", args, code, stderr)
		}
	}
	code, _, stderr := run(t, "dead-letters", "list", "--data", t.TempDir())
	if code != 1 || !strings.HasPrefix(stderr, "bounded: dead-letters list: no admin token: give --admin-token or $BOUNDED_ADMIN_TOKEN") {
		t.Errorf("no token: exit %d, stderr %q", code, stderr)
	}
}

// TestDeadLettersThroughTheGateway: in distributed mode the gateway
// forwards a discard (and a replay) to a process of the service named, with
// the token, and the command prints the process's answer.
func TestDeadLettersThroughTheGateway(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	proc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			io.WriteString(w, `{"replayed":7,"service":"payments","event_id":"ev-7"}`)
			return
		}
		io.WriteString(w, `{"id":7,"service":"payments","consumer":"payments-orders","event_id":"ev-7","event_type":"","error":"decode: bad","attempts":2}`)
	}))
	t.Cleanup(proc.Close)
	u, _ := url.Parse(proc.URL)
	children := []*child{{cfg: childConfig{service: "payments"}, addr: proc.URL, proxy: newProxy("payments", u)}}
	gw := httptest.NewServer(newGateway(children, "tok", slog.New(slog.DiscardHandler)))
	t.Cleanup(gw.Close)

	code, stdout, stderr := run(t, "dead-letters", "discard", "payments", "7", "--yes", "--url", gw.URL, "--admin-token", "tok")
	if code != 0 || stdout != "discarded dead letter 7 of payments: event ev-7 (-) of consumer payments-orders, 2 attempts, error: decode: bad (the shop's log keeps it whole)\n" {
		t.Errorf("discard through the gateway: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "dead-letters", "replay", "--url", gw.URL, "--admin-token", "tok", "payments", "7")
	if code != 0 || stdout != "replayed dead letter 7 of payments (event ev-7): applied, and deleted\n" {
		t.Errorf("replay through the gateway: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = run(t, "dead-letters", "discard", "nope", "7", "--yes", "--url", gw.URL, "--admin-token", "tok")
	if code != 1 || stderr != "bounded: dead-letters discard: no service \"nope\"; services: [payments] (HTTP 404)\n" {
		t.Errorf("an unknown service: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "dead-letters", "discard", "payments", "7", "--yes", "--url", gw.URL, "--admin-token", "wrong")
	if code != 1 || !strings.Contains(stderr, "(HTTP 401)") {
		t.Errorf("a wrong token: exit %d, stderr %q", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "DELETE /ops/dead-letters/payments/7 Bearer tok,POST /ops/dead-letters/payments/7/replay Bearer tok"; strings.Join(seen, ",") != want {
		t.Errorf("the process saw %q, want %q", seen, want)
	}
}

// TestDeadLetters runs the commands against a started shop (embedded): a
// malformed message published onto Catalog's stream with a type only
// Reporting reads becomes one dead letter; it is listed, fails its replay
// (and stays), is not discarded without --yes, is with it (and counted),
// and the list is empty again.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	s := startShop(t, "")
	cli := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(append([]string{"dead-letters"}, args...), "--url", s.base, "--admin-token", servicetest.AdminToken)...)
	}
	var id string
	t.Run("list empty", func(t *testing.T) {
		// The token as 'bounded up' keeps it, in the data directory.
		data := t.TempDir()
		if err := os.WriteFile(filepath.Join(data, "admin-token"), []byte(servicetest.AdminToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := run(t, "dead-letters", "list", "--url", s.base, "--data", data)
		if code != 0 || stdout != "no dead letters\n" || stderr != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("list one", func(t *testing.T) {
		natsURL := ""
		for line := range strings.Lines(s.stdout.String()) {
			if _, u, ok := strings.Cut(line, "NATS JetStream (embedded): "); ok {
				natsURL = strings.TrimSpace(u)
			}
		}
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Fatalf("NATS at %q: %v", natsURL, err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		// A type only Reporting reads (the other readers of Catalog's
		// stream skip it), and no event.
		typ := "catalog.category_updated.v1"
		if _, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: typ, Header: nats.Header{"ce-type": {typ}}, Data: []byte("not an event")}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a dead letter", func() bool {
			var v struct{ Count int }
			s.must(t, "GET", "/ops/dead-letters", nil, true, http.StatusOK, &v)
			return v.Count > 0
		})
		code, stdout, stderr := cli(t, "list", "--service", "reporting")
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if code != 0 || stderr != "" || len(lines) != 2 {
			t.Fatalf("exit %d, stderr %q, want a header and one row:\n%s", code, stderr, stdout)
		}
		header, row := lines[0], strings.Fields(lines[1])
		if !strings.HasPrefix(header, "ID  SERVICE    CONSUMER") || !strings.Contains(header, "EVENT TYPE  ATTEMPTS  DEAD AT") || !strings.HasSuffix(header, "ERROR") {
			t.Errorf("header %q", header)
		}
		if len(row) < 8 || row[1] != "reporting" || row[3] != "-" || row[4] != "1" || row[7] != "decode:" ||
			!strings.HasSuffix(lines[1], "…") || len([]rune(lines[1][strings.Index(lines[1], "decode:"):])) != deadLetterErrorWidth {
			t.Errorf("row %q: want reporting's, no type, 1 attempt, the decode error cut to %d characters", lines[1], deadLetterErrorWidth)
		}
		id = row[0]
		if code, stdout, _ := cli(t, "list", "--service", "orders"); code != 0 || stdout != "no dead letters\n" {
			t.Errorf("list --service orders: exit %d:\n%s", code, stdout)
		}
		if code, _, stderr := cli(t, "list", "--service", "nope"); code != 1 || !strings.Contains(stderr, `no service "nope"`) || !strings.HasSuffix(stderr, "(HTTP 404)\n") {
			t.Errorf("list --service nope: exit %d, stderr %q", code, stderr)
		}
	})
	if id == "" {
		t.Fatal("no dead letter to go on with")
	}
	t.Run("replay fails again", func(t *testing.T) {
		code, stdout, stderr := cli(t, "replay", "reporting", id)
		if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "failed again (it stays") || !strings.HasSuffix(stderr, "(HTTP 409)\n") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		_, stdout, _ = cli(t, "list")
		if row := strings.Fields(strings.Split(stdout, "\n")[1]); row[0] != id || row[4] != "2" {
			t.Errorf("after the replay, want dead letter %s with 2 attempts:\n%s", id, stdout)
		}
	})
	t.Run("discard", func(t *testing.T) {
		code, stdout, stderr := cli(t, "discard", "reporting", id)
		if code != 2 || stdout != "" || stderr != "bounded: dead-letters discard: nothing discarded; give --yes to delete dead letter "+id+" of reporting for good\n" {
			t.Errorf("without --yes: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if _, stdout, _ := cli(t, "list"); strings.Count(stdout, "\n") != 2 {
			t.Fatalf("a refused discard removed something:\n%s", stdout)
		}
		code, stdout, stderr = cli(t, "discard", "reporting", id, "--yes")
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "discarded dead letter "+id+" of reporting: event stream:") ||
			!strings.Contains(stdout, "2 attempts, error: decode: from message: malformed event") {
			t.Fatalf("--yes: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if code, stdout, _ := cli(t, "list"); code != 0 || stdout != "no dead letters\n" {
			t.Errorf("after the discard: exit %d:\n%s", code, stdout)
		}
		r := s.do(t, "GET", "/metrics", nil, false)
		if !strings.Contains(string(r.Body), "bounded_inbox_dead_letters_discarded_total{consumer=\"reporting-catalog\",service=\"reporting\"} 1\n") {
			t.Errorf("/metrics does not count the discard:\n%s", grepLines(string(r.Body), "discarded"))
		}
		code, _, stderr = cli(t, "discard", "reporting", id, "--yes")
		if code != 1 || stderr != "bounded: dead-letters discard: no dead letter "+id+" in reporting (HTTP 404)\n" {
			t.Errorf("a second discard: exit %d, stderr %q", code, stderr)
		}
	})
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}
