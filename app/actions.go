package app

import (
	"errors"
	"fmt"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/keychain"
)

// App performs what a user interface asks.
var _ view.Actions = (*App)(nil)

// Start starts the proxy; see Lifecycle.Start.
func (a *App) Start() error { return a.lc.Start() }

// Stop stops the proxy; see Lifecycle.Stop.
func (a *App) Stop() error { return a.lc.Stop() }

// Restart replaces the serving proxy with a fresh one; see Lifecycle.Restart.
func (a *App) Restart() error { return a.lc.Restart() }

// ClearCookies forgets the cookies of upstream ("" = every upstream) and
// saves the jars at once.
func (a *App) ClearCookies(upstream string) error {
	names := make([]string, 0, len(a.cfg.Upstreams))
	for _, u := range a.cfg.Upstreams {
		names = append(names, u.Name)
	}
	proxy.ClearCookies(a.store, names, upstream)
	err := a.store.Flush()
	a.markDirty()
	return err
}

// SetKey stores an API key; a serving proxy re-reads its keys at once.
func (a *App) SetKey(name, secret string) error {
	if err := keychain.ValidName(name); err != nil {
		return err
	}
	if err := a.keys.Set(name, secret); err != nil {
		return err
	}
	a.afterKeyChange()
	return nil
}

// DeleteKey removes an API key; a missing one is not an error.
func (a *App) DeleteKey(name string) error {
	if err := a.keys.Delete(name); err != nil && !errors.Is(err, keychain.ErrNotFound) {
		return err
	}
	a.afterKeyChange()
	return nil
}

func (a *App) afterKeyChange() {
	if ps := a.Proxy(); ps != nil {
		_ = ps.ReloadKeys() // its KeysChanged or KeychainError event kicks the refresher too
	}
	a.kickKeys()
}

// ClientToken returns the local client token, creating it on first use.
func (a *App) ClientToken() (string, error) {
	tok, err := keychain.ClientTokenOrFile(a.keys, a.paths.TokenFile())
	return tok.Value, err
}

// SetPreference turns a preference on or off and keeps it: notifications
// in the preferences file, start at login through the Autostart (whose
// state is read again now, and otherwise only at Open).
func (a *App) SetPreference(p view.Pref, on bool) error {
	switch p {
	case view.Notifications:
		a.mu.Lock()
		a.prefs.Notifications = on
		saved := a.prefs
		a.mu.Unlock()
		if err := savePrefs(a.paths.Prefs, saved); err != nil {
			return err
		}
	case view.StartAtLogin:
		err := a.autostart.Set(on)
		enabled := a.autostart.Enabled()
		a.mu.Lock()
		a.startAtLogin = enabled
		a.mu.Unlock()
		a.markDirty()
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown preference %v", p)
	}
	a.markDirty()
	return nil
}
