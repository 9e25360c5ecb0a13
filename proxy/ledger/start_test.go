package ledger

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// TestRowsWhileOpeningLand: records made while the database is still
// opening (Start) wait in the queue and land once it is open; Flush and
// Query wait for it.
func TestRowsWhileOpeningLand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	log, logs := newLog()
	l, err := newLedger(Options{Path: path, Logger: log, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	l.beforeOpen = func() { <-release }
	go l.run(true, 0)
	t.Cleanup(func() { _ = l.Close() })

	now := time.Now()
	for i := range 3 {
		l.Record(rec(now, "anthropic", "claude-code", "claude-sonnet-4-5", 200, 1, usage.Tokens{Input: int64(i + 1)}))
	}
	select {
	case <-l.Ready():
		t.Fatal("ready before the open was let through")
	default:
	}
	if st := l.Stats(); st.Queued != 3 || st.Written != 0 || st.Dropped != 0 || st.Error != "" || l.Err() != nil {
		t.Fatalf("while opening: %+v %v", st, l.Err())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the database exists before the open (%v)", err)
	}
	// A query while opening waits for the open, up to its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Query(ctx, usage.Query{}); err != context.Canceled {
		t.Errorf("query with a cancelled context while opening: %v", err)
	}

	close(release)
	l.Flush()
	if st := l.Stats(); st.Written != 3 || st.Dropped != 0 || st.Queued != 0 {
		t.Fatalf("after the open and a flush: %+v", st)
	}
	rows, err := l.Query(context.Background(), usage.Query{By: "model"})
	if err != nil || len(rows) != 1 || rows[0].Requests != 3 || rows[0].InputTokens != 6 {
		t.Fatalf("rows: %v %+v", err, rows)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warnings:\n%s", logs)
	}
}

// TestStartWithoutDatabase: when no database can be made, Start's ledger
// says so once, drops and counts the records (those queued while it tried
// too), reports the error in Stats, and its queries return it.
func TestStartWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := newLog()
	l, err := newLedger(Options{Path: filepath.Join(notDir, "usage.db"), Logger: log, FlushEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	l.beforeOpen = func() { <-release }
	go l.run(true, 0)
	defer l.Close()
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	close(release)
	<-l.Ready()
	if l.Err() == nil {
		t.Fatal("no error from an impossible path")
	}
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	l.Flush()
	st := l.Stats()
	if st.Dropped != 3 || st.Written != 0 || st.Queued != 0 || st.Error == "" {
		t.Errorf("stats: %+v", st)
	}
	if _, err := l.Query(context.Background(), usage.Query{}); err == nil || !strings.Contains(err.Error(), "usage ledger unavailable") {
		t.Errorf("query without a database: %v", err)
	}
	if n := strings.Count(logs.String(), "usage ledger unavailable"); n != 1 {
		t.Errorf("%d 'unavailable' lines, want 1:\n%s", n, logs)
	}
	if err := l.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestFullBatchWritesAtOnce: batchRows records are written without waiting
// for FlushEvery (an hour here) or a Flush.
func TestFullBatchWritesAtOnce(t *testing.T) {
	l, err := Open(Options{Path: filepath.Join(t.TempDir(), "usage.db"), FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range batchRows - 1 {
		l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	}
	if st := l.Stats(); st.Written != 0 || st.Queued != batchRows-1 {
		t.Fatalf("below a batch: %+v", st)
	}
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	waitWritten(t, l, batchRows, "a full batch was not written")
}

// TestStartOpensWhenNeeded: Start leaves the database closed until it is
// needed (FlushEvery is an hour here, the latest it would wait): a query
// opens it, and so does a full batch of records.
func TestStartOpensWhenNeeded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	l, err := Start(Options{Path: path, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{Input: 2}))
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the database was made before it was needed (%v)", err)
	}
	if _, err := l.Query(context.Background(), usage.Query{}); err != nil {
		t.Fatalf("the first query: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a query did not open the database: %v", err)
	}
	l.Flush()
	if st := l.Stats(); st.Written != 1 || st.Dropped != 0 {
		t.Fatalf("after Flush: %+v", st)
	}

	path2 := filepath.Join(t.TempDir(), "usage.db")
	l2, err := Start(Options{Path: path2, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	for range batchRows {
		l2.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	}
	waitWritten(t, l2, batchRows, "a full batch did not open the database and land")
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseBeforeOpenWrites: records queued before the database was needed
// are written by Close.
func TestCloseBeforeOpenWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	l, err := Start(Options{Path: path, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{Input: 5}))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err := r.Query(context.Background(), usage.Query{})
	if err != nil || len(rows) != 1 || rows[0].InputTokens != 5 {
		t.Fatalf("after Close: %v %+v", err, rows)
	}
}

// TestQueuedBeforeOpenWrittenAtOpen: records that waited for the database
// to be needed are written as soon as it opens, not a FlushEvery later (an
// hour here; the open comes after the 10 ms delay).
func TestQueuedBeforeOpenWrittenAtOpen(t *testing.T) {
	l, err := newLedger(Options{Path: filepath.Join(t.TempDir(), "usage.db"), FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	go l.run(true, 10*time.Millisecond)
	defer l.Close()
	<-l.Ready()
	waitWritten(t, l, 1, "the queued record was not written at the open")
}

// TestQueuedWhileOpeningWrittenBeforeReady: records made while the database
// opens are in it when Ready closes, so a query made then counts them.
// (Before, they were written after Ready closed, and the writer's look at
// the queue raced with records made after Open returned: those were written
// at once too, sometimes, instead of waiting for FlushEvery.)
func TestQueuedWhileOpeningWrittenBeforeReady(t *testing.T) {
	l, err := newLedger(Options{Path: filepath.Join(t.TempDir(), "usage.db"), FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	l.beforeOpen = func() { <-release }
	go l.run(true, 0)
	defer l.Close()
	for range 3 {
		l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{Input: 1}))
	}
	close(release)
	<-l.Ready()
	if st := l.Stats(); st.Written != 3 || st.Queued != 0 {
		t.Fatalf("when Ready closed: %+v, want the 3 records written", st)
	}
	rows, err := l.Query(context.Background(), usage.Query{})
	if err != nil || len(rows) != 1 || rows[0].Requests != 3 {
		t.Fatalf("query when Ready closed: %v %+v", err, rows)
	}
	// A record made now waits for FlushEvery (an hour) or a Flush.
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{Input: 1}))
	if st := l.Stats(); st.Written != 3 || st.Queued != 1 {
		t.Fatalf("a record after Ready: %+v, want it queued", st)
	}
}

// waitWritten waits up to 20 s for l to have written want rows, failing
// with what when it does not.
func waitWritten(t *testing.T, l *Ledger, want uint64, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for l.Stats().Written != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v", what, l.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
