#!/usr/bin/env bash
# Sign a Windows executable in place with Authenticode (osslsigncode).
#
#   build/windows/sign.sh FILE.exe [DESCRIPTION]
#
# The certificate comes from the environment, one of:
#   CLEARWAY_SIGN_CERT + CLEARWAY_SIGN_KEY   PEM certificate (chain) and private key files
#   CLEARWAY_SIGN_PFX                        a PKCS#12 file
# and, when the key or PFX is encrypted, CLEARWAY_SIGN_PASSWORD. The password is
# handed to osslsigncode through a file descriptor, never on its command line.
# CLEARWAY_SIGN_TIMESTAMP (an RFC 3161 URL, e.g. http://timestamp.digicert.com)
# adds a timestamp so the signature outlives the certificate; leave it unset
# offline.
#
# makensis calls this for the uninstaller (!uninstfinalize); build/dist.sh for
# clearway.exe and the installer.
set -euo pipefail

file=${1:?usage: sign.sh FILE.exe [DESCRIPTION]}
desc=${2:-clearway}

if ! command -v osslsigncode >/dev/null 2>&1; then
	echo "sign.sh: osslsigncode is not installed (Debian: apt-get install osslsigncode)" >&2
	exit 1
fi

args=(sign -h sha256 -n "$desc" -i "https://github.com/clearway/clearway")
if [[ -n ${CLEARWAY_SIGN_PFX:-} ]]; then
	args+=(-pkcs12 "$CLEARWAY_SIGN_PFX")
elif [[ -n ${CLEARWAY_SIGN_CERT:-} && -n ${CLEARWAY_SIGN_KEY:-} ]]; then
	args+=(-certs "$CLEARWAY_SIGN_CERT" -key "$CLEARWAY_SIGN_KEY")
else
	echo "sign.sh: no certificate: set CLEARWAY_SIGN_CERT and CLEARWAY_SIGN_KEY, or CLEARWAY_SIGN_PFX" >&2
	exit 1
fi
if [[ -n ${CLEARWAY_SIGN_TIMESTAMP:-} ]]; then
	args+=(-ts "$CLEARWAY_SIGN_TIMESTAMP")
fi

tmp="$file.signing.$$"
trap 'rm -f "$tmp"' EXIT
if [[ -n ${CLEARWAY_SIGN_PASSWORD:-} ]]; then
	osslsigncode "${args[@]}" -readpass <(printf '%s' "$CLEARWAY_SIGN_PASSWORD") -in "$file" -out "$tmp" >/dev/null
else
	osslsigncode "${args[@]}" -in "$file" -out "$tmp" >/dev/null
fi
mv -f "$tmp" "$file"
echo "sign.sh: signed $(basename "$file")" >&2
