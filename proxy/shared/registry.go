package shared

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearway/clearway/proxy/api"
)

// Instance is one live clearway of the namespace (api.Instance).
type Instance = api.Instance

// recordTTL is how long an instance's record outlives its last heartbeat.
func (c *Client) recordTTL() time.Duration {
	return 3 * min(c.opts.Lease/3, 2*time.Second)
}

func (c *Client) heartbeat() error {
	ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
	defer cancel()
	return c.heartbeatCtx(ctx)
}

// heartbeatCtx writes this instance's record and renews its leases.
func (c *Client) heartbeatCtx(ctx context.Context) error {
	host, _ := os.Hostname()
	rec := Instance{ID: c.id, User: c.opts.User, Host: host, Version: c.opts.Version, Started: c.started}
	if c.opts.InFlight != nil {
		rec.InFlight = c.opts.InFlight()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	pipe := c.rdb.Pipeline()
	pipe.Set(ctx, c.prefix+"instance:"+c.id, b, c.recordTTL())
	pipe.SAdd(ctx, c.prefix+"instances", c.id)
	c.mu.Lock()
	for key, ids := range c.leases {
		if len(ids) == 0 {
			delete(c.leases, key)
			continue
		}
		args := []any{c.opts.Lease.Milliseconds()}
		for id := range ids {
			args = append(args, id)
		}
		renewScript.Eval(ctx, pipe, []string{key}, args...) // EVAL: a pipeline cannot fall back from EVALSHA
	}
	c.mu.Unlock()
	_, err = pipe.Exec(ctx)
	return err
}

// Instances lists the namespace's live instances, this one included, by
// user then id. It waits on Redis for at most a second.
func (c *Client) Instances(ctx context.Context) ([]Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, backgroundTimeout)
	defer cancel()
	ids, err := c.rdb.SMembers(ctx, c.prefix+"instances").Result()
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	out := []Instance{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = c.prefix + "instance:" + id
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	var gone []any
	for i, v := range vals {
		s, ok := v.(string)
		var in Instance
		if !ok || json.Unmarshal([]byte(s), &in) != nil {
			gone = append(gone, ids[i])
			continue
		}
		in.Self = in.ID == c.id
		out = append(out, in)
	}
	if len(gone) > 0 {
		_ = c.rdb.SRem(ctx, c.prefix+"instances", gone...).Err()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out, nil
}

// renewScript pushes the expiry of the leases still in the set (ARGV[2:])
// to now + ARGV[1] ms, on Redis's clock.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local exp = now + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', exp, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[1]))
return 1
`)
