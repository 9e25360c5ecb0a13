#!/usr/bin/env bash
# CI hook (run by build/test.sh after go test): a -quick run of the benchmark
# harness (build/bench) against direct, nginx, the stock Go reverse proxy and
# clearway, on loopback, under 60 s once built.
#
# It fails only on errors: a request through clearway (or direct) that failed,
# a stream that lost, cut or reordered an event, a proxy that did not start.
# It never fails because of speed: the figures are printed for reading, and
# the targets of issue 6 are goals for the full run, not assertions.
#
# A missing nginx or taskset fails when CI=true and skips that part loudly
# otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

say() { printf '[bench-smoke] %s\n' "$*"; }

targets=direct,stock,clearway
if command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; then
	targets=direct,nginx,stock,clearway
elif [[ ${CI:-} == true ]]; then
	say "FAIL: nginx is missing (Debian: nginx-light; CI=true: a missing tool is a failure)" >&2
	exit 1
else
	say "******** nginx is missing (Debian: nginx-light): running without the nginx target ********" >&2
fi
pin=true
if ! command -v taskset >/dev/null; then
	if [[ ${CI:-} == true ]]; then
		say "FAIL: taskset is missing (Debian: util-linux; CI=true: a missing tool is a failure)" >&2
		exit 1
	fi
	say "******** taskset is missing: running unpinned ********" >&2
	pin=false
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Build first, so the time limit below covers the run, not the compiler.
go build -o "$TMP/bench" ./build/bench
go build -o "$TMP/clearway" .

start=$SECONDS
status=0
PATH=$PATH:/usr/sbin timeout 170 "$TMP/bench" -quick -targets "$targets" -pin="$pin" \
	-clearway "$TMP/clearway" -out "$TMP/results.md" || status=$?
took=$((SECONDS - start))
[[ -f $TMP/results.md ]] && cat "$TMP/results.md"
if ((status == 124)); then
	say "FAIL: the quick run did not finish within 170 s" >&2
	exit 1
fi
if ((status != 0)); then
	say "FAIL: the quick run exited with status $status (1: errors through clearway or direct, see above)" >&2
	exit 1
fi
say "ok: no errors through clearway, ${took}s"
if ((took > 60)); then
	say "WARNING: the quick run took ${took}s, over its 60 s budget (a busy machine?)" >&2
fi
