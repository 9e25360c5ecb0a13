// Package ledger keeps clearway's usage ledger: one row per request in an
// embedded SQLite database (modernc.org/sqlite, pure Go) in WAL mode, written
// off the request path by a bounded queue and batched transactions, pruned
// to a retention period, and queried by day, model, client or upstream.
package ledger
