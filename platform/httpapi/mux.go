package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
)

// HandlerFunc is an HTTP handler that returns its error instead of writing
// it; see the package doc.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one route a Mux serves.
type Route struct {
	Method string // GET, POST, ...
	Path   string // as registered, e.g. /products/{sku}
	Admin  bool   // needs the admin bearer token
}

// MuxConfig configures a Mux.
type MuxConfig struct {
	// Logger receives internal errors and recovered panics, once each.
	Logger *slog.Logger
	// AdminToken is the bearer token admin routes require. When empty,
	// admin routes answer 403.
	AdminToken string
}

// Mux routes requests with net/http's patterns ("GET /products/{sku}"),
// answers unknown paths and methods with problems, turns handler errors into
// problems, and remembers its routes.
type Mux struct {
	mux    *http.ServeMux
	cfg    MuxConfig
	routes []Route
}

// NewMux returns an empty Mux.
func NewMux(cfg MuxConfig) *Mux {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Mux{mux: http.NewServeMux(), cfg: cfg}
}

// Handle serves pattern, which must name a method, with h.
func (m *Mux) Handle(pattern string, h HandlerFunc) { m.handle(pattern, false, h) }

// Admin serves pattern with h for requests that carry the admin token as
// "Authorization: Bearer TOKEN"; others get 401 (no or another token).
func (m *Mux) Admin(pattern string, h HandlerFunc) { m.handle(pattern, true, h) }

func (m *Mux) handle(pattern string, admin bool, h HandlerFunc) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf("httpapi: pattern %q must be \"METHOD /path\"", pattern))
	}
	m.routes = append(m.routes, Route{Method: method, Path: path, Admin: admin})
	m.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if admin {
			if err := m.authorize(r); err != nil {
				WriteError(w, r, m.cfg.Logger, err)
				return
			}
		}
		if err := h(w, r); err != nil {
			WriteError(w, r, m.cfg.Logger, err)
		}
	})
}

func (m *Mux) authorize(r *http.Request) error {
	if m.cfg.AdminToken == "" {
		return Errorf(ErrForbidden, "admin actions are disabled: no admin token is configured")
	}
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	if auth == "" || !strings.EqualFold(scheme, "Bearer") {
		return Errorf(ErrUnauthorized, "this is an admin action: send the admin token as \"Authorization: Bearer TOKEN\"")
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(m.cfg.AdminToken)) != 1 {
		return Errorf(ErrUnauthorized, "the admin token is wrong")
	}
	return nil
}

// Routes returns the routes registered so far, sorted by path and method.
func (m *Mux) Routes() []Route {
	rs := slices.Clone(m.routes)
	slices.SortFunc(rs, func(a, b Route) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	return rs
}

// ServeHTTP implements http.Handler.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			m.cfg.Logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			WriteProblem(w, r, http.StatusInternalServerError, "internal error; the server log has the detail")
		}
	}()
	h, pattern := m.mux.Handler(r)
	if pattern != "" {
		m.mux.ServeHTTP(w, r) // (Handler does not set the path values)
		return
	}
	// No route: let ServeMux decide between 404 and 405 (and redirects),
	// then answer with a problem instead of its plain text.
	rec := &headerRecorder{h: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.h.Get("Allow"))
		WriteProblem(w, r, rec.status, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.h.Get("Allow")))
	case http.StatusNotFound, 0:
		WriteProblem(w, r, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	default: // a redirect to the cleaned path
		for k, v := range rec.h {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
	}
}

// headerRecorder keeps the status and headers ServeMux's fallback writes.
type headerRecorder struct {
	h      http.Header
	status int
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *headerRecorder) WriteHeader(status int)      { r.status = status }

// Read answers a GET that takes no query parameters with what read
// returns, as JSON (a service's GET /stats, say); a query is a 400.
func Read[T any](read func(context.Context) (T, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.RawQuery != "" {
			return Errorf(ErrInvalid, "%s %s takes no query parameters", r.Method, instance(r))
		}
		v, err := read(r.Context())
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, v)
	}
}
