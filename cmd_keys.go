package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keychain"
)

// cmdKeys manages API keys in the keychain.
func cmdKeys(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New("keys: want set NAME, list or delete NAME")}
	}
	cfg, err := config.Load("")
	if err != nil {
		return err
	}
	keys := app.OpenKeychain(nil)
	switch args[0] {
	case "set":
		if len(args) != 2 {
			return &exitError{2, errors.New("usage: clearway keys set NAME  (the key is read from standard input)")}
		}
		name := args[1]
		if err := keychain.ValidName(name); err != nil {
			return err
		}
		secret, err := readSecret(stdin, stderr, name)
		if err != nil {
			return err
		}
		if err := keys.Set(name, secret); err != nil {
			return fmt.Errorf("keys set %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "saved key %q in the %s (%d characters)\n", name, backendName(keys), len(secret))
		if users := app.KeyUsers(cfg)[name]; len(users) == 0 {
			fmt.Fprintf(stdout, "note: no upstream in %s uses key %q yet\n", app.ConfigShown(cfg), name)
		}
		tellRunning(cfg, stdout)
		return nil
	case "list":
		return listKeys(cfg, keys, stdout)
	case "delete", "rm", "remove":
		if len(args) != 2 {
			return &exitError{2, errors.New("usage: clearway keys delete NAME")}
		}
		if err := keys.Delete(args[1]); err != nil {
			if errors.Is(err, keychain.ErrNotFound) {
				return fmt.Errorf("no key %q in the %s", args[1], backendName(keys))
			}
			return fmt.Errorf("keys delete %s: %w", args[1], err)
		}
		fmt.Fprintf(stdout, "deleted key %q\n", args[1])
		tellRunning(cfg, stdout)
		return nil
	default:
		return &exitError{2, fmt.Errorf("keys: unknown subcommand %q (want set, list or delete)", args[0])}
	}
}

// readSecret reads a key from stdin: without echo at a terminal, else the
// whole input with the trailing newline removed.
func readSecret(stdin io.Reader, stderr io.Writer, name string) (string, error) {
	var secret string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "Paste the key for %q (it will not be shown), then press Enter: ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the key: %w", err)
		}
		secret = string(b)
	} else {
		r := bufio.NewReader(io.LimitReader(stdin, 64<<10))
		b, err := io.ReadAll(r)
		if err != nil {
			return "", fmt.Errorf("reading the key from standard input: %w", err)
		}
		secret = string(b)
	}
	secret = strings.TrimRight(secret, "\r\n")
	if strings.TrimSpace(secret) == "" {
		return "", errors.New("the key is empty: pipe it in, e.g. `printf %s \"$KEY\" | clearway keys set NAME`")
	}
	if strings.ContainsAny(secret, "\r\n") {
		return "", errors.New("the key has a line break in it; give one key on one line")
	}
	return secret, nil
}

func backendName(k keychain.Store) string {
	if k.Backend() == "env" {
		return "environment (CLEARWAY_KEYCHAIN=env)"
	}
	return "keychain"
}

func listKeys(cfg *config.Config, keys keychain.Store, stdout io.Writer) error {
	users := app.KeyUsers(cfg)
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATE\tUSED BY")
	var firstErr error
	for _, n := range names {
		state := "set"
		if _, err := keys.Get(n); errors.Is(err, keychain.ErrNotFound) {
			state = "missing (clearway keys set " + n + ")"
		} else if err != nil {
			state = "unknown"
			if firstErr == nil {
				firstErr = err
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n, state, strings.Join(users[n], ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if firstErr != nil {
		return firstErr
	}
	return nil
}

// tellRunning asks a running instance to re-read its keys, so a change takes
// effect at once. With none running there is nothing to do.
func tellRunning(cfg *config.Config, stdout io.Writer) {
	c, err := runningInstance(cfg)
	if err != nil {
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	if _, err := c.ReloadKeys(ctx); err != nil {
		fmt.Fprintf(stdout, "warning: the running clearway did not reload its keys: %v\n", err)
		return
	}
	fmt.Fprintln(stdout, "the running clearway now uses it")
}
