package config

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Defaults of the shared: block.
const (
	DefaultSharedLease   = 15 * time.Second      // a concurrency slot outlives a vanished holder by at most this
	DefaultSharedTimeout = 45 * time.Millisecond // one Redis call on a request's path
)

// Shared puts the throttles of every clearway of a team on one Redis: one
// request and token budget, one concurrency semaphore and one pause per
// upstream across all instances of Namespace. The zero value (Redis "")
// means each instance limits itself alone.
type Shared struct {
	// Redis is redis://[:PASSWORD@]HOST:PORT/DB or rediss://... (TLS). The
	// password may be written ${key:NAME} to take it from the keychain. It
	// is a secret: show it only through Redacted.
	Redis     string
	Namespace string        // the team's name; instances of one namespace share their limits
	Lease     time.Duration // concurrency lease, renewed while a request runs
	Timeout   time.Duration // longest one Redis call may hold a request before the local limits take over
}

// Enabled reports whether limits are shared.
func (s Shared) Enabled() bool { return s.Redis != "" }

// Redacted is Redis with its password hidden, for logs and status.
func (s Shared) Redacted() string {
	u, err := url.Parse(Expand(s.Redis, "key", func(string) string { return "x" }))
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

type fileShared struct {
	Redis     string    `yaml:"redis"`
	Namespace string    `yaml:"namespace"`
	Lease     *Duration `yaml:"lease"`
	Timeout   *Duration `yaml:"timeout"`
}

func buildShared(fs *fileShared) (Shared, error) {
	if fs == nil {
		return Shared{}, nil
	}
	s := Shared{
		Redis:     fs.Redis,
		Namespace: fs.Namespace,
		Lease:     orDur(fs.Lease, DefaultSharedLease),
		Timeout:   orDur(fs.Timeout, DefaultSharedTimeout),
	}
	if s.Redis == "" {
		return Shared{}, errors.New("shared.redis: is required (redis://host:6379/0 or rediss://... for TLS)")
	}
	u, err := url.Parse(Expand(s.Redis, "key", func(string) string { return "x" }))
	switch {
	case err != nil:
		return Shared{}, errors.New("shared.redis: not a URL (want redis://[:PASSWORD@]HOST:PORT/DB or rediss://...)")
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return Shared{}, fmt.Errorf("shared.redis: scheme %q is not redis:// or rediss://", u.Scheme)
	case u.Hostname() == "":
		return Shared{}, errors.New("shared.redis: the URL has no host")
	case u.RawQuery != "" || u.Fragment != "":
		return Shared{}, errors.New("shared.redis: the URL must not have a query or fragment")
	}
	if refs := RefNames(s.Redis, "key"); len(refs) > 0 {
		pw, _ := u.User.Password()
		if len(refs) > 1 || pw != "x" || refs[0] == "" {
			return Shared{}, errors.New("shared.redis: ${key:NAME} can only stand for the whole password, as in rediss://:${key:redis}@host:6379/0")
		}
	}
	if !namePattern.MatchString(s.Namespace) {
		return Shared{}, errors.New("shared.namespace: is required: the team's name (letters, digits, '.', '_' and '-'), the same in every member's config")
	}
	if s.Lease < time.Second {
		return Shared{}, fmt.Errorf("shared.lease: %s is less than 1s", s.Lease)
	}
	if s.Timeout <= 0 || s.Timeout > 10*time.Second {
		return Shared{}, fmt.Errorf("shared.timeout: %s is not between 1ms and 10s", s.Timeout)
	}
	return s, nil
}

// KeyName returns the keychain entry named by a ${key:NAME} password, or "".
func (s Shared) KeyName() string {
	if names := RefNames(s.Redis, "key"); len(names) > 0 {
		return names[0]
	}
	return ""
}
