package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/clearway/clearway/app/view"
)

// Server is one proxy server as the Lifecycle runs it; *proxy.Server
// satisfies it. Run is called at most once per Server.
type Server interface {
	// Run serves until ctx ends, then shuts down and returns nil, or returns
	// why it could not serve (listening failed) or stopped by itself.
	Run(ctx context.Context) error
	// Ready is closed once the server accepts connections.
	Ready() <-chan struct{}
	// Addr is the address it listens on, once Ready is closed.
	Addr() string
}

// Builder builds a fresh Server for one start. It may be slow (it reads the
// keychain) and may ignore ctx, which ends when a Stop abandons the start: the
// Lifecycle then never runs the server it returns.
type Builder func(ctx context.Context) (Server, error)

// Clock tells the time; the Lifecycle stamps its transitions with it.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// ErrClosed is returned by Start and Restart after Close.
var ErrClosed = errors.New("the application is shutting down")

// ErrEndedByItself is the reason a server that returned from Run without
// being asked to (and without an error) is Failed.
var ErrEndedByItself = errors.New("the proxy stopped by itself")

// State is the Lifecycle's state at one moment. The zero value is Stopped.
type State struct {
	Phase  view.Phase
	Since  time.Time // when Phase was entered
	Server Server    // the serving server while Running, else nil
	Err    error     // why it Failed; nil in every other phase
}

// Lifecycle starts and stops the proxy server as one state machine with the
// phases of view.Phase. Whatever order Start, Stop and Restart arrive in,
// from any goroutines, the last one wins: a Stop during a Start ends Stopped
// with no server serving (a server built after the Stop is never run), a
// Start during a Stop ends Running on a new server, a server that ends by
// itself moves to Failed with the reason. Each start runs on one goroutine
// that exists only while a server is being built or run.
//
// Build it with NewLifecycle; it is safe for concurrent use.
type Lifecycle struct {
	build Builder
	clock Clock

	mu      sync.Mutex
	st      State
	want    bool               // the last request: serve (Start, Restart) or not (Stop)
	closed  bool               // Close was called: no more starts
	cancel  context.CancelFunc // ends the current attempt's build and run; nil when none
	changed chan struct{}      // closed at the next transition, then replaced
}

// NewLifecycle returns a stopped Lifecycle that builds servers with build.
// A nil clock means the wall clock.
func NewLifecycle(build Builder, clock Clock) *Lifecycle {
	if clock == nil {
		clock = wallClock{}
	}
	return &Lifecycle{build: build, clock: clock, st: State{Since: clock.Now()}, changed: make(chan struct{})}
}

// State returns the current state and a channel that is closed at the next
// transition, so a watcher never misses one:
//
//	for { st, next := l.State(); show(st); <-next }
func (l *Lifecycle) State() (State, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st, l.changed
}

// Start starts a server unless one runs, and waits until it serves (nil),
// fails (its error), or a later Stop overrides it (nil).
func (l *Lifecycle) Start() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.want = true
	switch l.st.Phase {
	case view.Running:
		l.mu.Unlock()
		return nil
	case view.Stopped, view.Failed:
		l.beginLocked()
		// Starting: joins that start. Stopping: the attempt ending starts again.
	}
	return l.waitSettled()
}

// Restart replaces the serving server with a fresh one (re-reading what the
// Builder reads), or starts one when none runs, and waits like Start.
func (l *Lifecycle) Restart() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.want = true
	switch l.st.Phase {
	case view.Stopped, view.Failed:
		l.beginLocked()
	case view.Starting, view.Running:
		l.stopLocked() // the attempt ending sees want and begins anew
	}
	return l.waitSettled()
}

// Stop stops the server, or abandons the start under way, and waits until
// no server serves: the port is closed when it returns (unless a later
// Start took over). A Failed lifecycle becomes Stopped.
func (l *Lifecycle) Stop() error {
	l.mu.Lock()
	return l.stop()
}

// Close stops like Stop, and every later Start or Restart returns
// ErrClosed, so a start racing with the application's exit cannot serve
// after it.
func (l *Lifecycle) Close() error {
	l.mu.Lock()
	l.closed = true
	return l.stop()
}

// stop is Stop with l.mu held; it releases it.
func (l *Lifecycle) stop() error {
	l.want = false
	switch l.st.Phase {
	case view.Stopped:
		l.mu.Unlock()
		return nil
	case view.Failed:
		l.setLocked(view.Stopped, nil, nil)
		l.mu.Unlock()
		return nil
	case view.Starting, view.Running:
		l.stopLocked()
	}
	for {
		if l.st.Phase != view.Stopping {
			l.mu.Unlock()
			return nil
		}
		next := l.changed
		l.mu.Unlock()
		<-next
		l.mu.Lock()
	}
}

// waitSettled is called with l.mu held and releases it. It waits until the
// phase is Running, Failed or Stopped.
func (l *Lifecycle) waitSettled() error {
	for {
		switch l.st.Phase {
		case view.Running, view.Stopped:
			l.mu.Unlock()
			return nil
		case view.Failed:
			err := l.st.Err
			l.mu.Unlock()
			return err
		}
		next := l.changed
		l.mu.Unlock()
		<-next
		l.mu.Lock()
	}
}

// setLocked enters phase and wakes every watcher.
func (l *Lifecycle) setLocked(phase view.Phase, srv Server, err error) {
	l.st = State{Phase: phase, Since: l.clock.Now(), Server: srv, Err: err}
	close(l.changed)
	l.changed = make(chan struct{})
}

// stopLocked moves a Starting or Running lifecycle to Stopping and ends its
// attempt.
func (l *Lifecycle) stopLocked() {
	l.setLocked(view.Stopping, nil, nil)
	l.cancel()
}

// beginLocked enters Starting and launches one attempt.
func (l *Lifecycle) beginLocked() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.setLocked(view.Starting, nil, nil)
	go l.attempt(ctx)
}

// attempt builds one server, runs it until ctx ends or it ends by itself,
// and then decides the next phase.
func (l *Lifecycle) attempt(ctx context.Context) {
	srv, err := l.build(ctx)
	if err == nil && ctx.Err() == nil {
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		select {
		case <-srv.Ready():
			l.mu.Lock()
			if l.st.Phase == view.Starting { // not abandoned meanwhile
				l.setLocked(view.Running, srv, nil)
			}
			l.mu.Unlock()
			err = <-done
		case err = <-done:
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancel()
	l.cancel = nil
	switch {
	case l.st.Phase == view.Stopping && l.want: // Start during Stop, or Restart
		l.beginLocked()
	case l.st.Phase == view.Stopping:
		l.setLocked(view.Stopped, nil, nil)
	default: // the build failed, or the server could not serve or ended unasked
		if err == nil {
			err = ErrEndedByItself
		}
		l.want = false
		l.setLocked(view.Failed, nil, err)
	}
}
