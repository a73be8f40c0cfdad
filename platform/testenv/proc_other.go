//go:build !linux

package testenv

import (
	"errors"
	"os"
	"syscall"
)

type sysProcAttr = syscall.SysProcAttr

// procAttrs: outside Linux the cluster runs as the current user, which must
// not be root (initdb and postgres refuse it), and nothing stops the cluster
// if the test binary dies without calling Main.
func procAttrs() (attrs func() *sysProcAttr, uid, gid int, err error) {
	if os.Geteuid() == 0 {
		return nil, 0, 0, errors.New("running initdb as root is supported on Linux only")
	}
	return func() *sysProcAttr { return nil }, -1, -1, nil
}
