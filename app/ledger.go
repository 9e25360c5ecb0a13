package app

import (
	"log/slog"
	"path/filepath"

	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/ledger"
	"github.com/clearway/clearway/proxy/usage"
)

// UsagePath is the usage ledger's file in the data folder.
func UsagePath(dataDir string) string { return filepath.Join(dataDir, "usage.db") }

// Prices returns the price table cfg asks for: the embedded one with the
// config's prices: entries over it.
func Prices(cfg *config.Config) *usage.Prices {
	if len(cfg.Prices) == 0 {
		return usage.DefaultPrices()
	}
	over := make(map[string]usage.Price, len(cfg.Prices))
	for k, v := range cfg.Prices {
		over[k] = usage.Price(v)
	}
	return usage.DefaultPrices().With(over)
}

// OpenLedger starts the usage ledger at path as cfg's usage: section says.
// It returns nil when the ledger is off. The database opens in the
// background when first needed, a second after start at the latest
// (ledger.Start), so the proxy serves at once; rows recorded meanwhile wait
// in the ledger's queue. When no database can be made the
// ledger says so once in the log and drops (counting) what it is given:
// the proxy serves either way.
func OpenLedger(cfg *config.Config, path string, log *slog.Logger) *ledger.Ledger {
	if !cfg.Usage.Enabled {
		log.Info("usage ledger off (usage.enabled: false)")
		return nil
	}
	l, err := ledger.Start(ledger.Options{Path: path, Retention: cfg.Usage.Retention, Prices: Prices(cfg), Logger: log})
	if err != nil {
		log.Warn("usage ledger unavailable; requests are not recorded", "path", path, "err", err)
		return nil
	}
	return l
}

// LedgerOptions sets o's Recorder and Usage to l (nothing when l is nil, so
// a nil ledger never becomes a non-nil interface).
func LedgerOptions(o *proxy.Options, l *ledger.Ledger) {
	if l != nil {
		o.Recorder, o.Usage = l, l
	}
}
