package api

// Prefix is the first path segment that belongs to the proxy itself.
const Prefix = "/_clearway"

// The endpoints, relative to the proxy's base URL. Each is served for the
// methods README's "Admin API" table lists; another method gets 405.
const (
	PathHealth        = Prefix + "/health"         // GET: Health; no token needed
	PathStatus        = Prefix + "/status"         // GET: Status
	PathCookies       = Prefix + "/cookies"        // GET ?upstream=NAME&values=1: []CookieEntry
	PathCookiesClear  = Prefix + "/cookies/clear"  // POST ?upstream=NAME&unpin_ua=1: ClearResult
	PathCookiesImport = Prefix + "/cookies/import" // POST body cookies.txt: ImportResult
	PathCookiesExport = Prefix + "/cookies/export" // GET: Netscape cookies.txt (text/plain)
	PathKeysReload    = Prefix + "/keys/reload"    // POST: KeysResult
	PathUsage         = Prefix + "/usage"          // GET ?since=&by=: Usage
	PathUsageRecent   = Prefix + "/usage/recent"   // GET ?n=50: []usage.Entry, newest first
	PathMetrics       = Prefix + "/metrics"        // GET: Prometheus text format
	PathRequests      = Prefix + "/requests"       // GET ?n=500: Requests, the live log kept in memory
	PathEvents        = Prefix + "/events"         // GET: text/event-stream of "request" (Request) and "status" (Status) events
	PathUI            = Prefix + "/ui/"            // the dashboard's pages (session cookie, not the token)
	PathUICode        = Prefix + "/ui/code"        // POST: UICode, a one-time login link for the dashboard
	PathKey           = Prefix + "/key/{name}"     // PUT body: the secret (text/plain); DELETE: remove it
	PathToken         = Prefix + "/token/rotate"   // POST: TokenRotated; the old token stops working at once
	PathSettings      = Prefix + "/settings"       // GET: Settings; POST Settings fields to change
)

// Query parameters.
const (
	ParamUpstream = "upstream" // limit to one upstream ("" or absent: all); an unknown name is 404
	ParamValues   = "values"   // "1": include cookie values (GET /cookies only)
	ParamUnpinUA  = "unpin_ua" // "1": forget the pinned User-Agent too (POST /cookies/clear)
	ParamSince    = "since"    // GET /usage: 24h, 7d, 30d, 2026-11-01, today (default), all
	ParamBy       = "by"       // GET /usage: day, model (default), client, upstream
	ParamN        = "n"        // GET /usage/recent: how many (1-1000, default 50)
)

// MaxImportBytes bounds the cookies.txt body of POST /cookies/import.
const MaxImportBytes = 8 << 20
