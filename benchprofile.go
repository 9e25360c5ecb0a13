//go:build benchprofile

package main

// A CPU profile of the whole process for build/bench's -pprof pass, only in
// binaries built with -tags benchprofile (never in a release): when
// CLEARWAY_BENCH_CPUPROFILE names a file, profiling starts before main and
// stops, writing the file, at the first SIGTERM or SIGINT (the harness stops
// every proxy with SIGTERM; the serve loop's own shutdown runs alongside).

import (
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func init() {
	path := os.Getenv("CLEARWAY_BENCH_CPUPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		pprof.StopCPUProfile()
		f.Close()
	}()
}
