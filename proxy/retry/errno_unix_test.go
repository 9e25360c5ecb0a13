//go:build unix

package retry_test

import "syscall"

// errnoErr returns the syscall errno of that name, as the kernel reports it.
func errnoErr(name string) error {
	switch name {
	case "EHOSTUNREACH":
		return syscall.EHOSTUNREACH
	case "ENETUNREACH":
		return syscall.ENETUNREACH
	case "ECONNREFUSED":
		return syscall.ECONNREFUSED
	}
	panic("unknown errno " + name)
}
