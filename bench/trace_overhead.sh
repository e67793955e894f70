#!/usr/bin/env bash
# bench/trace_overhead.sh — what tracing costs: the allreduce and ring workloads at N ranks,
# the same experiment run untraced and then traced (`run --trace`), in one invocation.
# Run by hand as root (not in CI):
#   bench/trace_overhead.sh [BUILD_DIR] [N] [REPEAT]     (default: build 64 3)
# Prints, per workload and message size, the median time per operation untraced and traced
# and their ratio; writes bench-results/trace-overhead-N-<time>.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
n="${2:-64}"
rep="${3:-3}"
MC="$build/harness/microcosm"
work="$(mktemp -d /tmp/mc-bench-trace.XXXXXX)"
# MC_BENCH_KEEP=1 keeps the runs (and the traced run's trace/) in $work
trap '[ "${MC_BENCH_KEEP:-0}" = 1 ] && echo "runs kept in $work" >&2 || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
density=false
[ "$n" -gt 200 ] && density=true
cat >"$work/overhead.yaml" <<EOF
name: trace-overhead-$n
seed: 1
cluster:
  guests: $n
  density: $density
workloads:
  - name: allreduce
    kind: mpi
    program: mc-allreduce
    args: [--sizes, "8,1K,64K", --iters, "50"]
    repeat: $rep
    timeout: 30m
  - name: ring
    kind: mpi
    program: mc-ring
    args: [--sizes, "8,64K", --iters, "20"]
    repeat: $rep
    timeout: 30m
EOF
for mode in off on; do
	extra=()
	[ "$mode" = on ] && extra=(--trace)
	echo "bench/trace_overhead.sh: $n ranks, tracing $mode..." >&2
	"$MC" run ${extra[@]+"${extra[@]}"} -c "benchtrace$$" -r "$work/runs-$mode" "$work/overhead.yaml" \
		>"$work/$mode.out" 2>"$work/$mode.err" || { tail -20 "$work/$mode.err" >&2; exit 1; }
done
mkdir -p "$root/bench-results"
out="$root/bench-results/trace-overhead-$n-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$(tail -1 "$work/off.out")" "$(tail -1 "$work/on.out")" "$n" "$out" <<'PY'
import json, statistics, sys
off, on, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def figures(d):
    s = json.load(open(f"{d}/summary.json"))["workloads"]
    fig = {}
    for w in s:
        for rep in w["reps"]:
            for r in rep["results"]:
                if "bytes" not in r:
                    continue
                v = r.get("time_us_median", r.get("lap_us_median"))
                if v is not None:
                    fig.setdefault((w["workload"], r["bytes"]), []).append(v)
    return {k: statistics.median(v) for k, v in fig.items()}
a, b = figures(off), figures(on)
rows = []
print(f"{'workload':<10} {'bytes':>7} {'off_us':>10} {'on_us':>10} {'ratio':>7}")
for k in sorted(a):
    if k in b:
        rows.append({"workload": k[0], "bytes": k[1], "off_us": a[k], "on_us": b[k], "ratio": b[k] / a[k]})
        print(f"{k[0]:<10} {k[1]:>7} {a[k]:>10.1f} {b[k]:>10.1f} {b[k] / a[k]:>7.3f}")
json.dump({"ranks": n, "rows": rows, "untraced_run": off, "traced_run": on}, open(out, "w"), indent=2)
print(f"median ratio {statistics.median(r['ratio'] for r in rows):.3f}; written to {out}")
PY
