package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// childConfig is how the supervisor starts one service's process.
type childConfig struct {
	service string
	replica int // 1, 2, … among the service's processes
	exe     string
	args    []string // after the executable
	env     []string // added to the supervisor's environment
	stderr  io.Writer
	log     *slog.Logger
	// restarted counts restarts after a crash.
	restarted prometheus.Counter
}

// child is one service's process, kept running by its supervisor: when it
// dies (a crash, kill -9) it is started again, after a pause that grows
// with repeated failures. Its address changes with each start; the gateway
// always asks for the current one.
type child struct {
	cfg childConfig

	mu       sync.Mutex
	addr     string // http://HOST:PORT; "" while down
	pid      int
	restarts int
	started  time.Time
	lastExit string
	proxy    *httputil.ReverseProxy
	stopping bool
	cmd      *exec.Cmd

	done chan struct{} // closed when supervise returns
}

// childStartTimeout bounds the wait for a new process's "listening on" line
// (it migrates its database first).
const childStartTimeout = 60 * time.Second

// start starts the process and waits until it serves. exited receives the
// process's end.
func (c *child) start() (exited chan error, err error) {
	cmd := exec.Command(c.cfg.exe, c.cfg.args...)
	cmd.Env = append(os.Environ(), c.cfg.env...)
	cmd.SysProcAttr = childProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.cfg.service, err)
	}
	// Known to stop at once, before it serves: a stop that comes while it
	// starts (a restart under way) must reach this process, not only the
	// one that died.
	c.mu.Lock()
	c.cmd = cmd
	stopping := c.stopping
	c.mu.Unlock()
	if stopping {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	tail := &tailWriter{max: 20}
	copied := make(chan struct{})
	go func() {
		prefixLines(io.MultiWriter(c.cfg.stderr, tail), errOut, fmt.Sprintf("[%s %d] ", c.cfg.service, cmd.Process.Pid))
		close(copied)
	}()
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if _, rest, ok := strings.Cut(lines.Text(), listeningPrefix); ok {
				select {
				case addr <- strings.TrimSpace(rest):
				default:
				}
			}
		}
	}()
	exited = make(chan error, 1)
	go func() {
		<-copied // Wait closes the pipes: read them to their end first
		exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		u, err := url.Parse(a)
		if err != nil || u.Host == "" {
			_ = cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("%s printed a bad address %q", c.cfg.service, a)
		}
		c.mu.Lock()
		c.addr, c.pid, c.started, c.cmd = a, cmd.Process.Pid, time.Now(), cmd
		c.proxy = newProxy(c.cfg.service, u)
		c.mu.Unlock()
		return exited, nil
	case err := <-exited:
		return nil, fmt.Errorf("%s exited at start (%v): %s", c.cfg.service, err, tail.last())
	case <-time.After(childStartTimeout):
		_ = cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("%s did not serve within %s: %s", c.cfg.service, childStartTimeout, tail.last())
	}
}

// supervise keeps the process running until stop. exited is the running
// process's end.
func (c *child) supervise(exited chan error) {
	defer close(c.done)
	pause := time.Second
	for {
		err := <-exited
		c.mu.Lock()
		ran := time.Since(c.started)
		c.addr, c.proxy, c.cmd = "", nil, nil
		c.lastExit = fmt.Sprint(err)
		if err == nil {
			c.lastExit = "exited"
		}
		stopping := c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		if ran > 30*time.Second {
			pause = time.Second // it ran well: this is a new failure
		}
		for {
			c.cfg.log.Warn("service process ended; starting it again", "service", c.cfg.service, "exit", c.lastExit, "after", pause)
			time.Sleep(pause)
			pause = min(2*pause, 10*time.Second)
			if c.isStopping() {
				return
			}
			exited, err = c.start()
			if err == nil {
				break
			}
			c.cfg.log.Error("service process did not start", "service", c.cfg.service, "err", err)
		}
		c.mu.Lock()
		c.restarts++
		c.mu.Unlock()
		c.cfg.restarted.Inc()
		c.cfg.log.Info("service process started again", "service", c.cfg.service, "addr", c.current())
	}
}

func (c *child) isStopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}

func (c *child) current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// stop asks the process to stop (SIGTERM), and kills it after grace.
func (c *child) stop(grace time.Duration) {
	c.mu.Lock()
	c.stopping = true
	cmd := c.cmd
	c.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-c.done:
	case <-time.After(grace):
		// The process now (a restart may have begun after the signal).
		c.mu.Lock()
		cmd = c.cmd
		c.mu.Unlock()
		if cmd != nil {
			_ = cmd.Process.Kill()
		}
		<-c.done
	}
}

// kill sends SIGKILL to the running process and returns it as it was.
func (c *child) kill() (processJSON, error) {
	p := c.status()
	c.mu.Lock()
	cmd := c.cmd
	c.mu.Unlock()
	if p.Status != "running" || cmd == nil || cmd.Process == nil || cmd.Process.Pid != p.PID {
		return p, errors.New("the process is restarting")
	}
	if err := cmd.Process.Kill(); err != nil {
		return p, err
	}
	return p, nil
}

// processesJSON is GET /ops/processes.
type processesJSON struct {
	Processes []processJSON `json:"processes"`
}

// processJSON is a service process as GET /ops/processes shows it.
type processJSON struct {
	Service  string     `json:"service"`
	Replica  int        `json:"replica"`
	Status   string     `json:"status"` // running or restarting
	PID      int        `json:"pid,omitempty"`
	Addr     string     `json:"addr,omitempty"`
	Started  *time.Time `json:"started,omitempty"`
	Restarts int        `json:"restarts"`
	LastExit string     `json:"last_exit,omitempty"`
}

func (c *child) status() processJSON {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := processJSON{Service: c.cfg.service, Replica: c.cfg.replica, Status: "restarting", Restarts: c.restarts, LastExit: c.lastExit}
	if c.addr != "" {
		started := c.started.UTC()
		p.Status, p.PID, p.Addr, p.Started = "running", c.pid, c.addr, &started
	}
	return p
}

// newProxy forwards requests for /SERVICE/... to the process at u, path
// unchanged. A process that does not answer is a 503 problem.
func newProxy(service string, u *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			httpapi.WriteProblem(w, r, http.StatusServiceUnavailable, fmt.Sprintf("%s is unavailable: %v", service, err))
		},
	}
}

// gateway is the one address in front of the distributed shop: it
// forwards /SERVICE/... to one of the service's processes (round robin
// over the replicas that run), gathers the operations routes over all of
// them, and lists the processes.
type gateway struct {
	log      *slog.Logger
	children []*child
	ops      *httpapi.Mux
	client   *http.Client
	next     atomic.Uint64
}

func newGateway(children []*child, token string, log *slog.Logger) *gateway {
	g := &gateway{log: log, children: children, client: &http.Client{Timeout: 10 * time.Second}}
	g.ops = httpapi.NewMux(httpapi.MuxConfig{Logger: log, AdminToken: token})
	g.ops.Admin("GET /ops/processes", func(w http.ResponseWriter, r *http.Request) error {
		out := []processJSON{}
		for _, c := range g.children {
			out = append(out, c.status())
		}
		return httpapi.WriteJSON(w, http.StatusOK, processesJSON{Processes: out})
	})
	// A fault on purpose: kill -9 one running process of a service (in turn
	// over its replicas), as a crash would; the supervisor starts it again.
	// 'bench shop --kill' drives this.
	g.ops.Admin("POST /ops/processes/{service}/kill", func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("service")
		if !g.has(name) {
			return httpapi.Errorf(httpapi.ErrNotFound, "no service %q; services: %v", name, g.names())
		}
		c := g.pick(name)
		if c == nil {
			return httpapi.Errorf(httpapi.ErrConflict, "no process of %s is running: it is restarting", name)
		}
		p, err := c.kill()
		if err != nil {
			return httpapi.Errorf(httpapi.ErrConflict, "%s: %v", name, err)
		}
		g.log.Warn("process killed on request (SIGKILL)", "service", p.Service, "replica", p.Replica, "pid", p.PID)
		return httpapi.WriteJSON(w, http.StatusAccepted, p)
	})
	g.ops.Admin("GET /ops/dead-letters", g.deadLetters)
	g.ops.Admin("GET /ops/consumers", g.consumers)
	// A dead letter is in its service's database, which the service's
	// replicas share: any one of its processes replays or discards it.
	toService := func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("service")
		if !g.has(name) {
			return httpapi.Errorf(httpapi.ErrNotFound, "no service %q; services: %v", name, g.names())
		}
		g.forward(name, w, r)
		return nil
	}
	g.ops.Admin("POST /ops/dead-letters/{service}/{id}/replay", toService)
	g.ops.Admin("DELETE /ops/dead-letters/{service}/{id}", toService)
	return g
}

// ServeHTTP serves /ops/ itself and forwards /SERVICE/... .
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/ops/") {
		g.ops.ServeHTTP(w, r)
		return
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !g.has(name) {
		httpapi.WriteProblem(w, r, http.StatusNotFound, fmt.Sprintf("no service %q; services: %v", name, g.names()))
		return
	}
	g.forward(name, w, r)
}

// forward sends the request to a running process of service name.
func (g *gateway) forward(name string, w http.ResponseWriter, r *http.Request) {
	c := g.pick(name)
	if c == nil {
		w.Header().Set("Retry-After", "1")
		httpapi.WriteProblem(w, r, http.StatusServiceUnavailable, name+" is restarting")
		return
	}
	c.mu.Lock()
	proxy := c.proxy
	c.mu.Unlock()
	proxy.ServeHTTP(w, r)
}

// pick returns a running process of service name, in turn; nil if none
// runs.
func (g *gateway) pick(name string) *child {
	var running []*child
	for _, c := range g.children {
		if c.cfg.service == name && c.current() != "" {
			running = append(running, c)
		}
	}
	if len(running) == 0 {
		return nil
	}
	return running[g.next.Add(1)%uint64(len(running))]
}

func (g *gateway) has(name string) bool { return slices.Contains(g.names(), name) }

// names are the services, once each, in start order.
func (g *gateway) names() []string {
	var out []string
	for _, c := range g.children {
		if !slices.Contains(out, c.cfg.service) {
			out = append(out, c.cfg.service)
		}
	}
	return out
}

// deadLetters gathers every service's dead letters (or one service's),
// asking one process of each: replicas share their database.
func (g *gateway) deadLetters(w http.ResponseWriter, r *http.Request) error {
	all, err := g.gather(r, "/ops/dead-letters", "dead_letters", "the dead letters")
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"dead_letters": all, "count": len(all)})
}

// gather asks one process of every service (or of the one ?service=
// names) for path, and joins the lists under field of their answers. A
// service that cannot answer fails the whole answer: a partial list would
// read as "none" where there may be some (what names them in the error).
func (g *gateway) gather(r *http.Request, path, field, what string) ([]json.RawMessage, error) {
	only := r.URL.Query().Get("service")
	if only != "" && !g.has(only) {
		return nil, httpapi.Errorf(httpapi.ErrNotFound, "no service %q; services: %v", only, g.names())
	}
	all := []json.RawMessage{}
	var unavailable []string
	for _, name := range g.names() {
		if only != "" && name != only {
			continue
		}
		// The answer holds more than the list (a count, say): decode
		// only the field asked for.
		var v map[string]json.RawMessage
		if err := g.getJSON(r.Context(), g.pick(name), path, r.Header.Get("Authorization"), &v); err != nil {
			unavailable = append(unavailable, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		var list []json.RawMessage
		if raw, ok := v[field]; ok {
			if err := json.Unmarshal(raw, &list); err != nil {
				unavailable = append(unavailable, fmt.Sprintf("%s: %s: %v", name, field, err))
				continue
			}
		}
		all = append(all, list...)
	}
	if len(unavailable) > 0 {
		return nil, httpapi.Errorf(httpapi.ErrUnavailable, "could not read %s of %s", what, strings.Join(unavailable, "; "))
	}
	return all, nil
}

// getJSON GETs path from c's process.
func (g *gateway) getJSON(ctx context.Context, c *child, path, auth string, v any) error {
	var base string
	if c != nil {
		base = c.current()
	}
	if base == "" {
		return errors.New("restarting")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// health asks every process for its health: its service's database and
// NATS, as that process sees them. A service is "ok" when all its
// processes are.
func (g *gateway) health(ctx context.Context) (map[string]string, bool) {
	out, ok := map[string]string{"nats": "ok"}, true
	for _, c := range g.children {
		name := c.cfg.service
		var h map[string]string
		status := ""
		if err := g.getJSON(ctx, c, "/healthz", "", &h); err != nil {
			status = err.Error()
		} else {
			status = h[name]
			if n := h["nats"]; n != "ok" && out["nats"] == "ok" {
				out["nats"], ok = fmt.Sprintf("%s (seen by %s pid %d)", n, name, c.status().PID), false
			}
		}
		if status != "ok" {
			ok = false
			if len(g.children) > len(g.names()) {
				status = fmt.Sprintf("replica %d: %s", c.cfg.replica, status)
			}
		}
		if prev, seen := out[name]; !seen || prev == "ok" {
			out[name] = status
		}
	}
	return out, ok
}

// prefixLines copies r to w line by line, each line prefixed.
func prefixLines(w io.Writer, r io.Reader, prefix string) {
	lines := bufio.NewScanner(r)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		fmt.Fprintln(w, prefix+lines.Text())
	}
}

// tailWriter keeps the last lines written to it, for an error message.
type tailWriter struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		t.lines = append(t.lines, l)
	}
	if n := len(t.lines); n > t.max {
		t.lines = slices.Clone(t.lines[n-t.max:])
	}
	return len(p), nil
}

// last is the last error-looking line, else the last line.
func (t *tailWriter) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.lines) - 1; i >= 0; i-- {
		if strings.Contains(t.lines[i], "bounded:") || strings.Contains(t.lines[i], "level=ERROR") {
			return t.lines[i]
		}
	}
	if len(t.lines) == 0 {
		return "(no output)"
	}
	return t.lines[len(t.lines)-1]
}
