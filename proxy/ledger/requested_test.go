package ledger

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// TestFallbackRecordsBothUpstreams: a request that a fallback answered is
// recorded with the upstream that answered and the one the client asked for;
// a database of the first schema is migrated with its rows kept.
func TestFallbackRecordsBothUpstreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	// A ledger written by the first schema, with one row.
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	if _, err := db.Exec(migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO requests (ts, upstream, client, model, stream, status, attempts, duration_us, ttfb_us,
		input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, key_name) VALUES (?, 'old', 'c', 'm', 0, 200, 1, 1, 1, 0, 0, 0, 0, 0, '')`, t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	l := open(t, path, nil)
	r := rec(t0.Add(time.Minute), "direct", "claude-code", "claude-sonnet-4-5", 200, 3, usage.Tokens{Input: 10, Output: 5})
	r.Requested = "supermemory"
	l.Record(r)
	direct := rec(t0.Add(2*time.Minute), "direct", "claude-code", "claude-sonnet-4-5", 200, 1, usage.Tokens{Input: 1})
	direct.Requested = "direct"
	l.Record(direct)
	l.Flush()
	got, err := l.Recent(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3 (the migrated one kept)", len(got))
	}
	if got[0].Upstream != "direct" || got[0].Requested != "" {
		t.Errorf("direct request: %+v", got[0])
	}
	if got[1].Upstream != "direct" || got[1].Requested != "supermemory" {
		t.Errorf("fallback request: upstream %q requested %q, want direct and supermemory", got[1].Upstream, got[1].Requested)
	}
	if got[2].Upstream != "old" || got[2].Requested != "" {
		t.Errorf("migrated row: %+v", got[2])
	}
}
