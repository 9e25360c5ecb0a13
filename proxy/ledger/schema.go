package ledger

// migrations bring a database to the current schema. Entry i moves it from
// user_version i to i+1; never edit one that has shipped, add another.
var migrations = []string{
	`CREATE TABLE requests (
		id                 INTEGER PRIMARY KEY,
		ts                 INTEGER NOT NULL, -- arrival, unix milliseconds
		upstream           TEXT    NOT NULL,
		client             TEXT    NOT NULL,
		model              TEXT    NOT NULL,
		stream             INTEGER NOT NULL, -- 1: event stream
		status             INTEGER NOT NULL, -- final status; 499: client left
		attempts           INTEGER NOT NULL, -- upstream attempts (0: refused locally)
		duration_us        INTEGER NOT NULL,
		ttfb_us            INTEGER NOT NULL, -- 0: no byte was sent
		input_tokens       INTEGER NOT NULL,
		output_tokens      INTEGER NOT NULL,
		cache_read_tokens  INTEGER NOT NULL,
		cache_write_tokens INTEGER NOT NULL,
		cost_usd           REAL    NOT NULL, -- estimate from the price table
		key_name           TEXT    NOT NULL  -- keychain entry name, never a key
	);
	CREATE INDEX requests_ts ON requests (ts);`,
	// The upstream the client asked for; upstream is the one that answered
	// (a fallback when the asked one failed). '' in rows written before.
	`ALTER TABLE requests ADD COLUMN requested TEXT NOT NULL DEFAULT '';`,
}

// SchemaVersion is the user_version a current database has.
var SchemaVersion = len(migrations)

const insertColumns = `ts, upstream, client, model, stream, status, attempts, duration_us, ttfb_us,
	input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, key_name, requested`

const insertArgs = 16
