package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestGatewayGathersListsBesideOtherFields runs the gateway's fan-out
// against stand-ins for two service processes that answer as `bounded
// serve` does: the list beside other fields (a count). The gateway joins
// the lists; a process that cannot answer fails the whole answer, naming it.
func TestGatewayGathersListsBesideOtherFields(t *testing.T) {
	serve := func(body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		}))
		t.Cleanup(s.Close)
		return s
	}
	a := serve(`{"dead_letters":[{"id":"a1"},{"id":"a2"}],"count":2,"consumers":[{"name":"a"}]}`)
	b := serve(`{"dead_letters":[{"id":"b1"}],"count":1,"consumers":[]}`)
	children := []*child{
		{cfg: childConfig{service: "payments"}, addr: a.URL},
		{cfg: childConfig{service: "inventory"}, addr: b.URL},
	}
	g := newGateway(children, "tok", slog.New(slog.DiscardHandler))

	get := func(path string) (int, map[string]json.RawMessage) {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		g.ops.ServeHTTP(rec, req)
		var v map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, rec.Body)
		}
		return rec.Code, v
	}
	ids := func(raw json.RawMessage) string {
		var list []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range list {
			out = append(out, e.ID+e.Name)
		}
		return strings.Join(out, ",")
	}

	code, v := get("/ops/dead-letters")
	if code != http.StatusOK || ids(v["dead_letters"]) != "a1,a2,b1" || string(v["count"]) != "3" {
		t.Fatalf("GET /ops/dead-letters: %d %s count %s, want 200 a1,a2,b1 count 3", code, v["dead_letters"], v["count"])
	}
	code, v = get("/ops/dead-letters?service=inventory")
	if code != http.StatusOK || ids(v["dead_letters"]) != "b1" {
		t.Fatalf("GET /ops/dead-letters?service=inventory: %d %s, want 200 b1", code, v["dead_letters"])
	}
	code, v = get("/ops/consumers")
	if code != http.StatusOK || ids(v["consumers"]) != "a" {
		t.Fatalf("GET /ops/consumers: %d %s, want 200 a", code, v["consumers"])
	}
	if code, _ = get("/ops/dead-letters?service=nope"); code != http.StatusNotFound {
		t.Fatalf("GET /ops/dead-letters?service=nope: %d, want 404", code)
	}

	children[1].addr = "" // inventory is restarting
	code, v = get("/ops/dead-letters")
	if code != http.StatusServiceUnavailable || !strings.Contains(string(v["detail"]), "inventory: restarting") {
		t.Fatalf("GET /ops/dead-letters with inventory down: %d %s, want 503 naming inventory", code, v["detail"])
	}
}

// TestGatewayKillRefusals: killing a process is an admin route, names a
// service the gateway runs, and needs a process of it running.
func TestGatewayKillRefusals(t *testing.T) {
	children := []*child{{cfg: childConfig{service: "payments"}}} // restarting: no address
	g := newGateway(children, "tok", slog.New(slog.DiscardHandler))
	for _, c := range []struct {
		path, token string
		want        int
		detail      string
	}{
		{"/ops/processes/payments/kill", "", http.StatusUnauthorized, ""},
		{"/ops/processes/nope/kill", "tok", http.StatusNotFound, `no service \"nope\"`},
		{"/ops/processes/payments/kill", "tok", http.StatusConflict, "no process of payments is running"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		g.ops.ServeHTTP(rec, req)
		if rec.Code != c.want || rec.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(rec.Body.String(), c.detail) {
			t.Errorf("POST %s: %d %s %s, want %d with %q", c.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body, c.want, c.detail)
		}
	}
}
