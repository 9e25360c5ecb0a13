package cookiejar

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock that starts at the wall clock (so the
// standard jar, which always uses the wall clock, agrees on what is expired)
// and moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Round(0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects slog output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// setCookies parses Set-Cookie header values as a client would receive them.
func setCookies(t testing.TB, lines ...string) []*http.Cookie {
	t.Helper()
	h := http.Header{}
	for _, l := range lines {
		h.Add("Set-Cookie", l)
	}
	cs := (&http.Response{Header: h}).Cookies()
	if len(cs) != len(lines) {
		t.Fatalf("parsed %d of %d Set-Cookie lines %q", len(cs), len(lines), lines)
	}
	return cs
}

// cookieHeader renders cookies as the Cookie header a request would carry.
func cookieHeader(cs []*http.Cookie) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}

// saveEvents records OnSave calls.
type saveEvents struct{ ch chan error }

func newSaveEvents() *saveEvents { return &saveEvents{ch: make(chan error, 1024)} }

func (e *saveEvents) onSave(err error) { e.ch <- err }

// next waits for the next save attempt, failing the test after d.
func (e *saveEvents) next(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-e.ch:
		return err
	case <-time.After(d):
		t.Fatalf("no save attempt within %v", d)
		return nil
	}
}

// waitFor checks cond on a short ticker until it holds, failing the test
// after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}
