package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/services/reporting"
)

type exportConfig struct {
	base, token, data, out string
}

func (m *Main) parseReportingExport(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("reporting export", `Fetches the Reporting warehouse's dimensions and facts from the running shop as Parquet
files, one per table (DIR/TABLE.parquet), for a real warehouse to load: DuckDB
(SELECT * FROM read_parquet('DIR/fact_order_line.parquet')), BigQuery (bq load
--source_format=PARQUET), ClickHouse, Snowflake. Each file is a snapshot of its table taken in
one query; each is written to a temporary file and renamed into place once complete.

usage: bounded reporting export --out DIR [flags]`)
	var cfg exportConfig
	fs.StringVar(&cfg.out, "out", "", "the `directory` to write the Parquet files into (created if missing; required)")
	fs.StringVar(&cfg.base, "url", cmp.Or(os.Getenv("BOUNDED_URL"), defaultShopURL), "the shop's `address`, as 'bounded up' prints it (default $BOUNDED_URL, else "+defaultShopURL+")")
	fs.StringVar(&cfg.token, "admin-token", os.Getenv("BOUNDED_ADMIN_TOKEN"), "the shop's admin `token` (default $BOUNDED_ADMIN_TOKEN, else the one in DATA/admin-token)")
	fs.StringVar(&cfg.data, "data", "data", "the shop's data `directory`, where 'bounded up' keeps the admin token")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if cfg.out == "" {
		return nil, usagef("reporting export: --out: name the directory to write the files into")
	}
	if u, err := url.Parse(cfg.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("reporting export: --url %q: want an http(s) URL such as %s", cfg.base, defaultShopURL)
	}
	return func(ctx context.Context) error {
		token, err := shopAdminToken(cfg.token, cfg.data)
		if err != nil {
			return fmt.Errorf("reporting export: %w", err)
		}
		cfg.token = token
		return m.reportingExport(ctx, cfg)
	}, nil
}

// shopAdminToken is the admin token given, else the one `bounded up` keeps
// in data.
func shopAdminToken(token, data string) (string, error) {
	if token != "" {
		return token, nil
	}
	b, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		return "", fmt.Errorf("no admin token: give --admin-token or $BOUNDED_ADMIN_TOKEN (%v)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (m *Main) reportingExport(ctx context.Context, cfg exportConfig) error {
	client := &http.Client{Timeout: 10 * time.Minute}
	get := func(path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(cfg.base, "/")+"/reporting/admin/export"+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+cfg.token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			var p struct{ Detail string }
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if json.Unmarshal(b, &p) != nil || p.Detail == "" {
				p.Detail = strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("GET /reporting/admin/export%s: %s: %s", path, resp.Status, p.Detail)
		}
		return resp, nil
	}
	resp, err := get("")
	if err != nil {
		return fmt.Errorf("reporting export: %w", err)
	}
	var list struct{ Tables []string }
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reporting export: the table list: %w", err)
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return fmt.Errorf("reporting export: %w", err)
	}
	for _, table := range list.Tables {
		if !validTableName(table) {
			return fmt.Errorf("reporting export: the shop named a table %q", table)
		}
		start := time.Now()
		rows, size, err := exportOne(get, table, filepath.Join(cfg.out, table+".parquet"))
		if err != nil {
			return fmt.Errorf("reporting export: %s: %w", table, err)
		}
		fmt.Fprintf(m.Stdout, "%-22s %9d rows %12s  %s\n", table+".parquet", rows, humanBytes(size), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// exportOne downloads one table into path, through a temporary file that
// is renamed into place only when the whole file (Content-Length) came.
func exportOne(get func(string) (*http.Response, error), table, path string) (rows, size int64, err error) {
	resp, err := get("/" + table)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != reporting.ParquetContentType {
		return 0, 0, fmt.Errorf("answered %q, not Parquet", ct)
	}
	rows, _ = strconv.ParseInt(resp.Header.Get("Bounded-Rows"), 10, 64)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+table+"-*.parquet")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	size, err = io.Copy(tmp, resp.Body)
	if err == nil && resp.ContentLength >= 0 && size != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", size, resp.ContentLength)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return rows, size, err
}

func validTableName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
