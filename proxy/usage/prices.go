package usage

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed prices.yaml
var pricesYAML []byte

// Price is what a model family costs, in USD per million tokens. The zero
// value is free.
type Price struct {
	Input      float64 `yaml:"input" json:"input"`
	Output     float64 `yaml:"output" json:"output"`
	CacheRead  float64 `yaml:"cache_read" json:"cache_read"`
	CacheWrite float64 `yaml:"cache_write" json:"cache_write"`
}

// Prices is a price table: model-name prefixes and what they cost. Build it
// with DefaultPrices (and With for the config's overrides). A Prices is
// read-only once built and safe for concurrent use; the zero value prices
// nothing.
type Prices struct {
	// Date is when the embedded table was written ("2026-11-30"); costs are
	// estimates as of then.
	Date    string
	entries []priceEntry // longest prefix first
}

type priceEntry struct {
	prefix string
	price  Price
}

// DefaultPrices returns the embedded price table (shared: do not change it;
// With makes a copy).
func DefaultPrices() *Prices { return defaultPrices() }

var defaultPrices = sync.OnceValue(func() *Prices {
	var f struct {
		Date   string           `yaml:"date"`
		Models map[string]Price `yaml:"models"`
	}
	if err := yaml.Unmarshal(pricesYAML, &f); err != nil {
		panic("usage: embedded prices.yaml is invalid: " + err.Error())
	}
	p := &Prices{Date: f.Date}
	return p.With(f.Models)
})

// PricesDate returns the date of the embedded price table.
func PricesDate() string { return DefaultPrices().Date }

// With returns a copy of p in which the given entries replace or extend the
// table (model-name prefix -> price).
func (p *Prices) With(over map[string]Price) *Prices {
	m := map[string]Price{}
	if p != nil {
		for _, e := range p.entries {
			m[e.prefix] = e.price
		}
	}
	for k, v := range over {
		m[strings.ToLower(k)] = v
	}
	out := &Prices{}
	if p != nil {
		out.Date = p.Date
	}
	for k, v := range m {
		out.entries = append(out.entries, priceEntry{k, v})
	}
	sort.Slice(out.entries, func(i, j int) bool {
		a, b := out.entries[i].prefix, out.entries[j].prefix
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	return out
}

// Lookup returns the price of model: the entry with the longest prefix of
// the model name (case-insensitive). ok is false when none matches.
func (p *Prices) Lookup(model string) (Price, bool) {
	if p == nil || model == "" {
		return Price{}, false
	}
	model = strings.ToLower(model)
	for _, e := range p.entries {
		if strings.HasPrefix(model, e.prefix) {
			return e.price, true
		}
	}
	return Price{}, false
}

// Cost estimates what t cost on model, in USD. ok is false (and the cost 0)
// when the model has no price.
func (p *Prices) Cost(model string, t Tokens) (usd float64, ok bool) {
	pr, ok := p.Lookup(model)
	if !ok {
		return 0, false
	}
	usd = (float64(t.Input)*pr.Input + float64(t.Output)*pr.Output +
		float64(t.CacheRead)*pr.CacheRead + float64(t.CacheWrite)*pr.CacheWrite) / 1e6
	return usd, true
}

// Validate checks an override table from the config: every price is zero or
// more. The error names the entry.
func ValidatePrices(m map[string]Price) error {
	for k, v := range m {
		if k == "" {
			return fmt.Errorf("prices: an entry has an empty model name")
		}
		if v.Input < 0 || v.Output < 0 || v.CacheRead < 0 || v.CacheWrite < 0 {
			return fmt.Errorf("prices.%s: prices must not be negative", k)
		}
	}
	return nil
}
