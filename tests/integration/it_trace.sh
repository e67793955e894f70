#!/usr/bin/env bash
# it_trace.sh — a traced MPI run on 8 guests with a crash: the run directory's trace/ holds
# the host's and every guest's LTTng traces, and after clock alignment the merged trace has
# the spawn, MPI, fault and detection events for the right guests in a consistent order.
. "$(dirname "$0")/lib.sh"
data="$(dirname "$0")/data"
results="$MC_STATE_DIR/results"
PY=/usr/bin/python3 # Debian's, with the babeltrace2 bindings
$PY -c 'import bt2' || fail "python3-bt2 missing"

log "run it_trace.yaml (8 guests, traced; g0007 crashes during the ring)"
"$MC" run -c "$MC_CLUSTER" -r "$results" "$data/it_trace.yaml" >"$MC_STATE_DIR/run.out" \
	2>"$MC_STATE_DIR/run.err" || log "run exited non-zero (the crash fails the ring); checking the trace"
rundir=$(tail -n1 "$MC_STATE_DIR/run.out")
[ -d "$rundir/trace" ] || fail "no trace directory: $(tail -5 "$MC_STATE_DIR/run.err")"
grep -q "tracing into" "$MC_STATE_DIR/run.err" || fail "the run did not trace: $(grep -i trac "$MC_STATE_DIR/run.err")"
! grep -q "tracing: the guests are not traced" "$MC_STATE_DIR/run.err" ||
	fail "guests not traced: $(grep -i trac "$MC_STATE_DIR/run.err")"
leftovers || fail "the run left its cluster behind"
! pgrep -f "lttng-relayd.*$rundir" >/dev/null || fail "a relay daemon outlived the run"

$PY - "$rundir" <<'PY' || fail "the merged trace is not what the run did (see above)"
import bt2, json, sys
d = sys.argv[1]
offsets = json.load(open(f"{d}/trace/clock-offsets.json"))
assert sorted(offsets) == [f"g{i:04d}" for i in range(8)], offsets
ev = []  # (ns, hostname, event name, fields)
for msg in bt2.TraceCollectionMessageIterator(f"{d}/trace"):
    if type(msg) is not bt2._EventMessageConst:
        continue
    e = msg.event
    host = str(e.stream.trace.environment["hostname"])
    fields = {str(k): (str(v) if isinstance(v, bt2._StringFieldConst) else int(v))
              for k, v in e.payload_field.items()}
    ev.append((msg.default_clock_snapshot.ns_from_origin, host, e.name, fields))
names = [x[2] for x in ev]
assert [x[0] for x in ev] == sorted(x[0] for x in ev), "not in time order"
hosts = {x[1] for x in ev}
assert {f"g{i:04d}" for i in range(8)} <= hosts, hosts

def first(pred):
    return next((x for x in ev if pred(x)), None)
for i in range(8):
    g = f"g{i:04d}"
    ready = first(lambda x: x[2] == "microcosm_harness:guest_state" and x[3]["guest"] == g and x[3]["state"] == "ready")
    boot = first(lambda x: x[2] == "microcosm_harness:guest_state" and x[3]["guest"] == g and x[3]["state"] == "booting")
    mpi = [x for x in ev if x[1] == g and x[2] == "microcosm_mpi:call_entry"]
    assert boot and ready and boot[0] <= ready[0], (g, boot, ready)
    assert mpi and {x[3]["rank"] for x in mpi if x[3]["rank"] >= 0} == {i}, (g, mpi[:3])
    assert ready[0] < mpi[0][0], (g, "MPI before the guest was ready")
inj = first(lambda x: x[2] == "microcosm_harness:fault_injected" and x[3]["guest"] == "g0007")
failed = first(lambda x: x[2] == "microcosm_harness:guest_state" and x[3]["guest"] == "g0007" and x[3]["state"] == "failed")
det = first(lambda x: x[2] == "microcosm_harness:fault_detected" and x[3]["guest"] == "g0007")
assert inj and inj[3]["kind"] == "crash" and inj[3]["outcome"] == "injected", inj
assert failed and det, (failed, det)
last7 = max(x[0] for x in ev if x[1] == "g0007")
first7 = min(x[0] for x in ev if x[1] == "g0007" and x[2].startswith("microcosm_mpi"))
# g0007 ran MPI before the fault, and nothing it recorded comes after its failure was seen
# (a tolerance of 100 ms for the clock alignment and the injection record's reaping)
# injected -> failed -> detected, on the host's clock; g0007 ran MPI before the crash, and
# nothing it recorded comes after it (100 ms allowed for the clock alignment)
assert inj[0] <= failed[0] < det[0], (inj, failed, det)
assert first7 < inj[0], (first7, inj[0])
assert last7 <= inj[0] + 100_000_000, ("g0007 recorded events after its crash", last7, inj[0])
print(f"{len(ev)} events from {len(hosts)} traces in time order; g0007: MPI from "
      f"{(first7 - ev[0][0]) / 1e9:.3f} s, crash injected {(inj[0] - ev[0][0]) / 1e9:.3f} s, "
      f"failed {(failed[0] - ev[0][0]) / 1e9:.3f} s, last event {(last7 - ev[0][0]) / 1e9:.3f} s")
PY

log "trace summary"
"$MC" trace summary "$rundir" >"$MC_STATE_DIR/summary.txt" || fail "trace summary failed"
grep -q "MPI_" "$MC_STATE_DIR/summary.txt" || fail "summary lacks MPI calls: $(head -20 "$MC_STATE_DIR/summary.txt")"
log "ok"
