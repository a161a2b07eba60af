#!/usr/bin/env bash
# securedrop-lite STAGING ONLY: make a throwaway ombuds key pair for the staging
# VM, with NO passphrase, and export its public half for deploy/provision.sh.
#
#   deploy/staging-key.sh DIR [OWNER]
#
# DIR becomes a GnuPG home (mode 0700) standing in for the air-gapped machine;
# the public key is written to DIR/staging-public-key.asc. OWNER, if given, owns
# DIR. Running it again reuses the key. The private key sits unprotected on the
# VM: NEVER use this for real submissions. A real key is made on the air-gapped
# machine with `sdlite-airgap keygen` (README.md, "Set up a real instance").
set -euo pipefail

readonly UID_TEXT='STAGING ONLY - NOT FOR REAL USE <staging-only@example.invalid>'

if (($# < 1 || $# > 2)); then
  echo "usage: $0 DIR [OWNER]" >&2
  exit 2
fi
home=$1
owner=${2:-}
public=$home/staging-public-key.asc

if ! command -v gpg >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnupg
fi

mkdir -p "$home"
chmod 0700 "$home"
export GNUPGHOME=$home
gpg_batch=(gpg --batch --quiet --pinentry-mode loopback --passphrase '')

fingerprint=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
if [[ -z $fingerprint ]]; then
  # Ed25519 to sign, Curve25519 to encrypt: what sdlite-airgap keygen makes.
  "${gpg_batch[@]}" --quick-gen-key "$UID_TEXT" ed25519 sign 2y
  fingerprint=$(gpg --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')
  "${gpg_batch[@]}" --quick-add-key "$fingerprint" cv25519 encr 2y
fi
gpg --batch --armor --export "$fingerprint" >"$public.tmp"
mv -f "$public.tmp" "$public"
chmod 0644 "$public"
gpgconf --kill gpg-agent 2>/dev/null || true
if [[ -n $owner ]]; then
  chown -R "$owner:" "$home"
fi
echo "STAGING ONLY key $fingerprint; public key in $public"
