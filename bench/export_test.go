package bench_test

import (
	"testing"
	"time"

	"github.com/bounded-dev/bounded/bench"
	"github.com/bounded-dev/bounded/platform/testenv"
)

// TestRawCommits runs the raw figures other benchmarks take from this
// package, briefly: they count what they committed (not a timing
// assertion).
func TestRawCommits(t *testing.T) {
	for _, tc := range []struct {
		engine string
		run    func(writers int) (bench.CommitRun, error)
	}{
		{"sqlite", func(writers int) (bench.CommitRun, error) {
			return bench.RawSQLiteCommits(t.Context(), t.TempDir(), writers, 100, 200*time.Millisecond)
		}},
		{"postgres", func(writers int) (bench.CommitRun, error) {
			return bench.RawPostgresCommits(t.Context(), testenv.PostgresAdmin(t), writers, 100, 200*time.Millisecond)
		}},
	} {
		for _, writers := range []int{1, 4} {
			cr, err := tc.run(writers)
			if err != nil {
				t.Fatalf("%s, %d writers: %v", tc.engine, writers, err)
			}
			if cr.Writers != writers || cr.Commits == 0 || cr.PerSecond <= 0 || cr.Latency.N != int(cr.Commits) {
				t.Errorf("%s, %d writers: %+v", tc.engine, writers, cr)
			}
		}
	}
}
