#!/usr/bin/env bash
# bench/migrate.sh — live migration figures: downtime and total time of migrating idle
# guests, then an MPI ring across N guests that must survive M migrations of its guests
# mid-run with correct output (mc-ring checks every message it gets back).
# Run by hand as root (not in CI):
#   bench/migrate.sh [BUILD_DIR] [N] [M]        (default: build 16 10)
# Prints medians (and min/max) of total time, downtime (vCPUs stopped) and data sent, idle
# and under the ring, and how many guests' kernels oopsed or panicked (console logs);
# writes bench-results/migrate-N-<time>.json.
# MC_BENCH_MIGRATE_ARGS adds options to every `microcosm migrate` (e.g. --stop),
# MC_BENCH_UP_ARGS to `microcosm up` (e.g. --spawn boot).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
n="${2:-16}"
m="${3:-10}"
MC="$build/harness/microcosm"
export MC_STATE_DIR="$(mktemp -d /tmp/mc-bench-migrate.XXXXXX)"
export MC_CLUSTER="benchmig$$"
job=
cleanup() {
	[ -n "$job" ] && kill "$job" 2>/dev/null && wait "$job" 2>/dev/null || true
	"$MC" down >/dev/null 2>&1 || "$MC" down --force >/dev/null 2>&1 || true
	rm -rf "$MC_STATE_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
guest() { printf 'g%04d' "$1"; }

echo "bench/migrate.sh: $n guests" >&2
"$MC" up -n "$n" --accel "${MC_BENCH_ACCEL:-tcg}" ${MC_BENCH_UP_ARGS:-} >&2
sleep 5 # let the clones settle

echo "bench/migrate.sh: $m migrations of idle guests, one at a time" >&2
: >"$MC_STATE_DIR/idle.json"
for i in $(seq 0 $((m - 1))); do
	"$MC" migrate ${MC_BENCH_MIGRATE_ARGS:-} --json "$(guest $((i % n)))" >>"$MC_STATE_DIR/idle.json"
done

# Long enough for M migrations 3 s apart after a 15 s start: a lap of 16 busy-polling ranks
# on 2 cores takes some 0.4 s under TCG (MC_BENCH_RING_ITERS overrides).
iters=${MC_BENCH_RING_ITERS:-$((40 + 6 * m))}
echo "bench/migrate.sh: ring on $n ranks (--iters $iters), $m migrations mid-run" >&2
"$MC" mpirun -t 10m -- mc-ring --sizes 8,1K --iters "$iters" --warmup 5 \
	>"$MC_STATE_DIR/ring.out" 2>"$MC_STATE_DIR/ring.err" &
job=$!
sleep 15
: >"$MC_STATE_DIR/busy.json"
done_n=0
for i in $(seq 0 $((m - 1))); do
	kill -0 $job 2>/dev/null || break
	g=$(guest $(((i * 5 + 1) % n)))
	"$MC" migrate ${MC_BENCH_MIGRATE_ARGS:-} --json "$g" >>"$MC_STATE_DIR/busy.json" ||
		echo "migrate $g failed" >&2
	done_n=$((done_n + 1))
	sleep 3
done
# A guest whose kernel oopsed can leave the ring waiting for ever: stop it then.
while kill -0 $job 2>/dev/null; do
	if grep -qsE 'Oops|Kernel panic|BUG: ' "$MC_STATE_DIR/$MC_CLUSTER"/guests/*/console*.log; then
		echo "bench/migrate.sh: a guest kernel oopsed: stopping the ring" >&2
		kill $job 2>/dev/null || true
		break
	fi
	sleep 5
done
rc=0
wait $job || rc=$?
job=
mkdir -p "$root/bench-results"
# Kernels that oopsed or panicked (a guest that did reboots: QEMU exits, the ring fails).
grep -lE 'Oops|Kernel panic|BUG: ' "$MC_STATE_DIR/$MC_CLUSTER"/guests/*/console*.log 2>/dev/null |
	sed 's|.*/guests/\([^/]*\)/.*|\1|' | sort -u >"$MC_STATE_DIR/oops.txt" || true
if [ $rc -ne 0 ] || [ -s "$MC_STATE_DIR/oops.txt" ]; then
	keep="$root/bench-results/migrate-failed-$(date +%Y%m%d-%H%M%S)"
	mkdir -p "$keep"
	cp "$MC_STATE_DIR"/*.json "$MC_STATE_DIR"/ring.* "$MC_STATE_DIR/$MC_CLUSTER"/*.log \
		"$MC_STATE_DIR/$MC_CLUSTER"/events.jsonl "$keep"/ 2>/dev/null || true
	for d in "$MC_STATE_DIR/$MC_CLUSTER"/guests/*/; do
		cp "$d/console.log" "$keep/$(basename "$d").console.log" 2>/dev/null || true
		cp "$d/qemu.log" "$keep/$(basename "$d").qemu.log" 2>/dev/null || true
	done
	tail -20 "$MC_STATE_DIR/ring.err" >&2
	echo "the ring failed (rc $rc); logs kept in $keep" >&2
fi
out="$root/bench-results/migrate-$n-$(date +%Y%m%d-%H%M%S).json"
python3 - "$MC_STATE_DIR" "$n" "$m" "$done_n" "$rc" "$out" <<'PY'
import json, statistics, sys
d, n, m, done_n, rc, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
def rows(name):
    return [json.loads(l) for l in open(f"{d}/{name}") if l.strip()]
def stats(rs, key):
    v = [r[key] for r in rs]
    return {"median": statistics.median(v), "min": min(v), "max": max(v)} if v else None
res = {"guests": n}
for name in ("idle", "busy"):
    rs = rows(f"{name}.json")
    res[name] = {"migrations": len(rs), "total_ms": stats(rs, "total_ms"),
                 "downtime_ms": stats(rs, "downtime_ms"),
                 "sent_MiB": stats([dict(x, mib=x["bytes"] / 2**20) for x in rs], "mib")}
ring = [json.loads(l) for l in open(f"{d}/ring.out") if l.startswith("{")]
ring = [r for r in ring if r.get("workload") == "ring"]
ok = rc == 0 and sorted(r["bytes"] for r in ring) == [8, 1024] and all(r["ranks"] == n for r in ring)
res["ring"] = {"exit": rc, "correct": ok, "migrations_during": len(rows("busy.json")),
               "results": ring}
res["oopsed"] = [l.strip() for l in open(f"{d}/oops.txt") if l.strip()]
modes = sorted({r.get("mode", "?") for r in rows("idle.json") + rows("busy.json")})
res["mode"] = " ".join(["pre-copy" if m == "live" else "stop-and-copy" if m == "stop" else m
                        for m in modes] + list(filter(None, [__import__("os").environ.get(
                            "MC_BENCH_UP_ARGS", "")])))
json.dump(res, open(out, "w"), indent=1)
print(f"live migration ({res['mode']}), {n} guests (TCG, one host), medians [min..max]:")
for name, what in (("idle", "idle guests"), ("busy", "under the MPI ring")):
    r = res[name]
    if not r["migrations"]:
        print(f"  {what}: none")
        continue
    f = lambda k, u: f"{r[k]['median']:.0f} {u} [{r[k]['min']:.0f}..{r[k]['max']:.0f}]"
    print(f"  {what:20s} {r['migrations']:3d} migrations: total {f('total_ms', 'ms')}, "
          f"downtime {f('downtime_ms', 'ms')}, sent {r['sent_MiB']['median']:.1f} MiB")
print(f"  ring across {n} guests with {res['ring']['migrations_during']} migrations mid-run: "
      f"exit {rc}, output {'correct' if ok else 'WRONG'}")
print(f"  guest kernels that oopsed or panicked: {len(res['oopsed'])} {' '.join(res['oopsed'])}")
print(f"  written to {out}")
sys.exit(0 if ok and not res["oopsed"] and res["ring"]["migrations_during"] >= m else 1)
PY
