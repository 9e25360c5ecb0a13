package tray

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	const token = "cw_Zm9vYmFyYmF6cXV4"
	tests := []struct{ in, want string }{
		{"dial tcp 127.0.0.1:3456: connect: connection refused", "dial tcp 127.0.0.1:3456: connect: connection refused"},
		{"bad key sk-ant-api03-abcdEFGH1234", "bad key [redacted]"},
		{"token " + token + " rejected", "token [redacted] rejected"},
		{"hdr Bearer 6f1d0c2b9a8e7f6d5c4b3a2918273645aabbccdd.", "hdr Bearer [redacted]."},
		{"https://api.supermemory.ai/v3/https://api.anthropic.com", "https://api.supermemory.ai/v3/https://api.anthropic.com"},
		{"supercalifragilisticexpialidocious_words_only", "supercalifragilisticexpialidocious_words_only"},
	}
	for _, tt := range tests {
		if got := redact(tt.in, []string{token}); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMessagesNeverCarrySecrets feeds every kind of event with secrets in
// every text field and checks that no notification text keeps them.
func TestMessagesNeverCarrySecrets(t *testing.T) {
	secrets := []string{"sk-ant-api03-SECRETSECRET99", "cw_localtoken_ABCDEF0123456789abcdef0123"}
	n := &notifier{app: &stateApp{token: secrets[1]}, send: &recordingSender{}}
	for kind := 0; kind < 20; kind++ {
		for _, sec := range secrets {
			e := eventWith(kind, sec)
			var c Coalescer
			note, ok := c.Decide(e, t0)
			if !ok {
				continue
			}
			n.deliver(note)
		}
	}
	rs := n.send.(*recordingSender)
	if len(rs.sent) == 0 {
		t.Fatal("no notification was produced")
	}
	for _, note := range rs.sent {
		for _, sec := range secrets {
			if strings.Contains(note.Summary+note.Body, sec) || strings.Contains(note.Summary+note.Body, sec[len(sec)-10:]) {
				t.Errorf("notification %q / %q carries a secret", note.Summary, note.Body)
			}
		}
	}
}
