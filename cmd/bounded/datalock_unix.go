//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDataDir takes the data directory for this process: one shop per
// directory. Two `bounded up` on one directory would run two relays on
// each SQLite outbox (on SQLite a relay leads without a lock: the file
// belongs to one process) and two embedded NATS servers on one store.
// The lock is an flock on DIR/lock, held until unlock (or the process's
// end, however it ends); the file names the holder's pid.
func lockDataDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another bounded"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(holder))); perr == nil {
				who = fmt.Sprintf("another bounded (pid %d)", pid)
			}
			return nil, fmt.Errorf("data directory %s is in use by %s; stop it, or give this one another --data", dir, who)
		}
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f.Close, nil // closing the file releases the lock
}
