package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/instance"
	"github.com/clearway/clearway/proxy/keychain"
	"github.com/clearway/clearway/proxy/ledger"
)

// keychainTimeout bounds every keychain call: a misconfigured Linux session can
// block one for 120 s.
const keychainTimeout = 5 * time.Second

// openKeychain returns the key store: the OS keychain, or the environment when
// CLEARWAY_KEYCHAIN=env.
func openKeychain(log *slog.Logger) keychain.Store {
	return keychain.New(keychain.Options{Timeout: keychainTimeout, Logger: log})
}

// clientToken returns the client token when the config requires one.
func clientToken(cfg *config.Config, keys keychain.Store) (string, error) {
	if !cfg.ClientToken {
		return "", nil
	}
	tok, _, err := keychain.ClientToken(keys)
	if err != nil {
		return "", fmt.Errorf("client token: %w\n(or set client_token: false in %s to accept any local client)", err, configShown(cfg))
	}
	return tok, nil
}

func configShown(cfg *config.Config) string {
	if cfg.Source == config.EmbeddedSource {
		return config.Path()
	}
	return cfg.Source
}

// proxyRuntime is everything one running proxy needs besides the tray: the
// lock on the data folder, the cookie store and its saver, the server.
type proxyRuntime struct {
	cfg    *config.Config
	log    *slog.Logger
	bus    *events.Bus
	keys   keychain.Store
	lock   *instance.Lock
	store  *cookiejar.Store
	server *proxy.Server
	ledger *ledger.Ledger // nil: usage is not recorded
}

// openRuntime takes the instance lock and opens the cookie store. The caller
// must call close.
func openRuntime(cfg *config.Config, log *slog.Logger, bus *events.Bus) (*proxyRuntime, error) {
	lock, err := instance.Acquire(dataDir(), instance.Info{PID: os.Getpid(), Started: time.Now(), Version: shortVersion(), ClientToken: cfg.ClientToken})
	if err != nil {
		return nil, err
	}
	store, err := cookiejar.Open(cookiejar.Options{
		Path:      cookiesPath(),
		SaveDelay: cfg.SaveDelay,
		Logger:    log,
		OnSave: func(err error) {
			if err != nil {
				bus.Publish(events.Event{Kind: events.SaveFailed, Err: err.Error()})
				return
			}
			bus.Publish(events.Event{Kind: events.CookiesSaved})
		},
		OnChange: func(upstream string) { bus.Publish(events.Event{Kind: events.CookiesChanged, Upstream: upstream}) },
	})
	if err != nil {
		_ = lock.Release()
		return nil, fmt.Errorf("cookie jars: %w", err)
	}
	return &proxyRuntime{cfg: cfg, log: log, bus: bus, keys: openKeychain(log), lock: lock, store: store,
		ledger: app.OpenLedger(cfg, app.UsagePath(dataDir()), log)}, nil
}

// newServer builds a proxy server over the runtime's store and keychain.
func (rt *proxyRuntime) newServer() (*proxy.Server, error) {
	tok, err := clientToken(rt.cfg, rt.keys)
	if err != nil {
		return nil, err
	}
	opts := proxy.Options{
		Config:      rt.cfg,
		Cookies:     rt.store,
		Keys:        rt.keys,
		KeyNotFound: func(err error) bool { return errors.Is(err, keychain.ErrNotFound) },
		Token:       tok,
		TokenName:   keychain.ClientTokenName,
		MissingKey:  missingKeyHint(rt.keys),
		Bus:         rt.bus,
		Logger:      rt.log,
		Version:     shortVersion(),
	}
	app.LedgerOptions(&opts, rt.ledger)
	return proxy.New(opts)
}

// serve runs srv until ctx ends, recording its address in the lock file.
func (rt *proxyRuntime) serve(ctx context.Context, srv *proxy.Server) error {
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
		if err := rt.lock.SetAddr(srv.Addr()); err != nil {
			rt.log.Warn("could not record the address in the lock file", "err", err)
		}
	case err := <-done:
		return err
	}
	err := <-done
	_ = rt.lock.SetAddr("")
	return err
}

// close writes the queued usage rows, saves the jars and releases the lock.
func (rt *proxyRuntime) close() {
	if rt.ledger != nil {
		if err := rt.ledger.Close(); err != nil {
			rt.log.Warn("usage ledger: closing", "err", err)
		}
	}
	if err := rt.store.Close(); err != nil {
		rt.log.Warn("could not save cookies on exit", "err", err)
	}
	_ = rt.lock.Release()
}

// missingKeyHint says how to provide a key with the key store in use: the
// keychain CLI, or the environment variable of the env fallback.
func missingKeyHint(keys keychain.Store) func(name string) string {
	if keys.Backend() == keychain.BackendEnv {
		return func(name string) string {
			return "set " + keychain.EnvVar(name) + " in clearway's environment (CLEARWAY_KEYCHAIN=env)"
		}
	}
	return func(name string) string { return "run `clearway keys set " + name + "`" }
}
