package relay_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/relay"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

const childEnv = "BOUNDED_RELAY_TEST_CHILD" // dsn|nats url|stream, set for the child process

// TestRelayChildProcess is not a test: it is the body of the child process
// that TestStandbyTakesOverWhenTheLeaderDies starts and kills.
func TestRelayChildProcess(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("runs only as the child of TestStandbyTakesOverWhenTheLeaderDies")
	}
	parts := strings.Split(spec, "|")
	f := &fixture{dsn: parts[0], stream: parts[2], prefix: parts[2]}
	f.db = toolkittest.OpenDB(t, f.dsn)
	f.attach(t, parts[1])
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	r, err := relay.New(f.ob, f.nc, f.config(t))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("child relay running")
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// leaderPID returns the backend pid holding the relay's leadership lock, or 0.
func leaderPID(t *testing.T, db *sqldb.DB, key int64) int {
	t.Helper()
	var pid int
	err := db.QueryRowContext(context.Background(), `SELECT coalesce(max(pid), 0) FROM pg_locks
WHERE locktype = 'advisory' AND granted AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1`, key).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestStandbyTakesOverWhenTheLeaderDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	f := newFixture(t, sqldb.Postgres, testenv.NATS(t))
	// The child leads first: start it, wait for its lock.
	child := exec.Command(os.Args[0], "-test.run=^TestRelayChildProcess$", "-test.v")
	child.Env = append(os.Environ(), childEnv+"="+f.dsn+"|"+testenv.NATS(t)+"|"+f.stream)
	out := &toolkittest.LockedBuffer{}
	child.Stdout, child.Stderr = out, out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	cfg := f.config(t)
	deadline := time.Now().Add(20 * time.Second)
	for leaderPID(t, f.db, cfg.LeaderLockKey()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("child relay never took the lead; its output:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	childPID := leaderPID(t, f.db, cfg.LeaderLockKey())

	// A standby in this process, with its own pool.
	standbyDB := toolkittest.OpenDB(t, f.dsn)
	standbyOB, err := outbox.New(standbyDB, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg.Metrics = reg
	standby := &fixture{db: standbyDB, ob: standbyOB, nc: f.nc, js: f.js, stream: f.stream, prefix: f.prefix}
	standby.start(t, cfg)
	leading := func() float64 { return toolkittest.Metric(t, reg, "bounded_relay_leader") }
	time.Sleep(1500 * time.Millisecond)
	if leading() != 0 {
		t.Fatal("the standby leads while the child holds the lock")
	}

	// Writers run throughout; the child dies in the middle.
	const writers, aggs = 4, 6
	var mu sync.Mutex
	order := map[string][]string{}
	stopWriting := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(stopWriting) }); wg.Wait() }
	defer stop() // a failure below must not leave the writers running
	var written int
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopWriting:
					return
				default:
				}
				agg := fmt.Sprintf("agg-%d", (w+i)%aggs)
				e := f.event(t, agg, i)
				err := f.db.Transact(context.Background(), func(tx *sqldb.Tx) error {
					if err := f.ob.Record(context.Background(), tx, e); err != nil {
						return err
					}
					mu.Lock()
					order[agg] = append(order[agg], e.ID)
					written++
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for leading() != 1 {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("the standby did not take over within 5 s of the leader's death")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("standby took over %s after kill -9 of the leader (backend %d)", time.Since(killed).Round(time.Millisecond), childPID)
	time.Sleep(500 * time.Millisecond)
	stop()

	f.waitEmpty(t, 20*time.Second)
	if n := f.streamMsgs(t); n != uint64(written) {
		t.Fatalf("stream holds %d messages for %d events", n, written)
	}
	got := f.collect(t, written, 20*time.Second)
	seen := map[string][]string{}
	for _, m := range got {
		seen[m.Headers().Get("ce-subject")] = append(seen[m.Headers().Get("ce-subject")], m.Headers().Get("ce-id"))
	}
	for agg, want := range order {
		if fmt.Sprint(seen[agg]) != fmt.Sprint(want) {
			t.Errorf("aggregate %s: order broken across the leader change\n got %v\nwant %v", agg, seen[agg], want)
		}
	}
}
