package tray

import (
	"strings"
	"unicode"
)

// minSecretRun is the length from which an unbroken run of letters, digits
// and base64 punctuation that mixes letters and digits is taken for a
// credential and hidden.
const minSecretRun = 32

// redacted replaces anything that looks like a secret.
const redacted = "[redacted]"

// redact hides the known secrets in s, and anything shaped like an API key
// or token ("sk-..." or a long mixed run of letters and digits), so that no
// secret reaches a notification even if an error text carried one. Events
// never hold secrets; this is the last line of defence, not the first.
func redact(s string, known []string) string {
	for _, k := range known {
		if len(k) >= 4 {
			s = strings.ReplaceAll(s, k, redacted)
		}
	}
	isTokenRune := func(r rune) bool {
		return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_+/=", r))
	}
	var b strings.Builder
	runes := []rune(s)
	for i := 0; i < len(runes); {
		if !isTokenRune(runes[i]) {
			b.WriteRune(runes[i])
			i++
			continue
		}
		j := i
		for j < len(runes) && isTokenRune(runes[j]) {
			j++
		}
		word := string(runes[i:j])
		if looksSecret(word) {
			b.WriteString(redacted)
		} else {
			b.WriteString(word)
		}
		i = j
	}
	return b.String()
}

func looksSecret(w string) bool {
	if (strings.HasPrefix(w, "sk-") || strings.HasPrefix(w, "sk_")) && len(w) >= 12 {
		return true
	}
	if len(w) < minSecretRun {
		return false
	}
	letters := strings.IndexFunc(w, unicode.IsLetter) >= 0
	digits := strings.IndexFunc(w, unicode.IsDigit) >= 0
	return letters && digits
}
