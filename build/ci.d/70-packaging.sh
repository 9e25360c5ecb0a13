#!/usr/bin/env bash
# CI hook (run by build/test.sh after go test): build every artifact with
# build/dist.sh and prove each one installs, starts and is what it claims.
#
#   - a throwaway self-signed code-signing certificate (openssl) so the
#     Windows signing path runs for real;
#   - .deb: dpkg -i, the installed `clearway version` and `clearway serve`
#     answering /_clearway/health (temp HOME and XDG dirs, CLEARWAY_KEYCHAIN=env,
#     client_token: false), desktop-file-validate, man page renders, dpkg -r
#     removes every file;
#   - the tar.gz holds the same files, byte for byte, plus INSTALL;
#   - Linux binaries are static ELF for their architecture;
#   - clearway.exe: GUI subsystem, icon, manifest, version resource, Authenticode
#     signature whose digest matches and which verifies against the throwaway CA;
#     a tampered copy fails verification; the checker rejects a console exe;
#   - the NSIS installer builds, is signed, and its uninstaller was signed;
#   - darwin/amd64 and darwin/arm64: the core (./proxy/...) builds and vets;
#   - the macOS bundle layout (Info.plist, .icns) is right;
#   - SHA256SUMS matches.
#
# Not root, or a tool missing: fails when CI=true, skips loudly otherwise.
# CLEARWAY_CI_FAST=1 builds Linux amd64 only (build/dist.sh --fast). The binaries are
# built with CLEARWAY_TRIMPATH=0 so they reuse the cache of test.sh's `go build ./...`.
# Missing Debian tools are apt-get installed (CI runs as root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
START=$SECONDS

say() { printf "[packaging] [%3ds] %s\n" "$((SECONDS - START))" "$*"; }
fail() {
	printf '[packaging] FAIL: %s\n' "$*" >&2
	exit 1
}
skip_or_fail() {
	if [[ ${CI:-} == true ]]; then
		fail "$* (CI=true: a missing prerequisite is a failure)"
	fi
	printf '\n[packaging] ********************************************************\n' >&2
	printf '[packaging] SKIPPED: %s\n' "$*" >&2
	printf '[packaging] ********************************************************\n\n' >&2
	exit 0
}

# ---------------------------------------------------------------- prerequisites
[[ $(id -u) == 0 ]] || skip_or_fail "needs root for dpkg -i / dpkg -r"
command -v go >/dev/null 2>&1 || skip_or_fail "go is not on PATH (https://go.dev/dl)"
declare -A pkg_of=([dpkg]=dpkg [dpkg-deb]=dpkg [makensis]=nsis [osslsigncode]=osslsigncode
	[openssl]=openssl [desktop-file-validate]=desktop-file-utils [zip]=zip [unzip]=unzip [curl]=curl
	[flock]=util-linux [sha256sum]=coreutils [cmp]=diffutils [groff]=groff-base)
missing_tools() {
	local tool
	for tool in "${!pkg_of[@]}"; do
		command -v "$tool" >/dev/null 2>&1 || printf '%s\n' "$tool"
	done
}
missing_pkgs=()
mapfile -t missing < <(missing_tools)
if ((${#missing[@]} > 0)) && command -v apt-get >/dev/null 2>&1; then
	pkgs=()
	for tool in "${missing[@]}"; do pkgs+=("${pkg_of[$tool]}"); done
	say "installing ${pkgs[*]} (apt-get, as root)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; } || true
	mapfile -t missing < <(missing_tools)
fi
((${#missing[@]} == 0)) || {
	for tool in "${missing[@]}"; do missing_pkgs+=("${pkg_of[$tool]}"); done
	skip_or_fail "missing tools: ${missing[*]} (apt-get install ${missing_pkgs[*]})"
}

T=$(mktemp -d "${TMPDIR:-/tmp}/clearway-pkgtest.XXXXXX")
SERVE_PID=""
INSTALLED=0
cleanup() {
	if [[ -n $SERVE_PID ]] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -TERM "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	if [[ $INSTALLED == 1 ]]; then
		dpkg -r clearway >/dev/null 2>&1 || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# ---------------------------------------------------------------- throwaway certificate
say "throwaway self-signed code-signing certificate (openssl)"
openssl req -x509 -newkey rsa:3072 -nodes -days 2 -sha256 \
	-subj "/CN=clearway CI throwaway code signing" \
	-addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" \
	-keyout "$T/sign-key.pem" -out "$T/sign-cert.pem" 2>/dev/null
chmod 600 "$T/sign-key.pem"

# ---------------------------------------------------------------- dist
DIST="$T/dist"
dist_args=()
[[ ${CLEARWAY_CI_FAST:-0} == 1 ]] && dist_args+=(--fast)
say "build/dist.sh ${dist_args[*]:-} -> $DIST"
t0=$SECONDS
CLEARWAY_DIST_DIR="$DIST" CLEARWAY_SIGN_CERT="$T/sign-cert.pem" CLEARWAY_SIGN_KEY="$T/sign-key.pem" \
	CLEARWAY_SIGN_REQUIRED=1 CLEARWAY_TRIMPATH=0 build/dist.sh "${dist_args[@]}" 2>&1 | tee "$T/dist.log"
say "dist took $((SECONDS - t0)) s"

VERSION=$(sed -n 's/^==> \[ *[0-9]*s\] clearway \([^ ]*\) (commit \([^,]*\), built \(.*\))$/\1/p' "$T/dist.log")
COMMIT=$(sed -n 's/^==> \[ *[0-9]*s\] clearway \([^ ]*\) (commit \([^,]*\), built \(.*\))$/\2/p' "$T/dist.log")
[[ -n $VERSION && -n $COMMIT ]] || fail "dist.sh did not announce the version stamp"

# The checkers are built from build/tools (cached by dist.sh's build of the same module).
go -C build/tools build -o "$T/bin/" ./distcheck
DC="$T/bin/distcheck"

# ---------------------------------------------------------------- checksums
say "SHA256SUMS"
(cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match the artifacts"
n_listed=$(wc -l <"$DIST/SHA256SUMS")
n_files=$(find "$DIST" -maxdepth 1 -type f ! -name SHA256SUMS | wc -l)
[[ $n_listed == "$n_files" ]] || fail "SHA256SUMS lists $n_listed files, dist holds $n_files"

# ---------------------------------------------------------------- Linux artifacts
ARCHES="amd64 arm64"
[[ ${CLEARWAY_CI_FAST:-0} == 1 ]] && ARCHES=amd64
declare -A rpmarch=([amd64]=x86_64 [arm64]=aarch64)
for arch in $ARCHES; do
	bin="$DIST/clearway-$VERSION-linux-$arch"
	deb="$DIST/clearway_${VERSION}_$arch.deb"
	tgz="$DIST/clearway-$VERSION-linux-$arch.tar.gz"
	rpm="$DIST/clearway-$VERSION-1.${rpmarch[$arch]}.rpm"
	for f in "$bin" "$deb" "$tgz" "$rpm"; do [[ -s $f ]] || fail "missing artifact $(basename "$f")"; done
	say "linux/$arch: static ELF"
	"$DC" elf -arch "$arch" -static "$bin"

	say "linux/$arch: .deb metadata"
	dpkg-deb -f "$deb" Package Version Architecture Recommends Depends >"$T/control-$arch"
	cat "$T/control-$arch"
	grep -qx "Version: $VERSION" "$T/control-$arch" || fail "deb version is not $VERSION"
	grep -qx "Architecture: $arch" "$T/control-$arch" || fail "deb architecture is not $arch"
	grep -qx "Recommends: gnome-keyring | keepassxc" "$T/control-$arch" || fail "deb does not recommend a Secret Service provider"
	! grep -q "^Depends:" "$T/control-$arch" || fail "deb has hard dependencies; the static binary needs none"

	say "linux/$arch: the tar.gz holds the .deb's files, byte for byte, plus INSTALL"
	mkdir -p "$T/deb-$arch" "$T/tgz-$arch"
	dpkg-deb -x "$deb" "$T/deb-$arch"
	tar -C "$T/tgz-$arch" -xzf "$tgz"
	top="$T/tgz-$arch/clearway-$VERSION-linux-$arch"
	[[ -f $top/INSTALL ]] || fail "tar.gz has no INSTALL note"
	(cd "$T/deb-$arch/usr" && find . -type f | LC_ALL=C sort) >"$T/deb-files-$arch"
	(cd "$top" && find . -type f ! -path ./INSTALL | LC_ALL=C sort) >"$T/tgz-files-$arch"
	diff -u "$T/deb-files-$arch" "$T/tgz-files-$arch" || fail "tar.gz and .deb hold different files"
	while read -r f; do
		cmp -s "$T/deb-$arch/usr/$f" "$top/$f" || fail "tar.gz and .deb differ in $f"
	done <"$T/deb-files-$arch"
	[[ -x $top/bin/clearway ]] || fail "tar.gz bin/clearway is not executable"
	say "linux/$arch: $(wc -l <"$T/deb-files-$arch") files, identical"
done

# ---------------------------------------------------------------- install the .deb
DEB="$DIST/clearway_${VERSION}_amd64.deb"
say "dpkg -i $(basename "$DEB")"
dpkg -i "$DEB"
INSTALLED=1
mapfile -t PKG_FILES < <(dpkg -L clearway | while read -r p; do [[ -f $p ]] && echo "$p"; done)
for want in /usr/bin/clearway /usr/share/applications/clearway.desktop /usr/share/man/man1/clearway.1.gz \
	/usr/share/icons/hicolor/{16x16,24x24,32x32,48x48,64x64,128x128,256x256,512x512}/apps/clearway.png; do
	[[ -f $want ]] || fail "installed package lacks $want"
done
say "installed ${#PKG_FILES[@]} files"

say "installed: clearway version"
out=$(/usr/bin/clearway version)
echo "  $out"
[[ $out == "clearway $VERSION (commit $COMMIT, built "* ]] || fail "clearway version printed '$out', want version $VERSION and commit $COMMIT"

say "installed: desktop-file-validate"
dfv=$(desktop-file-validate /usr/share/applications/clearway.desktop 2>&1) || fail "desktop-file-validate: $dfv"
[[ -z $dfv ]] || fail "desktop-file-validate has remarks: $dfv"
grep -qx 'X-GNOME-Autostart-enabled=true' /usr/share/applications/clearway.desktop || fail "desktop entry is not autostart-capable"

say "installed: man page renders without warnings"
warn=$(zcat /usr/share/man/man1/clearway.1.gz | groff -man -Tutf8 -ww -z 2>&1) || fail "groff failed: $warn"
[[ -z $warn ]] || fail "man page warnings: $warn"
for section in SYNOPSIS COMMANDS CONFIGURATION ENVIRONMENT FILES; do
	zcat /usr/share/man/man1/clearway.1.gz | grep -q "^\.SH $section" || fail "man page lacks $section"
done
for word in serve keys token cookies status version CLEARWAY_CONFIG CLEARWAY_KEYCHAIN; do
	zcat /usr/share/man/man1/clearway.1.gz | grep -q "$word" || fail "man page does not mention $word"
done

say "installed: clearway serve answers /_clearway/health"
H="$T/home"
mkdir -p "$H/config/clearway" "$H/data" "$H/state" "$H/cache" "$H/runtime"
chmod 700 "$H/runtime"
PORT=$("$DC" freeport)
printf 'client_token: false\n' >"$H/config/clearway/config.yaml"
env -i PATH=/usr/bin:/bin HOME="$H" XDG_CONFIG_HOME="$H/config" XDG_DATA_HOME="$H/data" \
	XDG_STATE_HOME="$H/state" XDG_CACHE_HOME="$H/cache" XDG_RUNTIME_DIR="$H/runtime" \
	CLEARWAY_KEYCHAIN=env \
	/usr/bin/clearway serve --listen "127.0.0.1:$PORT" >"$T/serve.log" 2>&1 &
SERVE_PID=$!
deadline=$((SECONDS + 20))
until curl -fsS -o "$T/health" "http://127.0.0.1:$PORT/_clearway/health" 2>/dev/null; do
	if ! kill -0 "$SERVE_PID" 2>/dev/null; then
		cat "$T/serve.log" >&2
		fail "clearway serve exited before answering"
	fi
	if ((SECONDS >= deadline)); then
		cat "$T/serve.log" >&2
		fail "clearway serve did not answer /_clearway/health within 20 s"
	fi
	sleep 0.05
done
say "  health: $(tr -d "\n" <"$T/health" | head -c 200)"
# Health tells an unauthenticated caller nothing but "ok" (issue 12); the
# version is in the status (this config needs no client token).
curl -fsS -o "$T/status" "http://127.0.0.1:$PORT/_clearway/status" || fail "/_clearway/status did not answer"
grep -Eq "\"version\": *\"$VERSION\"" "$T/status" || fail "/_clearway/status does not report version $VERSION"
kill -TERM "$SERVE_PID"
serve_rc=0
wait "$SERVE_PID" || serve_rc=$?
SERVE_PID=""
[[ $serve_rc == 0 ]] || {
	cat "$T/serve.log" >&2
	fail "clearway serve exited $serve_rc after SIGTERM, want 0 (graceful)"
}
say "  SIGTERM: clean exit"

say "dpkg -r clearway"
dpkg -r clearway
INSTALLED=0
for f in "${PKG_FILES[@]}"; do
	[[ ! -e $f ]] || fail "dpkg -r left $f behind"
done
status=$(dpkg-query -W -f='${db:Status-Status}' clearway 2>/dev/null || true)
[[ -z $status || $status == not-installed ]] || fail "after dpkg -r the package status is '$status'"
say "removed: all ${#PKG_FILES[@]} files gone"

# ---------------------------------------------------------------- Windows
ZIPF="$DIST/clearway-$VERSION-windows-amd64.zip"
SETUP="$DIST/clearway-$VERSION-windows-amd64-setup.exe"
[[ -s $ZIPF && -s $SETUP ]] || fail "missing Windows artifacts"
mkdir -p "$T/win"
unzip -q "$ZIPF" -d "$T/win"
EXE="$T/win/clearway.exe"
[[ -f $EXE && -f $T/win/README.txt ]] || fail "zip lacks clearway.exe or README.txt"

say "windows: clearway.exe is a GUI-subsystem PE with icon, manifest, version info and a signature"
"$DC" pe -gui -signed -icon -manifest asInvoker -version "$VERSION" "$EXE"

say "windows: osslsigncode verify"
# Against the system CAs a self-signed chain cannot be trusted: the digest must
# still match and the only complaint must be the self-signed certificate.
osslsigncode verify -in "$EXE" >"$T/verify-system.txt" 2>&1 && fail "a self-signed signature verified against the system CAs?"
cur=$(sed -n 's/^Current message digest *: *\([0-9A-F]*\).*/\1/p' "$T/verify-system.txt")
calc=$(sed -n 's/^Calculated message digest *: *\([0-9A-F]*\).*/\1/p' "$T/verify-system.txt")
[[ -n $cur && $cur == "$calc" ]] || fail "signature digest mismatch (current $cur, calculated $calc)"
grep -q "self-signed certificate" "$T/verify-system.txt" || fail "verify failed for another reason than the self-signed chain: $(cat "$T/verify-system.txt")"
grep -q "Subject: /CN=clearway CI throwaway code signing" "$T/verify-system.txt" || fail "signer is not the throwaway certificate"
say "  digest $cur matches; untrusted only because self-signed"
# Trusting the throwaway certificate as the CA, the whole signature verifies.
osslsigncode verify -CAfile "$T/sign-cert.pem" -in "$EXE" >"$T/verify-ca.txt" 2>&1 ||
	fail "signature does not verify against its own certificate: $(cat "$T/verify-ca.txt")"
grep -q "^Signature verification: ok" "$T/verify-ca.txt" || fail "verify did not say ok"
say "  verifies with the throwaway certificate as CA: ok"
# Negative control: one changed byte in the code must break it.
cp "$EXE" "$T/tampered.exe"
printf '\x90' | dd of="$T/tampered.exe" bs=1 seek=4096 conv=notrunc status=none
if osslsigncode verify -CAfile "$T/sign-cert.pem" -in "$T/tampered.exe" >"$T/verify-tampered.txt" 2>&1; then
	fail "a tampered exe still verifies"
fi
say "  tampered copy: rejected"

say "windows: the PE checker rejects a console exe (negative control)"
mkdir -p "$T/console"
printf 'package main\nfunc main() {}\n' >"$T/console/main.go"
printf 'module console\ngo 1.26.0\n' >"$T/console/go.mod"
(cd "$T/console" && CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -o console.exe .)
if "$DC" pe -gui "$T/console/console.exe" >/dev/null 2>&1; then fail "distcheck accepted a console-subsystem exe"; fi
if "$DC" pe -signed "$T/console/console.exe" >/dev/null 2>&1; then fail "distcheck accepted an unsigned exe"; fi
if "$DC" pe -icon "$T/console/console.exe" >/dev/null 2>&1; then fail "distcheck accepted an exe without icon"; fi

say "windows: sign.sh with a password-protected PFX (the other way to give a certificate)"
openssl pkcs12 -export -inkey "$T/sign-key.pem" -in "$T/sign-cert.pem" -out "$T/sign.pfx" -passout pass:ci-throwaway
env -u CLEARWAY_SIGN_CERT -u CLEARWAY_SIGN_KEY CLEARWAY_SIGN_PFX="$T/sign.pfx" CLEARWAY_SIGN_PASSWORD=ci-throwaway \
	build/windows/sign.sh "$T/console/console.exe"
osslsigncode verify -CAfile "$T/sign-cert.pem" -in "$T/console/console.exe" >"$T/verify-pfx.txt" 2>&1 ||
	fail "PFX-signed exe does not verify: $(cat "$T/verify-pfx.txt")"

say "windows: installer"
"$DC" pe -gui -signed -icon -version "$VERSION" "$SETUP"
osslsigncode verify -CAfile "$T/sign-cert.pem" -in "$SETUP" >"$T/verify-setup.txt" 2>&1 ||
	fail "installer signature does not verify: $(cat "$T/verify-setup.txt")"
grep -q "^sign.sh: signed makensis" "$T/dist.log" || fail "makensis did not sign the uninstaller (!uninstfinalize)"
say "  installer signed; uninstaller signed inside it"

# ---------------------------------------------------------------- macOS
for arch in amd64 arm64; do
	say "darwin/$arch: go build ./proxy/... && go vet ./proxy/..."
	CGO_ENABLED=0 GOOS=darwin GOARCH=$arch go build ./proxy/...
	CGO_ENABLED=0 GOOS=darwin GOARCH=$arch go vet ./proxy/...
done
say "macOS bundle layout"
build/macos/build-app.sh --layout-only "$T/mac" 2>&1
"$DC" plist -require CFBundleIdentifier=com.clearway.clearway -require CFBundleExecutable=clearway \
	-require CFBundleIconFile=clearway -require LSUIElement=true \
	-require "CFBundleShortVersionString=$VERSION" "$T/mac/clearway.app/Contents/Info.plist"
"$DC" icns -min-sizes 5 "$T/mac/clearway.app/Contents/Resources/clearway.icns"
"$DC" plist -require Label=com.clearway.clearway -require RunAtLoad=true build/macos/com.clearway.clearway.plist

# ---------------------------------------------------------------- report
say "artifacts:"
(cd "$DIST" && find . -maxdepth 1 -type f -printf '%P\n' | LC_ALL=C sort | while read -r f; do
	printf '[packaging]   %-48s %10d bytes\n' "$f" "$(stat -c %s "$f")"
done)
say "PASS in $((SECONDS - START)) s"
