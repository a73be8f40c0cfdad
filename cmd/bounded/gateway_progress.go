package main

import (
	"net/http"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// consumers gathers every service's consumers and their progress (or one
// service's), asking one process of each: replicas share their durable
// consumers.
func (g *gateway) consumers(w http.ResponseWriter, r *http.Request) error {
	all, err := g.gather(r, "/ops/consumers", "consumers", "the consumers")
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"consumers": all})
}
