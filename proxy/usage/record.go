package usage

import "time"

// Record is one request that reached clearway's router: answered, failed or
// refused locally. The proxy fills it when the request ends and hands it to a
// Recorder. It never holds a secret: KeyName is the keychain entry's name.
// The zero value is an empty record.
type Record struct {
	Time      time.Time     // when the request arrived
	Upstream  string        // upstream name
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

// Groupings are the values --by and ?by= accept.
var Groupings = []string{"day", "model", "client", "upstream"}
