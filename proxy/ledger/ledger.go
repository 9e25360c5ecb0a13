package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// Defaults for Options left zero.
const (
	DefaultRetention  = 90 * 24 * time.Hour
	DefaultQueueSize  = 8192
	DefaultFlushEvery = time.Second
	pruneEvery        = 24 * time.Hour
)

// batchRows is how many queued records make the writer write at once rather
// than wait for FlushEvery. It bounds the memory the queue holds under load
// (at ~7,000 requests/s a second of records was 1.5 MiB of queue and batch,
// doubled by the GC's headroom); a transaction per 512 rows still costs
// little more per row than one per 4,096 (BenchmarkRecord).
const batchRows = 512

// Options configure a Ledger. Path is required; the rest have defaults.
type Options struct {
	Path       string        // the database file, e.g. $XDG_DATA_HOME/clearway/usage.db
	Retention  time.Duration // rows older than this are pruned daily; 0: DefaultRetention
	Prices     *usage.Prices // prices the cost column; nil: usage.DefaultPrices()
	Logger     *slog.Logger  // nil: slog.Default()
	Now        func() time.Time
	QueueSize  int           // records waiting to be written at most; more are dropped; 0: DefaultQueueSize
	FlushEvery time.Duration // longest a record waits in the queue; 0: DefaultFlushEvery
}

// Ledger records usage rows and answers queries on them. Build it with Open
// or Start; it writes from its own goroutine until Close. Safe for
// concurrent use.
type Ledger struct {
	opts   Options
	log    *slog.Logger
	prices *usage.Prices

	ready   chan struct{} // closed when the database is open or could not be
	openErr error         // why it could not be; set before ready closes

	mu sync.RWMutex // guards db across a move-aside
	db *sql.DB      // nil until ready, and when the open failed

	// The queue: records wait in q (growing with the backlog, never past
	// QueueSize) until the writer takes the slice. A preallocated channel
	// of QueueSize records held 1.7 MiB whether used or not.
	qmu     sync.Mutex
	q       []usage.Record
	qclosed bool          // Close began, or the database could not be opened: drop
	wake    chan struct{} // the writer has something to look at (cap 1)
	need    chan struct{} // a query waits for the database to open (cap 1)

	dropped atomic.Uint64
	written atomic.Uint64
	failing atomic.Bool
	lastErr atomic.Pointer[string]

	labels map[labelKey]int64 // labels.id by names; used by the writer goroutine only
	ids    []int64            // the writer's scratch space for one batch
	costs  []float64
	args   []any
	today  dayTotals

	beforeOpen func() // tests: runs on the writer before the database opens

	flushReq chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	closed   sync.Once
}

// Open opens the ledger at opts.Path, creating it (0600, WAL) or migrating
// it, and returns once the database is open. A file that cannot be opened,
// is not a database or cannot be written is moved aside
// (PATH.corrupt-<time>) and a new one is made, with one warning. Open fails
// only when no usable database can be made at all; the caller then runs
// without a ledger.
func Open(opts Options) (*Ledger, error) {
	l, err := newLedger(opts)
	if err != nil {
		return nil, err
	}
	go l.run(false, 0)
	<-l.ready
	if l.openErr != nil {
		_ = l.Close()
		return nil, l.openErr
	}
	return l, nil
}

// Start is Open without the wait: it returns at once and opens the database
// in the background, when it is first needed (a query, Flush, Close, a full
// batch of records) and at the latest FlushEvery after Start. SQLite's open
// and migrations took ~45 ms of clearway's start-up, and opening them
// alongside the first request still took its CPU on one core. Records
// wait in the queue meanwhile (as each waits up to FlushEvery anyway) and
// are written once it is open. When no usable database can be made, Start's
// ledger says so once in the log ("usage ledger unavailable"), drops and
// counts every record, reports the error in Stats, and its queries return
// it. Start fails only without a path.
func Start(opts Options) (*Ledger, error) {
	l, err := newLedger(opts)
	if err != nil {
		return nil, err
	}
	go l.run(true, l.opts.FlushEvery)
	return l, nil
}

// newLedger fills in the defaults; the writer is not started.
func newLedger(opts Options) (*Ledger, error) {
	if opts.Path == "" {
		return nil, errors.New("ledger: no path")
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultFlushEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Ledger{
		opts:     opts,
		log:      opts.Logger,
		prices:   opts.Prices,
		ready:    make(chan struct{}),
		wake:     make(chan struct{}, 1),
		need:     make(chan struct{}, 1),
		labels:   map[labelKey]int64{},
		flushReq: make(chan chan struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.prices == nil {
		l.prices = usage.DefaultPrices()
	}
	return l, nil
}

// Ready is closed once the database is open and the records queued while
// it opened are written, or once it could not be opened (Err then says
// why).
func (l *Ledger) Ready() <-chan struct{} { return l.ready }

// Err returns why the database could not be opened: nil while it opens and
// once it is open.
func (l *Ledger) Err() error {
	select {
	case <-l.ready:
		return l.openErr
	default:
		return nil
	}
}

// openOrRecreate opens the file, moving it aside once if it is unusable.
func (l *Ledger) openOrRecreate() (*sql.DB, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := openDB(ctx, l.opts.Path)
	if err == nil {
		return db, nil
	}
	if errors.Is(err, ErrNewerSchema) {
		return nil, fmt.Errorf("ledger %s: %w", l.opts.Path, err)
	}
	aside, merr := moveAside(l.opts.Path, l.opts.Now())
	if merr != nil {
		return nil, fmt.Errorf("ledger %s cannot be used (%w) nor moved aside: %w", l.opts.Path, err, merr)
	}
	l.log.Warn("usage ledger could not be used; moved it aside and started a new one", "path", l.opts.Path, "moved_to", aside, "err", err)
	db, err2 := openDB(ctx, l.opts.Path)
	if err2 != nil {
		return nil, fmt.Errorf("ledger %s: %w (a new one failed too: %w)", l.opts.Path, err, err2)
	}
	return db, nil
}

// Record queues r to be written. It never blocks: when QueueSize records
// wait already, or the ledger is closed or has no database, the record is
// dropped and counted (Stats.Dropped).
func (l *Ledger) Record(r usage.Record) {
	l.qmu.Lock()
	if l.qclosed || len(l.q) >= l.opts.QueueSize {
		l.qmu.Unlock()
		l.dropped.Add(1)
		return
	}
	l.q = append(l.q, r)
	n := len(l.q)
	l.qmu.Unlock()
	if n == 1 || n == batchRows {
		select {
		case l.wake <- struct{}{}:
		default: // the writer has a wake-up pending: it looks at the queue then
		}
	}
}

// Flush writes everything queued so far and returns when it is in the
// database (or the ledger is closed, or has no database). While the
// database opens, Flush waits for it.
func (l *Ledger) Flush() {
	ack := make(chan struct{})
	select {
	case l.flushReq <- ack:
		<-ack
	case <-l.done:
	}
}

// Close writes what is queued and closes the database (waiting for it to
// open first). Records arriving after Close are dropped.
func (l *Ledger) Close() error {
	var err error
	l.closed.Do(func() {
		close(l.stop)
		<-l.done
		l.mu.Lock()
		if l.db != nil {
			err = l.db.Close()
		}
		l.mu.Unlock()
	})
	return err
}

// Stats is the ledger's state for status output and metrics.
type Stats struct {
	Path    string `json:"path"`
	Queued  int    `json:"queued"`
	Written uint64 `json:"written"`
	Dropped uint64 `json:"dropped"`
	Error   string `json:"error,omitempty"` // the last write error while writes fail, or why the database could not be opened
}

// Dropped returns how many records were dropped (queue full or write failed).
func (l *Ledger) Dropped() uint64 { return l.dropped.Load() }

// Queued returns how many records wait to be written.
func (l *Ledger) Queued() int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.q)
}

// Stats returns the current counters.
func (l *Ledger) Stats() Stats {
	s := Stats{Path: l.opts.Path, Queued: l.Queued(), Written: l.written.Load(), Dropped: l.dropped.Load()}
	if l.failing.Load() {
		if p := l.lastErr.Load(); p != nil {
			s.Error = *p
		}
	}
	return s
}

// take returns the queued records (at least one when n > 0) and leaves the
// queue empty, reusing spare's array when it has room.
func (l *Ledger) take(spare []usage.Record) (batch []usage.Record, left int) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	batch = l.q
	// After a burst the spare array is large: let it go rather than hold
	// the burst's memory for ever.
	if cap(spare) > 2*batchRows {
		spare = nil
	}
	l.q = spare[:0]
	return batch, len(batch)
}

// shut stops the queue taking records: those arriving later are dropped.
func (l *Ledger) shut() {
	l.qmu.Lock()
	l.qclosed = true
	l.qmu.Unlock()
}

// run is the writer. It opens the database (after delay at the latest, see
// awaitNeed), then writes what is queued when batchRows records wait, when
// the first of them has waited FlushEvery, on Flush and on Close.
// logFailure says a failed open is its to log (Start); Open's caller logs
// it instead.
func (l *Ledger) run(logFailure bool, delay time.Duration) {
	defer close(l.done)
	var ack chan struct{} // a Flush that came before the open
	if delay > 0 {
		ack = l.awaitNeed(delay)
	}
	if l.beforeOpen != nil {
		l.beforeOpen()
	}
	db, err := l.openOrRecreate()
	if err == nil {
		l.loadToday(db)
	}
	l.mu.Lock()
	l.db = db
	l.openErr = err
	l.mu.Unlock()
	if err != nil {
		close(l.ready)
		l.shut()
		_, n := l.take(nil)
		l.dropped.Add(uint64(n))
		msg := err.Error()
		l.lastErr.Store(&msg)
		l.failing.Store(true)
		if logFailure {
			l.log.Warn("usage ledger unavailable; requests are not recorded", "path", l.opts.Path, "err", err)
		}
		if ack != nil {
			close(ack)
		}
		l.idle()
		return
	}
	var spare []usage.Record
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	lastPrune := time.Time{}
	flush := func() {
		var batch []usage.Record
		batch, _ = l.take(spare)
		l.write(batch)
		clear(batch) // drop the strings it holds
		spare = batch[:0]
		if now := l.opts.Now(); now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			l.prune(now)
		}
	}
	// Records that came while the database waited to be needed (Start)
	// have waited up to FlushEvery already: they are written before Ready
	// closes, so a query made then sees them. Deciding this after Ready
	// closed raced with records made after Open returned, which must wait
	// for FlushEvery, batchRows or Flush like any other.
	if ack != nil || l.Queued() > 0 {
		flush()
	}
	close(l.ready)
	if ack != nil {
		close(ack)
	}
	for {
		// Look at the queue: write now when a batch is full, else make sure
		// the oldest record waits at most FlushEvery.
		for {
			n := l.Queued()
			if n >= batchRows {
				flush()
				continue
			}
			if n > 0 && !armed {
				timer.Reset(l.opts.FlushEvery)
				armed = true
			} else if n == 0 && armed {
				timer.Stop()
				armed = false
			}
			break
		}
		select {
		case <-l.wake:
		case <-timer.C:
			armed = false
			flush()
		case ack := <-l.flushReq:
			flush()
			close(ack)
		case <-l.stop:
			l.shut()
			flush()
			return
		}
	}
}

// awaitNeed returns when the database is needed: delay has passed, a query
// waits (need), batchRows records wait, Close began, or Flush was called
// (its ack is returned, to be closed once the queue is written).
func (l *Ledger) awaitNeed(delay time.Duration) (ack chan struct{}) {
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return nil
		case <-l.need:
			return nil
		case <-l.stop:
			return nil
		case ack := <-l.flushReq:
			return ack
		case <-l.wake:
			if l.Queued() >= batchRows {
				return nil
			}
		}
	}
}

// idle answers Flush until Close when there is no database.
func (l *Ledger) idle() {
	for {
		select {
		case ack := <-l.flushReq:
			close(ack)
		case <-l.stop:
			return
		}
	}
}

// rowsPerInsert is how many rows one INSERT statement carries: multi-row
// inserts cost far less per row than one statement per row.
const rowsPerInsert = 32

var insertMany = "INSERT INTO requests (" + insertColumns + ") VALUES " +
	strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?,?,?,?),", rowsPerInsert), ",")

// labelKey is a row's names, stored once in the labels table.
type labelKey struct{ upstream, client, model, key, requested string }

// insertRow is one row's placeholders: insertArgs question marks.
var insertRow = "(" + strings.TrimSuffix(strings.Repeat("?,", insertArgs), ",") + ")"

// write inserts batch in one transaction. A failure drops the batch (counted)
// and warns once until writes work again; a database found corrupt is moved
// aside and recreated.
func (l *Ledger) write(batch []usage.Record) {
	if len(batch) == 0 {
		return
	}
	if !l.today.loaded {
		l.loadToday(l.db)
	}
	err := l.insert(batch)
	if err != nil && isCorrupt(err) {
		l.mu.Lock()
		_ = l.db.Close()
		db, oerr := l.openOrRecreate()
		clear(l.labels)
		if oerr == nil {
			l.db = db
			l.today.loaded = false
			l.loadToday(db)
			err = l.insert(batch)
		} else {
			err = oerr
			l.db, _ = openClosed()
		}
		l.mu.Unlock()
	}
	if err != nil {
		l.dropped.Add(uint64(len(batch)))
		msg := err.Error()
		l.lastErr.Store(&msg)
		if !l.failing.Swap(true) {
			l.log.Warn("usage ledger: could not write; rows are dropped until it works again", "path", l.opts.Path, "rows", len(batch), "err", err)
		}
		return
	}
	l.written.Add(uint64(len(batch)))
	l.addToday(batch, l.costs)
	if l.failing.Swap(false) {
		l.log.Info("usage ledger: writing again", "path", l.opts.Path)
	}
}

func (l *Ledger) insert(batch []usage.Record) (err error) {
	l.mu.RLock()
	db := l.db
	l.mu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var added []labelKey
	defer func() {
		_ = tx.Rollback()
		if err != nil {
			for _, k := range added { // rolled back with the batch
				delete(l.labels, k)
			}
		}
	}()
	ids := slices.Grow(l.ids[:0], len(batch))[:len(batch)]
	costs := slices.Grow(l.costs[:0], len(batch))[:len(batch)]
	l.ids, l.costs = ids, costs
	for i, r := range batch {
		costs[i], _ = l.prices.Cost(r.Model, r.Tokens)
		k := labelKey{r.Upstream, r.Client, r.Model, r.KeyName, r.Requested}
		id, ok := l.labels[k]
		if !ok {
			if id, err = labelID(ctx, tx, k); err != nil {
				return err
			}
			l.labels[k] = id
			added = append(added, k)
		}
		ids[i] = id
	}
	var many, one *sql.Stmt
	if l.args == nil {
		l.args = make([]any, 0, insertArgs*rowsPerInsert)
	}
	args := l.args
	defer clear(args[:cap(args)])
	for off := 0; off < len(batch); {
		n := rowsPerInsert
		if len(batch)-off < n {
			n = 1
		}
		args = args[:0]
		for i := off; i < off+n; i++ {
			args = appendArgs(args, batch[i], ids[i], costs[i])
		}
		off += n
		stmt := &one
		text := "INSERT INTO requests (" + insertColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
		if n > 1 {
			stmt, text = &many, insertMany
		}
		if *stmt == nil {
			if *stmt, err = tx.PrepareContext(ctx, text); err != nil {
				return err
			}
		}
		if _, err = (*stmt).ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// labelID returns the id of k's labels row, adding the row when it is new.
func labelID(ctx context.Context, tx *sql.Tx, k labelKey) (int64, error) {
	if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO labels (upstream, client, model, key_name, requested) VALUES (?, ?, ?, ?, ?)",
		k.upstream, k.client, k.model, k.key, k.requested); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM labels WHERE upstream = ? AND client = ? AND model = ? AND key_name = ? AND requested = ?",
		k.upstream, k.client, k.model, k.key, k.requested).Scan(&id)
	return id, err
}

// appendArgs appends r's insertArgs values.
func appendArgs(args []any, r usage.Record, labels int64, cost float64) []any {
	stream := 0
	if r.Stream {
		stream = 1
	}
	return append(args, r.Time.UnixMilli(), labels, stream, r.Status, r.Attempts,
		r.Duration.Microseconds(), r.TTFB.Microseconds(),
		r.Tokens.Input, r.Tokens.Output, r.Tokens.CacheRead, r.Tokens.CacheWrite, cost)
}

// prune deletes rows older than the retention period.
func (l *Ledger) prune(now time.Time) {
	l.mu.RLock()
	db := l.db
	l.mu.RUnlock()
	cutoff := now.Add(-l.opts.Retention).UnixMilli()
	res, err := db.Exec("DELETE FROM requests WHERE ts < ?", cutoff)
	if err != nil {
		l.log.Warn("usage ledger: pruning old rows failed", "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		l.log.Info("usage ledger: pruned old rows", "rows", n, "older_than", l.opts.Retention)
	}
}

// openClosed returns a database handle whose every use fails, standing in
// when no database could be made, so readers get an error instead of a nil.
func openClosed() (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err == nil {
		_ = db.Close()
	}
	return db, err
}

// Query sums the rows since q.Since grouped as q.By says. While the
// database opens it waits (up to ctx); when it could not be opened it
// returns why.
func (l *Ledger) Query(ctx context.Context, q usage.Query) ([]usage.Row, error) {
	if err := l.wait(ctx); err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return query(ctx, l.db, q)
}

// Recent returns the latest n requests, newest first; it waits for the
// database as Query does.
func (l *Ledger) Recent(ctx context.Context, n int) ([]usage.Entry, error) {
	if err := l.wait(ctx); err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return recent(ctx, l.db, n)
}

// wait returns once the database is open (nil), could not be opened (why),
// or ctx ends.
func (l *Ledger) wait(ctx context.Context) error {
	select {
	case l.need <- struct{}{}:
	default: // already asked, or open
	}
	select {
	case <-l.ready:
		if l.openErr != nil {
			return fmt.Errorf("usage ledger unavailable: %w", l.openErr)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Prune deletes rows older than the retention period now (it also runs
// daily on its own). It waits for the database to open; without one it
// does nothing.
func (l *Ledger) Prune() {
	if l.wait(context.Background()) == nil {
		l.prune(l.opts.Now())
	}
}
