package ledger

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// TestTodayKeptAsWritten: Today equals a query of the rows since local
// midnight, after writes, after a restart (read from the file once), and
// starts again at the next day's first row.
func TestTodayKeptAsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	noon := midnight(time.Now()).Add(12 * time.Hour)
	now := func() time.Time { return noon }
	l, err := Open(Options{Path: path, Now: now, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := l.Today(noon); !ok || got != (usage.Row{}) {
		t.Fatalf("empty ledger: %+v %v", got, ok)
	}
	l.Record(rec(noon, "anthropic", "claude-code", "claude-sonnet-4-5", 200, 1, usage.Tokens{Input: 10, Output: 20, CacheRead: 1000, CacheWrite: 5}))
	l.Record(rec(noon.Add(-time.Hour), "openai", "curl", "gpt-4o", 429, 3, usage.Tokens{Input: 7}))
	l.Record(rec(noon.Add(-24*time.Hour), "openai", "curl", "gpt-4o", 200, 1, usage.Tokens{Input: 100})) // yesterday
	l.Flush()
	want := todayByQuery(t, l, noon)
	if want.Requests != 2 || want.Errors != 1 || want.Retries != 2 || want.CostUSD <= 0 {
		t.Fatalf("the query's sums are not the test's: %+v", want)
	}
	sameRow(t, "after writes", l, noon, want)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l2, err := Start(Options{Path: path, Now: now, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	l2.Flush() // returns once the database is open and today's rows read
	sameRow(t, "after a restart", l2, noon, want)

	tomorrow := noon.Add(24 * time.Hour)
	l2.Record(rec(tomorrow, "anthropic", "claude-code", "claude-sonnet-4-5", 500, 2, usage.Tokens{Output: 3}))
	l2.Record(rec(noon, "anthropic", "claude-code", "claude-sonnet-4-5", 200, 1, usage.Tokens{Output: 3})) // late, yesterday's now
	l2.Flush()
	sameRow(t, "the next day", l2, tomorrow, todayByQuery(t, l2, tomorrow))
	if got, _ := l2.Today(tomorrow); got.Requests != 1 || got.Errors != 1 || got.Retries != 1 || got.OutputTokens != 3 {
		t.Errorf("the next day: %+v", got)
	}
	if got, ok := l2.Today(tomorrow.Add(24 * time.Hour)); !ok || got != (usage.Row{}) {
		t.Errorf("a day without rows: %+v %v", got, ok)
	}
}

// todayByQuery sums the rows since now's local midnight with a query.
func todayByQuery(t *testing.T, l *Ledger, now time.Time) usage.Row {
	t.Helper()
	rows, err := l.Query(context.Background(), usage.Query{Since: midnight(now), Until: midnight(now).AddDate(0, 0, 1), By: "upstream"})
	if err != nil {
		t.Fatal(err)
	}
	return usage.Sum(rows)
}

func sameRow(t *testing.T, what string, l *Ledger, now time.Time, want usage.Row) {
	t.Helper()
	got, ok := l.Today(now)
	if !ok {
		t.Fatalf("%s: Today not known", what)
	}
	if math.Abs(got.CostUSD-want.CostUSD) > 1e-9 {
		t.Errorf("%s: cost %v, the query says %v", what, got.CostUSD, want.CostUSD)
	}
	got.CostUSD = want.CostUSD
	if got != want {
		t.Errorf("%s: Today %+v, the query says %+v", what, got, want)
	}
}
