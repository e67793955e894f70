#!/usr/bin/env bash
# it_failure.sh — kill -9 of a guest's QEMU is detected as failed within two heartbeat periods;
# a hung guest (QEMU stopped with SIGSTOP) is failed by the heartbeat detector.
. "$(dirname "$0")/lib.sh"

up 3 --heartbeat 1s --hb-timeout 3s
pid=$("$MC" ls | awk '$1 == "g0001" { print $4 }')
[ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no pid for g0001"
log "kill -9 $pid (g0001's qemu)"
kill -9 "$pid"
ms=$(wait_state g0001 failed 2)
log "g0001 failed after $ms ms"
[ "$ms" -le 2000 ] || fail "crash detected after $ms ms, want <= 2000 (two heartbeats)"
"$MC" ls | grep g0001

pid=$("$MC" ls | awk '$1 == "g0002" { print $4 }')
log "SIGSTOP $pid (g0002's qemu): a hang"
kill -STOP "$pid"
ms=$(wait_state g0002 failed 45) # 3 s, or up to 30 s if the host looks saturated
kill -CONT "$pid" 2>/dev/null || true
log "g0002 failed after $ms ms"
"$MC" ls | grep g0002 | grep -q 'no heartbeat' || fail "hang not attributed to the heartbeat"

# The survivor still works; exec on the failed guest says why.
"$MC" exec g0000 -- true || fail "healthy guest unusable"
set +e
"$MC" exec g0001 -- true 2>/tmp/it-fail.$$
set -e
grep -q 'guest is failed' /tmp/it-fail.$$ || fail "exec on a failed guest: $(cat /tmp/it-fail.$$)"
rm -f /tmp/it-fail.$$
"$MC" down
leftovers || fail "down left things behind"
