package reporting

import (
	"errors"
	"net/http"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// rebuildRetryAfter is the Retry-After of a read refused while the
// warehouse is rebuilt.
const rebuildRetryAfter = "5"

// whenBuilt answers 503 (problem+json, with Retry-After) instead of h
// while a rebuild holds the warehouse: a half-built warehouse would give
// wrong figures that look right.
func (s *reporting) whenBuilt(h httpapi.HandlerFunc) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := readRebuild(r.Context(), s.env.DB.Reader())
		if err != nil {
			return err
		}
		switch st.State {
		case rebuildRunning:
			w.Header().Set("Retry-After", rebuildRetryAfter)
			return httpapi.Errorf(httpapi.ErrUnavailable, "the warehouse is being rebuilt (rebuild %s: %d of %d events); try again shortly",
				st.RebuildID, st.EventsApplied, st.EventsTotal)
		case rebuildFailed:
			w.Header().Set("Retry-After", rebuildRetryAfter)
			return httpapi.Errorf(httpapi.ErrUnavailable, "the warehouse's rebuild %s failed (%s); it is half-built until a rebuild succeeds: run 'bounded reporting rebuild'",
				st.RebuildID, st.Error)
		}
		return h(w, r)
	}
}

// postRebuild starts a rebuild: 202 with its id, 409 when one runs.
func (s *reporting) postRebuild(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.parseQuery(r); err != nil {
		return err
	}
	id, err := s.startRebuild(r.Context())
	if errors.Is(err, errConflict) {
		return httpapi.Errorf(httpapi.ErrConflict, "%v", err)
	}
	if err != nil {
		return err
	}
	select {
	case s.rebuilds <- id:
	default:
		// rebuildJob is busy with another one of ours: cannot be, as the
		// lock is held, unless a stale one is still winding down.
		return httpapi.Errorf(httpapi.ErrConflict, "this replica is still finishing a rebuild; try again")
	}
	status := "/reporting/admin/rebuild/" + id
	w.Header().Set("Location", status)
	return httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{"rebuild_id": id, "state": rebuildRunning, "status": status,
		"as_of": time.Now().UTC()})
}

// getRebuild answers the state of the last rebuild (any replica's: it is
// read from the database); with an id, 404 unless it is that one.
func (s *reporting) getRebuild(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.parseQuery(r); err != nil {
		return err
	}
	st, err := readRebuild(r.Context(), s.env.DB.Reader())
	if err != nil {
		return err
	}
	if id := r.PathValue("id"); id != "" && id != st.RebuildID {
		return httpapi.Errorf(httpapi.ErrNotFound, "no rebuild %q; the last one is %q", id, st.RebuildID)
	}
	return httpapi.WriteJSON(w, http.StatusOK, st)
}
