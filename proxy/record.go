package proxy

import (
	"bytes"
	"net/http"
	"time"

	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/retry"
	"github.com/clearway/clearway/proxy/seam"
	"github.com/clearway/clearway/proxy/usage"
)

// recordWriter wraps the client's ResponseWriter for one request routed to an
// upstream: it notes the status and the time of the first body byte, and
// carries what the attempts learn (their number, the answer's usage meter),
// so that one usage.Record can be made when the request ends. Unwrap lets
// http.ResponseController reach the real writer's Flush and full duplex.
type recordWriter struct {
	http.ResponseWriter
	start     time.Time
	upstream  string    // the upstream that answered (or was last tried)
	requested string    // the upstream the client asked for
	dialect   apiFormat // the asked upstream's API, for errors nothing in the request decides
	keyName   string    // the key name of the last attempt
	status    int
	firstAt   time.Time
	attempts  int
	meter     *usage.Meter
	body      []byte // the request body, for its "model" when the answer names none
	bodyModel string // requestModel(body), kept instead of a large body (releaseBody)
	rateReq   int64
	rateTok   int64
	gone      bool          // a write or flush to the client failed: it left
	log       []api.Attempt // each attempt, for the dashboard's timeline
}

func (w *recordWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.firstAt.IsZero() && len(p) > 0 {
		w.firstAt = time.Now()
	}
	n, err := w.ResponseWriter.Write(p)
	if err != nil {
		w.gone = true
	}
	return n, err
}

// FlushError flushes the client's writer, noting a client that left.
func (w *recordWriter) FlushError() error {
	err := http.NewResponseController(w.ResponseWriter).Flush()
	if err != nil {
		w.gone = true
	}
	return err
}

// Unwrap returns the client's writer (for http.ResponseController).
func (w *recordWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteAttempt records that an attempt is being made to sess with cred
// (attempts add up across fallbacks).
func noteAttempt(w http.ResponseWriter, sess *session, cred seam.Credential) {
	if rw, ok := w.(*recordWriter); ok {
		rw.attempts++
		rw.upstream = sess.up.Name
		rw.keyName = cred.Name
		rw.log = append(rw.log, api.Attempt{N: rw.attempts, Upstream: sess.up.Name, Key: cred.Name, Cookies: sess.jar.Count()})
	}
}

// noteOutcome records what the upstream answered the latest attempt (status
// 0: no answer) and the verdict's reason.
func noteOutcome(w http.ResponseWriter, status int, reason string) {
	if rw, ok := w.(*recordWriter); ok && len(rw.log) > 0 {
		a := &rw.log[len(rw.log)-1]
		a.Status, a.Reason = status, reason
	}
}

// noteWait records the wait chosen before the next attempt and why.
func noteWait(w http.ResponseWriter, d time.Duration, why string) {
	if rw, ok := w.(*recordWriter); ok && len(rw.log) > 0 {
		a := &rw.log[len(rw.log)-1]
		a.WaitMS, a.WaitWhy = float64(d)/float64(time.Millisecond), why
	}
}

// noteBody keeps the request body for its "model" when the answer names none.
func noteBody(w http.ResponseWriter, body []byte) {
	if rw, ok := w.(*recordWriter); ok {
		rw.body = body
	}
}

// releaseLargeBody is the size from which releaseBody keeps the request's
// model instead of its body: finding the model costs a scan, keeping a
// small body costs little.
const releaseLargeBody = 4 << 10

// releaseBody lets go of a large request body once the answer is final,
// keeping only its "model" for the record (see replaySource).
func releaseBody(w http.ResponseWriter) {
	if rw, ok := w.(*recordWriter); ok && len(rw.body) >= releaseLargeBody {
		rw.bodyModel = requestModel(rw.body)
		rw.body = nil
	}
}

// requestModel is the request body's "model" (kept by releaseBody, or
// found in the body).
func (w *recordWriter) requestModel() string {
	if w.body == nil {
		return w.bodyModel
	}
	return requestModel(w.body)
}

// meterAnswer wraps the final answer's body with a usage meter and notes
// the remaining requests and tokens its rate-limit headers stated (limits,
// as retry.Headroom read them). The meter reads each piece after it was
// forwarded, so it delays nothing.
func meterAnswer(w http.ResponseWriter, resp *http.Response, limits []retry.Limit) {
	rw, ok := w.(*recordWriter)
	if !ok {
		return
	}
	rw.meter = usage.NewMeter(resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"))
	resp.Body = rw.meter.Wrap(resp.Body)
	rw.rateReq = retry.RemainingOf(limits, "requests")
	rw.rateTok = retry.RemainingOf(limits, "tokens")
}

// finishRecord builds the request's usage.Record and hands it to the
// metrics and the recorder. aborted is true when the handler is unwinding
// from an aborted answer (the upstream failed mid-body).
func (s *Server) finishRecord(rw *recordWriter, r *http.Request, aborted bool) {
	now := time.Now()
	rec := usage.Record{
		Time:         rw.start,
		Upstream:     rw.upstream,
		Requested:    rw.requested,
		Client:       usage.Client(r.Header.Get("User-Agent"), r.Header.Get(usage.ClientHeader)),
		Status:       rw.status,
		Attempts:     rw.attempts,
		Duration:     now.Sub(rw.start),
		KeyName:      rw.keyName,
		RateRequests: -1,
		RateTokens:   -1,
	}
	if !rw.firstAt.IsZero() {
		rec.TTFB = rw.firstAt.Sub(rw.start)
	}
	if m := rw.meter; m != nil {
		m.Finish() // no-op when the body was closed
		model, tok, ok := m.Result()
		rec.Model, rec.Tokens, rec.HasTokens, rec.Stream = model, tok, ok, m.Streamed()
		rec.RateRequests, rec.RateTokens = rw.rateReq, rw.rateTok
		// The answer's body (m's wrapper) was closed when the copy ended
		// (copyAnswer), before this deferred record: m can be reused.
		rw.meter = nil
		m.Release()
	}
	if rec.Model == "" {
		rec.Model = rw.requestModel()
	}
	switch {
	case aborted:
		rec.Status = http.StatusBadGateway
	case rw.gone, rec.Status == 0:
		rec.Status = statusClientClosed // the client left before the end
	}
	s.metrics.Observe(rec)
	s.recorder.Record(rec)
	live := api.Request{
		Time: rec.Time, Client: rec.Client, Upstream: rec.Upstream, Model: rec.Model, Stream: rec.Stream,
		Status: rec.Status, Attempts: rec.Attempts, Tokens: rec.Tokens, AttemptLog: rw.log,
		DurationMS: float64(rec.Duration) / float64(time.Millisecond), TTFBMS: float64(rec.TTFB) / float64(time.Millisecond),
	}
	if rec.Requested != "" && rec.Requested != rec.Upstream {
		live.Upstream, live.AnsweredBy = rec.Requested, rec.Upstream
	}
	s.live.add(live)
	if rec.HasTokens && rec.Upstream != "" {
		// Token budgets (throttle.tokens_per_minute) count what the
		// upstream's own per-minute limits count: input, cache writes
		// and output; cache reads are not limited that way.
		if n := rec.Tokens.Input + rec.Tokens.CacheWrite + rec.Tokens.Output; n > 0 {
			s.limiter.Charge(rec.Upstream, rec.KeyName, n)
		}
	}
}

// requestModel finds the top-level "model" string of a JSON request body
// without decoding it: the first `"model"` key with a string value. A key
// cannot appear inside a JSON string (its quotes would be escaped), so the
// first match outside nested objects is almost always the right one, and
// bytes.Index keeps this cheap on 100 KB agent requests.
func requestModel(body []byte) string {
	const key = `"model"`
	for off := 0; off < len(body); {
		i := bytes.Index(body[off:], []byte(key))
		if i < 0 {
			return ""
		}
		rest := bytes.TrimLeft(body[off+i+len(key):], " \t\r\n")
		off += i + len(key)
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if len(rest) == 0 || rest[0] != '"' {
			continue
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 || end > 128 || bytes.IndexByte(rest[1:end+1], '\\') >= 0 {
			return ""
		}
		return string(rest[1 : end+1])
	}
	return ""
}
