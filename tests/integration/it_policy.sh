#!/usr/bin/env bash
# it_policy.sh — a policy carried out in a real run: the same seeded plan (g0002's node
# crashes 30 s into an MPI ring, warned 15 s ahead) under proactive-migrate and under none.
# Proactive: the warning reaches the policy through the controller's health signal
# (degrade), g0002 migrates, the crash is avoided, the ring finishes. None: the crash kills
# the ring, g0002 is revived and the ring starts again from the start. The proactive run
# loses less work and finishes sooner; `microcosm simulate` on the same plan, with the
# restart and migration costs these runs measured, predicts both outcomes.
. "$(dirname "$0")/lib.sh"

data="$(dirname "$0")/data"
res="$MC_STATE_DIR/results"
sed 's/^  name: proactive-migrate$/  name: none/' "$data/it_policy.yaml" >"$MC_STATE_DIR/none.yaml"
grep -q '^  name: none$' "$MC_STATE_DIR/none.yaml" || fail "could not make the none variant"

log "proactive-migrate"
"$MC" run -r "$res" "$data/it_policy.yaml" >"$MC_STATE_DIR/p.out" 2>"$MC_STATE_DIR/p.err" ||
	fail "the proactive run failed: $(tail -15 "$MC_STATE_DIR/p.err")"
prun=$(ls -d "$res"/it-policy-*)
log "none"
"$MC" run -r "$res" "$MC_STATE_DIR/none.yaml" >"$MC_STATE_DIR/n.out" 2>"$MC_STATE_DIR/n.err" ||
	fail "the none run failed (its ring should restart): $(tail -15 "$MC_STATE_DIR/n.err")"
nrun=$(ls -d "$res"/it-policy-* | grep -vxF "$prun")

python3 - "$prun" "$nrun" <<'PY' || fail "policy runs wrong"
import json, sys

def lines(path):
    try:
        return [json.loads(l) for l in open(path) if l.strip()]
    except FileNotFoundError:
        return []

def load(run):
    s = json.load(open(f"{run}/summary.json"))
    w = s["workloads"][0]
    return (w, w["ft"], lines(f"{run}/policy.jsonl"), lines(f"{run}/faults.jsonl"),
            lines(f"{run}/events.jsonl"), s["metrics"])

p, n = sys.argv[1], sys.argv[2]
pw, pft, ppol, pfaults, pev, pm = load(p)
nw, nft, npol, nfaults, nev, nm = load(n)

# proactive: warned through the health signal, migrated, crash avoided, ring finished
assert pft["policy"] == "proactive-migrate" and pft["finished"], pft
assert pft["warnings"] == 1 and pft["migrations"] == 1 and pft["avoided"] == 1, pft
assert pft["failures"] == 0 and pft["work_lost_s"] == 0, pft
deg = [e for e in pev if e.get("reason") == "degraded"]
assert [e["guest"] for e in deg] == ["g0002"] and deg[0]["health_errors"] == 1, deg
mig = [e for e in pev if e.get("reason") == "migrated"]
assert [e["guest"] for e in mig] == ["g0002"], mig
dec = [r for r in ppol if r.get("type") == "decision" and r["action"] == "migrate"]
assert len(dec) == 1 and dec[0]["guest"] == "g0002" and dec[0]["event"] == "warning", ppol
assert 14 <= dec[0]["time_s"] < 29, dec            # after the warning, before the crash
done = [r for r in ppol if r.get("type") == "migration"]
assert len(done) == 1 and "error" not in done[0] and done[0]["time_s"] < 30, done
crash = [r for r in pfaults if r.get("type") == "fault" and r.get("kind") == "crash"]
assert len(crash) == 1 and crash[0]["outcome"] == "avoided" and crash[0]["guest"] == "g0002", crash
assert pw["ok"] == 1, pw
rows = [r for r in pw["reps"][0]["results"] if r.get("workload") == "ring"]
assert sorted(r["bytes"] for r in rows) == [8, 1024] and all(r["ranks"] == 4 for r in rows), rows
assert pm["ring/ft/migrations"]["median"] == 1 and "ring/ft/migrate_downtime_s" in pm, pm.keys()

# none: the same warning, no action, the crash kills the ring, which starts again
assert nft["policy"] == "none" and nft["finished"], nft
assert nft["warnings"] == 1 and nft["migrations"] == 0 and nft["failures"] >= 1, nft
assert nft["restarts"] == 1 and len(nft["restart_s"]) == 1 and 0 < nft["restart_s"][0] < 60, nft
assert 28 <= nft["work_lost_s"] <= 60, nft
crash = [r for r in nfaults if r.get("type") == "fault" and r.get("kind") == "crash"]
assert len(crash) == 1 and crash[0]["outcome"] == "injected", crash
assert nw["ok"] == 1 and nw["reps"][0]["restarts"] == 1, nw
assert [r for r in npol if r.get("type") == "restart"], npol
rows = [r for r in nw["reps"][0]["results"] if r.get("workload") == "ring"]
assert sorted(r["bytes"] for r in rows) == [8, 1024], rows

assert pft["work_lost_s"] < nft["work_lost_s"]
assert pft["time_to_solution_s"] < nft["time_to_solution_s"], (pft, nft)
print(f"work lost: proactive-migrate {pft['work_lost_s']:.1f} s, none {nft['work_lost_s']:.1f} s; "
      f"time to solution {pft['time_to_solution_s']:.1f} s vs {nft['time_to_solution_s']:.1f} s; "
      f"migration downtime {pft['migrate_downtime_s']} s, restart {nft['restart_s']} s",
      file=sys.stderr)
PY

log "the simulator on the same plan, with the costs these runs measured"
work=$(python3 -c 'import json,sys; print(round(1000 * json.load(open(sys.argv[1]+"/summary.json"))["workloads"][0]["ft"]["time_to_solution_s"]))' "$prun")
{
	cat "$data/it_policy.yaml"
	printf 'simulate:\n  work: %sms\n  checkpoint_cost: 10s\n' "$work"
	printf '  restart_cost: measured\n  migrate_cost: measured\n  failures: plan\n'
} >"$MC_STATE_DIR/sim.yaml"
"$MC" simulate --results "$res" --json --policy none --policy proactive-migrate \
	"$MC_STATE_DIR/sim.yaml" >"$MC_STATE_DIR/sim.json" 2>"$MC_STATE_DIR/sim.err" ||
	fail "simulate failed: $(cat "$MC_STATE_DIR/sim.err")"
python3 - "$MC_STATE_DIR/sim.json" "$prun" "$nrun" <<'PY' || fail "the simulator disagrees with the runs"
import json, sys
sim = json.load(open(sys.argv[1]))
real = {}
for run in sys.argv[2:]:
    ft = json.load(open(run + "/summary.json"))["workloads"][0]["ft"]
    real[ft["policy"]] = ft

def find(obj, policy):
    """The first simulated result of policy, wherever --json puts it."""
    if isinstance(obj, dict):
        if obj.get("policy") == policy and isinstance(obj.get("runs"), list):
            return obj["runs"][0]
        for v in obj.values():
            r = find(v, policy)
            if r:
                return r
    if isinstance(obj, list):
        for v in obj:
            r = find(v, policy)
            if r:
                return r
    return None

for pol in ("none", "proactive-migrate"):
    s, r = find(sim, pol), real[pol]
    assert s, (pol, sim)
    err = (s["time_s"] - r["time_to_solution_s"]) / r["time_to_solution_s"]
    print(f"{pol}: time to solution real {r['time_to_solution_s']:.1f} s, simulated "
          f"{s['time_s']:.1f} s ({100 * err:+.1f} %); work lost real {r['work_lost_s']:.1f} s, "
          f"simulated {s['work_lost_s']:.1f} s", file=sys.stderr)
    assert s["finished"] and abs(err) < 0.25, (pol, s, r)
    assert abs(s["work_lost_s"] - r["work_lost_s"]) < 5, (pol, s, r)
    assert s["migrations"] == r["migrations"] and s["failures_avoided"] == r["avoided"], (pol, s, r)
    assert s["restarts"] == r["restarts"], (pol, s, r)
PY
leftovers || fail "the runs left things behind"
