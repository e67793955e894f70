#!/usr/bin/env bash
# it_migrate.sh — live migration: an idle guest moves to a new QEMU and keeps its name,
# address, disk and agent link; an MPI ring across 4 guests survives migrations of its
# ranks' guests mid-run with correct output; refusals are clear and change nothing; a
# checkpoint brings a crashed guest back with its memory and disk as they were.
. "$(dirname "$0")/lib.sh"

up 4 --heartbeat 1s --hb-timeout 30s
EV="$MC_STATE_DIR/$MC_CLUSTER/events.jsonl"
pid_of() { "$MC" ls | awk -v g="$1" '$1 == g { print $4 }'; }

log "idle: g0001 migrates 3 times"
"$MC" exec g0001 -- sh -c 'echo before > /data/mark; sync'
old=$(pid_of g0001)
# Pre-copy once, then the default (stop-and-copy under TCG, pre-copy under KVM).
"$MC" migrate --live --json g0001 >>"$MC_STATE_DIR/idle.json" || fail "migrate --live g0001 failed"
for i in 2 3; do
	"$MC" migrate --json g0001 >>"$MC_STATE_DIR/idle.json" || fail "migrate g0001 (#$i) failed"
done
new=$(pid_of g0001)
[ "$old" != "$new" ] || fail "g0001 still runs in QEMU $old"
kill -0 "$old" 2>/dev/null && fail "the old QEMU $old is still alive"
[ "$(state_of g0001)" = ready ] || fail "g0001 is $(state_of g0001) after migrating"
# Same disk overlay, same address, agent link alive.
out=$("$MC" exec g0001 -- cat /data/mark)
[ "$out" = "g0001: before" ] || fail "g0001's disk after migration: '$out'"
"$MC" exec g0001 -- sh -c 'ip -4 -o addr show dev eth0' | grep -q ' 10\.77\.0\.3/' ||
	fail "g0001's address changed: $("$MC" exec g0001 -- ip -4 -o addr show dev eth0)"
python3 - "$MC_STATE_DIR/idle.json" "$EV" "${MC_TEST_ACCEL:-tcg}" <<'PY' || fail "migration figures wrong"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(rows) == 3 and all(r["guest"] == "g0001" for r in rows), rows
default = "live" if sys.argv[3] == "kvm" else "stop"
assert [r["mode"] for r in rows] == ["live", default, default], rows
for r in rows:
    assert r["state"] == "ready", r
    assert 0 <= r["downtime_ms"] <= r["total_ms"] < 60000, r
    assert r["bytes"] > 1 << 20 and r["passes"] >= 1, r
ev = [json.loads(l) for l in open(sys.argv[2])]
mig = [e for e in ev if e.get("reason") == "migrated"]
assert len(mig) == 3 and all(e["guest"] == "g0001" for e in mig), mig
assert [e["migration"]["tap"] for e in mig] == ["mcm1", "mct1", "mcm1"], mig
assert [e["migration"]["mode"] for e in mig] == [r["mode"] for r in rows], mig
print("idle migration of g0001, 3 times: total %d ms, downtime %d ms (medians)" % (
    statistics.median(r["total_ms"] for r in rows),
    statistics.median(r["downtime_ms"] for r in rows)), file=sys.stderr)
PY

log "refusals: bad target, another host, a guest with a fault in force"
set +e
"$MC" migrate g0042 2>"$MC_STATE_DIR/err"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q 'matches no guest' "$MC_STATE_DIR/err" ||
	fail "migrate g0042: rc $rc, $(cat "$MC_STATE_DIR/err")"
set +e
"$MC" migrate --to elsewhere.example g0001 2>"$MC_STATE_DIR/err"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q 'not this host' "$MC_STATE_DIR/err" ||
	fail "migrate --to elsewhere: rc $rc, $(cat "$MC_STATE_DIR/err")"
set +e
"$MC" migrate --live --stop g0001 2>"$MC_STATE_DIR/err"
rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'exclude each other' "$MC_STATE_DIR/err" ||
	fail "migrate --live --stop: rc $rc, $(cat "$MC_STATE_DIR/err")"
"$MC" fault -d 3s g0002 link-down >/dev/null
set +e
"$MC" migrate g0002 2>"$MC_STATE_DIR/err"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'link-down fault is in force' "$MC_STATE_DIR/err" ||
	fail "migrate during link-down: rc $rc, $(cat "$MC_STATE_DIR/err")"
"$MC" pause g0003
set +e
"$MC" migrate g0003 2>"$MC_STATE_DIR/err"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'guest that is paused' "$MC_STATE_DIR/err" ||
	fail "migrate a paused guest: rc $rc, $(cat "$MC_STATE_DIR/err")"
"$MC" resume g0003 >/dev/null
# Wait out the link-down (the ring needs g0002's network).
for _ in $(seq 60); do
	grep -q 'link up again' "$MC_STATE_DIR/$MC_CLUSTER/controller.log" && break
	sleep 1
done
grep -q 'link up again' "$MC_STATE_DIR/$MC_CLUSTER/controller.log" || fail "link-down not lifted"
# Its neighbour entries went stale while the link was down: wait until it reaches the host.
for _ in $(seq 30); do
	"$MC" exec g0002 -- ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 && break
	sleep 1
done

log "ring across 4 guests while guests migrate"
"$MC" mpirun -t 300s -- mc-ring --sizes 8,1K --iters 1500 --warmup 5 \
	>"$MC_STATE_DIR/ring.out" 2>"$MC_STATE_DIR/ring.err" &
job=$!
sleep 10
n=0
for g in g0001 g0002 g0003 g0000; do
	kill -0 $job 2>/dev/null || break
	"$MC" migrate --json "$g" >>"$MC_STATE_DIR/busy.json" || fail "migrate $g under MPI failed"
	n=$((n + 1))
	sleep 2
done
rc=0
wait $job || rc=$?
[ $rc -eq 0 ] || fail "the ring failed (rc $rc) after $n migrations: $(tail -15 "$MC_STATE_DIR/ring.err")"
[ $n -ge 3 ] || fail "the ring finished before 3 migrations ($n): make it longer"
python3 - "$MC_STATE_DIR/ring.out" "$MC_STATE_DIR/busy.json" <<'PY' || fail "ring output wrong"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in rows if r.get("workload") == "ring"]
assert sorted(r["bytes"] for r in rows) == [8, 1024], rows
assert all(r["ranks"] == 4 and r["iters"] == 1500 and r["lap_us_median"] > 0 for r in rows), rows
mig = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert all(m["state"] == "busy" for m in mig), mig
print("%d migrations under the ring: total %d ms, downtime %d ms (medians)" % (
    len(mig), statistics.median(m["total_ms"] for m in mig),
    statistics.median(m["downtime_ms"] for m in mig)), file=sys.stderr)
PY
for g in g0000 g0001 g0002 g0003; do
	[ "$(state_of $g)" = ready ] || fail "$g is $(state_of $g) after the ring"
done

log "checkpoint g0003, change its disk, crash it, restore it"
ck="$MC_STATE_DIR/ckpt"
"$MC" exec g0003 -- sh -c 'echo saved > /data/mark; sync' >/dev/null
"$MC" checkpoint --json --dir "$ck" g0003 >"$MC_STATE_DIR/ck.json" || fail "checkpoint g0003 failed"
[ -s "$ck/g0003/state" ] && [ -s "$ck/g0003/disk.qcow2" ] && [ -s "$ck/g0003/checkpoint.json" ] ||
	fail "checkpoint files missing: $(ls -la "$ck/g0003" 2>&1)"
[ "$(state_of g0003)" = ready ] || fail "g0003 is $(state_of g0003) after its checkpoint"
"$MC" exec g0003 -- sh -c 'echo later > /data/mark; sync' >/dev/null
"$MC" fault g0003 crash >/dev/null
wait_state g0003 failed 30 >/dev/null
set +e
"$MC" restore g0002 2>"$MC_STATE_DIR/err"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'no checkpoint of g0002' "$MC_STATE_DIR/err" ||
	fail "restore without a checkpoint: rc $rc, $(cat "$MC_STATE_DIR/err")"
"$MC" restore --json --dir "$ck" g0003 >"$MC_STATE_DIR/rs.json" || fail "restore g0003 failed"
[ "$(state_of g0003)" = ready ] || fail "g0003 is $(state_of g0003) after restore"
out=$("$MC" exec g0003 -- cat /data/mark)
[ "$out" = "g0003: saved" ] || fail "g0003's disk after restore: '$out' (want the checkpoint's)"
python3 - "$MC_STATE_DIR/ck.json" "$MC_STATE_DIR/rs.json" <<'PY' || fail "checkpoint figures wrong"
import json, sys
ck = json.loads(open(sys.argv[1]).read())
rs = json.loads(open(sys.argv[2]).read())
assert ck["guest"] == "g0003" and ck["state_bytes"] > 1 << 20 and ck["disk_bytes"] > 0, ck
assert 0 < ck["paused_ms"] < 60000, ck
assert rs["guest"] == "g0003" and rs["state"] == "ready" and rs["total_ms"] > 0, rs
print("checkpoint: paused %d ms, state %.1f MiB; restore to ready: %d ms" % (
    ck["paused_ms"], ck["state_bytes"] / 2**20, rs["total_ms"]), file=sys.stderr)
PY

"$MC" down
leftovers || fail "down left things behind"
