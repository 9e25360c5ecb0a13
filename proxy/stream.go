package proxy

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func unescapePath(p string) (string, error) { return url.PathUnescape(p) }

// copyBufs recycles the 32 KiB buffers bodies are copied through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyResponse writes the upstream's answer to the client. Streams (SSE, or any
// body of unknown length) are flushed after every read, so each event reaches
// the client as soon as the upstream sent it. A failure inside the body aborts
// the client's connection: a truncated answer must never look complete.
func (s *Server) copyResponse(w http.ResponseWriter, rc *http.ResponseController, sess *session, resp *http.Response, peeked []byte, attempts int, cancel context.CancelCauseFunc) {
	defer resp.Body.Close()
	copyResponseHeader(w.Header(), resp.Header)
	w.Header().Set("X-Clearway-Attempts", strconv.Itoa(attempts))
	w.Header().Set("X-Clearway-Upstream", sess.up.Name)
	w.WriteHeader(resp.StatusCode)

	streaming := resp.ContentLength < 0 || isEventStream(resp.Header.Get("Content-Type"))
	if len(peeked) > 0 {
		if _, err := w.Write(peeked); err != nil {
			return
		}
	}
	if streaming {
		_ = rc.Flush()
	}

	// Cut a body that goes silent for longer than idle_stream; a slow stream
	// that keeps sending is never cut. Reads only note their time; the timer
	// re-arms itself when it fires early, so the per-event path costs one
	// clock read instead of a timer reset.
	idle := s.cfg.Timeouts.IdleStream
	var lastRead atomic.Int64
	var writing atomic.Bool // a write to the client is in progress
	if idle > 0 {
		lastRead.Store(time.Now().UnixNano())
		var timer *time.Timer
		var mu sync.Mutex
		var finished atomic.Bool
		check := func() {
			if finished.Load() {
				return
			}
			silent := time.Duration(time.Now().UnixNano() - lastRead.Load())
			if writing.Load() {
				silent = 0 // a slow client is not a silent upstream
			}
			if silent >= idle {
				cancel(errIdleStream)
				return
			}
			mu.Lock()
			timer.Reset(idle - silent)
			mu.Unlock()
		}
		mu.Lock()
		timer = time.AfterFunc(idle, check)
		mu.Unlock()
		defer func() {
			finished.Store(true)
			mu.Lock()
			timer.Stop()
			mu.Unlock()
		}()
	}
	bp := copyBufs.Get().(*[]byte)
	defer func() {
		// Close first: the usage meter reads the last piece from buf on Close.
		_ = resp.Body.Close()
		copyBufs.Put(bp)
	}()
	buf := *bp
	var sent int64 = int64(len(peeked))
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if idle > 0 {
				lastRead.Store(time.Now().UnixNano())
			}
			writing.Store(true)
			_, werr := w.Write(buf[:n])
			writing.Store(false)
			if werr != nil {
				s.log.Info("client left mid-answer; upstream request cancelled", "upstream", sess.up.Name, "bytes", sent, "status", statusClientClosed)
				return
			}
			sent += int64(n)
			if streaming {
				writing.Store(true)
				ferr := rc.Flush()
				writing.Store(false)
				if ferr != nil {
					s.log.Info("client left mid-answer; upstream request cancelled", "upstream", sess.up.Name, "bytes", sent, "status", statusClientClosed)
					return
				}
			}
		}
		if rerr == io.EOF {
			return
		}
		if rerr != nil {
			rctx := resp.Request.Context()
			idleCut := errors.Is(context.Cause(rctx), errIdleStream)
			if rctx.Err() != nil && !idleCut {
				// The client went away; nothing to tell it, but say so in the log.
				s.log.Info("client left mid-answer; upstream request cancelled", "upstream", sess.up.Name, "bytes", sent, "status", statusClientClosed)
				return
			}
			reason := rerr.Error()
			if idleCut {
				reason = errIdleStream.Error()
			}
			s.log.Warn("upstream failed mid-answer; aborting the client connection", "upstream", sess.up.Name, "bytes", sent, "err", reason)
			sess.stats.lastErr.Store(&reason)
			panic(http.ErrAbortHandler) // closes the connection without a clean end of body
		}
	}
}

func isEventStream(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}
