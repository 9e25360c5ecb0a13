package view

import "testing"

func TestPhaseWords(t *testing.T) {
	for p, want := range map[Phase]string{Stopped: "stopped", Starting: "starting", Running: "running", Stopping: "stopping", Failed: "failed", Phase(9): "unknown"} {
		if got := p.String(); got != want {
			t.Errorf("Phase(%d) = %q, want %q", p, got, want)
		}
	}
	if !Starting.Busy() || !Stopping.Busy() || Running.Busy() || Stopped.Busy() || Failed.Busy() {
		t.Error("Busy is true exactly for Starting and Stopping")
	}
	if (Snapshot{Phase: Running}).Running() != true || (Snapshot{Phase: Starting}).Running() {
		t.Error("Running() is Phase == Running")
	}
}

func TestPrefWords(t *testing.T) {
	if Notifications.String() != "notifications" || StartAtLogin.String() != "start_at_login" || Pref(0).String() != "unknown" {
		t.Error("preference names changed")
	}
}
