// Package proxy is clearway's headless core: an HTTP server on loopback that
// routes /<upstream>/<rest> to the configured upstream APIs through ONE
// persistent session (http.Client, cookie jar, pinned User-Agent) per upstream,
// retries rate-limited requests with backoff, streams Server-Sent Events as they
// arrive, and publishes what it does as events. It never imports the tray.
package proxy
