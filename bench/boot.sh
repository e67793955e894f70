#!/usr/bin/env bash
# bench/boot.sh — boot-to-ready of cold-booted guests (--spawn boot): the project kernel against Debian's
# cloud kernel, at 1 and at N guests, in the same run; idle footprint per guest.
# Run by hand as root (not in CI): bench/boot.sh [BUILD_DIR] [N...]   (default N: 1 32)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1 32)
MC="$build/harness/microcosm"
export MC_STATE_DIR="$(mktemp -d /tmp/mc-bench.XXXXXX)"
footprint="$root/../shared/tools/guest-footprint"
cluster=""
cleanup() {
	[ -n "$cluster" ] && "$MC" down -c "$cluster" >/dev/null 2>&1 || true
	rm -rf "$MC_STATE_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-8s %6s %6s %10s %8s %8s %12s %8s %10s\n' kernel guests ready median_ms min_ms max_ms all_ready_s pss_mib idle_cpu%
for n in "${sizes[@]}"; do
	for k in project cloud; do
		cluster="bench-$k-$n"
		t0=$(date +%s%3N)
		"$MC" up -q -c "$cluster" -n "$n" --kernel "$k" --spawn boot || true
		t1=$(date +%s%3N)
		json=$("$MC" ls -c "$cluster" --json)
		ready=$(echo "$json" | grep -c '"state": "ready"' || true)
		boots=$(echo "$json" | grep '"boot_ms"' | sed 's/[^0-9-]//g' | grep -v '^-' || true)
		med=$(echo "$boots" | median)
		min=$(echo "$boots" | sort -n | head -1)
		max=$(echo "$boots" | sort -n | tail -1)
		pss=- cpu=-
		if [ -x "$footprint" ]; then
			sleep 5 # let the guests settle into idle
			fp=$("$footprint" --window 10 --json)
			pss=$(echo "$fp" | sed -n 's/.*"pss_mib_per_guest": *\([0-9.]*\).*/\1/p')
			cpu=$(echo "$fp" | sed -n 's/.*"cpu_pct_core_per_guest_median": *\([0-9.]*\).*/\1/p')
		fi
		printf '%-8s %6d %6d %10s %8s %8s %12.1f %8s %10s\n' "$k" "$n" "$ready" "$med" "$min" "$max" \
			"$(echo "($t1 - $t0) / 1000" | bc -l)" "${pss:--}" "${cpu:--}"
		"$MC" down -c "$cluster" >/dev/null 2>&1
		cluster=""
	done
done
