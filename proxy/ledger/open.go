package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/clearway/clearway/internal/privdir"
)

// dsn builds the modernc.org/sqlite data source name for path.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// WAL with synchronous=NORMAL survives a killed process (only a power
		// loss may lose the last transactions) at a fraction of FULL's fsyncs.
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	// A page cache of 256 KiB per connection instead of SQLite's 2 MiB: the
	// ledger appends rows and sums recent ones, and the OS caches the file
	// anyway. Peak RSS at c=50 (wrk, ~6,000-9,000 req/s, 3 runs each):
	// 41.5/43.0/43.6 MiB before, 39.1/41.9/40.8 after (issue 18).
	q.Add("_pragma", "cache_size(-256)")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// openDB opens (creating, 0600) and migrates the database at path, and
// proves it writable. Any error means the file cannot serve as the ledger.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	if _, err := privdir.Ensure(filepath.Dir(path)); err != nil {
		return nil, err
	}
	// Never through a link, never another user's file (SQLite itself opens
	// by name; the private folder keeps the name from changing under it).
	f, err := privdir.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	_ = f.Close()
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	if err := migrate(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// migrate applies the migrations the database lacks, in one transaction. It
// also proves the file is a writable SQLite database.
func migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not wal", mode)
	}
	// BEGIN IMMEDIATE takes the write lock: a read-only file fails here.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	rollback := func(err error) error {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return rollback(err)
	}
	if version > len(migrations) {
		return rollback(fmt.Errorf("%w: schema version %d is newer than this clearway knows (%d)", ErrNewerSchema, version, len(migrations)))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
			return rollback(fmt.Errorf("migration %d: %w", v+1, err))
		}
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return rollback(err)
	}
	// A table read proves the pages are readable too.
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM requests ORDER BY ts DESC LIMIT 1)").Scan(&n); err != nil {
		return rollback(err)
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

// ErrNewerSchema is matched (errors.Is) when the database was written by a
// newer clearway; such a file is left alone, never moved aside.
var ErrNewerSchema = errors.New("usage database from a newer clearway")

// moveAside renames a database that cannot be used (and its -wal and -shm
// files) to PATH.corrupt-<time>, so a new one can be made and nothing is
// deleted. It returns the new name.
func moveAside(path string, now time.Time) (string, error) {
	dst := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Rename(path+suffix, dst+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = os.Remove(path + suffix)
		}
	}
	return dst, nil
}

// isCorrupt reports whether err says the file is not a usable database
// (SQLITE_CORRUPT, SQLITE_NOTADB) or cannot be written (SQLITE_READONLY,
// SQLITE_CANTOPEN, SQLITE_PERM).
func isCorrupt(err error) bool {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case 11, 26, 8, 14, 3: // CORRUPT, NOTADB, READONLY, CANTOPEN, PERM
			return true
		}
	}
	return false
}
