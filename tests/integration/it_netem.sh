#!/usr/bin/env bash
# it_netem.sh — emulated latency between guests, measured by the ring workload's ping-pong:
# the one-way latency rises by what was asked, within 10 %; --clear takes it away.
. "$(dirname "$0")/lib.sh"
up 2

pingpong() { # prints the median one-way latency in microseconds
	"$MC" mpirun -t 300s -- mc-ring --pingpong --sizes 8 --iters 200 |
		python3 -c 'import json,sys
rows=[json.loads(l) for l in sys.stdin if l.startswith("{")]
print([r for r in rows if "latency_us_median" in r][0]["latency_us_median"])'
}
base=$(pingpong) || fail "ping-pong without emulation failed"
log "one-way latency without emulation: $base us"
"$MC" net latency=10ms >/dev/null || fail "net latency=10ms failed"
shaped=$(pingpong) || fail "ping-pong with emulation failed"
log "one-way latency with 10 ms asked: $shaped us"
python3 -c "import sys; b,s=$base,$shaped; d=s-b; print('added', d, 'us'); sys.exit(0 if abs(d-10000) <= 1000 else 1)" ||
	fail "added latency $(python3 -c "print($shaped-$base)") us is not within 10 % of 10000 us"
"$MC" net --clear >/dev/null || fail "net --clear failed"
cleared=$(pingpong)
log "after --clear: $cleared us"
python3 -c "import sys; sys.exit(0 if $cleared < 5000 else 1)" || fail "latency still $cleared us after --clear"
log "ok"
