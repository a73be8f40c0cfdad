package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
)

// shop is `bounded up` running in this process, driven only through HTTP,
// as a user would.
type shop struct {
	base   string
	data   string
	cancel context.CancelFunc
	done   chan int
	stdout strings.Builder
}

// startShop runs `bounded up` on data (a new temporary directory when
// empty) on free ports, with the harness's admin token, until stopped or the
// test ends.
func startShop(t *testing.T, data string, extra ...string) *shop {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	s := &shop{data: data, done: make(chan int, 1)}
	out, w := io.Pipe()
	m := &Main{Stdout: w, Stderr: testWriter{t}}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	args := append([]string{"up", "--addr", "127.0.0.1:0", "--data", data, "--log", "warn", "--admin-token", servicetest.AdminToken}, extra...)
	go func() {
		s.done <- m.Main(ctx, args)
		w.Close()
	}()
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		s.stdout.WriteString(lines.Text() + "\n")
		if rest, ok := strings.CutPrefix(lines.Text(), "bounded is up: "); ok {
			s.base = rest
			break
		}
	}
	if s.base == "" {
		t.Fatalf("bounded up printed no address (exit %v):\n%s", <-s.done, s.stdout.String())
	}
	go func() {
		for lines.Scan() {
		}
	}()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop stops the shop as Ctrl-C would and checks that it exits cleanly.
func (s *shop) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("bounded up exited %d after Ctrl-C, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Error("bounded up did not stop within 30 s")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (s *shop) do(t testing.TB, method, path string, body any, admin bool) servicetest.Response {
	t.Helper()
	return servicetest.Do(t, s.base, method, path, body, admin)
}

// must calls the API and decodes the answer into out, failing the test
// unless the status is want.
func (s *shop) must(t testing.TB, method, path string, body any, admin bool, want int, out any) {
	t.Helper()
	r := s.do(t, method, path, body, admin)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		r.Decode(t, out)
	}
}

func (s *shop) get(t testing.TB, path string, out any) {
	t.Helper()
	s.must(t, "GET", path, nil, false, http.StatusOK, out)
}

// eventually polls cond for up to 30 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	servicetest.Eventually(t, 30*time.Second, what, cond)
}

var _ = fmt.Sprint
var _ sync.Mutex
var _ = json.Marshal
