package service

import (
	"context"
	"net/http"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// ConsumerJSON is a durable consumer's progress in its stream as GET
// /ops/consumers shows it (see inbox.Progress). Error is set, and the
// figures are zero, when JetStream could not tell.
type ConsumerJSON struct {
	Service       string `json:"service"`
	Consumer      string `json:"consumer"`
	Stream        string `json:"stream"`
	StreamLastSeq uint64 `json:"stream_last_seq"`
	Delivered     uint64 `json:"delivered_seq"`
	AckFloor      uint64 `json:"ack_floor_seq"`
	Pending       uint64 `json:"pending"`
	AckPending    int    `json:"ack_pending"`
	// Paused: the service stopped the consumer (a rebuild of its
	// projection is under way); it is then not caught up.
	Paused   bool   `json:"paused,omitempty"`
	CaughtUp bool   `json:"caught_up"`
	Error    string `json:"error,omitempty"`
}

// routeConsumers adds GET /ops/consumers (admin): every consumer of the
// services this host runs (or of one, ?service=NAME) and how far it is in
// its stream, asked of JetStream at request time. `bounded reconcile`
// waits on it for the warehouse to have applied everything published.
func (h *Host) routeConsumers() {
	h.mux.Admin("GET /ops/consumers", func(w http.ResponseWriter, r *http.Request) error {
		only := r.URL.Query().Get("service")
		if only != "" && h.service(only) == nil {
			return httpapi.Errorf(httpapi.ErrNotFound, "no service %q here; services: %v", only, h.Services())
		}
		out := []ConsumerJSON{}
		for _, s := range h.services {
			if only != "" && s.spec.Name != only {
				continue
			}
			for _, slot := range s.consumers.slots {
				c := slot.c
				slot.mu.Lock()
				paused := slot.paused
				slot.mu.Unlock()
				ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
				p, err := c.Progress(ctx)
				cancel()
				j := ConsumerJSON{Service: s.spec.Name, Consumer: p.Consumer, Stream: p.Stream, Paused: paused}
				if err != nil {
					j.Error = err.Error()
				} else {
					j.StreamLastSeq, j.Delivered, j.AckFloor = p.StreamLastSeq, p.Delivered, p.AckFloor
					j.Pending, j.AckPending, j.CaughtUp = p.Pending, p.AckPending, p.CaughtUp() && !paused
				}
				out = append(out, j)
			}
		}
		return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"consumers": out})
	})
}
