package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/keypool"
)

// Snapshot returns the application's current state and a channel that is
// closed once a newer snapshot exists. The snapshot was computed when
// something last changed; reading it costs nothing:
//
//	for { s, next := a.Snapshot(); show(s); <-next }
func (a *App) Snapshot() (view.Snapshot, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.snap, a.snapNext
}

// markDirty asks the watcher for a new snapshot.
func (a *App) markDirty() {
	select {
	case a.dirty <- struct{}{}:
	default:
	}
}

// watch computes a new snapshot when something changes: a lifecycle
// transition, an event on the bus (a burst is taken as one change), a
// preference, the keychain's answer, or, while the proxy serves, its
// counters (compared every interval, from atomics only).
func (a *App) watch(ctx context.Context, evs <-chan events.Event) {
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	var last []proxy.Counters
	var lastWritten uint64 // ledger rows written, so today's usage follows them
	_, transition := a.lc.State()
	for {
		select {
		case <-ctx.Done():
			return
		case <-transition:
		case e := <-evs:
			a.onEvent(e)
		drain:
			for {
				select {
				case e := <-evs:
					a.onEvent(e)
				default:
					break drain
				}
			}
		case <-a.dirty:
		case <-tick.C:
			ps := a.Proxy()
			if ps == nil {
				continue
			}
			now := ps.Counters()
			written := a.ledgerWritten()
			if slices.Equal(now, last) && written == lastWritten {
				continue
			}
			last, lastWritten = now, written
		}
		var s view.Snapshot
		s, transition = a.compute()
		a.publish(s)
	}
}

// onEvent reacts to what the snapshot cannot see by itself.
func (a *App) onEvent(e events.Event) {
	switch e.Kind {
	case events.KeysChanged, events.KeychainError:
		a.kickKeys()
	}
}

// publish makes s the current snapshot unless nothing changed.
func (a *App) publish(s view.Snapshot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if reflect.DeepEqual(a.snap, s) {
		return
	}
	a.snap = s
	close(a.snapNext)
	a.snapNext = make(chan struct{})
}

// compute builds a snapshot from the lifecycle, the preferences, the last
// keychain answer and, while serving, the proxy's status. It also returns
// the lifecycle's channel for the next transition after the state it used.
func (a *App) compute() (view.Snapshot, <-chan struct{}) {
	lst, transition := a.lc.State()
	a.mu.Lock()
	s := view.Snapshot{
		Version:       a.version,
		Phase:         lst.Phase,
		Since:         lst.Since,
		Addr:          a.cfg.Listen,
		Problem:       a.keyProblem,
		Notifications: a.prefs.Notifications,
		StartAtLogin:  a.startAtLogin,
		ConfigPath:    config.Path(),
		LogDir:        a.paths.Logs,
	}
	keyset := make(map[string]bool, len(a.keyset))
	for k, v := range a.keyset {
		keyset[k] = v
	}
	a.mu.Unlock()
	if lst.Phase == view.Failed {
		s.Problem = problem(lst.Err, a.cfg.Listen)
	}
	pool := map[string]string{} // key name -> its pool state when not ready
	if ps := proxyOf(lst.Server); ps != nil {
		st := ps.Status()
		s.Addr = st.Addr
		if sh := st.Shared; sh != nil {
			s.Shared, s.SharedWhy = sh.State, sh.Why
			if sh.State == "connected" {
				s.Team = len(sh.Instances)
			}
		}
		for _, u := range st.Upstreams {
			s.Upstreams = append(s.Upstreams, view.Upstream{
				Name: u.Name, URL: u.URL, Health: u.State, Requests: u.Requests, Retries: u.Retries,
				InFlight: int(u.InFlight), Cookies: u.CookieCount, LastStatus: u.LastStatus,
				Circuit: view.CircuitOf(u.Breaker), Fallbacks: u.Fallbacks, RateLimits: u.RateLimits,
			})
			for _, k := range u.KeyPool {
				if p := poolNote(k); p != "" && pool[k.Name] == "" {
					pool[k.Name] = p
				}
			}
		}
		for k, v := range st.Keys {
			keyset[k] = v
		}
	} else {
		for _, u := range a.cfg.Upstreams {
			s.Upstreams = append(s.Upstreams, view.Upstream{Name: u.Name, URL: u.URL.String(), Cookies: a.store.Jar(u.Name).Len(), Fallbacks: u.Fallbacks})
		}
	}
	s.BaseURL = "http://" + s.Addr
	s.Today = a.todayUsage()
	users := KeyUsers(a.cfg)
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.Keys = append(s.Keys, view.Key{Name: n, Set: keyset[n], UsedBy: users[n], Pool: pool[n]})
	}
	return s, transition
}

// problem is the one line the tray shows for a lifecycle failure.
func problem(err error, listen string) string {
	if errors.Is(err, proxy.ErrPortInUse) {
		_, port, splitErr := net.SplitHostPort(listen)
		if splitErr != nil {
			port = listen
		}
		return fmt.Sprintf("Port %s is in use", port)
	}
	return oneLine(err)
}

// poolNote is a pool key's state for the tray: "" when ready, else
// "cooling until 14:03:10: 429" (the reason after the colon) or "refused: 401".
func poolNote(k keypool.KeyStatus) string {
	switch {
	case k.State == keypool.StateRefused:
		return "refused: " + k.Why
	case k.State == keypool.StateCooling && k.Until != nil:
		note := "cooling until " + k.Until.Local().Format(time.TimeOnly)
		if k.Why != "" {
			note += ": " + k.Why
		}
		return note
	}
	return ""
}

// oneLine keeps the first line of an error for the tray's status line.
func oneLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
