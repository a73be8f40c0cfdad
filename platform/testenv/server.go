package testenv

import (
	"context"
	"testing"
	"time"
)

// PostgresServer is a PostgreSQL server of one test's own, started from the
// installed initdb/postgres binaries, which the test may restart (to see
// its code survive a real server restart). Tests that only need a database
// use NewPostgresDB, which is much cheaper.
type PostgresServer struct {
	c *cluster
}

// NewPostgresServer starts a private server, stopped and removed when the
// test ends. Each of settings ("name = value", as postgresql.conf has them:
// "shared_preload_libraries = 'pg_stat_statements'") is set in its
// configuration. Without the binaries the test is skipped, or fails when
// RealServersRequired.
func NewPostgresServer(tb testing.TB, settings ...string) *PostgresServer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := startCluster(ctx, settings...)
	if err != nil {
		skipPostgres(tb, "no private server could be started: "+err.Error())
	}
	tb.Cleanup(func() {
		if err := c.Stop(); err != nil {
			tb.Errorf("testenv: %v", err)
		}
	})
	return &PostgresServer{c: c}
}

// DSN is the server's admin URL (user postgres, database postgres). It stays
// valid across restarts.
func (s *PostgresServer) DSN() string { return s.c.DSN() }

// Restart stops the server with a fast shutdown (every connection is
// dropped), leaves it down for down, and starts it again on the same port
// and data.
func (s *PostgresServer) Restart(tb testing.TB, down time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.c.restart(ctx, down); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
}
