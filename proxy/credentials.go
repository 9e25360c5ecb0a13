package proxy

import (
	"context"
	"net/http"
	"strings"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/seam"
)

// singleKey is the default seam.Credentials: each upstream's one key from
// the key cache, put in its auth header (x-api-key, or Authorization as
// "Bearer <key>"), then its configured headers with ${key:NAME} expanded from
// the same cache (${env:VAR} was expanded when the server was built). Every
// attempt gets the same credential; Report ignores the outcome. Safe for
// concurrent use (read-only after newSingleKey; the cache locks itself).
type singleKey struct {
	keys *keyCache
	ups  map[string]upstreamKeys
}

// upstreamKeys is what singleKey needs of one upstream's config.
type upstreamKeys struct {
	key        string            // key name for the auth header ("" = none)
	authHeader string            // "x-api-key" or "authorization"
	headers    map[string]string // extra headers, ${env:...} resolved, ${key:...} kept
}

var _ seam.Credentials = (*singleKey)(nil)

func newSingleKey(keys *keyCache, ups []config.Upstream, headers map[string]map[string]string) *singleKey {
	k := &singleKey{keys: keys, ups: make(map[string]upstreamKeys, len(ups))}
	for _, up := range ups {
		k.ups[up.Name] = upstreamKeys{key: up.Key, authHeader: up.AuthHeader, headers: headers[up.Name]}
	}
	return k
}

// Credential returns the upstream's key headers. A key that is not set is a
// *seam.KeyError, except the auth key when the client brought its own key
// (client_token off): then the client's key goes through.
func (k *singleKey) Credential(_ context.Context, req seam.KeyRequest) (seam.Credential, error) {
	return k.build(req, k.ups[req.Upstream].key)
}

// build returns the credential that sends the key called keyName ("" for
// none) in the upstream's auth header, with the upstream's extra headers.
// A key pool calls it with the key it picked.
func (k *singleKey) build(req seam.KeyRequest, keyName string) (seam.Credential, error) {
	c := seam.Credential{Upstream: req.Upstream}
	u := k.ups[req.Upstream]
	if keyName == "" && len(u.headers) == 0 {
		return c, nil
	}
	c.Header = make(http.Header, 1+len(u.headers))
	if keyName != "" {
		key, ok, kerr := k.keys.get(keyName)
		switch {
		case ok && u.authHeader == "authorization":
			c.Header.Set("Authorization", "Bearer "+key)
			c.Name = keyName
		case ok:
			c.Header.Set("X-Api-Key", key)
			c.Name = keyName
		case req.ClientKey:
			// client_token: false and the client brought its own key: pass it on.
		default:
			return seam.Credential{}, &seam.KeyError{Upstream: req.Upstream, Key: keyName, Err: kerr}
		}
	}
	for name, val := range u.headers {
		if !strings.Contains(val, "${key:") {
			c.Header.Set(name, val)
			continue
		}
		var missing *seam.KeyError
		expanded := config.Expand(val, "key", func(kn string) string {
			v, ok, kerr := k.keys.get(kn)
			if !ok && missing == nil {
				missing = &seam.KeyError{Upstream: req.Upstream, Key: kn, Err: kerr}
			}
			return v
		})
		if missing != nil {
			return seam.Credential{}, missing
		}
		c.Header.Set(name, expanded)
	}
	return c, nil
}

// Report ignores the outcome: there is no other key to switch to.
func (k *singleKey) Report(seam.Credential, seam.Outcome) bool { return false }
