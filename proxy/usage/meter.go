package usage

import (
	"io"
	"strings"
	"sync"
)

// Tokens are the token counts of one answer. Input counts uncached input only
// (as Anthropic reports it); OpenAI's prompt_tokens, which include cached
// tokens, are split into Input and CacheRead so every API adds up the same
// way. The zero value is no tokens.
type Tokens struct {
	Input      int64 `json:"input_tokens"`
	Output     int64 `json:"output_tokens"`
	CacheRead  int64 `json:"cache_read_tokens"`
	CacheWrite int64 `json:"cache_write_tokens"`
}

// Total is the sum of all four counts.
func (t Tokens) Total() int64 { return t.Input + t.Output + t.CacheRead + t.CacheWrite }

// Meter reads the usage out of one answer body as it passes. Build it with
// NewMeter; feed it with Wrap (or Write, then Finish). It is meant for one
// goroutine; Result may be called after Finish from another goroutine that
// synchronises with it (as returning from Close does).
type Meter struct {
	kind   uint8 // 0: nothing to read; 1: JSON; 2: SSE
	sc     scanner
	sse    sseParser
	dec    *decoder
	found  bool
	openai bool
	model  string
	raw    [numFields]int64
	rawSet [numFields]bool
	done   bool
	// wrapped and finisher are the body Wrap returns, kept in the Meter so
	// that wrapping costs no allocation of its own.
	wrapped  meteredBody
	finisher closeFinisher
}

const (
	kindNone uint8 = iota
	kindJSON
	kindSSE
)

// NewMeter returns a Meter for an answer with these Content-Type and
// Content-Encoding headers. An answer that is neither JSON nor an event
// stream, or in an encoding it cannot undo, is not read (Result says no
// tokens).
func NewMeter(contentType, contentEncoding string) *Meter {
	m := meters.Get().(*Meter) // zeroed by Release
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case mt == "text/event-stream":
		m.kind = kindSSE
		m.sse.apply = m.apply
		m.sse.sc = &m.sc
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		m.kind = kindJSON
	default:
		return m
	}
	ce := strings.ToLower(strings.TrimSpace(contentEncoding))
	if ce != "" && ce != "identity" {
		d, ok := newDecoder(ce, m.feed)
		if !ok {
			m.kind = kindNone
			return m
		}
		m.dec = d
	}
	return m
}

// Streamed reports whether the answer is an event stream.
func (m *Meter) Streamed() bool { return m.kind == kindSSE }

// Write feeds the next bytes of the body as the upstream sent them (still
// encoded). It never fails and keeps no reference to p after it returns.
func (m *Meter) Write(p []byte) (int, error) {
	if m.kind == kindNone || m.done || len(p) == 0 {
		return len(p), nil
	}
	if m.dec != nil {
		m.dec.write(p)
		return len(p), nil
	}
	m.feed(p)
	return len(p), nil
}

// feed takes decoded bytes.
func (m *Meter) feed(p []byte) {
	switch m.kind {
	case kindJSON:
		m.sc.write(p)
	case kindSSE:
		m.sse.write(p)
	}
}

// Finish ends the body: a pending event is counted and a decoder stopped.
// Further writes are ignored.
func (m *Meter) Finish() {
	if m.done {
		return
	}
	if m.dec != nil {
		m.dec.close()
	}
	m.done = true
	switch m.kind {
	case kindJSON:
		if m.sc.started {
			m.apply(&m.sc.ev)
		}
	case kindSSE:
		m.sse.finish()
	}
}

// apply merges one JSON document's values: a later value of a field replaces
// an earlier one, which is right both for Anthropic's cumulative
// message_delta usage and for OpenAI's single usage chunk.
func (m *Meter) apply(ev *event) {
	if m.model == "" && ev.model != "" {
		m.model = ev.model
	}
	if ev.openai {
		m.openai = true
	}
	for f := fInput; f < numFields; f++ {
		if ev.set[f] {
			m.raw[f] = ev.num[f]
			m.rawSet[f] = true
			m.found = true
		}
	}
}

// Result returns the model the answer named ("" if none), its tokens, and
// whether any token count was found. Call it after Finish.
func (m *Meter) Result() (model string, t Tokens, found bool) {
	r := &m.raw
	t.Output = r[fOutput]
	t.CacheWrite = r[fCacheWrite]
	if m.openai {
		in := r[fInput]
		if m.rawSet[fPrompt] {
			in = r[fPrompt]
		}
		t.CacheRead = r[fCached]
		t.Input = max(in-t.CacheRead, 0)
	} else {
		t.Input = r[fInput]
		t.CacheRead = r[fCacheRead]
	}
	return m.model, t, m.found
}

// meters recycles Meters (about 1 KiB each, one per answer) through
// Release.
var meters = sync.Pool{New: func() any { return new(Meter) }}

// Release hands m back for reuse by a later NewMeter once its Result has
// been read and its body (Wrap) closed: neither may be used afterwards.
// Calling it is optional; a Meter that is not released is collected.
func (m *Meter) Release() {
	m.Finish() // no-op when finished; waits for a decoder's goroutine
	*m = Meter{}
	meters.Put(m)
}

// Wrap wraps an answer body so that m reads it as the caller does. Each
// piece is handed to m on the caller's NEXT Read (or on Close), that is after
// the caller has written it on and flushed it: reading usage never delays a
// byte or an event. The caller must not change the bytes a Read returned
// before its next Read, as a copy loop never does, unless it first calls the
// body's Settle method (the body has one when m reads anything). Close
// finishes m. A Meter wraps one body: call Wrap once.
func (m *Meter) Wrap(body io.ReadCloser) io.ReadCloser {
	if m.kind == kindNone {
		m.finisher = closeFinisher{ReadCloser: body, m: m}
		return &m.finisher
	}
	m.wrapped = meteredBody{rc: body, m: m}
	return &m.wrapped
}

type meteredBody struct {
	rc      io.ReadCloser
	m       *Meter
	pending []byte
	once    sync.Once
}

func (b *meteredBody) Read(p []byte) (int, error) {
	if len(b.pending) > 0 {
		_, _ = b.m.Write(b.pending)
		b.pending = nil
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		b.pending = p[:n]
	}
	return n, err
}

// Settle hands the bytes the last Read returned to the meter now instead of
// at the next Read, so that the caller may reuse the buffer they are in.
// Call it only after those bytes were written on.
func (b *meteredBody) Settle() {
	if len(b.pending) > 0 {
		_, _ = b.m.Write(b.pending)
		b.pending = nil
	}
}

func (b *meteredBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() {
		if len(b.pending) > 0 {
			_, _ = b.m.Write(b.pending)
			b.pending = nil
		}
		b.m.Finish()
	})
	return err
}

type closeFinisher struct {
	io.ReadCloser
	m *Meter
}

func (c *closeFinisher) Close() error {
	err := c.ReadCloser.Close()
	c.m.Finish()
	return err
}
