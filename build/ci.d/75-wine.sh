#!/usr/bin/env bash
# CI hook (run by build/test.sh after go test): run the Windows build for real
# under Wine (Debian 12's wine 8.0, under Xvfb) with build/wine: version,
# config check, keys set into Wine's credential store, serve on a free loopback
# port answering /_clearway/health to the Linux curl and proxying one request
# to a local TLS test upstream with that key, status and doctor against it, and
# a clean stop by Ctrl+C on its console.
#
# Wine 8.0 lacks bcryptprimitives.dll, whose ProcessPrng the Go runtime needs;
# a stub built with mingw-w64 goes into the prefix's system32
# (see /work/shared/notes/windows-under-wine.md).
#
# Missing tools are apt-get installed as root; without them the hook FAILS when
# CI=true and skips loudly otherwise. Last, the tray app runs on a Wine virtual
# desktop and its menu, opened from the icon in Wine's notification area, is
# photographed (a failure there is reported, not fatal) into
# CLEARWAY_WINE_SCREENSHOT (default: a temporary file; docs/tray-wine.png was
# made with CLEARWAY_WINE_SCREENSHOT=docs/tray-wine.png).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
START=$SECONDS

say() { printf "[wine] [%3ds] %s\n" "$((SECONDS - START))" "$*"; }
fail() {
	printf '[wine] FAIL: %s\n' "$*" >&2
	exit 1
}
skip_or_fail() {
	if [[ ${CI:-} == true ]]; then
		fail "$* (CI=true: a missing prerequisite is a failure)"
	fi
	printf '\n[wine] ********************************************************\n' >&2
	printf '[wine] SKIPPED: %s\n' "$*" >&2
	printf '[wine] ********************************************************\n\n' >&2
	exit 0
}

# ---------------------------------------------------------------- prerequisites
command -v go >/dev/null 2>&1 || skip_or_fail "go is not on PATH (https://go.dev/dl)"
PATH=$PATH:/usr/lib/wine # Debian's wine64 loader lives there
declare -A pkg_of=([wine]=wine [wine64]=wine64 [x86_64-w64-mingw32-gcc]=gcc-mingw-w64-x86-64-win32
	[Xvfb]=xvfb [curl]=curl [import]=imagemagick [xdotool]=xdotool)
missing_tools() {
	local tool
	for tool in "${!pkg_of[@]}"; do
		command -v "$tool" >/dev/null 2>&1 || printf '%s\n' "$tool"
	done
}
mapfile -t missing < <(missing_tools)
if ((${#missing[@]} > 0)); then
	pkgs=()
	for tool in "${missing[@]}"; do pkgs+=("${pkg_of[$tool]}"); done
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		t0=$SECONDS
		say "installing ${pkgs[*]} (apt-get, as root)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
			{ apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; } || true
		say "apt-get install took $((SECONDS - t0))s"
		mapfile -t missing < <(missing_tools)
	fi
	((${#missing[@]} == 0)) || skip_or_fail "missing tools: ${missing[*]} (apt-get install --no-install-recommends ${pkgs[*]})"
fi
say "$(wine --version 2>/dev/null)"

T=$(mktemp -d "${TMPDIR:-/tmp}/clearway-wine.XXXXXX")
XVFB_PID=""
export WINEPREFIX=$T/prefix WINEDEBUG=-all
# No Mono or Gecko: nothing here needs them, and their installers would ask.
export WINEDLLOVERRIDES="mscoree=;mshtml="
cleanup() {
	wineserver -k 2>/dev/null || true
	if [[ -n $XVFB_PID ]]; then kill "$XVFB_PID" 2>/dev/null || true; wait "$XVFB_PID" 2>/dev/null || true; fi
	rm -rf "$T"
}
trap cleanup EXIT

# ---------------------------------------------------------------- build
t0=$SECONDS
GOOS=windows GOARCH=amd64 go build -ldflags "-H windowsgui" -o "$T/clearway.exe" .
cat >"$T/bcp.c" <<'C'
#include <windows.h>
#include <ntsecapi.h>
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
    if (!RtlGenRandom(data, n)) return FALSE;
    data += n; len -= n;
  }
  return TRUE;
}
C
x86_64-w64-mingw32-gcc -shared -O2 -o "$T/bcryptprimitives.dll" "$T/bcp.c" -ladvapi32
go build -o "$T/winerun" ./build/wine
say "built clearway.exe (GUI subsystem), the ProcessPrng stub and the driver in $((SECONDS - t0))s"

# ---------------------------------------------------------------- Xvfb + prefix
exec 5>"$T/display"
Xvfb -displayfd 5 -screen 0 1024x768x24 -nolisten tcp >"$T/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 1 100); do [[ -s $T/display ]] && break; sleep 0.1; done
[[ -s $T/display ]] || fail "Xvfb did not start: $(cat "$T/xvfb.log")"
export DISPLAY=:$(head -n1 "$T/display")
say "Xvfb on $DISPLAY"

t0=$SECONDS
wineboot --init >"$T/wineboot.log" 2>&1 || fail "wineboot --init: $(tail -5 "$T/wineboot.log")"
wineserver -w
cp "$T/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
say "fresh Wine prefix in $((SECONDS - t0))s"
# Keep the server and Wine's services up between the commands below (each would
# start them again, about 3 s), their output away from the driver's.
wineserver -p
wine wineboot >>"$T/wineboot.log" 2>&1 </dev/null

# ---------------------------------------------------------------- run
"$T/winerun" -exe "$T/clearway.exe" -out "$T/out" -screenshot "${CLEARWAY_WINE_SCREENSHOT:-$T/tray-wine.png}"
say "done in $((SECONDS - START))s"
