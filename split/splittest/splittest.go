// Package splittest gives the tests of package split and of the 'bounded
// split' commands a shared database of their own: package demo's, under a
// unique name, dropped when the test ends.
package splittest

import (
	"context"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/split/demo"
)

// New makes a shared database on the server admin (a superuser's URL).
func New(tb testing.TB, admin string) *demo.Shared {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := testenv.UniqueName("bounded_split_")
	s, err := demo.Create(ctx, admin, name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := demo.Drop(ctx, admin, name); err != nil {
			tb.Errorf("splittest: %v", err)
		}
	})
	return s
}

// Run runs the services' workload until ctx ends; the test must end it.
// It returns once every service has run each of its statements.
func Run(tb testing.TB, ctx context.Context, s *demo.Shared) {
	tb.Helper()
	wait, _, err := s.Start(ctx, 5*time.Millisecond)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := wait(); err != nil {
			tb.Errorf("splittest: %v", err)
		}
	})
}

// Exec runs query as service's role and returns its error.
func Exec(tb testing.TB, s *demo.Shared, service, query string) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.Exec(ctx, service, query)
}
