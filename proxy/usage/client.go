package usage

import "strings"

// ClientHeader is the request header a client may name itself with. The
// proxy never forwards it.
const ClientHeader = "X-Clearway-Client"

// maxClientName bounds a client name taken from a header.
const maxClientName = 64

// knownClients maps a User-Agent prefix (lower case) to the application's
// name. Checked in order; the first match wins.
var knownClients = []struct{ prefix, name string }{
	{"claude-cli/", "claude-code"},
	{"claude-code/", "claude-code"},
	{"anthropic/python", "anthropic-python"},
	{"anthropic/js", "anthropic-js"},
	{"anthropic-typescript/", "anthropic-js"},
	{"openai/python", "openai-python"},
	{"asyncopenai/python", "openai-python"},
	{"openai/js", "openai-js"},
	{"curl/", "curl"},
	{"wget/", "wget"},
	{"python-httpx/", "python-httpx"},
	{"python-requests/", "python-requests"},
	{"go-http-client/", "go"},
	{"node-fetch", "node"},
	{"node", "node"},
	{"undici", "node"},
	{"axios/", "axios"},
	{"cursor/", "cursor"},
	{"zed/", "zed"},
	{"continue/", "continue"},
	{"cline/", "cline"},
	{"roo-code/", "roo-code"},
	{"kilo-code/", "kilo-code"},
	{"aider/", "aider"},
	{"codex_cli_rs/", "codex"},
	{"codex/", "codex"},
	{"jetbrains", "jetbrains"},
	{"github-copilot", "copilot"},
	{"litellm/", "litellm"},
	{"langchain", "langchain"},
}

// containsClients are names found anywhere in the User-Agent (IDE plugins
// that put their name after a runtime's product token).
var containsClients = []struct{ part, name string }{
	{"cursor/", "cursor"},
	{" zed/", "zed"},
	{"continue/", "continue"},
	{"cline/", "cline"},
	{"roo-code/", "roo-code"},
	{"jetbrains", "jetbrains"},
	{"vscode/", "vscode"},
}

// Client names the application behind a request: the X-Clearway-Client
// header when set (trimmed, at most 64 characters), else a known
// User-Agent, else the User-Agent's first product token without its version,
// else "unknown". It is safe for concurrent use.
func Client(userAgent, named string) string {
	if n := cleanName(named); n != "" {
		return n
	}
	ua := strings.TrimSpace(userAgent)
	if ua == "" {
		return "unknown"
	}
	lower := strings.ToLower(ua)
	for _, k := range knownClients {
		if strings.HasPrefix(lower, k.prefix) {
			return k.name
		}
	}
	for _, k := range containsClients {
		if strings.Contains(lower, k.part) {
			return k.name
		}
	}
	tok, _, _ := strings.Cut(ua, " ")
	tok, _, _ = strings.Cut(tok, "/")
	if n := cleanName(tok); n != "" {
		return strings.ToLower(n)
	}
	return "unknown"
}

// cleanName keeps a name printable and short: letters, digits and ._-+ only.
func cleanName(s string) string {
	s = strings.TrimSpace(s)
	if plainName(s) {
		return s // already clean (the usual case): no copy
	}
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxClientName {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '+':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// plainName reports whether cleanName would return s unchanged: at most
// maxClientName bytes of letters, digits and ._+- not starting or ending with '-'.
func plainName(s string) bool {
	if s == "" || len(s) > maxClientName || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == '+':
		default:
			return false
		}
	}
	return true
}
