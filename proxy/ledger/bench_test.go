package ledger

import (
	"os"
	"path/filepath"
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
