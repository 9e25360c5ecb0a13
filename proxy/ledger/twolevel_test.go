package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// TestQueryByDayAndModel: two groupings joined by a comma give one row per
// pair (the dashboard's stacked charts), days in order.
func TestQueryByDayAndModel(t *testing.T) {
	log, _ := newLog()
	l := open(t, filepath.Join(t.TempDir(), "usage.db"), log)
	now := time.Now()
	yesterday := now.Add(-24 * time.Hour)
	l.Record(rec(yesterday, "anthropic", "claude-code", "claude-sonnet-4-5", 200, 1, usage.Tokens{Input: 100, Output: 50}))
	l.Record(rec(now, "anthropic", "claude-code", "claude-sonnet-4-5", 200, 1, usage.Tokens{Input: 1000, Output: 300}))
	l.Record(rec(now, "anthropic", "curl", "claude-opus-4-1", 200, 1, usage.Tokens{Input: 7, Output: 3}))
	l.Flush()
	rows, err := l.Query(context.Background(), usage.Query{By: "day,model"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Day != yesterday.Format("2006-01-02") || rows[0].Model != "claude-sonnet-4-5" || rows[0].InputTokens != 100 {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if r.Day == "" || r.Model == "" || r.Client != "" {
			t.Errorf("row %+v: want day and model only", r)
		}
	}
	for _, bad := range []string{"day,day", "day,model,client", "day,colour", ","} {
		if _, err := l.Query(context.Background(), usage.Query{By: bad}); !errors.Is(err, usage.ErrBadGrouping) {
			t.Errorf("by %q: %v", bad, err)
		}
	}
}
