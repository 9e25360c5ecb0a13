package proxy

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keypool"
	"github.com/clearway/clearway/proxy/seam"
)

// fixedPauses is a seam.KeyPauses with set answers.
type fixedPauses map[string]time.Time

func (f fixedPauses) PausedUntil(_, key string) time.Time { return f[key] }

// TestTeamPausesCoolOtherKeysWithoutRelabellingOwnOnes: a key another
// member paused cools here with "paused by the team"; a key this instance
// cooled itself (its own 429, which Redis hands back a millisecond later)
// keeps its own reason and end.
func TestTeamPausesCoolOtherKeysWithoutRelabellingOwnOnes(t *testing.T) {
	now := time.Now()
	k := newKeyPools(nil, []config.Upstream{{Name: "api", Keys: []string{"own", "team", "free"}}}, seam.RealClock{},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	pool := k.pools["api"]
	own := pool.Cool("own", now.Add(30*time.Second), "429")
	k.pauses = fixedPauses{"own": own.Add(time.Millisecond), "team": now.Add(20 * time.Second)}

	k.coolPausedKeys("api", pool)
	got := map[string]keypool.KeyStatus{}
	for _, ks := range pool.Status() {
		got[ks.Name] = ks
	}
	if s := got["own"]; s.Why != "429" || !s.Until.Equal(own) {
		t.Errorf("own key: %+v, want its own 429 until %v", s, own)
	}
	if s := got["team"]; s.State != keypool.StateCooling || s.Why != "paused by the team" {
		t.Errorf("team-paused key: %+v, want cooling, paused by the team", s)
	}
	if s := got["free"]; s.State != keypool.StateReady {
		t.Errorf("free key: %+v, want ready", s)
	}
	if !k.pausedByTeam("api", "team") || k.pausedByTeam("api", "free") {
		t.Error("pausedByTeam does not follow the limiter's pauses")
	}
}
