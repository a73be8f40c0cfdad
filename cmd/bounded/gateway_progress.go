package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// consumers gathers every service's consumers and their progress (or one
// service's), asking one process of each: replicas share their durable
// consumers. A service that cannot answer fails the whole answer: a
// partial list would read as "nothing pending" where there may be.
func (g *gateway) consumers(w http.ResponseWriter, r *http.Request) error {
	only := r.URL.Query().Get("service")
	if only != "" && !g.has(only) {
		return httpapi.Errorf(httpapi.ErrNotFound, "no service %q; services: %v", only, g.names())
	}
	all := []json.RawMessage{}
	var unavailable []string
	for _, name := range g.names() {
		if only != "" && name != only {
			continue
		}
		var v struct {
			Consumers []json.RawMessage `json:"consumers"`
		}
		if err := g.getJSON(r.Context(), g.pick(name), "/ops/consumers", r.Header.Get("Authorization"), &v); err != nil {
			unavailable = append(unavailable, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		all = append(all, v.Consumers...)
	}
	if len(unavailable) > 0 {
		return httpapi.Errorf(httpapi.ErrUnavailable, "could not read the consumers of %s", strings.Join(unavailable, "; "))
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"consumers": all})
}
