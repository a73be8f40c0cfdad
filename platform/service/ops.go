package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/inbox"
)

// deadLetterJSON is a dead letter as the operations API shows it.
type deadLetterJSON struct {
	ID          int64           `json:"id"`
	Service     string          `json:"service"`
	Consumer    string          `json:"consumer"`
	EventID     string          `json:"event_id"`
	EventType   string          `json:"event_type"`
	NATSSubject string          `json:"nats_subject"`
	Error       string          `json:"error"`
	Attempts    int             `json:"attempts"`
	StreamSeq   uint64          `json:"stream_seq"`
	DeadAt      time.Time       `json:"dead_at"`
	Data        json.RawMessage `json:"data,omitempty"`
	DataText    string          `json:"data_text,omitempty"` // when the payload is not JSON
}

// toDeadLetterJSON is dl of service as the operations API shows it.
func toDeadLetterJSON(service string, dl inbox.DeadLetter) deadLetterJSON {
	j := deadLetterJSON{ID: dl.ID, Service: service, Consumer: dl.Consumer, EventID: dl.EventID,
		EventType: dl.EventType, NATSSubject: dl.NATSSubject, Error: dl.Error, Attempts: dl.Attempts,
		StreamSeq: dl.StreamSeq, DeadAt: dl.DeadAt}
	if json.Valid(dl.Data) {
		j.Data = dl.Data
	} else {
		j.DataText = string(dl.Data)
	}
	return j
}

// newDiscardedCounter registers on reg (a service's registerer, which adds
// service=NAME; nil registers nothing) the counter of the service's dead
// letters discarded, by consumer, with a zero series for each consumer
// the service runs (a dead letter of one it no longer runs gets its series
// when discarded).
func newDiscardedCounter(reg prometheus.Registerer, consumers []string) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounded_inbox_dead_letters_discarded_total",
		Help: "Dead letters discarded through the operations API (deleted, never applied)."}, []string{"consumer"})
	for _, name := range consumers {
		c.WithLabelValues(name)
	}
	if reg != nil {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ops metrics: %w", err)
		}
	}
	return c, nil
}

// routeOps adds the operations routes (all admin): dead letters listed,
// replayed and discarded.
func (h *Host) routeOps() {
	h.mux.Admin("GET /ops/dead-letters", func(w http.ResponseWriter, r *http.Request) error {
		only := r.URL.Query().Get("service")
		if only != "" && h.service(only) == nil {
			return httpapi.Errorf(httpapi.ErrNotFound, "no service %q here; services: %v", only, h.Services())
		}
		out := []deadLetterJSON{}
		for _, s := range h.services {
			if only != "" && s.spec.Name != only {
				continue
			}
			dls, err := inbox.List(r.Context(), s.db, "")
			if err != nil {
				return err
			}
			for _, dl := range dls {
				out = append(out, toDeadLetterJSON(s.spec.Name, dl))
			}
		}
		return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"dead_letters": out, "count": len(out)})
	})
	h.mux.Admin("POST /ops/dead-letters/{service}/{id}/replay", func(w http.ResponseWriter, r *http.Request) error {
		s, id, err := h.deadLetterPath(r)
		if err != nil {
			return err
		}
		dls, err := inbox.List(r.Context(), s.db, "")
		if err != nil {
			return err
		}
		for _, dl := range dls {
			if dl.ID != id {
				continue
			}
			for _, slot := range s.consumers.slots {
				c := slot.c
				if c.Name() != dl.Consumer {
					continue
				}
				if err := c.Replay(r.Context(), id); err != nil {
					if errors.Is(err, inbox.ErrNotFound) {
						return httpapi.Errorf(httpapi.ErrNotFound, "dead letter %d of %s: %v", id, s.spec.Name, err)
					}
					return httpapi.Errorf(httpapi.ErrConflict, "replay of dead letter %d failed again (it stays, with the new error): %v", id, err)
				}
				return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"replayed": id, "service": s.spec.Name, "event_id": dl.EventID})
			}
			return httpapi.Errorf(httpapi.ErrConflict, "dead letter %d belongs to consumer %s, which %s no longer runs", id, dl.Consumer, s.spec.Name)
		}
		return httpapi.Errorf(httpapi.ErrNotFound, "no dead letter %d in %s", id, s.spec.Name)
	})
	// A dead letter no replay can cure (a malformed message, an event of a
	// consumer gone) is discarded: deleted, never applied. The log keeps
	// it whole, so that nothing vanishes without a trace.
	h.mux.Admin("DELETE /ops/dead-letters/{service}/{id}", func(w http.ResponseWriter, r *http.Request) error {
		s, id, err := h.deadLetterPath(r)
		if err != nil {
			return err
		}
		dl, err := inbox.Discard(r.Context(), s.db, id)
		if errors.Is(err, inbox.ErrNotFound) {
			return httpapi.Errorf(httpapi.ErrNotFound, "no dead letter %d in %s", id, s.spec.Name)
		}
		if err != nil {
			return err
		}
		s.discarded.WithLabelValues(dl.Consumer).Inc()
		s.log.Warn("dead letter discarded", "id", dl.ID, "consumer", dl.Consumer, "event_id", dl.EventID,
			"event_type", dl.EventType, "nats_subject", dl.NATSSubject, "stream_seq", dl.StreamSeq,
			"dead_at", dl.DeadAt, "attempts", dl.Attempts, "error", dl.Error, "header", dl.Header,
			"payload", string(dl.Data))
		return httpapi.WriteJSON(w, http.StatusOK, toDeadLetterJSON(s.spec.Name, dl))
	})
}

// deadLetterPath reads the service and dead letter id of a request to
// /ops/dead-letters/{service}/{id}...: ErrNotFound for a service not run
// here, ErrInvalid for an id that is not a positive integer.
func (h *Host) deadLetterPath(r *http.Request) (*hosted, int64, error) {
	s := h.service(r.PathValue("service"))
	if s == nil {
		return nil, 0, httpapi.Errorf(httpapi.ErrNotFound, "no service %q here; services: %v", r.PathValue("service"), h.Services())
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, 0, httpapi.Errorf(httpapi.ErrInvalid, "dead letter id %q: want a positive integer", r.PathValue("id"))
	}
	return s, id, nil
}

func (h *Host) service(name string) *hosted {
	for _, s := range h.services {
		if s.spec.Name == name {
			return s
		}
	}
	return nil
}
