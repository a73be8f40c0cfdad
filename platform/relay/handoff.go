package relay

import (
	"slices"
	"sync"

	"github.com/bounded-dev/bounded/platform/outbox"
)

// handoff takes the rows a SQLite outbox hands over as their transactions
// commit in this process (outbox.SetHandoff), so that the leader publishes
// them without reading them back: on a live outbox most events then cost
// no read at all.
//
// It may publish a handed row without a read only when it knows that no
// committed row with a lower seq is still unread: otherwise the handed row
// could overtake an event of the same aggregate. It keeps that knowledge as
// one number, known: every committed row with seq <= known has been taken
// (read by a claim or handed over) by this pump, or was deleted before it
// began. A claim establishes it (on SQLite a claim's snapshot also tells the
// highest seq drawn and committed, outbox.PendingAndTop), and a handed row
// with seq known+1 extends it. A handed row further ahead waits in pending
// until the rows before it arrive (another writer's hand-off, a moment
// behind) or a claim reads them (rows written by another process on the
// same file, or rows dropped below because pending was full); a handed row
// at or below known was taken already and is dropped.
//
// Only the pump takes rows (take, beginClaim); writers only add. Rows taken
// come out in increasing seq order across takes and claims, so publishing
// them in the order taken keeps commit order, and per-aggregate order.
type handoff struct {
	mu sync.Mutex
	on bool // a pump takes hand-offs (start to stop)
	// synced: known holds, from the pump's first claim on.
	synced bool
	// claiming: a claim is reading. Rows handed meanwhile wait in pending,
	// since the claim may read them too; endClaim sorts them out.
	claiming bool
	// lost: a handed row found no room and was dropped; the next claim
	// must read it.
	lost    bool
	known   int64
	ready   []outbox.Row // seq known-len(ready)+1 … known, in order; not yet taken
	pending []outbox.Row // seq > known+1, sorted by seq, no duplicates
	// limit bounds ready and pending together; a row that finds no room is
	// dropped, and a later claim reads it.
	limit int
	// dropped counts rows handed over but left to a claim (no room).
	dropped int64
}

func newHandoff(limit int) *handoff { return &handoff{limit: limit} }

// hand is the outbox's hand-off function: rows of one committed
// transaction, in seq order.
func (h *handoff) hand(rows []outbox.Row) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return // the next pump's first claim reads them
	}
	for _, row := range rows {
		if !h.synced || row.Seq > h.known { // else taken already: a claim read it first
			h.wait(row)
		}
	}
	if h.synced && !h.claiming {
		h.advance()
	}
}

// wait puts row into pending, in seq order.
func (h *handoff) wait(row outbox.Row) {
	i, found := slices.BinarySearchFunc(h.pending, row.Seq, func(r outbox.Row, seq int64) int {
		switch {
		case r.Seq < seq:
			return -1
		case r.Seq > seq:
			return 1
		}
		return 0
	})
	if found {
		return
	}
	if len(h.ready)+len(h.pending) >= h.limit {
		h.dropped++
		h.lost = true
		return
	}
	h.pending = slices.Insert(h.pending, i, row)
}

// advance drops pending rows at or below known and moves the rows that
// continue known to ready.
func (h *handoff) advance() {
	n := 0
	for n < len(h.pending) && h.pending[n].Seq <= h.known {
		n++
	}
	for n < len(h.pending) && h.pending[n].Seq == h.known+1 {
		h.ready = append(h.ready, h.pending[n])
		h.known = h.pending[n].Seq
		n++
	}
	h.pending = slices.Delete(h.pending, 0, n)
}

// take returns the rows ready to publish (in seq order, at most max), and
// whether a claim is needed: before the first claim, while rows wait behind
// a gap, and after a handed row was dropped.
func (h *handoff) take(max int) (rows []outbox.Row, needClaim bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := min(max, len(h.ready))
	if n > 0 {
		rows = slices.Clone(h.ready[:n])
		h.ready = slices.Delete(h.ready, 0, n)
	}
	return rows, !h.synced || h.lost || len(h.pending) > 0
}

// beginClaim starts a claim: rows handed from now on wait in pending.
// It returns the rows that were ready, which the pump must send (and mark
// in flight) before the claim reads, since they are committed and the
// claim would read them again.
func (h *handoff) beginClaim() []outbox.Row {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claiming, h.lost = true, false
	rows := h.ready
	h.ready = nil
	return rows
}

// endClaim ends a claim that returned rows and, from its snapshot, top
// (outbox.PendingAndTop). A full claim (a backlog) vouches only for the
// rows up to the last it returned; otherwise every committed row up to top
// is taken.
func (h *handoff) endClaim(rows []outbox.Row, top int64, full bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claiming = false
	h.synced = true
	reached := top
	if full {
		reached = rows[len(rows)-1].Seq
	}
	h.known = max(h.known, reached)
	h.advance()
}

// abortClaim ends a claim that read nothing: known stays, and the rows
// handed meanwhile are sorted in.
func (h *handoff) abortClaim() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claiming = false
	if h.synced {
		h.advance()
	}
}

// start begins taking hand-offs for a new pump; known is established by
// its first claim.
func (h *handoff) start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reset()
	h.on = true
}

// stop forgets everything: the rows it held are in the outbox, and the
// next pump (or leader) reads them. A pump whose claim failed stops too.
func (h *handoff) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reset()
}

func (h *handoff) reset() {
	h.on, h.synced, h.claiming, h.lost, h.known = false, false, false, false, 0
	h.ready, h.pending = nil, nil
}
