package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CPUUse is what the machine's processes spent of its CPU while a figure
// was measured, each in percent of one core (two busy cores are 200%):
// this process (the writers, the relay and the consumers; an embedded NATS
// server too), the PostgreSQL server's processes, the NATS server's, and
// the idle time of all cores together. Read from /proc (Linux only: zero
// elsewhere). A PostgreSQL backend that ended during the measurement is
// missed, so Postgres may be low, never high.
type CPUUse struct {
	Seconds  float64 `json:"seconds"`
	Bench    float64 `json:"bench_pct"`
	Postgres float64 `json:"postgres_pct"`
	NATS     float64 `json:"nats_server_pct"`
	Idle     float64 `json:"idle_pct"`
}

// merge weighs a and b by their seconds.
func (a CPUUse) merge(b CPUUse) CPUUse {
	s := a.Seconds + b.Seconds
	if s == 0 {
		return CPUUse{}
	}
	w := func(x, y float64) float64 { return (x*a.Seconds + y*b.Seconds) / s }
	return CPUUse{Seconds: s, Bench: w(a.Bench, b.Bench), Postgres: w(a.Postgres, b.Postgres), NATS: w(a.NATS, b.NATS), Idle: w(a.Idle, b.Idle)}
}

// clockTicks is the unit of /proc's CPU times: USER_HZ, 100 on Linux.
const clockTicks = 100

// cpuSnap is the CPU time, in clock ticks, of this process, of each
// PostgreSQL and NATS server process, and the machine's idle time.
type cpuSnap struct {
	at       time.Time
	self     uint64
	postgres map[int]uint64
	nats     map[int]uint64
	idle     uint64
	ok       bool
}

// snapCPU reads /proc; ok is false where it cannot.
func snapCPU() cpuSnap {
	s := cpuSnap{at: time.Now(), postgres: map[int]uint64{}, nats: map[int]uint64{}}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := bytes.Fields(line) // cpu user nice system idle iowait ...
	if len(f) < 6 || string(f[0]) != "cpu" {
		return s
	}
	s.idle = atou(f[4]) + atou(f[5])
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(dir + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open {
			continue
		}
		comm := string(b[open+1 : close])
		if pid != self && comm != "postgres" && comm != "nats-server" {
			continue
		}
		rest := bytes.Fields(b[close+1:]) // state ppid ... utime(12th) stime(13th)
		if len(rest) < 13 {
			continue
		}
		ticks := atou(rest[11]) + atou(rest[12])
		switch {
		case pid == self:
			s.self = ticks
		case comm == "postgres":
			s.postgres[pid] = ticks
		default:
			s.nats[pid] = ticks
		}
	}
	s.ok = true
	return s
}

// use is the CPU spent from a to b.
func (a cpuSnap) use(b cpuSnap) CPUUse {
	secs := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || secs <= 0 {
		return CPUUse{}
	}
	pct := func(ticks uint64) float64 { return float64(ticks) / clockTicks / secs * 100 }
	since := func(before, after map[int]uint64) (sum uint64) {
		for pid, t := range after {
			if t >= before[pid] {
				sum += t - before[pid]
			}
		}
		return sum
	}
	return CPUUse{Seconds: secs, Bench: pct(b.self - a.self), Postgres: pct(since(a.postgres, b.postgres)),
		NATS: pct(since(a.nats, b.nats)), Idle: pct(b.idle - a.idle)}
}

func atou(b []byte) uint64 {
	n, _ := strconv.ParseUint(string(b), 10, 64)
	return n
}
