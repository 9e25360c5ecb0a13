package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The peer target "ccr" is @musistudio/claude-code-router (npm), the
// Anthropic-to-anything router people put in front of Claude Code today,
// configured with its pass-through "Anthropic" transformer. It takes requests
// only at /v1/messages and sends each to one fixed api_base_url, so the
// harness carries the mock upstream path and query in the request body
// ("bench_path", which the router forwards untouched) and the mock upstream's
// /ccr route dispatches on it.

// ccrPrefix is the base path the load generator uses for the ccr target; the
// client transport maps every request under it to a POST /v1/messages.
const ccrPrefix = "/ccrbench"

// ccrTransport rewrites each request of the load generator for
// claude-code-router: POST /v1/messages with "bench_path" set to the
// original path (without ccrPrefix) and query. Safe for concurrent use.
type ccrTransport struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (c ccrTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("ccr rewrite: %w", err)
		}
		body = b
	}
	path := strings.TrimPrefix(req.URL.Path, ccrPrefix)
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	out := ccrBody(path, body)
	r2 := req.Clone(req.Context())
	r2.Method = http.MethodPost
	r2.URL.Path, r2.URL.RawQuery = "/v1/messages", ""
	r2.Body = io.NopCloser(bytes.NewReader(out))
	r2.ContentLength = int64(len(out))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(out)), nil }
	r2.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/sse") || strings.HasPrefix(path, "/hold") || strings.HasPrefix(path, "/anthropic") {
		// The router asks the upstream for a stream only when the body says so.
		out = bytes.Replace(out, []byte(`{`), []byte(`{"stream":true,`), 1)
		r2.Body = io.NopCloser(bytes.NewReader(out))
		r2.ContentLength = int64(len(out))
	}
	return c.next.RoundTrip(r2)
}

// ccrBody returns body (a JSON object, or nothing) with "bench_path" set to path.
func ccrBody(path string, body []byte) []byte {
	field := `"bench_path":` + strconv.Quote(path)
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '{' {
		return []byte(`{"model":"bench-model","max_tokens":16,"messages":[{"role":"user","content":"hi"}],` + field + `}`)
	}
	if bytes.Equal(body, []byte("{}")) {
		return []byte("{" + field + "}")
	}
	return append([]byte("{"+field+","), body[1:]...)
}

// benchPath finds "bench_path" in a request body written by ccrBody (the
// router may re-serialize the body, so it is looked up, not sliced).
func benchPath(body []byte) (string, bool) {
	const key = `"bench_path":`
	k := bytes.Index(body, []byte(key))
	if k < 0 {
		return "", false
	}
	rest := bytes.TrimLeft(body[k+len(key):], " ")
	if len(rest) == 0 || rest[0] != '"' {
		return "", false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return "", false
	}
	s, err := strconv.Unquote(string(rest[:end+2]))
	return s, err == nil
}

// newCCRTarget runs claude-code-router's CLI (`node CLI start`, in the
// foreground) with a generated config in a private HOME: one provider "mock"
// at the mock upstream's /ccr with the Anthropic (pass-through) transformer.
func newCCRTarget(cli, upstreamURL, workDir, pin string) *proxyTarget {
	return &proxyTarget{
		label: "ccr", prefix: ccrPrefix, pinCPU: pin, workDir: workDir,
		wrap: func(rt http.RoundTripper) http.RoundTripper { return ccrTransport{next: rt} },
		prepare: func(dir, listen string) ([]string, []string, error) {
			home := filepath.Join(dir, "home")
			if err := os.MkdirAll(filepath.Join(home, ".claude-code-router"), 0o700); err != nil {
				return nil, nil, err
			}
			host, port, ok := strings.Cut(listen, ":")
			if !ok {
				return nil, nil, fmt.Errorf("listen %q", listen)
			}
			conf := fmt.Sprintf(`{
  "HOST": %q,
  "PORT": %s,
  "LOG": false,
  "APIKEY": "",
  "NON_INTERACTIVE_MODE": true,
  "Providers": [
    {"name": "mock", "api_base_url": %q, "api_key": "bench-key", "models": ["bench-model"], "transformer": {"use": ["Anthropic"]}}
  ],
  "Router": {"default": "mock,bench-model"}
}
`, host, port, upstreamURL+"/ccr")
			if err := os.WriteFile(filepath.Join(home, ".claude-code-router", "config.json"), []byte(conf), 0o600); err != nil {
				return nil, nil, err
			}
			return []string{"node", cli, "start"}, []string{"HOME=" + home}, nil
		},
	}
}
