package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/testenv"
)

// runAsMain makes this test binary play the program: `bounded up
// --postgres` starts each service's process with the binary it runs from,
// which in these tests is the test binary.
const runAsMain = "BOUNDED_TEST_RUN_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsMain) == "1" {
		main()
		return
	}
	os.Setenv(runAsMain, "1") // for the processes the tests start
	testenv.Main(m)
}

// run runs the program on args as main does and returns its exit code,
// stdout and stderr.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	code = m.Main(t.Context(), args)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string // a substring of stdout
		stderr   string // the whole of stderr (one line), or empty
		anyOther bool
	}{
		{args: []string{"help"}, code: 0, stdout: "bench toolkit"},
		{args: []string{"--help"}, code: 0, stdout: "bench toolkit"},
		{args: []string{"version"}, code: 0, stdout: "bounded "},
		{args: []string{"bench", "toolkit", "-h"}, code: 0, stdout: "-only"},
		{args: nil, code: 2, stderr: "bounded: no command given; run 'bounded help'\n"},
		{args: []string{"nope"}, code: 2, stderr: "bounded: unknown command \"nope\"; run 'bounded help'\n"},
		{args: []string{"bench"}, code: 2, stderr: "bounded: \"bench\" needs a subcommand: bench shop, bench reporting, bench toolkit\n"},
		{args: []string{"bench", "nope"}, code: 2, stderr: "bounded: \"bench nope\" needs a subcommand: bench shop, bench reporting, bench toolkit\n"},
		{args: []string{"bench", "toolkit", "--bogus"}, code: 2, stderr: "bounded: bench toolkit: flag provided but not defined: -bogus\n"},
		{args: []string{"bench", "toolkit", "--events", "x"}, code: 2, anyOther: true},
		{args: []string{"bench", "toolkit", "--only", "nope"}, code: 2, anyOther: true},
		{args: []string{"bench", "toolkit", "extra"}, code: 2, stderr: "bounded: bench toolkit: unexpected argument \"extra\"\n"},
		{args: []string{"version", "--x"}, code: 2, stderr: "bounded: version: flag provided but not defined: -x\n"},
	} {
		name := strings.Join(tc.args, " ")
		code, stdout, stderr := run(t, tc.args...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", name, code, tc.code, stderr)
		}
		if !strings.Contains(stdout, tc.stdout) {
			t.Errorf("%q: stdout %q lacks %q", name, stdout, tc.stdout)
		}
		switch {
		case tc.anyOther:
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "bounded: ") {
				t.Errorf("%q: stderr %q, want one line", name, stderr)
			}
			if stdout != "" {
				t.Errorf("%q: stdout %q, want nothing", name, stdout)
			}
		case tc.stderr != stderr:
			t.Errorf("%q: stderr %q, want %q", name, stderr, tc.stderr)
		}
	}
}

// TestBenchToolkit runs the real command end to end on the NATS server the
// tests use, one small phase, and checks both output files.
func TestBenchToolkit(t *testing.T) {
	dir := t.TempDir()
	md, js := filepath.Join(dir, "bench.md"), filepath.Join(dir, "bench.json")
	code, stdout, stderr := run(t, "bench", "toolkit", "--nats", testenv.NATS(t), "--only", "raw-jetstream",
		"--events", "300", "--out", md, "--json", js)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "| JetStream async publishes/s") {
		t.Errorf("stdout lacks the results table:\n%s", stdout)
	}
	if !strings.Contains(stderr, "raw-jetstream") {
		t.Errorf("stderr shows no progress:\n%s", stderr)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != stdout {
		t.Errorf("--out differs from stdout:\n%s", b)
	}
	b, err = os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Command      string `json:"command"`
		RawJetStream struct {
			Acked int `json:"acked"`
		} `json:"raw_jetstream"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.RawJetStream.Acked != 6*300 || // 3 runs alone, 3 with a consumer
		!strings.HasPrefix(rep.Command, "bounded bench toolkit --nats") {
		t.Errorf("JSON: %+v", rep)
	}
}

// TestBenchToolkitEmbedded checks --nats embedded starts and stops a
// server of its own.
func TestBenchToolkitEmbedded(t *testing.T) {
	code, stdout, stderr := run(t, "bench", "toolkit", "--nats", "embedded", "--only", "raw-jetstream", "--events", "100")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "| JetStream async publishes/s") {
		t.Errorf("stdout lacks the results table:\n%s", stdout)
	}
}
