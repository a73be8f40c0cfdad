package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress shows the step in progress: its name, a counter and its rate.
// On a terminal the line is rewritten in place every 200 ms; elsewhere (a
// log, a pipe) a line is written every 5 s, and one at the end of each step.
// A nil writer makes every method a no-op.
type progress struct {
	w   io.Writer
	tty bool

	mu      sync.Mutex
	label   string
	unit    string
	total   int64
	start   time.Time
	count   *atomic.Int64
	lastLen int // length of the line on screen (TTY)

	stop chan struct{}
	done chan struct{}
}

func newProgress(w io.Writer, tty bool) *progress {
	p := &progress{w: w, tty: tty, stop: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	every := 5 * time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				if p.count != nil {
					p.show(false)
				}
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// step starts a new step and returns its counter, which the caller
// advances; total 0 means the step's size is not known in advance.
func (p *progress) step(label, unit string, total int64) *atomic.Int64 {
	c := new(atomic.Int64)
	if p.w == nil {
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count != nil {
		p.show(true)
	}
	p.label, p.unit, p.total, p.start, p.count = label, unit, total, time.Now(), c
	if !p.tty {
		fmt.Fprintf(p.w, "%s ...\n", label)
	}
	return c
}

// end finishes the current step with a final line, followed by note.
func (p *progress) end(note string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count == nil {
		return
	}
	if note != "" {
		p.label += " — " + note
	}
	p.show(true)
	p.count = nil
}

// note writes a line of its own, between steps.
func (p *progress) note(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.lastLen > 0 {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.lastLen = 0
	}
	fmt.Fprintf(p.w, format+"\n", args...)
	if p.count != nil && p.tty {
		p.show(false)
	}
}

// show writes the current step's line; final ends it with a newline.
// p.mu must be held.
func (p *progress) show(final bool) {
	n := p.count.Load()
	el := time.Since(p.start)
	var b strings.Builder
	b.WriteString(p.label)
	b.WriteString(": ")
	if p.total > 0 {
		fmt.Fprintf(&b, "%d/%d %s", n, p.total, p.unit)
	} else {
		fmt.Fprintf(&b, "%d %s", n, p.unit)
	}
	fmt.Fprintf(&b, ", %.0f/s, %.1fs", perSecond(n, el), el.Seconds())
	line := b.String()
	switch {
	case p.tty:
		fmt.Fprint(p.w, "\r"+line+"\x1b[K")
		p.lastLen = len(line)
		if final {
			fmt.Fprintln(p.w)
			p.lastLen = 0
		}
	default:
		fmt.Fprintln(p.w, line)
	}
}

// close stops the ticker; a step still open is ended.
func (p *progress) close() {
	if p.w == nil {
		return
	}
	p.end("")
	close(p.stop)
	<-p.done
}
