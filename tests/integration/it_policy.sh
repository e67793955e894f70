#!/usr/bin/env bash
# it_policy.sh — a policy carried out in a real run: the same seeded plan (g0002's node
# crashes 30 s into an MPI ring, warned 15 s ahead) under proactive-migrate, none and
# checkpoint-restart. Proactive: the warning reaches the policy through the controller's
# health signal (degrade), g0002 migrates, the crash is avoided, the ring finishes. None:
# the crash kills the ring, g0002 is revived and the ring starts again from the start.
# Checkpoint-restart: the ring saves its position every 10 s of running (mc-ring
# --checkpoint, asked for by the policy), the crash costs only the laps since the last
# checkpoint, the ring resumes there. The proactive run loses less work than none and
# finishes sooner, the checkpointed one loses less than none; `microcosm simulate` on the
# same plan, with the launch, restart, checkpoint and migration costs these runs measured,
# predicts all three outcomes.
. "$(dirname "$0")/lib.sh"

data="$(dirname "$0")/data"
res="$MC_STATE_DIR/results"
sed 's/^  name: proactive-migrate$/  name: none/' "$data/it_policy.yaml" >"$MC_STATE_DIR/none.yaml"
grep -q '^  name: none$' "$MC_STATE_DIR/none.yaml" || fail "could not make the none variant"
sed 's/^  name: proactive-migrate$/  name: checkpoint-restart\n  params: {interval: 10s}/' \
	"$data/it_policy.yaml" >"$MC_STATE_DIR/ckpt.yaml"
grep -q '^  name: checkpoint-restart$' "$MC_STATE_DIR/ckpt.yaml" ||
	fail "could not make the checkpoint-restart variant"

log "proactive-migrate"
"$MC" run -r "$res" "$data/it_policy.yaml" >"$MC_STATE_DIR/p.out" 2>"$MC_STATE_DIR/p.err" ||
	fail "the proactive run failed: $(tail -15 "$MC_STATE_DIR/p.err")"
prun=$(ls -d "$res"/it-policy-*)
log "none"
"$MC" run -r "$res" "$MC_STATE_DIR/none.yaml" >"$MC_STATE_DIR/n.out" 2>"$MC_STATE_DIR/n.err" ||
	fail "the none run failed (its ring should restart): $(tail -15 "$MC_STATE_DIR/n.err")"
nrun=$(ls -d "$res"/it-policy-* | grep -vxF "$prun")
log "checkpoint-restart"
"$MC" run -r "$res" "$MC_STATE_DIR/ckpt.yaml" >"$MC_STATE_DIR/c.out" 2>"$MC_STATE_DIR/c.err" ||
	fail "the checkpoint-restart run failed: $(tail -15 "$MC_STATE_DIR/c.err")"
crun=$(ls -d "$res"/it-policy-* | grep -vxF -e "$prun" -e "$nrun")

python3 - "$prun" "$nrun" "$crun" <<'PY' || fail "policy runs wrong"
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

p, n, c = sys.argv[1], sys.argv[2], sys.argv[3]
pw, pft, ppol, pfaults, pev, pm = load(p)
nw, nft, npol, nfaults, nev, nm = load(n)
cw, cft, cpol, cfaults, cev, cm = load(c)

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
# the ring's work began after its launch: what the crash at 30 s took is the rest
assert len(nft["launch_s"]) == 1 and 0 < nft["launch_s"][0] < 28, nft
assert abs(nft["work_lost_s"] - (30 - nft["launch_s"][0])) < 3, nft
crash = [r for r in nfaults if r.get("type") == "fault" and r.get("kind") == "crash"]
assert len(crash) == 1 and crash[0]["outcome"] == "injected", crash
assert nw["ok"] == 1 and nw["reps"][0]["restarts"] == 1, nw
assert [r for r in npol if r.get("type") == "restart"], npol
rows = [r for r in nw["reps"][0]["results"] if r.get("workload") == "ring"]
assert sorted(r["bytes"] for r in rows) == [8, 1024], rows

# checkpoint-restart: checkpoints every 10 s of running, the crash, the ring resumes from
# the last one (its first size's result printed again if it had finished) and finishes
assert cft["policy"] == "checkpoint-restart" and cft["finished"], cft
assert cft["checkpoints"] >= 2 and len(cft["checkpoint_s"]) == cft["checkpoints"], cft
assert cft["restarts"] == 1 and cft["failures"] == 1 and cft["refused"] == 0, cft
assert cft["work_lost_s"] < 12, cft  # at most an interval and a checkpoint's own time
ck = [r for r in cpol if r.get("type") == "checkpoint" and "laps" in r]
assert len(ck) == cft["checkpoints"] and all(r["laps"] > 0 for r in ck), cpol
saved = [r["saved_s"] for r in cpol if r.get("type") == "restart"]
assert len(saved) == 1 and saved[0] > 0, cpol  # it resumed from a checkpoint, not the start
assert cw["ok"] == 1 and cw["reps"][0]["restarts"] == 1, cw
rows = [r for r in cw["reps"][0]["results"] if r.get("workload") == "ring"]
assert sorted(r["bytes"] for r in rows) == [8, 1024], rows
assert not [r for r in cw["reps"][0]["results"] if "checkpoint" in r or "start" in r], cw
assert "ring/ft/checkpoint_s" in cm and "ring/ft/launch_s" in cm, cm.keys()

assert pft["work_lost_s"] < nft["work_lost_s"] and cft["work_lost_s"] < nft["work_lost_s"]
assert pft["time_to_solution_s"] < nft["time_to_solution_s"], (pft, nft)
print(f"work lost: proactive-migrate {pft['work_lost_s']:.1f} s, checkpoint-restart "
      f"{cft['work_lost_s']:.1f} s ({cft['checkpoints']} checkpoints), none "
      f"{nft['work_lost_s']:.1f} s; time to solution {pft['time_to_solution_s']:.1f} s, "
      f"{cft['time_to_solution_s']:.1f} s, {nft['time_to_solution_s']:.1f} s; migration "
      f"downtime {pft['migrate_downtime_s']} s, restart {nft['restart_s']} s, checkpoint "
      f"{cft['checkpoint_s']} s, launch {nft['launch_s']} s", file=sys.stderr)
PY

log "the simulator on the same plan, with the costs these runs measured"
# The work: the proactive run's time to solution without its launch (a cost of its own).
work=$(python3 -c 'import json,sys; ft = json.load(open(sys.argv[1]+"/summary.json"))["workloads"][0]["ft"]; print(round(1000 * (ft["time_to_solution_s"] - ft["launch_s"][0])))' "$prun")
{
	cat "$data/it_policy.yaml"
	printf 'simulate:\n  work: %sms\n  checkpoint_cost: measured\n  launch_cost: measured\n' "$work"
	printf '  restart_cost: measured\n  migrate_cost: measured\n  failures: plan\n'
} >"$MC_STATE_DIR/sim.yaml"
"$MC" simulate --results "$res" --json --policy none --policy proactive-migrate \
	--policy checkpoint-restart:interval=10s \
	"$MC_STATE_DIR/sim.yaml" >"$MC_STATE_DIR/sim.json" 2>"$MC_STATE_DIR/sim.err" ||
	fail "simulate failed: $(cat "$MC_STATE_DIR/sim.err")"
python3 - "$MC_STATE_DIR/sim.json" "$prun" "$nrun" "$crun" <<'PY' || fail "the simulator disagrees with the runs"
import json, sys
sim = json.load(open(sys.argv[1]))
real = {}
for run in sys.argv[2:]:
    ft = json.load(open(run + "/summary.json"))["workloads"][0]["ft"]
    real[ft["policy"]] = ft

def find(obj, policy):
    """The first simulated result of policy, wherever --json puts it."""
    if isinstance(obj, dict):
        if (str(obj.get("policy", "")).split(":")[0] == policy
                and isinstance(obj.get("runs"), list)):
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

for pol in ("none", "proactive-migrate", "checkpoint-restart"):
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
    assert abs(s["checkpoints"] - r["checkpoints"]) <= 1, (pol, s, r)
PY
leftovers || fail "the runs left things behind"
