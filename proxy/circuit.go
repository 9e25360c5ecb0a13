package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/clearway/clearway/proxy/breaker"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/events"
)

// breakerChanged logs an upstream's breaker changing state and publishes
// the opening and the closing (the tray, notifications, the dashboard).
func (s *Server) breakerChanged(up config.Upstream, c breaker.Change) {
	switch c.To {
	case breaker.Open:
		s.log.Warn("circuit breaker opened: requests skip the upstream", "upstream", up.Name, "from", c.From,
			"failures", up.Breaker.Failures, "cooldown", up.Breaker.Cooldown, "fallbacks", len(up.Fallbacks))
		reason := strconv.Itoa(up.Breaker.Failures) + " final failures in a row"
		if c.From == breaker.HalfOpen {
			reason = "the probe request failed"
		}
		s.bus.Publish(events.Event{Kind: events.BreakerOpened, Upstream: up.Name, Attempt: up.Breaker.Failures, Delay: up.Breaker.Cooldown, Reason: reason})
	case breaker.HalfOpen:
		s.log.Info("circuit breaker half-open: the next request probes the upstream", "upstream", up.Name)
	case breaker.Closed:
		s.log.Info("circuit breaker closed: the probe succeeded", "upstream", up.Name)
		s.bus.Publish(events.Event{Kind: events.BreakerClosed, Upstream: up.Name})
	}
}

// writeCircuitOpen answers at once for an upstream whose breaker is open and
// that has no fallback left: 503 with Retry-After until the probe.
func writeCircuitOpen(w http.ResponseWriter, r *http.Request, sess *session, after time.Duration) {
	secs := retryAfterSecs(after)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeErrorRetry(w, r, http.StatusServiceUnavailable, errUnavailable,
		"upstream "+strconv.Quote(sess.up.Name)+" failed "+strconv.Itoa(sess.up.Breaker.Failures)+
			" times in a row, so its circuit breaker is open: nothing is sent to it until one probe request in "+strconv.Itoa(secs)+"s", "")
}
