package main

import (
	"fmt"
	"io"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keychain"
)

// cmdToken prints the local client token, or replaces it with --rotate. When
// no keychain is reachable it says on stderr where the token is kept instead.
func cmdToken(args []string, stdout, stderr io.Writer) error {
	rotate := false
	for _, a := range args {
		switch a {
		case "--rotate", "-rotate":
			rotate = true
		default:
			return &exitError{2, fmt.Errorf("token: unknown argument %q (want --rotate or nothing)", a)}
		}
	}
	keys := app.OpenKeychain(nil)
	file := app.DefaultPaths().TokenFile()
	where := func(tok keychain.Token) {
		if tok.File != "" {
			fmt.Fprintf(stderr, "(no keychain here: %s; the token is kept in %s)\n", tok.Why, tok.File)
		}
	}
	if !rotate {
		tok, err := keychain.ClientTokenOrFile(keys, file)
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		fmt.Fprintln(stdout, tok.Value)
		where(tok)
		return nil
	}
	// Reach a running instance with the OLD token first, so it can be told to
	// re-read the token once the new one is stored.
	var running *api.Client
	if cfg, err := config.Load(""); err == nil {
		running, _ = runningInstance(cfg)
	}
	tok, err := keychain.RotateClientTokenOrFile(keys, file)
	if err != nil {
		return fmt.Errorf("token --rotate: %w", err)
	}
	fmt.Fprintln(stdout, tok.Value)
	where(tok)
	if running != nil {
		ctx, cancel := adminCtx()
		defer cancel()
		if _, err := running.ReloadKeys(ctx); err != nil {
			return fmt.Errorf("the new token is stored, but the running clearway did not reload it (restart it): %w", err)
		}
	}
	return nil
}
