package service

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

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

// routeOps adds the operations routes (all admin): dead letters listed and
// replayed.
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
				j := deadLetterJSON{ID: dl.ID, Service: s.spec.Name, Consumer: dl.Consumer, EventID: dl.EventID,
					EventType: dl.EventType, NATSSubject: dl.NATSSubject, Error: dl.Error, Attempts: dl.Attempts,
					StreamSeq: dl.StreamSeq, DeadAt: dl.DeadAt}
				if json.Valid(dl.Data) {
					j.Data = dl.Data
				} else {
					j.DataText = string(dl.Data)
				}
				out = append(out, j)
			}
		}
		return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"dead_letters": out, "count": len(out)})
	})
	h.mux.Admin("POST /ops/dead-letters/{service}/{id}/replay", func(w http.ResponseWriter, r *http.Request) error {
		s := h.service(r.PathValue("service"))
		if s == nil {
			return httpapi.Errorf(httpapi.ErrNotFound, "no service %q here; services: %v", r.PathValue("service"), h.Services())
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			return httpapi.Errorf(httpapi.ErrInvalid, "dead letter id %q: want a positive integer", r.PathValue("id"))
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
}

func (h *Host) service(name string) *hosted {
	for _, s := range h.services {
		if s.spec.Name == name {
			return s
		}
	}
	return nil
}
