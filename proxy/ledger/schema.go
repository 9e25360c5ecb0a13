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

	// 3: a row's names live once in labels, so a row is only numbers: less
	// than half the insert CPU and a smaller file. named_requests shows the
	// rows with their names, as the table did before.
	`CREATE TABLE labels (
		id        INTEGER PRIMARY KEY,
		upstream  TEXT NOT NULL,
		client    TEXT NOT NULL,
		model     TEXT NOT NULL,
		key_name  TEXT NOT NULL, -- keychain entry name, never a key
		requested TEXT NOT NULL,
		UNIQUE (upstream, client, model, key_name, requested)
	);
	INSERT OR IGNORE INTO labels (upstream, client, model, key_name, requested)
		SELECT DISTINCT upstream, client, model, key_name, requested FROM requests;
	CREATE TABLE requests_v3 (
		id                 INTEGER PRIMARY KEY,
		ts                 INTEGER NOT NULL, -- arrival, unix milliseconds
		labels             INTEGER NOT NULL, -- labels.id
		stream             INTEGER NOT NULL, -- 1: event stream
		status             INTEGER NOT NULL, -- final status; 499: client left
		attempts           INTEGER NOT NULL, -- upstream attempts (0: refused locally)
		duration_us        INTEGER NOT NULL,
		ttfb_us            INTEGER NOT NULL, -- 0: no byte was sent
		input_tokens       INTEGER NOT NULL,
		output_tokens      INTEGER NOT NULL,
		cache_read_tokens  INTEGER NOT NULL,
		cache_write_tokens INTEGER NOT NULL,
		cost_usd           REAL    NOT NULL  -- estimate from the price table
	);
	INSERT INTO requests_v3 (id, ts, labels, stream, status, attempts, duration_us, ttfb_us,
			input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd)
		SELECT r.id, r.ts, l.id, r.stream, r.status, r.attempts, r.duration_us, r.ttfb_us,
			r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.cost_usd
		FROM requests r JOIN labels l ON l.upstream = r.upstream AND l.client = r.client
			AND l.model = r.model AND l.key_name = r.key_name AND l.requested = r.requested;
	DROP TABLE requests;
	ALTER TABLE requests_v3 RENAME TO requests;
	CREATE INDEX requests_ts ON requests (ts);
	CREATE VIEW named_requests AS
		SELECT r.id, r.ts, l.upstream, l.client, l.model, l.key_name, l.requested, r.stream, r.status,
			r.attempts, r.duration_us, r.ttfb_us, r.input_tokens, r.output_tokens,
			r.cache_read_tokens, r.cache_write_tokens, r.cost_usd
		FROM requests r JOIN labels l ON l.id = r.labels;`,
}

// SchemaVersion is the user_version a current database has.
var SchemaVersion = len(migrations)

const insertColumns = `ts, labels, stream, status, attempts, duration_us, ttfb_us,
	input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd`

const insertArgs = 12
