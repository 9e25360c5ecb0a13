// Package metrics exposes the proxy's counters in the Prometheus text format
// through github.com/prometheus/client_golang, on a registry of its own (no
// global state). It is fed one usage.Record per finished request and reads
// live gauges (in-flight, cookies, dropped ledger rows) from callbacks at
// scrape time.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clearway/clearway/proxy/usage"
)

// Metrics holds the collectors. Build it with New. Safe for concurrent use.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	retries   *prometheus.CounterVec
	tokens    *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	rateLimit *prometheus.GaugeVec

	// ups caches each upstream's children of the vectors above, so that
	// Observe, called once per request, does no label hashing, vector lock
	// or allocation once an upstream's series exist. Copy on write: readers
	// load the map without a lock; mu serialises the (rare) additions.
	mu  sync.Mutex
	ups atomic.Pointer[map[string]*children]
}

// children are one upstream's metric children. Each slot is filled on
// first use (from the vector's WithLabelValues, which returns the same
// child to every caller), so a series appears when it is first counted,
// as before the cache.
type children struct {
	requests [len(codeClasses) + 2]atomic.Pointer[prometheus.Counter] // by codeIndex
	retries  atomic.Pointer[prometheus.Counter]
	duration atomic.Pointer[prometheus.Observer]
	rateReq  atomic.Pointer[prometheus.Gauge]
	rateTok  atomic.Pointer[prometheus.Gauge]
	models   atomic.Pointer[map[string]*modelChildren] // copy on write under Metrics.mu
	upstream string
}

// modelChildren are the token counters of one upstream and model, by kind.
type modelChildren struct {
	input, output, cacheRead, cacheWrite atomic.Pointer[prometheus.Counter]
}

// child returns the value in slot, filling it from make on first use.
func child[T any](slot *atomic.Pointer[T], make func() T) T {
	if p := slot.Load(); p != nil {
		return *p
	}
	v := make()
	slot.Store(&v)
	return v
}

// upstream returns the children of upstream name, adding them on first use.
func (m *Metrics) upstream(name string) *children { return cached(&m.mu, &m.ups, name) }

// model returns c's token counters for model, adding them on first use.
func (m *Metrics) model(c *children, model string) *modelChildren {
	return cached(&m.mu, &c.models, model)
}

// cached returns the value of key in the copy-on-write map in slot, adding
// a zero one on first use: reads load the map without a lock, mu serialises
// the (rare) additions, each of which stores a new map.
func cached[V any](mu *sync.Mutex, slot *atomic.Pointer[map[string]*V], key string) *V {
	if m := slot.Load(); m != nil {
		if v := (*m)[key]; v != nil {
			return v
		}
	}
	mu.Lock()
	defer mu.Unlock()
	old := slot.Load()
	if old != nil {
		if v := (*old)[key]; v != nil {
			return v
		}
	}
	next := make(map[string]*V, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	v := new(V)
	next[key] = v
	slot.Store(&next)
	return v
}

// codeIndex is the slot of children.requests for a status: codeClasses'
// index for 1xx-5xx, then 499, then "000".
func codeIndex(status int) int {
	switch {
	case status == 499:
		return len(codeClasses)
	case status >= 100 && status < 600:
		return status/100 - 1
	}
	return len(codeClasses) + 1
}

// Live gives the values read at scrape time. Any nil function is left out;
// the zero value exposes none.
type Live struct {
	InFlight func() float64         // requests in flight
	Cookies  func() map[string]int  // cookies per upstream
	Dropped  func() float64         // ledger rows dropped
	Queued   func() float64         // ledger rows waiting to be written
	Extra    []prometheus.Collector // anything else to expose
}

// New builds the collectors and registers them with the live gauges.
func New(live Live) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearway_requests_total",
			Help: "Requests routed to an upstream, by upstream and final status class (2xx, 4xx, 5xx; 499: client left first).",
		}, []string{"upstream", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearway_retries_total",
			Help: "Upstream attempts beyond the first, by upstream.",
		}, []string{"upstream"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearway_tokens_total",
			Help: "Tokens the upstreams reported, by upstream, model and kind (input, output, cache_read, cache_write).",
		}, []string{"upstream", "model", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clearway_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by upstream.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"upstream"}),
		rateLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clearway_ratelimit_remaining",
			Help: "The latest remaining rate-limit value an upstream sent (anthropic-ratelimit-*-remaining, x-ratelimit-remaining-*), by kind (requests, tokens).",
		}, []string{"upstream", "kind"}),
	}
	m.reg.MustRegister(m.requests, m.retries, m.tokens, m.duration, m.rateLimit)
	if live.InFlight != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "clearway_in_flight_requests", Help: "Requests being served right now.",
		}, live.InFlight))
	}
	if live.Dropped != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "clearway_usage_dropped_total", Help: "Usage rows dropped because the ledger's queue was full or a write failed.",
		}, live.Dropped))
	}
	if live.Queued != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "clearway_usage_queued", Help: "Usage rows waiting to be written to the ledger.",
		}, live.Queued))
	}
	if live.Cookies != nil {
		m.reg.MustRegister(&cookieCollector{fn: live.Cookies, desc: prometheus.NewDesc(
			"clearway_cookies", "Cookies held in an upstream's session jar.", []string{"upstream"}, nil)})
	}
	for _, c := range live.Extra {
		m.reg.MustRegister(c)
	}
	return m
}

// Observe counts one finished request.
func (m *Metrics) Observe(r usage.Record) {
	c := m.upstream(r.Upstream)
	child(&c.requests[codeIndex(r.Status)], func() prometheus.Counter {
		return m.requests.WithLabelValues(r.Upstream, codeClass(r.Status))
	}).Inc()
	if r.Attempts > 1 {
		child(&c.retries, func() prometheus.Counter { return m.retries.WithLabelValues(r.Upstream) }).Add(float64(r.Attempts - 1))
	}
	child(&c.duration, func() prometheus.Observer { return m.duration.WithLabelValues(r.Upstream) }).Observe(r.Duration.Seconds())
	if r.HasTokens {
		model := r.Model
		if model == "" {
			model = "unknown"
		}
		mc := m.model(c, model)
		add := func(slot *atomic.Pointer[prometheus.Counter], kind string, n int64) {
			if n > 0 {
				child(slot, func() prometheus.Counter { return m.tokens.WithLabelValues(r.Upstream, model, kind) }).Add(float64(n))
			}
		}
		add(&mc.input, "input", r.Tokens.Input)
		add(&mc.output, "output", r.Tokens.Output)
		add(&mc.cacheRead, "cache_read", r.Tokens.CacheRead)
		add(&mc.cacheWrite, "cache_write", r.Tokens.CacheWrite)
	}
	if r.RateRequests >= 0 {
		child(&c.rateReq, func() prometheus.Gauge { return m.rateLimit.WithLabelValues(r.Upstream, "requests") }).Set(float64(r.RateRequests))
	}
	if r.RateTokens >= 0 {
		child(&c.rateTok, func() prometheus.Gauge { return m.rateLimit.WithLabelValues(r.Upstream, "tokens") }).Set(float64(r.RateTokens))
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry the metrics live in (tests, extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// codeClass is "2xx", "4xx", ..., "499" for a client that left, "000" for none.
func codeClass(status int) string {
	switch {
	case status == 499:
		return "499"
	case status >= 100 && status < 600:
		return codeClasses[status/100-1]
	}
	return "000"
}

var codeClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

type cookieCollector struct {
	fn   func() map[string]int
	desc *prometheus.Desc
}

func (c *cookieCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *cookieCollector) Collect(ch chan<- prometheus.Metric) {
	for up, n := range c.fn() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), up)
	}
}
