#!/usr/bin/env bash
# bench/trace_overhead.sh — what tracing costs: the allreduce and ring workloads at N ranks,
# untraced and traced (`run --trace`), in one invocation; and whether the traced run's
# events from N guests and the host merge into one trace babeltrace2 reads in time order.
# Run by hand as root (not in CI):
#   bench/trace_overhead.sh [BUILD_DIR] [N] [ROUNDS]     (default: build 64 3)
# Each round runs the experiment untraced, then traced (alternating, so a noisy host hurts
# both alike). Prints, per workload and message size, the median time per operation
# untraced and traced and their ratio, then the merge check of the last traced run;
# writes bench-results/trace-overhead-N-<time>.json.
# MC_BENCH_ALLREDUCE_ARGS / MC_BENCH_RING_ARGS replace the workloads' arguments
# (defaults "--sizes 8,1K,64K --iters 50" and "--sizes 8,64K --iters 20"; launching 64
# ranks takes minutes under TCG, so smaller ones keep a 64-rank round short);
# MC_BENCH_RING_ARGS=none leaves the ring out.
# MC_BENCH_MODES lists the runs of a round, in order (default "off on"): off untraced,
# on traced with tracing.flush MC_BENCH_FLUSH (default 500ms), on:FLUSH traced with that
# flush (e.g. "off on:500ms on:off" measures the flush setting's effect in the same
# rounds); without off the traced runs only are made (the merge check; no ratio).
# Ratios are printed two ways: of the medians over the rounds, and the median of each
# round's own ratio (traced run / the untraced run of the same round). With off twice in
# a round ("off on off"), the untraced runs' ratios to each other show the noise floor.
# MC_BENCH_KEEP=1 keeps the runs (and the traced runs' trace/) in a /tmp folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
n="${2:-64}"
rounds="${3:-3}"
MC="$build/harness/microcosm"
work="$(mktemp -d /tmp/mc-bench-trace.XXXXXX)"
trap '[ "${MC_BENCH_KEEP:-0}" = 1 ] && echo "runs kept in $work" >&2 || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
density=false
[ "$n" -gt 200 ] && density=true
yaml_args() { # "--sizes 8,1K --iters 5" -> [--sizes, "8,1K", --iters, "5"]
	local out="" a
	for a in $1; do out="$out${out:+, }\"$a\""; done
	echo "[$out]"
}
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
    args: $(yaml_args "${MC_BENCH_ALLREDUCE_ARGS:---sizes 8,1K,64K --iters 50}")
    timeout: 30m
EOF
[ "${MC_BENCH_RING_ARGS:-}" = none ] || cat >>"$work/overhead.yaml" <<EOF
  - name: ring
    kind: mpi
    program: mc-ring
    args: $(yaml_args "${MC_BENCH_RING_ARGS:---sizes 8,64K --iters 20}")
    timeout: 30m
EOF
modes="${MC_BENCH_MODES:-off on}"
for mode in $modes; do
	case "$mode" in
	off) continue ;;
	on) flush="${MC_BENCH_FLUSH:-500ms}" ;;
	on:?*) flush="${mode#on:}" ;;
	*)
		echo "bench/trace_overhead.sh: MC_BENCH_MODES: '$mode' is not off, on or on:FLUSH" >&2
		exit 2
		;;
	esac
	cp "$work/overhead.yaml" "$work/overhead-$mode.yaml"
	printf 'tracing:\n  enabled: true\n  flush: %s\n' "$flush" >>"$work/overhead-$mode.yaml"
done
: >"$work/runs.txt"
for r in $(seq 1 "$rounds"); do
	for mode in $modes; do
		file="$work/overhead.yaml"
		[ "$mode" = off ] || file="$work/overhead-$mode.yaml"
		echo "bench/trace_overhead.sh: $n ranks, round $r/$rounds, tracing $mode..." >&2
		t0=$(date +%s)
		"$MC" run -c "benchtrace$$" -r "$work/runs-$mode" \
			"$file" >"$work/$mode-$r.out" 2>"$work/$mode-$r.err" ||
			{ tail -20 "$work/$mode-$r.err" >&2; exit 1; }
		echo "  $(($(date +%s) - t0)) s" >&2
		echo "$mode $r $(tail -1 "$work/$mode-$r.out")" >>"$work/runs.txt"
	done
done
last_on="$(awk '$1 != "off" { d = $3 } END { print d }' "$work/runs.txt")"
echo "bench/trace_overhead.sh: merge check of $last_on..." >&2
# A trace babeltrace2 cannot read fails the summary (which still covers the others, and
# names it); the overhead figures count either way.
"$MC" trace summary --json "$last_on" >"$work/summary.json" || true
[ -s "$work/summary.json" ] || echo '{}' >"$work/summary.json"
mkdir -p "$root/bench-results"
out="$root/bench-results/trace-overhead-$n-$(date -u +%Y%m%dT%H%M%SZ).json"
/usr/bin/python3 - "$work/runs.txt" "$n" "$out" "$work/summary.json" "${MC_BENCH_FLUSH:-500ms}" <<'PY'
import json, statistics, sys
import bt2
runs_file, n, out, summary_file, flush = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
runs = {}   # mode -> [run directory, one per round]
order = []  # the modes in the order they ran
for line in open(runs_file):
    mode, _, d = line.split()
    if mode not in runs:
        order.append(mode)
    runs.setdefault(mode, []).append(d)

def figures(dirs):
    fig = {}
    for d in dirs:
        for w in json.load(open(f"{d}/summary.json"))["workloads"]:
            for rep in w["reps"]:
                for r in rep["results"]:
                    v = r.get("time_us_median", r.get("lap_us_median"))
                    if "bytes" in r and v is not None:
                        fig.setdefault((w["workload"], r["bytes"]), []).append(v)
    return {k: statistics.median(v) for k, v in fig.items()}, fig

def label(mode):
    return flush if mode == "on" else mode[3:]

rows = []
a, araw = figures(runs.get("off", []))
print(f"{n} ranks; time per operation in us, medians over the rounds")
for mode in [m for m in order if m != "off"]:
    b, braw = figures(runs[mode])
    print(f"traced, tracing.flush {label(mode)}:")
    if a:
        print(f"  {'workload':<10} {'bytes':>7} {'off_us':>10} {'on_us':>10} {'ratio':>7} "
              f"{'paired':>7}  each round off/on")
    for k in sorted(b):
        if k not in a:
            print(f"  {k[0]:<10} {k[1]:>7} {'-':>10} {b[k]:>10.1f}")
            continue
        paired = [y / x for x, y in zip(araw[k], braw[k])]
        rows.append({"mode": mode, "flush": label(mode), "workload": k[0], "bytes": k[1],
                     "off_us": a[k], "on_us": b[k], "ratio": b[k] / a[k],
                     "paired_ratio": statistics.median(paired), "off_all": araw[k],
                     "on_all": braw[k]})
        each = " ".join(f"{x:.0f}/{y:.0f}" for x, y in zip(araw[k], braw[k]))
        print(f"  {k[0]:<10} {k[1]:>7} {a[k]:>10.1f} {b[k]:>10.1f} {b[k] / a[k]:>7.3f} "
              f"{statistics.median(paired):>7.3f}  {each}")
    mine = [r for r in rows if r["mode"] == mode]
    if mine:
        print(f"  median ratio {statistics.median(r['ratio'] for r in mine):.3f}, "
              f"median paired ratio {statistics.median(r['paired_ratio'] for r in mine):.3f}")
if len(runs.get("off", [])) > 1:  # untraced against untraced: the noise floor
    print("untraced run to run (each run / the first):")
    for k in sorted(a):
        each = " ".join(f"{v / araw[k][0]:.3f}" for v in araw[k][1:])
        print(f"  {k[0]:<10} {k[1]:>7} {each}")
med = statistics.median(r["ratio"] for r in rows) if rows else None

# Merge check 1: microcosm trace summary (guest clocks shifted by the measured offsets).
s = json.load(open(summary_file))
if "check" not in s:
    print("trace summary failed (its message is above): a trace in the run is unreadable")
    json.dump({"ranks": n, "flush": flush, "rows": rows, "median_ratio": med, "runs": runs,
               "merge": None},
              open(out, "w"), indent=2)
    print(f"written to {out}")
    sys.exit(0)
hosts = sorted({t["hostname"] for t in s["check"]["traces"] if t["events"] > 0})
bad = [t["path"] for t in s["check"]["traces"] if t["error"]]
if bad:
    print(f"unreadable traces ({len(bad)}): {', '.join(bad)}")
guests = [h for h in hosts if h.startswith("g")]
print(f"trace summary: {len(s['check']['traces'])} traces, events from {len(guests)} guests "
      f"and {len(hosts) - len(guests)} host trace(s), {s['events']} events, in time order: "
      f"{s['check']['in_order']}")
# Merge check 2: babeltrace2's own muxer over the readable traces (after `trace align`
# the offsets are in the metadata): every message's time no earlier than the one before.
last = None
count = 0
disorder = 0
seen = set()
import os
good = [os.path.join(s["trace_dir"], t["path"]) for t in s["check"]["traces"] if not t["error"]]
it = bt2.TraceCollectionMessageIterator(good)
for msg in it:
    if type(msg) is not bt2._EventMessageConst:
        continue
    t = msg.default_clock_snapshot.ns_from_origin
    if last is not None and t < last:
        disorder += 1
    last = t
    count += 1
    env = msg.event.stream.trace.environment
    if "hostname" in env:
        seen.add(str(env["hostname"]))
print(f"babeltrace2: {count} events from {len(seen)} hostnames, "
      f"{disorder} out of time order")
json.dump({"ranks": n, "flush": flush, "rows": rows, "median_ratio": med, "runs": runs,
           "merge": {"unreadable": bad, "summary_traces": len(s["check"]["traces"]), "guests": len(guests),
                     "hostnames": len(hosts), "summary_in_order": s["check"]["in_order"],
                     "bt2_events": count, "bt2_hostnames": len(seen),
                     "bt2_out_of_order": disorder}},
          open(out, "w"), indent=2)
print(f"written to {out}")
PY
