package doctor

import (
	"context"
	"fmt"

	"github.com/clearway/clearway/proxy/config"
)

// checkConfig: the config loads, and where it came from.
func checkConfig(_ context.Context, o *Options) []Result {
	r := Result{Name: "config"}
	switch {
	case o.ConfigErr != nil:
		r.Status = Fail
		r.Detail = firstLine(o.ConfigErr.Error())
		r.Fix = fmt.Sprintf("edit %s (`clearway config check` shows the error again; `clearway config default` prints a valid starting point)", o.ConfigPath)
	case o.Config == nil:
		r.Status = Fail
		r.Detail = "no configuration was given to check"
		r.Fix = "run `clearway config check`"
	case o.Config.Source == config.EmbeddedSource:
		r.Status = OK
		r.Detail = fmt.Sprintf("built-in default (no file at %s): %s", o.ConfigPath, configSummary(o.Config))
	default:
		r.Status = OK
		r.Detail = fmt.Sprintf("%s is valid: %s", o.Config.Source, configSummary(o.Config))
	}
	return []Result{r}
}

func configSummary(c *config.Config) string {
	tok := "client token required"
	if !c.ClientToken {
		tok = "client token off"
	}
	return fmt.Sprintf("listen %s, %d %s, %s", c.Listen, len(c.Upstreams), plural(len(c.Upstreams), "upstream", "upstreams"), tok)
}
