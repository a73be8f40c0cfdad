package toolkittest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bounded-dev/bounded/platform/toolkittest"
)

// failing is a metric read when scraped whose read fails.
type failing struct{ desc *prometheus.Desc }

func (c failing) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, context.DeadlineExceeded)
}

// recorder is a testing.TB whose Fatal ends only the goroutine it runs
// in, and is recorded.
type recorder struct {
	testing.TB
	fatal string
	logs  []string
}

func (r *recorder) Helper() {}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) { r.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run runs f on its own goroutine against a recorder.
func run(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// TestGatherReadsPastAnotherMetricsFailure: a metric that cannot be read
// when scraped fails a test reading it, and only that one.
func TestGatherReadsPastAnotherMetricsFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	ok := prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_test_ok_total", Help: "A counter."})
	ok.Add(3)
	reg.MustRegister(ok, failing{prometheus.NewDesc("bounded_test_backlog", "Read when scraped.", nil, nil)})

	var got float64
	r := run(t, func(tb testing.TB) { got = toolkittest.Metric(tb, reg, "bounded_test_ok_total") })
	if r.fatal != "" || got != 3 {
		t.Fatalf("reading the counter: %v, failed: %q", got, r.fatal)
	}
	if len(r.logs) != 1 || !strings.Contains(r.logs[0], "bounded_test_backlog") {
		t.Fatalf("the other metric's failure was not logged: %q", r.logs)
	}

	r = run(t, func(tb testing.TB) { toolkittest.Gather(tb, reg, "bounded_test_backlog") })
	if !strings.Contains(r.fatal, "deadline exceeded") {
		t.Fatalf("reading the metric that failed: %q, want its error", r.fatal)
	}

	// An error that names no metric fails whatever is read.
	gs := prometheus.Gatherers{reg, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return nil, errors.New("gathering refused")
	})}
	r = run(t, func(tb testing.TB) { toolkittest.Gather(tb, gs, "bounded_test_ok_total") })
	if !strings.Contains(r.fatal, "gathering refused") {
		t.Fatalf("an error naming no metric: %q, want it to fail the test", r.fatal)
	}
}
