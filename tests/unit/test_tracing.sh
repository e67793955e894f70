#!/bin/bash
# test_tracing.sh — records a real LTTng trace of mc-ring and of the harness provider, checks it.
#
# Usage: test_tracing.sh MPIEXEC MC_RING LIBMC_MPI_TRACE LIBMC_MPI_PRELOAD TRACING_EMIT
#
# Starts its own root lttng-sessiond, records microcosm_mpi:*, microcosm_workload:* and
# microcosm_harness:* while `mpiexec -n 2` runs mc-ring with libmc-mpi-trace.so and
# libmc-mpi-preload.so preloaded and tracing_emit emits every harness event through
# mc_trace.h, then reads the trace with babeltrace2 and checks the events' fields.
#
# Isolation. LTTng-tools 2.13 gives a root session daemon no choice of run directory:
# it is always /var/run/lttng (client, application, consumer and health sockets, lock
# and PID files) whatever LTTNG_HOME says (LTTNG_HOME moves only its configuration and
# default output; there is no LTTNG_RUNDIR), the `lttng` client run as root always talks
# to /var/run/lttng/client-lttng-sessiond, and root applications wait for a daemon on the
# shared-memory futex /lttng-ust-wait-8. So the test runs itself again in private mount
# and PID namespaces (unshare) with an empty tmpfs on /run and on /dev/shm: its daemon,
# its lttng commands and its traced programs see only each other, never a system daemon
# or another test's. It stops its daemon by PID on every exit (trap); if the test itself
# is killed, the kernel ends what is left in its PID namespace.
#
# Fails, never skips: a host that cannot run a session daemon fails the test.
set -u
prog=test_tracing

fail()
{
	echo "$prog: $*" >&2
	exit 1
}

if (($# != 5)); then
	echo "usage: $0 MPIEXEC MC_RING LIBMC_MPI_TRACE LIBMC_MPI_PRELOAD TRACING_EMIT" >&2
	exit 2
fi
mpiexec=$1 ring=$2 trace_lib=$3 preload_lib=$4 emit=$5

if [[ ${MC_TEST_TRACING_INSIDE:-} != 1 ]]; then
	[[ $(id -u) == 0 ]] || fail "needs root: it starts its own root lttng-sessiond"
	for tool in unshare lttng-sessiond lttng babeltrace2 "$mpiexec"; do
		command -v "$tool" >/dev/null || fail "$tool: not found"
	done
	for file in "$ring" "$trace_lib" "$preload_lib" "$emit"; do
		[[ -f $file ]] || fail "$file: not found"
	done
	export MC_TEST_TRACING_INSIDE=1
	exec unshare --mount --propagation private --pid --fork --kill-child --mount-proc \
		"$0" "$@"
fi

# ---- inside the namespaces; this shell is PID 1 ----

tmp=$(mktemp -d /tmp/mc-test-tracing.XXXXXX) || fail "mktemp: cannot create a directory"
sessiond_pid=
passed=0 # 1 once every check passed: only then are the files removed

# Stops the daemon this test started, by PID; SIGKILL after 10 s.
stop_sessiond()
{
	local pid=$sessiond_pid i

	[[ -n $pid ]] || return 0
	sessiond_pid=
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		# Gone, or a zombie: this shell is its parent now and reaps it.
		[[ -e /proc/$pid && $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 0
		sleep 0.1
	done
	echo "$prog: lttng-sessiond $pid did not stop in 10 s; killing it" >&2
	kill -KILL "$pid" 2>/dev/null
}

on_exit()
{
	local rc=$?

	stop_sessiond
	if ((passed)); then
		rm -rf "$tmp"
	else
		echo "$prog: failed; files in $tmp" >&2
	fi
	exit "$rc"
}
trap on_exit EXIT
# As PID 1, this shell would ignore these signals without a handler.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command; on failure prints its output and fails the test.
run()
{
	local out

	if ! out=$("$@" 2>&1); then
		fail "$* failed: $out"
	fi
}

mount -t tmpfs -o mode=0755 mc-test-tracing /run || fail "cannot mount a private /run"
mount -t tmpfs -o mode=1777 mc-test-tracing /dev/shm || fail "cannot mount a private /dev/shm"

export LTTNG_HOME=$tmp/home
mkdir -p "$LTTNG_HOME" "$tmp/sessions"
out=$(lttng-sessiond --daemonize --no-kernel --load="$tmp/sessions" \
	--pidfile="$tmp/sessiond.pid" 2>&1) || fail "lttng-sessiond cannot start: $out"
sessiond_pid=$(cat "$tmp/sessiond.pid" 2>/dev/null)
[[ $sessiond_pid =~ ^[0-9]+$ ]] || fail "lttng-sessiond started but wrote no PID file: $out"

run lttng create mc-test-tracing --output="$tmp/trace"
run lttng enable-event --userspace 'microcosm_mpi:*'
run lttng enable-event --userspace 'microcosm_workload:*'
run lttng enable-event --userspace 'microcosm_harness:*'
run lttng add-context --userspace --type=vpid
run lttng start

# Traced programs wait for the daemon's registration before main() (default 3 s).
export LTTNG_UST_REGISTER_TIMEOUT=30000
# What `microcosm mpirun` gives ranks (harness/mpirun.c), minus the guest NIC name.
export UCX_TLS=tcp,self UCX_WARN_UNUSED_ENV_VARS=n
if ! timeout 120 "$mpiexec" -n 2 env LD_PRELOAD="$trace_lib $preload_lib" \
	"$ring" --sizes 8 --iters 5 >"$tmp/ring.json" 2>"$tmp/ring.err"; then
	fail "mc-ring under the interposer failed: $(cat "$tmp/ring.err")"
fi
MC_TRACE=1 timeout 60 "$emit" || fail "tracing_emit failed (messages above)"

run lttng stop
run lttng destroy
stop_sessiond
babeltrace2 "$tmp/trace" >"$tmp/events.txt" 2>"$tmp/babeltrace.err" ||
	fail "babeltrace2 cannot read the trace: $(cat "$tmp/babeltrace.err")"

# ---- checks ----

nfail=0

# Reports one failed check; the test goes on to report the others.
bad()
{
	echo "$prog: $*" >&2
	nfail=$((nfail + 1))
}

# count NAME PAYLOAD: events NAME ("microcosm_mpi:call_entry") whose payload is exactly
# "{ PAYLOAD }" (babeltrace2 prints it last on the line, after the contexts).
count()
{
	awk -v name=" $1: " -v tail="{ $2 }" '
		index($0, name) && substr($0, length($0) - length(tail) + 1) == tail { n++ }
		END { print n + 0 }' "$tmp/norm.txt"
}

# expect NAME PAYLOAD WANT: exactly WANT such events; else shows some of that name.
expect()
{
	local got

	got=$(count "$1" "$2")
	if [[ $got != "$3" ]]; then
		bad "got $got events, want $3: $1 { $2 }"
		grep -F " $1: " "$tmp/norm.txt" | sed 's/^/    /' | head -n 4 >&2
	fi
}

# The program's own output is unchanged by the interposer: one JSON line for one size.
if [[ $(wc -l <"$tmp/ring.json") != 1 ]] ||
	! grep -q '^{"workload":"ring","ranks":2,"mode":"ring","bytes":8,"iters":5,' "$tmp/ring.json"; then
	bad "mc-ring printed, want one ring line for 8 bytes: $(cat "$tmp/ring.json")"
fi

# Every communicator in mc-ring is MPI_COMM_WORLD: one handle, written WORLD below.
world=$(sed -n 's/.*microcosm_mpi:call_entry: .* comm = \(-\{0,1\}[0-9]*\), .*/\1/p' \
	"$tmp/events.txt" | grep -vx -- -1 | sort -u)
if [[ ! $world =~ ^[0-9]+$ ]]; then
	bad "want one communicator (MPI_COMM_WORLD) in call_entry events, got: ${world:-none}"
	world=none
fi
sed "s/, comm = $world, /, comm = WORLD, /" "$tmp/events.txt" >"$tmp/norm.txt"

# mc-ring --sizes 8 --iters 5 (and --warmup 10): 15 laps of an 8-byte token, tag 1.
# Rank 0 sends with MPI_Isend, receives, waits; rank 1 receives and sends on.
entry=microcosm_mpi:call_entry exit=microcosm_mpi:call_exit
expect $entry 'call = "MPI_Isend", rank = 0, comm = WORLD, peer = 1, tag = 1, bytes = 8' 15
expect $entry 'call = "MPI_Recv", rank = 0, comm = WORLD, peer = 1, tag = 1, bytes = 8' 15
expect $entry 'call = "MPI_Wait", rank = 0, comm = -1, peer = -1, tag = -1, bytes = 0' 15
expect $entry 'call = "MPI_Recv", rank = 1, comm = WORLD, peer = 0, tag = 1, bytes = 8' 15
expect $entry 'call = "MPI_Send", rank = 1, comm = WORLD, peer = 0, tag = 1, bytes = 8' 15
for call in MPI_Isend MPI_Recv MPI_Wait; do
	expect $exit "call = \"$call\", rank = 0, ret = 0" 15
done
for call in MPI_Recv MPI_Send; do
	expect $exit "call = \"$call\", rank = 1, ret = 0" 15
done
# Start-up (wl_mpi_init), agreement on options and the checks after each step (one int),
# the barrier before the size and the one libmc-mpi-preload.so's MPI_Finalize makes.
expect $entry 'call = "MPI_Init_thread", rank = -1, comm = -1, peer = -1, tag = -1, bytes = 0' 2
for rank in 0 1; do
	expect $exit "call = \"MPI_Init_thread\", rank = $rank, ret = 0" 1
	expect $entry "call = \"MPI_Allreduce\", rank = $rank, comm = WORLD, peer = -1, tag = -1, bytes = 4" 3
	expect $exit "call = \"MPI_Allreduce\", rank = $rank, ret = 0" 3
	expect $entry "call = \"MPI_Barrier\", rank = $rank, comm = WORLD, peer = -1, tag = -1, bytes = 0" 2
	expect $exit "call = \"MPI_Barrier\", rank = $rank, ret = 0" 2
	expect $entry "call = \"MPI_Finalize\", rank = $rank, comm = -1, peer = -1, tag = -1, bytes = 0" 1
	expect $exit "call = \"MPI_Finalize\", rank = $rank, ret = 0" 1
done
# Nothing else: 2 + 2 * (3 + 2 + 1) + 5 * 15 calls, each entered and left.
for name in $entry $exit; do
	got=$(grep -cF " $name: " "$tmp/norm.txt")
	[[ $got == 89 ]] || bad "got $got $name events, want 89"
done

# Both layers ran, this one first: libmc-mpi-preload.so's MPI_Finalize calls MPI_Barrier,
# which only reaches this interposer if the preload's wrapper ran after it.
for rank in 0 1; do
	got=$(sed -n "s/.*microcosm_mpi:call_\(entry\|exit\): .*{ call = \"\([A-Za-z_]*\)\", rank = $rank, .*/\1 \2/p" \
		"$tmp/norm.txt" | tail -n 4 | paste -sd' ')
	want="entry MPI_Finalize entry MPI_Barrier exit MPI_Barrier exit MPI_Finalize"
	[[ $got == "$want" ]] || bad "rank $rank ends with '$got', want '$want'"
done

# Workload phases, once per rank, and one measurement (rank 0) equal to the JSON line's.
for phase in MPI_Init set-up "size 8" warmup run MPI_Finalize; do
	expect microcosm_workload:phase "workload = \"ring\", phase = \"$phase\"" 2
done
got=$(grep -cF ' microcosm_workload:phase: ' "$tmp/norm.txt")
[[ $got == 12 ]] || bad "got $got microcosm_workload:phase events, want 12"
value=$(sed -n 's/.* microcosm_workload:iteration: .*{ workload = "ring", n = 8, value = \([^ ]*\) }$/\1/p' \
	"$tmp/norm.txt")
json=$(sed -n 's/.*"lap_us_median":\([^,]*\),.*/\1/p' "$tmp/ring.json")
if [[ $(grep -cF ' microcosm_workload:iteration: ' "$tmp/norm.txt") != 1 ]] ||
	! awk -v a="$value" -v b="$json" 'BEGIN { d = a - b; exit !(b > 0 && d * d < 1e-10 * b * b) }'; then
	bad "want one iteration event with n = 8 and value = lap_us_median $json, got:" \
		"$(grep -F ' microcosm_workload:iteration: ' "$tmp/norm.txt")"
fi

# The harness provider: each event once with its fields (tracing_emit's values), nothing from
# the calls it made before mc_trace_open() succeeded.
expect microcosm_harness:guest_state 'guest = "vm-7", state = "ready", reason = "booted in 1.5 s"' 1
expect microcosm_harness:agent_exec 'guest = "vm-7", exec_id = 42, argv0 = "/bin/true"' 1
expect microcosm_harness:agent_exit 'guest = "vm-7", exec_id = 42, status = -1, signal = 9' 1
expect microcosm_harness:fault_planned \
	'name = "cut", kind = "net-partition", guests = "vm-[0-3]", planned_ms = 1500' 1
expect microcosm_harness:fault_injected \
	'name = "cut", kind = "net-partition", guest = "vm-7", outcome = "ok", delay_ms = -12' 1
expect microcosm_harness:fault_detected \
	'guest = "vm-7", fault = "net-partition", latency_ms = 4294967296' 1
got=$(grep -c ' microcosm_harness:' "$tmp/norm.txt")
[[ $got == 6 ]] || bad "got $got microcosm_harness events, want 6"

# The harness side never links lttng-ust (tracing_emit links mc_harness as microcosm does).
if readelf -d "$emit" | grep NEEDED | grep -q lttng; then
	bad "$emit links lttng-ust: $(readelf -d "$emit" | grep NEEDED | grep lttng)"
fi

if ((nfail > 0)); then
	fail "$nfail checks failed; events in $tmp/events.txt"
fi
echo "$prog: ok, $(wc -l <"$tmp/events.txt") events checked"
passed=1
