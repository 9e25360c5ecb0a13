// Package realclients holds the end-to-end tests that run the clients users
// point at clearway — Claude Code, the official Anthropic SDK, the official
// OpenAI SDK and Continue's CLI, the real npm packages at pinned versions (see
// npm/package.json) — through the real clearway binary to TLS test upstreams
// that speak the Anthropic and OpenAI APIs' real event shapes, success and
// error paths alike.
//
// The whole test binary re-runs itself in a new network namespace that has
// only a loopback interface (what `unshare --net` does; it needs root), so
// nothing a client tries can reach the internet. The package has no
// non-test code besides this comment.
package realclients
