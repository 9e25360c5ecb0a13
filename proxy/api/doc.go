// Package api is the proxy's admin API under /_clearway/: its paths, the
// request and response types the server encodes and its clients decode (the
// CLI commands, the dashboard), and a small Client. It is the one place the
// JSON shapes are defined; README's "Admin API" table lists them.
//
// Authentication: every endpoint but Health needs the client token when the
// proxy requires one (client_token: true), sent as "Authorization: Bearer
// TOKEN" or "x-api-key: TOKEN". Errors are JSON {"type":"error","error":
// {"type":..., "message":...}} (or the OpenAI-shaped equivalent for OpenAI
// clients); ErrorBody decodes both.
package api
