package testenv

import (
	"context"
	"testing"
)

// Hooks for the black-box tests of the throwaway-cluster path, which the
// process-wide discovery would otherwise reach only on a machine without a
// loopback server.

type Cluster = cluster

func StartCluster(ctx context.Context) (*Cluster, error) { return startCluster(ctx) }

func PostgresBinaries() (initdb, postgres string, err error) { return postgresBinaries() }

func SkipNoPostgres(tb testing.TB, reason string) {
	tb.Helper()
	skipPostgres(tb, reason)
}
