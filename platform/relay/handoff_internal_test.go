package relay

import (
	"fmt"
	"testing"

	"github.com/bounded-dev/bounded/platform/outbox"
)

func rowsOf(seqs ...int64) []outbox.Row {
	rows := make([]outbox.Row, len(seqs))
	for i, s := range seqs {
		rows[i] = outbox.Row{Seq: s}
	}
	return rows
}

func seqsOf(rows []outbox.Row) string {
	s := make([]int64, len(rows))
	for i, r := range rows {
		s[i] = r.Seq
	}
	return fmt.Sprint(s)
}

// synced returns a started hand-off after a first claim that read
// everything up to top.
func synced(limit int, top int64) *handoff {
	h := newHandoff(limit)
	h.start()
	h.beginClaim()
	h.endClaim(nil, top, false)
	return h
}

// takeWant takes from h and checks the rows and whether a claim is asked for.
func takeWant(t *testing.T, h *handoff, want string, wantClaim bool) {
	t.Helper()
	rows, need := h.take(100)
	if got := seqsOf(rows); got != want || need != wantClaim {
		t.Fatalf("take = %s, need claim %v; want %s, %v (known %d, pending %s)", got, need, want, wantClaim, h.known, seqsOf(h.pending))
	}
}

func TestHandoffTakesOnlyWhatContinuesWhatItKnows(t *testing.T) {
	h := newHandoff(100)
	h.hand(rowsOf(1)) // before start: ignored
	h.start()
	h.hand(rowsOf(11)) // before the first claim: kept, not taken
	takeWant(t, h, "[]", true)

	// The first claim read up to 10 (nothing left unread): 11 continues it.
	if ready := h.beginClaim(); len(ready) != 0 {
		t.Fatalf("ready before the first claim: %s", seqsOf(ready))
	}
	h.endClaim(nil, 10, false)
	takeWant(t, h, "[11]", false)

	// Two writers' hand-offs arriving out of commit order: 13 waits for 12.
	h.hand(rowsOf(13))
	takeWant(t, h, "[]", true)
	h.hand(rowsOf(12))
	takeWant(t, h, "[12 13]", false)

	// One transaction's rows come together.
	h.hand(rowsOf(14, 15, 16))
	takeWant(t, h, "[14 15 16]", false)

	// A row another process wrote (17) is never handed: 18 waits, and a
	// claim that read 17 and 18 (top 18) clears the way; 18 handed late
	// is dropped, having been read.
	h.hand(rowsOf(18))
	takeWant(t, h, "[]", true)
	h.beginClaim()
	h.hand(rowsOf(19)) // during the claim: waits, even though it may continue
	h.endClaim(rowsOf(17, 18), 18, false)
	takeWant(t, h, "[19]", false)
	h.hand(rowsOf(18))
	takeWant(t, h, "[]", false)
}

func TestHandoffDuringAClaim(t *testing.T) {
	h := synced(100, 5)
	h.hand(rowsOf(6))
	// A claim takes the ready rows first (the pump sends them before it
	// reads, so the read skips them).
	if ready := h.beginClaim(); seqsOf(ready) != "[6]" {
		t.Fatalf("beginClaim returned %s, want [6]", seqsOf(ready))
	}
	// Committed before the claim's snapshot: read by it and handed too.
	h.hand(rowsOf(7))
	// Committed after it: only handed.
	h.hand(rowsOf(9, 10))
	h.hand(rowsOf(8))
	h.endClaim(rowsOf(7), 7, false)
	takeWant(t, h, "[8 9 10]", false)
}

func TestHandoffAfterAFullClaim(t *testing.T) {
	h := newHandoff(100)
	h.start()
	h.beginClaim()
	h.hand(rowsOf(4000))
	// A backlog: the claim returned its limit, up to 2000 of 4000 rows; it
	// vouches for nothing beyond.
	h.endClaim(rowsOf(1999, 2000), 4000, true)
	takeWant(t, h, "[]", true)
	h.beginClaim()
	h.endClaim(rowsOf(2001, 3999), 3999, false)
	takeWant(t, h, "[4000]", false)
}

func TestHandoffBoundsWhatItHolds(t *testing.T) {
	h := synced(3, 0)
	h.hand(rowsOf(2, 3, 4)) // 1 is missing: all wait
	h.hand(rowsOf(5))       // no room: dropped, and a claim is asked for
	if h.dropped != 1 {
		t.Fatalf("dropped %d, want 1", h.dropped)
	}
	takeWant(t, h, "[]", true)
	h.beginClaim()
	h.endClaim(rowsOf(1, 2, 3, 4, 5), 5, false)
	takeWant(t, h, "[]", false)
	h.hand(rowsOf(6, 7, 8, 9)) // 9 finds no room even in ready
	takeWant(t, h, "[6 7 8]", true)
}

func TestHandoffStops(t *testing.T) {
	h := synced(100, 3)
	h.hand(rowsOf(4))
	h.stop()
	h.hand(rowsOf(5))
	takeWant(t, h, "[]", true) // a stopped hand-off holds nothing and knows nothing
	h.start()
	h.hand(rowsOf(6))
	h.beginClaim()
	h.endClaim(rowsOf(4, 5), 5, false)
	takeWant(t, h, "[6]", false)
}
