#!/usr/bin/env bash
# it_hosts.sh — one cluster across 3 emulated hosts (network namespaces, each with its own
# address on a veth link, and a real Slurm whose 3 node daemons run one in each:
# scripts/netns-hosts.sh). Inside a Slurm allocation `up` starts a host daemon on each node
# through srun and spreads 6 guests over them. Guests on different hosts reach each other
# over the VXLAN overlay and run one MPI allreduce; latency classes within and across hosts;
# a partition holds across hosts; a fault goes to the right host; a killed host daemon is
# detected within the heartbeat timeout and recorded, its host cleans up after it, the other
# hosts go on; `down` leaves nothing on any host. Then an experiment across the same hosts
# through Hydra (a host file) gets every host's records and files in its run directory.
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
root="$(cd "$here/../.." && pwd)"
nsh="$root/scripts/netns-hosts.sh"
H="ith$(($$ % 100000))"
SUB="192.168.$((150 + $$ % 50))"
job=""
on_exit() {
	local rc=$?
	"$MC" down >/dev/null 2>&1 || true
	"$MC" down -c "${MC_CLUSTER}r" >/dev/null 2>&1 || true
	[ -z "$job" ] || scancel "$job" 2>/dev/null || true
	"$nsh" down "$H" >/dev/null 2>&1 || true
	(exit $rc)
	cleanup
}
trap on_exit EXIT

read -r hostfile listen SLURM_CONF < <("$nsh" up "$H" 3 "$SUB" --slurm) ||
	fail "netns-hosts.sh up --slurm failed"
export SLURM_CONF
log "3 namespace hosts $H-1..3 on $SUB.0/24, each a Slurm node"
# An allocation of the 3 nodes, as `salloc -N 3` gives a shell: up spreads over it (srun).
job=$(salloc -N 3 --no-shell 2>&1 | sed -n 's/.*Granted job allocation \([0-9]*\).*/\1/p')
[ -n "$job" ] || fail "salloc -N 3 --no-shell gave no allocation"
export SLURM_JOB_ID=$job SLURM_JOB_NUM_NODES=3
up 6 --listen "$listen"
grep -q "^srun\|srun" "$MC_STATE_DIR/$MC_CLUSTER/controller.log" ||
	fail "up did not start the host daemons through srun"
unset SLURM_JOB_ID SLURM_JOB_NUM_NODES
"$MC" ls --json >"$MC_STATE_DIR/ls.json"
python3 - "$MC_STATE_DIR/ls.json" "$H" <<'PY' || fail "placement or view wrong"
import json, sys
st, h = json.load(open(sys.argv[1])), sys.argv[2]
gs = st["guests"]
assert [g["name"] for g in gs] == ["g%04d" % i for i in range(6)], gs
assert all(g["state"] == "ready" for g in gs), [(g["name"], g["state"]) for g in gs]
assert [g["host"] for g in gs] == [f"{h}-{k}" for k in (1, 1, 2, 2, 3, 3)], gs
assert [x["state"] for x in st["hosts"]] == ["up"] * 3, st["hosts"]
assert st["counts"]["ready"] == 6, st["counts"]
PY

log "exec on every guest, and across hosts over the overlay"
out=$("$MC" exec all -- uname -n) || fail "exec all failed"
[ "$(echo "$out" | grep -c '^g000[0-5]: g000[0-5]$')" = 6 ] || fail "exec all: $out"
"$MC" exec g0000 -- ping -c 3 -W 5 10.77.0.7 >/dev/null ||
	fail "g0000 ($H-1) cannot reach g0005 ($H-3)"

log "one MPI allreduce across the 3 hosts"
"$MC" mpirun -t 300s -n 6 -- mc-allreduce --sizes 8,64K --iters 10 >"$MC_STATE_DIR/ar.out" ||
	fail "mpirun mc-allreduce across hosts failed"
python3 - "$MC_STATE_DIR/ar.out" <<'PY' || fail "allreduce output wrong"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in rows if r.get("workload") == "allreduce" and "bytes" in r]
assert len(rows) == 2 and all(r["ranks"] == 6 for r in rows), rows
PY

log "latency classes: 1 ms within a host, 25 ms across hosts (topology.kind=hosts)"
"$MC" net topology.kind=hosts topology.intra.latency=1ms topology.inter.latency=25ms \
	>/dev/null || fail "net topology.kind=hosts failed"
minrtt() { # GUEST ADDR: the smallest of 5 pings, ms
	"$MC" exec "$1" -- ping -c 5 -i 0.2 -W 3 "$2" |
		sed -n 's|.*min/avg/max = \([0-9.]*\)/.*|\1|p'
}
same=$(minrtt g0000 10.77.0.3)   # g0001, also on $H-1
across=$(minrtt g0000 10.77.0.5) # g0003, on $H-2
log "ping within a host ${same} ms, across hosts ${across} ms"
python3 -c 'import sys; s, a = map(float, sys.argv[1:]); assert 2 <= s < 25 and a >= 50, (s, a)' \
	"$same" "$across" || fail "latency classes wrong: within $same ms, across $across ms"
"$MC" net --clear >/dev/null || fail "net --clear failed"

log "a partition across hosts: g0000 ($H-1) cut off from every other guest for 10 s"
"$MC" fault -d 10s g0000 partition >/dev/null || fail "fault g0000 partition failed"
"$MC" exec g0000 -- ping -c 1 -W 2 10.77.0.7 >/dev/null 2>&1 &&
	fail "g0000 reaches g0005 ($H-3) through the partition"
"$MC" exec g0004 -- ping -c 1 -W 2 10.77.0.2 >/dev/null 2>&1 &&
	fail "g0004 ($H-3) reaches g0000 through the partition"
"$MC" exec g0002 -- ping -c 2 -W 3 10.77.0.7 >/dev/null ||
	fail "the partition also cut g0002 ($H-2) from g0005 ($H-3)"
for i in $(seq 30); do # lifted on every host after 10 s
	"$MC" exec g0000 -- ping -c 1 -W 1 10.77.0.7 >/dev/null 2>&1 && break
	[ "$i" -lt 30 ] || fail "g0000 still cut off from g0005 after the partition ended"
	sleep 1
done

log "a fault on a guest of $H-2 goes to its host"
"$MC" fault g0003 crash >/dev/null || fail "fault g0003 crash failed"
wait_state g0003 failed 30 >/dev/null
grep -q "\"guest\":\"g0003\".*\"state\":\"failed\".*\"host\":\"$H-2\"" \
	"$MC_STATE_DIR/$MC_CLUSTER/events.jsonl" || fail "the crash of g0003 is not in the events"

log "kill the host daemon of $H-3"
dpid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hosts"][2]["daemon_pid"])' \
	"$MC_STATE_DIR/ls.json")
[ -d "/proc/$dpid" ] || fail "no daemon pid $dpid for $H-3"
t0=$(date +%s%3N)
kill -KILL "$dpid"
while [ "$(state_of g0004)" != failed ] || [ "$(state_of g0005)" != failed ]; do
	[ $(($(date +%s%3N) - t0)) -lt 30000 ] || fail "$H-3's guests not failed 30 s after its daemon died"
	sleep 0.2
done
detect=$(($(date +%s%3N) - t0))
log "host $H-3 lost after ${detect} ms (heartbeat timeout 10 s)"
[ "$detect" -le 15000 ] || fail "detection took $detect ms, more than the 10 s timeout + 5 s"
"$MC" ls | grep -q "g0005 .*host $H-3 lost" || fail "ls does not say why g0005 failed"
grep -q "\"host\":\"$H-3\",\"host_state\":\"lost\"" "$MC_STATE_DIR/$MC_CLUSTER/events.jsonl" ||
	fail "the lost host is not in the events"
for g in g0004 g0005; do
	grep -q "\"guest\":\"$g\".*\"state\":\"failed\",.*host $H-3 lost" \
		"$MC_STATE_DIR/$MC_CLUSTER/events.jsonl" || fail "$g's failure is not in the events"
done
for i in $(seq 50); do # its watchdog removes what the daemon made on that host
	[ -e "/run/netns/microcosm-$MC_CLUSTER-$H-3" ] || [ -n "$(left_on "$H-3")" ] || break
	sleep 0.2
done
[ ! -e "/run/netns/microcosm-$MC_CLUSTER-$H-3" ] || fail "$H-3's fleet namespace is left"
[ -z "$(left_on "$H-3")" ] || fail "processes left on $H-3: $(left_on "$H-3" | tr '\n' ' ')"
[ ! -e "$MC_STATE_DIR/$MC_CLUSTER/hosts/$H-3" ] || fail "$H-3's state directory is left"

log "the other hosts go on"
"$MC" exec g0000,g0002 -- true || fail "exec on the surviving hosts failed"
out=$("$MC" exec g0004 -- true 2>&1) && fail "exec on a lost host's guest succeeded"
echo "$out" | grep -q "host $H-3 lost" || fail "exec on a lost guest does not say why: $out"

log "down leaves nothing on any host"
"$MC" down >/dev/null || fail "down failed"
hosts_clean "$H" 3
leftovers || fail "the cluster left something behind"

log "an experiment across the hosts through Hydra: one run directory with every host's records"
cat >"$MC_STATE_DIR/exp.yaml" <<EOF
name: it-hosts
seed: 3
cluster:
  guests: 3
workloads:
  - name: names
    kind: exec
    target: all
    program: uname
    args: [-n]
  - name: ring
    kind: mpi
    program: mc-ring
    args: [--sizes, "8", --iters, "5"]
    timeout: 5m
  - name: leave
    kind: exec
    target: all
    program: sh
    args: [-c, "mkdir -p /data/out && uname -n > /data/out/name.txt"]
results:
  collect: [/data/out]
EOF
# This machine itself is one of its hosts (as a batch job's first node runs the controller
# and a host daemon side by side).
printf 'localhost\n%s-1\n%s-2\n' "$H" "$H" >"$MC_STATE_DIR/hosts3"
"$MC" run -c "${MC_CLUSTER}r" -r "$MC_STATE_DIR/results" --hosts "$MC_STATE_DIR/hosts3" \
	--launcher-exec "$nsh" --listen "$listen" "$MC_STATE_DIR/exp.yaml" >"$MC_STATE_DIR/run.out" \
	2>&1 ||
	fail "run across hosts failed: $(tail -5 "$MC_STATE_DIR/run.out")"
rundir=$(tail -n1 "$MC_STATE_DIR/run.out")
python3 - "$rundir" "$H" "$(hostname -s)" <<'PY' || fail "the run directory lacks a host's records"
import json, os, sys
d, h, me = sys.argv[1], sys.argv[2], sys.argv[3]
m = json.load(open(f"{d}/manifest.json"))
assert m["status"] == "finished", m
ev = [json.loads(l) for l in open(f"{d}/events.jsonl")]
ready = {e["guest"]: e["host"] for e in ev if e.get("state") == "ready" and "guest" in e}
assert sorted(ready) == ["g0000", "g0001", "g0002"], ready
assert sorted(ready.values()) == sorted([f"{h}-1", f"{h}-2", me]), ready
gs = json.load(open(f"{d}/guests.json"))
assert {g["name"]: g["host"] for g in gs} == ready, gs
out = open(f"{d}/workloads/names/0/stdout.jsonl").read()
assert all(f"{g}: {g}" in out for g in ready), out
ring = [json.loads(l) for l in open(f"{d}/workloads/ring/0/stdout.jsonl") if l.startswith("{")]
assert any(r.get("ranks") == 3 and r.get("bytes") == 8 for r in ring), ring
# results.collect: each host read its own guests' disks
for g in ready:
    assert open(f"{d}/guests/{g}/files/data/out/name.txt").read().strip() == g, g
col = json.load(open(f"{d}/collected.json"))
assert col["files"] == 3 and sorted(col["guests"]) == sorted(ready), col
for g in ("g0000", "g0001", "g0002"):
    assert os.path.getsize(f"{d}/guests/{g}/console.log") > 0, g
    assert os.path.exists(f"{d}/guests/{g}/qemu.log"), g
assert "microcosmd" in open(f"{d}/hosts.log").read()
PY
for k in 1 2 3; do
	[ -z "$(left_on "$H-$k")" ] || fail "processes left on $H-$k after the run: $(left_on "$H-$k")"
done
[ ! -e "/run/netns/microcosm-${MC_CLUSTER}r" ] || fail "the run's namespace is left"
log "ok"
