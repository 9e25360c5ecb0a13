package proxy

import (
	"errors"
	"os"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/shared"
	"github.com/clearway/clearway/proxy/throttle"
)

// sharedStatuser is a Limiter that can say how its shared limits are
// (shared.Limiters).
type sharedStatuser interface {
	SharedStatus() shared.Status
}

// openShared builds the Limiter of a config with a shared: block: the
// team's limits on Redis over this instance's local ones. Redis being down,
// refusing the password, or the password's key missing is no error: the
// proxy starts on its local limits and says why (log, event, status).
func (s *Server) openShared(opts Options, local *throttle.Local) {
	sc := s.cfg.Shared
	ups := make(map[string]shared.Upstream, len(s.cfg.Upstreams))
	for _, up := range s.cfg.Upstreams {
		ups[up.Name] = shared.Upstream{Settings: sharedSettings(up), Keys: up.Keys}
	}
	url, err := shared.ExpandURL(sc.Redis, func(name string) (string, error) {
		if opts.Keys == nil {
			return "", errors.New("no key store")
		}
		return opts.Keys.Get(name)
	})
	if err != nil {
		s.sharedDown(sc, local, err.Error())
		return
	}
	client, err := shared.New(shared.Options{
		URL:       url,
		Namespace: sc.Namespace,
		User:      userName(),
		Version:   s.version,
		Timeout:   sc.Timeout,
		Lease:     sc.Lease,
		Logger:    s.log,
		RootCAs:   opts.RootCAs,
		Clock:     s.clock,
		InFlight:  s.inFlight.Load,
		OnChange: func(st shared.State) {
			kind := events.SharedDegraded
			if st.Connected {
				kind = events.SharedConnected
			}
			s.bus.Publish(events.Event{Kind: kind, Reason: st.Why})
		},
	})
	if err != nil {
		s.sharedDown(sc, local, err.Error())
		return
	}
	s.shared = client
	limiters := client.Limiters(ups)
	s.limiter = limiters
	if s.pools != nil {
		s.pools.pauses = limiters // keys paused by the team cool here too
	}
}

// sharedDown starts on local limits when shared ones cannot even be tried.
func (s *Server) sharedDown(sc config.Shared, local *throttle.Local, why string) {
	s.log.Warn("shared limits: not in use; this instance keeps its local limits", "redis", sc.Redacted(), "namespace", sc.Namespace, "why", why)
	s.bus.Publish(events.Event{Kind: events.SharedDegraded, Reason: why})
	s.sharedBroken = &shared.Status{State: "degraded", Why: why, Redis: sc.Redacted(), Namespace: sc.Namespace, Instances: []shared.Instance{}}
	s.limiter = local
}

// sharedStatus is the shared limits' part of Status; nil without a shared: block.
func (s *Server) sharedStatus() *shared.Status {
	if s.sharedBroken != nil {
		st := *s.sharedBroken
		return &st
	}
	if ss, ok := s.limiter.(sharedStatuser); ok {
		st := ss.SharedStatus()
		return &st
	}
	return nil
}

func sharedSettings(up config.Upstream) shared.Settings {
	return shared.Settings{
		Settings: throttle.Settings{
			PerMinute:     up.Throttle.RequestsPerMinute,
			Burst:         up.Throttle.Burst,
			MaxConcurrent: up.Throttle.MaxConcurrent,
			MaxWait:       up.Throttle.MaxQueueWait,
		},
		TokensPerMinute: up.Throttle.TokensPerMinute,
	}
}

// userName is the name teammates see for this instance.
func userName() string {
	for _, v := range []string{"USER", "LOGNAME", "USERNAME"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	return "unknown"
}
