package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearway/clearway/app/view"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// fakeServer stands for a proxy server: "open" is its port, open from the
// moment it binds until Run returns. Gates let a test hold it while binding
// (bind) and while shutting down (shutdown); die makes it end by itself.
type fakeServer struct {
	id       int
	listen   error         // Run returns this instead of binding
	bind     chan struct{} // nil, or Run waits for it before binding
	shutdown chan struct{} // nil, or Run waits for it after ctx ends
	die      chan error    // an error sent here ends Run by itself
	ready    chan struct{}
	open     *atomic.Int32 // how many fake ports are open, shared by the builder's servers
	ran      atomic.Bool
}

func (s *fakeServer) Ready() <-chan struct{} { return s.ready }
func (s *fakeServer) Addr() string           { return fmt.Sprintf("127.0.0.1:%d", 1000+s.id) }

func (s *fakeServer) Run(ctx context.Context) error {
	s.ran.Store(true)
	if s.listen != nil {
		return s.listen
	}
	if s.bind != nil {
		<-s.bind
	}
	s.open.Add(1)
	defer s.open.Add(-1)
	close(s.ready)
	select {
	case <-ctx.Done():
		if s.shutdown != nil {
			<-s.shutdown
		}
		return nil
	case err := <-s.die:
		return err
	}
}

// fakeBuilder builds fakeServers. Each build first takes its options from
// next (so a test can prepare a gate or an error), or builds a plain server
// when the test prepared none.
type fakeBuilder struct {
	mu     sync.Mutex
	plan   []buildPlan
	built  []*fakeServer
	open   atomic.Int32
	builds atomic.Int32
}

type buildPlan struct {
	hold     chan struct{} // the build blocks until closed, ignoring ctx (like a keychain call)
	err      error         // the build fails
	listen   error
	bind     chan struct{}
	shutdown chan struct{}
}

func (b *fakeBuilder) then(p buildPlan) { b.mu.Lock(); b.plan = append(b.plan, p); b.mu.Unlock() }

func (b *fakeBuilder) build(ctx context.Context) (Server, error) {
	b.builds.Add(1)
	b.mu.Lock()
	var p buildPlan
	if len(b.plan) > 0 {
		p, b.plan = b.plan[0], b.plan[1:]
	}
	b.mu.Unlock()
	if p.hold != nil {
		<-p.hold
	}
	if p.err != nil {
		return nil, p.err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &fakeServer{id: len(b.built) + 1, listen: p.listen, bind: p.bind, shutdown: p.shutdown,
		die: make(chan error, 1), ready: make(chan struct{}), open: &b.open}
	b.built = append(b.built, s)
	return s, nil
}

func (b *fakeBuilder) server(i int) *fakeServer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.built[i]
}

func (b *fakeBuilder) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.built)
}

// newTestLifecycle returns a stopped lifecycle over a fake builder and
// clock; the test's end stops it.
func newTestLifecycle(t *testing.T) (*Lifecycle, *fakeBuilder, *fakeClock) {
	b := &fakeBuilder{}
	c := newFakeClock()
	l := NewLifecycle(b.build, c)
	t.Cleanup(func() { _ = l.Stop() })
	return l, b, c
}

// waitPhase waits, by watching transitions, until the phase is want.
func waitPhase(t *testing.T, l *Lifecycle, want view.Phase) State {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		st, next := l.State()
		if st.Phase == want {
			return st
		}
		select {
		case <-next:
		case <-deadline.C:
			t.Fatalf("phase is %v, waited for %v", st.Phase, want)
		}
	}
}

// async runs fn on its own goroutine and returns where its error arrives.
func async(fn func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	return ch
}

func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not return")
		return nil
	}
}

func TestStartThenStop(t *testing.T) {
	l, b, clock := newTestLifecycle(t)
	if st, _ := l.State(); st.Phase != view.Stopped || !st.Since.Equal(clock.Now()) {
		t.Fatalf("new lifecycle: %+v", st)
	}
	started := clock.Advance(time.Minute)
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	st, _ := l.State()
	if st.Phase != view.Running || st.Server != b.server(0) || !st.Since.Equal(started) || b.open.Load() != 1 {
		t.Fatalf("after Start: %+v, %d open", st, b.open.Load())
	}
	if err := l.Start(); err != nil || b.count() != 1 {
		t.Fatalf("a second Start built another server (%d) or failed: %v", b.count(), err)
	}
	stopped := clock.Advance(time.Minute)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	st, _ = l.State()
	if st.Phase != view.Stopped || st.Server != nil || !st.Since.Equal(stopped) || b.open.Load() != 0 {
		t.Fatalf("after Stop: %+v, %d open", st, b.open.Load())
	}
	if err := l.Stop(); err != nil {
		t.Fatalf("Stop when stopped: %v", err)
	}
}

func TestBuildFailureFailsThenStartAgainRuns(t *testing.T) {
	l, b, clock := newTestLifecycle(t)
	keychainDown := errors.New("keychain: locked")
	b.then(buildPlan{err: keychainDown})
	failedAt := clock.Advance(time.Second)
	if err := l.Start(); !errors.Is(err, keychainDown) {
		t.Fatalf("Start = %v, want the build's error", err)
	}
	st, _ := l.State()
	if st.Phase != view.Failed || !errors.Is(st.Err, keychainDown) || !st.Since.Equal(failedAt) {
		t.Fatalf("after a failed build: %+v", st)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.Phase != view.Running || st.Err != nil {
		t.Fatalf("Start from Failed: %+v", st)
	}
}

func TestListenFailureFails(t *testing.T) {
	l, b, _ := newTestLifecycle(t)
	inUse := errors.New("listen on 127.0.0.1:8764: port in use")
	b.then(buildPlan{listen: inUse})
	if err := l.Start(); !errors.Is(err, inUse) {
		t.Fatalf("Start = %v", err)
	}
	if st, _ := l.State(); st.Phase != view.Failed || !errors.Is(st.Err, inUse) {
		t.Fatalf("%+v", st)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.Phase != view.Stopped || st.Err != nil {
		t.Fatalf("Stop from Failed: %+v", st)
	}
}

func TestServerThatDiesFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		exit error
		want error
	}{
		{"with an error", errors.New("accept: too many open files"), nil},
		{"without an error", nil, ErrEndedByItself},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, b, clock := newTestLifecycle(t)
			if err := l.Start(); err != nil {
				t.Fatal(err)
			}
			diedAt := clock.Advance(time.Hour)
			b.server(0).die <- tc.exit
			st := waitPhase(t, l, view.Failed)
			want := tc.want
			if want == nil {
				want = tc.exit
			}
			if !errors.Is(st.Err, want) || !st.Since.Equal(diedAt) || st.Server != nil || b.open.Load() != 0 {
				t.Fatalf("after the server died: %+v, %d open", st, b.open.Load())
			}
		})
	}
}

// TestStopDuringBuild: the build is slow and ignores its context (a
// keychain call); a Stop meanwhile ends Stopped, and the server that the
// build returns afterwards is never run.
func TestStopDuringBuild(t *testing.T) {
	l, b, _ := newTestLifecycle(t)
	hold := make(chan struct{})
	b.then(buildPlan{hold: hold})
	start := async(l.Start)
	waitPhase(t, l, view.Starting)
	stop := async(l.Stop)
	waitPhase(t, l, view.Stopping)
	select {
	case err := <-stop:
		t.Fatalf("Stop returned (%v) while the build still runs", err)
	default:
	}
	close(hold)
	if err := result(t, stop); err != nil {
		t.Fatal(err)
	}
	if err := result(t, start); err != nil {
		t.Fatalf("Start overridden by Stop = %v, want nil", err)
	}
	st, _ := l.State()
	if st.Phase != view.Stopped || b.open.Load() != 0 || b.server(0).ran.Load() {
		t.Fatalf("after Stop during the build: %+v, %d open, ran %v", st, b.open.Load(), b.server(0).ran.Load())
	}
}

// TestStopWhileBinding: the server runs but is not ready yet; Stop ends its
// run and the port is closed when Stop returns.
func TestStopWhileBinding(t *testing.T) {
	l, b, _ := newTestLifecycle(t)
	bind := make(chan struct{})
	b.then(buildPlan{bind: bind})
	start := async(l.Start)
	waitPhase(t, l, view.Starting)
	for b.count() == 0 || !b.server(0).ran.Load() {
		_, next := l.State()
		select { // no transition is due; poll the builder with a short deadline
		case <-next:
		case <-time.After(time.Millisecond):
		}
	}
	stop := async(l.Stop)
	waitPhase(t, l, view.Stopping)
	close(bind) // it binds after all, sees its context ended, and closes
	if err := result(t, stop); err != nil {
		t.Fatal(err)
	}
	if err := result(t, start); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.Phase != view.Stopped || b.open.Load() != 0 {
		t.Fatalf("%+v, %d open", st, b.open.Load())
	}
}

// TestStartDuringStop: while the old server shuts down, a Start is
// remembered and a new server runs once the old one is gone.
func TestStartDuringStop(t *testing.T) {
	l, b, _ := newTestLifecycle(t)
	shutdown := make(chan struct{})
	b.then(buildPlan{shutdown: shutdown})
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	stop := async(l.Stop)
	waitPhase(t, l, view.Stopping)
	start := async(l.Start)
	close(shutdown)
	if err := result(t, start); err != nil {
		t.Fatal(err)
	}
	if err := result(t, stop); err != nil {
		t.Fatal(err)
	}
	st, _ := l.State()
	if st.Phase != view.Running || b.count() != 2 || st.Server != b.server(1) || b.open.Load() != 1 {
		t.Fatalf("after Start during Stop: %+v, %d built, %d open", st, b.count(), b.open.Load())
	}
}

func TestRestartReplacesTheServer(t *testing.T) {
	l, b, _ := newTestLifecycle(t)
	if err := l.Restart(); err != nil { // from Stopped: starts
		t.Fatal(err)
	}
	if err := l.Restart(); err != nil {
		t.Fatal(err)
	}
	st, _ := l.State()
	if st.Phase != view.Running || b.count() != 2 || st.Server != b.server(1) || b.open.Load() != 1 {
		t.Fatalf("after Restart: %+v, %d built, %d open", st, b.count(), b.open.Load())
	}
	// Restart during a slow build abandons it and builds again.
	hold := make(chan struct{})
	b.then(buildPlan{hold: hold})
	_ = l.Stop()
	start := async(l.Start)
	waitPhase(t, l, view.Starting)
	restart := async(l.Restart)
	waitPhase(t, l, view.Stopping)
	close(hold)
	if err := result(t, restart); err != nil {
		t.Fatal(err)
	}
	if err := result(t, start); err != nil {
		t.Fatal(err)
	}
	st, _ = l.State()
	if st.Phase != view.Running || b.count() != 4 || b.server(2).ran.Load() || st.Server != b.server(3) || b.open.Load() != 1 {
		t.Fatalf("after Restart during a build: %+v, %d built, abandoned ran %v, %d open", st, b.count(), b.server(2).ran.Load(), b.open.Load())
	}
}

// TestEveryTransitionIsSeen: a watcher that follows State's channel sees
// each phase of a start and a stop, in order, stamped by the clock.
func TestEveryTransitionIsSeen(t *testing.T) {
	l, b, clock := newTestLifecycle(t)
	seen := make(chan State, 8)
	quit := make(chan struct{})
	defer close(quit)
	_, next := l.State() // before anything moves
	go func() {
		for {
			select {
			case <-next:
			case <-quit:
				return
			}
			var st State
			st, next = l.State()
			seen <- st
		}
	}()
	expect := func(want view.Phase) {
		t.Helper()
		at := clock.Now()
		select {
		case st := <-seen:
			if st.Phase != want || !st.Since.Equal(at) {
				t.Fatalf("saw %v since %v, want %v since %v", st.Phase, st.Since, want, at)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no transition to %v", want)
		}
		clock.Advance(time.Second)
	}
	// Gates hold each phase until the watcher has seen it.
	hold, shutdown := make(chan struct{}), make(chan struct{})
	b.then(buildPlan{hold: hold, shutdown: shutdown})
	start := async(l.Start)
	expect(view.Starting)
	close(hold)
	expect(view.Running)
	_ = result(t, start)
	stop := async(l.Stop)
	expect(view.Stopping)
	close(shutdown)
	expect(view.Stopped)
	_ = result(t, stop)
}

// TestConcurrentRequestsSettle: Start, Stop and Restart from many goroutines
// at once; whatever the order, a final Stop leaves no server serving and a
// final Start exactly one.
func TestConcurrentRequestsSettle(t *testing.T) {
	l, b, _ := newTestLifecycle(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 50 {
				switch r.IntN(3) {
				case 0:
					_ = l.Start()
				case 1:
					_ = l.Stop()
				default:
					_ = l.Restart()
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.Phase != view.Stopped || b.open.Load() != 0 {
		t.Fatalf("after the final Stop: %+v, %d open", st, b.open.Load())
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.Phase != view.Running || b.open.Load() != 1 {
		t.Fatalf("after the final Start: %+v, %d open", st, b.open.Load())
	}
	_ = l.Stop()
}

// TestCloseRefusesLaterStarts: a Start that races with the application's
// exit cannot serve after Close.
func TestCloseRefusesLaterStarts(t *testing.T) {
	l, b, _ := newTestLifecycle(t)
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
	if err := l.Restart(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Restart after Close = %v, want ErrClosed", err)
	}
	if st, _ := l.State(); st.Phase != view.Stopped || b.open.Load() != 0 {
		t.Fatalf("after Close: %+v, %d open", st, b.open.Load())
	}
}
