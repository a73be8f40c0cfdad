// Package httpapi is the HTTP edge every service shares: JSON in and out,
// errors as RFC 9457 problem details (application/problem+json), error kinds
// mapped to status codes in one table, bearer-token admin routes, and a mux
// that remembers the routes it serves (so a test can hold them against the
// service's OpenAPI document).
//
// Handlers return errors instead of writing them: a handler that fails
// returns an error wrapping one of the kinds below, and [Mux] writes the
// problem. A client sees the message of a kind error; an error of no kind is
// an internal error: the client sees a plain message and the log gets the
// detail, once.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Error kinds. Wrap one with [Errorf] (or fmt.Errorf and %w) to choose the
// status code the client gets.
var (
	ErrInvalid       = errors.New("invalid request")        // 400
	ErrUnauthorized  = errors.New("unauthorized")           // 401
	ErrForbidden     = errors.New("forbidden")              // 403
	ErrNotFound      = errors.New("not found")              // 404
	ErrConflict      = errors.New("conflict")               // 409
	ErrTooLarge      = errors.New("request too large")      // 413
	ErrUnsupported   = errors.New("unsupported media type") // 415
	ErrUnprocessable = errors.New("unprocessable")          // 422
	ErrUnavailable   = errors.New("service unavailable")    // 503
)

var statusOf = []struct {
	kind   error
	status int
}{
	{ErrInvalid, http.StatusBadRequest},
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrForbidden, http.StatusForbidden},
	{ErrNotFound, http.StatusNotFound},
	{ErrConflict, http.StatusConflict},
	{ErrTooLarge, http.StatusRequestEntityTooLarge},
	{ErrUnsupported, http.StatusUnsupportedMediaType},
	{ErrUnprocessable, http.StatusUnprocessableEntity},
	{ErrUnavailable, http.StatusServiceUnavailable},
}

// kindError carries a client-facing message and its kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Errorf returns an error of the given kind whose message, shown to the
// client as the problem's detail, is the formatted text.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// ProblemContentType is the media type of a problem body.
const ProblemContentType = "application/problem+json"

// WriteProblem writes a problem with the given status and detail.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bounded"`)
	}
	w.WriteHeader(status)
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
	if r != nil {
		p.Instance = instance(r)
	}
	_ = json.NewEncoder(w).Encode(p)
}

// instance is the path the client asked for, without the query (which may
// carry personal data: ?customer_email=). That is r.RequestURI's path, not
// r.URL.Path: behind http.StripPrefix (a service mounted under /orders/)
// r.URL.Path has lost the prefix.
func instance(r *http.Request) string {
	if r.RequestURI != "" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
			return u.Path
		}
	}
	return r.URL.Path
}

// WriteError writes err as a problem: the status of its kind and its
// message, or 500 with a plain message (the detail goes to log).
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	for _, k := range statusOf {
		if errors.Is(err, k.kind) {
			WriteProblem(w, r, k.status, err.Error())
			return
		}
	}
	if log != nil {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteProblem(w, r, http.StatusInternalServerError, "internal error; the server log has the detail")
}

// WriteJSON writes v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// MaxBodyBytes bounds a request body that [Decode] reads.
const MaxBodyBytes = 1 << 20

// Decode reads the request's JSON body into v strictly: the content type
// must be JSON, unknown fields, trailing data and bodies over MaxBodyBytes
// are refused. The errors are of kind ErrInvalid, ErrUnsupported or
// ErrTooLarge with a message that says what is wrong.
func Decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		mt = strings.TrimSpace(strings.ToLower(mt))
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return Errorf(ErrUnsupported, "content type %q: send application/json", mt)
		}
	}
	return DecodeJSON(io.LimitReader(r.Body, MaxBodyBytes+1), v)
}

// DecodeJSON is Decode's body check on a reader: one JSON value into v,
// no unknown fields, nothing after it. Fuzz tests call it directly.
func DecodeJSON(body io.Reader, v any) error {
	lr := &countingReader{r: body}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if lr.n > MaxBodyBytes {
			return Errorf(ErrTooLarge, "request body is larger than %d bytes", MaxBodyBytes)
		}
		return Errorf(ErrInvalid, "request body: %s", describeJSONError(err))
	}
	if dec.More() {
		return Errorf(ErrInvalid, "request body: unexpected data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		if lr.n > MaxBodyBytes {
			return Errorf(ErrTooLarge, "request body is larger than %d bytes", MaxBodyBytes)
		}
		return Errorf(ErrInvalid, "request body: unexpected data after the JSON value")
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "empty; send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
		}
		return fmt.Sprintf("expected %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return err.Error()
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return kind
}

// QueryInt reads an integer query parameter in [lo, hi], or def when absent.
func QueryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, Errorf(ErrInvalid, "query parameter %s=%q: want an integer from %d to %d", name, s, lo, hi)
	}
	return n, nil
}
