package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/metrics"
	"github.com/clearway/clearway/proxy/usage"
)

// serveUsage answers GET /_clearway/usage?since=&by= and
// GET /_clearway/usage/recent?n=.
func (s *Server) serveUsage(w http.ResponseWriter, r *http.Request, recent bool) {
	if s.usageSrc == nil {
		writeError(w, r, http.StatusServiceUnavailable, errUnavailable, "the usage ledger is off (usage.enabled: false, or it could not be opened; see the log)")
		return
	}
	q := r.URL.Query()
	if recent {
		n, _ := strconv.Atoi(q.Get(api.ParamN))
		n = min(max(n, 1), 1000)
		if q.Get(api.ParamN) == "" {
			n = 50
		}
		entries, err := s.usageSrc.Recent(r.Context(), n)
		if err != nil {
			writeError(w, r, http.StatusInternalServerError, errUpstream, "usage ledger: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, entries)
		return
	}
	since, err := usage.ParseSince(q.Get(api.ParamSince), time.Now())
	if err != nil {
		writeError(w, r, http.StatusBadRequest, errInvalidRequest, err.Error())
		return
	}
	by := q.Get(api.ParamBy)
	if by == "" {
		by = "model"
	}
	rows, err := s.usageSrc.Query(r.Context(), usage.Query{Since: since, By: by})
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, usage.ErrBadGrouping) {
			status = http.StatusBadRequest
		}
		writeError(w, r, status, errInvalidRequest, "usage: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, api.Usage{Since: since, By: by, Rows: rows, Total: usage.Sum(rows), PricesDate: usage.PricesDate()})
}

// liveMetrics are the gauges read at scrape time.
func (s *Server) liveMetrics() metrics.Live {
	live := metrics.Live{
		InFlight: func() float64 { return float64(s.inFlight.Load()) },
		Cookies: func() map[string]int {
			out := make(map[string]int, len(s.sessions))
			for name, sess := range s.sessions {
				out[name] = sess.jar.Len()
			}
			return out
		},
	}
	if d, ok := s.recorder.(interface{ Dropped() uint64 }); ok {
		live.Dropped = func() float64 { return float64(d.Dropped()) }
	}
	if q, ok := s.recorder.(interface{ Queued() int }); ok {
		live.Queued = func() float64 { return float64(q.Queued()) }
	}
	return live
}
