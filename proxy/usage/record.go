package usage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Record is one request that reached clearway's router: answered, failed or
// refused locally. The proxy fills it when the request ends and hands it to a
// Recorder. It never holds a secret: KeyName is the keychain entry's name.
// The zero value is an empty record.
type Record struct {
	Time      time.Time     // when the request arrived
	Upstream  string        // upstream name: the one that answered (or was last tried)
	Requested string        // the upstream the client asked for; differs from Upstream when a fallback answered
	Client    string        // client application (see Client)
	Model     string        // from the answer, else the request's JSON "model"
	Stream    bool          // the answer was an event stream
	Status    int           // final status sent to the client; 499: the client left first
	Attempts  int           // upstream attempts made (0: refused before any)
	Duration  time.Duration // arrival to end of answer
	TTFB      time.Duration // arrival to the first answer byte written (0: none)
	Tokens    Tokens        // as the answer reported them
	HasTokens bool          // the answer reported token counts
	KeyName   string        // keychain entry used for the upstream key ("" none)
	// RateRequests and RateTokens are the upstream's latest remaining
	// rate-limit values from the answer's headers (-1: not sent).
	RateRequests, RateTokens int64
}

// Recorder receives one Record per finished request. Record is called on the
// request's goroutine once the answer has been sent, so it must not block
// (queue and return). Implementations are safe for concurrent use.
type Recorder interface {
	Record(Record)
}

// Nop is a Recorder that drops every record.
type Nop struct{}

// Record drops r.
func (Nop) Record(Record) {}

// Row is one line of a usage report: the grouping key and the sums over the
// requests in it. Exactly one of Day, Model, Client, Upstream is set (the
// one grouped by); the zero value is an empty group.
type Row struct {
	Day              string  `json:"day,omitempty"`
	Model            string  `json:"model,omitempty"`
	Client           string  `json:"client,omitempty"`
	Upstream         string  `json:"upstream,omitempty"`
	Requests         int64   `json:"requests"`
	Errors           int64   `json:"errors"`
	Retries          int64   `json:"retries"`
	InputTokens      int64   `json:"input_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	CacheReadTokens  int64   `json:"cache_read_tokens"`
	CacheWriteTokens int64   `json:"cache_write_tokens"`
	CostUSD          float64 `json:"cost_usd"`
}

// Key returns the row's grouping value.
func (r Row) Key() string { return r.Day + r.Model + r.Client + r.Upstream }

// Groupings are the values --by and ?by= accept; the ledger also takes two
// of them joined by a comma ("day,model").
var Groupings = []string{"day", "model", "client", "upstream"}

// Query selects what a usage report sums. The zero value sums everything by
// model.
type Query struct {
	Since time.Time // rows at or after this time; zero: all
	Until time.Time // rows before this time; zero: no end
	By    string    // "day", "model", "client" or "upstream"; "": model
}

// ErrBadGrouping is matched (errors.Is) when Query.By is not a known grouping.
var ErrBadGrouping = errors.New("group by day, model, client or upstream")

// Entry is one recorded request, as the "recent requests" feed shows it.
// The zero value is an empty entry.
type Entry struct {
	Time       time.Time `json:"time"`
	Upstream   string    `json:"upstream"`
	Client     string    `json:"client"`
	Model      string    `json:"model"`
	Stream     bool      `json:"stream"`
	Status     int       `json:"status"`
	Attempts   int       `json:"attempts"`
	DurationMS float64   `json:"duration_ms"`
	TTFBMS     float64   `json:"ttfb_ms"`
	Tokens
	CostUSD float64 `json:"cost_usd"`
	KeyName string  `json:"key_name,omitempty"`
	// Requested is the upstream the client asked for, when a fallback
	// (Upstream) answered instead; "" otherwise.
	Requested string `json:"requested,omitempty"`
}

// Source answers usage queries: the ledger, or a reader of its file.
// Implementations are safe for concurrent use.
type Source interface {
	Query(ctx context.Context, q Query) ([]Row, error)
	Recent(ctx context.Context, n int) ([]Entry, error)
}

// ParseSince reads a --since / ?since= value: a duration back from now in
// hours or days ("24h", "7d", "30d", "90m"), a date ("2026-11-01", local
// midnight) or an RFC 3339 time. "" and "today" mean local midnight today.
func ParseSince(s string, now time.Time) (time.Time, error) {
	switch s {
	case "", "today":
		y, m, d := now.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, now.Location()), nil
	case "all":
		return time.Time{}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, now.Location()); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("since %q: want a duration such as 24h, 7d or 30d, a date such as 2026-11-01, today or all", s)
}

// Sum adds rows into one total row (with no grouping key).
func Sum(rows []Row) Row {
	var t Row
	for _, r := range rows {
		t.Requests += r.Requests
		t.Errors += r.Errors
		t.Retries += r.Retries
		t.InputTokens += r.InputTokens
		t.OutputTokens += r.OutputTokens
		t.CacheReadTokens += r.CacheReadTokens
		t.CacheWriteTokens += r.CacheWriteTokens
		t.CostUSD += r.CostUSD
	}
	return t
}
