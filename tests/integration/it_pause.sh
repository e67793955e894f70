#!/usr/bin/env bash
# it_pause.sh — pause stops a guest (no failure while silent), resume brings it back.
. "$(dirname "$0")/lib.sh"

up 2 --heartbeat 1s --hb-timeout 3s
"$MC" pause g0001
[ "$(state_of g0001)" = paused ] || fail "g0001 not paused"
set +e
"$MC" exec g0001 -- true 2>/tmp/it-pause.$$
set -e
grep -q 'guest is paused' /tmp/it-pause.$$ || fail "exec on a paused guest: $(cat /tmp/it-pause.$$)"
rm -f /tmp/it-pause.$$
log "paused for 5 s (longer than the heartbeat timeout)"
sleep 5
[ "$(state_of g0001)" = paused ] || fail "paused guest changed state to $(state_of g0001)"
"$MC" resume g0001
[ "$(state_of g0001)" = ready ] || fail "g0001 not ready after resume"
out=$("$MC" exec g0001 -- echo back)
[ "$out" = "g0001: back" ] || fail "resumed guest answered '$out'"
sleep 4
[ "$(state_of g0001)" = ready ] || fail "resumed guest failed later: $(state_of g0001)"
set +e
"$MC" resume g0000 2>/dev/null && fail "resume of a running guest succeeded"
set -e
"$MC" down
leftovers || fail "down left things behind"
