package inbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// TestDiscardDeletesTheDeadLetterAndReturnsIt dead-letters an event that
// always fails, discards it, and checks that Discard returned it whole,
// that it is gone (a second Discard and a Replay find nothing, the other
// dead letter stays) and that a copy of the event delivered again is
// skipped as a duplicate: a discarded event is never applied.
func TestDiscardDeletesTheDeadLetterAndReturnsIt(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		h := func(ctx context.Context, tx *sqldb.Tx, e contract.Event) error {
			var p payload
			_ = json.Unmarshal(e.Data, &p)
			if p.N == 1 {
				return inbox.Permanent(errors.New("cannot apply n=1"))
			}
			return record(ctx, tx, e)
		}
		c := f.consumer(t, inbox.Config{MaxAttempts: 2}, h)
		f.run(t, c)
		bad, good := f.event(t, "a", 1), f.event(t, "a", 2)
		f.publish(t, bad, bad.ID)
		f.publish(t, good, good.ID)
		waitFor(t, 10*time.Second, "the next event applied", func() bool { return f.applied(t) == 1 })
		ctx := context.Background()
		// Another consumer's dead letter in the same database, which must stay.
		err := f.db.Transact(ctx, func(tx *sqldb.Tx) error {
			return inbox.RecordDeadLetter(ctx, tx, inbox.DeadLetter{Consumer: "other", EventID: "other-1", Error: "broken", Attempts: 1})
		})
		if err != nil {
			t.Fatal(err)
		}
		dls, err := inbox.List(ctx, f.db, "test")
		if err != nil || len(dls) != 1 {
			t.Fatalf("dead letters of test: %+v, %v; want 1", dls, err)
		}
		want := dls[0]

		got, err := inbox.Discard(ctx, f.db, want.ID)
		if err != nil {
			t.Fatalf("Discard: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Discard returned\n%+v\nwant the dead letter as listed\n%+v", got, want)
		}
		if got.EventID != bad.ID || string(got.Data) != string(bad.Data) || got.Header["ce-type"][0] != bad.Type {
			t.Fatalf("discarded dead letter lost the event: %+v", got)
		}
		if n, _ := inbox.Count(ctx, f.db, "test"); n != 0 {
			t.Fatalf("%d dead letters of test after Discard, want 0", n)
		}
		if n, _ := inbox.Count(ctx, f.db, "other"); n != 1 {
			t.Fatalf("%d dead letters of other after Discard, want 1 (untouched)", n)
		}
		if _, err := inbox.Discard(ctx, f.db, want.ID); !errors.Is(err, inbox.ErrNotFound) {
			t.Fatalf("second Discard = %v, want ErrNotFound", err)
		}
		if _, err := inbox.Discard(ctx, f.db, 1<<40); !errors.Is(err, inbox.ErrNotFound) {
			t.Fatalf("Discard of an unknown id = %v, want ErrNotFound", err)
		}
		if err := c.Replay(ctx, want.ID); !errors.Is(err, inbox.ErrNotFound) {
			t.Fatalf("Replay of a discarded dead letter = %v, want ErrNotFound", err)
		}

		// A copy past JetStream's dedupe: the inbox row stays, so it is a
		// duplicate, not a second dead letter nor an effect.
		f.publish(t, bad, "a-copy-after-discard")
		waitFor(t, 10*time.Second, "the copy seen as a duplicate", func() bool {
			return f.metric(t, "bounded_inbox_duplicates_total") == 1
		})
		if n, _ := inbox.Count(ctx, f.db, "test"); n != 0 || f.applied(t) != 1 {
			t.Fatalf("after the copy: %d dead letters, %d applied; want 0 and 1", n, f.applied(t))
		}
	})
}
