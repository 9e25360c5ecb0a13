package health

import (
	"encoding/json"
	"testing"
)

func TestJSONWordsRoundTrip(t *testing.T) {
	for h, want := range map[Health]string{Idle: `"idle"`, OK: `"ok"`, Retrying: `"retrying"`, Failing: `"failing"`} {
		b, err := json.Marshal(h)
		if err != nil || string(b) != want {
			t.Errorf("Marshal(%d) = %s, %v; want %s", h, b, err, want)
		}
		var back Health
		if err := json.Unmarshal(b, &back); err != nil || back != h {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back, err, h)
		}
	}
}

func TestUnknownWordIsAnError(t *testing.T) {
	var h Health
	if err := json.Unmarshal([]byte(`"sleepy"`), &h); err == nil {
		t.Fatal("no error for an unknown state")
	}
	if got := Health(42).String(); got != "idle" {
		t.Errorf("out of range reads %q, want idle", got)
	}
}
