#!/usr/bin/env bash
# bench/hosts.sh — one cluster across namespace hosts against the same cluster on one host
# (docs/hosts.md), in the same run: `up` time, MPI allreduce per-call times (8 B, 64 KiB)
# and MPI launch (mc-hello), and the ratios across/one; then how long losing a host takes to
# be detected (a host daemon killed MC_BENCH_KILLS times, default 3, heartbeat timeout 10 s).
# Run by hand as root (not in CI):
#   bench/hosts.sh [BUILD_DIR] [GUESTS_PER_HOST] [HOSTS]     (default: build 4 3)
# MC_BENCH_REPS (default 3) allreduce and hello repetitions; medians are printed.
# Writes bench-results/hosts-<time>.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
per="${2:-4}"
nh="${3:-3}"
n=$((per * nh))
reps="${MC_BENCH_REPS:-3}"
MC="$build/harness/microcosm"
nsh="$root/scripts/netns-hosts.sh"
H="bh$(($$ % 100000))"
export MC_STATE_DIR="$(mktemp -d /tmp/mc-bench-hosts.XXXXXX)"
cluster=""
cleanup() {
	[ -n "$cluster" ] && "$MC" down -c "$cluster" >/dev/null 2>&1 || true
	"$nsh" down "$H" >/dev/null 2>&1 || true
	rm -rf "$MC_STATE_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { date +%s%3N; }

read -r hostfile listen < <("$nsh" up "$H" "$nh" "192.168.$((200 + $$ % 50))")

# measure NAME [up options]: up, MPI launch, allreduce; prints "up_s hello_s ar8_us ar64k_us"
measure() {
	local name=$1 t0 up_s hello=() a8=() a64=()
	shift
	cluster="$name"
	t0=$(ms)
	"$MC" up -q -c "$cluster" -n "$n" "$@" >/dev/null
	up_s=$(awk -v a="$t0" -v b="$(ms)" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
	for _ in $(seq "$reps"); do
		t0=$(ms)
		"$MC" mpirun -c "$cluster" -t 1800s -- mc-hello >/dev/null 2>&1
		hello+=("$(awk -v a="$t0" -v b="$(ms)" 'BEGIN { printf "%.2f", (b - a) / 1000 }')")
		read -r x y < <("$MC" mpirun -c "$cluster" -t 1800s -- mc-allreduce --sizes 8,64K \
			--iters 20 2>/dev/null | python3 -c 'import json,sys
rows = {r["bytes"]: r["time_us_median"] for r in map(json.loads, (l for l in sys.stdin if l.startswith("{"))) if "bytes" in r}
print(rows[8], rows[65536])')
		a8+=("$x")
		a64+=("$y")
	done
	echo "$up_s $(printf '%s\n' "${hello[@]}" | median) $(printf '%s\n' "${a8[@]}" | median) $(printf '%s\n' "${a64[@]}" | median)"
}

echo "bench/hosts.sh: $n guests: one host, then $nh namespace hosts x $per" >&2
measure "bhone$$" >"$MC_STATE_DIR/m" # in this shell: it sets cluster
read -r up1 hello1 a81 a641 <"$MC_STATE_DIR/m"
"$MC" down -c "$cluster" >/dev/null
cluster=""
measure "bhmany$$" --hosts "$hostfile" --launcher-exec "$nsh" --listen "$listen" >"$MC_STATE_DIR/m"
read -r upn hellon a8n a64n <"$MC_STATE_DIR/m"

# Losing a host: kill a host daemon, time until its guests are failed; bring the cluster
# up again for the next.
detect=()
for k in $(seq "${MC_BENCH_KILLS:-3}"); do
	if [ "$k" -gt 1 ]; then
		"$MC" down -c "$cluster" >/dev/null
		"$MC" up -q -c "$cluster" -n "$n" --hosts "$hostfile" --launcher-exec "$nsh" \
			--listen "$listen" >/dev/null
	fi
	pid=$("$MC" ls -c "$cluster" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hosts"][-1]["daemon_pid"])')
	last=$(printf 'g%04d' $((n - 1)))
	t0=$(ms)
	kill -KILL "$pid"
	until "$MC" ls -c "$cluster" | awk -v g="$last" '$1 == g { exit $2 == "failed" ? 0 : 1 }'; do
		[ $(($(ms) - t0)) -lt 60000 ] || { echo "not detected in 60 s" >&2; exit 1; }
		sleep 0.1
	done
	detect+=("$(($(ms) - t0))")
done
"$MC" down -c "$cluster" >/dev/null
cluster=""
det=$(printf '%s\n' "${detect[@]}" | median)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-24s %12s %12s %8s\n' "" "one host" "$nh hosts" "ratio"
printf '%-24s %12s %12s %8s\n' "up (s)" "$up1" "$upn" "$(ratio "$upn" "$up1")"
printf '%-24s %12s %12s %8s\n' "mpirun mc-hello (s)" "$hello1" "$hellon" "$(ratio "$hellon" "$hello1")"
printf '%-24s %12s %12s %8s\n' "allreduce 8 B (us)" "$a81" "$a8n" "$(ratio "$a8n" "$a81")"
printf '%-24s %12s %12s %8s\n' "allreduce 64 KiB (us)" "$a641" "$a64n" "$(ratio "$a64n" "$a641")"
echo "host loss detected after (ms, heartbeat timeout 10000): ${detect[*]} (median $det)"
mkdir -p "$root/bench-results"
out="$root/bench-results/hosts-$(date -u +%Y%m%dT%H%M%SZ).json"
printf '{"guests": %d, "hosts": %d, "reps": %d, "one": {"up_s": %s, "hello_s": %s, "allreduce_8B_us": %s, "allreduce_64KiB_us": %s}, "many": {"up_s": %s, "hello_s": %s, "allreduce_8B_us": %s, "allreduce_64KiB_us": %s}, "detect_ms": [%s]}\n' \
	"$n" "$nh" "$reps" "$up1" "$hello1" "$a81" "$a641" "$upn" "$hellon" "$a8n" "$a64n" \
	"$(IFS=,; echo "${detect[*]}")" >"$out"
echo "wrote $out"
