#!/usr/bin/env bash
# Runs every Go fuzz target in the given packages for FUZZTIME each.
#
# A crasher (an input that fails the target) is written by Go to the
# package's testdata/fuzz/TARGET/ and fails this script at once: commit it,
# and it runs as a regression test with every `go test`. A failure that
# leaves no crasher is the fuzzing engine itself (a worker killed or hung on
# a loaded machine); that one target is tried once more before failing.
set -uo pipefail
fuzztime=${FUZZTIME:-10s}
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

crashers() { find "$1/testdata/fuzz/$2" -type f 2>/dev/null | sort; }

for pkg in "$@"; do
	for t in $("$go" test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		for attempt in 1 2; do
			before=$(crashers "$pkg" "$t")
			echo "fuzz $pkg $t ($fuzztime)"
			if "$go" test -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
				break
			fi
			if [ "$(crashers "$pkg" "$t")" != "$before" ]; then
				tail -30 "$log"
				echo "fuzz $pkg $t found a crasher in $pkg/testdata/fuzz/$t: commit it and fix the bug" >&2
				exit 1
			fi
			tail -15 "$log"
			if [ "$attempt" = 2 ]; then
				echo "fuzz $pkg $t failed twice without a crasher" >&2
				exit 1
			fi
			echo "fuzz $pkg $t: the engine failed without a crasher; trying once more" >&2
		done
	done
done
