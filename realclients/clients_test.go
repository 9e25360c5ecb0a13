package realclients

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/clearway/clearway/internal/cfgate"
)

// rig is one clearway between the clients and a TLS test upstream.
type rig struct {
	sb    *sandbox
	api   *api
	gate  *cfgate.Gate // nil unless the upstream sits behind the Cloudflare-like gate
	up    *httptest.Server
	cw    *server
	front *front
}

// newRig starts a trusted TLS upstream (behind gate when it is not nil),
// clearway configured for it, and the counting front.
func newRig(t *testing.T, gate *cfgate.Gate) *rig {
	t.Helper()
	requireSuite(t)
	r := &rig{sb: newSandbox(t), api: &api{}, gate: gate}
	var h http.Handler = r.api
	if gate != nil {
		gate.Pass = r.api
		h = gate
	}
	r.up = httptest.NewUnstartedServer(h)
	r.up.Config.ErrorLog = quietLog()
	r.up.StartTLS()
	t.Cleanup(r.up.Close)
	r.sb.trust(r.up)
	r.sb.writeConfig(r.up.URL, r.up.URL)
	r.start()
	return r
}

// start (re)starts clearway and the front.
func (r *rig) start() {
	r.cw = r.sb.serve()
	r.front = newFront(r.sb.t, r.cw.addr)
}

// upstreamAttempts counts the requests the upstream got: at the gate when
// there is one, else at the API.
func (r *rig) upstreamAttempts() int64 {
	if r.gate != nil {
		return r.gate.Attempts.Load()
	}
	return r.api.attempts.Load()
}

// runClient runs c once with the right token and reports what happened.
func (r *rig) runClient(t *testing.T, c client, key clientKey) (res result, clientAttempts, upstreamAttempts int64) {
	t.Helper()
	r.front.reset()
	before := r.upstreamAttempts()
	res = run(t, c, r.front.srv.URL, key)
	clientAttempts, upstreamAttempts = r.front.attempts.Load(), r.upstreamAttempts()-before
	r.front.mu.Lock()
	paths, statuses, errs := r.front.paths, r.front.statuses, r.front.errs
	r.front.errs = nil
	r.front.mu.Unlock()
	if len(errs) > 0 {
		t.Logf("between the front and clearway: %q", errs)
	}
	t.Logf("%s: ok=%v client attempts=%d %v -> %v, upstream attempts=%d, took=%s, shown=%q", c, res.OK, clientAttempts, paths, statuses, upstreamAttempts, res.Took.Round(1e6), firstLine(res.Shown))
	return res, clientAttempts, upstreamAttempts
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

var goodKey = clientKey{value: token}

// wantText fails unless the client showed the streamed sentence exactly.
func wantText(t *testing.T, c client, res result) {
	t.Helper()
	if !res.OK || res.Text != sentence {
		t.Fatalf("%s: ok=%v text %q, want %q\n%s", c, res.OK, res.Text, sentence, res.Raw)
	}
}

// TestPlain: each client gets the streamed answer, one attempt everywhere.
func TestPlain(t *testing.T) {
	r := newRig(t, nil)
	for _, c := range allClients {
		t.Run(string(c), func(t *testing.T) {
			res, ca, ua := r.runClient(t, c, goodKey)
			wantText(t, c, res)
			if ca != 1 || ua != 1 {
				t.Errorf("client attempts %d, upstream attempts %d; want 1 and 1", ca, ua)
			}
		})
	}
}

// TestCloudflare: behind a Cloudflare-like gate, each client's first
// request takes 2 upstream attempts (the 2nd with cf_clearance) and the next
// one 1; the client itself makes 1 request each time.
func TestCloudflare(t *testing.T) {
	for _, c := range allClients {
		t.Run(string(c), func(t *testing.T) {
			r := newRig(t, &cfgate.Gate{})
			res, ca, ua := r.runClient(t, c, goodKey)
			wantText(t, c, res)
			if ca != 1 || ua != 2 || r.gate.WithCookie.Load() != 1 {
				t.Errorf("first request: client attempts %d, upstream attempts %d (%d with the clearance); want 1, 2 (1)", ca, ua, r.gate.WithCookie.Load())
			}
			res, ca, ua = r.runClient(t, c, goodKey)
			wantText(t, c, res)
			if ca != 1 || ua != 1 {
				t.Errorf("second request: client attempts %d, upstream attempts %d; want 1 and 1", ca, ua)
			}
		})
	}
}

// TestRetryAfter: the upstream answers its API's 429 with retry-after: 1
// once; clearway waits and retries, the client sees one answer, the text.
func TestRetryAfter(t *testing.T) {
	r := newRig(t, nil)
	for _, c := range allClients {
		t.Run(string(c), func(t *testing.T) {
			r.api.rateLimited.Store(1)
			res, ca, ua := r.runClient(t, c, goodKey)
			wantText(t, c, res)
			if ca != 1 || ua != 2 {
				t.Errorf("client attempts %d, upstream attempts %d; want 1 and 2", ca, ua)
			}
		})
	}
}

// errorCase is one answer clearway makes itself that no retry can fix.
type errorCase struct {
	name  string
	setup func(t *testing.T) *rig
	key   clientKey
	says  map[client][]string // what the client must show (all of it)
}

// TestErrorsShownAfterOneAttempt: a wrong token, a missing upstream key and
// an upstream whose certificate is not trusted: every client shows its user
// clearway's message after exactly 1 attempt, with its default retry
// settings (Claude Code would retry 10 times over ~3 minutes without
// x-should-retry: false).
func TestErrorsShownAfterOneAttempt(t *testing.T) {
	tokenFix := "to the output of `clearway token`"
	cases := []errorCase{
		{
			name:  "wrong token",
			setup: func(t *testing.T) *rig { return newRig(t, nil) },
			key:   clientKey{value: "not-the-token"},
			says: map[client][]string{
				claudeCode:   {"clearway: wrong client token", "ANTHROPIC_API_KEY", tokenFix},
				anthropicSDK: {"AuthenticationError", "clearway: wrong client token", "ANTHROPIC_API_KEY", tokenFix},
				openaiSDK:    {"AuthenticationError", "clearway: wrong client token", "OPENAI_API_KEY", tokenFix},
				continueCLI:  {"clearway: wrong client token", "ANTHROPIC_API_KEY", tokenFix},
			},
		},
		{
			name:  "wrong token in ANTHROPIC_AUTH_TOKEN",
			setup: func(t *testing.T) *rig { return newRig(t, nil) },
			key:   clientKey{value: "not-the-token", authToken: true},
			says: map[client][]string{
				claudeCode:   {"clearway: wrong client token", "ANTHROPIC_AUTH_TOKEN", tokenFix},
				anthropicSDK: {"AuthenticationError", "clearway: wrong client token", tokenFix},
			},
		},
		{
			name: "missing upstream key",
			setup: func(t *testing.T) *rig {
				r := newRig(t, nil)
				r.cw.stop(syscall.SIGTERM)
				delete(r.sb.env, "CLEARWAY_KEY_ANTHROPIC")
				delete(r.sb.env, "CLEARWAY_KEY_OPENAI")
				r.start()
				return r
			},
			key: goodKey,
			says: map[client][]string{
				claudeCode:   {"clearway: no API key \"anthropic\"", "CLEARWAY_KEY_ANTHROPIC"},
				anthropicSDK: {"AuthenticationError", "clearway: no API key", "CLEARWAY_KEY_ANTHROPIC"},
				openaiSDK:    {"AuthenticationError", "clearway: no API key \"openai\"", "CLEARWAY_KEY_OPENAI"},
				continueCLI:  {"clearway: no API key", "CLEARWAY_KEY_ANTHROPIC"},
			},
		},
		{
			name: "untrusted upstream certificate",
			setup: func(t *testing.T) *rig {
				r := newRig(t, nil)
				r.cw.stop(syscall.SIGTERM)
				bad := untrustedTLS(t, r.api)
				r.sb.writeConfig(bad.URL, bad.URL)
				r.start()
				return r
			},
			key: goodKey,
			says: map[client][]string{
				claudeCode:   {"clearway: upstream anthropic", "certificate"},
				anthropicSDK: {"clearway: upstream anthropic", "certificate"},
				openaiSDK:    {"clearway: upstream openai", "certificate"},
				continueCLI:  {"clearway: upstream anthropic", "certificate"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.setup(t)
			for _, c := range allClients {
				want, ok := tc.says[c]
				if !ok {
					continue
				}
				t.Run(string(c), func(t *testing.T) {
					res, ca, ua := r.runClient(t, c, tc.key)
					if res.OK {
						t.Fatalf("%s succeeded: %s", c, res.Raw)
					}
					for _, w := range want {
						if !strings.Contains(res.Shown, w) {
							t.Errorf("%s showed %q; want it to say %q", c, res.Shown, w)
						}
					}
					if ca != 1 || ua != 0 {
						t.Errorf("client attempts %d, upstream API requests %d; want 1 and 0", ca, ua)
					}
					r.front.mu.Lock()
					tries, retry := r.front.cwTries, r.front.retryHdr
					r.front.mu.Unlock()
					if tc.name == "untrusted upstream certificate" && (len(tries) == 0 || tries[len(tries)-1] != "1") {
						t.Errorf("clearway's upstream attempts %v, want 1", tries)
					}
					if len(retry) == 0 || retry[len(retry)-1] != "false" {
						t.Errorf("x-should-retry %v, want false", retry)
					}
					t.Logf("MEASURED %s / %s: %d attempt(s), %s", tc.name, c, ca, res.Took.Round(1e6))
				})
			}
		})
	}
}

// TestRateLimitStorm: the upstream answers 429 for longer than clearway's
// retries last; clearway passes the last 429 back marked final, so the
// upstream sees clearway's 3 attempts (max_retries 2) and no client retry on
// top of them.
func TestRateLimitStorm(t *testing.T) {
	r := newRig(t, nil)
	r.api.storm.Store(true)
	for _, c := range allClients {
		t.Run(string(c), func(t *testing.T) {
			res, ca, ua := r.runClient(t, c, goodKey)
			if res.OK {
				t.Fatalf("%s succeeded during the storm: %s", c, res.Raw)
			}
			if ca != 1 || ua != 3 {
				t.Errorf("client attempts %d, upstream attempts %d; want 1 and 3 (clearway's own)", ca, ua)
			}
			if !strings.Contains(strings.ToLower(res.Shown), "rate limit") {
				t.Errorf("%s showed %q; want the upstream's rate-limit message", c, res.Shown)
			}
			t.Logf("MEASURED 429 storm / %s: client %d attempt(s), upstream %d, %s", c, ca, ua, res.Took.Round(1e6))
		})
	}
}

// TestCookiesClearThenRestart: `clearway cookies clear` on the running
// instance keeps the pinned User-Agent, so the clearance earned next is
// saved with it; after a restart, a client with another User-Agent gets
// through at the first attempt (the pinned one is sent). `--unpin-ua` then
// lets the next client's User-Agent through and pins it.
func TestCookiesClearThenRestart(t *testing.T) {
	r := newRig(t, &cfgate.Gate{})
	res, _, ua := r.runClient(t, claudeCode, goodKey)
	wantText(t, claudeCode, res)
	if ua != 2 {
		t.Fatalf("first request: %d upstream attempts, want 2", ua)
	}
	out := r.sb.clearway("cookies", "clear", "anthropic")
	if !strings.Contains(out, "cleared 1 cookie") || !strings.Contains(out, "pinned User-Agent stays") {
		t.Errorf("cookies clear said: %s", out)
	}
	res, _, ua = r.runClient(t, anthropicSDK, goodKey)
	wantText(t, anthropicSDK, res)
	if ua != 2 {
		t.Errorf("after cookies clear: %d upstream attempts, want 2 (a new clearance)", ua)
	}
	r.cw.stop(syscall.SIGTERM)
	r.start()
	res, ca, ua := r.runClient(t, anthropicSDK, goodKey)
	wantText(t, anthropicSDK, res)
	if ca != 1 || ua != 1 {
		t.Fatalf("after the restart: client attempts %d, upstream attempts %d; want 1 and 1 (the saved clearance with its User-Agent)", ca, ua)
	}
	r.api.mu.Lock()
	uas := append([]string(nil), r.api.uas...)
	r.api.mu.Unlock()
	for _, u := range uas {
		if !strings.HasPrefix(u, "claude-cli/") {
			t.Errorf("the upstream saw User-Agent %q; want Claude Code's pinned one for every client", u)
		}
	}
	// --unpin-ua forgets the pin (and the cookies): the next client's own
	// User-Agent is sent and pinned, and a clearance is earned for it.
	out = r.sb.clearway("cookies", "clear", "--unpin-ua", "anthropic")
	if !strings.Contains(out, "forgot the pinned User-Agent") {
		t.Errorf("cookies clear --unpin-ua said: %s", out)
	}
	res, _, ua = r.runClient(t, anthropicSDK, goodKey)
	wantText(t, anthropicSDK, res)
	r.api.mu.Lock()
	last := r.api.uas[len(r.api.uas)-1]
	r.api.mu.Unlock()
	if ua != 2 || strings.HasPrefix(last, "claude-cli/") || last == "" {
		t.Errorf("after --unpin-ua: %d upstream attempts with User-Agent %q; want 2 with the SDK's own", ua, last)
	}
}

// TestZstdCloudflarePage: a Cloudflare 1015 page sent as 403 and
// zstd-encoded (Claude Code accepts zstd) is recognised and retried.
func TestZstdCloudflarePage(t *testing.T) {
	r := newRig(t, &cfgate.Gate{Status: 403, Encoding: "zstd"})
	res, ca, ua := r.runClient(t, claudeCode, goodKey)
	wantText(t, claudeCode, res)
	if ca != 1 || ua != 2 {
		t.Errorf("client attempts %d, upstream attempts %d; want 1 and 2", ca, ua)
	}
}
