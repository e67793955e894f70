#!/usr/bin/env bash
# it_policy.sh — a policy carried out in a real run: the same seeded plan (g0002's node
# crashes 30 s into an MPI ring, warned 15 s ahead) under proactive-migrate and under none.
# Proactive: the warning reaches the policy through the controller's health signal
# (degrade), g0002 migrates, the crash is avoided, the ring finishes. None: the crash kills
# the ring. The proactive run loses less work.
. "$(dirname "$0")/lib.sh"

data="$(dirname "$0")/data"
res="$MC_STATE_DIR/results"
sed 's/^  name: proactive-migrate$/  name: none/' "$data/it_policy.yaml" >"$MC_STATE_DIR/none.yaml"
grep -q '^  name: none$' "$MC_STATE_DIR/none.yaml" || fail "could not make the none variant"

log "proactive-migrate"
"$MC" run -r "$res/proactive" "$data/it_policy.yaml" >"$MC_STATE_DIR/p.out" 2>"$MC_STATE_DIR/p.err" ||
	fail "the proactive run failed: $(tail -15 "$MC_STATE_DIR/p.err")"
log "none"
set +e
"$MC" run -r "$res/none" "$MC_STATE_DIR/none.yaml" >"$MC_STATE_DIR/n.out" 2>"$MC_STATE_DIR/n.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "the none run: exit $rc, want 1 (its ring is killed): $(tail -15 "$MC_STATE_DIR/n.err")"

python3 - "$res/proactive"/it-policy-* "$res/none"/it-policy-* <<'PY' || fail "policy runs wrong"
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

# none: the same warning, no action, the crash kills the ring
assert nft["policy"] == "none" and not nft["finished"], nft
assert nft["warnings"] == 1 and nft["migrations"] == 0 and nft["failures"] >= 1, nft
assert 28 <= nft["work_lost_s"] <= 60, nft
crash = [r for r in nfaults if r.get("type") == "fault" and r.get("kind") == "crash"]
assert len(crash) == 1 and crash[0]["outcome"] == "injected", crash
assert nw["ok"] == 0, nw

assert pft["work_lost_s"] < nft["work_lost_s"]
print(f"work lost: proactive-migrate {pft['work_lost_s']:.1f} s, none {nft['work_lost_s']:.1f} s; "
      f"migration downtime {pft['migrate_downtime_s']} s", file=sys.stderr)
PY
leftovers || fail "the runs left things behind"
