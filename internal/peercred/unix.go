//go:build linux || darwin

package peercred

import "net"

const supported = true

// uid is the user id of the process at the other end of c, read by the
// platform's peerUID on the socket's file descriptor.
func uid(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	id := -1
	var cerr error
	err = raw.Control(func(fd uintptr) { id, cerr = peerUID(int(fd)) })
	if err != nil {
		return -1, err
	}
	return id, cerr
}
