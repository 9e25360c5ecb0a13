package main

import (
	"fmt"
	"io"

	"github.com/clearway/clearway/internal/opener"
	"github.com/clearway/clearway/proxy/config"
)

// cmdDashboard opens the running clearway's dashboard in the default browser
// through a one-time login link (single use, 60 s), or prints the link with
// --print (over SSH, in scripts and tests). The client token never appears
// in the link.
func cmdDashboard(args []string, stdout io.Writer) error {
	printOnly := false
	for _, a := range args {
		switch a {
		case "--print", "-print":
			printOnly = true
		default:
			return &exitError{2, fmt.Errorf("dashboard: unknown argument %q (want --print or nothing)", a)}
		}
	}
	cfg, err := config.Load("")
	if err != nil {
		cfg = nil // the running instance's own settings decide
	}
	c, err := runningInstance(cfg)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	ctx, cancel := adminCtx()
	defer cancel()
	code, err := c.UICode(ctx)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	if printOnly {
		fmt.Fprintln(stdout, code.URL)
		return nil
	}
	if err := opener.Open(code.URL); err != nil {
		fmt.Fprintln(stdout, code.URL)
		return fmt.Errorf("dashboard: no browser could be opened (%w); open the link above within a minute", err)
	}
	fmt.Fprintln(stdout, "Opened the dashboard in your browser (the link works once, for a minute).")
	return nil
}
