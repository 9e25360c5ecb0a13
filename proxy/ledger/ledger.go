package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
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
	maxBatch          = 4096 // rows per transaction at most
	pruneEvery        = 24 * time.Hour
)

// Options configure a Ledger. Path is required; the rest have defaults.
type Options struct {
	Path       string        // the database file, e.g. $XDG_DATA_HOME/clearway/usage.db
	Retention  time.Duration // rows older than this are pruned daily; 0: DefaultRetention
	Prices     *usage.Prices // prices the cost column; nil: usage.DefaultPrices()
	Logger     *slog.Logger  // nil: slog.Default()
	Now        func() time.Time
	QueueSize  int           // records waiting to be written; full drops; 0: DefaultQueueSize
	FlushEvery time.Duration // longest a record waits in the queue; 0: DefaultFlushEvery
}

// Ledger records usage rows and answers queries on them. Build it with Open;
// it writes from its own goroutine until Close. Safe for concurrent use.
type Ledger struct {
	opts   Options
	log    *slog.Logger
	prices *usage.Prices

	mu sync.RWMutex // guards db across a move-aside
	db *sql.DB

	queue   chan usage.Record
	dropped atomic.Uint64
	written atomic.Uint64
	failing atomic.Bool
	lastErr atomic.Pointer[string]

	labels map[labelKey]int64 // labels.id by names; used by the writer goroutine only

	flushReq chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	closed   sync.Once
}

// Open opens the ledger at opts.Path, creating it (0600, WAL) or migrating
// it. A file that cannot be opened, is not a database or cannot be written
// is moved aside (PATH.corrupt-<time>) and a new one is made, with one
// warning. Open fails only when no usable database can be made at all; the
// caller then runs without a ledger.
func Open(opts Options) (*Ledger, error) {
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
		queue:    make(chan usage.Record, opts.QueueSize),
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
	db, err := l.openOrRecreate()
	if err != nil {
		return nil, err
	}
	l.db = db
	go l.run()
	return l, nil
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

// Record queues r to be written. It never blocks: when the queue is full the
// record is dropped and counted (Stats.Dropped).
func (l *Ledger) Record(r usage.Record) {
	select {
	case l.queue <- r:
	default:
		l.dropped.Add(1)
	}
}

// Flush writes everything queued so far and returns when it is in the
// database (or the ledger is closed).
func (l *Ledger) Flush() {
	ack := make(chan struct{})
	select {
	case l.flushReq <- ack:
		<-ack
	case <-l.done:
	}
}

// Close writes what is queued and closes the database. Records arriving
// after Close are dropped.
func (l *Ledger) Close() error {
	var err error
	l.closed.Do(func() {
		close(l.stop)
		<-l.done
		l.mu.Lock()
		err = l.db.Close()
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
	Error   string `json:"error,omitempty"` // the last write error while writes fail
}

// Dropped returns how many records were dropped (queue full or write failed).
func (l *Ledger) Dropped() uint64 { return l.dropped.Load() }

// Queued returns how many records wait to be written.
func (l *Ledger) Queued() int { return len(l.queue) }

// Stats returns the current counters.
func (l *Ledger) Stats() Stats {
	s := Stats{Path: l.opts.Path, Queued: len(l.queue), Written: l.written.Load(), Dropped: l.dropped.Load()}
	if l.failing.Load() {
		if p := l.lastErr.Load(); p != nil {
			s.Error = *p
		}
	}
	return s
}

// run is the writer: it waits for a first record, lets more arrive for up to
// FlushEvery, then writes them all in one transaction.
func (l *Ledger) run() {
	defer close(l.done)
	batch := make([]usage.Record, 0, 256)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	lastPrune := time.Time{}
	for {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
			if !armed {
				timer.Reset(l.opts.FlushEvery)
				armed = true
			}
			if len(batch) < maxBatch {
				continue
			}
		case <-timer.C:
		case ack := <-l.flushReq:
			batch = l.drain(batch)
			l.write(batch)
			batch = batch[:0]
			close(ack)
			continue
		case <-l.stop:
			l.write(l.drain(batch))
			return
		}
		armed = false
		timer.Stop()
		batch = l.drain(batch)
		l.write(batch)
		batch = batch[:0]
		if now := l.opts.Now(); now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			l.prune(now)
		}
	}
}

// drain moves what is queued now into batch (up to maxBatch more).
func (l *Ledger) drain(batch []usage.Record) []usage.Record {
	for range maxBatch {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
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
	err := l.insert(batch)
	if err != nil && isCorrupt(err) {
		l.mu.Lock()
		_ = l.db.Close()
		db, oerr := l.openOrRecreate()
		clear(l.labels)
		if oerr == nil {
			l.db = db
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
	ids := make([]int64, len(batch))
	for i, r := range batch {
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
	args := make([]any, 0, insertArgs*rowsPerInsert)
	for off := 0; off < len(batch); {
		n := rowsPerInsert
		if len(batch)-off < n {
			n = 1
		}
		args = args[:0]
		for i := off; i < off+n; i++ {
			args = l.appendArgs(args, batch[i], ids[i])
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

func (l *Ledger) appendArgs(args []any, r usage.Record, labels int64) []any {
	cost, _ := l.prices.Cost(r.Model, r.Tokens)
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

// Query sums the rows since q.Since grouped as q.By says.
func (l *Ledger) Query(ctx context.Context, q usage.Query) ([]usage.Row, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return query(ctx, l.db, q)
}

// Recent returns the latest n requests, newest first.
func (l *Ledger) Recent(ctx context.Context, n int) ([]usage.Entry, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return recent(ctx, l.db, n)
}

// Prune deletes rows older than the retention period now (it also runs
// daily on its own).
func (l *Ledger) Prune() { l.prune(l.opts.Now()) }
