// Package shared makes the throttles of every clearway of a team one: one
// request budget (GCRA in Redis through github.com/go-redis/redis_rate), one
// token budget, one concurrency semaphore with leases that expire when a
// laptop vanishes, and one pause per upstream (or per key) set by whichever
// instance is told to wait, all in a Redis server the team shares.
//
// Redis is never allowed to slow a request down: every call is bounded by a
// short timeout (50 ms by default). When Redis fails or is slow the Client
// turns degraded at once, says so once (OnChange), and every Limiter falls
// back to its local limits; a background loop reconnects and turns it
// shared again. Nothing secret goes into Redis: counters, leases, pauses and
// each instance's random id, user name, host name and in-flight count.
//
// Keys, all under "clearway:<namespace>:":
//
//	rate:<upstream>            GCRA arrival time of the request budget (redis_rate)
//	tokens:<upstream>          GCRA arrival time of the token budget
//	sem:<upstream>             sorted set of leases: member id, score expiry (ms)
//	pause:<upstream>[:<key>]   present while the upstream (key) is paused; PTTL is the wait
//	instances, instance:<id>   the live instances (set) and each one's JSON record (TTL)
package shared
