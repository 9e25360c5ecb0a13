// Package retry holds the pure decision logic of the proxy's retry loop: which
// upstream answers and transport errors are worth another attempt, how long to
// wait before it, and how to read the waits that servers ask for.
//
// It does no I/O and keeps no state: the proxy core reads up to PeekLimit bytes
// of an error body, calls Policy.ClassifyResponse or Policy.ClassifyError, and
// asks Policy.Delay how long to wait, with its own clock and timer. Every
// function here is safe for concurrent use.
//
// The rules follow the official Anthropic and OpenAI SDKs (retry 408, 409, 429,
// 500, 502, 503, 504, 529 and connection errors; honour retry-after-ms,
// Retry-After and the providers' reset headers up to a limit; obey
// x-should-retry) and add what a client behind Cloudflare needs: rate-limit and
// challenge pages, possibly compressed, are recognised and retried.
package retry
