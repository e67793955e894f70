#!/usr/bin/env bash
# it_plan.sh — an experiment with a fault plan, end to end: `run --dry-run` prints the schedule
# the seed generates (and the same seed gives the same one), the run injects exactly that
# schedule on time, writes each injection and each detected failure to faults.jsonl, reports a
# fault it could not inject, and counts them all in summary.json.
# By hand, for the 64-guest Weibull example:
#   MC=build/harness/microcosm MC_PLAN_FILE=workloads/experiments/faults-weibull.yaml \
#     MC_PLAN_DELAY_MS=1000 tests/integration/it_plan.sh
. "$(dirname "$0")/lib.sh"

FILE=${MC_PLAN_FILE:-$(dirname "$0")/data/it_plan.yaml}
MAX_DELAY_MS=${MC_PLAN_DELAY_MS:-1500} # injection delay allowed (2 cores under TCG, CI)
RUNS="$MC_STATE_DIR/runs"

log "dry run: the schedule, without starting anything"
"$MC" run --dry-run "$FILE" >"$MC_STATE_DIR/dry1.json" 2>"$MC_STATE_DIR/dry1.err" || fail "dry run failed"
"$MC" run --dry-run "$FILE" >"$MC_STATE_DIR/dry2.json" 2>/dev/null
"$MC" run --dry-run --seed 99 "$FILE" >"$MC_STATE_DIR/dry3.json" 2>/dev/null
grep -q "fault schedule (seed" "$MC_STATE_DIR/dry1.err" || fail "dry run printed no schedule"
[ ! -e "$MC_STATE_DIR/$MC_CLUSTER" ] || fail "a dry run started a cluster"
python3 - "$MC_STATE_DIR"/dry{1,2,3}.json <<'PY' || fail "schedules differ for one seed, or not for another"
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:])
assert a["fault_schedule"] and a["fault_schedule"] == b["fault_schedule"], "same seed, different schedule"
if "seed" not in (json.load(open(sys.argv[1])).get("faults") or {}):
    assert a["fault_schedule"] != c["fault_schedule"], "--seed changed nothing"
PY

log "run $FILE"
"$MC" run -r "$RUNS" "$FILE" >"$MC_STATE_DIR/run.out" 2>"$MC_STATE_DIR/run.err" ||
	log "run exited non-zero (faults may fail a workload); checking the record"
rundir=$(tail -1 "$MC_STATE_DIR/run.out")
[ -d "$rundir" ] || fail "no run directory: $(tail -5 "$MC_STATE_DIR/run.err")"
grep -q "fault plan: .* seed" "$MC_STATE_DIR/run.err" || fail "the run did not print its fault seed"

python3 - "$MC_STATE_DIR/dry1.json" "$rundir" "$MAX_DELAY_MS" <<'PY' || fail "record does not match the schedule (see above)"
import json, sys
sched = json.load(open(sys.argv[1]))["fault_schedule"]
d, max_delay = sys.argv[2], int(sys.argv[3])
recs = [json.loads(l) for l in open(f"{d}/faults.jsonl")]
faults = [r for r in recs if r["type"] == "fault"]
dets = [r for r in recs if r["type"] == "detection"]
assert json.load(open(f"{d}/spec.json"))["fault_schedule"] == sched, "run's schedule != dry run's"

def guests(item):
    return item["guests"] if isinstance(item["guests"], list) else item["guests"].split(",")

want = {}  # (name, guest, planned time or None for triggered) -> count
for it in sched:
    for g in guests(it):
        key = (it["name"], g, it.get("at_ms") if "after" not in it else None)
        want[key] = want.get(key, 0) + 1
crashed = {r["guest"]: r["at_ms"] for r in faults if r["kind"] == "crash" and r["outcome"] == "injected"}
got = {}
for r in faults:
    if r["outcome"] == "not-injected":
        for g in r["guests"].split(","):
            key = (r["name"], g, r["planned_ms"] if "trigger" not in r else None)
            got[key] = got.get(key, 0) + 1
        continue
    key = (r["name"], r["guest"], r["planned_ms"] if "trigger" not in r else None)
    got[key] = got.get(key, 0) + 1
    # A fault on a guest the plan crashed earlier fails, and says so.
    dead = r["guest"] in crashed and crashed[r["guest"]] < r["at_ms"]
    assert r["outcome"] == "injected" or (dead and r["outcome"] == "failed"), r
    assert 0 <= r["delay_ms"] <= max_delay, ("late", r)
assert got == want, ("schedule vs record", sorted(want.items()), sorted(got.items()))

late = [r for r in faults if r["outcome"] == "not-injected"]
crashes = [r for r in faults if r["kind"] == "crash" and r["outcome"] == "injected"]
for c in crashes:
    det = [x for x in dets if x["guest"] == c["guest"]]
    assert det and det[0]["fault"] == c["name"] and 0 <= det[0]["latency_ms"] <= 2000, (c, det)
s = json.load(open(f"{d}/summary.json"))["faults"]
assert s["planned"] == len(faults), (s, len(faults))
failed = [r for r in faults if r["outcome"] == "failed"]
assert s["injected"] == len(faults) - len(late) - len(failed), s
assert s["not_injected"] == len(late) and s["failed"] == len(failed), s
assert s["detected"] >= len(crashes), s
m = json.load(open(f"{d}/manifest.json"))
assert m["faults"] == s and "fault_seed" in m, m
print(f"{len(faults)} records match the schedule: {s['injected']} injected, "
      f"{s['failed']} failed (guest crashed before), {s['not_injected']} not injected, "
      f"{len(dets)} detections; injection delay "
      f"{s['injection_delay_ms']}, detection latency {s['detection_latency_ms']}")
PY

if [ -z "${MC_PLAN_FILE:-}" ]; then
	python3 - "$rundir" <<'PY' || fail "it_plan.yaml's particular faults"
import json, sys
recs = [json.loads(l) for l in open(f"{sys.argv[1]}/faults.jsonl")]
by = {r["name"]: r for r in recs if r["type"] == "fault"}
assert by["too-late"]["outcome"] == "not-injected" and "before its planned time" in by["too-late"]["error"], by["too-late"]
assert by["after-heartbeats"]["trigger"]["event"] == "heartbeat" and by["after-heartbeats"]["outcome"] == "injected"
assert by["on-phase-2"]["trigger"]["event"] == "output" and by["on-phase-2"]["outcome"] == "injected"
assert by["on-phase-2"]["planned_ms"] >= 3000, by["on-phase-2"]  # phase 2 is printed after 3 s
farm = json.load(open(f"{sys.argv[1]}/workloads/farm/0/result.json"))
res = [r for r in farm["results"] if r.get("workload") == "taskfarm"][0]
assert res["done"] == res["tasks"], res  # the farm survived a crash and a killed worker
PY
fi
leftovers || fail "the run left things behind"
log "ok"
