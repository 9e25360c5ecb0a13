package retry

import (
	"bytes"
	"net/http"
	"strings"
)

// The Cloudflare markers CloudflareKind reports (and Verdict.Cloudflare holds).
const (
	CloudflareChallenge   = "challenge"    // cf-mitigated: challenge (a managed/JS challenge)
	Cloudflare1015        = "1015"         // "error code: 1015": a rate limiting rule fired
	Cloudflare1200        = "1200"         // "Error 1200": the site is temporarily rate limited
	CloudflareRateLimited = "rate-limited" // a Cloudflare HTML page saying "rate limited"
)

// cfRateLimitedPhrases are the sentences of Cloudflare's rate-limit pages,
// in normalized form.
var cfRateLimitedPhrases = [][]byte{
	[]byte("temporarily rate limited"),
	[]byte("you are being rate limited"),
}

// CloudflareKind reports which Cloudflare marker a response carries, given its
// headers and its DECODED body (see DecodeBody):
//
//   - CloudflareChallenge when the cf-mitigated header says "challenge";
//   - Cloudflare1015 for "error code: 1015" (also "Error 1015", as the HTML page
//     shows it, and "error code 1015");
//   - Cloudflare1200 for "Error 1200" (and the same variants);
//   - CloudflareRateLimited for "temporarily rate limited" or "You are being
//     rate limited" on an HTML page served by Cloudflare (a Server: cloudflare
//     or a cf-ray header);
//   - "" otherwise.
//
// Matching is case-insensitive and ignores HTML tags, &nbsp; and runs of
// whitespace, so "<span>Error</span>\n  <span>1015</span>" matches. The error
// codes are trusted on any body served by Cloudflare, and on bodies from
// elsewhere (an intermediary may strip Cloudflare's headers) unless they are
// JSON, where an API's own message could mention such a number.
// CloudflareKind is safe for concurrent use.
func CloudflareKind(h http.Header, decodedBody []byte) string {
	if strings.Contains(strings.ToLower(h.Get("Cf-Mitigated")), "challenge") {
		return CloudflareChallenge
	}
	if len(decodedBody) == 0 {
		return ""
	}
	byCloudflare := servedByCloudflare(h)
	texts := [][]byte{normalize(decodedBody, false)}
	if bytes.IndexByte(decodedBody, '<') >= 0 {
		texts = append(texts, normalize(decodedBody, true))
	}
	if byCloudflare || !looksJSON(h, decodedBody) {
		kind := ""
		for _, text := range texts {
			switch errorCode(text) {
			case Cloudflare1015:
				return Cloudflare1015 // the more specific rule wins
			case Cloudflare1200:
				kind = Cloudflare1200
			}
		}
		if kind != "" {
			return kind
		}
	}
	if byCloudflare && looksHTML(h, decodedBody) {
		for _, text := range texts {
			for _, phrase := range cfRateLimitedPhrases {
				if bytes.Contains(text, phrase) {
					return CloudflareRateLimited
				}
			}
		}
	}
	return ""
}

// errorCode finds "error 1015", "error code: 1015", "error code 1015",
// "error code:1015", "error : 1015" (and 1200) as whole words in normalized
// text, as the expression `\berror(?: code)? ?:? ?(1015|1200)\b` would, but
// without a regexp scan of the whole page. It returns the code, preferring
// 1015, or "".
func errorCode(text []byte) string {
	found := ""
	for i := 0; ; {
		j := bytes.Index(text[i:], []byte("error"))
		if j < 0 {
			return found
		}
		start := i + j
		i = start + len("error")
		if start > 0 && isWordByte(text[start-1]) {
			continue
		}
		rest := text[i:]
		rest = trimByte(bytes.TrimPrefix(rest, []byte(" code")), ' ')
		rest = trimByte(trimByte(rest, ':'), ' ')
		for _, code := range []string{Cloudflare1015, Cloudflare1200} {
			if bytes.HasPrefix(rest, []byte(code)) && (len(rest) == len(code) || !isWordByte(rest[len(code)])) {
				if code == Cloudflare1015 {
					return code
				}
				found = code
			}
		}
	}
}

// trimByte removes one leading c from b, if there is one.
func trimByte(b []byte, c byte) []byte {
	if len(b) > 0 && b[0] == c {
		return b[1:]
	}
	return b
}

// isWordByte is regexp's \w: an ASCII letter, digit or underscore.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// servedByCloudflare reports whether the headers show Cloudflare answered.
func servedByCloudflare(h http.Header) bool {
	return strings.Contains(strings.ToLower(h.Get("Server")), "cloudflare") || h.Get("Cf-Ray") != ""
}

func looksHTML(h http.Header, body []byte) bool {
	if strings.Contains(strings.ToLower(h.Get("Content-Type")), "html") {
		return true
	}
	b := bytes.TrimLeft(body, " \t\r\n\f\v\ufeff")
	return len(b) > 0 && b[0] == '<'
}

func looksJSON(h http.Header, body []byte) bool {
	if strings.Contains(strings.ToLower(h.Get("Content-Type")), "json") {
		return true
	}
	b := bytes.TrimLeft(body, " \t\r\n\f\v\ufeff")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// normalize lowercases ASCII letters and turns every run of whitespace,
// non-breaking spaces (&nbsp;, &#160;, U+00A0) and, when stripTags is set,
// HTML tags into a single space.
func normalize(b []byte, stripTags bool) []byte {
	out := make([]byte, 0, len(b))
	space := true // drop leading spaces
	addSpace := func() {
		if !space {
			out = append(out, ' ')
			space = true
		}
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			addSpace()
		case c == 0xc2 && i+1 < len(b) && b[i+1] == 0xa0: // U+00A0 in UTF-8
			addSpace()
			i++
		case c == '&' && hasPrefixFold(b[i:], "&nbsp;"):
			addSpace()
			i += len("&nbsp;") - 1
		case c == '&' && bytes.HasPrefix(b[i:], []byte("&#160;")):
			addSpace()
			i += len("&#160;") - 1
		case c == '<' && stripTags:
			end := bytes.IndexByte(b[i:], '>')
			if end < 0 { // a tag cut off by truncation
				i = len(b)
			} else {
				i += end
			}
			addSpace()
		default:
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			space = false
		}
	}
	return out
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}
