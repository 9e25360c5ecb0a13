package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// logBuf is a concurrency-safe log sink for counting warnings.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newLog() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

func rec(t0 time.Time, up, client, model string, status, attempts int, tok usage.Tokens) usage.Record {
	return usage.Record{Time: t0, Upstream: up, Client: client, Model: model, Status: status, Attempts: attempts,
		Duration: 1500 * time.Microsecond, TTFB: 300 * time.Microsecond, Tokens: tok, HasTokens: tok != usage.Tokens{}, KeyName: "anthropic"}
}

func open(t *testing.T, path string, log *slog.Logger) *Ledger {
	t.Helper()
	l, err := Open(Options{Path: path, Logger: log, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestRecordQueryAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "usage.db")
	log, _ := newLog()
	l := open(t, path, log)
	now := time.Now()
	l.Record(rec(now, "anthropic", "claude-code", "claude-sonnet-4-5", 200, 1, usage.Tokens{Input: 10, Output: 20, CacheRead: 1000, CacheWrite: 5}))
	l.Record(rec(now, "anthropic", "claude-code", "claude-sonnet-4-5", 200, 3, usage.Tokens{Input: 1, Output: 2}))
	l.Record(rec(now, "openai", "curl", "gpt-4o", 429, 4, usage.Tokens{}))
	l.Record(rec(now, "openai", "curl", "", 401, 0, usage.Tokens{}))
	l.Record(rec(now.Add(-48*time.Hour), "openai", "openai-python", "gpt-4o", 200, 1, usage.Tokens{Input: 7}))
	l.Flush()

	rows, err := l.Query(context.Background(), usage.Query{Since: now.Add(-time.Hour), By: "model"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]usage.Row{}
	for _, r := range rows {
		got[r.Model] = r
	}
	s := got["claude-sonnet-4-5"]
	if s.Requests != 2 || s.Retries != 2 || s.Errors != 0 || s.InputTokens != 11 || s.OutputTokens != 22 || s.CacheReadTokens != 1000 || s.CacheWriteTokens != 5 {
		t.Errorf("sonnet row %+v", s)
	}
	wantCost := (11*3 + 22*15 + 1000*0.3 + 5*3.75) / 1e6
	if d := s.CostUSD - wantCost; d > 1e-12 || d < -1e-12 {
		t.Errorf("cost %v, want %v", s.CostUSD, wantCost)
	}
	if g := got["gpt-4o"]; g.Requests != 1 || g.Errors != 1 || g.Retries != 3 {
		t.Errorf("gpt-4o row %+v", g)
	}
	if u := got["unknown"]; u.Requests != 1 || u.Errors != 1 {
		t.Errorf("row without a model: %+v", u)
	}
	for by, key := range map[string]func(usage.Row) string{
		"client":   func(r usage.Row) string { return r.Client },
		"upstream": func(r usage.Row) string { return r.Upstream },
		"day":      func(r usage.Row) string { return r.Day },
	} {
		rows, err := l.Query(context.Background(), usage.Query{By: by})
		if err != nil {
			t.Fatal(by, err)
		}
		var n int64
		for _, r := range rows {
			if key(r) == "" {
				t.Errorf("by %s: row without its key %+v", by, r)
			}
			n += r.Requests
		}
		if n != 5 {
			t.Errorf("by %s: %d requests, want 5", by, n)
		}
	}
	if _, err := l.Query(context.Background(), usage.Query{By: "colour"}); !errors.Is(err, usage.ErrBadGrouping) {
		t.Errorf("bad grouping: %v", err)
	}
	recent, err := l.Recent(context.Background(), 2)
	if err != nil || len(recent) != 2 || recent[0].Time.UnixMilli() != now.UnixMilli() {
		t.Fatalf("recent: %v %+v", err, recent)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", fi.Mode(), err)
	}

	// Restart: the rows are still there, and a reader sees them too.
	l2 := open(t, path, log)
	rows, _ = l2.Query(context.Background(), usage.Query{By: "upstream"})
	var n int64
	for _, r := range rows {
		n += r.Requests
	}
	if n != 5 {
		t.Errorf("after restart %d requests, want 5", n)
	}
}

func TestQueueFullDropsAndCounts(t *testing.T) {
	l, err := Open(Options{Path: filepath.Join(t.TempDir(), "usage.db"), QueueSize: 4, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The writer takes the queue only on its timer (an hour), on Flush or
	// at batchRows records, which a queue of 4 never reaches: 4 wait, the
	// rest are dropped.
	for range 5000 {
		l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	}
	st := l.Stats()
	if st.Dropped != 4996 || st.Queued != 4 {
		t.Fatalf("after 5,000 records into a queue of 4: %+v", st)
	}
	l.Flush()
	st = l.Stats()
	if st.Written != 4 || st.Dropped != 4996 {
		t.Errorf("after Flush: %+v", st)
	}
}

func TestRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	now := time.Now()
	l, err := Open(Options{Path: path, Retention: 24 * time.Hour, Now: func() time.Time { return now }, FlushEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Record(rec(now.Add(-25*time.Hour), "a", "c", "m", 200, 1, usage.Tokens{}))
	l.Record(rec(now.Add(-time.Hour), "a", "c", "m", 200, 1, usage.Tokens{}))
	l.Flush()
	l.Prune()
	rows, _ := l.Query(context.Background(), usage.Query{})
	if len(rows) != 1 || rows[0].Requests != 1 {
		t.Errorf("after pruning: %+v", rows)
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("this is not a database "), 500), 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := newLog()
	l := open(t, path, log)
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{Input: 3}))
	l.Flush()
	rows, err := l.Query(context.Background(), usage.Query{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("after recreating: %v %+v", err, rows)
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("moved-aside files: %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); !bytes.HasPrefix(b, []byte("this is not a database")) {
		t.Error("the moved-aside file is not the old one")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs)
	}
}

// TestReadWhileWriting reads with a separate read-only Reader while the
// ledger writes batches (WAL): no read fails, and the counts only grow.
func TestReadWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	l := open(t, path, nil)
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{Input: 1}))
	l.Flush()
	r, err := OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 40 {
			for range 50 {
				l.Record(rec(time.Now(), "a", "c", fmt.Sprint("m", i%3), 200, 1, usage.Tokens{Input: 1}))
			}
			l.Flush()
		}
	}()
	var last int64
	for reads := 0; ; reads++ {
		select {
		case <-done:
			if reads == 0 {
				t.Error("no read happened during the writes")
			}
			rows, err := r.Query(context.Background(), usage.Query{By: "upstream"})
			if err != nil || len(rows) != 1 || rows[0].Requests != 2001 {
				t.Fatalf("final read: %v %+v", err, rows)
			}
			return
		default:
		}
		rows, err := r.Query(context.Background(), usage.Query{By: "upstream"})
		if err != nil {
			t.Fatalf("read %d while writing: %v", reads, err)
		}
		if len(rows) == 1 {
			if rows[0].Requests < last {
				t.Fatalf("count went back from %d to %d", last, rows[0].Requests)
			}
			last = rows[0].Requests
		}
	}
}

func TestOpenReaderMissing(t *testing.T) {
	if _, err := OpenReader(filepath.Join(t.TempDir(), "usage.db")); !errors.Is(err, ErrNoLedger) {
		t.Errorf("missing file: %v", err)
	}
}
