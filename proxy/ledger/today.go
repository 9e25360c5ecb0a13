package ledger

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// dayTotals is the current local day's totals, kept by the writer from the
// rows it writes (after one query, once the database is open, for the rows
// written before), so the tray's and dashboard's "today" line costs no scan
// of the day's rows. Asking SQLite every 2 s under load scanned every row
// of the day and kept a second connection's page cache busy (peak RSS at
// c=50 about 2 MiB higher, issue 18).
type dayTotals struct {
	mu     sync.Mutex
	start  time.Time // local midnight of the day summed; zero until loaded
	end    time.Time // the next local midnight
	sum    usage.Row
	loaded bool // the writer's: the day's earlier rows are in sum
}

// midnight is the local midnight starting t's local day.
func midnight(t time.Time) time.Time {
	y, m, d := t.Local().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.Local)
}

// nextMidnight is the local midnight after the one starting day (not
// always 24 hours later).
func nextMidnight(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.Local)
}

// Today returns the sums (Requests, Errors, Retries, tokens, CostUSD) of
// the rows written since the local midnight of now's day. ok is false
// while the database opens, when it could not be opened, and until the
// day's earlier rows could be read. Safe for concurrent use.
func (l *Ledger) Today(now time.Time) (sum usage.Row, ok bool) {
	l.today.mu.Lock()
	defer l.today.mu.Unlock()
	if l.today.start.IsZero() {
		return usage.Row{}, false
	}
	if !now.Before(l.today.end) {
		return usage.Row{}, true // a new day without rows yet
	}
	return l.today.sum, true
}

// loadToday sums the rows of the current day already in db. The writer
// calls it before writing until it worked once, and again after the
// database was moved aside and made anew.
func (l *Ledger) loadToday(db *sql.DB) {
	start := midnight(l.opts.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := query(ctx, db, usage.Query{Since: start, By: "upstream"})
	if err != nil {
		l.log.Debug("usage ledger: today's rows", "err", err)
		return
	}
	l.today.mu.Lock()
	l.today.start, l.today.end, l.today.sum = start, nextMidnight(start), usage.Sum(rows)
	l.today.mu.Unlock()
	l.today.loaded = true
}

// addToday adds written records to the day's totals; costs[i] is batch[i]'s
// cost. A record of a later day starts that day's totals; one of an earlier
// day (written after midnight) is not today's.
func (l *Ledger) addToday(batch []usage.Record, costs []float64) {
	if !l.today.loaded {
		return
	}
	l.today.mu.Lock()
	defer l.today.mu.Unlock()
	for i, r := range batch {
		switch {
		case r.Time.Before(l.today.start):
			continue // an earlier day's
		case !r.Time.Before(l.today.end):
			day := midnight(r.Time)
			l.today.start, l.today.end, l.today.sum = day, nextMidnight(day), usage.Row{}
		}
		t := &l.today.sum
		t.Requests++
		if r.Status >= 400 || r.Status == 0 {
			t.Errors++
		}
		t.Retries += int64(max(r.Attempts-1, 0))
		t.InputTokens += r.Tokens.Input
		t.OutputTokens += r.Tokens.Output
		t.CacheReadTokens += r.Tokens.CacheRead
		t.CacheWriteTokens += r.Tokens.CacheWrite
		t.CostUSD += costs[i]
	}
}
