#!/usr/bin/env bash
# Installs what the web UI's browser test and the TUI test need besides Go:
# Debian's chromium (driven by playwright-core from npm, never a downloaded
# browser build), a font for its screenshots, and tmux for the TUI test.
# Idempotent: a machine that has them is left alone. Needs root to install.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "missing ${missing[*]}: install with 'sudo apt-get install -y ${missing[*]}'" >&2
	exit 1
fi
echo "installing ${missing[*]} from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
# Another apt run (say, the Docker install) may hold the lock: wait for it.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get update -qq
apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
