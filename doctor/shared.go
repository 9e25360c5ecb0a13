package doctor

import (
	"context"
	"fmt"

	"github.com/clearway/clearway/proxy/shared"
)

// checkShared: with a shared: block, the team's Redis answers and takes the
// password. A Redis that does not only costs the shared limits (clearway
// runs on its local ones), so it is a warning.
func checkShared(ctx context.Context, o *Options) []Result {
	if o.Config == nil || !o.Config.Shared.Enabled() {
		return nil
	}
	sc := o.Config.Shared
	r := Result{Name: "shared-redis"}
	where := sc.Redacted() + " (namespace " + sc.Namespace + ")"
	url, err := shared.ExpandURL(sc.Redis, func(name string) (string, error) {
		if o.Keys == nil {
			return "", fmt.Errorf("no key store to read it from")
		}
		return o.Keys.Get(name)
	})
	if err != nil {
		r.Status, r.Detail = Warn, err.Error()
		r.Fix = "run `clearway keys set " + sc.KeyName() + "` with the team's Redis password"
		return []Result{r}
	}
	c, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	live, err := shared.Probe(c, url, sc.Namespace, o.Roots)
	if err != nil {
		r.Status, r.Detail = Warn, where+": "+err.Error()+"; limits are not shared, each clearway keeps its own"
		r.Fix = "check shared.redis in " + configFile(o) + ", the password, and that the Redis server is up and reachable"
		return []Result{r}
	}
	r.Status, r.Detail = OK, fmt.Sprintf("%s answers; %d %s of the team live", where, live, plural(live, "clearway", "clearways"))
	return []Result{r}
}
