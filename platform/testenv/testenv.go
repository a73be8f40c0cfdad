package testenv

import (
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bounded-dev/bounded/platform/bus"
)

// Environment variables read by the package.
const (
	EnvPostgres = "BOUNDED_TEST_POSTGRES" // admin URL, or "initdb", or "skip"
	EnvNATS     = "BOUNDED_TEST_NATS"     // client URL of a JetStream-enabled server
	EnvCI       = "CI"                    // "true": no server may be missing
)

// state holds what one test binary shares: the servers found (finding them
// can mean starting a cluster, far too slow to repeat per test), the servers
// this package started (Main stops them after m.Run, which no per-test
// cleanup can do) and the skip count Main reports. Tests of a binary run in
// one process and may run in parallel, hence a process-wide, locked value;
// it is the package's only global.
var state struct {
	pgOnce      sync.Once
	pg          pgResult
	pgAnnounced atomic.Bool

	natsOnce      sync.Once
	nats          natsResult
	natsAnnounced atomic.Bool

	mu       sync.Mutex
	pgSkips  map[string]int // skipped PostgreSQL tests by reason
	cluster  *cluster       // throwaway PostgreSQL cluster, if discovery started one
	embedded *bus.Embedded  // process-wide embedded NATS, if discovery started one
	natsDir  string         // its store dir
}

// Main runs the tests of m, prints how many PostgreSQL tests were skipped and
// why (one line, only if any were), stops any throwaway cluster or embedded
// server started for the binary, and exits with m.Run's code. Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if line := skipSummary(); line != "" {
		fmt.Println(line)
	}
	if err := shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// skipSummary is Main's line about skipped PostgreSQL tests, or "" if none were.
func skipSummary() string {
	state.mu.Lock()
	defer state.mu.Unlock()
	n := 0
	reasons := make([]string, 0, len(state.pgSkips))
	for reason, count := range state.pgSkips {
		n += count
		reasons = append(reasons, reason)
	}
	if n == 0 {
		return ""
	}
	slices.Sort(reasons)
	noun := "tests"
	if n == 1 {
		noun = "test"
	}
	return fmt.Sprintf("testenv: %d PostgreSQL %s skipped: %s", n, noun, strings.Join(reasons, "; "))
}

// shutdown stops the servers that discovery started.
func shutdown() error {
	state.mu.Lock()
	defer state.mu.Unlock()
	var err error
	if state.embedded != nil {
		state.embedded.Shutdown()
		state.embedded = nil
		if rmErr := os.RemoveAll(state.natsDir); rmErr != nil {
			err = fmt.Errorf("remove embedded nats dir: %w", rmErr)
		}
	}
	if state.cluster != nil {
		if stopErr := state.cluster.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
		state.cluster = nil
	}
	return err
}

// RealServersRequired reports whether a missing server must fail the tests
// instead of skipping them: true when CI=true.
func RealServersRequired() bool { return os.Getenv(EnvCI) == "true" }

// UniqueName returns prefix followed by 10 random lowercase letters and
// digits, unique in practice across processes and machines. The result is a
// valid NATS stream or consumer name and a PostgreSQL identifier that needs
// no quoting. prefix must start with a lowercase letter, contain only
// lowercase letters, digits and underscores, and be at most 53 bytes (so the
// name fits PostgreSQL's 63); UniqueName panics otherwise, as that is a bug
// in the calling test.
func UniqueName(prefix string) string {
	if err := checkPrefix(prefix); err != nil {
		panic(fmt.Sprintf("testenv.UniqueName: %v", err))
	}
	// rand.Text is base32 (A-Z, 2-7); 10 characters carry 50 random bits.
	return prefix + strings.ToLower(rand.Text()[:10])
}

func checkPrefix(prefix string) error {
	if prefix == "" || prefix[0] < 'a' || prefix[0] > 'z' {
		return fmt.Errorf("prefix %q must start with a lowercase letter", prefix)
	}
	if len(prefix) > 53 {
		return fmt.Errorf("prefix %q longer than 53 bytes", prefix)
	}
	for _, r := range prefix {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("prefix %q: only lowercase letters, digits and '_' allowed", prefix)
		}
	}
	return nil
}
