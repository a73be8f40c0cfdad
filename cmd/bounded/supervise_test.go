//go:build unix

package main

import (
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestStopReachesAProcessStillStarting: a stop that comes while the
// supervisor is starting a process again (after a crash) stops that new
// process, and the supervisor ends. (It once signalled only the dead
// process, and `bounded up` then waited for the new one forever.)
func TestStopReachesAProcessStillStarting(t *testing.T) {
	t.Parallel()
	// Serves after 5 s; SIGTERM ends it at once.
	script := `trap 'exit 0' TERM; sleep 5 & wait; echo 'listening on http://127.0.0.1:9'; while :; do sleep 1 & wait; done`
	c := &child{done: make(chan struct{}), cfg: childConfig{service: "test", replica: 1, exe: "/bin/sh", args: []string{"-c", script},
		stderr: io.Discard, log: slog.New(slog.DiscardHandler), restarted: prometheus.NewCounter(prometheus.CounterOpts{Name: "t"})}}
	exited, err := c.start()
	if err != nil {
		t.Fatal(err)
	}
	go c.supervise(exited)
	first := c.status().PID
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The supervisor waits 1 s, then starts the process again, which
	// serves 5 s later: stop in between.
	time.Sleep(2500 * time.Millisecond)
	if p := c.status(); p.Status != "restarting" {
		t.Fatalf("status %+v, want restarting (the new process serves only after 5 s)", p)
	}
	stopped := make(chan struct{})
	go func() {
		c.stop(2 * time.Second)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("stop did not return: the process started during the stop was not stopped")
	}
}
