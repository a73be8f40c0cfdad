package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

type body struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func newMux() *httpapi.Mux {
	m := httpapi.NewMux(httpapi.MuxConfig{AdminToken: "secret-token-123456"})
	m.Handle("POST /things", func(w http.ResponseWriter, r *http.Request) error {
		var b body
		if err := httpapi.Decode(r, &b); err != nil {
			return err
		}
		return httpapi.WriteJSON(w, http.StatusCreated, b)
	})
	m.Handle("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) error {
		switch r.PathValue("id") {
		case "known":
			return httpapi.WriteJSON(w, http.StatusOK, map[string]string{"id": "known"})
		case "boom":
			return errors.New("database password is hunter2")
		case "panic":
			panic("oops")
		}
		return httpapi.Errorf(httpapi.ErrNotFound, "no thing %q", r.PathValue("id"))
	})
	m.Admin("DELETE /things/{id}", func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	return m
}

func call(t *testing.T, h http.Handler, method, path, ct, payload string, hdr ...string) (*http.Response, httpapi.Problem, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(payload))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	var p httpapi.Problem
	if resp.Header.Get("Content-Type") == httpapi.ProblemContentType {
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("problem body %q: %v", b, err)
		}
	}
	return resp, p, string(b)
}

func TestMuxAnswersProblems(t *testing.T) {
	m := newMux()
	for _, c := range []struct {
		name, method, path, ct, body string
		hdr                          []string
		status                       int
		detail                       string // a substring of the problem's detail
	}{
		{"created", "POST", "/things", "application/json", `{"name":"a","count":1}`, nil, 201, ""},
		{"unknown field", "POST", "/things", "application/json", `{"name":"a","cnt":1}`, nil, 400, `unknown field "cnt"`},
		{"wrong type", "POST", "/things", "application/json", `{"name":"a","count":"1"}`, nil, 400, `field "count" must be an integer`},
		{"malformed", "POST", "/things", "application/json", `{"name":`, nil, 400, "truncated JSON"},
		{"empty", "POST", "/things", "application/json", ``, nil, 400, "empty"},
		{"trailing", "POST", "/things", "application/json", `{"name":"a"} {}`, nil, 400, "after the JSON value"},
		{"not json", "POST", "/things", "text/plain", `name=a`, nil, 415, "application/json"},
		{"too large", "POST", "/things", "application/json", `{"name":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`, nil, 413, "larger than"},
		{"found", "GET", "/things/known", "", "", nil, 200, ""},
		{"not found", "GET", "/things/nope", "", "", nil, 404, `no thing "nope"`},
		{"internal error hidden", "GET", "/things/boom", "", "", nil, 500, "internal error"},
		{"panic", "GET", "/things/panic", "", "", nil, 500, "internal error"},
		{"no route", "GET", "/elsewhere", "", "", nil, 404, "no endpoint GET /elsewhere"},
		{"wrong method", "PUT", "/things/known", "", "", nil, 405, "PUT is not allowed"},
		{"admin without token", "DELETE", "/things/known", "", "", nil, 401, "admin token"},
		{"admin wrong token", "DELETE", "/things/known", "", "", []string{"Authorization", "Bearer nope"}, 401, "wrong"},
		{"admin", "DELETE", "/things/known", "", "", []string{"Authorization", "Bearer secret-token-123456"}, 204, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, p, raw := call(t, m, c.method, c.path, c.ct, c.body, c.hdr...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, raw)
			}
			if c.status < 400 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != httpapi.ProblemContentType {
				t.Fatalf("content type %q", ct)
			}
			if p.Status != c.status || !strings.Contains(p.Detail, c.detail) {
				t.Fatalf("problem %+v, want detail containing %q", p, c.detail)
			}
			if strings.Contains(raw, "hunter2") {
				t.Fatal("an internal error's detail reached the client")
			}
		})
	}
}

// TestProblemInstanceIsThePathAsked: behind http.StripPrefix (how a host
// mounts a service under /orders/) a problem still names the path the
// client asked for, without its query.
func TestProblemInstanceIsThePathAsked(t *testing.T) {
	h := http.StripPrefix("/svc", newMux())
	_, p, raw := call(t, h, "GET", "/svc/things/nope?customer_email=a@example.com", "", "")
	if p.Status != http.StatusNotFound || p.Instance != "/svc/things/nope" {
		t.Fatalf("problem %s: want 404 with instance /svc/things/nope", raw)
	}
}

func TestAdminRoutesRefusedWithoutAConfiguredToken(t *testing.T) {
	m := httpapi.NewMux(httpapi.MuxConfig{})
	m.Admin("POST /x", func(w http.ResponseWriter, r *http.Request) error { return nil })
	resp, p, _ := call(t, m, "POST", "/x", "", "", "Authorization", "Bearer ")
	if resp.StatusCode != 403 || !strings.Contains(p.Detail, "no admin token") {
		t.Fatalf("%d %+v", resp.StatusCode, p)
	}
}

func TestRoutesAndOpenAPI(t *testing.T) {
	m := newMux()
	doc := `{"openapi":"3.1.0","paths":{
	  "/things":{"post":{}},
	  "/things/{id}":{"parameters":[],"get":{},"delete":{"security":[{"bearerAuth":[]}]}}}}`
	if err := httpapi.CheckOpenAPI([]byte(doc), m.Routes()); err != nil {
		t.Fatal(err)
	}
	bad := `{"openapi":"3.1.0","paths":{"/things":{"post":{},"get":{}},"/things/{id}":{"get":{},"delete":{}}}}`
	err := httpapi.CheckOpenAPI([]byte(bad), m.Routes())
	if err == nil || !strings.Contains(err.Error(), "documented, not served: GET /things") || !strings.Contains(err.Error(), "DELETE /things/{id}: served with admin=true") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{`, `[]`, `{"name":1}`, `null`, `{"count":1e999}`, "{\"name\":\"\xff\"}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b body
		err := httpapi.DecodeJSON(strings.NewReader(s), &b)
		if err != nil && !errors.Is(err, httpapi.ErrInvalid) && !errors.Is(err, httpapi.ErrTooLarge) {
			t.Fatalf("error of no kind: %v", err)
		}
	})
}

// TestRead: a GET without a query gets read's value as JSON; with a query,
// a 400 problem; read's error, its problem.
func TestRead(t *testing.T) {
	m := httpapi.NewMux(httpapi.MuxConfig{})
	n := 0
	m.Handle("GET /stats", httpapi.Read(func(context.Context) (map[string]int, error) {
		n++
		if n > 1 {
			return nil, httpapi.Errorf(httpapi.ErrUnavailable, "busy")
		}
		return map[string]int{"orders": 3}, nil
	}))
	if resp, _, raw := call(t, m, "GET", "/stats", "", ""); resp.StatusCode != 200 || strings.TrimSpace(raw) != `{"orders":3}` {
		t.Fatalf("GET /stats: %d %s", resp.StatusCode, raw)
	}
	if _, p, raw := call(t, m, "GET", "/stats?x=1", "", ""); p.Status != 400 || !strings.Contains(p.Detail, "takes no query parameters") {
		t.Fatalf("GET /stats?x=1: %s", raw)
	}
	if _, p, raw := call(t, m, "GET", "/stats", "", ""); p.Status != 503 || p.Detail != "busy" {
		t.Fatalf("GET /stats, read failing: %s", raw)
	}
}
