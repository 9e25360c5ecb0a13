package proxy

import (
	"errors"
	"sort"
	"sync"
	"time"
)

// KeySource is where the proxy reads API keys and the client token from: the
// OS keychain in production (proxy/keychain satisfies it). Get returns an error
// matching ErrKeyNotFound (errors.Is) when the name is not set. It must be safe
// for concurrent use.
type KeySource interface {
	Get(name string) (string, error)
}

// ErrKeyNotFound is what a KeySource's not-found error must match with errors.Is.
// proxy/keychain's ErrNotFound is wired to it by the caller through NotFound.
var ErrKeyNotFound = errors.New("key not found")

// keyCache holds the keys the upstreams need in memory, so no request waits on
// the keychain. Reload refreshes them; Safe for concurrent use.
type keyCache struct {
	src      KeySource
	notFound func(error) bool
	names    []string

	mu      sync.RWMutex
	vals    map[string]string
	errs    map[string]error // keychain errors other than not-found, per name
	loaded  time.Time
	loadErr error

	// onChange, when set before the first reload, is called after a reload
	// with the names whose value changed (set, replaced), without locks
	// held: a key pool forgives a refused key the user set again.
	onChange func(names []string)
}

func newKeyCache(src KeySource, notFound func(error) bool, names []string) *keyCache {
	sort.Strings(names)
	return &keyCache{src: src, notFound: notFound, names: names, vals: map[string]string{}, errs: map[string]error{}}
}

// reload reads every name from the source. It returns the first keychain error
// that is not a plain "not set" (e.g. locked, no Secret Service).
func (k *keyCache) reload(now time.Time) error {
	if k.src == nil {
		return nil
	}
	vals := map[string]string{}
	errs := map[string]error{}
	var first error
	for _, name := range k.names {
		v, err := k.src.Get(name)
		switch {
		case err == nil:
			vals[name] = v
		case errors.Is(err, ErrKeyNotFound) || (k.notFound != nil && k.notFound(err)):
		default:
			errs[name] = err
			if first == nil {
				first = err
			}
		}
	}
	k.mu.Lock()
	// Keep the last good value of a key the keychain could not answer for right
	// now (locked, gone): a transient keychain problem must not break requests.
	for name := range errs {
		if old, ok := k.vals[name]; ok {
			vals[name] = old
		}
	}
	var changed []string
	for name, v := range vals {
		if old, ok := k.vals[name]; !ok || old != v {
			changed = append(changed, name)
		}
	}
	k.vals, k.errs, k.loaded, k.loadErr = vals, errs, now, first
	k.mu.Unlock()
	if len(changed) > 0 && k.onChange != nil {
		sort.Strings(changed)
		k.onChange(changed)
	}
	return first
}

// get returns the key called name, ok=false when it is not set, and the
// keychain error when the keychain could not say.
func (k *keyCache) get(name string) (val string, ok bool, err error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	v, ok := k.vals[name]
	if ok {
		return v, true, nil
	}
	return "", false, k.errs[name]
}

// status lists, per name, whether it is set.
func (k *keyCache) status() map[string]bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make(map[string]bool, len(k.names))
	for _, n := range k.names {
		_, ok := k.vals[n]
		out[n] = ok
	}
	return out
}
