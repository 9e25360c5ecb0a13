package proxy

import (
	"sort"

	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
)

// CookieEntry is one cookie as `clearway cookies list` shows it (api.CookieEntry).
type CookieEntry = api.CookieEntry

// ListCookies lists the cookies of upstream ("" = every upstream in names).
func ListCookies(store *cookiejar.Store, names []string, upstream string, values bool) []CookieEntry {
	out := []CookieEntry{}
	for _, name := range names {
		if upstream != "" && name != upstream {
			continue
		}
		for _, rec := range store.Jar(name).Records() {
			e := CookieEntry{Upstream: name, Name: rec.Name, Domain: rec.Domain, Path: rec.Path, Secure: rec.Secure, HttpOnly: rec.HttpOnly}
			if !rec.Expires.IsZero() {
				t := rec.Expires
				e.Expires = &t
			}
			if values {
				e.Value = rec.Value
			}
			out = append(out, e)
		}
	}
	return out
}

// ClearCookies empties the jar of upstream ("" = all) and returns how many
// cookies went. The pinned User-Agent stays (store.Unpin forgets it).
func ClearCookies(store *cookiejar.Store, names []string, upstream string) int {
	n := 0
	for _, name := range names {
		if upstream == "" || name == upstream {
			n += store.Jar(name).Len()
		}
	}
	store.Clear(upstream)
	return n
}

// ImportCookies adds each record to the jar of every upstream whose host it
// domain-matches, and returns the count per upstream and the records that
// matched none.
func ImportCookies(store *cookiejar.Store, ups []config.Upstream, recs []cookiejar.Record) (map[string]int, int) {
	counts := map[string]int{}
	unmatched := 0
	for _, rec := range recs {
		matched := false
		for _, up := range ups {
			if cookiejar.MatchesHost(rec, up.URL.Hostname()) {
				store.Jar(up.Name).Add([]cookiejar.Record{rec})
				counts[up.Name]++
				matched = true
			}
		}
		if !matched {
			unmatched++
		}
	}
	return counts, unmatched
}

// ExportCookies returns every cookie of the named upstreams once (upstreams
// sharing a host share cookies), sorted by domain, path and name.
func ExportCookies(store *cookiejar.Store, names []string) []cookiejar.Record {
	seen := map[[3]string]bool{}
	var out []cookiejar.Record
	for _, name := range names {
		for _, rec := range store.Jar(name).Records() {
			k := [3]string{rec.Domain, rec.Path, rec.Name}
			if !seen[k] {
				seen[k] = true
				out = append(out, rec)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Name < b.Name
	})
	return out
}
