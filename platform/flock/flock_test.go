package flock_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bounded-dev/bounded/platform/flock"
)

// TestOneHolderAtATime: a second TryLock is refused, naming the holder's
// pid (this process's: file descriptors conflict within a process too),
// until the first lets go.
func TestOneHolderAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := flock.TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = flock.TryLock(path)
	var held *flock.HeldError
	if !errors.Is(err, flock.ErrHeld) || !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("second TryLock: %v, want ErrHeld naming pid %d", err, os.Getpid())
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := flock.TryLock(path)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	again()
}
