//go:build benchprofile

package main

// Profiles of the whole process for build/bench's -pprof pass, only in
// binaries built with -tags benchprofile (never in a release):
//
//   - CLEARWAY_BENCH_CPUPROFILE names a file: a CPU profile starts before
//     main and stops, writing the file, at the first SIGTERM or SIGINT (the
//     harness stops every proxy with SIGTERM; the serve loop's own shutdown
//     runs alongside).
//   - CLEARWAY_BENCH_HEAPPROFILE names a file: every 100 ms the memory the
//     runtime holds from the OS (runtime/metrics' total less released) is
//     read, and at each new high (by 256 KiB or more) a heap profile
//     (inuse_space as of the last GC) goes to FILE and the memory classes to
//     FILE.txt; at SIGTERM/SIGINT the same go to FILE.final and
//     FILE.final.txt. Allocations are sampled every 16 KiB. Peak RSS is what issue 18 measures; this shows what
//     the heap held when it was made.

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
	"time"
)

func init() {
	cpu := os.Getenv("CLEARWAY_BENCH_CPUPROFILE")
	heap := os.Getenv("CLEARWAY_BENCH_HEAPPROFILE")
	if cpu == "" && heap == "" {
		return
	}
	stopCPU := func() {}
	if cpu != "" {
		if f, err := os.Create(cpu); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				stopCPU = func() { pprof.StopCPUProfile(); f.Close() }
			} else {
				f.Close()
			}
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	if heap != "" {
		// Finer than the default 512 KiB, so small holders show; this costs
		// CPU, like the CPU profile does.
		runtime.MemProfileRate = 16 << 10
		go watchHeap(heap, stop, done)
	} else {
		close(done)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		stopCPU()
		close(stop)
		<-done
	}()
}

// watchHeap writes a heap profile at each new high of the memory the runtime
// holds, and a final one when stop closes.
func watchHeap(path string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var high uint64
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			dumpHeap(path+".final", 0)
			return
		case <-t.C:
		}
		metrics.Read(samples)
		held := samples[0].Value.Uint64() - samples[1].Value.Uint64()
		if held >= high+256<<10 {
			high = held
			dumpHeap(path, held)
		}
	}
}

// dumpHeap writes the heap profile to path and the memory statistics to
// path.txt.
func dumpHeap(path string, held uint64) {
	if f, err := os.Create(path); err == nil {
		// debug=1: the text form, so writing it allocates no gzip
		// writer that would show in the next profile.
		_ = pprof.Lookup("heap").WriteTo(f, 1)
		f.Close()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	txt := fmt.Sprintf("held %d\nSys %d\nHeapSys %d\nHeapInuse %d\nHeapAlloc %d\nHeapIdle %d\nHeapReleased %d\n"+
		"StackSys %d\nStackInuse %d\nMSpanSys %d\nMCacheSys %d\nBuckHashSys %d\nGCSys %d\nOtherSys %d\nNextGC %d\nNumGC %d\nGoroutines %d\n",
		held, m.Sys, m.HeapSys, m.HeapInuse, m.HeapAlloc, m.HeapIdle, m.HeapReleased,
		m.StackSys, m.StackInuse, m.MSpanSys, m.MCacheSys, m.BuckHashSys, m.GCSys, m.OtherSys, m.NextGC, m.NumGC, runtime.NumGoroutine())
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		txt += "\n" + string(st)
	}
	_ = os.WriteFile(path+".txt", []byte(txt), 0o644)
}
