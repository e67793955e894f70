#!/usr/bin/env bash
# it_clone.sh — 16 clones of one booted template: unique identities (name, address, MAC,
# random state), all reachable from each other, template reused, clean teardown.
. "$(dirname "$0")/lib.sh"

up 16 --spawn clone
"$MC" ls
[ "$("$MC" ls | grep -c ' ready ')" -eq 16 ] || fail "not 16 ready clones"

log "identities"
"$MC" exec all -- sh -c 'echo "$(hostname) $(ip -4 -o addr show eth0 | awk "{print \$4}") $(cat /sys/class/net/eth0/address) $(head -c 8 /dev/urandom | od -An -tx1 | tr -d " ")"' >/tmp/it-clone.$$
cat /tmp/it-clone.$$
[ "$(wc -l </tmp/it-clone.$$)" -eq 16 ] || fail "not 16 answers"
# Each guest reports its own name, and no two share a name, address, MAC or random bytes.
awk -F'[: ]+' '$1 != $2 { bad = 1 } END { exit bad }' /tmp/it-clone.$$ || fail "a clone answered with another's name"
for col in 2 3 4 5; do
	dup=$(awk -v c=$col '{ print $c }' /tmp/it-clone.$$ | sort | uniq -d)
	[ -z "$dup" ] || fail "clones share field $col: $dup"
done
grep -q 'g0007: g0007 10.77.0.9/16 52:54:00:00:00:07 ' /tmp/it-clone.$$ || fail "g0007's identity is not its own"
rm -f /tmp/it-clone.$$

log "reachability: every clone pings the next"
"$MC" exec all -- sh -c 'i=$(hostname | sed "s/^g0*//"); [ -z "$i" ] && i=0; n=$(( (i + 1) % 16 )); ping -c 1 -W 5 10.77.0.$(( n + 2 )) >/dev/null && echo ok' >/tmp/it-clone.$$ || { cat /tmp/it-clone.$$; fail "a clone cannot reach its neighbour"; }
[ "$(grep -c ': ok$' /tmp/it-clone.$$)" -eq 16 ] || fail "not all 16 pings answered"
rm -f /tmp/it-clone.$$

log "disk: each clone writes its own overlay"
"$MC" exec all -- sh -c 'hostname > /data/who && sync && cat /data/who' | awk -F': ' '$1 != $2 { bad = 1 } END { exit bad }' || fail "clones share a disk"

"$MC" down
leftovers || fail "down left things behind"

log "second up reuses the template"
out=$("$MC" up -n 2 --accel "${MC_TEST_ACCEL:-tcg}" 2>&1) || fail "second up failed: $out"
echo "$out" | grep -q "template .*booting" && fail "template rebuilt although nothing changed"
"$MC" down
leftovers || fail "down left things behind"
log "ok"
