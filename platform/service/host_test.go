package service_test

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

//go:embed testdata/migrations
var migrations embed.FS

func mig(t testing.TB) fs.FS {
	sub, err := fs.Sub(migrations, "testdata/migrations")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

type noteWritten struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// writer publishes notes; reader keeps a copy of them.
func specs(t testing.TB) (writer, reader service.Spec) {
	wreg := contract.NewRegistry()
	contract.Register[noteWritten](wreg, "writer.note_written", 1)
	writer = service.Spec{Name: "writer", Aggregates: []string{"Note"}, Events: wreg, Migrations: mig(t),
		OpenAPI: []byte(`{"openapi":"3.1.0","paths":{"/notes/{id}":{"put":{"security":[{"admin":[]}]}},"/openapi.json":{"get":{}}}}`),
		Start: func(ctx context.Context, env service.Env) (*service.Running, error) {
			mux := httpapi.NewMux(httpapi.MuxConfig{Logger: env.Logger, AdminToken: env.AdminToken})
			mux.Admin("PUT /notes/{id}", func(w http.ResponseWriter, r *http.Request) error {
				var in struct {
					Body string `json:"body"`
				}
				if err := httpapi.Decode(r, &in); err != nil {
					return err
				}
				if in.Body == "" {
					return httpapi.Errorf(httpapi.ErrInvalid, "body: required")
				}
				e, err := contract.New("/writer", "writer.note_written.v1", r.PathValue("id"), noteWritten{r.PathValue("id"), in.Body})
				if err != nil {
					return err
				}
				err = env.DB.Transact(r.Context(), func(tx *sqldb.Tx) error {
					if _, err := tx.ExecContext(r.Context(), tx.Dialect().Rebind(`INSERT INTO notes (id, body) VALUES ($1, $2)`), e.Subject, in.Body); err != nil {
						return err
					}
					return env.Outbox.Record(r.Context(), tx, e)
				})
				if err != nil {
					return err
				}
				return httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"id": e.Subject})
			})
			return &service.Running{API: mux}, nil
		}}
	reader = service.Spec{Name: "reader", Aggregates: []string{"NoteCopy"}, Events: contract.NewRegistry(), Migrations: mig(t),
		Consumes: []service.Consumption{service.On(wreg, "writer.note_written", service.EventCarriedState, "keeps a copy",
			func(ctx context.Context, tx *sqldb.Tx, e contract.Event, n noteWritten) error {
				if n.Body == "poison" {
					return errors.New("cannot take poison")
				}
				_, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`INSERT INTO notes (id, body) VALUES ($1, $2)`), n.ID, n.Body)
				return err
			})},
		Calls: []service.Call{{Service: "writer", Why: "shows the original"}},
		Start: func(ctx context.Context, env service.Env) (*service.Running, error) {
			mux := httpapi.NewMux(httpapi.MuxConfig{Logger: env.Logger})
			mux.Handle("GET /notes/{id}", func(w http.ResponseWriter, r *http.Request) error {
				var body string
				err := env.DB.QueryRowContext(r.Context(), env.DB.Dialect().Rebind(`SELECT body FROM notes WHERE id = $1`), r.PathValue("id")).Scan(&body)
				if err != nil {
					return httpapi.Errorf(httpapi.ErrNotFound, "no note %q", r.PathValue("id"))
				}
				return httpapi.WriteJSON(w, http.StatusOK, map[string]string{"body": body})
			})
			return &service.Running{API: mux}, nil
		}}
	return writer, reader
}

func TestHostRunsServicesThatTalkThroughEvents(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w, r := specs(t)
		h := servicetest.Start(t, d, w, r)

		h.MustProblem(t, "PUT", "/writer/notes/a", map[string]string{"body": "hi"}, false, http.StatusUnauthorized)
		h.MustProblem(t, "PUT", "/writer/notes/a", map[string]string{"nope": "hi"}, true, http.StatusBadRequest)
		h.MustProblem(t, "PUT", "/writer/notes/a", "{", true, http.StatusBadRequest)
		h.MustProblem(t, "DELETE", "/writer/notes/a", nil, true, http.StatusMethodNotAllowed)
		h.MustProblem(t, "GET", "/writer/nothing", nil, false, http.StatusNotFound)
		h.MustJSON(t, "PUT", "/writer/notes/a", map[string]string{"body": "hi"}, true, http.StatusCreated, nil)
		h.MustJSON(t, "PUT", "/writer/notes/b", map[string]string{"body": "poison"}, true, http.StatusCreated, nil)

		var got map[string]string
		servicetest.Eventually(t, 15e9, "the reader's copy", func() bool {
			return h.Do(t, "GET", "/reader/notes/a", nil, false).Status == http.StatusOK
		})
		h.MustJSON(t, "GET", "/reader/notes/a", nil, false, http.StatusOK, &got)
		if got["body"] != "hi" {
			t.Fatalf("copy = %v", got)
		}
		if e := h.WaitPublished(t, "writer.note_written", nil); e.Subject != "a" {
			t.Fatalf("first event about %q", e.Subject)
		}

		// The poison note is dead-lettered, listed, and replays (and fails again) through /ops.
		var dls struct {
			Count       int `json:"count"`
			DeadLetters []struct {
				ID       int64  `json:"id"`
				Service  string `json:"service"`
				Consumer string `json:"consumer"`
				Error    string `json:"error"`
			} `json:"dead_letters"`
		}
		h.MustProblem(t, "GET", "/ops/dead-letters", nil, false, http.StatusUnauthorized)
		servicetest.Eventually(t, 15e9, "a dead letter", func() bool {
			h.MustJSON(t, "GET", "/ops/dead-letters", nil, true, http.StatusOK, &dls)
			return dls.Count == 1
		})
		if dl := dls.DeadLetters[0]; dl.Service != "reader" || dl.Error == "" {
			t.Fatalf("dead letter = %+v", dl)
		}
		h.MustProblem(t, "POST", "/ops/dead-letters/reader/999/replay", nil, true, http.StatusNotFound)
		h.MustProblem(t, "POST", "/ops/dead-letters/nobody/1/replay", nil, true, http.StatusNotFound)
		h.MustProblem(t, "POST", "/ops/dead-letters/reader/x/replay", nil, true, http.StatusBadRequest)
		h.MustProblem(t, "POST", "/ops/dead-letters/reader/"+itoa(dls.DeadLetters[0].ID)+"/replay", nil, true, http.StatusConflict)
		if n := h.Metric(t, "bounded_inbox_dead_letters_total", "service", "reader"); n != 1 {
			t.Fatalf("dead letters metric = %v", n)
		}

		// The OpenAPI document is served and agrees with the routes.
		var doc map[string]any
		h.MustJSON(t, "GET", "/writer/openapi.json", nil, false, http.StatusOK, &doc)
		if err := httpapi.CheckOpenAPI(w.OpenAPI, h.Host.Routes("writer")); err != nil {
			t.Fatal(err)
		}
		if err := httpapi.CheckOpenAPI([]byte(`{"openapi":"3.0.3","paths":{"/notes/{id}":{"put":{}}}}`), h.Host.Routes("writer")); err == nil {
			t.Fatal("CheckOpenAPI passed a document that misses a route and an admin requirement")
		}
	})
}

func TestSpecValidate(t *testing.T) {
	w, r := specs(t)
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := r
	bad.Consumes = append(bad.Consumes, bad.Consumes[0])
	if err := bad.Validate(); err == nil {
		t.Fatal("a doubled consumption passed")
	}
	bad = w
	bad.Name = "Writer"
	if err := bad.Validate(); err == nil {
		t.Fatal("an upper-case name passed")
	}
	bad = r
	bad.Name = "writer" // consumes its own events, publishes nothing of another
	if err := bad.Validate(); err == nil {
		t.Fatal("a service consuming its own events passed")
	}
}

func itoa(n int64) string { return fmtInt(n) }
