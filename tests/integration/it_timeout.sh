#!/usr/bin/env bash
# it_timeout.sh — a command that exceeds its timeout is killed and reported as such.
. "$(dirname "$0")/lib.sh"

up 2 --spawn boot
t0=$(date +%s%3N)
set +e
"$MC" exec --timeout 2s all -- sleep 60 2>/tmp/it-timeout.$$
rc=$?
set -e
took=$(($(date +%s%3N) - t0))
cat /tmp/it-timeout.$$
[ $rc -eq 1 ] || fail "timed-out exec exited $rc, want 1"
[ "$(grep -c 'killed after the 2000 ms timeout' /tmp/it-timeout.$$)" -eq 2 ] || fail "timeouts not reported for both guests"
[ $took -lt 6000 ] || fail "timeout took $took ms, want < 6000"
rm -f /tmp/it-timeout.$$
# The guests are still usable afterwards.
"$MC" exec all -- true || fail "guests unusable after a timeout"
log "timeout honoured in $took ms"
"$MC" down
leftovers || fail "down left things behind"
