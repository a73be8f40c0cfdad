package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/bounded-dev/bounded/services/reporting"
)

// rebuildConfig is what `bounded reporting rebuild` runs with.
type rebuildConfig struct {
	base  string
	token string
	every time.Duration // between two progress lines
}

func (m *Main) parseReportingRebuild(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("reporting rebuild", `Drops the Reporting service's warehouse (facts, dimensions, watermarks, the order-history
read model, its consumers' inbox rows) and replays every stream from its first kept event
into a fresh one, inside the running shop (POST /reporting/admin/rebuild); shows the progress
on stderr (events applied of the events in the streams, rate, time left) until it ends.
While it runs, live consumption waits and the reports answer 503; it resumes exactly where
the replay ended. See docs/reporting.md.

Exit status: 0 done; 1 it failed (or the shop did not answer); 2 a usage error.`)
	var cfg rebuildConfig
	fs.StringVar(&cfg.base, "url", cmp.Or(os.Getenv("BOUNDED_URL"), defaultShopURL), "the shop's `address`, as 'bounded up' prints it (default $BOUNDED_URL, else "+defaultShopURL+")")
	fs.StringVar(&cfg.token, "admin-token", os.Getenv("BOUNDED_ADMIN_TOKEN"), "the shop's admin `token` (default $BOUNDED_ADMIN_TOKEN, else the one in DATA/admin-token)")
	data := fs.String("data", "data", "the shop's data `directory`, where 'bounded up' keeps the admin token")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("reporting rebuild: --url %q: want an http(s) URL such as %s", cfg.base, defaultShopURL)
	}
	cfg.every = time.Second
	return func(ctx context.Context) error {
		token, err := shopAdminToken(cfg.token, *data)
		if err != nil {
			return fmt.Errorf("reporting rebuild: %w", err)
		}
		cfg.token = token
		_, err = m.reportingRebuild(ctx, cfg)
		return err
	}, nil
}

// reportingRebuild starts a rebuild and follows it to its end, printing a
// progress line on stderr about every cfg.every; it returns the final
// status, and an error unless the rebuild is done.
func (m *Main) reportingRebuild(ctx context.Context, cfg rebuildConfig) (reporting.RebuildStatus, error) {
	var st reporting.RebuildStatus
	var started struct {
		RebuildID string `json:"rebuild_id"`
		Status    string `json:"status"`
	}
	if err := rebuildCall(ctx, cfg, http.MethodPost, "/reporting/admin/rebuild", http.StatusAccepted, &started); err != nil {
		return st, err
	}
	fmt.Fprintf(m.Stderr, "rebuild %s started\n", started.RebuildID)
	tick := time.NewTicker(cfg.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-tick.C:
		}
		if err := rebuildCall(ctx, cfg, http.MethodGet, started.Status, http.StatusOK, &st); err != nil {
			return st, err
		}
		line := fmt.Sprintf("rebuild: %d of %d events (%.1f%%), %.0f events/s", st.EventsApplied, st.EventsTotal,
			100*float64(st.EventsApplied)/float64(max(st.EventsTotal, 1)), st.EventsPerSecond)
		switch st.State {
		case "running":
			if st.ETASeconds > 0 {
				line += fmt.Sprintf(", %s left", (time.Duration(st.ETASeconds) * time.Second).Round(time.Second))
			}
			m.progress(line)
		case "done":
			took := time.Duration(0)
			if st.StartedAt != nil && st.FinishedAt != nil {
				took = st.FinishedAt.Sub(*st.StartedAt).Round(time.Millisecond)
			}
			m.progress("")
			fmt.Fprintf(m.Stderr, "rebuild %s done: %d events in %s (%.0f events/s); live consumption resumed\n",
				st.RebuildID, st.EventsApplied, took, st.EventsPerSecond)
			return st, nil
		default:
			m.progress("")
			return st, fmt.Errorf("reporting rebuild %s %s: %s (run it again: the warehouse stays half-built and its reports answer 503 until a rebuild succeeds)",
				st.RebuildID, st.State, cmp.Or(st.Error, "no detail"))
		}
	}
}

// progress draws line in place on a terminal, or prints it; an empty line
// ends a drawn one.
func (m *Main) progress(line string) {
	switch {
	case m.StderrIsTerminal && line == "":
		fmt.Fprint(m.Stderr, "\r\033[K")
	case m.StderrIsTerminal:
		fmt.Fprint(m.Stderr, "\r\033[K"+line)
	case line != "":
		fmt.Fprintln(m.Stderr, line)
	}
}

// rebuildCall sends an admin request to the shop and decodes the answer,
// which must have status want.
func rebuildCall(ctx context.Context, cfg rebuildConfig, method, path string, want int, out any) error {
	b, err := callShop(ctx, cfg.base, cfg.token, method, path, want)
	if se := (*shopError)(nil); errors.As(err, &se) {
		return fmt.Errorf("reporting rebuild: %s %s: %w", method, path, err)
	}
	if err != nil {
		return fmt.Errorf("reporting rebuild: %w", err)
	}
	return json.Unmarshal(b, out)
}
