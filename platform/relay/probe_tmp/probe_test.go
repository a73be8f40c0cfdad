package probe_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/relay"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestDrainProbe(t *testing.T) {
	d := sqldb.Dialect(os.Getenv("PROBE_DIALECT"))
	db := toolkittest.NewDB(t, d)
	ctx := context.Background()
	ob, _ := outbox.New(db, outbox.Config{})
	ob.Migrate(ctx)
	name := testenv.UniqueName("probe")
	const N = 100000
	data := make([]byte, 280)
	for i := range data {
		data[i] = 'a'
	}
	for b := 0; b < N/1000; b++ {
		var evs []contract.Event
		for i := range 1000 {
			e, _ := contract.New(name, name+".thing.v1", fmt.Sprint("agg-", i%100), map[string]string{"d": string(data)})
			evs = append(evs, e)
		}
		if err := db.Transact(ctx, func(tx *sqldb.Tx) error { return ob.Record(ctx, tx, evs...) }); err != nil {
			t.Fatal(err)
		}
	}
	nc := toolkittest.Connect(t, testenv.NATS(t))
	js, _ := jetstream.New(nc)
	defer js.DeleteStream(context.Background(), name)
	r, err := relay.New(ob, nc, relay.Config{Stream: jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	go r.Run(rctx)
	for {
		n, _, _ := ob.Backlog(ctx)
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	el := time.Since(start)
	t.Logf("%s: drained %d in %s: %.0f/s", d, N, el, N/el.Seconds())
}
