// Package seam holds the interfaces the proxy's request path talks to, and
// their plain default implementations, so that other packages can plug into
// the path without importing package proxy:
//
//   - [Limiter]: waits for a slot before a request goes to an upstream,
//     refuses with a [*Refused] saying why and for how long, and is told when
//     an upstream asked to pause ([Limiter.Pause]) and how many tokens a
//     request used ([Limiter.Charge]). Default: proxy/throttle's Local (the
//     per-upstream token bucket and concurrency cap of the config);
//     [NoLimit] lets everything through.
//   - [Credentials]: gives the credential (key name and the headers carrying
//     its value) for each attempt to an upstream, and is told how the
//     upstream answered an attempt made with it ([Credentials.Report]), so a
//     key pool can cool a key down and hand out the next one for the retry.
//     Default: the proxy's single-key injection (the upstream's key and the
//     ${key:NAME} header templates); [NoCredentials] adds nothing.
//   - [Transports]: builds the http.RoundTripper an upstream's session uses.
//     Default: [HTTPTransports].
//
// The package depends on the standard library only. Every default is a
// usable value, never a nil pointer inside an interface.
package seam
