#!/usr/bin/env bash
# it_fault.sh — every fault kind of `microcosm fault`, injected into real guests (an MPI ring
# runs for the kill), with its observable effect and its line in the cluster's faults.jsonl:
# the rank died, the ping latency rose, the partition cut exactly its pairs, the write got
# ENOSPC or EIO, the clock moved, the memory went, the guest was detected failed or rebooted.
. "$(dirname "$0")/lib.sh"

up 4 --heartbeat 500ms --hb-timeout 3s
REC="$MC_STATE_DIR/$MC_CLUSTER/faults.jsonl"

# record KIND GUEST: the last record of KIND on GUEST says injected.
record() {
	python3 - "$REC" "$1" "$2" <<'PY' || fail "no 'injected' record for $1 on $2: $(tail -2 "$REC")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in recs if r["kind"] == sys.argv[2] and r["guest"] == sys.argv[3]]
assert mine and mine[-1]["outcome"] == "injected" and mine[-1]["at_ms"] > 0, mine
PY
}
# rtt FROM TO: average ping round trip in ms (3 pings).
rtt() {
	"$MC" exec "$1" -- ping -c 3 -W 3 "$2" | sed -n 's|.*min/avg/max = [0-9.]*/\([0-9.]*\)/.*|\1|p'
}
# ms_of CMD...: wall time of a command in ms.
ms_of() {
	local t0
	t0=$(date +%s%3N)
	"$@" >/dev/null 2>&1 || true
	echo $(($(date +%s%3N) - t0))
}
IP1=10.77.0.3 IP2=10.77.0.4 IP3=10.77.0.5

log "kill: one rank of a running ring dies, and mpirun names it"
"$MC" mpirun -t 300s -n 4 -- mc-ring --sizes 8 --iters 1000000 >/dev/null 2>"$MC_STATE_DIR/ring.err" &
ring=$!
for _ in $(seq 1 120); do
	"$MC" exec g0002 -- pidof mc-ring >/dev/null 2>&1 && break
	sleep 0.5
done
sleep 3 # past MPI_Init: Hydra names a rank that dies while the job runs
"$MC" fault g0002 kill process=mc-ring signal=KILL || fail "fault kill failed"
set +e
wait $ring
rc=$?
set -e
[ $rc -ne 0 ] || fail "the ring survived the kill of a rank"
grep -q 'rank 2 on guest g0002' "$MC_STATE_DIR/ring.err" || fail "rank not named: $(tail -3 "$MC_STATE_DIR/ring.err")"
record kill g0002

log "netem: a burst of delay raises the ping latency, then goes"
before=$(rtt g0000 $IP1)
"$MC" fault -d 6s g0001 netem delay=100ms || fail "fault netem failed"
during=$(rtt g0000 $IP1)
sleep 7
after=$(rtt g0000 $IP1)
log "rtt g0000->g0001: before $before ms, during $during ms, after $after ms"
awk -v b="$before" -v d="$during" -v a="$after" 'BEGIN { exit !(d >= 100 && d > b + 80 && a < d - 50) }' ||
	fail "netem: rtt before $before, during $during, after $after"
record netem g0001

log "bandwidth: a 1 Mbit/s cap lets through a quarter of 1 MiB in 2 s"
"$MC" exec g0002 -- sh -c 'dd if=/dev/zero of=/tmp/blob bs=1k count=1024 2>/dev/null'
# got: bytes g0001 received from g0002 within 2 s
got() {
	"$MC" exec g0001 -- sh -c 'rm -f /tmp/got; setsid sh -c "sleep 30 | nc -l -p 9000 >/tmp/got" </dev/null >/dev/null 2>&1 & sleep 0.5' >/dev/null
	"$MC" exec g0002 -- sh -c "setsid sh -c 'nc $IP1 9000 </tmp/blob' </dev/null >/dev/null 2>&1 & sleep 2" >/dev/null
	"$MC" exec g0001 -- sh -c 'wc -c </tmp/got; killall nc sleep 2>/dev/null; true' | awk '{print $2}'
}
fast=$(got)
"$MC" fault -d 20s g0002 bandwidth rate=1Mbit || fail "fault bandwidth failed"
slow=$(got)
log "in 2 s: $fast bytes unshaped, $slow bytes at 1 Mbit/s"
[ "$fast" -eq 1048576 ] && [ "$slow" -lt 600000 ] || fail "bandwidth: $fast vs $slow bytes"
record bandwidth g0002
"$MC" exec g0002 -- mc-netem --clear >/dev/null

log "partition: g0000+g0001 cannot reach g0002+g0003, each side still reaches itself"
"$MC" fault -d 15s g0000-g0001 partition || fail "fault partition failed"
"$MC" exec g0000 -- ping -c 1 -W 2 $IP1 >/dev/null || fail "partition cut g0000-g0001"
"$MC" exec g0002 -- ping -c 1 -W 2 $IP3 >/dev/null || fail "partition cut g0002-g0003"
! "$MC" exec g0000 -- ping -c 1 -W 2 $IP2 >/dev/null 2>&1 || fail "g0000 reached g0002 across the partition"
! "$MC" exec g0003 -- ping -c 1 -W 2 $IP1 >/dev/null 2>&1 || fail "g0003 reached g0001 across the partition"
record partition g0000
record partition g0001

log "link-down: the guest drops off the network for 2 s, then is back"
"$MC" fault -d 2s g0003 link-down || fail "fault link-down failed"
! "$MC" exec g0002 -- ping -c 1 -W 1 $IP3 >/dev/null 2>&1 || fail "g0003 answered with its link down"
sleep 3
"$MC" exec g0002 -- ping -c 2 -W 3 $IP3 >/dev/null || fail "g0003 unreachable after its link came back"
record link-down g0003
sleep 12 # the partition is over
"$MC" exec g0000 -- ping -c 1 -W 3 $IP2 >/dev/null || fail "partition not lifted after its duration"

log "slow-cpu: a busy loop takes much longer under a 10% quota"
loop() { ms_of "$MC" exec g0001 -- sh -c 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done'; }
quick=$(loop)
"$MC" fault -d 30s g0001 slow-cpu quota=10% || fail "fault slow-cpu failed"
slowed=$(loop)
log "busy loop: $quick ms, then $slowed ms at 10% of a core"
[ "$slowed" -gt $((quick * 3)) ] || fail "slow-cpu: $quick ms vs $slowed ms"
record slow-cpu g0001

log "disk-full: a write gets ENOSPC; it works again once the fill is gone"
"$MC" fault -d 4s g0002 disk-full || fail "fault disk-full failed"
! "$MC" exec g0002 -- sh -c 'dd if=/dev/zero of=/data/x bs=64k count=16 2>&1' >"$MC_STATE_DIR/dd.out" 2>&1 ||
	fail "a write succeeded on a full disk"
grep -q 'No space left' "$MC_STATE_DIR/dd.out" || fail "not ENOSPC: $(cat "$MC_STATE_DIR/dd.out")"
sleep 5
"$MC" exec g0002 -- sh -c 'dd if=/dev/zero of=/data/x bs=64k count=16 2>/dev/null && rm /data/x' ||
	fail "the disk stayed full after the fault's duration"
record disk-full g0002

log "disk-error: direct reads of the disk get EIO while writes work; then reads work again"
rd() { "$MC" exec g0002 -- dd if=/dev/vda of=/dev/null bs=4k count=1 skip="$1" iflag=direct 2>&1; }
rd 10 >/dev/null || fail "a direct read failed before the fault"
"$MC" fault -d 4s g0002 disk-error iotype=read || fail "fault disk-error failed"
! rd 20 >"$MC_STATE_DIR/rd.out" 2>&1 || fail "a read succeeded under disk-error"
grep -q 'Input/output error' "$MC_STATE_DIR/rd.out" || fail "not EIO: $(cat "$MC_STATE_DIR/rd.out")"
"$MC" exec g0002 -- dd if=/dev/zero of=/data/w bs=4k count=1 oflag=direct >/dev/null 2>&1 ||
	fail "a write failed under a read-only disk-error"
sleep 5
rd 30 >/dev/null || fail "reads still fail after the disk-error's duration"
record disk-error g0002

log "clock-jump: the guest's clock moves one hour back"
"$MC" fault g0003 clock-jump offset=-1h || fail "fault clock-jump failed"
skew=$(( $(date +%s) - $("$MC" exec g0003 -- date +%s | awk '{print $2}') ))
[ "$skew" -ge 3500 ] && [ "$skew" -le 3700 ] || fail "clock-jump: guest is $skew s behind"
record clock-jump g0003
"$MC" fault g0003 clock-jump offset=+1h >/dev/null

log "clock-drift: +100000 ppm gains about 1 s in 10 s"
# the guest's clock (uptime: the frequency adjustment moves every kernel clock) minus the host's
off() { echo $(( $("$MC" exec g0003 -- cat /proc/uptime | awk '{ printf "%d", $2 * 1000 }') - $(date +%s%3N) )); }
o1=$(off)
"$MC" fault -d 10s g0003 clock-drift ppm=100000 || fail "fault clock-drift failed"
sleep 11
o2=$(off)
log "guest clock offset: $o1 ms, then $o2 ms"
[ $((o2 - o1)) -ge 500 ] || fail "clock-drift: offset moved by $((o2 - o1)) ms"
record clock-drift g0003

log "bitflip: one bit of a process's stack changes"
"$MC" exec g0001 -- sh -c 'setsid sleep 600 </dev/null >/dev/null 2>&1 &'
"$MC" fault --json --seed 7 g0001 bitflip process=sleep region=stack >"$MC_STATE_DIR/flip.json" ||
	fail "fault bitflip failed"
python3 - "$MC_STATE_DIR/flip.json" <<'PY' || fail "bitflip record: $(cat "$MC_STATE_DIR/flip.json")"
import json, sys
d = json.loads(open(sys.argv[1]).readline())["detail"]
x = d["old"] ^ d["new"]
assert x and x & (x - 1) == 0 and x == 1 << d["bit"], d
PY
record bitflip g0001

log "fill-memory: 48 MiB of the guest's memory are taken, then given back"
avail() { "$MC" exec g0002 -- awk '/MemAvailable/ {print $2}' /proc/meminfo | awk '{print $2}'; }
m1=$(avail)
"$MC" fault -d 5s g0002 fill-memory size=48M || fail "fault fill-memory failed"
m2=$(avail)
sleep 6
m3=$(avail)
log "MemAvailable: $m1 kB, $m2 kB while filled, $m3 kB after"
[ $((m1 - m2)) -ge 40000 ] && [ $((m3 - m2)) -ge 40000 ] || fail "fill-memory: $m1 / $m2 / $m3 kB"
record fill-memory g0002

log "hang: a short one passes unnoticed; a long one is detected within the heartbeat timeout"
"$MC" fault -d 1s g0001 hang || fail "fault hang failed"
sleep 3
[ "$(state_of g0001)" = ready ] || fail "a 1 s hang failed the guest ($(state_of g0001))"
"$MC" fault g0001 hang >/dev/null || fail "fault hang (lasting) failed"
ms=$(wait_state g0001 failed 30)
"$MC" ls | grep g0001 | grep -q 'no heartbeat' || fail "hang not detected by the heartbeat"
log "hang detected after $ms ms (heartbeat timeout 3 s)"
[ "$ms" -le 4000 ] || fail "hang detected after $ms ms, want <= timeout + 1 s"
record hang g0001

log "reboot: the guest cold-boots with its disk and identity"
"$MC" exec g0003 -- sh -c 'echo kept >/data/mark && sync'
"$MC" fault g0003 reboot || fail "fault reboot failed"
for _ in $(seq 1 120); do
	b=$("$MC" ls --json | python3 -c 'import json,sys; g=[g for g in json.load(sys.stdin)["guests"] if g["name"]=="g0003"][0]; print(g["state"], g["boots"])')
	[ "$b" = "ready 2" ] && break
	sleep 0.5
done
[ "$b" = "ready 2" ] || fail "g0003 did not come back after the reboot ($b)"
[ "$("$MC" exec g0003 -- cat /data/mark)" = "g0003: kept" ] || fail "the reboot lost the disk"
up_s=$("$MC" exec g0003 -- cut -d. -f1 /proc/uptime | awk '{print $2}')
[ "$up_s" -lt 60 ] || fail "uptime $up_s s after a reboot"
record reboot g0003

log "crash: SIGKILL of the QEMU, detected at once"
"$MC" fault g0002 crash || fail "fault crash failed"
ms=$(wait_state g0002 failed 10)
record crash g0002

log "bad input changes nothing"
n=$(wc -l <"$REC")
set +e
"$MC" fault g0000 explode 2>/dev/null; r1=$?
"$MC" fault g0000 netem jitter=5ms 2>/dev/null; r2=$?
"$MC" fault g0000 slow-cpu 2>/dev/null; r3=$?
"$MC" fault -d 5s g0000 crash 2>/dev/null; r4=$?
"$MC" fault g0000 slow-cpu quota=250% 2>/dev/null; r5=$?
set -e
[ "$r1$r2$r3$r4$r5" = 22222 ] || fail "bad faults exited $r1 $r2 $r3 $r4 $r5, want 2 each"
[ "$(wc -l <"$REC")" -eq "$n" ] || fail "a refused fault was recorded"

"$MC" down >/dev/null
leftovers || fail "down left things behind"
! ls -d /sys/fs/cgroup/cpu/microcosm-"$MC_CLUSTER"-* /sys/fs/cgroup/microcosm-"$MC_CLUSTER"-* 2>/dev/null ||
	fail "a slow-cpu cgroup was left behind"
log "ok"
