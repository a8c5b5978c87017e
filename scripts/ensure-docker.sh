#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock: reuses a running
# one, otherwise installs Debian's docker.io (when missing) and starts dockerd
# in the background. Idempotent; safe to run from tests, make and CI.
set -euo pipefail

sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
sock=${sock#unix://}

ping() { curl -fsS --max-time 2 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1; }

if ping; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "Docker is not installed and this is not root: install it with 'sudo apt-get install -y docker.io'" >&2
		exit 1
	fi
	echo "installing docker.io from Debian's packages..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq docker.io >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
	echo "Docker is not running: start it with 'sudo systemctl start docker' (or 'sudo dockerd &')" >&2
	exit 1
fi

mkdir -p /var/log
log=/var/log/clauderon-dockerd.log
echo "starting dockerd (log: $log)..." >&2
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
	if ping; then exit 0; fi
	sleep 0.5
done
echo "dockerd did not answer within 30 s; see $log" >&2
tail -20 "$log" >&2 || true
exit 1
