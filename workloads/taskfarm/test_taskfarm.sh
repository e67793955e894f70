#!/usr/bin/env bash
# test_taskfarm.sh MODE — mc-taskfarm on the host over loopback (127.0.0.1, a port the
# coordinator picks). MODE: clean | kill | stall | restart | hostile | cli. Every process it
# starts is ended on exit, even on failure; logs are shown when it fails.
set -euo pipefail

: "${TF:?TF must name the mc-taskfarm binary}"
MODE=${1:?usage: test_taskfarm.sh clean|kill|stall|restart|hostile|cli}
DIR=$(mktemp -d /tmp/mc-tf-test.XXXXXX)
T0=$EPOCHREALTIME
PIDS=()

log() { printf '[%6.2fs] %s\n' "$(awk "BEGIN{print $EPOCHREALTIME - $T0}")" "$*" >&2; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ $rc -ne 0 ]; then
		for f in "$DIR"/*; do
			[ -s "$f" ] || continue
			echo "--- $(basename "$f") (last 25 lines) ---" >&2
			tail -25 "$f" >&2
		done
	fi
	rm -rf "$DIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check NAME VALUE OP WANT: a numeric assertion that prints both operands.
check() {
	local name=$1 got=$2 op=$3 want=$4
	[ -n "$got" ] || fail "$name: missing from the output"
	test "$got" "$op" "$want" || fail "$name: got $got, want $op $want"
}

# field NAME: a numeric field of the coordinator's JSON line.
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$DIR/coord.out"; }

# wait_for_line FILE REGEX [SECONDS]: until FILE has a line matching REGEX.
wait_for_line() {
	local deadline=$((SECONDS + ${3:-15}))
	until grep -q -- "$2" "$1" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || fail "no '$2' in $(basename "$1") after ${3:-15} s"
		sleep 0.05
	done
}

# wait_pid PID SECONDS: waits for a child we started; sets RC to its exit status.
wait_pid() {
	local deadline=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || fail "pid $1 still running after $2 s"
		sleep 0.05
	done
	RC=0
	wait "$1" || RC=$?
}

# start_coordinator ARGS...: sets CPID and EP (the port it bound; BIND overrides the
# default of a free port on 127.0.0.1).
start_coordinator() {
	: >"$DIR/coord.out" # no stale lines from an earlier coordinator
	: >"$DIR/coord.err"
	"$TF" coordinator --bind "${BIND:-tcp://127.0.0.1:*}" "$@" >"$DIR/coord.out" \
	        2>"$DIR/coord.err" &
	CPID=$!
	PIDS+=("$CPID")
	wait_for_line "$DIR/coord.err" 'listening on tcp://'
	EP=$(grep -o 'listening on tcp://127.0.0.1:[0-9]*' "$DIR/coord.err" | head -1)
	EP=${EP#listening on }
	log "coordinator pid $CPID on $EP: $*"
}

# start_worker NAME ARGS...: sets WPID[NAME].
declare -A WPID
start_worker() {
	local name=$1
	shift
	"$TF" worker --connect "$EP" --id "$name" --give-up-s 20 "$@" \
	        >"$DIR/$name.out" 2>"$DIR/$name.err" &
	WPID[$name]=$!
	PIDS+=("$!")
}

# finish_coordinator SECONDS: waits for it, checks exit 0 and one JSON line.
finish_coordinator() {
	wait_pid "$CPID" "$1"
	log "coordinator exited $RC: $(cat "$DIR/coord.out")"
	[ "$RC" -eq 0 ] || fail "coordinator exit status $RC, want 0"
	[ "$(wc -l <"$DIR/coord.out")" -eq 1 ] || fail "want exactly one line on stdout"
	grep -q '^{"workload":"taskfarm","tasks":[0-9]*,"done":' "$DIR/coord.out" ||
	        fail "stdout is not the taskfarm JSON line"
}

# workers_stopped NAME...: each exited 0 after the coordinator's STOP.
workers_stopped() {
	for n in "$@"; do
		wait_pid "${WPID[$n]}" 10
		[ "$RC" -eq 0 ] || fail "worker $n exit status $RC, want 0"
		grep -q 'stopped by the coordinator' "$DIR/$n.err" || fail "worker $n: no stop message"
	done
}

mode_clean() {
	local n=300
	start_coordinator --tasks $n --task-ms 5
	start_worker w1
	start_worker w2 --slots 3
	finish_coordinator 60
	check "done" "$(field "done")" -eq $n
	check lost "$(field lost)" -eq 0
	check redone "$(field redone)" -eq 0
	check duplicates "$(field duplicates)" -eq 0
	check workers_seen "$(field workers_seen)" -eq 2
	check workers_lost "$(field workers_lost)" -eq 0
	check bad_results "$(field bad_results)" -eq 0
	check malformed "$(field malformed)" -eq 0
	workers_stopped w1 w2
}

mode_kill() {
	local n=400
	start_coordinator --tasks $n --task-ms 5 --lease-ms 500
	start_worker w1
	start_worker w2
	# --slots 2: the victim always holds a queued task, even in the instant between a
	# result and its next task, so the kill always strands work.
	start_worker victim --slots 2 -v
	# Mid-run: the victim has received several tasks.
	wait_for_line "$DIR/victim.err" 'task [0-9]*: received (seq 5,'
	kill -0 "$CPID" 2>/dev/null || fail "the run ended before the kill; raise --tasks"
	grep -q '"done"' "$DIR/coord.out" && fail "the run ended before the kill; raise --tasks"
	kill -9 "${WPID[victim]}"
	log "SIGKILLed worker victim (pid ${WPID[victim]})"
	finish_coordinator 60
	check "done" "$(field "done")" -eq $n
	check lost "$(field lost)" -eq 0
	check redone "$(field redone)" -ge 1
	check workers_lost "$(field workers_lost)" -ge 1
	check workers_seen "$(field workers_seen)" -eq 3
	check bad_results "$(field bad_results)" -eq 0
	grep -q 'worker victim: lost: silent for' "$DIR/coord.err" || fail "no loss message"
	workers_stopped w1 w2
}

# A slow worker that comes back: SIGSTOP past the lease, then SIGCONT. Its tasks are
# re-issued; its late result for one of them is a duplicate, not a second "done".
mode_stall() {
	local n=300
	start_coordinator --tasks $n --task-ms 10 --lease-ms 400
	start_worker w1
	start_worker w2
	start_worker victim --slots 2 -v # always holds a task (see mode_kill)
	wait_for_line "$DIR/victim.err" 'task [0-9]*: received (seq 5,'
	kill -STOP "${WPID[victim]}"
	log "SIGSTOPped worker victim"
	wait_for_line "$DIR/coord.err" 'worker victim: lost'
	sleep 0.3 # long enough for the others to finish the re-issued task
	kill -0 "$CPID" 2>/dev/null || fail "the run ended during the stall; raise --tasks"
	kill -CONT "${WPID[victim]}"
	log "SIGCONTed worker victim"
	finish_coordinator 60
	check "done" "$(field "done")" -eq $n
	check lost "$(field lost)" -eq 0
	check redone "$(field redone)" -ge 1
	check duplicates "$(field duplicates)" -ge 1
	check workers_lost "$(field workers_lost)" -eq 1
	check workers_seen "$(field workers_seen)" -eq 3
	check bad_results "$(field bad_results)" -eq 0
	grep -q 'worker victim: back after' "$DIR/coord.err" || fail "no comeback message"
	workers_stopped w1 w2 victim
}

# The coordinator dies mid-run (SIGKILL) and a new one takes its port: the workers
# learn that the new run does not know them, drop the old tasks and join again.
mode_restart() {
	start_coordinator --tasks 100000 --task-ms 5
	start_worker w1 -v
	start_worker w2 --slots 2
	wait_for_line "$DIR/w1.err" 'task [0-9]*: received (seq 5,'
	kill -9 "$CPID"
	log "SIGKILLed the coordinator"
	sleep 0.3
	BIND=$EP start_coordinator --tasks 50 --task-ms 2
	finish_coordinator 60
	check "done" "$(field "done")" -eq 50
	check lost "$(field lost)" -eq 0
	check workers_seen "$(field workers_seen)" -eq 2
	check bad_results "$(field bad_results)" -eq 0
	workers_stopped w1 w2
	grep -q 'joining again' "$DIR/w1.err" || fail "w1: no rejoin message"
}

mode_hostile() {
	local n=100
	: "${TF_PEER:?TF_PEER must name the test_tf_peer binary}"
	# A coordinator against junk, lies and a worker that returns a wrong value.
	start_coordinator --tasks $n --task-ms 2 --lease-ms 500
	"$TF_PEER" attack "$EP" >"$DIR/attack.out" 2>"$DIR/attack.err" ||
	        fail "the attack peer failed"
	log "$(cat "$DIR/attack.out")"
	kill -0 "$CPID" 2>/dev/null || fail "coordinator died under attack"
	start_worker w1 --slots 2
	finish_coordinator 60
	check "done" "$(field "done")" -eq $n
	check lost "$(field lost)" -eq 0
	check malformed "$(field malformed)" -ge 12
	check bad_results "$(field bad_results)" -ge 1
	check redone "$(field redone)" -ge 1
	grep -q 'malformed message' "$DIR/coord.err" || fail "no malformed-message warning"
	workers_stopped w1

	# A worker against a fake coordinator that sends junk, then one real task.
	"$TF_PEER" fake-coordinator 'tcp://127.0.0.1:*' >"$DIR/fake.out" 2>"$DIR/fake.err" &
	local fpid=$!
	PIDS+=("$fpid")
	wait_for_line "$DIR/fake.out" '^endpoint tcp://'
	EP=$(sed -n 's/^endpoint //p' "$DIR/fake.out")
	start_worker w2
	wait_pid "$fpid" 30
	[ "$RC" -eq 0 ] || fail "fake coordinator: exit status $RC"
	log "$(tail -1 "$DIR/fake.out")"
	workers_stopped w2
	check worker_warnings "$(grep -c 'malformed message' "$DIR/w2.err")" -ge 10
}

# expect_exit WANT REGEX CMD...: runs CMD, checks its exit status and that stdout or
# stderr matches REGEX.
expect_exit() {
	local want=$1 re=$2 rc=0
	shift 2
	"$@" >"$DIR/cli.out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*': exit status $rc, want $want"
	grep -q -- "$re" "$DIR/cli.out" || fail "'$*': no '$re' in: $(cat "$DIR/cli.out")"
}

mode_cli() {
	expect_exit 0 'coordinator' "$TF" --help
	expect_exit 0 'usage: mc-taskfarm coordinator' "$TF" coordinator --help
	expect_exit 0 'usage: mc-taskfarm worker' "$TF" worker --help
	expect_exit 0 'protocol 1' "$TF" --version
	expect_exit 2 'usage' "$TF"
	expect_exit 2 "unknown role 'bogus'" "$TF" bogus
	expect_exit 2 "--tasks '0'" "$TF" coordinator --tasks 0
	expect_exit 2 "--tasks '12x'" "$TF" coordinator --tasks 12x
	expect_exit 2 "--task-ms '-1'" "$TF" coordinator --task-ms -1
	expect_exit 2 "--lease-ms '1'" "$TF" coordinator --lease-ms 1
	expect_exit 2 "--timeout 'soon'" "$TF" coordinator --timeout soon
	expect_exit 2 "--bind 'nowhere'" "$TF" coordinator --bind nowhere
	expect_exit 2 "option '--tasks' needs a value" "$TF" coordinator --tasks
	expect_exit 2 "unknown option '--bogus'" "$TF" coordinator --bogus
	expect_exit 2 "unknown option '-x'" "$TF" coordinator -x
	expect_exit 2 "unknown option '-x'" "$TF" worker --connect tcp://127.0.0.1:1 -qx
	expect_exit 2 "unexpected argument 'extra'" "$TF" coordinator extra
	expect_exit 2 "--connect is required" "$TF" worker
	expect_exit 2 "--connect 'localhost'" "$TF" worker --connect localhost
	expect_exit 2 "--slots '65'" "$TF" worker --connect tcp://127.0.0.1:1 --slots 65
	expect_exit 2 "--id 'a b'" "$TF" worker --connect tcp://127.0.0.1:1 --id 'a b'
	expect_exit 2 "--give-up-s '0'" "$TF" worker --connect tcp://127.0.0.1:1 --give-up-s 0
	log "options: ok"

	# Nobody listens on this ipc path: the worker gives up with a clear message.
	expect_exit 3 'unreachable' "$TF" worker --connect "ipc://$DIR/nobody" --give-up-s 1
	# A bind that cannot work.
	expect_exit 1 'bind bogus://x' "$TF" coordinator --bind bogus://x
	log "unreachable and bind errors: ok"

	# Giving up: --timeout, --give-up-s, a signal. Each reports lost = tasks, exit 1.
	for how in "--timeout 1" "--give-up-s 1" "SIGTERM"; do
		if [ "$how" = SIGTERM ]; then
			start_coordinator --tasks 7
			kill -TERM "$CPID"
		else
			# shellcheck disable=SC2086
			start_coordinator --tasks 7 $how
		fi
		wait_pid "$CPID" 15
		[ "$RC" -eq 1 ] || fail "$how: exit status $RC, want 1"
		check "$how done" "$(field "done")" -eq 0
		check "$how lost" "$(field lost)" -eq 7
		grep -q 'giving up' "$DIR/coord.err" || fail "$how: no 'giving up' message"
	done
	log "giving up: ok"
}

case "$MODE" in
clean | kill | stall | restart | hostile | cli) "mode_$MODE" ;;
*) fail "unknown mode '$MODE'" ;;
esac
log "PASS: taskfarm $MODE"
