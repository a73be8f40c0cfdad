package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

// TestDiscardADeadLetter discards, over HTTP, a dead letter of a consumer
// the service no longer runs (which no replay can take): the answer is the
// letter, the log has one WARN line with all of it, the counter counts it,
// and it is gone. An unknown service or id is a 404 problem, a bad id a
// 400, no token a 401.
func TestDiscardADeadLetter(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		ctx := toolkittest.Context(t)
		nc := toolkittest.Connect(t, testenv.NATS(t))
		ns, dsn := testenv.UniqueName("t"), toolkittest.DSN(t, d)
		var logs toolkittest.LockedBuffer
		reg := prometheus.NewRegistry()
		h, err := service.NewHost(service.HostConfig{NATS: nc, DSN: func(string) string { return dsn },
			Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: reg, AdminToken: "tok", Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		_, reader := specs(t)
		// Started, not run: the routes answer, nothing consumes.
		if err := h.Start(ctx, reader); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			js, _ := jetstream.New(nc)
			st, _ := h.StreamOf("reader")
			_ = js.DeleteStream(context.Background(), st)
		})
		db := toolkittest.OpenDB(t, dsn)
		err = db.Transact(ctx, func(tx *sqldb.Tx) error {
			return inbox.RecordDeadLetter(ctx, tx, inbox.DeadLetter{Consumer: "reader-gone", EventID: "ev-1",
				EventType: "gone.thing_happened.v1", NATSSubject: "gone.thing_happened.v1",
				Header: map[string][]string{"ce-id": {"ev-1"}}, Data: []byte(`{"why":"malformed"}`),
				Error: "decode: no such thing", Attempts: 3, StreamSeq: 42})
		})
		if err != nil {
			t.Fatal(err)
		}

		do := func(method, path string, admin bool) *httptest.ResponseRecorder {
			req := httptest.NewRequestWithContext(ctx, method, path, nil)
			if admin {
				req.Header.Set("Authorization", "Bearer tok")
			}
			rec := httptest.NewRecorder()
			h.Handler().ServeHTTP(rec, req)
			return rec
		}
		for _, tc := range []struct {
			path  string
			admin bool
			want  int
		}{
			{"/ops/dead-letters/reader/1", false, http.StatusUnauthorized},
			{"/ops/dead-letters/nobody/1", true, http.StatusNotFound},
			{"/ops/dead-letters/reader/999", true, http.StatusNotFound},
			{"/ops/dead-letters/reader/x", true, http.StatusBadRequest},
			{"/ops/dead-letters/reader/0", true, http.StatusBadRequest},
		} {
			rec := do("DELETE", tc.path, tc.admin)
			if rec.Code != tc.want || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("DELETE %s: %d %s %s, want %d problem+json", tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.want)
			}
		}

		rec := do("DELETE", "/ops/dead-letters/reader/1", true)
		if rec.Code != http.StatusOK {
			t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
		}
		var got struct {
			ID        int64           `json:"id"`
			Service   string          `json:"service"`
			Consumer  string          `json:"consumer"`
			EventID   string          `json:"event_id"`
			EventType string          `json:"event_type"`
			Error     string          `json:"error"`
			Attempts  int             `json:"attempts"`
			StreamSeq uint64          `json:"stream_seq"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != 1 || got.Service != "reader" || got.Consumer != "reader-gone" || got.EventID != "ev-1" ||
			got.EventType != "gone.thing_happened.v1" || got.Error != "decode: no such thing" || got.Attempts != 3 ||
			got.StreamSeq != 42 || string(got.Data) != `{"why":"malformed"}` {
			t.Errorf("discarded = %+v %s", got, got.Data)
		}

		var warns []string
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "level=WARN") {
				warns = append(warns, line)
			}
		}
		if len(warns) != 1 {
			t.Fatalf("%d WARN lines, want 1:\n%s", len(warns), logs.String())
		}
		for _, want := range []string{`msg="dead letter discarded"`, "service=reader", "id=1", "consumer=reader-gone", "event_id=ev-1",
			"event_type=gone.thing_happened.v1", "nats_subject=gone.thing_happened.v1", "stream_seq=42", "attempts=3",
			`error="decode: no such thing"`, "header=map[ce-id:[ev-1]]", `payload="{\"why\":\"malformed\"}"`, "dead_at="} {
			if !strings.Contains(warns[0], want) {
				t.Errorf("the WARN line lacks %s:\n%s", want, warns[0])
			}
		}
		if n, series := servicetest.MetricSeries(t, reg, "bounded_inbox_dead_letters_discarded_total", "service", "reader", "consumer", "reader-gone"); n != 1 || series != 1 {
			t.Errorf("discarded counter of reader-gone = %v in %d series, want 1 in 1", n, series)
		}
		// The consumer the service runs has its series from the start, at zero.
		running := ns + "_" + service.ConsumerName("reader", "writer")
		if n, series := servicetest.MetricSeries(t, reg, "bounded_inbox_dead_letters_discarded_total", "service", "reader", "consumer", running); n != 0 || series != 1 {
			t.Errorf("discarded counter of %s = %v in %d series, want 0 in 1", running, n, series)
		}
		if n, _ := inbox.Count(ctx, db, ""); n != 0 {
			t.Errorf("%d dead letters left", n)
		}
		if rec := do("DELETE", "/ops/dead-letters/reader/1", true); rec.Code != http.StatusNotFound {
			t.Errorf("second DELETE: %d %s, want 404", rec.Code, rec.Body)
		}
	})
}
