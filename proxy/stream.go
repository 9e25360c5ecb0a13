package proxy

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func unescapePath(p string) (string, error) { return url.PathUnescape(p) }

// copyAnswer writes a final upstream answer to the client, then ends what
// the request held of its upstream (also when copyBody aborts the
// connection). Streams (SSE, or any body of unknown length) are flushed
// after every read, so each event reaches the client as soon as the
// upstream sent it. A failure inside the body aborts the client's
// connection: a truncated answer must never look complete.
//
// Its stack is kept shallow, and so are its callers' (see pending): the
// head and the body are written by two functions called one after the
// other, because writing the head goes through net/http's
// chunkWriter.writeHeader, whose frame alone is 2.8 KiB. Under the copy
// loop's frame and the attempt loop's, that pushed every request's
// goroutine from an 8 KiB stack to 16 KiB, which an open stream kept while
// it waited for its next event.
func (s *Server) copyAnswer(w http.ResponseWriter, rc *http.ResponseController, a *pending) {
	defer a.hold.end()
	defer a.cancel(nil)
	defer a.resp.Body.Close()
	streaming, ok := writeHead(w, rc, a.sess.upstreamValue, a.resp, a.peeked, a.attempt)
	if ok {
		s.copyBody(w, rc, a.sess, a.resp, int64(len(a.peeked)), streaming, a.cancel)
	}
}

// writeHead writes the answer's status, headers and the peeked start of its
// body, and flushes them when the answer is a stream. ok is false when the
// client is gone.
//
//go:noinline
func writeHead(w http.ResponseWriter, rc *http.ResponseController, upstream []string, resp *http.Response, peeked []byte, attempts int) (streaming, ok bool) {
	h := w.Header()
	copyResponseHeader(h, resp.Header)
	h["X-Clearway-Attempts"] = attemptsValue(attempts)
	h["X-Clearway-Upstream"] = upstream // the session's prebuilt value
	w.WriteHeader(resp.StatusCode)

	streaming = resp.ContentLength < 0 || isEventStream(resp.Header.Get("Content-Type"))
	if len(peeked) > 0 {
		if _, err := w.Write(peeked); err != nil {
			return streaming, false
		}
	}
	if streaming {
		_ = rc.Flush()
	}
	return streaming, true
}

// copyBody copies the answer's body after the sent bytes already written.
//
//go:noinline
func (s *Server) copyBody(w http.ResponseWriter, rc *http.ResponseController, sess *session, resp *http.Response, sent int64, streaming bool, cancel context.CancelCauseFunc) {
	// Cut a body that goes silent for longer than idle_stream; a slow stream
	// that keeps sending is never cut.
	var iw *idleWatch
	if idle := s.cfg.Timeouts.IdleStream; idle > 0 {
		iw = watchIdle(idle, cancel)
		defer iw.stop()
	}
	var bufs copyBuffers
	defer func() {
		// Close first: the usage meter reads the last piece from buf on Close.
		_ = resp.Body.Close()
		bufs.release()
	}()
	buf := bufs.first(streaming)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if iw != nil {
				iw.lastRead.Store(time.Now().UnixNano())
				iw.writing.Store(true)
			}
			_, werr := w.Write(buf[:n])
			if werr == nil {
				sent += int64(n)
				if streaming {
					werr = rc.Flush()
				}
			}
			if iw != nil {
				iw.writing.Store(false)
			}
			if werr != nil {
				s.clientLeftMidAnswer(sess, sent)
				return
			}
		}
		if rerr == io.EOF {
			return
		}
		if rerr != nil {
			s.bodyFailed(sess, resp, sent, rerr)
			return
		}
		if streaming {
			buf = bufs.next(buf, n, resp.Body)
		}
	}
}

// Copy buffers. A stream starts with a small one, and that is what an open
// stream holds while it waits for its next event (most of its life: an
// agent's stream is idle while the model thinks). A read that fills it
// switches to a large one, which goes back to the pool when a read returns
// less than the small one holds again: the burst is over. Bodies of known
// length use the large one from the start.
const (
	// smallCopyBuf is the transport's read buffer size: a read of a stream
	// sent in small chunks (SSE events) returns no more than that.
	smallCopyBuf = 4 << 10
	largeCopyBuf = 32 << 10
)

// copyBufs and smallCopyBufs recycle the copy buffers.
var (
	copyBufs      = sync.Pool{New: func() any { b := make([]byte, largeCopyBuf); return &b }}
	smallCopyBufs = sync.Pool{New: func() any { b := make([]byte, smallCopyBuf); return &b }}
)

// copyBuffers are the buffers one copy holds. The zero value holds none.
type copyBuffers struct{ small, large *[]byte }

// first returns the buffer a copy starts with.
func (c *copyBuffers) first(streaming bool) []byte {
	if streaming {
		c.small = smallCopyBufs.Get().(*[]byte)
		return *c.small
	}
	c.large = copyBufs.Get().(*[]byte)
	return *c.large
}

// next returns the buffer for the next read of a stream whose last read,
// into buf, returned n bytes of body (already written on).
func (c *copyBuffers) next(buf []byte, n int, body io.Reader) []byte {
	switch {
	case n == len(buf) && c.large == nil:
		c.large = copyBufs.Get().(*[]byte)
		return *c.large
	case n < smallCopyBuf && c.large != nil && len(buf) == largeCopyBuf:
		// The usage meter reads the last piece on the next Read; it must
		// read it now, before the large buffer can be reused.
		if st, ok := body.(interface{ Settle() }); ok {
			st.Settle()
		}
		copyBufs.Put(c.large)
		c.large = nil
		return *c.small
	}
	return buf
}

// release puts the buffers back, once the body is closed.
func (c *copyBuffers) release() {
	if c.small != nil {
		smallCopyBufs.Put(c.small)
	}
	if c.large != nil {
		copyBufs.Put(c.large)
	}
}

// idleWatch cancels an answer's request (with errIdleStream) when its body
// sends nothing for longer than idle. Reads only note their time; the timer
// re-arms itself when it fires early, so the per-event path costs one clock
// read instead of a timer reset. One allocation holds it all.
type idleWatch struct {
	idle     time.Duration
	cancel   context.CancelCauseFunc
	lastRead atomic.Int64 // unix nanos of the last read that returned bytes
	writing  atomic.Bool  // a write to the client is in progress
	finished atomic.Bool
	mu       sync.Mutex // guards timer
	timer    *time.Timer
}

func watchIdle(idle time.Duration, cancel context.CancelCauseFunc) *idleWatch {
	iw := &idleWatch{idle: idle, cancel: cancel}
	iw.lastRead.Store(time.Now().UnixNano())
	iw.mu.Lock()
	iw.timer = time.AfterFunc(idle, iw.check)
	iw.mu.Unlock()
	return iw
}

func (iw *idleWatch) check() {
	if iw.finished.Load() {
		return
	}
	silent := time.Duration(time.Now().UnixNano() - iw.lastRead.Load())
	if iw.writing.Load() {
		silent = 0 // a slow client is not a silent upstream
	}
	if silent >= iw.idle {
		iw.cancel(errIdleStream)
		return
	}
	iw.mu.Lock()
	iw.timer.Reset(iw.idle - silent)
	iw.mu.Unlock()
}

func (iw *idleWatch) stop() {
	iw.finished.Store(true)
	iw.mu.Lock()
	iw.timer.Stop()
	iw.mu.Unlock()
}

// clientLeftMidAnswer logs a client that left while its answer was copied.
// This and bodyFailed are kept out of copyBody so its frame stays small.
//
//go:noinline
func (s *Server) clientLeftMidAnswer(sess *session, sent int64) {
	s.log.Info("client left mid-answer; upstream request cancelled", "upstream", sess.up.Name, "bytes", sent, "status", statusClientClosed)
}

// bodyFailed handles a read error of the upstream's body other than its
// end: the client left (logged), or the upstream failed or went silent for
// longer than idle_stream, which aborts the client's connection (panic with
// http.ErrAbortHandler) so a truncated answer never looks complete.
//
//go:noinline
func (s *Server) bodyFailed(sess *session, resp *http.Response, sent int64, rerr error) {
	rctx := resp.Request.Context()
	idleCut := errors.Is(context.Cause(rctx), errIdleStream)
	if rctx.Err() != nil && !idleCut {
		// The client went away; nothing to tell it, but say so in the log.
		s.clientLeftMidAnswer(sess, sent)
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

// attemptsValue is the X-Clearway-Attempts header value for n attempts:
// shared, never-modified slices for the usual counts, so that the answer's
// headers cost no allocation for it.
func attemptsValue(n int) []string {
	if n >= 1 && n <= len(attemptValues) {
		return attemptValues[n-1]
	}
	return []string{strconv.Itoa(n)}
}

var attemptValues = [][]string{{"1"}, {"2"}, {"3"}, {"4"}, {"5"}, {"6"}, {"7"}, {"8"}}

func isEventStream(ct string) bool {
	if ct == "" {
		return false
	}
	// The common answers need no parse (mime.ParseMediaType allocates its
	// parameter map): a value starting with a letter (no space for the parse
	// to trim) that does not start with "text/event-stream" is not one, and
	// the bare type is.
	const es = "text/event-stream"
	if c := ct[0] | 0x20; c >= 'a' && c <= 'z' {
		if len(ct) < len(es) || !strings.EqualFold(ct[:len(es)], es) {
			return false
		}
		if len(ct) == len(es) {
			return true
		}
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}
