package tray

import (
	"errors"
	"strings"
	"testing"
)

func TestClaudeAndOpenAISetup(t *testing.T) {
	tests := []struct {
		name, goos, base, token, want string
		fn                            func(string, string, string) string
	}{
		{"claude", "linux", "http://127.0.0.1:8764", "cw_abc123",
			"export ANTHROPIC_BASE_URL=http://127.0.0.1:8764/anthropic\nexport ANTHROPIC_API_KEY=cw_abc123\nexport CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\n", claudeSetup},
		{"openai trailing slash", "darwin", "http://127.0.0.1:8764/", "cw_abc123",
			"export OPENAI_BASE_URL=http://127.0.0.1:8764/openai/v1\nexport OPENAI_API_KEY=cw_abc123\n", openAISetup},
		{"no token required", "linux", "http://127.0.0.1:8764", "",
			"export OPENAI_BASE_URL=http://127.0.0.1:8764/openai/v1\nexport OPENAI_API_KEY=clearway\n", openAISetup},
		{"odd token is quoted", "linux", "http://127.0.0.1:8764", "a b'c",
			"export ANTHROPIC_BASE_URL=http://127.0.0.1:8764/anthropic\nexport ANTHROPIC_API_KEY='a b'\\''c'\nexport CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\n", claudeSetup},
		{"windows powershell", "windows", "http://127.0.0.1:8764", "it's",
			"$env:ANTHROPIC_BASE_URL = 'http://127.0.0.1:8764/anthropic'\n$env:ANTHROPIC_API_KEY = 'it''s'\n$env:CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1'\n", claudeSetup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn(tt.goos, tt.base, tt.token); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestCheckSecret(t *testing.T) {
	const token = "cw_localtoken_0123456789"
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"plain key", "sk-ant-api03-abcdefgh", "sk-ant-api03-abcdefgh", nil},
		{"trailing newline from a copy", "  sk-ant-api03-abcdefgh\n", "sk-ant-api03-abcdefgh", nil},
		{"empty", "", "", errEmptyClipboard},
		{"only spaces", " \n\t", "", errEmptyClipboard},
		{"two words", "sk-ant abcdefgh", "", errKeyWhitespace},
		{"two lines", "sk-ant-1234\nsk-ant-5678", "", errKeyWhitespace},
		{"control character", "sk-ant\x00-12345678", "", errKeyWhitespace},
		{"too short", "1234567", "", errKeyShort},
		{"eight is enough", "12345678", "12345678", nil},
		{"too long", strings.Repeat("k", maxSecretLen+1), "", errKeyLong},
		{"the client token", token + "\n", "", errKeyIsToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkSecret(tt.in, token)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("checkSecret = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
			if err != nil && len(strings.TrimSpace(tt.in)) >= 4 && strings.Contains(err.Error(), strings.TrimSpace(tt.in)[:4]) {
				t.Errorf("error %q repeats the clipboard", err)
			}
		})
	}
}

func TestMaskSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sk-ant-api03-abcdefghf3a9", "…f3a9"},
		{"123456789012", "…9012"},
		{"12345678", "…78"},
		{"12", "…"},
	}
	for _, tt := range tests {
		if got := maskSecret(tt.in); got != tt.want {
			t.Errorf("maskSecret(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := len([]rune(maskSecret(tt.in))) - 1; n > 4 {
			t.Errorf("maskSecret(%q) shows %d characters", tt.in, n)
		}
	}
}
