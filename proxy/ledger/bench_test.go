package ledger

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// BenchmarkRecord measures recording one request end to end: queueing,
// the batched insert, the commit. It reports the database's size per
// 100,000 rows (file plus WAL after a checkpoint-free run: what a day of
// traffic leaves on disk). Run it with -benchtime=100000x for the figure.
func BenchmarkRecord(b *testing.B) {
	path := filepath.Join(b.TempDir(), "usage.db")
	l, err := Open(Options{Path: path, QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	r := usage.Record{Time: time.Now(), Upstream: "anthropic", Client: "claude-code", Model: "claude-sonnet-4-5-20250929",
		Stream: true, Status: 200, Attempts: 1, Duration: 2345 * time.Millisecond, TTFB: 456 * time.Millisecond,
		Tokens: usage.Tokens{Input: 2095, Output: 503, CacheRead: 31200, CacheWrite: 2051}, HasTokens: true, KeyName: "anthropic"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.Time = r.Time.Add(time.Millisecond)
		l.Record(r)
		if i%4096 == 4095 {
			l.Flush()
		}
	}
	l.Flush()
	b.StopTimer()
	if st := l.Stats(); st.Dropped > 0 {
		b.Fatalf("dropped %d", st.Dropped)
	}
	_ = l.Close() // checkpoints the WAL into the file
	var size int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			size += fi.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(b.N)*100000/(1<<20), "MiB/100k-rows")
}

// BenchmarkRecordMemory reports the heap the ledger holds: "rest-B" after
// Open with nothing recorded, and "live-B" the most held (after a forced
// GC, every 2,048 records) while b.N records arrive back to back, as under
// load (never more than two batches ahead of the writer). Its ns/op includes those GCs: read the time from BenchmarkRecord.
// Run it with -benchtime=50000x.
func BenchmarkRecordMemory(b *testing.B) {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	base := m.HeapAlloc
	l, err := Open(Options{Path: filepath.Join(b.TempDir(), "usage.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	runtime.GC()
	runtime.ReadMemStats(&m)
	rest := int64(m.HeapAlloc) - int64(base)
	r := usage.Record{Time: time.Now(), Upstream: "anthropic", Client: "claude-code", Model: "claude-sonnet-4-5-20250929",
		Status: 200, Attempts: 1, Duration: 2345 * time.Millisecond, Tokens: usage.Tokens{Input: 2095, Output: 503}, HasTokens: true}
	var live int64
	b.ResetTimer()
	for i := range b.N {
		r.Time = r.Time.Add(time.Millisecond)
		// Not faster than the writer, as a proxy's requests are.
		for l.Queued() >= 2*batchRows {
			runtime.Gosched()
		}
		l.Record(r)
		if i%2048 == 2047 {
			runtime.GC()
			runtime.ReadMemStats(&m)
			live = max(live, int64(m.HeapAlloc)-int64(base))
		}
	}
	l.Flush()
	b.StopTimer()
	if st := l.Stats(); st.Dropped > 0 {
		b.Fatalf("dropped %d", st.Dropped)
	}
	b.ReportMetric(float64(rest), "rest-B")
	b.ReportMetric(float64(live), "live-B")
}
