package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clearway/clearway/proxy/breaker"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/modelmap"
	"github.com/clearway/clearway/proxy/retry"
	"github.com/clearway/clearway/proxy/seam"
)

// errIdleStream cancels an upstream request whose body went silent too long.
var errIdleStream = errors.New("upstream sent nothing for longer than timeouts.idle_stream")

// forward sends one client request to sess's upstream, retrying as the policy
// says, and streams the final answer back. When the upstream finally fails
// before a byte went to the client (or its circuit breaker is open), the
// same body is replayed to each of its fallbacks in turn (see tryUpstream).
func (s *Server) forward(w http.ResponseWriter, r *http.Request, sess *session, rest string) {
	// One usage record per request, whatever way it ends.
	rw := &recordWriter{ResponseWriter: w, start: time.Now(), upstream: sess.up.Name, requested: sess.up.Name, dialect: sess.dialect}
	w = rw
	defer func() {
		if p := recover(); p != nil {
			s.finishRecord(rw, r, true)
			panic(p)
		}
		s.finishRecord(rw, r, false)
	}()
	// Full duplex: without it a Go server may close the request body once the
	// response starts, and proxies drop streams under load (golang/go#40747).
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex()

	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)

	tokenRequired := s.guard.tokenRequired()
	if tokenRequired && !s.guard.tokenOK(r.Header) {
		writeError(w, r, http.StatusUnauthorized, errAuthentication, tokenMessage(w, r))
		return
	}
	header := outboundHeader(r.Header)
	if tokenRequired {
		header.Del("X-Api-Key")
		header.Del("Authorization")
	}
	req := &clientRequest{r: r, rc: rc, rest: rest, header: header, clientKey: !tokenRequired && clientToken(r.Header) != ""}
	if s.tryChain(w, req, sess) {
		s.copyAnswer(w, rc, &req.answer)
	}
}

// tryChain tries sess and then its fallbacks until one answers the client.
// It returns true when that answer is a final upstream answer, in
// req.answer, still to be copied. It is a function of its own so that its
// frame is gone while the answer is copied (see pending).
//
//go:noinline
func (s *Server) tryChain(w http.ResponseWriter, req *clientRequest, sess *session) bool {
	chain := s.chain(sess)
	for i, cur := range chain {
		h := hop{index: i, last: i == len(chain)-1, primary: sess}
		if i > 0 {
			h.why = strings.Join(req.failures, "; ")
		}
		why, done := s.tryUpstream(w, req, cur, h)
		if done {
			return req.answer.resp != nil
		}
		req.failures = append(req.failures, cur.up.Name+": "+why)
		s.log.Warn("upstream failed before answering the client; trying its fallback",
			"upstream", cur.up.Name, "why", why, "fallback", chain[i+1].up.Name, "primary", sess.up.Name)
	}
	return false
}

// clientRequest is what every upstream of a fallback chain needs of the
// client's request. The body is read once, when the first upstream is about
// to be tried, and replayed byte for byte to every attempt and fallback.
type clientRequest struct {
	r         *http.Request
	rc        *http.ResponseController
	rest      string      // the escaped path after /<upstream>
	header    http.Header // the client's headers to send (client token removed)
	clientKey bool        // client_token is off and the client sent its own key
	body      []byte
	bodyRead  bool
	failures  []string // "name: why" of the upstreams that failed so far
	answer    pending  // the final answer to copy, once tryUpstream returned it
}

// pending is a final upstream answer that tryUpstream chose for the client
// and forward copies (copyAnswer) after tryChain, tryUpstream and roundTrip
// returned: an open stream then waits for its next event in a shallow stack
// (forward, copyAnswer, copyBody), not under the attempt loop's frames. hold
// is what the upstream keeps (its limiter slot, breaker and in-flight
// count) until the answer is copied.
//
// The stack budget: a goroutine starts small and doubles its stack when a
// call needs more, and an open stream keeps what it grew to. A request's
// goroutine stays in 8 KiB (the stock ReverseProxy's size) only if no call
// goes deeper than about 7.2 KiB (8 KiB less the runtime's guard). Its two
// deepest points are the wait in net/http's transport under roundTrip
// (about 6.7 KiB with net/http's 1.3 KiB below ServeHTTP and its 2.6 KiB of
// client frames) and the head's write under copyAnswer (net/http's
// chunkWriter.writeHeader alone takes 2.8 KiB). So ServeHTTP, forward,
// tryChain, tryUpstream and roundTrip keep cold paths (logs with many
// attributes, events, error answers) in go:noinline helpers. When a change
// pushes past the budget, BenchmarkOpenStreams's stack-B/stream grows by
// about 8 KiB.
type pending struct {
	sess    *session
	resp    *http.Response
	peeked  []byte
	attempt int
	cancel  context.CancelCauseFunc
	hold    upstreamHold
}

// upstreamHold is what one request holds of an upstream from tryUpstream on
// until its answer has been copied: end releases it.
type upstreamHold struct {
	st          *upstreamStats
	breakerDone func(breaker.Outcome)
	outcome     breaker.Outcome
	release     func() // the limiter's slot; nil before it was acquired
}

// end gives back the limiter's slot, tells the breaker the outcome and
// leaves the upstream's in-flight count, in that order.
func (h *upstreamHold) end() {
	if h.release != nil {
		h.release()
	}
	h.breakerDone(h.outcome)
	h.st.inFlight.Add(-1)
}

// hop is an upstream's place in the fallback chain of one request.
type hop struct {
	index   int      // 0 for the upstream the client named
	last    bool     // nothing follows: a failure is answered to the client
	primary *session // the upstream the client named
	why     string   // why the earlier upstreams failed (index > 0)
}

// chain returns sess followed by the sessions of its fallbacks.
func (s *Server) chain(sess *session) []*session {
	if len(sess.up.Fallbacks) == 0 {
		return []*session{sess}
	}
	out := make([]*session, 0, 1+len(sess.up.Fallbacks))
	out = append(out, sess)
	for _, f := range sess.up.Fallbacks {
		if fs := s.sessions[f]; fs != nil {
			out = append(out, fs)
		}
	}
	return out
}

// tryUpstream sends the request to one upstream of the chain: its breaker,
// its credential, the client body (model_map applied on a fallback), its
// throttle, then the attempts. done is true when the client got an answer
// (or left); false, with why, when this upstream failed before a byte was
// written and h is not the last hop.
func (s *Server) tryUpstream(w http.ResponseWriter, req *clientRequest, sess *session, h hop) (why string, done bool) {
	r := req.r
	up := &sess.up // not a copy: the frame stays small
	breakerDone, retryAfter, allowed := sess.breaker.Allow()
	if !allowed {
		if !h.last {
			return "circuit open", false
		}
		writeCircuitOpen(w, r, sess, retryAfter)
		return "", true
	}
	// Only requests that may reach the upstream count as its traffic.
	st := &sess.stats
	st.requests.Add(1)
	st.inFlight.Add(1)
	hold := upstreamHold{st: st, breakerDone: breakerDone, outcome: breaker.Ignore}
	handed := false // hold went to req.answer: copyAnswer ends it
	defer func() {
		if !handed {
			hold.end()
		}
	}()

	cred, err := s.creds.Credential(r.Context(), seam.KeyRequest{Upstream: up.Name, Attempt: 1, ClientKey: req.clientKey, NoWait: !h.last})
	if err != nil {
		if r.Context().Err() != nil {
			return "", true
		}
		if !h.last {
			return s.credentialFailure(sess, err), false
		}
		s.credentialError(w, r, sess, 1, err)
		return "", true
	}

	if !req.bodyRead {
		body, ok := s.readBody(w, r)
		if !ok {
			return "", true
		}
		req.body, req.bodyRead = body, true
		noteBody(w, body)
	}
	body := req.body
	if h.index > 0 {
		body = s.fallbackBody(up.Name, up.ModelMap, body)
	}

	release, err := s.limiter.Acquire(r.Context(), up.Name)
	if err != nil {
		return s.limiterRefused(w, r, up.Name, h.last, err)
	}
	hold.release = release
	if s.pools.pausedByTeam(up.Name, cred.Name) {
		// Acquire has just read the team's pauses: the key chosen above
		// rests. Choose again now that the pool knows (on an error the
		// first choice goes, and the upstream decides).
		if c, err := s.creds.Credential(r.Context(), seam.KeyRequest{Upstream: up.Name, Attempt: 1, ClientKey: req.clientKey, NoWait: true}); err == nil {
			cred = c
		}
	}

	header := req.header
	if h.index > 0 {
		header = cloneHeader(header) // each upstream sends its own User-Agent
	}
	header.Set("User-Agent", sess.userAgent(r.Header.Get("User-Agent")))
	res := s.roundTrip(w, r, req.rc, sess, upstreamURL(up.URL, req.rest, r.URL.RawQuery), header, body, cred, req.clientKey, h)
	hold.outcome = res.outcome
	if res.resp != nil {
		a := &req.answer
		a.sess, a.resp, a.peeked, a.attempt, a.cancel, a.hold = sess, res.resp, res.peeked, res.attempt, res.cancel, hold
		handed = true
		// No fallback needs the body or the headers any more: let go of
		// them while the answer is copied (see replaySource).
		req.body, req.header = nil, nil
		releaseBody(w)
	}
	return res.why, res.done
}

// The helpers below are kept out of tryUpstream (go:noinline) so that its
// frame, which is on the stack while the attempt waits for the upstream,
// stays small: a request's goroutine stack then fits a smaller size class
// (see pending).

// fallbackBody is body with the fallback's model_map applied.
//
//go:noinline
func (s *Server) fallbackBody(upstream string, modelMap map[string]string, body []byte) []byte {
	if mapped, from, to, changed := modelmap.Rewrite(body, modelMap); changed {
		s.log.Info("model_map rewrote the model for the fallback", "upstream", upstream, "from", clientValue(from), "to", clientValue(to))
		return mapped
	}
	return body
}

// limiterRefused handles a limiter that did not let the request go to the
// upstream: done false (with why) when a fallback may take it, else the
// client's answer is written (or the client left while queued).
//
//go:noinline
func (s *Server) limiterRefused(w http.ResponseWriter, r *http.Request, upstream string, last bool, err error) (why string, done bool) {
	var refused *seam.Refused
	switch {
	case errors.As(err, &refused):
		s.log.Warn("local throttle full", "upstream", upstream, "reason", refused.Reason, "retry_after", refused.RetryAfter)
		s.bus.Publish(events.Event{Kind: events.Throttled, Upstream: upstream, Status: http.StatusTooManyRequests, Reason: refused.Reason})
		if !last {
			return "local throttle: " + refused.Reason, false
		}
		writeThrottled(w, r, upstream, refused.RetryAfter)
	case r.Context().Err() != nil:
		// the client left while queued
	default:
		s.log.Warn("limiter failed", "upstream", upstream, "err", err)
		if !last {
			return "limiter failed", false
		}
		writeError(w, r, http.StatusServiceUnavailable, errUnavailable, "the limiter for upstream "+strconv.Quote(upstream)+" failed: "+err.Error())
	}
	return "", true
}

// cloneHeader is h.Clone() out of line: inlined, the clone's map can be
// kept in the caller's frame.
//
//go:noinline
func cloneHeader(h http.Header) http.Header { return h.Clone() }

// upstreamURL is the upstream's URL for the escaped rest of the client's
// path and its query.
//
//go:noinline
func upstreamURL(base *url.URL, rest, rawQuery string) string {
	target := *base
	target.Path = strings.TrimSuffix(base.Path, "/") + pathOf(rest)
	target.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + rest
	if target.RawPath == target.Path {
		target.RawPath = ""
	}
	target.RawQuery = rawQuery
	return target.String()
}

// credentialFailure is a short reason for a credential error when the
// request goes to a fallback instead, for the log and the fallback's event.
// A missing key or a failing keychain is still published (key_missing,
// keychain_error), so the user hears of it although a fallback answered.
func (s *Server) credentialFailure(sess *session, err error) string {
	var refused *seam.Refused
	var ke *seam.KeyError
	switch {
	case errors.As(err, &refused):
		return refused.Reason + " for " + refused.RetryAfter.Round(time.Second).String()
	case errors.As(err, &ke):
		if ke.Err != nil {
			s.log.Warn("keychain could not give a key", "upstream", sess.up.Name, "key", ke.Key, "err", ke.Err)
			s.bus.Publish(events.Event{Kind: events.KeychainError, Upstream: sess.up.Name, Key: ke.Key, Err: ke.Err.Error()})
		} else {
			s.log.Warn("API key not set", "upstream", sess.up.Name, "key", ke.Key)
			s.bus.Publish(events.Event{Kind: events.KeyMissing, Upstream: sess.up.Name, Key: ke.Key})
		}
		return "key " + strconv.Quote(ke.Key) + " not available"
	case errors.Is(err, seam.ErrKeysRefused):
		return "every key refused"
	}
	return "no credential"
}

func pathOf(escapedRest string) string {
	p, err := unescapePath(escapedRest)
	if err != nil {
		return escapedRest
	}
	return p
}

// credentialError answers the client when the Credentials gave no
// credential for an attempt (see seam.Credentials.Credential).
func (s *Server) credentialError(w http.ResponseWriter, r *http.Request, sess *session, attempt int, err error) {
	var ke *seam.KeyError
	var refused *seam.Refused
	switch {
	case errors.As(err, &ke):
		s.keyProblem(w, r, sess.up.Name, ke.Key, ke.Err)
	case errors.As(err, &refused):
		s.log.Warn("every key of the upstream is rate limited until its reset; answering 429 without sending", "upstream", sess.up.Name, "retry_after", refused.RetryAfter)
		writeKeysCooling(w, r, sess.up.Name, refused.RetryAfter)
	case errors.Is(err, seam.ErrKeysRefused):
		s.log.Warn("the upstream refused every key", "upstream", sess.up.Name, "err", err)
		writeError(w, r, http.StatusUnauthorized, errAuthentication, err.Error()+"; set a working key with `clearway keys set NAME`")
	default:
		s.log.Warn("no credential for the upstream", "upstream", sess.up.Name, "attempt", attempt, "err", err)
		writeError(w, r, http.StatusServiceUnavailable, errUnavailable, "no credential for upstream "+strconv.Quote(sess.up.Name)+": "+err.Error())
	}
}

// report tells the Credentials how the upstream answered an attempt, and the
// Limiter when the upstream asked to wait. It returns true when the
// Credentials want the request retried with another key. a is the answer as
// roundTrip read it (the zero answer for a transport error).
func (s *Server) report(sess *session, cred seam.Credential, a *answer, err error, v retry.Verdict) bool {
	if a.status >= 400 && v.HasAfter {
		s.limiter.Pause(sess.up.Name, cred.Name, s.clock.Now().Add(v.After))
	}
	o := seam.Outcome{
		Status: a.status, Header: a.header, Err: err,
		Retry: v.Retry, After: v.After, HasAfter: v.HasAfter, Reason: v.Reason,
		Body: a.decoded, Key: a.key, KeyWhy: a.keyWhy, Rates: a.rates,
	}
	return s.creds.Report(cred, o)
}

// noAnswer is the answer of an attempt that got none (read only).
var noAnswer answer

// answer is one attempt's answer as roundTrip reads it once for every rule
// that asks about it (stealth deny, the retry verdict, the credentials'
// report, a key refusal before a fallback, the status headroom and the usage
// record): the body decoded once, the key classified once, the rate-limit
// headers read once. The zero value is "no answer" (a transport error).
type answer struct {
	status  int
	header  http.Header
	decoded []byte // the decoded start of an error answer's body (nil for status < 400)
	key     retry.KeyProblem
	keyWhy  string
	rates   retry.Rates
}

// readAnswer reads resp (and peeked, the raw start of its body when
// retry.NeedsBody) into an answer. now measures the rates' duration resets.
func readAnswer(resp *http.Response, peeked []byte, now time.Time) answer {
	a := answer{status: resp.StatusCode, header: resp.Header, rates: retry.ReadRates(resp.Header, now)}
	if a.status >= 400 {
		if len(peeked) > 0 {
			a.decoded = retry.DecodeBody(resp.Header.Get("Content-Encoding"), peeked)
		}
		a.key, a.keyWhy = retry.ClassifyKey(a.status, resp.Header, a.decoded)
	}
	return a
}

func (s *Server) keyProblem(w http.ResponseWriter, r *http.Request, upstream, key string, kerr error) {
	if kerr != nil {
		s.log.Warn("keychain could not give a key", "upstream", upstream, "key", key, "err", kerr)
		s.bus.Publish(events.Event{Kind: events.KeychainError, Upstream: upstream, Key: key, Err: kerr.Error()})
		writeError(w, r, http.StatusServiceUnavailable, errUnavailable,
			"the keychain could not give key "+strconv.Quote(key)+" for upstream "+strconv.Quote(upstream)+": "+kerr.Error())
		return
	}
	s.log.Warn("API key not set", "upstream", upstream, "key", key)
	s.bus.Publish(events.Event{Kind: events.KeyMissing, Upstream: upstream, Key: key})
	writeError(w, r, http.StatusUnauthorized, errAuthentication,
		"no API key "+strconv.Quote(key)+" for upstream "+strconv.Quote(upstream)+": "+s.missing(key))
}

// readBody buffers the request body (up to Config.MaxBody) so that every
// attempt sends it byte for byte.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := s.cfg.MaxBody
	if r.ContentLength > limit {
		discardBody(w, r)
		writeError(w, r, http.StatusRequestEntityTooLarge, errTooLarge, "request body of "+strconv.FormatInt(r.ContentLength, 10)+" bytes is over max_body ("+strconv.FormatInt(limit, 10)+" bytes)")
		return nil, false
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true
	}
	rc := http.NewResponseController(w)
	if d := s.cfg.Timeouts.RequestBody; d > 0 {
		// A client that opens a request and then sends its body slowly or
		// not at all would otherwise hold its connection (and the memory of
		// its buffer) for ever.
		_ = rc.SetReadDeadline(time.Now().Add(d))
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	body, err := readRequestBody(r.Body, r.ContentLength, limit)
	if int64(len(body)) > limit {
		discardBody(w, r)
		writeError(w, r, http.StatusRequestEntityTooLarge, errTooLarge, "request body is over max_body ("+strconv.FormatInt(limit, 10)+" bytes)")
		return nil, false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
		writeError(w, r, http.StatusRequestTimeout, errTimeout, "the request body did not arrive within timeouts.request_body ("+s.cfg.Timeouts.RequestBody.String()+")")
		return nil, false
	}
	if err != nil {
		if r.Context().Err() == nil {
			writeError(w, r, http.StatusBadRequest, errInvalidRequest, "could not read the request body: "+err.Error())
		}
		return nil, false
	}
	return body, true
}

// exactBodyMax is the largest declared Content-Length whose buffer
// readRequestBody makes at once, before a byte arrived.
const exactBodyMax = 1 << 20

// readRequestBody reads a request body of declared length size (-1:
// unknown), at most limit+1 bytes. A declared length up to exactBodyMax is
// read into one buffer of exactly that size: bytes.Buffer's ReadFrom keeps
// 512 bytes free for the read that finds the end, so a buffer of the body's
// size would be doubled (a 128 KiB body held 256 KiB, a 512-byte one 1.5
// KiB) for as long as the request is kept.
func readRequestBody(body io.Reader, size, limit int64) ([]byte, error) {
	if size >= 0 && size <= min(limit, exactBodyMax) {
		b := make([]byte, size)
		n, err := io.ReadFull(body, b)
		return b[:n], err
	}
	capacity := int64(4096)
	if size > 0 {
		capacity = min(size, exactBodyMax) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, capacity))
	_, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	return buf.Bytes(), err
}

// discardBody reads (a bounded amount of) what is left of a refused request's
// body and marks the connection for closing, so the client reads our answer
// instead of a connection reset while it is still sending.
func discardBody(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDiscard))
	w.Header().Set("Connection", "close")
}

// maxDiscard bounds how much of a refused body is read and thrown away.
const maxDiscard = 4 << 20

// tripResult is how the attempts to one upstream ended.
type tripResult struct {
	done    bool            // the client got an answer (or left)
	why     string          // !done: why the upstream failed, for the next hop
	outcome breaker.Outcome // what the upstream's breaker counts

	// The final answer, when there is one for the client: its body is still
	// to be copied (by copyAnswer), and cancel ends the attempt after that.
	resp    *http.Response
	peeked  []byte
	attempt int
	cancel  context.CancelCauseFunc
}

// roundTrip runs the attempts to one upstream and returns the final answer
// for the caller to copy (tripResult.resp), or writes clearway's own answer,
// except when the upstream finally failed before a byte went to the client
// and h is not the last hop: then nothing is written and the caller tries
// the next upstream.
func (s *Server) roundTrip(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, sess *session, target string, header http.Header, body []byte, cred seam.Credential, clientKey bool, h hop) tripResult {
	ctx := r.Context()
	maxAttempts := sess.policy.MaxRetries + 1
	start := time.Now()
	stealthRetried := false
	var src *replaySource
	if len(body) > 0 {
		src = newReplay(body)
	}
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			var err error
			cred, err = s.creds.Credential(ctx, seam.KeyRequest{Upstream: sess.up.Name, Attempt: attempt, ClientKey: clientKey, NoWait: !h.last})
			if err != nil {
				if ctx.Err() != nil {
					return tripResult{done: true, outcome: breaker.Ignore}
				}
				if !h.last {
					return tripResult{why: s.credentialFailure(sess, err), outcome: breaker.Ignore}
				}
				s.credentialError(w, r, sess, attempt, err)
				return tripResult{done: true, outcome: breaker.Ignore}
			}
		}
		noteAttempt(w, sess, cred)
		actx, cancel := context.WithCancelCause(ctx)
		req, err := newAttempt(actx, r.Method, target, header, cred.Header, body, src)
		if err != nil {
			cancel(nil)
			writeError(w, r, http.StatusBadRequest, errInvalidRequest, "bad request for upstream: "+err.Error())
			return tripResult{done: true, outcome: breaker.Ignore}
		}
		resp, err := sess.send(req)
		if err != nil {
			cancel(nil)
			v := sess.policy.ClassifyError(err)
			noteOutcome(w, 0, v.Reason)
			if v.Canceled {
				s.clientLeft(sess, attempt)
				return tripResult{done: true, outcome: breaker.Ignore}
			}
			switchKey := s.report(sess, cred, &noAnswer, err, v)
			if (v.Retry || switchKey) && attempt < maxAttempts {
				if !s.waitRetry(ctx, w, sess, attempt, maxAttempts, 0, v, switchKey) {
					return tripResult{done: true, outcome: breaker.Ignore}
				}
				continue
			}
			if !h.last {
				s.failedOver(sess, attempt, 0, errorText(err))
				return tripResult{why: "unreachable: " + v.Reason, outcome: breaker.Failure}
			}
			s.giveUpOnError(w, r, sess, attempt, err, v)
			return tripResult{done: true, outcome: breaker.Failure}
		}

		var peeked []byte
		if retry.NeedsBody(resp.StatusCode, resp.Header) {
			peeked = s.peekBody(resp.Body, cancel)
		}
		now := time.Now()
		a := readAnswer(resp, peeked, now)
		if !stealthRetried && s.stealthDenied(sess, resp, a.decoded) {
			// One extra attempt without the stale cookies; it does not
			// count against max_retries.
			stealthRetried = true
			noteOutcome(w, resp.StatusCode, "cloudflare stealth deny: stale short-lived cookies dropped")
			maxAttempts++
			drain(resp.Body)
			cancel(nil)
			continue
		}
		sess.stats.noteHeadroom(a.rates.Limits)
		v := sess.policy.ClassifyAnswer(resp.StatusCode, resp.Header, a.decoded, a.rates, now)
		noteOutcome(w, resp.StatusCode, v.Reason)
		switchKey := s.report(sess, cred, &a, nil, v)
		if (v.Retry || switchKey) && attempt < maxAttempts {
			drain(resp.Body)
			cancel(nil)
			if !s.waitRetry(ctx, w, sess, attempt, maxAttempts, resp.StatusCode, v, switchKey) {
				return tripResult{done: true, outcome: breaker.Ignore}
			}
			continue
		}
		failed := finalFailure(resp.StatusCode, v)
		outcome := breaker.Success
		if failed {
			outcome = breaker.Failure
		}
		if !h.last && (failed || a.key == retry.KeyInvalid || a.key == retry.KeyNoCredit) {
			// Nothing has gone to the client yet: the next upstream gets the
			// request instead.
			drain(resp.Body)
			cancel(nil)
			s.failedOver(sess, attempt, resp.StatusCode, v.Reason)
			return tripResult{why: v.Reason, outcome: outcome}
		}
		s.settle(sess, attempt, maxAttempts, resp.StatusCode, v, start)
		if h.index > 0 {
			s.answeredByFallback(sess, &h, resp.StatusCode)
		}
		if resp.StatusCode >= 400 {
			// clearway already decided this answer is final (not retryable,
			// or its own retries are spent): a client retrying on top would
			// multiply the upstream's load (clearway's attempts x the SDK's).
			if sr := sess.clientShouldRetry(); sr != "" {
				resp.Header.Set("X-Should-Retry", sr)
			}
		}
		meterAnswer(w, resp, a.rates.Limits)
		src.release() // the answer is final: no attempt replays the body again
		return tripResult{done: true, outcome: outcome, resp: resp, peeked: peeked, attempt: attempt, cancel: cancel}
	}
}

// clientLeft logs a client that left while an attempt was under way. Kept
// out of roundTrip (as answeredByFallback) so its frame stays small.
//
//go:noinline
func (s *Server) clientLeft(sess *session, attempt int) {
	s.log.Info("client left; upstream request cancelled", "upstream", sess.up.Name, "attempt", attempt, "status", statusClientClosed)
}

// answeredByFallback logs and publishes that a fallback answered.
//
//go:noinline
func (s *Server) answeredByFallback(sess *session, h *hop, status int) {
	s.log.Info("answered by a fallback", "upstream", h.primary.up.Name, "answered_by", sess.up.Name, "status", status, "primary_failed", h.why)
	s.bus.Publish(events.Event{Kind: events.FellBack, Upstream: h.primary.up.Name, Fallback: sess.up.Name, Status: status, Reason: h.why})
}

// finalFailure reports whether a final answer means the upstream failed the
// request (a fallback may serve it, the breaker counts it): the policy gave
// up on it, or it is a 429, a 5xx or a Cloudflare block. A 4xx about the
// request itself is the client's answer, not the upstream's failure.
func finalFailure(status int, v retry.Verdict) bool {
	return v.Retry || v.TooLong || v.Cloudflare != "" || status == http.StatusTooManyRequests || status >= 500
}

// failedOver records, for an upstream whose final failure goes to a
// fallback instead of the client, what settle or giveUpOnError would have:
// the failure in its counters and the log (no gave_up event: the client has
// not lost the request yet).
func (s *Server) failedOver(sess *session, attempt, status int, why string) {
	st := &sess.stats
	st.failures.Add(1)
	st.failing.Store(true)
	st.lastStatus.Store(int64(status))
	st.lastAt.Store(time.Now().UnixNano())
	if status == 0 {
		st.lastErr.Store(&why)
	}
	s.log.Warn("gave up; the request goes to the fallback", "upstream", sess.up.Name, "attempts", attempt, "status", status, "why", why)
}

// newAttempt builds one attempt's request: the buffered body replayed byte
// for byte, a fresh header map (the jar adds its cookies to it) with the
// credential's headers set on it. The map is the attempt's own; its value
// slices are shared with header, which nothing modifies in place (Set, Del
// and AddCookie replace a key's slice). Kept out of roundTrip so the
// streaming goroutine's stack stays small.
func newAttempt(ctx context.Context, method, target string, header, credHeader http.Header, body []byte, src *replaySource) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header = make(http.Header, len(header)+len(credHeader)+1) // +1: Cookie
	for k, vv := range header {
		req.Header[k] = vv
	}
	for k, vv := range credHeader {
		req.Header[k] = vv
	}
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return req, nil
	}
	req.GetBody = src.reader
	if len(body) < releaseLargeBody {
		// A small body goes as a bytes.Reader, which net/http knows cannot
		// block: the transport then writes headers and body in one write.
		// Any other reader makes it flush the headers first (one more
		// system call and TCP segment per request). The record keeps a
		// body this small anyway (releaseBody), so it holds nothing more.
		req.Body = io.NopCloser(bytes.NewReader(body))
		return req, nil
	}
	req.Body, err = src.reader()
	return req, err
}

// settle records the final answer of a request in the stats and publishes
// gave-up or recovered. Kept out of roundTrip (events are large structs) so
// the streaming goroutine's stack stays small.
//
//go:noinline
func (s *Server) settle(sess *session, attempt, maxAttempts, status int, v retry.Verdict, start time.Time) {
	st := &sess.stats
	up := sess.up
	st.lastStatus.Store(int64(status))
	st.lastAt.Store(time.Now().UnixNano())
	s.logAttempt(sess, attempt, maxAttempts, status, 0, v.Reason)
	switch {
	case v.Retry || v.TooLong:
		st.failures.Add(1)
		st.failing.Store(true)
		s.log.Warn("gave up", "upstream", up.Name, "attempts", attempt, "status", status, "why", v.Reason, "too_long", v.TooLong)
		s.bus.Publish(events.Event{Kind: events.GaveUp, Upstream: up.Name, Attempt: attempt, MaxAttempts: maxAttempts, Status: status, Reason: v.Reason})
	case status >= 500:
		st.failing.Store(true) // a final 5xx that is not retried (501, 505, ...)
	case status < 400:
		st.failing.Store(false)
		if attempt > 1 {
			s.log.Info("recovered", "upstream", up.Name, "attempts", attempt, "status", status, "took", time.Since(start).Round(time.Millisecond))
			s.bus.Publish(events.Event{Kind: events.Recovered, Upstream: up.Name, Attempt: attempt, MaxAttempts: maxAttempts, Status: status})
		}
	}
}

// peekBody reads the start of an error answer (up to retry.PeekLimit) to
// classify it. The read is bounded by timeouts.idle_stream like any body: an
// upstream that sends headers and then stalls must not hold the request.
func (s *Server) peekBody(body io.Reader, cancel context.CancelCauseFunc) []byte {
	if d := s.cfg.Timeouts.IdleStream; d > 0 {
		t := time.AfterFunc(d, func() { cancel(errIdleStream) })
		defer t.Stop()
	}
	b, _ := io.ReadAll(io.LimitReader(body, retry.PeekLimit))
	return b
}

// waitRetry logs and publishes the retry, then waits the chosen delay (none
// when switchKey: the next attempt goes with another key). It returns false
// when the client left during the wait.
func (s *Server) waitRetry(ctx context.Context, w http.ResponseWriter, sess *session, attempt, maxAttempts, status int, v retry.Verdict, switchKey bool) bool {
	st := &sess.stats
	delay, why := time.Duration(0), "none: another key"
	if !switchKey {
		delay, why = sess.policy.Delay(attempt, v)
	}
	noteWait(w, delay, why)
	st.retries.Add(1)
	st.lastStatus.Store(int64(status))
	s.logAttempt(sess, attempt, maxAttempts, status, delay, v.Reason+"; wait "+why)
	s.bus.Publish(events.Event{Kind: events.Retrying, Upstream: sess.up.Name, Attempt: attempt, MaxAttempts: maxAttempts, Status: status, Delay: delay, Reason: v.Reason})
	st.retrying.Add(1)
	defer st.retrying.Add(-1)
	if err := s.clock.Sleep(ctx, delay); err != nil {
		s.log.Info("client left during the retry wait", "upstream", sess.up.Name, "attempt", attempt, "status", statusClientClosed)
		return false
	}
	return true
}

func (s *Server) logAttempt(sess *session, attempt, maxAttempts, status int, delay time.Duration, why string) {
	// A first attempt that simply worked is the common case: it is logged at
	// debug level, so a busy day's log holds the retries and failures, and
	// the hot path skips formatting when debug is off.
	level := slog.LevelInfo
	if attempt == 1 && delay == 0 && status > 0 && status < 400 {
		level = slog.LevelDebug
	}
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	s.log.Log(context.Background(), level, "upstream attempt", "upstream", sess.up.Name, "attempt", strconv.Itoa(attempt)+"/"+strconv.Itoa(maxAttempts),
		"status", status, "delay", delay, "why", why, "cookies", sess.jar.Count())
}

// giveUpOnError answers 502 (or 504 for a timeout) naming the upstream host and the cause.
func (s *Server) giveUpOnError(w http.ResponseWriter, r *http.Request, sess *session, attempt int, err error, v retry.Verdict) {
	st := &sess.stats
	st.failures.Add(1)
	st.failing.Store(true)
	st.lastStatus.Store(0)
	msg := errorText(err)
	st.lastErr.Store(&msg)
	host := sess.up.URL.Host
	status, typ := http.StatusBadGateway, errUpstream
	if v.Timeout {
		status, typ = http.StatusGatewayTimeout, errTimeout
	}
	s.log.Warn("upstream unreachable", "upstream", sess.up.Name, "host", host, "attempts", attempt, "why", v.Reason, "err", msg)
	s.bus.Publish(events.Event{Kind: events.Unreachable, Upstream: sess.up.Name, Attempt: attempt, Status: status, Reason: v.Reason, Err: v.Reason})
	w.Header().Set("X-Clearway-Attempts", strconv.Itoa(attempt))
	writeErrorRetry(w, r, status, typ, "upstream "+sess.up.Name+" ("+host+") failed after "+strconv.Itoa(attempt)+" attempt(s): "+cause(err, v), sess.clientShouldRetry())
}

func cause(err error, v retry.Verdict) string {
	if v.Reason == "tls error" {
		// Say which TLS problem: an untrusted or mismatched certificate is
		// fixed by the user (SSL_CERT_FILE, the url), not by waiting.
		return "TLS: " + errorText(err) + " (a certificate problem does not go away by retrying: check the upstream url, or SSL_CERT_FILE for a private CA)"
	}
	if v.Reason != "" {
		return v.Reason
	}
	return errorText(err)
}

// errorText is err without the request URL that *url.Error carries: a query
// string may hold a key (some APIs take ?key=...), and logs and status
// output must never show one.
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// drain reads a little of an abandoned body so its connection can be reused.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 256<<10))
	_ = body.Close()
}
