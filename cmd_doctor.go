package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/adrg/xdg"
	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/doctor"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keychain"
)

// cmdDoctor checks the machine and prints each check with its fix. It exits 1
// when a check failed.
func cmdDoctor(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "one JSON object per check: name, status (ok|warn|fail), detail, fix")
	cfgPath := fs.String("config", "", "config file to check (default $CLEARWAY_CONFIG or $XDG_CONFIG_HOME/clearway/config.yaml)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("doctor takes no arguments, got %q", fs.Args())}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rs := doctor.Run(ctx, doctorOptions(*cfgPath))
	var err error
	if *asJSON {
		err = doctor.WriteJSON(stdout, rs)
	} else {
		err = doctor.WriteText(stdout, rs)
	}
	if err != nil {
		return err
	}
	if n := doctor.Failed(rs); n > 0 {
		return &exitError{1, fmt.Errorf("doctor: %d %s failed", n, map[bool]string{true: "check", false: "checks"}[n == 1])}
	}
	return nil
}

// doctorOptions points the checks at the files and services this clearway
// uses.
func doctorOptions(cfgPath string) doctor.Options {
	cfg, err := config.Load(cfgPath)
	shown := cfgPath
	if shown == "" {
		shown = config.Path()
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil)) // the env backend's warning is a check line here
	return doctor.Options{
		Config:      cfg,
		ConfigErr:   err,
		ConfigPath:  shown,
		Keys:        keychain.New(keychain.Options{Timeout: app.KeychainTimeout, Logger: quiet}),
		TokenFile:   app.DefaultPaths().TokenFile(),
		DataDir:     app.DefaultPaths().Data,
		StateDir:    app.DefaultPaths().Logs,
		ConfigDir:   filepath.Join(xdg.ConfigHome, "clearway"),
		CookiesPath: app.DefaultPaths().Cookies,
		UsagePath:   filepath.Join(app.DefaultPaths().Data, "usage.db"),
	}
}

// diagnose runs the doctor's checks for the tray's "Run diagnostics".
func diagnose(ctx context.Context) (report, summary string, problems []string) {
	rs := doctor.Run(ctx, doctorOptions(""))
	var b strings.Builder
	_ = doctor.WriteText(&b, rs)
	return b.String(), doctor.Summary(rs), doctor.Problems(rs)
}
