#!/usr/bin/env bash
# bench/faults.sh — fault injection on time, and failure detection, at N guests.
# Run by hand as root (not in CI):
#   bench/faults.sh [BUILD_DIR] [N] [HB_TIMEOUT]      (default: build 100 auto)
# Runs an experiment with a fault plan on N idle guests (a sleep on g0000 is the workload;
# --density above 200 guests): 20 crashes and 10 lasting hangs, and bursts of
# netem and slow-cpu, all at fixed times, each on its own guests. Prints the injection delay (actual - planned)
# and the detection latency of the crashes (QEMU exit) and of the hangs (heartbeat
# timeout), medians and maxima, from the run's faults.jsonl; writes
# bench-results/faults-N-<time>.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
n="${2:-100}"
hbt="${3:-auto}"
MC="$build/harness/microcosm"
work="$(mktemp -d /tmp/mc-bench-faults.XXXXXX)"
cluster="benchfaults$$"
cleanup() {
	"$MC" down -c "$cluster" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ "$n" -ge 40 ] || { echo "bench/faults.sh: N must be >= 40" >&2; exit 2; }
density=false tb=auto
[ "$n" -gt 200 ] && density=true tb=4
cat >"$work/faults.yaml" <<EOF
name: bench-faults-$n
seed: 1
cluster:
  guests: $n
  density: $density
  tb_size: $tb
  heartbeat_timeout: $hbt
workloads:
  - name: idle
    kind: exec
    target: g0000             # the clock of the plan; the other guests stay idle
    program: sleep
    args: ["$((60 + n / 10))"]
    timeout: 10m
faults:
  plan:
    - {name: crashes-a, kind: crash, target: 1-10, at: 10s}
    - {name: crashes-b, kind: crash, target: 11-20, at: 15s}
    - {name: hangs, kind: hang, target: 21-30, at: 20s}
    - {name: burst, kind: netem, target: 31-35, at: 12s, duration: 5s, params: {delay: 10ms}}
    - {name: slow, kind: slow-cpu, target: 36-40, at: 25s, duration: 5s, params: {quota: 20%}}
EOF
mkdir -p "$root/bench-results"
out="$root/bench-results/faults-$n-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "bench/faults.sh: $n guests (density $density), heartbeat timeout $hbt; run log in $work/run.err" >&2
"$MC" run -c "$cluster" -r "$work/runs" "$work/faults.yaml" >"$work/run.out" 2>"$work/run.err" || true
rundir=$(tail -1 "$work/run.out")
[ -f "$rundir/faults.jsonl" ] || { tail -20 "$work/run.err" >&2; exit 1; }
grep -q "cluster did not come up" "$work/run.err" && { tail -20 "$work/run.err" >&2; exit 1; }
python3 - "$rundir" "$n" "$out" <<'PY'
import json, statistics, sys
d, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
recs = [json.loads(l) for l in open(f"{d}/faults.jsonl")]
faults = [r for r in recs if r["type"] == "fault" and r["outcome"] == "injected"]
dets = [r for r in recs if r["type"] == "detection" and r.get("fault")]
m = json.load(open(f"{d}/manifest.json"))
def stats(v):
    return {"n": len(v), "median": statistics.median(v) if v else None, "max": max(v) if v else None}
res = {"guests": n, "injected": len(faults),
       "not_injected": sum(1 for r in recs if r["type"] == "fault" and r["outcome"] != "injected"),
       "injection_delay_ms": {k: stats([r["delay_ms"] for r in faults if r["kind"] == k])
                              for k in sorted({r["kind"] for r in faults})},
       "detection_latency_ms": {k: stats([r["latency_ms"] for r in dets if r["kind"] == k])
                                for k in ("crash", "hang")},
       "timings": m.get("timings"), "run": d}
json.dump(res, open(out, "w"), indent=2)
print(f"{'what':<28} {'n':>4} {'median_ms':>10} {'max_ms':>8}")
for k, s in res["injection_delay_ms"].items():
    print(f"{'injection delay: ' + k:<28} {s['n']:>4} {s['median']:>10} {s['max']:>8}")
for k, s in res["detection_latency_ms"].items():
    print(f"{'detection: ' + k:<28} {s['n']:>4} {str(s['median']):>10} {str(s['max']):>8}")
print(f"not injected: {res['not_injected']}; written to {out}")
PY
grep -m1 "heartbeat" "$work/run.err" >&2 || true
