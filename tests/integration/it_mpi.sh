#!/usr/bin/env bash
# it_mpi.sh — MPI across guests with Hydra: ring and allreduce on 8 guests (and 16 ranks at
# 2 per guest), a failing rank and a crashed guest named in the error, nothing left behind.
. "$(dirname "$0")/lib.sh"

up 8

# mpirun's own processes (mpiexec, mc-rsh) for this cluster.
job_pids() { pgrep -f -- "$MC_STATE_DIR/$MC_CLUSTER/mpirun-" || true; }

log "ring on 8 ranks"
"$MC" mpirun -t 300s -- mc-ring --sizes 8,1K --iters 20 >"$MC_STATE_DIR/ring.out" ||
	fail "mpirun mc-ring failed"
python3 - "$MC_STATE_DIR/ring.out" <<'PY' || fail "ring output wrong: $(cat "$MC_STATE_DIR/ring.out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
sizes = sorted(r["bytes"] for r in rows if r.get("workload") == "ring" and "bytes" in r)
assert sizes == [8, 1024], sizes
for r in rows:
    assert r["ranks"] == 8, r
    assert r["lap_us_median"] > 0, r
PY

log "allreduce on 8 ranks, then 16 ranks at 2 per guest"
"$MC" mpirun -t 300s -- mc-allreduce --sizes 8,64K --iters 10 >"$MC_STATE_DIR/ar.out" ||
	fail "mpirun mc-allreduce failed"
"$MC" mpirun -t 300s -n 16 --ppn 2 -- mc-allreduce --sizes 8 --iters 10 >"$MC_STATE_DIR/ar16.out" ||
	fail "mpirun mc-allreduce -n 16 --ppn 2 failed"
python3 - "$MC_STATE_DIR/ar.out" "$MC_STATE_DIR/ar16.out" <<'PY' || fail "allreduce output wrong"
import json, sys
for path, ranks, n in ((sys.argv[1], 8, 2), (sys.argv[2], 16, 1)):
    rows = [json.loads(l) for l in open(path) if l.startswith("{")]
    rows = [r for r in rows if r.get("workload") == "allreduce" and "bytes" in r]
    assert len(rows) == n, (path, rows)
    assert all(r["ranks"] == ranks for r in rows), rows
PY

log "a failing rank is named with its guest"
set +e
"$MC" mpirun -t 120s -- sh -c 'if [ "$PMI_RANK" = 3 ]; then exit 7; fi; sleep 1' \
	>/dev/null 2>"$MC_STATE_DIR/fail.err"
rc=$?
set -e
[ $rc -ne 0 ] || fail "mpirun succeeded although rank 3 exited 7"
grep -q 'rank 3 on guest g0003 (10.77.0.5) exited with code 7' "$MC_STATE_DIR/fail.err" ||
	fail "failure not named: $(tail -3 "$MC_STATE_DIR/fail.err")"

log "a guest that dies mid-job fails the job, naming it"
victim=$("$MC" ls --json | python3 -c 'import json,sys; print([g["pid"] for g in json.load(sys.stdin)["guests"] if g["name"]=="g0005"][0])')
( sleep 4; kill -9 "$victim" ) &
killer=$!
t0=$(date +%s)
set +e
"$MC" mpirun -t 120s -- sleep 60 >/dev/null 2>"$MC_STATE_DIR/crash.err"
rc=$?
set -e
wait $killer || true
took=$(( $(date +%s) - t0 ))
[ $rc -ne 0 ] || fail "mpirun succeeded although g0005 died"
grep -q 'guest g0005 (10.77.0.7, rank 5)' "$MC_STATE_DIR/crash.err" ||
	fail "dead guest not named: $(tail -3 "$MC_STATE_DIR/crash.err")"
[ "$took" -lt 40 ] || fail "job took $took s to fail after the guest died"
log "job failed $took s after start (guest killed at 4 s)"

log "nothing of the jobs is left: no launcher, no command running in a guest"
[ -z "$(job_pids)" ] || fail "leftover mpirun processes: $(job_pids)"
for _ in $(seq 1 50); do
	busy=$("$MC" ls | awk '$2 == "busy"' | wc -l)
	[ "$busy" -eq 0 ] && break
	sleep 0.2
done
[ "$busy" -eq 0 ] || fail "$busy guests still busy after the jobs: $("$MC" ls)"

log "too many ranks are refused before anything starts"
set +e
"$MC" mpirun -n 100 -- mc-ring >/dev/null 2>"$MC_STATE_DIR/big.err"
rc=$?
set -e
[ $rc -eq 2 ] || fail "mpirun -n 100 on 7 ready guests exited $rc, want 2"
grep -q 'need 100 ready guests' "$MC_STATE_DIR/big.err" || fail "unclear error: $(cat "$MC_STATE_DIR/big.err")"
log "ok"
