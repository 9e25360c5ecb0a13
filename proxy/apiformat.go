package proxy

import (
	"net/http"
	"strings"

	"github.com/clearway/clearway/proxy/config"
)

// apiFormat is the API dialect a client speaks, which decides the shape of
// the errors clearway answers it with. The zero value is Anthropic's.
type apiFormat uint8

const (
	formatAnthropic apiFormat = iota
	formatOpenAI
)

// openAIPaths are path parts only the OpenAI API (and the APIs that copy it)
// uses. /v1/models exists in both APIs and is decided by the headers.
var openAIPaths = []string{
	"/chat/completions", "/completions", "/responses", "/embeddings",
	"/moderations", "/audio/", "/images/", "/assistants", "/threads",
	"/vector_stores", "/fine_tuning", "/realtime", "/uploads",
}

// formatOf decides which API r speaks, in this order: an anthropic-version
// header (every Anthropic SDK and Claude Code send it) means Anthropic; a
// path only one API has decides next (/v1/chat/completions, /v1/responses,
// /v1/threads/... are OpenAI's, then /v1/messages is Anthropic's); then a request that
// carries its key as "Authorization: Bearer" and no x-api-key is taken for
// an OpenAI client (as on /v1/models from the OpenAI SDK); anything else is
// answered in Anthropic's format. Safe for concurrent use.
func formatOf(r *http.Request) apiFormat {
	f, _ := requestFormat(r)
	return f
}

// formatFor is formatOf, except that a request nothing in it decides (a
// keyless GET /v1/models, say) takes the dialect of the upstream it was sent
// to, which forward's recordWriter carries.
func formatFor(w http.ResponseWriter, r *http.Request) apiFormat {
	f, sure := requestFormat(r)
	if rw, ok := w.(*recordWriter); ok && !sure {
		return rw.dialect
	}
	return f
}

// requestFormat is formatOf's decision and whether the request itself made
// it (false: nothing in it tells, Anthropic by default).
func requestFormat(r *http.Request) (f apiFormat, sure bool) {
	if r == nil {
		return formatAnthropic, false
	}
	if r.Header.Get("Anthropic-Version") != "" {
		return formatAnthropic, true
	}
	p := r.URL.Path
	for _, op := range openAIPaths {
		if strings.Contains(p, op) {
			return formatOpenAI, true
		}
	}
	if strings.Contains(p, "/messages") || strings.HasSuffix(p, "/complete") {
		return formatAnthropic, true
	}
	if r.Header.Get("X-Api-Key") == "" && len(r.Header.Get("Authorization")) > 7 &&
		strings.EqualFold(r.Header.Get("Authorization")[:7], "bearer ") {
		return formatOpenAI, true
	}
	return formatAnthropic, false
}

// upstreamFormat is the dialect an upstream most likely speaks, for the
// requests nothing else decides: one that takes its key as
// "Authorization: Bearer" (OpenAI and the servers that copy its API), or
// whose host is OpenAI's, speaks OpenAI's; any other Anthropic's.
func upstreamFormat(up config.Upstream) apiFormat {
	if up.AuthHeader == "authorization" {
		return formatOpenAI
	}
	if h := up.URL.Hostname(); h == "openai.com" || strings.HasSuffix(h, ".openai.com") {
		return formatOpenAI
	}
	return formatAnthropic
}
