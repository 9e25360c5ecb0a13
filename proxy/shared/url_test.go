package shared

import (
	"errors"
	"strings"
	"testing"
)

func TestURLs(t *testing.T) {
	lookup := func(name string) (string, error) {
		if name == "redis" {
			return "p@ss:w/rd", nil
		}
		return "", errors.New("not set")
	}
	got, err := ExpandURL("rediss://:${key:redis}@h.example:6380/2", lookup)
	if err != nil || got != "rediss://:p%40ss%3Aw%2Frd@h.example:6380/2" {
		t.Fatalf("ExpandURL = %q, %v", got, err)
	}
	if _, err := ExpandURL("redis://:${key:other}@h:1/0", lookup); err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("missing key: %v", err)
	}
	if got, _ := ExpandURL("redis://h:1/0", lookup); got != "redis://h:1/0" {
		t.Fatalf("no reference: %q", got)
	}
	if r := Redact("redis://:hunter2@h:1/0"); strings.Contains(r, "hunter2") {
		t.Fatalf("Redact = %q", r)
	}
	for _, bad := range []string{"http://h:1", "redis://", "redis://h:1/0?x=1"} {
		if CheckURL(bad) == nil {
			t.Errorf("CheckURL(%q) accepted it", bad)
		}
	}
}
