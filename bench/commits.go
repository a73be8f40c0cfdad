package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// CommitRun is the outcome of writers committing as fast as they can for a
// fixed time.
type CommitRun struct {
	Writers   int     `json:"writers"`
	Commits   int64   `json:"commits"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// Latency is each commit's own time, from the call to its return.
	Latency Percentiles `json:"commit_latency"`
	// Rounds, for a figure measured in several rounds, is each round's
	// rate; PerSecond is then their median, and Commits and Seconds their
	// sums.
	Rounds []float64 `json:"rounds_per_second,omitempty"`
	// CPU is what the machine's processes spent while the commits ran
	// (over all rounds).
	CPU CPUUse `json:"cpu"`

	lat []time.Duration // every commit's latency, for merging rounds
}

// mergeRounds combines the rounds of one figure.
func mergeRounds(rounds []CommitRun) CommitRun {
	if len(rounds) == 0 {
		return CommitRun{}
	}
	m := CommitRun{Writers: rounds[0].Writers}
	var all []time.Duration
	for _, r := range rounds {
		m.Commits += r.Commits
		m.Seconds += r.Seconds
		m.Rounds = append(m.Rounds, r.PerSecond)
		m.CPU = m.CPU.merge(r.CPU)
		all = append(all, r.lat...)
	}
	sorted := slices.Clone(m.Rounds)
	slices.Sort(sorted)
	m.PerSecond = sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		m.PerSecond = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	m.Latency = percentiles(all)
	return m
}

// newDomainDB is newDB with the domain table created in it.
func (r *runner) newDomainDB(ctx context.Context, s *scope, d sqldb.Dialect, prefix string) (*sqldb.DB, error) {
	db, err := r.newDB(ctx, s, d, prefix)
	if err != nil {
		return nil, err
	}
	if err := createDomainTable(ctx, db); err != nil {
		return nil, err
	}
	return db, nil
}

// createDomainTable creates the table the writers insert into: a stand-in
// for a service's aggregate table, one row per transaction.
func createDomainTable(ctx context.Context, db *sqldb.DB) error {
	ddl := `CREATE TABLE bench_row (id uuid PRIMARY KEY, writer int NOT NULL, n bigint NOT NULL, data bytea NOT NULL)`
	if db.Dialect() == sqldb.SQLite {
		ddl = `CREATE TABLE bench_row (id TEXT PRIMARY KEY, writer INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL)`
	}
	if _, err := db.Writer().ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	return nil
}

const insertDomainRow = `INSERT INTO bench_row (id, writer, n, data) VALUES ($1, $2, $3, $4)`

// newRowID returns a fresh domain row id (a UUIDv7, as a service would use).
func newRowID() string { return uuid.Must(uuid.NewV7()).String() }

// commitLoop runs writers goroutines that call commit in a loop for d and
// measures them. Each writer first commits warmup times uncounted (opening
// its connection, warming caches); the clock starts when every writer has
// warmed up. A writer stops starting new commits once d has passed; the
// elapsed time runs to the return of the last commit. The first error stops
// every writer and is returned.
//
// counter, when not nil, is advanced per counted commit (for progress).
func commitLoop(ctx context.Context, writers int, d time.Duration, warmup int, counter *atomic.Int64,
	commit func(ctx context.Context, writer int) error) (CommitRun, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		ready   sync.WaitGroup
		done    sync.WaitGroup
		start   = make(chan struct{})
		lat     = make([][]time.Duration, writers)
		commits atomic.Int64
		t0      time.Time
	)
	ready.Add(writers)
	for w := range writers {
		done.Go(func() {
			for range warmup {
				if err := commit(ctx, w); err != nil {
					cancel(fmt.Errorf("writer %d: warm-up: %w", w, err))
					break
				}
			}
			ready.Done()
			<-start
			deadline := t0.Add(d)
			l := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				c0 := time.Now()
				if !c0.Before(deadline) {
					break
				}
				if err := commit(ctx, w); err != nil {
					if ctx.Err() == nil {
						cancel(fmt.Errorf("writer %d: %w", w, err))
					}
					break
				}
				l = append(l, time.Since(c0))
				commits.Add(1)
				if counter != nil {
					counter.Add(1)
				}
			}
			lat[w] = l
		})
	}
	ready.Wait()
	t0 = time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	if err := context.Cause(ctx); err != nil {
		return CommitRun{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	n := commits.Load()
	return CommitRun{Writers: writers, Commits: n, Seconds: elapsed.Seconds(), PerSecond: perSecond(n, elapsed),
		Latency: percentiles(slices.Clone(all)), lat: all}, nil
}
