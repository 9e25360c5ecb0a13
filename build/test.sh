#!/usr/bin/env bash
# The one test command: ./build/test.sh [GO TEST PACKAGES...]
#
# 1. Checks the executables the desktop tests need (a private D-Bus, a real
#    Secret Service, Xvfb, a notification daemon, a tray panel, ...). As root
#    on Debian/Ubuntu it apt-get installs what is missing; otherwise it says
#    what is missing and which command installs it, and goes on (tests that
#    need a missing tool FAIL when CI=true and skip loudly otherwise).
# 2. Installs the real npm clients the realclients tests run (npm ci, pinned).
#    gofmt (fails listing the files), go build ./..., go vet ./...
# 3. go test -race -count=1 -timeout 20m -p 2 ./... (or the packages given)
# 4. Every executable build/ci.d/*.sh hook, in name order (fuzzing, packaging,
#    benchmark smoke runs); skipped when packages are given on the command line.
#
# Every step runs even when an earlier one failed (FAIL_FAST=1 stops at the
# first failure); the summary lists each step's result and time, and the exit
# status is non-zero if any step failed.
#
# Works from a clean clone on a fresh Debian 12, as root, with no display.
# Never installs dbus-x11: its dbus-launch would let code silently start a
# stray session bus (see /work/shared/notes/desktop-testing.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

START=$SECONDS
FAIL_FAST=${FAIL_FAST:-0}
declare -a SUMMARY=()
FAILED=0

say() { printf '\n=== %s\n' "$*"; }
warn() { printf '!!! %s\n' "$*" >&2; }

# step NAME CMD...: runs CMD, prints its elapsed time, records the result.
step() {
	local name=$1 t0=$SECONDS status=0
	shift
	say "$name"
	"$@" || status=$?
	local dt=$((SECONDS - t0))
	if ((status == 0)); then
		printf '=== %s: ok (%ds)\n' "$name" "$dt"
		SUMMARY+=("ok    ${dt}s  $name")
	else
		printf '=== %s: FAILED with status %d (%ds)\n' "$name" "$status" "$dt" >&2
		SUMMARY+=("FAIL  ${dt}s  $name")
		FAILED=1
		if [[ $FAIL_FAST == 1 ]]; then
			summary
			exit 1
		fi
	fi
}

summary() {
	say "summary (total $((SECONDS - START))s)"
	printf '  %s\n' "${SUMMARY[@]}"
}

# ---------------------------------------------------------------- tools
# executable -> Debian 12 package. Do NOT add dbus-x11.
declare -A PKG=(
	[dbus-daemon]=dbus-daemon
	[dbus-send]=dbus-bin
	[gnome-keyring-daemon]=gnome-keyring
	[secret-tool]=libsecret-tools
	[Xvfb]=xvfb
	[xauth]=xauth
	[dunst]=dunst
	[notify-send]=libnotify-bin
	[xfce4-panel]=xfce4-panel
	[import]=imagemagick
	[xdotool]=xdotool
	[xprop]=x11-utils
	[nginx]=nginx-light
	[wrk]=wrk
	[curl]=curl
	[desktop-file-validate]=desktop-file-utils
	[makensis]=nsis
	[xclip]=xclip
	[chromium]=chromium
	[osslsigncode]=osslsigncode
	[redis-server]=redis-server # shared limits (proxy/shared, e2e teams tests)
	[gcc]=gcc # go test -race needs cgo
	[wine]=wine # the Windows build under Wine (build/ci.d/75-wine.sh; wine64 is its loader)
	[x86_64-w64-mingw32-gcc]=gcc-mingw-w64-x86-64-win32 # Wine's missing ProcessPrng stub
)
# Installed together whenever something is missing (apt skips what is there).
ALL_PACKAGES=(dbus-daemon dbus-bin gnome-keyring libsecret-tools xvfb xauth dunst libnotify-bin
	xfce4-panel imagemagick xdotool x11-utils nginx-light wrk curl desktop-file-utils nsis xclip
	osslsigncode redis-server gcc libc6-dev wine wine64 gcc-mingw-w64-x86-64-win32)

have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]; }

missing_tools() {
	local tool
	for tool in "${!PKG[@]}"; do
		have "$tool" || printf '%s\n' "$tool"
	done | sort
}

check_tools() {
	local missing
	mapfile -t missing < <(missing_tools)
	if ((${#missing[@]} == 0)); then
		echo "all ${#PKG[@]} tools present"
	else
		local pkgs=() t
		for t in "${missing[@]}"; do pkgs+=("${PKG[$t]}"); done
		echo "missing: ${missing[*]} (packages: ${pkgs[*]})"
		if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
			echo "installing with apt-get (as root)"
			export DEBIAN_FRONTEND=noninteractive
			apt-get update -qq
			apt-get install -y -qq --no-install-recommends "${ALL_PACKAGES[@]}"
			mapfile -t missing < <(missing_tools)
			if ((${#missing[@]} > 0)); then
				warn "still missing after apt-get install: ${missing[*]}"
				return 1
			fi
			echo "all ${#PKG[@]} tools present"
		else
			warn "not installing (needs root and apt-get). Install them with:"
			warn "  sudo apt-get install --no-install-recommends ${ALL_PACKAGES[*]}"
			if [[ ${CI:-} == true ]]; then
				warn "CI=true: the tests that need them will FAIL"
			else
				warn "the tests that need them will be SKIPPED (set CI=true to make that a failure)"
			fi
		fi
	fi
	if command -v dbus-launch >/dev/null 2>&1; then
		warn "dbus-launch (package dbus-x11) is installed: code may start a stray session bus when DBUS_SESSION_BUS_ADDRESS is unset; the tests do not need it"
	fi
	return 0
}

# ---------------------------------------------------------------- go steps
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	PATH=/usr/local/go/bin:$PATH
fi

check_go() {
	if ! command -v go >/dev/null 2>&1; then
		warn "go is not on PATH: install the Go version named in go.mod from https://go.dev/dl/"
		return 1
	fi
	go version
	echo "CI=${CI:-<unset>} (a test missing a tool fails when CI=true, skips loudly otherwise)"
}

check_gofmt() {
	local files unformatted
	mapfile -t files < <(find . -name '*.go' -not -path './.git/*' -not -path '*/vendor/*' -not -path '*/testdata/*' | sort)
	if ((${#files[@]} == 0)); then
		warn "no Go files found: wrong directory?"
		return 1
	fi
	# (set -e does not apply inside a step: check every status by hand.)
	if ! unformatted=$(gofmt -l "${files[@]}"); then
		warn "gofmt could not parse some files (see above)"
		return 1
	fi
	if [[ -n $unformatted ]]; then
		warn "not gofmt-formatted (run gofmt -w on them):"
		printf '  %s\n' $unformatted >&2
		return 1
	fi
	echo "${#files[@]} files formatted"
}

PACKAGES=("$@")
if ((${#PACKAGES[@]} == 0)); then
	PACKAGES=(./...)
fi

run_hooks() {
	local hooks=() hook status=0 t0
	shopt -s nullglob
	hooks=(build/ci.d/*.sh)
	shopt -u nullglob
	if ((${#hooks[@]} == 0)); then
		echo "no hooks in build/ci.d"
		return 0
	fi
	for hook in "${hooks[@]}"; do
		if [[ ! -x $hook ]]; then
			warn "$hook is not executable: chmod +x it (git keeps the bit) so CI runs it"
			status=1
			continue
		fi
		t0=$SECONDS
		printf -- '--- hook %s\n' "$hook"
		if "$hook"; then
			printf -- '--- hook %s: ok (%ds)\n' "$hook" $((SECONDS - t0))
			SUMMARY+=("ok    $((SECONDS - t0))s    hook $hook")
		else
			printf -- '--- hook %s: FAILED (%ds)\n' "$hook" $((SECONDS - t0)) >&2
			SUMMARY+=("FAIL  $((SECONDS - t0))s    hook $hook")
			status=1
			[[ $FAIL_FAST == 1 ]] && return 1
		fi
	done
	return $status
}

# ---------------------------------------------------------------- npm clients
# The real clients the realclients tests run (Claude Code, @anthropic-ai/sdk,
# openai, Continue's CLI), pinned in realclients/npm/package-lock.json and installed from npm
# with `npm ci` into realclients/npm/node_modules (git-ignored). Skipped when
# the installed tree matches the lock file. Without npm: a failure when
# CI=true, a warning otherwise (those tests then skip loudly).
install_npm_clients() {
	local dir=realclients/npm stamp want
	if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
		# Only when both are absent: Debian's npm conflicts with a NodeSource
		# nodejs that ships its own npm.
		if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1 && ! command -v node >/dev/null 2>&1; then
			echo "node and npm not found: installing Debian's nodejs and npm"
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nodejs npm || true
		fi
	fi
	if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
		warn "node/npm not found: the real-clients tests (realclients/) need Node 20 and npm"
		[[ ${CI:-} == true ]] && return 1
		return 0
	fi
	echo "node $(node --version), npm $(npm --version)"
	want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	stamp=$dir/node_modules/.clearway-lock-sha256
	if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
		echo "real clients already installed from this package-lock.json"
		return 0
	fi
	npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error || return 1
	echo "$want" >"$stamp"
	(cd "$dir" && npm ls --depth=0)
}

step "tools" check_tools
step "npm real clients" install_npm_clients
step "go" check_go
step "gofmt" check_gofmt
step "go build ./..." go build -p 2 ./...
step "go vet ./..." go vet -p 2 ./...
step "go vet -tags e2ehooks . (the end-to-end tests' build)" go vet -tags e2ehooks .
step "go test -race ${PACKAGES[*]}" go test -race -count=1 -timeout 20m -p 2 "${PACKAGES[@]}"
if [[ $# -eq 0 ]]; then
	step "hooks build/ci.d" run_hooks
else
	say "hooks build/ci.d skipped: packages were given on the command line"
fi

summary
exit $FAILED
