package app

import (
	"context"
	"errors"
	"sort"

	"github.com/clearway/clearway/proxy/keychain"
)

// kickKeys asks the key refresher for a pass.
func (a *App) kickKeys() {
	select {
	case a.keysKick <- struct{}{}:
	default:
	}
}

// refreshKeys asks the keychain which of the config's keys are set,
// whenever kicked (at start, after a key changed here, when the proxy says
// keys changed or the keychain failed), one pass at a time, off every UI's
// path: a keychain call can take seconds.
func (a *App) refreshKeys(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.keysKick:
		}
		users := KeyUsers(a.cfg)
		names := make([]string, 0, len(users))
		for n := range users {
			names = append(names, n)
		}
		sort.Strings(names)
		set := make(map[string]bool, len(names))
		var kerr error
		for _, name := range names {
			_, err := a.keys.Get(name)
			set[name] = err == nil
			if err != nil && !errors.Is(err, keychain.ErrNotFound) && kerr == nil {
				kerr = err
			}
		}
		a.mu.Lock()
		a.keyset = set
		a.keyProblem = ""
		if kerr != nil {
			a.keyProblem = "Keychain: " + oneLine(kerr)
		}
		a.mu.Unlock()
		a.markDirty()
	}
}
