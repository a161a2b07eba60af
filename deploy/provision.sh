#!/usr/bin/env bash
# securedrop-lite: install or upgrade a server on Debian 12 (also what the
# staging VM runs, see the Vagrantfile).
#
#   sudo deploy/provision.sh --submission-key /path/to/ombuds-public-key.asc \
#       [--organization NAME] [--source-dir DIR] [--force-os] [--dry-run]
#
# NEVER run it for real on a development machine: it installs a tor that joins
# the PUBLIC Tor network and publishes onion services. --dry-run changes
# nothing and prints what a real run would do.
#
# Safe to run again (to upgrade from a newer checkout, or to repair): every
# step checks what is there first. It installs the Debian packages, the user
# sdlite, the code in /opt/securedrop-lite, the torrc in /etc/securedrop-lite,
# the systemd units and the apps' journal settings, initializes
# /var/lib/securedrop-lite once, and starts it all. See tor/README.md.
set -euo pipefail

readonly PREFIX=/opt/securedrop-lite
readonly SRC_DIR=$PREFIX/src
readonly VENV=$PREFIX/venv
readonly SDLITE=$VENV/bin/sdlite
readonly DEFAULT_DATA_DIR=/var/lib/securedrop-lite
readonly ETC_DIR=/etc/securedrop-lite
readonly TORRC=$ETC_DIR/torrc
readonly UNIT_DIR=/etc/systemd/system
# The apps log into their own journal (LogNamespace=sdlite), in RAM for a day.
readonly LOG_NAMESPACE=sdlite
readonly JOURNALD_CONF=/etc/systemd/journald@$LOG_NAMESPACE.conf
readonly SERVICE_USER=sdlite
# This script, as install_source installs it (configure_instance sources it as
# the service user). Not readonly: the tests point it at the checkout.
INSTALLED_SCRIPT=$SRC_DIR/deploy/provision.sh
readonly TOR_GROUP=debian-tor
readonly TOR_CONTROL=unix:/run/tor/control
readonly APPARMOR_PROFILE=/etc/apparmor.d/system_tor
readonly APPARMOR_LOCAL=/etc/apparmor.d/local/system_tor
readonly APPARMOR_RULE="$TORRC r,"
readonly PACKAGES=(tor python3-venv gnupg)
readonly UNITS=(sdlite-tor.service sdlite-source.service sdlite-journalist.service
  sdlite-onion.service sdlite-purge.service sdlite-purge.timer)
readonly ENABLED_UNITS=(sdlite-tor.service sdlite-source.service sdlite-journalist.service
  sdlite-onion.service sdlite-purge.timer)
# Debian's own tor: tor.service only groups the instances; tor@default.service
# is the daemon, with the same DataDirectory and /run/tor as sdlite-tor.
readonly DEBIAN_TOR_UNITS=(tor.service tor@default.service)
# Not copied to /opt/securedrop-lite/src.
readonly SOURCE_EXCLUDES=(.git .venv .demo .vagrant .pytest_cache .mypy_cache .ruff_cache
  __pycache__ '*.pyc' '*.egg-info' build dist bench/out)

SUBMISSION_KEY=""
ORGANIZATION="Ombuds Office"
SOURCE_DIR=""
DATA_DIR=$DEFAULT_DATA_DIR
FORCE_OS=0
DRY_RUN=0
CLEANUP=()

usage() {
  cat <<EOF
Usage: sudo $0 --submission-key FILE [options]

Install securedrop-lite on this Debian 12 server and start it.

  --submission-key FILE  the ombuds' armored PUBLIC key (from sdlite-airgap keygen)
  --organization NAME    the name shown on every page (default: Ombuds Office;
                         used only when the instance is first initialized)
  --source-dir DIR       the checkout to install (default: the one holding this script)
  --force-os             run on a system that is not Debian 12
  --dry-run              change nothing; print what a real run would do, and
                         show the sdlite.toml edit on a copy in \$TMPDIR
  --data-dir DIR         with --dry-run only: the data directory to read
                         (a real install always uses $DEFAULT_DATA_DIR)
  -h, --help             this help
EOF
}

die() {
  printf 'provision.sh: error: %s\n' "$*" >&2
  exit 1
}

note() {
  printf '    %s\n' "$*"
}

step() {
  printf '==> %s\n' "$*"
}

dry_run() {
  [[ $DRY_RUN == 1 ]]
}

# Run a command, or with --dry-run print it instead.
run() {
  if dry_run; then
    printf '    would run:'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Run a command as the service user, with its own groups only (not debian-tor),
# from a folder it can read.
as_service_user() {
  (cd / && run runuser -u "$SERVICE_USER" -- "$@")
}

# How root runs an sdlite command that uses tor's control socket (sdlite onion
# ..., sdlite user add|delete|onion-key, which republish the ombuds service): as
# the service user, with debian-tor for this command only, since the user is not
# in that group (see ensure_user). -g keeps sdlite the primary group, so the
# files the command writes stay sdlite's (-G alone would make debian-tor the
# primary group). Not sudo -u sdlite -g debian-tor, which also makes debian-tor
# the primary group (and sudo may be missing); not sg, which cannot switch user.
readonly AS_TOR_CLIENT=(runuser -u "$SERVICE_USER" -g "$SERVICE_USER" -G "$TOR_GROUP" --)

# Run a command as the service user with the group debian-tor (AS_TOR_CLIENT).
as_tor_client() {
  (cd / && run "${AS_TOR_CLIENT[@]}" "$@")
}

cleanup() {
  if ((${#CLEANUP[@]})); then
    rm -rf -- "${CLEANUP[@]}"
  fi
}

parse_args() {
  while (($#)); do
    case $1 in
      --submission-key) SUBMISSION_KEY=${2:?--submission-key needs a file}; shift ;;
      --submission-key=*) SUBMISSION_KEY=${1#*=} ;;
      --organization) ORGANIZATION=${2:?--organization needs a name}; shift ;;
      --organization=*) ORGANIZATION=${1#*=} ;;
      --source-dir) SOURCE_DIR=${2:?--source-dir needs a folder}; shift ;;
      --source-dir=*) SOURCE_DIR=${1#*=} ;;
      --data-dir) DATA_DIR=${2:?--data-dir needs a folder}; shift ;;
      --data-dir=*) DATA_DIR=${1#*=} ;;
      --force-os) FORCE_OS=1 ;;
      --dry-run) DRY_RUN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  [[ -n $SUBMISSION_KEY ]] || { usage >&2; die "--submission-key is required"; }
  if [[ $DATA_DIR != "$DEFAULT_DATA_DIR" ]] && ! dry_run; then
    die "--data-dir is for --dry-run only: the systemd units use $DEFAULT_DATA_DIR"
  fi
  if [[ -z $SOURCE_DIR ]]; then
    SOURCE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
  fi
}

os_release_value() {
  local name=$1 file=$2
  sed -n "s/^$name=//p" "$file" | tr -d '"' | head -n 1
}

check_os() {
  local os_release=${SDLITE_PROVISION_OS_RELEASE:-/etc/os-release} id version
  [[ -r $os_release ]] || die "cannot read $os_release"
  id=$(os_release_value ID "$os_release")
  version=$(os_release_value VERSION_ID "$os_release")
  if [[ $id == debian && $version == 12 ]]; then
    return 0
  fi
  if [[ $FORCE_OS == 1 ]]; then
    note "WARNING: this is ${id:-?} ${version:-?}, not Debian 12; going on (--force-os)"
    return 0
  fi
  die "this is ${id:-?} ${version:-?}, not Debian 12 (add --force-os to try anyway)"
}

check_root() {
  [[ $(id -u) == 0 ]] && return 0
  if dry_run; then
    note "note: not root; a real run would stop here"
    return 0
  fi
  die "run this as root (sudo $0 ...)"
}

check_key() {
  [[ -f $SUBMISSION_KEY && -r $SUBMISSION_KEY ]] ||
    die "cannot read the submission key $SUBMISSION_KEY"
  if grep -q -- '-----BEGIN PGP PRIVATE KEY BLOCK-----' "$SUBMISSION_KEY"; then
    die "$SUBMISSION_KEY holds a PRIVATE key: it must never reach the server; use the public key"
  fi
  grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$SUBMISSION_KEY" ||
    die "$SUBMISSION_KEY is not an armored OpenPGP public key"
}

check_source() {
  local required
  for required in setup.cfg requirements/runtime.txt tor/torrc "deploy/journald@$LOG_NAMESPACE.conf" \
    "${UNITS[@]/#/deploy/systemd/}"; do
    [[ -f $SOURCE_DIR/$required ]] ||
      die "$SOURCE_DIR is not a securedrop-lite checkout (no $required)"
  done
}

mask_debian_tor() {
  step "Masking Debian's own tor service (sdlite-tor runs tor instead)"
  # Before the package is installed too, so that its daemon never starts: it
  # would share /var/lib/tor and /run/tor with sdlite-tor.
  local unit
  for unit in "${DEBIAN_TOR_UNITS[@]}"; do
    if systemctl is-active --quiet "$unit"; then
      run systemctl stop "$unit"
    fi
  done
  if systemctl is-enabled --quiet tor.service 2>/dev/null; then
    run systemctl disable tor.service
  fi
  run systemctl mask "${DEBIAN_TOR_UNITS[@]}"
}

install_packages() {
  step "Installing Debian packages: ${PACKAGES[*]}"
  run apt-get update -q
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
}

# Whether /etc/group lists USER as a member of GROUP (what gpasswd edits).
group_lists() {
  local user=$1 group=$2 members
  members=$(getent group "$group" | cut -d: -f4) || return 1
  [[ ,$members, == *",$user,"* ]]
}

ensure_user() {
  step "The service user $SERVICE_USER and $DATA_DIR"
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    run adduser --system --group --home "$DATA_DIR" --no-create-home \
      --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  # The user is NOT in the group debian-tor, which opens tor's control socket
  # and cookie: every process of the user would have them, the internet-facing
  # source app included. Only sdlite-onion.service and sdlite-journalist.service
  # get the group (SupplementaryGroups=), and the sdlite commands an admin runs
  # with AS_TOR_CLIENT. An older provision.sh added the user to it: undo that
  # ("not a member" is fine; still being one is not). The units lose the group
  # when start_services restarts them.
  if group_lists "$SERVICE_USER" "$TOR_GROUP"; then
    run gpasswd -d "$SERVICE_USER" "$TOR_GROUP" || true
    if ! dry_run && group_lists "$SERVICE_USER" "$TOR_GROUP"; then
      die "could not remove $SERVICE_USER from the group $TOR_GROUP: remove it by hand (gpasswd -d)"
    fi
  fi
  run install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR"
}

install_source() {
  step "Copying $SOURCE_DIR to $SRC_DIR"
  if [[ $(realpath -m -- "$SOURCE_DIR") == "$(realpath -m -- "$SRC_DIR")" ]]; then
    note "$SRC_DIR is the source already"
    return 0
  fi
  local staging=$SRC_DIR.new exclude excludes=()
  for exclude in "${SOURCE_EXCLUDES[@]}"; do
    excludes+=("--exclude=$exclude")
  done
  run install -d -m 0755 -o root -g root "$PREFIX"
  run rm -rf -- "$staging"
  run install -d -m 0755 -o root -g root "$staging"
  if dry_run; then
    note "would copy $SOURCE_DIR into $staging, without: ${SOURCE_EXCLUDES[*]}"
  else
    tar -C "$SOURCE_DIR" "${excludes[@]}" -cf - . | tar -C "$staging" --no-same-owner -xf -
  fi
  # Owned by root, readable by all, writable by root only.
  run chmod -R u=rwX,go=rX "$staging"
  run rm -rf -- "$SRC_DIR"
  run mv -- "$staging" "$SRC_DIR"
}

install_venv() {
  step "Installing the Python packages into $VENV"
  if [[ ! -x $VENV/bin/python ]]; then
    run python3 -m venv "$VENV"
  fi
  local pip=("$VENV/bin/pip" --disable-pip-version-check --no-input)
  # Exact pins, without hashes (requirements/runtime.txt has none yet).
  run "${pip[@]}" install -q --no-cache-dir -r "$SRC_DIR/requirements/runtime.txt"
  run "${pip[@]}" install -q --no-cache-dir --no-deps --force-reinstall "$SRC_DIR"
  run "${pip[@]}" check
}

install_torrc() {
  step "Installing $TORRC"
  run install -d -m 0755 -o root -g root "$ETC_DIR"
  run install -m 0644 -o root -g root "$SRC_DIR/tor/torrc" "$TORRC"
  if [[ ! -e $APPARMOR_PROFILE ]]; then
    note "no AppArmor profile $APPARMOR_PROFILE: tor runs without one"
    return 0
  fi
  # Debian's profile for tor reads only /etc/tor/; allow our torrc too.
  if ! grep -qxF -- "$APPARMOR_RULE" "$APPARMOR_LOCAL" 2>/dev/null; then
    if dry_run; then
      note "would append to $APPARMOR_LOCAL: $APPARMOR_RULE"
    else
      printf '%s\n' "# securedrop-lite (deploy/provision.sh): sdlite-tor.service reads its torrc" \
        "$APPARMOR_RULE" >>"$APPARMOR_LOCAL"
    fi
  fi
  if command -v aa-enabled >/dev/null && aa-enabled --quiet 2>/dev/null; then
    run apparmor_parser -r -T -W "$APPARMOR_PROFILE"
  fi
}

install_units() {
  step "Installing the systemd units into $UNIT_DIR"
  local unit
  for unit in "${UNITS[@]}"; do
    run install -m 0644 -o root -g root "$SRC_DIR/deploy/systemd/$unit" "$UNIT_DIR/$unit"
  done
  run systemctl daemon-reload
}

install_journald_conf() {
  step "Installing the apps' journal settings: $JOURNALD_CONF"
  # sdlite-source and sdlite-journalist log into the journal namespace sdlite,
  # kept in RAM for about a day (P4: no time of day about a source on disk).
  run install -m 0644 -o root -g root "$SRC_DIR/deploy/journald@$LOG_NAMESPACE.conf" "$JOURNALD_CONF"
  # That journald reads its file when it starts: apply a changed one (the apps'
  # log streams survive the restart). If it is not running, this does nothing.
  run systemctl try-restart "systemd-journald@$LOG_NAMESPACE.service"
}

initialize_instance() {
  step "Initializing $DATA_DIR"
  if [[ -e $DATA_DIR/sdlite.toml ]]; then
    note "initialized already; --organization is not applied again (use /admin/settings)"
    return 0
  fi
  # The user sdlite may not be able to read the key where it is (e.g. /root).
  local key_dir key_copy
  if dry_run; then
    key_copy="(a readable copy of $SUBMISSION_KEY)"
  else
    key_dir=$(mktemp -d)
    CLEANUP+=("$key_dir")
    chmod 0755 "$key_dir"
    key_copy=$key_dir/ombuds-public-key.asc
    install -m 0644 -- "$SUBMISSION_KEY" "$key_copy"
  fi
  as_service_user "$SDLITE" init --data-dir "$DATA_DIR" --submission-key "$key_copy" \
    --organization "$ORGANIZATION"
  note "CHECK the fingerprint above against the one written on paper at keygen."
}

# Print the top-level value of KEY in the sdlite.toml FILE as JSON ("", false,
# "unix:/run/tor/control"...), or absent.
config_value() {
  python3 - "$1" "$2" <<'PY'
import json
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    config = tomllib.load(f)
print(json.dumps(config[sys.argv[2]]) if sys.argv[2] in config else "absent")
PY
}

# Set `KEY = VALUE` (VALUE in TOML) at the top level of the sdlite.toml FILE: on
# KEY's own line if it has one, else on a new line, under COMMENT, above the
# first table (in TOML, every line after [secrets] belongs to [secrets]). The
# edit is checked with tomllib before it replaces FILE: the result must hold
# FILE's settings, with KEY set to VALUE. Whoever runs it owns the result: on a
# server, the service user (configure_instance).
set_config_value() {
  local file=$1 key=$2 value=$3 comment=$4 edited
  [[ -f $file && ! -L $file ]] || die "$file is not a regular file"
  edited=$(mktemp "$file.XXXXXX")
  awk -v key="$key" -v setting="$key = $value" -v comment="$comment" '
    !table && /^[[:space:]]*\[/ {
      table = 1
      if (!done) {
        print comment
        print setting
        print ""
        done = 1
      }
    }
    !done && !table && $0 ~ ("^[[:space:]]*" key "[[:space:]]*=") {
      print setting
      done = 1
      next
    }
    { print }
    END {
      if (!done) {
        print comment
        print setting
      }
    }
  ' "$file" >"$edited"
  if ! python3 - "$file" "$edited" "$key" "$value" <<'PY'; then
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    before = tomllib.load(f)
with open(sys.argv[2], "rb") as f:
    after = tomllib.load(f)
value = tomllib.loads(f"value = {sys.argv[4]}")["value"]
sys.exit(0 if after == {**before, sys.argv[3]: value} else 1)
PY
    rm -f -- "$edited"
    die "could not set $key in $file safely; set it by hand, above [secrets]: $key = $value"
  fi
  chmod 0600 "$edited"
  mv -f -- "$edited" "$file"
  note "set $key = $value in $file"
}

# tor_control = "unix:/run/tor/control", unless the sdlite.toml FILE names a
# control port already (sdlite init writes tor_control = "", which names none).
set_tor_control() {
  local file=$1 value
  value=$(config_value "$file" tor_control) || die "$file is not valid TOML"
  if [[ $value != absent && $value != '""' ]]; then
    note "tor_control is set in $file already; left as it is"
    return 0
  fi
  set_config_value "$file" tor_control "\"$TOR_CONTROL\"" \
    "# The control socket of sdlite-tor.service, for sdlite onion (deploy/provision.sh)."
}

# onion_pow = true: tor's proof-of-work defense for the source service (tor >=
# 0.4.8, built with it: Debian's is, since 0.4.8.4-2). sdlite init writes it; this
# adds it to a sdlite.toml FILE made before it existed. An admin's value stays.
set_onion_pow() {
  local file=$1 value
  value=$(config_value "$file" onion_pow) || die "$file is not valid TOML"
  if [[ $value != absent ]]; then
    note "onion_pow = $value in $file already; left as it is"
    return 0
  fi
  set_config_value "$file" onion_pow true \
    "# Proof of work under a flood, for the source service (deploy/provision.sh)."
}

# Both edits of the sdlite.toml FILE.
edit_config() {
  set_tor_control "$1"
  set_onion_pow "$1"
}

configure_instance() {
  step "Settings in sdlite.toml: tor's control socket, proof of work"
  local config=$DATA_DIR/sdlite.toml copy
  if [[ ! -e $config ]]; then
    dry_run || die "$config is missing after sdlite init"
    note "would add tor_control = \"$TOR_CONTROL\" to $config, above [secrets]"
    note "would leave onion_pow = true in $config as sdlite init writes it"
    return 0
  fi
  if ! dry_run; then
    # As the service user, never as root: the data directory is that user's, so
    # it could swap root's temporary file for a symlink (to /etc/shadow...)
    # before root's chmod and chown, which follow it. The edit runs the
    # functions above from the installed copy of this script (root's, read-only
    # to the user; the one running may sit where the user cannot read it).
    # Replacing sdlite.toml ends the running source app's read-only view of it
    # (ReadOnlyPaths=): start_services restarts that app next.
    [[ -r $INSTALLED_SCRIPT ]] || die "$INSTALLED_SCRIPT is missing"
    # shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments.
    as_service_user bash -c 'source "$1" && edit_config "$2"' sdlite-provision \
      "$INSTALLED_SCRIPT" "$config"
    return 0
  fi
  if [[ -L $config ]]; then
    note "$config is a symbolic link: a real run would refuse to edit it"
    return 0
  fi
  if [[ ! -r $config ]]; then
    note "cannot read $config as this user: the edits are not shown"
    return 0
  fi
  copy=$(mktemp "${TMPDIR:-/tmp}/sdlite.toml.dry-run.XXXXXX")
  cat -- "$config" >"$copy"
  edit_config "$copy"
  note "dry run: edited a copy, not $config: $copy"
  diff -u -- "$config" "$copy" || true
}

start_services() {
  step "Starting securedrop-lite"
  run systemctl enable "${ENABLED_UNITS[@]}"
  # tor first: the source app hides /run/tor (InaccessiblePaths), which works only
  # if /run/tor exists when it starts. Restarting tor restarts sdlite-onion too
  # (PartOf), which republishes both services; the last line starts it if it
  # was not running.
  run systemctl restart sdlite-tor.service
  run systemctl restart sdlite-source.service sdlite-journalist.service
  run systemctl start sdlite-onion.service sdlite-purge.timer
}

print_status() {
  step "Onion services"
  # For information only: whatever it says, the install is done.
  as_tor_client "$SDLITE" onion status --data-dir "$DATA_DIR" || true
}

print_next_steps() {
  cat <<EOF

Next steps:

  1. Add the first admin. This prints their passphrase, TOTP secret and Tor
     client key, once; give them in person. The ombuds onion service is
     published as soon as one user has a client key:

       ${AS_TOR_CLIENT[*]} $SDLITE user add NAME --admin --data-dir $DATA_DIR

     As root, with runuser: the user $SERVICE_USER is not in the group $TOR_GROUP,
     and -G $TOR_GROUP lets this one command use tor's control socket, while
     -g $SERVICE_USER stays its primary group (sudo -u $SERVICE_USER -g $TOR_GROUP
     would make $TOR_GROUP the primary group instead). The same for
     \`sdlite user delete|onion-key\` and \`sdlite onion\`.

  2. Check: ${AS_TOR_CLIENT[*]} $SDLITE onion status --data-dir $DATA_DIR

  3. Give workers the source address (the "source:" line above). onion_pow
     in $DATA_DIR/sdlite.toml turns tor's proof-of-work defense on for it
     (sdlite init writes true; an admin's value stays).

  Logs: journalctl -u sdlite-tor -u sdlite-onion
        journalctl --namespace=$LOG_NAMESPACE   (the apps: in RAM, for about a day)
EOF
}

main() {
  parse_args "$@"
  check_key
  check_os
  check_root
  check_source
  trap cleanup EXIT
  umask 022
  if dry_run; then
    step "DRY RUN: nothing is changed"
  fi
  mask_debian_tor
  install_packages
  ensure_user
  install_source
  install_venv
  install_torrc
  install_units
  install_journald_conf
  initialize_instance
  configure_instance
  start_services
  if ! dry_run; then
    print_status
  fi
  print_next_steps
}

# Sourced (by tests/unit/test_deploy.py, to call one function): define only.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
