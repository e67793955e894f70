#!/usr/bin/env bash
# it_hosts_migrate.sh — migration across hosts (migrate GUEST --to HOST, docs/hosts.md): 3
# emulated hosts (network namespaces, scripts/netns-hosts.sh) through Hydra, one guest each.
# While an MPI ring runs across the 3 guests, g0000 moves from host 1 to host 2 (its disk
# overlay mirrored over NBD, its RAM over TCP): the ring completes with the right output, the
# guest keeps its address and its data, a guest on host 3 reaches it, `ls` shows host 2, the
# events record the migration, host 1 holds nothing of it; a migration that fails (no such
# host, a host that refuses) leaves the guest where it was, naming it and the cause; a
# migration --to its own host is the one-host migration; `down` leaves nothing on any host.
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
root="$(cd "$here/../.." && pwd)"
nsh="$root/scripts/netns-hosts.sh"
H="itm$(($$ % 100000))"
SUB="192.168.$((100 + $$ % 50))"
on_exit() {
	local rc=$?
	"$MC" down >/dev/null 2>&1 || true
	"$nsh" down "$H" >/dev/null 2>&1 || true
	(exit $rc)
	cleanup
}
trap on_exit EXIT
ev="$MC_STATE_DIR/$MC_CLUSTER/events.jsonl"
host_of() { "$MC" ls --json | python3 -c 'import json,sys; print({g["name"]: g["host"] for g in json.load(sys.stdin)["guests"]}[sys.argv[1]])' "$1"; }

read -r hostfile listen < <("$nsh" up "$H" 3 "$SUB") || fail "netns-hosts.sh up failed"
log "3 namespace hosts $H-1..3 on $SUB.0/24"
up 3 --hosts "$hostfile" --launcher-exec "$nsh" --listen "$listen"
[ "$(host_of g0000)" = "$H-1" ] && [ "$(host_of g0001)" = "$H-2" ] &&
	[ "$(host_of g0002)" = "$H-3" ] || fail "placement: $("$MC" ls)"
"$MC" exec g0000 -- sh -c 'echo before > /data/mark; sync' >/dev/null || fail "write on g0000"

log "refused: no such host; a guest that is not ready"
out=$("$MC" migrate g0000 --to nowhere 2>&1) && fail "migrate --to nowhere succeeded"
echo "$out" | grep -q "no such host" || fail "migrate --to nowhere does not say why: $out"
"$MC" pause g0000 >/dev/null || fail "pause g0000"
out=$("$MC" migrate g0000 --to "$H-2" 2>&1) && fail "migrating a paused guest succeeded"
echo "$out" | grep -q "g0000.*paused" || fail "refusal does not name the guest and cause: $out"
"$MC" resume g0000 >/dev/null || fail "resume g0000"
[ "$(host_of g0000)" = "$H-1" ] || fail "g0000 left $H-1 after a refusal"

log "a ring across the 3 hosts while g0000 moves from $H-1 to $H-2"
"$MC" mpirun -t 400s -n 3 -- mc-ring --sizes 8,1K --iters 1500 --warmup 5 \
	>"$MC_STATE_DIR/ring.out" 2>"$MC_STATE_DIR/ring.err" &
job=$!
sleep 12
kill -0 $job 2>/dev/null || fail "the ring ended before the migration: $(tail -5 "$MC_STATE_DIR/ring.err")"
"$MC" migrate --json g0000 --to "$H-2" >"$MC_STATE_DIR/mig.json" ||
	fail "migrate g0000 --to $H-2 failed: $(cat "$MC_STATE_DIR/mig.json")"
kill -0 $job 2>/dev/null || log "warning: the ring ended during the migration"
rc=0
wait $job || rc=$?
[ $rc -eq 0 ] || fail "the ring failed (rc $rc) across the migration: $(tail -15 "$MC_STATE_DIR/ring.err")"
python3 - "$MC_STATE_DIR/ring.out" "$MC_STATE_DIR/mig.json" "$H" <<'PY' || fail "ring output or migration figures wrong"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in rows if r.get("workload") == "ring"]
assert sorted(r["bytes"] for r in rows) == [8, 1024], rows
assert all(r["ranks"] == 3 and r["iters"] == 1500 and r["lap_us_median"] > 0 for r in rows), rows
m = json.loads(open(sys.argv[2]).read().splitlines()[0])
h = sys.argv[3]
assert m["from_host"] == h + "-1" and m["to_host"] == h + "-2", m
assert m["state"] in ("busy", "ready") and m["total_ms"] > 0 and m["downtime_ms"] > 0, m
assert m["bytes"] > 0 and m["disk_bytes"] >= 0, m
print("cross-host migration under MPI: total %d ms, downtime %d ms, %.1f MiB RAM, %.1f MiB disk"
      % (m["total_ms"], m["downtime_ms"], m["bytes"] / 2**20, m["disk_bytes"] / 2**20), file=sys.stderr)
PY

log "g0000 runs on $H-2 with its address and disk"
[ "$(host_of g0000)" = "$H-2" ] || fail "ls does not show g0000 on $H-2: $("$MC" ls)"
[ "$(state_of g0000)" = ready ] || fail "g0000 is $(state_of g0000) after the migration"
out=$("$MC" exec g0000 -- sh -c 'cat /data/mark; ip -4 -o addr show eth0') || fail "exec on g0000 after the migration"
echo "$out" | grep -q before || fail "g0000 lost its disk: $out"
echo "$out" | grep -q "10.77.0.2/" || fail "g0000 lost its address: $out"
"$MC" exec g0002 -- ping -c 3 -W 5 10.77.0.2 >/dev/null || fail "g0002 ($H-3) cannot reach g0000 on $H-2"
"$MC" exec g0001 -- ping -c 3 -W 5 10.77.0.2 >/dev/null || fail "g0001 ($H-2) cannot reach g0000"
python3 - "$ev" "$H" <<'PY' || fail "the migration is not in the events"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
m = [e for e in ev if e.get("guest") == "g0000" and e.get("reason") == "migrated"]
assert len(m) == 1, m
x = m[0]["migration"]
h = sys.argv[2]
assert m[0]["host"] == h + "-2" and x["from_host"] == h + "-1" and x["to_host"] == h + "-2", m
assert x["downtime_ms"] > 0 and x["total_ms"] >= x["downtime_ms"], m
PY
for k in 1 3; do # every other host routes g0000 via $H-2's overlay address (10.76.0.3)
	ip netns exec "microcosm-$MC_CLUSTER-$H-$k" ip route get 10.77.0.2 | grep -q "via 10.76.0.3" ||
		fail "$H-$k does not route g0000 via $H-2: $(ip netns exec "microcosm-$MC_CLUSTER-$H-$k" ip route get 10.77.0.2)"
done
ip netns exec "microcosm-$MC_CLUSTER" ip route get 10.77.0.2 | grep -q "via 10.76.0.3" ||
	fail "the cluster controller does not route g0000 via $H-2"
[ ! -e "$MC_STATE_DIR/$MC_CLUSTER/hosts/$H-1/guests/g0000" ] || fail "$H-1 kept g0000's files"
pgrep -f -- "-name g0000 " | while read -r p; do
	[ "$(ip netns identify "$p")" != "microcosm-$MC_CLUSTER-$H-1" ] || fail "a QEMU of g0000 left on $H-1"
done
"$MC" ls --json | python3 -c '
import json, sys
st = json.load(sys.stdin)
n = {h["name"]: h["guests"] for h in st["hosts"]}
assert sorted(n.values()) == [0, 1, 2], n' || fail "hosts do not count g0000 on $H-2"

log "a migration --to the guest's own host is the one-host migration"
"$MC" migrate --json g0000 --to "$H-2" >"$MC_STATE_DIR/mig2.json" || fail "migrate --to its own host failed"
grep -q '"guest":"g0000"' "$MC_STATE_DIR/mig2.json" || fail "no result: $(cat "$MC_STATE_DIR/mig2.json")"
"$MC" exec g0000 -- cat /data/mark | grep -q before || fail "g0000 after migrating on $H-2"

log "back to $H-1 (its own slot), then down"
"$MC" migrate --json g0000 --to "$H-1" >"$MC_STATE_DIR/mig3.json" || fail "migrate back to $H-1 failed: $(cat "$MC_STATE_DIR/mig3.json")"
[ "$(host_of g0000)" = "$H-1" ] || fail "g0000 not back on $H-1"
"$MC" exec g0002 -- ping -c 2 -W 5 10.77.0.2 >/dev/null || fail "g0002 cannot reach g0000 back on $H-1"
"$MC" down >/dev/null || fail "down failed"
hosts_clean "$H" 3
leftovers || fail "the cluster left something behind"
log "ok"
