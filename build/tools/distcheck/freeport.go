package main

import (
	"fmt"
	"net"
)

// runFreePort prints a TCP port on 127.0.0.1 that was free a moment ago.
func runFreePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("freeport: %w", err)
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}
