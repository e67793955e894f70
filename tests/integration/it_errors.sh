#!/usr/bin/env bash
# it_errors.sh — bad requests get a clear error and start nothing: not root, too many
# guests for the host's memory, bad arguments, commands on a cluster that is not up.
. "$(dirname "$0")/lib.sh"

expect_error() { # expect_error "PATTERN" CMD...: CMD fails, stderr matches PATTERN, nothing created
	local pat=$1
	shift
	local err
	set +e
	err=$("$@" 2>&1 >/dev/null)
	local rc=$?
	set -e
	[ $rc -ne 0 ] || fail "'$*' succeeded"
	echo "$err" | grep -q -- "$pat" || fail "'$*': error '$err' lacks '$pat'"
	leftovers >/dev/null || fail "'$*' left something behind"
	log "refused as expected: $* -> $(echo "$err" | head -1)"
}

expect_error "not enough memory for 65000 guests" "$MC" up -n 65000 --accel tcg
expect_error "needs a value" "$MC" up -n
expect_error "want a number of guests" "$MC" up -n many
expect_error "want auto, kvm or tcg" "$MC" up -n 2 --accel xen
expect_error "no cluster" "$MC" exec all -- true
expect_error "no cluster" "$MC" ls
expect_error "missing '--'" "$MC" exec all true
expect_error "unknown verb" "$MC" frobnicate
if command -v setpriv >/dev/null; then
	expect_error "must run as root" setpriv --reuid=65534 --regid=65534 --clear-groups "$MC" up -n 1
fi
for v in up ls exec pause resume down; do
	"$MC" "$v" --help | grep -q "usage: microcosm $v" || fail "$v --help"
done
"$MC" down | true # down of a cluster that is not up is not an error
log "ok"
