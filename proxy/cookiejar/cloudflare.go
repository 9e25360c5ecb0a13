package cookiejar

import (
	"slices"
	"time"
)

// ShortLivedCloudflare names the Cloudflare cookies that are bound to the
// client's IP, User-Agent and TLS fingerprint for a short time: __cf_bm (bot
// management, 30 minutes), _cfuvid (rate limiting) and __cflb (load
// balancing). Replayed after the network changed, a stale __cf_bm gets a
// silent, empty 403/404 (icebear0828/codex-proxy PR#583). cf_clearance is
// NOT among them: it is the one worth keeping (a solved challenge).
var ShortLivedCloudflare = []string{"__cf_bm", "_cfuvid", "__cflb"}

// CloudflareBotCookie is the cookie whose presence in a refused request makes
// the proxy suspect a stealth deny.
const CloudflareBotCookie = "__cf_bm"

// DropShortLivedCloudflare removes the jar's short-lived Cloudflare cookies
// (ShortLivedCloudflare), keeping every other cookie (cf_clearance above
// all), and returns the names it dropped, sorted and without duplicates.
// A Store's jar schedules a save when something was dropped.
func (j *Jar) DropShortLivedCloudflare() []string {
	return j.dropCloudflare(time.Time{})
}

// DropStaleCloudflare removes the short-lived Cloudflare cookies created
// before cutoff (see Record.Created: when the jar first stored that name) and
// returns the names it dropped. The proxy calls it at start with a cutoff 30
// minutes back: by then a __cf_bm was earned by another process, maybe on
// another network.
func (j *Jar) DropStaleCloudflare(cutoff time.Time) []string {
	if cutoff.IsZero() {
		return nil
	}
	return j.dropCloudflare(cutoff)
}

// dropCloudflare drops the short-lived Cloudflare cookies, all of them with a
// zero cutoff, else those created before it.
func (j *Jar) dropCloudflare(cutoff time.Time) []string {
	var names []string
	j.mu.Lock()
	for _, r := range j.recs {
		if !slices.Contains(ShortLivedCloudflare, r.Name) {
			continue
		}
		if !cutoff.IsZero() && !r.Created.Before(cutoff) {
			continue
		}
		j.dropLocked(r)
		names = append(names, r.Name)
	}
	j.mu.Unlock()
	if len(names) == 0 {
		return nil
	}
	j.changed()
	slices.Sort(names)
	return slices.Compact(names)
}
