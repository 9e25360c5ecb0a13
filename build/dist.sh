#!/usr/bin/env bash
# build/dist.sh: build every clearway release artifact into dist/, with SHA256SUMS.
#
#   build/dist.sh            Linux amd64 + arm64, Windows amd64 (runs on Linux; macOS .app:
#                            build/macos/build-app.sh on a Mac)
#   build/dist.sh --fast     Linux amd64 only, Windows amd64 (CI: CLEARWAY_CI_FAST=1)
#
# Artifacts (VERSION from $CLEARWAY_VERSION, else an exact v* git tag, else build/VERSION):
#   clearway-VERSION-linux-ARCH            static binary (CGO_ENABLED=0)
#   clearway_VERSION_ARCH.deb, clearway-VERSION-1.RPMARCH.rpm   (nfpm)
#   clearway-VERSION-linux-ARCH.tar.gz     bin/, share/ and INSTALL: the package's files
#   clearway-VERSION-windows-amd64.zip     clearway.exe (GUI subsystem, icon, manifest, version info) + README.txt
#   clearway-VERSION-windows-amd64-setup.exe   per-user NSIS installer
#   SHA256SUMS
#
# Environment:
#   CLEARWAY_DIST_DIR     output folder (default: dist/ at the repository root); earlier
#                         clearway* files and SHA256SUMS in it are removed first
#   CLEARWAY_VERSION      version to stamp, e.g. 0.2.0 or 0.2.0-rc.1 (no leading v)
#   SOURCE_DATE_EPOCH     build date and file times (default: the commit time when the
#                         tree is clean, else now), for reproducible archives
#   CLEARWAY_SIGN_CERT + CLEARWAY_SIGN_KEY, or CLEARWAY_SIGN_PFX; CLEARWAY_SIGN_PASSWORD;
#   CLEARWAY_SIGN_TIMESTAMP   Authenticode signing of the Windows files (build/windows/sign.sh)
#   CLEARWAY_SIGN_REQUIRED=1  fail instead of shipping unsigned Windows files
#   CLEARWAY_TRIMPATH=0   build without -trimpath (CI: reuses the build cache of `go build ./...`;
#                         releases keep the default, which leaves no build paths in binaries)
#
# Windows resources: go-winres writes rsrc_windows_amd64.syso into the repository root
# for the Windows link only and removes it right after (and on any exit); the file is
# not committed because it carries the version. Only GOOS=windows GOARCH=amd64 builds
# ever link it. A lock serializes concurrent dist runs in one checkout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

FAST=0
for arg in "$@"; do
	case $arg in
	--fast) FAST=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "dist.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

log() { printf "==> [%3ds] %s\n" "$SECONDS" "$*" >&2; }
die() {
	printf 'dist.sh: %s\n' "$*" >&2
	exit 1
}
need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 is missing ($2)"
}

need go "https://go.dev/dl"
need makensis "Debian: apt-get install nsis"
need zip "Debian: apt-get install zip"
need sha256sum "coreutils"
need flock "util-linux"

# One dist at a time per checkout: the Windows build puts a .syso in the root.
exec 9>"${TMPDIR:-/tmp}/clearway-dist-$(printf %s "$ROOT" | sha256sum | cut -c1-12).lock"
flock -w 900 9 || die "another build/dist.sh has held the lock for 15 minutes"

# ---------------------------------------------------------------- version stamp
git_ok=0
if git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then git_ok=1; fi

VERSION=${CLEARWAY_VERSION:-}
if [[ -z $VERSION && $git_ok == 1 ]]; then
	VERSION=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null || true)
	VERSION=${VERSION#v}
fi
if [[ -z $VERSION ]]; then
	VERSION=$(tr -d ' \n' <build/VERSION)
fi
[[ $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)(-[0-9A-Za-z.]+)?$ ]] ||
	die "version '$VERSION' is not MAJOR.MINOR.PATCH[-PRERELEASE]"
VERSION4="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}.0"

COMMIT=unknown
clean=0
if [[ $git_ok == 1 ]]; then
	COMMIT=$(git rev-parse --short=12 HEAD)
	if [[ -z $(git status --porcelain -- . ":!dist" 2>/dev/null) ]]; then clean=1; else COMMIT="$COMMIT-dirty"; fi
fi
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
	if [[ $clean == 1 ]]; then
		SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
	else
		SOURCE_DATE_EPOCH=$(date +%s)
	fi
fi
export SOURCE_DATE_EPOCH
DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
DAY=${DATE%%T*}

TRIM=(-trimpath)
[[ ${CLEARWAY_TRIMPATH:-1} == 0 ]] && TRIM=()
LDFLAGS="-s -w -buildid= -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE"
export CGO_ENABLED=0
log "clearway $VERSION (commit $COMMIT, built $DATE)"

# ---------------------------------------------------------------- folders
DIST=${CLEARWAY_DIST_DIR:-$ROOT/dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
[[ $DIST != "$ROOT" ]] || die "CLEARWAY_DIST_DIR must not be the repository root"
find "$DIST" -maxdepth 1 -type f \( -name 'clearway[-_]*' -o -name SHA256SUMS \) -delete
WORK=$(mktemp -d "${TMPDIR:-/tmp}/clearway-dist.XXXXXX")
SYSO="$ROOT/rsrc_windows_amd64.syso"
cleanup() {
	rm -f "$SYSO"
	rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- tools
# nfpm, go-winres and the small checkers are pinned in build/tools/go.mod, a
# module of their own so the app's go.mod stays small.
TOOLS="$WORK/tools"
log "tools (build/tools: nfpm, go-winres, mkicns, distcheck)"
go -C build/tools build -o "$TOOLS/" tool ./mkicns ./distcheck

# ---------------------------------------------------------------- Linux
ICON_SIZES="16 24 32 48 64 128 256 512"
for size in $ICON_SIZES; do
	[[ -f assets/icon/clearway-$size.png ]] || die "assets/icon/clearway-$size.png is missing"
done

# stage_linux ARCH BINARY DIR: lay the installed files out under DIR/usr.
stage_linux() {
	local arch=$1 bin=$2 dir=$3
	install -D -m 0755 "$bin" "$dir/usr/bin/clearway"
	install -D -m 0644 build/linux/clearway.desktop "$dir/usr/share/applications/clearway.desktop"
	for size in $ICON_SIZES; do
		install -D -m 0644 "assets/icon/clearway-$size.png" \
			"$dir/usr/share/icons/hicolor/${size}x${size}/apps/clearway.png"
	done
	mkdir -p "$dir/usr/share/man/man1"
	sed -e "s/@VERSION@/$VERSION/g" -e "s/@DATE@/$DAY/g" build/linux/clearway.1 |
		gzip -9n >"$dir/usr/share/man/man1/clearway.1.gz"
	chmod 0644 "$dir/usr/share/man/man1/clearway.1.gz"
}

# tarball ARCH STAGE: the staged /usr tree as PREFIX-relative bin/ and share/, plus INSTALL.
tarball() {
	local arch=$1 stage=$2 name="clearway-$VERSION-linux-$arch"
	local top="$WORK/tar-$arch/$name"
	mkdir -p "$top"
	cp -a "$stage/usr/." "$top/"
	sed -e "s/@VERSION@/$VERSION/g" -e "s/@ARCH@/$arch/g" build/linux/INSTALL >"$top/INSTALL"
	chmod 0644 "$top/INSTALL"
	tar -C "$WORK/tar-$arch" --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$SOURCE_DATE_EPOCH" -cf - "$name" | gzip -9n >"$DIST/$name.tar.gz"
}

LINUX_ARCHES="amd64 arm64"
[[ $FAST == 1 ]] && LINUX_ARCHES="amd64"
for arch in $LINUX_ARCHES; do
	log "linux/$arch: binary"
	bin="$DIST/clearway-$VERSION-linux-$arch"
	GOOS=linux GOARCH=$arch go build "${TRIM[@]}" -ldflags "$LDFLAGS" -o "$bin" .
	stage="$WORK/stage-$arch"
	stage_linux "$arch" "$bin" "$stage"
	log "linux/$arch: .deb, .rpm (nfpm)"
	for packager in deb rpm; do
		GOARCH=$arch STAGE=$stage VERSION=$VERSION \
			"$TOOLS/nfpm" package --config build/linux/nfpm.yaml --packager "$packager" --target "$DIST/" >/dev/null
	done
	log "linux/$arch: tar.gz"
	tarball "$arch" "$stage"
done

# ---------------------------------------------------------------- Windows
signing=0
if [[ -n ${CLEARWAY_SIGN_PFX:-} || (-n ${CLEARWAY_SIGN_CERT:-} && -n ${CLEARWAY_SIGN_KEY:-}) ]]; then
	signing=1
	need osslsigncode "Debian: apt-get install osslsigncode"
elif [[ ${CLEARWAY_SIGN_REQUIRED:-0} == 1 ]]; then
	die "CLEARWAY_SIGN_REQUIRED=1 but no certificate: set CLEARWAY_SIGN_CERT and CLEARWAY_SIGN_KEY, or CLEARWAY_SIGN_PFX"
else
	log "windows: NO CERTIFICATE GIVEN: clearway.exe and the installer are UNSIGNED (see build/windows/sign.sh)"
fi

log "windows/amd64: resources (go-winres), binary"
winout="$WORK/windows"
mkdir -p "$winout"
"$TOOLS/go-winres" make --in build/windows/winres.json --arch amd64 --out "$WORK/rsrc" \
	--product-version "$VERSION" --file-version "$VERSION"
cp "$WORK/rsrc_windows_amd64.syso" "$SYSO"
GOOS=windows GOARCH=amd64 go build "${TRIM[@]}" -ldflags "$LDFLAGS -H windowsgui" -o "$winout/clearway.exe" .
rm -f "$SYSO"
if [[ $signing == 1 ]]; then
	build/windows/sign.sh "$winout/clearway.exe" "clearway"
fi

log "windows/amd64: zip"
sed -e "s/@VERSION@/$VERSION/g" -e 's/$/\r/' build/windows/README.txt >"$winout/README.txt"
touch -d "@$SOURCE_DATE_EPOCH" "$winout/clearway.exe" "$winout/README.txt"
(cd "$winout" && zip -q -X -9 "$DIST/clearway-$VERSION-windows-amd64.zip" clearway.exe README.txt)

log "windows/amd64: installer (makensis)"
setup="$DIST/clearway-$VERSION-windows-amd64-setup.exe"
nsis_args=(-V2 -DVERSION="$VERSION" -DVERSION4="$VERSION4" -DEXE="$winout/clearway.exe"
	-DICON="$ROOT/assets/icon/clearway.ico" -DOUTFILE="$setup")
if [[ $signing == 1 ]]; then
	nsis_args+=(-DSIGN_SCRIPT="$ROOT/build/windows/sign.sh")
fi
makensis "${nsis_args[@]}" build/windows/clearway.nsi
if [[ $signing == 1 ]]; then
	build/windows/sign.sh "$setup" "clearway $VERSION setup"
fi

# ---------------------------------------------------------------- macOS
# The tray needs cgo on macOS, so the .app is built on a Mac: build/macos/build-app.sh.
log "macos: not built here (run build/macos/build-app.sh on a Mac)"

# ---------------------------------------------------------------- checksums
(cd "$DIST" && find . -maxdepth 1 -type f -name 'clearway[-_]*' -printf '%P\n' | LC_ALL=C sort |
	xargs sha256sum >SHA256SUMS)

log "artifacts in $DIST"
(cd "$DIST" && find . -maxdepth 1 -type f \( -name 'clearway[-_]*' -o -name SHA256SUMS \) -printf '%P\n' | LC_ALL=C sort | while read -r f; do
	printf '  %-48s %10s bytes  %s\n' "$f" "$(stat -c %s "$f")" "$(numfmt --to=iec --suffix=B "$(stat -c %s "$f")")"
done)
