# lib.sh — shared helpers for integration tests (sourced). Every test gets its own
# state dir and cluster name, and tears everything down on exit, even on failure.
set -euo pipefail

: "${MC:?MC must name the microcosm binary}"
export MC_STATE_DIR="$(mktemp -d /tmp/mc-it-state.XXXXXX)"
export MC_CLUSTER="it$$"
T0=$(date +%s)

log() { echo "[$(( $(date +%s) - T0 ))s] $*" >&2; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Processes whose command line names this test's state dir (its QEMUs).
cluster_pids() { pgrep -f -- "$MC_STATE_DIR/" || true; }

# Processes in namespace host HOST (scripts/netns-hosts.sh) other than its Slurm node's
# daemons (slurmd, slurmstepd), as PID(COMM) lines.
left_on() {
	local p c
	for p in $(ip netns pids "$1" 2>/dev/null); do
		c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		case "$c" in slurmd | slurmstepd) ;; *) echo "$p($c)" ;; esac
	done
}

# After down: no process of ours on namespace hosts H-1..H-N, nor their fleet namespaces.
hosts_clean() {
	local k
	for k in $(seq "$2"); do
		[ -z "$(left_on "$1-$k")" ] || fail "processes left on $1-$k after down: $(left_on "$1-$k")"
		[ ! -e "/run/netns/microcosm-$MC_CLUSTER-$1-$k" ] || fail "fleet namespace of $1-$k left"
	done
}

# Everything a cluster could leave behind; prints what it finds.
leftovers() {
	local found=0
	if [ -n "$(cluster_pids)" ]; then
		echo "leftover processes: $(cluster_pids | tr '\n' ' ')"
		found=1
	fi
	if [ -e "$MC_STATE_DIR/$MC_CLUSTER" ]; then
		echo "leftover state dir: $(find "$MC_STATE_DIR/$MC_CLUSTER" | head -5 | tr '\n' ' ')"
		found=1
	fi
	if [ -e "/run/netns/microcosm-$MC_CLUSTER" ]; then
		echo "leftover netns: microcosm-$MC_CLUSTER"
		found=1
	fi
	return $found
}

cleanup() {
	local rc=$?
	"$MC" down >/dev/null 2>&1 || "$MC" down --force >/dev/null 2>&1 || true
	# Last resort: end only this test's own QEMUs, by PID.
	for p in $(cluster_pids); do kill -9 "$p" 2>/dev/null || true; done
	if [ $rc -ne 0 ] && [ -d "$MC_STATE_DIR" ]; then
		echo "--- controller log ---" >&2
		cat "$MC_STATE_DIR/$MC_CLUSTER/controller.log" 2>/dev/null | tail -30 >&2 || true
	fi
	rm -rf "$MC_STATE_DIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# up N [options]: brings a cluster up under TCG and checks every guest is ready.
up() {
	local n=$1
	shift
	log "up -n $n $*"
	"$MC" up -n "$n" --accel "${MC_TEST_ACCEL:-tcg}" "$@" || fail "up -n $n failed"
}

# state_of GUEST: the guest's state per `microcosm ls`.
state_of() { "$MC" ls | awk -v g="$1" '$1 == g { print $2 }'; }

# wait_state GUEST STATE SECONDS: polls until the guest reaches STATE; prints the ms it took.
wait_state() {
	local g=$1 want=$2 limit_ms=$(($3 * 1000)) t0 now
	t0=$(date +%s%3N)
	while :; do
		[ "$(state_of "$g")" = "$want" ] && break
		now=$(date +%s%3N)
		[ $((now - t0)) -gt $limit_ms ] && fail "$g not $want after $3 s (is $(state_of "$g"))"
		sleep 0.1
	done
	echo $(($(date +%s%3N) - t0))
}
