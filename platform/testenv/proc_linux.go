package testenv

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

type sysProcAttr = syscall.SysProcAttr

// procAttrs returns a constructor of process attributes for initdb and
// postgres, and the uid/gid that must own their directories (-1 when the
// current user will do).
//
// initdb and postgres refuse to run as root. As root we run them as the
// "nobody" user (uid/gid 65534 if it cannot be looked up) by setting the
// child's credentials directly, which is what setpriv --reuid --regid
// --clear-groups would do, without depending on that tool being installed.
// Either way the child gets SIGQUIT (immediate shutdown) if the test binary
// dies without stopping it.
func procAttrs() (attrs func() *sysProcAttr, uid, gid int, err error) {
	uid, gid = -1, -1
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		uid, gid = 65534, 65534
		if u, err := user.Lookup("nobody"); err == nil {
			uid, err = strconv.Atoi(u.Uid)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("user nobody: uid %q: %w", u.Uid, err)
			}
			gid, err = strconv.Atoi(u.Gid)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("user nobody: gid %q: %w", u.Gid, err)
			}
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	attrs = func() *sysProcAttr {
		return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	}
	return attrs, uid, gid, nil
}
