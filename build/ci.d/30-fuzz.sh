#!/usr/bin/env bash
# CI hook: run every Go fuzz target in the repository for a bounded time each
# and fail on the first crash.
#
# Targets are found with grep (func FuzzXxx(f *testing.F) in *_test.go files),
# so a new fuzz target is picked up without editing this script. Each runs in
# its own module (the nearest go.mod above its file) as
#
#   go test -run=NONE -fuzz='^FuzzXxx$' -fuzztime=$FUZZTIME ./pkg
#
# The committed seed corpora (testdata/fuzz/FuzzXxx/) run first, as part of
# every fuzz run. On a crash, go test writes the failing input under
# testdata/fuzz/FuzzXxx/; this script prints it, and the input should be
# committed with the fix so it stays a regression test.
#
# Environment: FUZZTIME (default 15s) per target; FUZZ_ONLY=regexp to run a
# subset of target names. Prints each target's execution count and the total.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
FUZZTIME=${FUZZTIME:-15s}
# Targets that get a shorter run than FUZZTIME: cheap, byte-level readers
# whose state space a few seconds cover (their seed corpora run in full).
declare -A SHORT=([FuzzMeterJSON]=5s [FuzzMeterSSE]=5s)
FUZZ_ONLY=${FUZZ_ONLY:-.}
START=$SECONDS

say() { printf '[fuzz] %s\n' "$*"; }

command -v go >/dev/null 2>&1 || {
	say "FAIL: go is not on PATH" >&2
	exit 1
}

# module_dir FILE: the directory of the nearest go.mod above FILE.
module_dir() {
	local d
	d=$(dirname "$1")
	while [[ $d != "." && $d != "/" && ! -f $d/go.mod ]]; do d=$(dirname "$d"); done
	printf '%s\n' "$d"
}

mapfile -t hits < <(grep -rnE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\)' . |
	grep -v '/vendor/' | sort)
if ((${#hits[@]} == 0)); then
	say "FAIL: no fuzz targets found; the grep or the repository is broken" >&2
	exit 1
fi

total=0
ran=0
failed=()
LOG=$(mktemp "${TMPDIR:-/tmp}/clearway-fuzz.XXXXXX")
trap 'rm -f "$LOG"' EXIT
for hit in "${hits[@]}"; do
	file=${hit%%:*}
	name=$(sed -E 's/.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$hit")
	[[ $name =~ $FUZZ_ONLY ]] || continue
	mod=$(module_dir "$file")
	pkg=./$(realpath --relative-to="$mod" "$(dirname "$file")")
	ftime=${SHORT[$name]:-$FUZZTIME}
	say "$name in $pkg (module ${mod#./}) for $ftime"
	if (cd "$mod" && go test -run=NONE -fuzz="^${name}\$" -fuzztime="$ftime" "$pkg") >"$LOG" 2>&1; then
		status=ok
	elif grep -q 'context deadline exceeded' "$LOG" && ! grep -qE 'Failing input written to|testdata/fuzz/'"$name"'/|panic:' "$LOG"; then
		# Go 1.26's fuzz coordinator can report its own -fuzztime deadline as
		# a failure, with no failing input written (go.dev/issue/75804, fixed
		# in Go 1.27). That is not a crash: count it, say so, do not fail.
		status="ok (go.dev/issue/75804 deadline report at the end, no failing input)"
	else
		status=FAIL
	fi
	# The last progress line carries the count: "fuzz: elapsed: 15s, execs: 123456 (8230/sec), ..."
	execs=$(grep -oE 'execs: [0-9]+' "$LOG" | tail -1 | grep -oE '[0-9]+' || true)
	execs=${execs:-0}
	total=$((total + execs))
	ran=$((ran + 1))
	say "  $name: $status, $execs executions"
	if [[ $status == FAIL ]]; then
		failed+=("$name ($pkg)")
		sed 's/^/[fuzz]   | /' "$LOG" >&2
		for f in $(grep -oE 'testdata/fuzz/'"$name"'/[0-9a-f]+' "$LOG" | sort -u); do
			say "  failing input $mod/$pkg/$f:" >&2
			sed 's/^/[fuzz]   > /' "$mod/$pkg/$f" >&2 || true
		done
	fi
done

say "$ran targets, $total executions in all, $((SECONDS - START))s"
if ((${#failed[@]} > 0)); then
	say "FAIL: ${#failed[@]} target(s) crashed: ${failed[*]}" >&2
	exit 1
fi
