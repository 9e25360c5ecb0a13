// Package config reads clearway's YAML configuration: the listen address, the
// client-token switch, retry and throttle settings, and the upstream APIs.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/adrg/xdg"
	"github.com/clearway/clearway/internal/privdir"
	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration file, as written.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// EmbeddedSource is the Source of a Config that came from the embedded default.
const EmbeddedSource = "(built-in default)"

// Defaults for settings the file leaves out.
const (
	DefaultListen         = "127.0.0.1:8764"
	DefaultMaxBody        = 32 << 20
	DefaultMaxQueueWait   = 30 * time.Second
	DefaultMaxRetries     = 3
	DefaultInitialDelay   = time.Second
	DefaultMaxDelay       = 30 * time.Second
	DefaultMaxRetryAfter  = 60 * time.Second
	DefaultConnect        = 10 * time.Second
	DefaultTLSHandshake   = 10 * time.Second
	DefaultResponseHeader = 10 * time.Minute
	DefaultIdleStream     = 5 * time.Minute
	DefaultShutdown       = 10 * time.Second
	DefaultReadHeader     = 10 * time.Second
	// DefaultRequestBody is how long a client has to send its whole request
	// body before a 408 releases its connection.
	DefaultRequestBody = 60 * time.Second
	// DefaultMaxConnections caps the client connections open at once; more
	// wait in the listen queue until one closes.
	DefaultMaxConnections = 512
	DefaultSaveDelay      = time.Second
	// DefaultBreakerFailures is how many final failures in a row open the
	// circuit breaker of an upstream with fallbacks when breaker.failures is
	// not set (without fallbacks the breaker is off unless it is set).
	DefaultBreakerFailures = 5
	// DefaultBreakerCooldown is how long an open breaker skips its upstream
	// before one probe request may try it again.
	DefaultBreakerCooldown = 30 * time.Second
)

// Config is a loaded, validated configuration. The zero value is not useful:
// build one with Load, Parse or Default. A Config is read-only once loaded and
// safe for concurrent reads.
type Config struct {
	Source         string           // file it came from, or EmbeddedSource
	Listen         string           // host:port to listen on
	ClientToken    bool             // require the local client token
	Retry          Retry            // defaults for every upstream
	MaxBody        int64            // largest request body buffered for replay; larger gets 413
	Timeouts       Timeouts         // network timeouts
	SaveDelay      time.Duration    // debounce of cookie-jar saves
	LogLevel       string           // debug, info, warn, error
	AllowedHosts   []string         // extra Host names accepted besides loopback names
	AllowedOrigins []string         // extra browser Origins accepted besides loopback
	AllowRemote    bool             // a non-loopback Listen is allowed (only with ClientToken)
	MaxConnections int              // client connections open at once; more wait (0: no cap)
	Upstreams      []Upstream       // sorted by name
	Shared         Shared           // limits shared with a team on Redis (shared:); zero Redis = off
	Usage          Usage            // the usage ledger (usage:)
	Prices         map[string]Price // model-name prefix -> price, over the built-in table (prices:)
}

// Retry says how often and how long to retry an upstream request.
type Retry struct {
	MaxRetries    int           // retries after the first attempt
	InitialDelay  time.Duration // first backoff, doubled each retry
	MaxDelay      time.Duration // cap on the computed backoff
	MaxRetryAfter time.Duration // longest server-requested wait honoured; longer waits go back to the client at once
	// ClientRetries is true for `client_retries: allow`: the upstream's final
	// error answers (and clearway's 502/504 after its own retries) go back
	// without `x-should-retry: false`, so the SDKs retry on top of clearway.
	// False (the default, `client_retries: never`) makes clearway the one
	// retry authority.
	ClientRetries bool
}

// Timeouts bounds the proxy's network waits. Zero means no limit.
type Timeouts struct {
	Connect        time.Duration // TCP connect to the upstream
	TLSHandshake   time.Duration // TLS handshake with the upstream
	ResponseHeader time.Duration // from request sent to response headers
	IdleStream     time.Duration // longest silence inside a response body (a slow but live stream is never cut)
	Shutdown       time.Duration // grace period for in-flight requests on shutdown
	ReadHeader     time.Duration // client must send its request headers within this
	RequestBody    time.Duration // client must send its whole request body within this (408)
}

// Throttle limits the request rate and concurrency towards one upstream.
// Zero RequestsPerMinute or MaxConcurrent means no limit of that kind.
type Throttle struct {
	RequestsPerMinute float64
	Burst             int
	MaxConcurrent     int
	MaxQueueWait      time.Duration // longest a request waits for its turn before a local 429
	TokensPerMinute   float64       // token budget (input + output, as answers report them); 0: none
}

// Upstream is one API the proxy forwards to, reached at /<Name>/.
type Upstream struct {
	Name       string
	URL        *url.URL
	UserAgent  string            // fixed User-Agent; "" pins the first client User-Agent seen
	Headers    map[string]string // extra headers; values may hold ${key:NAME} and ${env:VAR}
	Key        string            // keychain entry injected into AuthHeader ("" = none); with a pool, the first of Keys
	Keys       []string          // the key pool in order of preference (keys:); key: alone gives a pool of one; nil = none
	AuthHeader string            // "x-api-key" or "authorization" (sent as "Bearer <key>")
	Throttle   Throttle
	Retry      Retry
	Fallbacks  []string          // upstreams a finally failed request is replayed to, in order (fallbacks:)
	ModelMap   map[string]string // JSON "model" rewrites applied when this upstream serves as a fallback (model_map:)
	Breaker    Breaker
	// AllowInsecureHTTP lets a key go over plain http to a non-loopback
	// host (allow_insecure_http); without it such an upstream is refused.
	AllowInsecureHTTP bool
}

// Breaker configures an upstream's circuit breaker: after Failures final
// failures in a row the upstream is skipped for Cooldown, then one probe
// request decides whether it closes again. Failures 0 turns it off.
type Breaker struct {
	Failures int
	Cooldown time.Duration
}

// KeyNames returns every keychain entry the upstream uses: Key and the
// ${key:NAME} references in Headers, sorted and without duplicates.
func (u Upstream) KeyNames() []string {
	seen := map[string]bool{}
	if u.Key != "" {
		seen[u.Key] = true
	}
	for _, k := range u.Keys {
		seen[k] = true
	}
	for _, v := range u.Headers {
		for _, m := range refPattern.FindAllStringSubmatch(v, -1) {
			if m[1] == "key" {
				seen[m[2]] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Upstream returns the upstream called name.
func (c *Config) Upstream(name string) (Upstream, bool) {
	for _, u := range c.Upstreams {
		if u.Name == name {
			return u, true
		}
	}
	return Upstream{}, false
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Path returns the config file clearway reads: $CLEARWAY_CONFIG when set, else
// $XDG_CONFIG_HOME/clearway/config.yaml.
func Path() string {
	if p := os.Getenv("CLEARWAY_CONFIG"); p != "" {
		return p
	}
	return filepath.Join(xdg.ConfigHome, "clearway", "config.yaml")
}

// Load reads the file at path. When path is "" it reads Path(), and a missing
// file there means the embedded default; a missing file that was named
// explicitly (argument or CLEARWAY_CONFIG) is an error.
func Load(path string) (*Config, error) {
	explicit := path != "" || os.Getenv("CLEARWAY_CONFIG") != ""
	if path == "" {
		path = Path()
	}
	if !explicit {
		// The default folder is clearway's own: refuse it when another user
		// could have written the config (upstream URLs decide where keys go).
		if _, err := privdir.Check(filepath.Dir(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return Default(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Default returns the embedded default configuration.
func Default() *Config {
	c, err := Parse(defaultYAML, EmbeddedSource)
	if err != nil {
		panic("config: embedded default is invalid: " + err.Error())
	}
	return c
}

// Parse reads YAML config text. source names the file in error messages.
func Parse(data []byte, source string) (*Config, error) {
	wrap := func(err error) error { return fmt.Errorf("config %s: %w", source, err) }
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, wrap(errors.New(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	var fc fileConfig
	if len(root.Content) > 0 {
		if err := checkNode(&root, reflect.TypeFor[fileConfig](), ""); err != nil {
			return nil, wrap(err)
		}
		if err := root.Decode(&fc); err != nil {
			return nil, wrap(errors.New(strings.TrimPrefix(err.Error(), "yaml: ")))
		}
	}
	c, err := build(fc)
	if err != nil {
		return nil, wrap(err)
	}
	c.Source = source
	return c, nil
}

func build(fc fileConfig) (*Config, error) {
	c := &Config{
		Listen:         orString(fc.Listen, DefaultListen),
		ClientToken:    fc.ClientToken == nil || *fc.ClientToken,
		MaxBody:        int64(orSize(fc.MaxBody, DefaultMaxBody)),
		SaveDelay:      orDur(fc.SaveDelay, DefaultSaveDelay),
		LogLevel:       orString(fc.LogLevel, "info"),
		AllowedHosts:   fc.AllowedHosts,
		AllowedOrigins: fc.AllowedOrigin,
		AllowRemote:    fc.AllowRemote,
		MaxConnections: DefaultMaxConnections,
		Timeouts: Timeouts{
			Connect:        orDur(fc.Timeouts.Connect, DefaultConnect),
			TLSHandshake:   orDur(fc.Timeouts.TLSHandshake, DefaultTLSHandshake),
			ResponseHeader: orDur(fc.Timeouts.ResponseHeader, DefaultResponseHeader),
			IdleStream:     orDur(fc.Timeouts.IdleStream, DefaultIdleStream),
			Shutdown:       orDur(fc.Timeouts.Shutdown, DefaultShutdown),
			ReadHeader:     orDur(fc.Timeouts.ReadHeader, DefaultReadHeader),
			RequestBody:    orDur(fc.Timeouts.RequestBody, DefaultRequestBody),
		},
	}
	if fc.MaxConns != nil {
		if *fc.MaxConns < 0 {
			return nil, fmt.Errorf("max_connections: %d must not be negative (0 means no cap)", *fc.MaxConns)
		}
		c.MaxConnections = *fc.MaxConns
	}
	base := Retry{MaxRetries: DefaultMaxRetries, InitialDelay: DefaultInitialDelay, MaxDelay: DefaultMaxDelay, MaxRetryAfter: DefaultMaxRetryAfter}
	var err error
	if c.Retry, err = mergeRetry(base, fc.Retry, "retry"); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return nil, fmt.Errorf("listen: %q is not host:port (for example 127.0.0.1:8764)", c.Listen)
	}
	if err := checkExposure(c); err != nil {
		return nil, err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("log_level: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	if fc.MaxBody != nil && *fc.MaxBody <= 0 {
		return nil, errors.New("max_body: must be more than 0")
	}
	queueWait := orDur(fc.MaxQueueWait, DefaultMaxQueueWait)
	names := make([]string, 0, len(fc.Upstreams))
	for name := range fc.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u, err := buildUpstream(name, fc.Upstreams[name], c.Retry, queueWait)
		if err != nil {
			return nil, err
		}
		c.Upstreams = append(c.Upstreams, u)
	}
	if err := checkFallbacks(c.Upstreams); err != nil {
		return nil, err
	}
	if c.Shared, err = buildShared(fc.Shared); err != nil {
		return nil, err
	}
	if c.Usage, err = buildUsage(fc.Usage); err != nil {
		return nil, err
	}
	if c.Prices, err = buildPrices(fc.Prices); err != nil {
		return nil, err
	}
	return c, nil
}

// checkFallbacks makes sure every fallback names another configured upstream.
// Only the first upstream's fallbacks are followed (a fallback's own
// fallbacks are not), so a cycle cannot loop and is allowed.
func checkFallbacks(ups []Upstream) error {
	known := map[string]bool{}
	names := make([]string, 0, len(ups))
	for _, u := range ups {
		known[u.Name] = true
		names = append(names, u.Name)
	}
	for _, u := range ups {
		for i, f := range u.Fallbacks {
			p := fmt.Sprintf("upstreams.%s.fallbacks[%d]", u.Name, i)
			switch {
			case f == u.Name:
				return fmt.Errorf("%s: %q is the upstream itself", p, f)
			case !known[f]:
				return fmt.Errorf("%s: no upstream called %q (known: %s)", p, f, strings.Join(names, ", "))
			}
		}
	}
	return nil
}

func buildUpstream(name string, fu *fileUpstream, base Retry, queueWait time.Duration) (Upstream, error) {
	p := "upstreams." + name
	if strings.HasPrefix(name, "_") {
		return Upstream{}, fmt.Errorf("%s: upstream names cannot start with \"_\" (paths under /_clearway/ belong to the proxy)", p)
	}
	if !namePattern.MatchString(name) {
		return Upstream{}, fmt.Errorf("%s: upstream names use letters, digits, '.', '_' and '-' only", p)
	}
	if fu == nil {
		return Upstream{}, fmt.Errorf("%s: url is required", p)
	}
	if fu.URL == "" {
		return Upstream{}, fmt.Errorf("%s.url: is required", p)
	}
	target, err := url.Parse(fu.URL)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return Upstream{}, fmt.Errorf("%s.url: %q is not an http:// or https:// URL", p, fu.URL)
	}
	if target.User != nil {
		return Upstream{}, fmt.Errorf("%s.url: must not hold a user name or password (put secrets in the keychain and use key/auth_header or headers with ${key:NAME})", p)
	}
	if target.RawQuery != "" || target.Fragment != "" {
		return Upstream{}, fmt.Errorf("%s.url: %q must not have a query or fragment", p, fu.URL)
	}
	if err := checkTargetHost(p+".url", target); err != nil {
		return Upstream{}, err
	}
	u := Upstream{
		Name:              name,
		URL:               target,
		UserAgent:         fu.UserAgent,
		Headers:           map[string]string{},
		Key:               fu.Key,
		AuthHeader:        strings.ToLower(fu.AuthHeader),
		AllowInsecureHTTP: fu.Insecure,
	}
	for k, v := range fu.Headers {
		for _, m := range refPattern.FindAllStringSubmatch(v, -1) {
			if m[2] == "" {
				return Upstream{}, fmt.Errorf("%s.headers.%s: ${%s:} needs a name", p, k, m[1])
			}
		}
		if strings.Contains(strings.ReplaceAll(refPattern.ReplaceAllString(v, ""), "$$", ""), "${") {
			return Upstream{}, fmt.Errorf("%s.headers.%s: only ${key:NAME} and ${env:VAR} can be used in header values", p, k)
		}
		u.Headers[k] = v
	}
	if len(fu.Keys) > 0 {
		if fu.Key != "" {
			return Upstream{}, fmt.Errorf("%s.keys: set either key (one key) or keys (a pool), not both", p)
		}
		seenKey := map[string]bool{}
		for i, k := range fu.Keys {
			if k == "" {
				return Upstream{}, fmt.Errorf("%s.keys[%d]: empty key name", p, i)
			}
			if seenKey[k] {
				return Upstream{}, fmt.Errorf("%s.keys[%d]: %q is listed twice", p, i, k)
			}
			seenKey[k] = true
		}
		u.Keys = append([]string(nil), fu.Keys...)
		u.Key = u.Keys[0]
	} else if u.Key != "" {
		u.Keys = []string{u.Key}
	}
	if u.Key != "" && u.AuthHeader == "" {
		u.AuthHeader = "x-api-key"
	}
	seenFallback := map[string]bool{}
	for i, f := range fu.Fallbacks {
		if seenFallback[f] {
			return Upstream{}, fmt.Errorf("%s.fallbacks[%d]: %q is listed twice", p, i, f)
		}
		seenFallback[f] = true
	}
	u.Fallbacks = append([]string(nil), fu.Fallbacks...)
	if len(fu.ModelMap) > 0 {
		u.ModelMap = map[string]string{}
		for from, to := range fu.ModelMap {
			if from == "" || to == "" {
				return Upstream{}, fmt.Errorf("%s.model_map: %q: %q: both model names are needed", p, from, to)
			}
			u.ModelMap[from] = to
		}
	}
	// The breaker is on by default where it has somewhere to send requests
	// (fallbacks); without them it only turns the upstream's own answers
	// into 503s, so it is off unless breaker.failures is set.
	u.Breaker = Breaker{Cooldown: DefaultBreakerCooldown}
	if len(fu.Fallbacks) > 0 {
		u.Breaker.Failures = DefaultBreakerFailures
	}
	if b := fu.Breaker.Failures; b != nil {
		if *b < 0 || *b > 1000 {
			return Upstream{}, fmt.Errorf("%s.breaker.failures: %d is out of range 0-1000 (0 turns the breaker off)", p, *b)
		}
		u.Breaker.Failures = *b
	}
	u.Breaker.Cooldown = orDur(fu.Breaker.Cooldown, u.Breaker.Cooldown)
	if u.Breaker.Cooldown <= 0 {
		return Upstream{}, fmt.Errorf("%s.breaker.cooldown: must be more than 0", p)
	}
	switch u.AuthHeader {
	case "", "x-api-key", "authorization":
	default:
		return Upstream{}, fmt.Errorf("%s.auth_header: %q is not x-api-key or authorization", p, fu.AuthHeader)
	}
	if u.AuthHeader != "" && u.Key == "" {
		return Upstream{}, fmt.Errorf("%s.auth_header: set key too (the keychain entry to send in %s)", p, u.AuthHeader)
	}
	t := fu.Throttle
	u.Throttle = Throttle{MaxQueueWait: orDur(t.MaxQueueWait, queueWait)}
	if t.RequestsPerMinute != nil {
		if *t.RequestsPerMinute < 0 {
			return Upstream{}, fmt.Errorf("%s.throttle.requests_per_minute: must not be negative", p)
		}
		u.Throttle.RequestsPerMinute = *t.RequestsPerMinute
	}
	if t.MaxConcurrent != nil {
		if *t.MaxConcurrent < 0 {
			return Upstream{}, fmt.Errorf("%s.throttle.max_concurrent: must not be negative", p)
		}
		u.Throttle.MaxConcurrent = *t.MaxConcurrent
	}
	if t.TokensPerMinute != nil {
		if *t.TokensPerMinute < 0 {
			return Upstream{}, fmt.Errorf("%s.throttle.tokens_per_minute: must not be negative", p)
		}
		u.Throttle.TokensPerMinute = *t.TokensPerMinute
	}
	if t.Burst != nil {
		if *t.Burst < 1 {
			return Upstream{}, fmt.Errorf("%s.throttle.burst: must be at least 1", p)
		}
		u.Throttle.Burst = *t.Burst
	} else if u.Throttle.RequestsPerMinute > 0 {
		u.Throttle.Burst = 1
	}
	if u.Retry, err = mergeRetry(base, fu.Retry, p+".retry"); err != nil {
		return Upstream{}, err
	}
	if err := checkPlainHTTP(p, u); err != nil {
		return Upstream{}, err
	}
	return u, nil
}

func mergeRetry(base Retry, fr fileRetry, p string) (Retry, error) {
	r := base
	if fr.MaxRetries != nil {
		if *fr.MaxRetries < 0 || *fr.MaxRetries > 100 {
			return r, fmt.Errorf("%s.max_retries: %d is out of range 0-100", p, *fr.MaxRetries)
		}
		r.MaxRetries = *fr.MaxRetries
	}
	r.InitialDelay = orDur(fr.InitialDelay, r.InitialDelay)
	r.MaxDelay = orDur(fr.MaxDelay, r.MaxDelay)
	r.MaxRetryAfter = orDur(fr.MaxRetryAfter, r.MaxRetryAfter)
	switch fr.ClientRetries {
	case "":
	case "allow":
		r.ClientRetries = true
	case "never":
		r.ClientRetries = false
	default:
		return r, fmt.Errorf("%s.client_retries: %q is not allow or never", p, fr.ClientRetries)
	}
	if r.MaxDelay < r.InitialDelay {
		return r, fmt.Errorf("%s.max_delay: %s is less than initial_delay %s", p, r.MaxDelay, r.InitialDelay)
	}
	return r, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDur(d *Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.Std()
}

func orSize(b *ByteSize, def int64) ByteSize {
	if b == nil {
		return ByteSize(def)
	}
	return *b
}
