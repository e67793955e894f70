#!/usr/bin/env bash
# bench/policy_validation.sh — the simulator against real runs: an MPI ring across N guests
# under a seeded plan of node crashes (exponential, per-node MTBF over a horizon) and a
# predictor, run for real under each policy and simulated with the costs the real runs
# measured; prints per seed and policy the time to solution and work lost, real and
# simulated, and the simulator's error. Run by hand as root (not in CI):
#   bench/policy_validation.sh [BUILD_DIR] [N] [SEEDS]     (default: build 16 "5 6")
# MC_BENCH_MTBF (default 8m), MC_BENCH_HORIZON (50s), MC_BENCH_LEAD (15s),
# MC_BENCH_RECALL (1), MC_BENCH_PRECISION (1), MC_BENCH_ITERS (ring laps, 100),
# MC_BENCH_POLICIES ("none proactive-migrate checkpoint-restart"), MC_BENCH_INTERVAL
# (checkpoint-restart's interval, 15s), MC_BENCH_KEEP=1 (keep the runs). The failure-free
# run (policy none, no faults) measures the work and the ring's launch; simulate takes the
# launch, restart, checkpoint and migration costs from the catalog. Writes
# bench-results/policy-validation-N-<time>.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
n="${2:-16}"
seeds="${3:-5 6}"
MC="$build/harness/microcosm"
work="$(mktemp -d /tmp/mc-bench-policy.XXXXXX)"
export MC_STATE_DIR="$work/state"
export MC_CLUSTER="benchpol$$"
mkdir -p "$MC_STATE_DIR"
cleanup() {
	"$MC" down >/dev/null 2>&1 || true
	if [ "${MC_BENCH_KEEP:-0}" = 1 ]; then echo "runs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
policies="${MC_BENCH_POLICIES:-none proactive-migrate checkpoint-restart}"
interval="${MC_BENCH_INTERVAL:-15s}"

experiment() { # NAME [SEED POLICY]: the experiment file on stdout
	cat <<EOF
name: $1
seed: 1
cluster:
  guests: $n
  heartbeat_timeout: 10s
workloads:
  - name: ring
    kind: mpi
    program: mc-ring
    args: [--sizes, "8", --iters, "${MC_BENCH_ITERS:-100}", --warmup, "2"]
    timeout: 20m
EOF
	if [ $# -eq 1 ]; then # failure-free: no faults, policy none (measures the launch)
		printf 'policy:\n  name: none\n'
		return
	fi
	cat <<EOF
faults:
  seed: $2
  plan:
    - name: node-crashes
      kind: crash
      target: all
      distribution: {kind: exponential, mtbf: ${MC_BENCH_MTBF:-8m}}
      horizon: ${MC_BENCH_HORIZON:-50s}
prediction:
  lead: ${MC_BENCH_LEAD:-15s}
  recall: ${MC_BENCH_RECALL:-1}
  precision: ${MC_BENCH_PRECISION:-1}
policy:
  name: $3
EOF
	[ "$3" = checkpoint-restart ] && printf '  params: {interval: %s}\n' "$interval"
	return 0
}

echo "bench/policy_validation.sh: $n guests, failure-free run" >&2
experiment base >"$work/base.yaml"
"$MC" run -r "$work/res" "$work/base.yaml" >"$work/base.out" 2>&1 ||
	{ tail -20 "$work/base.out" >&2; exit 1; }
for s in $seeds; do
	for p in $policies; do
		echo "bench/policy_validation.sh: seed $s, $p" >&2
		experiment "val-$p-s$s" "$s" "$p" >"$work/$p-$s.yaml"
		"$MC" run -r "$work/res" "$work/$p-$s.yaml" >"$work/$p-$s.out" 2>&1 ||
			echo "  (the run failed: $(tail -1 "$work/$p-$s.out"))" >&2
	done
done
mkdir -p "$root/bench-results"
out="$root/bench-results/policy-validation-$n-$(date +%Y%m%d-%H%M%S).json"
python3 - "$MC" "$work" "$n" "$seeds" "$policies" "$out" "$interval" <<'PY'
import glob, json, subprocess, sys
mc, work, n, seeds, policies, out, interval = sys.argv[1:]
seeds, policies = seeds.split(), policies.split()
base = json.load(open(glob.glob(f"{work}/res/base-*/summary.json")[0]))["workloads"][0]
launch = (base.get("ft") or {}).get("launch_s") or [0]
work_ms = round(1000 * (base["median_s"] - launch[0]))
rows = []
print(f"simulator vs real, {n} guests, failure-free work {work_ms / 1000:.1f} s after a "
      f"{launch[0]:.1f} s launch")
print(f"{'seed':>4} {'policy':18s} {'real TTS':>9} {'sim TTS':>9} {'error':>7} {'real lost':>9} "
      f"{'sim lost':>9}  real/sim restarts, migrations, avoided, checkpoints")
for s in seeds:
    text = open(f"{work}/{policies[0]}-{s}.yaml").read().split("policy:")[0]
    text += (f"simulate:\n  work: {work_ms}ms\n  checkpoint_cost: "
             f"{'measured' if 'checkpoint-restart' in policies else '10s'}\n"
             "  restart_cost: measured\n  migrate_cost: measured\n  launch_cost: measured\n"
             "  failures: plan\n")
    open(f"{work}/sim-{s}.yaml", "w").write(text)
    cmd = [mc, "simulate", "--results", f"{work}/res", "--json"]
    for p in policies:
        cmd += ["--policy", p + (f":interval={interval}" if p == "checkpoint-restart" else "")]
    sim = json.loads(subprocess.run(cmd + [f"{work}/sim-{s}.yaml"], check=True,
                                    capture_output=True, text=True).stdout)
    simp = {p["policy"].split(":")[0]: p["runs"][0] for p in sim["policies"]}
    for p in policies:
        runs = glob.glob(f"{work}/res/val-{p}-s{s}-*/summary.json")
        if not runs:
            continue
        ft = json.load(open(runs[0]))["workloads"][0].get("ft")
        sm = simp[p]
        if not ft or not ft["finished"]:
            print(f"{s:>4} {p:18s} the real run did not finish")
            continue
        err = 100 * (sm["time_s"] - ft["time_to_solution_s"]) / ft["time_to_solution_s"]
        rows.append({"seed": int(s), "policy": p, "real": ft, "simulated": sm, "error_pct": err})
        print(f"{s:>4} {p:18s} {ft['time_to_solution_s']:8.1f}s {sm['time_s']:8.1f}s {err:+6.1f}% "
              f"{ft['work_lost_s']:8.1f}s {sm['work_lost_s']:8.1f}s  "
              f"{ft['restarts']}/{sm['restarts']}, {ft['migrations']}/{sm['migrations']}, "
              f"{ft['avoided']}/{sm['failures_avoided']}, "
              f"{ft.get('checkpoints', 0)}/{sm['checkpoints']}")
if rows:
    errs = sorted(abs(r["error_pct"]) for r in rows)
    print(f"|error|: median {errs[len(errs) // 2]:.1f} %, max {errs[-1]:.1f} % over {len(rows)} runs")
json.dump({"guests": int(n), "work_ms": work_ms, "rows": rows}, open(out, "w"), indent=1)
print(f"written to {out}")
PY
