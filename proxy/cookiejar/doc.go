// Package cookiejar keeps one persistent HTTP cookie jar per upstream and the
// User-Agent each jar's cookies were earned with, saved to a versioned JSON file
// (normally $XDG_DATA_HOME/clearway/cookies.json; the caller chooses).
//
// A Jar is an http.CookieJar that delegates every decision to the standard
// library's net/http/cookiejar (RFC 6265 matching with the public suffix list of
// golang.org/x/net/publicsuffix) and records, next to it, what each SetCookies
// call stored: the domain and host-only flag resolved exactly as the standard
// jar resolves them, the path, expiry (Max-Age or Expires), Secure, HttpOnly and
// SameSite. Loading replays those records into a fresh standard jar, so after a
// restart the same cookies go to the same URLs in the same order.
//
// A Store owns every upstream's Jar, the pinned User-Agent per upstream and the
// file. Changes are saved by Store.Run, debounced (never per request), with
// atomic writes (temporary file, fsync, rename), so a crash leaves either the
// old or the new file. A file that does not parse is moved aside and the store
// starts empty: a bad file never stops the proxy.
//
// netscape.go reads and writes the Netscape cookies.txt format that curl -c and
// browser export extensions write; MatchesHost tells which upstream host an
// imported cookie belongs to.
//
// Cookie values are secrets: nothing in this package logs them, and Record's
// String, GoString and LogValue methods leave them out.
package cookiejar
