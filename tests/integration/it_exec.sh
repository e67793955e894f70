#!/usr/bin/env bash
# it_exec.sh — 4 real guests up; exec returns the right outputs and exit codes; ls; down leaves nothing.
. "$(dirname "$0")/lib.sh"

up 4
"$MC" ls
[ "$("$MC" ls | grep -c ' ready ')" -eq 4 ] || fail "not 4 ready guests"

log "exec all -- hostname"
out=$("$MC" exec all -- hostname)
for i in 0 1 2 3; do
	echo "$out" | grep -qx "g000$i: g000$i" || fail "no answer from g000$i in: $out"
done

log "exec: exit codes, stderr, env and cwd"
set +e
"$MC" exec g0001 -- sh -c 'echo to-err >&2; exit 3' >/tmp/it-exec-out.$$ 2>/tmp/it-exec-err.$$
rc=$?
set -e
[ $rc -eq 1 ] || fail "exec of a failing command exited $rc, want 1"
grep -q '^g0001: to-err' /tmp/it-exec-err.$$ || fail "stderr not relayed: $(cat /tmp/it-exec-err.$$)"
grep -q 'g0001: exit status 3' /tmp/it-exec-err.$$ || fail "exit status 3 not reported"
out=$("$MC" exec --env FOO=bar --cwd /tmp g0002 -- sh -c 'echo "$FOO $(pwd)"')
[ "$out" = "g0002: bar /tmp" ] || fail "env/cwd: got '$out'"
set +e
"$MC" exec g0003 -- /no/such/program 2>/tmp/it-exec-err.$$
set -e
grep -q 'exit status 127' /tmp/it-exec-err.$$ || fail "missing program not reported as 127: $(cat /tmp/it-exec-err.$$)"
rm -f /tmp/it-exec-out.$$ /tmp/it-exec-err.$$

log "exec --table across a range"
"$MC" exec --table g0000-g0002 -- uname -r | tee /tmp/it-table.$$
[ "$(grep -c ' ready ' /tmp/it-table.$$)" -eq 3 ] || fail "table has not 3 ready rows"
rm -f /tmp/it-table.$$

log "bad input is refused and changes nothing"
set +e
"$MC" exec nosuchguest -- true 2>/dev/null && fail "exec on an unknown guest succeeded"
"$MC" up -n 2 2>/dev/null && fail "a second up on a live cluster succeeded"
set -e
[ "$("$MC" ls | grep -c ' ready ')" -eq 4 ] || fail "cluster changed after bad input"

log "down"
"$MC" down
leftovers || fail "down left things behind"
log "ok"
