package proxy

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestClientValueBoundedAndQuoted(t *testing.T) {
	cases := []string{
		"", "same-origin", strings.Repeat("a", 1<<20), strings.Repeat("\x00", 5000),
		strings.Repeat("é", 300), strings.Repeat("\U0001F600", 100), "line\nforged=1 level=ERROR",
		"\x1b[31mred", strings.Repeat("\xff", 300),
	}
	for _, in := range cases {
		got := clientValue(in)
		if len(got) > maxLogValue {
			t.Errorf("clientValue(%.20q...) is %d bytes, want <= %d", in, len(got), maxLogValue)
		}
		if !strings.HasPrefix(got, `"`) || strings.ContainsAny(got, "\n\r\x1b\x00") || !utf8.ValidString(got) {
			t.Errorf("clientValue(%.20q...) = %.40q: not a safe quoted value", in, got)
		}
	}
	if got := clientValue("same-origin"); got != `"same-origin"` {
		t.Errorf("short value: %s", got)
	}
}

func TestRefusalLogOneLinePerKindPerInterval(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRefusalLog(time.Minute, func() time.Time { return now })
	if ok, n := l.allow("host"); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for range 19 {
		if ok, _ := l.allow("host"); ok {
			t.Fatal("a second line within the minute")
		}
	}
	if ok, _ := l.allow("origin"); !ok {
		t.Error("another kind is limited separately")
	}
	now = now.Add(time.Minute)
	if ok, n := l.allow("host"); !ok || n != 19 {
		t.Errorf("after a minute: %v, suppressed %d, want true 19", ok, n)
	}
}
