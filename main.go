// Command clearway is a desktop tray app that runs a local, cookie-persistent
// proxy for LLM APIs. See README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `clearway: a local, cookie-persistent proxy for LLM APIs

Usage:
  clearway                          tray icon + proxy (headless when there is no tray)
  clearway serve [--config FILE] [--listen ADDR]
                                    run the proxy in the foreground
  clearway status [--json]          show the running proxy's state
  clearway token [--rotate]         print (or replace) the local client token
  clearway keys set NAME            store an API key (read from standard input)
  clearway keys list                key names, which upstreams use them, set or missing
  clearway keys delete NAME         remove an API key
  clearway cookies list [UPSTREAM] [--show-values] [--json]
  clearway cookies clear [--unpin-ua] [UPSTREAM]
  clearway cookies import FILE      Netscape cookies.txt (curl -c, browser export)
  clearway cookies export FILE
  clearway config path|check|default
                                    where the config is, check it (and list the upstreams), the default
  clearway doctor [--json] [--config FILE]
                                    check this machine (config, port, desktop, keychain, folders,
                                    cookies, network to each upstream) and say how to fix what is wrong
  clearway usage [--since 24h|7d|30d|DATE] [--by day|model|client|upstream] [--json|--csv]
                                    tokens, requests and estimated cost from the usage ledger
  clearway dashboard [--print]      open the dashboard in the browser (--print: print its one-time link)
  clearway version

Files: config $XDG_CONFIG_HOME/clearway/config.yaml (or $CLEARWAY_CONFIG),
cookies $XDG_DATA_HOME/clearway/cookies.json, usage ledger $XDG_DATA_HOME/clearway/usage.db, logs $XDG_STATE_HOME/clearway/.
`

// exitError carries a process exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	if len(os.Args) > 1 {
		attachConsole() // command-line use of the GUI build on Windows
	}
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errUsageShown) {
		fmt.Fprintln(os.Stderr, "clearway:", err)
	}
	os.Exit(code)
}

// errUsageShown ends a command that already printed its usage.
var errUsageShown = errors.New("usage shown")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cmdApp(stderr)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(rest, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionInfo())
		return nil
	case "keys":
		return cmdKeys(rest, stdin, stdout, stderr)
	case "token":
		return cmdToken(rest, stdout, stderr)
	case "cookies":
		return cmdCookies(rest, stdout)
	case "usage":
		return cmdUsage(rest, stdout, stderr)
	case "status":
		return cmdStatus(rest, stdout)
	case "config":
		return cmdConfig(rest, stdout)
	case "dashboard":
		return cmdDashboard(rest, stdout)
	case "doctor":
		return cmdDoctor(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &exitError{2, fmt.Errorf("unknown command %q", cmd)}
	}
}
