//go:build !linux && !darwin

package peercred

import "net"

const supported = false

func uid(*net.UnixConn) (int, error) { return -1, ErrUnsupported }
