package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// groupExpr is the SQL for each grouping. Days are local calendar days.
var groupExpr = map[string]string{
	"day":      "date(ts / 1000, 'unixepoch', 'localtime')",
	"model":    "CASE model WHEN '' THEN 'unknown' ELSE model END",
	"client":   "client",
	"upstream": "upstream",
}

func query(ctx context.Context, db *sql.DB, q usage.Query) ([]usage.Row, error) {
	by := q.By
	if by == "" {
		by = "model"
	}
	// One grouping, or two joined by a comma ("day,model": a row per day and
	// model, for the dashboard's stacked charts).
	keys := strings.Split(by, ",")
	if len(keys) > 2 {
		return nil, fmt.Errorf("%w (at most two, joined by a comma), not %q", usage.ErrBadGrouping, by)
	}
	var cols, names []string
	for i, k := range keys {
		expr, ok := groupExpr[k]
		if !ok || (i == 1 && k == keys[0]) {
			return nil, fmt.Errorf("%w, not %q", usage.ErrBadGrouping, by)
		}
		cols = append(cols, expr+" AS k"+strconv.Itoa(i))
		names = append(names, "k"+strconv.Itoa(i))
	}
	order := "cost_usd DESC, requests DESC, " + strings.Join(names, ", ")
	if keys[0] == "day" {
		order = strings.Join(names, ", ")
		if len(keys) == 2 {
			order = "k0, cost_usd DESC, requests DESC, k1"
		}
	}
	until := int64(1 << 62)
	if !q.Until.IsZero() {
		until = q.Until.UnixMilli()
	}
	since := int64(0)
	if !q.Since.IsZero() {
		since = q.Since.UnixMilli()
	}
	rows, err := db.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+`, count(*) AS requests,
		sum(status >= 400 OR status = 0), sum(max(attempts - 1, 0)),
		sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
		sum(cost_usd) AS cost_usd
		FROM named_requests WHERE ts >= ? AND ts < ? GROUP BY `+strings.Join(names, ", ")+` ORDER BY `+order, since, until)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []usage.Row{}
	for rows.Next() {
		var r usage.Row
		k := make([]string, len(keys))
		dest := make([]any, 0, len(keys)+8)
		for i := range k {
			dest = append(dest, &k[i])
		}
		dest = append(dest, &r.Requests, &r.Errors, &r.Retries, &r.InputTokens, &r.OutputTokens,
			&r.CacheReadTokens, &r.CacheWriteTokens, &r.CostUSD)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, key := range keys {
			switch key {
			case "day":
				r.Day = k[i]
			case "model":
				r.Model = k[i]
			case "client":
				r.Client = k[i]
			case "upstream":
				r.Upstream = k[i]
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func recent(ctx context.Context, db *sql.DB, n int) ([]usage.Entry, error) {
	if n <= 0 {
		n = 50
	}
	rows, err := db.QueryContext(ctx, `SELECT ts, upstream, client, model, stream, status, attempts, duration_us, ttfb_us,
		input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, key_name, requested
		FROM named_requests ORDER BY ts DESC, id DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []usage.Entry{}
	for rows.Next() {
		var e usage.Entry
		var ts, dur, ttfb int64
		if err := rows.Scan(&ts, &e.Upstream, &e.Client, &e.Model, &e.Stream, &e.Status, &e.Attempts, &dur, &ttfb,
			&e.Input, &e.Output, &e.CacheRead, &e.CacheWrite, &e.CostUSD, &e.KeyName, &e.Requested); err != nil {
			return nil, err
		}
		if e.Requested == e.Upstream {
			e.Requested = "" // no fallback answered
		}
		e.Time = time.UnixMilli(ts)
		e.DurationMS = float64(dur) / 1000
		e.TTFBMS = float64(ttfb) / 1000
		out = append(out, e)
	}
	return out, rows.Err()
}

// Reader reads a ledger file without writing it: `clearway usage` when no
// clearway runs. Safe for concurrent use.
type Reader struct{ db *sql.DB }

// ErrNoLedger is matched (errors.Is) when the ledger file does not exist.
var ErrNoLedger = errors.New("no usage ledger yet")

// OpenReader opens the ledger at path read-only. It works while a clearway
// writes it (WAL).
func OpenReader(path string) (*Reader, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s", ErrNoLedger, path)
		}
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("usage ledger %s: %w", path, err)
	}
	if v == 0 {
		_ = db.Close()
		return nil, fmt.Errorf("%w at %s (empty file)", ErrNoLedger, path)
	}
	return &Reader{db: db}, nil
}

// Query sums rows as Ledger.Query does.
func (r *Reader) Query(ctx context.Context, q usage.Query) ([]usage.Row, error) {
	return query(ctx, r.db, q)
}

// Recent returns the latest n requests, newest first.
func (r *Reader) Recent(ctx context.Context, n int) ([]usage.Entry, error) {
	return recent(ctx, r.db, n)
}

// Close closes the file.
func (r *Reader) Close() error { return r.db.Close() }
