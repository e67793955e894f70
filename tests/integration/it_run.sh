#!/usr/bin/env bash
# it_run.sh — an experiment file end to end: exec, MPI ring (2 repetitions) and the task farm
# with one worker killed mid-run (its tasks re-issued, none lost); the results directory;
# a bad file is refused with file:line and starts nothing.
. "$(dirname "$0")/lib.sh"
data="$(dirname "$0")/data"
results="$MC_STATE_DIR/results"

log "a bad file: clear error, nothing starts"
set +e
"$MC" run "$data/bad.yaml" >"$MC_STATE_DIR/bad.out" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "run bad.yaml exited $rc, want 2"
grep -q 'bad.yaml:3: cluster.guests: ' "$MC_STATE_DIR/bad.out" || fail "unclear error: $(cat "$MC_STATE_DIR/bad.out")"
[ -z "$(ls -A "$MC_STATE_DIR" | grep -v 'bad.out')" ] || fail "bad file left state: $(ls "$MC_STATE_DIR")"

log "run it_run.yaml"
"$MC" run -c "$MC_CLUSTER" -r "$results" "$data/it_run.yaml" >"$MC_STATE_DIR/run.out" ||
	fail "run failed: $(tail -5 "$MC_STATE_DIR/run.out")"
rundir=$(tail -n1 "$MC_STATE_DIR/run.out")
[ -d "$rundir" ] || fail "last line is not the run directory: $rundir"
log "results in $rundir"
leftovers || fail "the run left its cluster behind"
cmp -s "$rundir/spec.yaml" "$data/it_run.yaml" || fail "spec.yaml is not the file as given"
python3 - "$rundir" <<'PY' || fail "results directory incomplete"
import json, os, sys
d = sys.argv[1]
m = json.load(open(f"{d}/manifest.json"))
assert m["status"] == "finished", m
assert m["seed"] == 11, m
assert m["versions"]["mpich"], m
assert m["timings"]["up_s"] > 0, m
s = {w["workload"]: w for w in json.load(open(f"{d}/summary.json"))["workloads"]}
assert s["uname"]["ok"] == 1 and s["ring"]["runs"] == 2 and s["ring"]["ok"] == 2, s
for rep in (0, 1):
    r = json.load(open(f"{d}/workloads/ring/{rep}/result.json"))
    assert r["ok"] and len([x for x in r["results"] if "bytes" in x]) == 2, r
farm = json.load(open(f"{d}/workloads/farm/0/result.json"))
f = [x for x in farm["results"] if x.get("workload") == "taskfarm"][0]
assert f["done"] == f["tasks"] == 1200 and f["lost"] == 0, f
assert f["redone"] >= 1 and f["workers_lost"] >= 1, f
g = json.load(open(f"{d}/guests.json"))
assert len(g) == 5, g
assert os.path.getsize(f"{d}/guests/g0000/console.log") > 0
print("farm:", f)
PY
log "ok"
