package peercred

import (
	"net"

	"golang.org/x/sys/unix"
)

const supported = true

func uid(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	id := -1
	var cerr error
	err = raw.Control(func(fd uintptr) {
		var cred *unix.Xucred
		cred, cerr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if cerr == nil {
			id = int(cred.Uid)
		}
	})
	if err != nil {
		return -1, err
	}
	return id, cerr
}
