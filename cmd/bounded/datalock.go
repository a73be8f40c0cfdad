package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/bounded-dev/bounded/platform/flock"
)

// lockDataDir takes the data directory for this process: one shop per
// directory. Two `bounded up` on one directory would run two embedded
// NATS servers on one store and two shops on the same SQLite files. The
// lock (DIR/lock) is held until unlock, or the process's end however it
// ends.
func lockDataDir(dir string) (unlock func() error, err error) {
	unlock, err = flock.TryLock(filepath.Join(dir, "lock"))
	var held *flock.HeldError
	switch {
	case errors.As(err, &held):
		return nil, fmt.Errorf("data directory %s is in use by another bounded (pid %d); stop it, or give this one another --data", dir, held.PID)
	case errors.Is(err, flock.ErrHeld):
		return nil, fmt.Errorf("data directory %s is in use by another bounded; stop it, or give this one another --data", dir)
	case err != nil:
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	return unlock, nil
}
