package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

func orderEvent(t *testing.T, orderID string) contract.Event {
	t.Helper()
	e, err := contract.New("test", "test.thing_happened.v1", "x", map[string]any{"order_id": orderID, "n": 1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLockKeysMakesOverlappingBatchesWait: a batch naming orders B and A
// waits for an open one naming A and B (it would otherwise go on to lock
// their rows in the opposite order), and goes on once that one commits; a
// batch naming other orders does not wait.
func TestLockKeysMakesOverlappingBatchesWait(t *testing.T) {
	db := toolkittest.OpenDB(t, toolkittest.DSN(t, sqldb.Postgres))
	ctx := toolkittest.Context(t)
	lock := service.LockKeys(0x7465, service.JSONField("order_id"))
	a, b, c := orderEvent(t, "order-a"), orderEvent(t, "order-b"), orderEvent(t, "order-c")

	held := make(chan struct{})
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Transact(ctx, func(tx *sqldb.Tx) error {
			if err := lock(ctx, tx, []contract.Event{a, b}); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	// Other orders: no wait.
	if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return lock(ctx, tx, []contract.Event{c}) }); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		second <- db.Transact(ctx, func(tx *sqldb.Tx) error { return lock(ctx, tx, []contract.Event{b, a}) })
	}()
	select {
	case err := <-second:
		t.Fatalf("a batch naming the same orders went on while the first held them (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}

func TestJSONField(t *testing.T) {
	key := service.JSONField("order_id")
	for _, tc := range []struct {
		data string
		want string
	}{
		{`{"order_id":"o-1","x":2}`, "o-1"},
		{`{"order_id":7}`, ""},
		{`{"other":"o-1"}`, ""},
		{`not json`, ""},
	} {
		if got := key(contract.Event{Data: []byte(tc.data)}); got != tc.want {
			t.Errorf("%s: key %q, want %q", tc.data, got, tc.want)
		}
	}
}

// On SQLite (one writer) LockKeys runs nothing and fails nothing.
func TestLockKeysOnSQLite(t *testing.T) {
	db := toolkittest.OpenDB(t, toolkittest.DSN(t, sqldb.SQLite))
	ctx := context.Background()
	lock := service.LockKeys(1, service.JSONField("order_id"))
	if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return lock(ctx, tx, []contract.Event{orderEvent(t, "a")}) }); err != nil {
		t.Fatal(err)
	}
}
