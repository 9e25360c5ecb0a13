package proxy

import (
	"errors"
	"io"
	"sync/atomic"
)

// errBodyReleased is GetBody's error after the answer was chosen: no
// transport asks for the body again then.
var errBodyReleased = errors.New("request body already released")

// replaySource is the buffered client body that each attempt to an upstream
// replays (the attempt's Body and GetBody). Once the final answer is chosen,
// release lets go of the bytes, and each reader lets go of them when read to
// the end: an answer that streams for minutes does not keep a request body
// of hundreds of KiB (an agent's whole conversation) alive, as a proxy that
// streams the body through does not. Safe for concurrent use.
type replaySource struct {
	b atomic.Pointer[[]byte]
}

// newReplay returns the source of body (not empty).
func newReplay(body []byte) *replaySource {
	s := &replaySource{}
	s.b.Store(&body)
	return s
}

// reader returns a fresh reader of the whole body (http.Request.GetBody).
func (s *replaySource) reader() (io.ReadCloser, error) {
	p := s.b.Load()
	if p == nil {
		return nil, errBodyReleased
	}
	return &replayReader{b: *p}, nil
}

// release lets go of the body: reader fails from now on.
func (s *replaySource) release() {
	if s != nil {
		s.b.Store(nil)
	}
}

// replayReader reads the body once. It is used by one goroutine at a time
// (the transport's writer); Close may come from another, so it touches
// nothing.
type replayReader struct{ b []byte }

func (r *replayReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		r.b = nil
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	if len(r.b) == 0 {
		r.b = nil // let go of the bytes once all were read
	}
	return n, nil
}

func (r *replayReader) Close() error { return nil }
