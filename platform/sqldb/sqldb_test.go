package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, d sqldb.Dialect) *sqldb.DB {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "svc.db")
	if d == sqldb.Postgres {
		dsn = testenv.NewPostgresDB(t)
	}
	db, err := sqldb.Open(context.Background(), sqldb.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if db.Dialect() != d {
		t.Fatalf("dialect %s, want %s", db.Dialect(), d)
	}
	if err := db.Migrate(context.Background(), os.DirFS("testdata/migrations"), "things_version"); err != nil {
		t.Fatal(err)
	}
	return db
}

func each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	for _, d := range []sqldb.Dialect{sqldb.SQLite, sqldb.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, open(t, d))
		})
	}
}

func count(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM things`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTransactCommitsOrRollsBack(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		var dbHook, txHook int
		db.OnCommit(func() { dbHook++ })
		insert := func(tx *sqldb.Tx, id int) error {
			_, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`INSERT INTO things (id, name) VALUES ($1, $2)`), id, fmt.Sprint("thing ", id))
			return err
		}
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			tx.AfterCommit(func() { txHook++ })
			return insert(tx, 1)
		}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			tx.AfterCommit(func() { txHook++ })
			if err := insert(tx, 2); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("Transact = %v, want boom", err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("panic not passed on")
				}
			}()
			_ = db.Transact(ctx, func(tx *sqldb.Tx) error {
				_ = insert(tx, 3)
				panic("bug")
			})
		}()
		if n := count(t, db); n != 1 {
			t.Fatalf("%d rows, want 1: a rolled-back transaction left rows", n)
		}
		if dbHook != 1 || txHook != 1 {
			t.Fatalf("after-commit hooks ran db=%d tx=%d times, want 1 and 1", dbHook, txHook)
		}
		if c := db.Commits(); c != 1 {
			t.Fatalf("Commits() = %d, want 1 (rolled-back transactions do not count)", c)
		}
		// Migrate again: a no-op.
		if err := db.Migrate(ctx, os.DirFS("testdata/migrations"), "things_version"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConcurrentWriters runs 16 goroutines writing at once: on SQLite they
// queue for the one writer connection instead of failing with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 16*50)
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					errs <- db.Transact(ctx, func(tx *sqldb.Tx) error {
						_, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`INSERT INTO things (id, name) VALUES ($1, 'x')`), w*1000+i)
						return err
					})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, db); n != 800 {
			t.Fatalf("%d rows, want 800", n)
		}
	})
}

func TestSQLiteReadersCannotWrite(t *testing.T) {
	db := open(t, sqldb.SQLite)
	if _, err := db.Reader().ExecContext(context.Background(), `INSERT INTO things (id, name) VALUES (1, 'x')`); err == nil {
		t.Fatal("a write through the reader pool succeeded")
	}
	var mode string
	if err := db.QueryRowContext(context.Background(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]sqldb.Config{
		"empty DSN":           {},
		"bad synchronous":     {DSN: filepath.Join(t.TempDir(), "x.db"), SQLiteSynchronous: "SOMETIMES"},
		"unreachable":         {DSN: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"},
		"directory not there": {DSN: "/nonexistent/dir/x.db"},
	} {
		if db, err := sqldb.Open(ctx, cfg); err == nil {
			db.Close()
			t.Errorf("%s: Open succeeded", name)
		} else if name == "unreachable" && !sqldb.IsUnavailable(err) {
			t.Errorf("%s: IsUnavailable(%v) = false", name, err)
		}
	}
}

func TestRebind(t *testing.T) {
	q := `SELECT $1, $2 WHERE a = $1 AND b = $10`
	if got := sqldb.SQLite.Rebind(q); got != `SELECT ?1, ?2 WHERE a = ?1 AND b = ?10` {
		t.Fatalf("SQLite.Rebind = %q", got)
	}
	if got := sqldb.Postgres.Rebind(q); got != q {
		t.Fatalf("Postgres.Rebind = %q", got)
	}
}

// TestIsConflict makes PostgreSQL detect a real deadlock between two
// transactions and checks that the victim's error is a conflict, and that
// other errors are not.
func TestIsConflict(t *testing.T) {
	db := open(t, sqldb.Postgres)
	ctx := context.Background()
	exec := func(q string) error {
		return db.Transact(ctx, func(tx *sqldb.Tx) error {
			_, err := tx.ExecContext(ctx, q)
			return err
		})
	}
	if err := exec(`INSERT INTO things (id, name) VALUES (1, 'a'), (2, 'b')`); err != nil {
		t.Fatal(err)
	}
	// Each transaction locks one row, waits for the other to lock its
	// own, then wants the other's: one of them must lose.
	var locked sync.WaitGroup
	locked.Add(2)
	errs := make(chan error, 2)
	for _, ids := range [][2]int{{1, 2}, {2, 1}} {
		go func() {
			errs <- db.Transact(ctx, func(tx *sqldb.Tx) error {
				if _, err := tx.ExecContext(ctx, `UPDATE things SET name = 'x' WHERE id = $1`, ids[0]); err != nil {
					locked.Done()
					return err
				}
				locked.Done()
				locked.Wait()
				_, err := tx.ExecContext(ctx, `UPDATE things SET name = 'y' WHERE id = $1`, ids[1])
				return err
			})
		}()
	}
	var conflicts int
	for range 2 {
		if err := <-errs; err != nil {
			if !sqldb.IsConflict(err) {
				t.Fatalf("error %v: not a conflict", err)
			}
			conflicts++
		}
	}
	if conflicts != 1 {
		t.Fatalf("%d transactions lost a deadlock, want 1", conflicts)
	}
	err := exec(`INSERT INTO things (id, name) VALUES (1, 'dup')`)
	if err == nil || sqldb.IsConflict(err) || sqldb.IsConflict(nil) {
		t.Fatalf("a duplicate key (%v) or no error counted as a conflict", err)
	}
}

// TestTimeRoundTrips stores times through TimeArg and reads them back
// through TimeCol on both engines: the same instant at millisecond
// precision, in UTC; the zero time as NULL and back.
func TestTimeRoundTrips(t *testing.T) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			db := toolkittest.OpenDB(t, toolkittest.DSN(t, d))
			ctx := context.Background()
			typ := "timestamptz"
			if d == sqldb.SQLite {
				typ = "INTEGER"
			}
			if _, err := db.Writer().ExecContext(ctx, "CREATE TABLE times (id integer PRIMARY KEY, at "+typ+")"); err != nil {
				t.Fatal(err)
			}
			in := time.Date(2026, 12, 5, 13, 14, 15, 123_456_789, time.FixedZone("CET", 3600))
			for i, v := range []time.Time{in, {}} {
				if _, err := db.Writer().ExecContext(ctx, d.Rebind("INSERT INTO times VALUES ($1, $2)"), i, sqldb.TimeArg(d, v)); err != nil {
					t.Fatal(err)
				}
			}
			var got, zero time.Time
			if err := db.QueryRowContext(ctx, d.Rebind("SELECT at FROM times WHERE id = $1"), 0).Scan(sqldb.TimeCol{T: &got}); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRowContext(ctx, d.Rebind("SELECT at FROM times WHERE id = $1"), 1).Scan(sqldb.TimeCol{T: &zero}); err != nil {
				t.Fatal(err)
			}
			if want := in.UTC().Truncate(time.Millisecond); !got.Truncate(time.Millisecond).Equal(want) || got.Location() != time.UTC || !zero.IsZero() {
				t.Fatalf("read back %v and %v, want %v (UTC) and the zero time", got, zero, want)
			}
		})
	}
}

// TestMemo computes a value once per transaction, again in the next one,
// and keeps no error.
func TestMemo(t *testing.T) {
	db := open(t, sqldb.SQLite)
	type key struct{}
	calls := 0
	compute := func(fail bool) func() (any, error) {
		return func() (any, error) {
			calls++
			if fail {
				return nil, errors.New("refused")
			}
			return calls, nil
		}
	}
	for tx := 1; tx <= 2; tx++ {
		err := db.Transact(context.Background(), func(tx *sqldb.Tx) error {
			if _, err := tx.Memo(key{}, compute(true)); err == nil {
				t.Error("an error was not returned")
			}
			first, err := tx.Memo(key{}, compute(false))
			if err != nil {
				return err
			}
			again, err := tx.Memo(key{}, compute(false))
			if err != nil || again != first {
				t.Errorf("second call: %v, %v; want the first value %v", again, err, first)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls != 4 { // per transaction: the failing call, then one computed
		t.Errorf("computed %d times, want 4", calls)
	}
}

// TestBeforeCommit runs the hooks in the transaction, in order, after its
// function: their writes commit with it, and an error from one rolls the
// whole back. A function that fails runs none.
func TestBeforeCommit(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		insert := func(tx *sqldb.Tx, id int) error {
			_, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`INSERT INTO things (id, name) VALUES ($1, $2)`), id, fmt.Sprint("thing ", id))
			return err
		}
		var order []int
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			tx.BeforeCommit(func(ctx context.Context) error { order = append(order, 2); return insert(tx, 2) })
			tx.BeforeCommit(func(ctx context.Context) error { order = append(order, 3); return insert(tx, 3) })
			order = append(order, 1)
			return insert(tx, 1)
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(order, []int{1, 2, 3}) || count(t, db) != 3 {
			t.Fatalf("ran %v, %d rows; want 1, 2, 3 and 3 rows", order, count(t, db))
		}
		boom := errors.New("boom")
		ran := false
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			tx.BeforeCommit(func(ctx context.Context) error { return boom })
			tx.AfterCommit(func() { ran = true })
			return insert(tx, 4)
		}); !errors.Is(err, boom) || ran {
			t.Fatalf("a failing hook: %v (after-commit ran: %v), want boom and a rollback", err, ran)
		}
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error {
			tx.BeforeCommit(func(ctx context.Context) error { ran = true; return nil })
			return boom
		}); !errors.Is(err, boom) || ran {
			t.Fatalf("a failing function: %v (hook ran: %v)", err, ran)
		}
		if n := count(t, db); n != 3 {
			t.Fatalf("%d rows, want 3: a rolled-back transaction left rows", n)
		}
	})
}
