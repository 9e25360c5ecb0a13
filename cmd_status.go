package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/breaker"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keypool"
	"github.com/clearway/clearway/proxy/shared"
)

// cmdStatus asks the running instance for its state and prints it.
func cmdStatus(args []string, stdout io.Writer) error {
	asJSON := len(args) == 1 && args[0] == "--json"
	if len(args) > 0 && !asJSON {
		return &exitError{2, fmt.Errorf("status: unknown argument %q (want --json or nothing)", args[0])}
	}
	cfg, err := config.Load("")
	if err != nil {
		return err
	}
	c, err := runningInstance(cfg)
	if err != nil {
		return &exitError{3, err}
	}
	ctx, cancel := adminCtx()
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return writeIndentedJSON(stdout, st)
	}
	fmt.Fprintf(stdout, "clearway %s serving on http://%s since %s (client token %s)\n", st.Version, st.Addr,
		st.Started.Local().Format(time.DateTime), map[bool]string{true: "required", false: "off"}[st.ClientToken])
	if st.CookiesSavedAt != nil {
		fmt.Fprintf(stdout, "cookies saved %s to %s\n", st.CookiesSavedAt.Local().Format(time.DateTime), st.CookiesFile)
	}
	if u := st.Usage; u != nil {
		fmt.Fprintf(stdout, "usage ledger %s: %d rows written, %d queued, %d dropped", u.Path, u.Written, u.Queued, u.Dropped)
		if u.Error != "" {
			fmt.Fprintf(stdout, " (writes failing: %s)", u.Error)
		}
		fmt.Fprintln(stdout)
	}
	if sh := st.Shared; sh != nil {
		printShared(stdout, sh)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UPSTREAM\tSTATE\tREQUESTS\tRETRIES\tFAILURES\tLAST\tQUEUE\tCOOKIES\tFALLBACKS\tKEY")
	for _, u := range st.Upstreams {
		key := keysLabel(u, st.Keys)
		state := u.State.String()
		if u.Breaker == breaker.Open || u.Breaker == breaker.HalfOpen {
			state += ", circuit " + u.Breaker
		}
		fallbacks := "-"
		if len(u.Fallbacks) > 0 {
			fallbacks = strings.Join(u.Fallbacks, ",")
		}
		last := "-"
		if u.LastStatus != 0 {
			last = fmt.Sprint(u.LastStatus)
		}
		cookies := fmt.Sprint(u.CookieCount)
		if len(u.CookieNames) > 0 {
			cookies += " (" + strings.Join(u.CookieNames, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", u.Name, state, u.Requests, u.Retries, u.Failures, last, u.QueueLength, cookies, fallbacks, key)
	}
	return tw.Flush()
}

// keysLabel describes an upstream's keys by name and state, never by value:
// "a (ready), b (cooling until 14:03:10), c (refused: 401), d (missing)".
// set says which key names the keychain holds.
func keysLabel(u proxy.UpstreamStatus, set map[string]bool) string {
	if len(u.KeyPool) == 0 {
		if u.Key == "" {
			return "-"
		}
		return u.Key + map[bool]string{true: " (set)", false: " (missing)"}[set[u.Key]]
	}
	parts := make([]string, 0, len(u.KeyPool))
	for _, k := range u.KeyPool {
		state := k.State
		switch {
		case !set[k.Name]:
			state = "missing"
		case k.State == keypool.StateCooling && k.Until != nil:
			state = "cooling until " + k.Until.Local().Format(time.TimeOnly)
			if k.Why != "" {
				state += ": " + k.Why
			}
		case k.State == keypool.StateRefused:
			state = "refused: " + k.Why
		}
		parts = append(parts, k.Name+" ("+state+")")
	}
	return strings.Join(parts, ", ")
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printShared prints the team's shared limits: the state and the live
// instances with their in-flight requests.
func printShared(w io.Writer, sh *shared.Status) {
	state := sh.State
	if sh.Why != "" {
		state += " (" + sh.Why + ")"
	}
	fmt.Fprintf(w, "shared: %s, namespace %s on %s\n", state, sh.Namespace, sh.Redis)
	if len(sh.Instances) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  INSTANCE\tUSER\tHOST\tIN FLIGHT\tSINCE")
	for _, in := range sh.Instances {
		id := in.ID
		if in.Self {
			id += " (this one)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", id, in.User, in.Host, in.InFlight, in.Started.Local().Format(time.DateTime))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
}
