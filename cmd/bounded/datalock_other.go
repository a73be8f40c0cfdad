//go:build !unix

package main

// lockDataDir does nothing where flock is missing: there, running two
// `bounded up` on one data directory is the user's to avoid.
func lockDataDir(dir string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
