package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultRetention is how long usage rows are kept when usage.retention is not set.
const DefaultRetention = 90 * 24 * time.Hour

// Usage configures the usage ledger (usage:).
type Usage struct {
	Enabled   bool          // keep the ledger (default true)
	Retention time.Duration // rows older than this are pruned daily
}

// Price is one prices: entry, USD per million tokens. Zero fields are free.
type Price struct {
	Input      float64 `yaml:"input"`
	Output     float64 `yaml:"output"`
	CacheRead  float64 `yaml:"cache_read"`
	CacheWrite float64 `yaml:"cache_write"`
}

type fileUsage struct {
	Enabled   *bool `yaml:"enabled"`
	Retention *Days `yaml:"retention"`
}

// Days is a duration written as days ("90d") or as Go duration text
// ("2160h"). The zero value is zero.
type Days time.Duration

// UnmarshalYAML parses "90d" or a Go duration; a bare number is refused.
func (d *Days) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as \"90d\" or \"720h\"", n.Line)
	}
	if num, ok := strings.CutSuffix(s, "d"); ok {
		if v, err := strconv.Atoi(num); err == nil && v >= 0 {
			*d = Days(time.Duration(v) * 24 * time.Hour)
			return nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (write it as \"90d\" or \"720h\")", n.Line, s)
	}
	*d = Days(v)
	return nil
}

func buildUsage(fu fileUsage) (Usage, error) {
	u := Usage{Enabled: fu.Enabled == nil || *fu.Enabled, Retention: DefaultRetention}
	if fu.Retention != nil {
		u.Retention = time.Duration(*fu.Retention)
		if u.Retention < time.Hour {
			return u, fmt.Errorf("usage.retention: %s is less than an hour", u.Retention)
		}
	}
	return u, nil
}

func buildPrices(m map[string]Price) (map[string]Price, error) {
	for k, v := range m {
		if strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("prices: an entry has an empty model name")
		}
		if v.Input < 0 || v.Output < 0 || v.CacheRead < 0 || v.CacheWrite < 0 {
			return nil, fmt.Errorf("prices.%s: prices must not be negative", k)
		}
	}
	return m, nil
}
