// Package peercred tells who is at the other end of a unix socket, so that
// clearway's CLI and its running instance talk only to the same user: the
// server drops a connection from another uid, and the CLI sends nothing
// (least of all the client token) to a server run by another uid.
package peercred

import (
	"errors"
	"net"
)

// ErrUnsupported is returned where the OS has no peer credentials that this
// package reads (anything but Linux and macOS); callers then keep to TCP.
var ErrUnsupported = errors.New("peercred: peer credentials are not supported on this OS")

// Supported reports whether UID works on this OS.
const Supported = supported

// UID returns the effective uid of the process at the other end of c, which
// must be a *net.UnixConn. Safe for concurrent use.
func UID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, errors.New("peercred: not a unix socket connection")
	}
	return uid(uc)
}

// Listener wraps a unix-socket listener: Accept hands out only connections
// whose peer runs as uid, and closes the others (counted by Refused, if set).
// Safe for concurrent use.
type Listener struct {
	net.Listener
	UID     int
	Refused func(peerUID int, err error)
}

// Accept returns the next connection from uid.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		got, err := UID(c)
		if err == nil && got == l.UID {
			return c, nil
		}
		c.Close()
		if l.Refused != nil {
			l.Refused(got, err)
		}
	}
}
