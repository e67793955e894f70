#!/usr/bin/env bash
# bench/mpi_launch.sh — MPI launch time (mc-hello: MPI_Init, one line per rank, MPI_Finalize)
# through `microcosm mpirun` at N ranks in N guests, plus the allreduce workload at each N.
# Run by hand as root (not in CI):
#   bench/mpi_launch.sh [BUILD_DIR] [N...]        (default N: 16 64 256)
# Large N uses --density (see docs/density.md). Prints a table (medians of MC_BENCH_REPS
# launches, default 3) and writes bench-results/mpi-launch-<time>.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(16 64 256)
MC="$build/harness/microcosm"
export MC_STATE_DIR="$(mktemp -d /tmp/mc-bench.XXXXXX)"
cluster=""
cleanup() {
	[ -n "$cluster" ] && "$MC" down -c "$cluster" >/dev/null 2>&1 || true
	rm -rf "$MC_STATE_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mkdir -p "$root/bench-results"
out="$root/bench-results/mpi-launch-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "[" >"$out"
sep=""
printf '%6s %8s %12s %12s %12s %14s\n' ranks up_s hello_med_s hello_min_s hello_max_s allreduce8_us
for n in "${sizes[@]}"; do
	cluster="mpibench$n"
	extra=()
	[ "$n" -gt 200 ] && extra=(--density --tb-size 4)
	t0=$(date +%s%3N)
	"$MC" up -q -c "$cluster" -n "$n" ${extra[@]+"${extra[@]}"} >/dev/null
	up_s=$(awk -v a="$t0" -v b="$(date +%s%3N)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
	times=()
	for _ in $(seq 1 "${MC_BENCH_REPS:-3}"); do
		t0=$(date +%s%3N)
		lines=$("$MC" mpirun -c "$cluster" -t 1800s -- mc-hello | grep -c '^hello ' || true)
		t1=$(date +%s%3N)
		[ "$lines" -eq "$n" ] || { echo "mc-hello at $n ranks: $lines lines" >&2; exit 1; }
		times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')")
	done
	med=$(printf '%s\n' "${times[@]}" | median)
	min=$(printf '%s\n' "${times[@]}" | sort -n | head -n1)
	max=$(printf '%s\n' "${times[@]}" | sort -n | tail -n1)
	ar=$("$MC" mpirun -c "$cluster" -t 1800s -- mc-allreduce --sizes 8 --iters 20 |
		python3 -c 'import json,sys
rows=[json.loads(l) for l in sys.stdin if l.startswith("{") and "bytes" in l]
print(rows[0]["time_us_median"])')
	printf '%6d %8s %12s %12s %12s %14s\n' "$n" "$up_s" "$med" "$min" "$max" "$ar"
	printf '%s{"ranks": %d, "guests": %d, "up_s": %s, "hello_s": [%s], "hello_median_s": %s, "allreduce_8B_us": "%s"}\n' \
		"$sep" "$n" "$n" "$up_s" "$(IFS=,; echo "${times[*]}")" "$med" "$ar" >>"$out"
	sep=","
	"$MC" down -c "$cluster" >/dev/null
	cluster=""
done
echo "]" >>"$out"
echo "wrote $out"
