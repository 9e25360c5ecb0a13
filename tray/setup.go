package tray

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// envVar is one environment variable of a client setup snippet.
type envVar struct{ Name, Value string }

// claudeSetup is what "Copy Claude Code setup" puts on the clipboard. The
// last variable keeps all of Claude Code's traffic on clearway (without it
// Claude Code opens connections to api.anthropic.com that bypass the base URL).
func claudeSetup(goos, baseURL, token string) string {
	return setupSnippet(goos, []envVar{
		{"ANTHROPIC_BASE_URL", strings.TrimRight(baseURL, "/") + "/anthropic"},
		{"ANTHROPIC_API_KEY", tokenOrPlaceholder(token)},
		{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"},
	})
}

// openAISetup is what "Copy OpenAI setup" puts on the clipboard.
func openAISetup(goos, baseURL, token string) string {
	return setupSnippet(goos, []envVar{
		{"OPENAI_BASE_URL", strings.TrimRight(baseURL, "/") + "/openai/v1"},
		{"OPENAI_API_KEY", tokenOrPlaceholder(token)},
	})
}

// tokenOrPlaceholder returns token, or a placeholder when the proxy does not
// require one (client_token: false): SDKs refuse an empty API key.
func tokenOrPlaceholder(token string) string {
	if token == "" {
		return "clearway"
	}
	return token
}

// setupSnippet writes vars as shell exports (POSIX shells) or, on Windows,
// PowerShell assignments, one per line.
func setupSnippet(goos string, vars []envVar) string {
	var b strings.Builder
	for _, v := range vars {
		if goos == "windows" {
			fmt.Fprintf(&b, "$env:%s = '%s'\n", v.Name, strings.ReplaceAll(v.Value, "'", "''"))
		} else {
			fmt.Fprintf(&b, "export %s=%s\n", v.Name, shellQuote(v.Value))
		}
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it holds anything beyond
// characters that are safe unquoted.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_./:@%+=,", r))) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Limits for a secret pasted from the clipboard.
const (
	minSecretLen = 8
	maxSecretLen = 4096
)

// errNotAKey and friends explain why the clipboard does not hold a key.
// They never contain any part of the clipboard.
var (
	errEmptyClipboard = errors.New("the clipboard is empty")
	errKeyWhitespace  = errors.New("the clipboard holds several words or lines, not one API key")
	errKeyShort       = fmt.Errorf("the clipboard holds fewer than %d characters, too short for an API key", minSecretLen)
	errKeyLong        = fmt.Errorf("the clipboard holds more than %d characters, too long for an API key", maxSecretLen)
	errKeyIsToken     = errors.New("the clipboard holds clearway's own client token, not an upstream API key")
)

// checkSecret sanity-checks text copied from the clipboard before it goes
// into the keychain and returns the key to store. Whitespace around it (a
// trailing newline from a copy) is dropped; whitespace inside it, fewer than
// 8 or more than 4096 characters, or the client token itself are refused.
// The errors never hold any part of the text.
func checkSecret(text, clientToken string) (string, error) {
	s := strings.TrimSpace(text)
	switch {
	case s == "":
		return "", errEmptyClipboard
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", errKeyWhitespace
	case len(s) < minSecretLen:
		return "", errKeyShort
	case len(s) > maxSecretLen:
		return "", errKeyLong
	case clientToken != "" && s == clientToken:
		return "", errKeyIsToken
	}
	return s, nil
}

// maskSecret shows at most the last 4 characters of a secret, so the user can
// tell which key was stored: "…f3a9". Secrets shorter than 12 characters show
// fewer, never more than a third of the secret.
func maskSecret(s string) string {
	r := []rune(s)
	n := min(4, len(r)/3)
	return "…" + string(r[len(r)-n:])
}
