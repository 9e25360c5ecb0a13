//go:build !linux

package doctor

import (
	"errors"
	"strings"
	"syscall"
)

func isAddrInUse(err error) bool {
	// Windows says WSAEADDRINUSE (10048), which syscall.EADDRINUSE does not match.
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") ||
		strings.Contains(err.Error(), "Only one usage of each socket address")
}

// portHolder is not implemented here; the check says how to find the holder.
func portHolder(string) (Holder, bool) { return Holder{}, false }
