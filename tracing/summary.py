#!/usr/bin/python3
"""summary.py — summaries of a microcosm run's LTTng traces, on one host-clock timeline.

usage: summary.py [--json] RUN_OR_TRACE_DIR

Reads every CTF trace under RUN/trace (or under the directory itself: any folder
holding a `metadata` file is a trace), shifts each guest trace onto the host's
clock with RUN/trace/clock-offsets.json, merges all events in time order and prints:

  MPI time     per (host, rank, call): calls, total ms in the call (exit - entry),
               share of the rank's traced span (its first call entry to its last exit)
  sizes        per MPI call: histogram of call_entry bytes in power-of-two bins
  timeline     faults (planned, injected, detected), guests' failed/ready states,
               workload phases and iterations, each rank's first and last MPI call,
               in ms from the first event
  check        whether the merged stream is in time order, events per trace

--json prints the same as one JSON object on stdout.

clock-offsets.json maps a guest's hostname (its trace's CTF env `hostname`) to
{"offset_ns": N, "rtt_ns": R}: how far the guest's clock is ahead of the host's.
An event's host time is its trace time minus offset_ns. A trace that align.py has
already shifted records the shift it applied in its env (CLOCK_SHIFT_ENV); only the
remainder is applied here, so summaries agree before and after alignment.

Needs Debian's python3-bt2 (run with /usr/bin/python3). Standard library otherwise.
"""

import heapq
import json
import os
import resource
import sys

try:
    import bt2
except ImportError:  # align.py imports this module and needs no bt2; main() says it is missing
    bt2 = None

# Env entry align.py writes into a trace's metadata: the offset (ns) it already
# subtracted from the trace's clock, as a decimal string.
CLOCK_SHIFT_ENV = "microcosm_clock_shift_ns"

OFFSETS_FILE = "clock-offsets.json"

# guest_state values that belong on the fault timeline.
TIMELINE_STATES = ("failed", "ready")


# ---- Locating traces (shared with align.py) -----------------------------------------------


def trace_root(path):
    """The folder holding the traces: PATH/trace when there is one, else PATH."""
    sub = os.path.join(path, "trace")
    return sub if os.path.isdir(sub) else path


def find_traces(root):
    """Every folder under root that holds a CTF `metadata` file, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if "metadata" in filenames:
            found.append(dirpath)
    return sorted(found)


def load_offsets(root):
    """hostname -> {"offset_ns": int, "rtt_ns": int or None}; {} when there is no file."""
    path = os.path.join(root, OFFSETS_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError("%s: want an object of hostname -> {offset_ns, rtt_ns}" % path)
    offsets = {}
    for host, entry in raw.items():
        if not isinstance(entry, dict) or "offset_ns" not in entry:
            raise ValueError("%s: %s: want {\"offset_ns\": N, \"rtt_ns\": N}" % (path, host))
        rtt = entry.get("rtt_ns")
        offsets[host] = {
            "offset_ns": int(entry["offset_ns"]),
            "rtt_ns": int(rtt) if rtt is not None else None,
        }
    return offsets


# ---- Reading one trace --------------------------------------------------------------------


def plain(field):
    """A bt2 field as a Python value (str, int, float, bool, list or dict)."""
    if isinstance(field, bt2._StringFieldConst):
        return str(field)
    if isinstance(field, bt2._BoolFieldConst):
        return bool(field)
    if isinstance(field, bt2._IntegerFieldConst):
        return int(field)
    if isinstance(field, bt2._RealFieldConst):
        return float(field)
    if isinstance(field, bt2._StructureFieldConst):
        return {k: plain(v) for k, v in field.items()}
    if isinstance(field, bt2._ArrayFieldConst):
        return [plain(v) for v in field]
    return str(field)


class TraceInfo:
    """What is known about one trace while and after reading it."""

    def __init__(self, index, path, root):
        self.index = index
        self.path = path
        self.rel = os.path.relpath(path, root)
        self.hostname = None  # CTF env hostname, known at its first stream
        self.offset_ns = 0  # from clock-offsets.json (guest - host)
        self.rtt_ns = None
        self.shift_applied_ns = 0  # already in the metadata (align.py)
        self.events = 0
        self.discarded = 0  # events the tracer reported lost
        self.error = None

    def learn(self, trace, offsets):
        """Takes hostname and applied shift from the trace's env; returns the ns to
        subtract from its times to get host time."""
        env = trace.environment
        self.hostname = str(env["hostname"]) if "hostname" in env else self.rel
        if CLOCK_SHIFT_ENV in env:
            self.shift_applied_ns = int(str(env[CLOCK_SHIFT_ENV]))
        known = offsets.get(self.hostname)
        if known:
            self.offset_ns = known["offset_ns"]
            self.rtt_ns = known["rtt_ns"]
        return self.offset_ns - self.shift_applied_ns


def trace_events(info, offsets):
    """Yields (host_ns, trace index, seq, name, payload, context) for each event of one
    trace, in the trace's own time order, host_ns already on the host's clock."""
    spec = bt2.ComponentSpec.from_named_plugin_and_component_class(
        "ctf", "fs", {"inputs": [info.path]}
    )
    shift = None
    seq = 0
    try:
        for msg in bt2.TraceCollectionMessageIterator(spec):
            kind = type(msg)
            if kind is bt2._StreamBeginningMessageConst and shift is None:
                shift = info.learn(msg.stream.trace, offsets)
                continue
            if kind is bt2._DiscardedEventsMessageConst:
                info.discarded += msg.count or 0
                continue
            if kind is not bt2._EventMessageConst:
                continue
            ev = msg.event
            if shift is None:
                shift = info.learn(ev.stream.trace, offsets)
            t = msg.default_clock_snapshot.ns_from_origin - shift
            ctx = plain(ev.common_context_field) if ev.common_context_field else {}
            info.events += 1
            seq += 1
            yield (t, info.index, seq, ev.name, plain(ev.payload_field), ctx)
    except bt2._Error as e:
        info.error = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)


# ---- Analysis -----------------------------------------------------------------------------


def size_bin(nbytes):
    """Power-of-two bin of a message size: (lo, hi) inclusive; (0, 0) for empty messages."""
    if nbytes <= 0:
        return (0, 0)
    k = nbytes.bit_length() - 1
    return (1 << k, (1 << (k + 1)) - 1)


class Summary:
    """Consumes the merged event stream once; holds only aggregates and the timeline."""

    def __init__(self, traces):
        self.traces = traces
        self.first_ns = None
        self.last_ns = None
        self.prev_ns = None
        self.in_order = True
        self.disorder = 0  # events earlier than the one before them
        self.total = 0
        self.open_calls = {}  # (trace, vpid, vtid) or (trace, rank) -> [entry, ...]
        self.mpi = {}  # (host, rank, call) -> [count, total_ns]
        self.ranks = {}  # (host, rank) -> {first_ns, first_call, last_ns, last_call}
        self.sizes = {}  # call -> {(lo, hi): count}
        self.unmatched_exits = 0
        self.timeline = []  # (t_ns, host, event, fields)

    def add(self, item):
        t, tidx, _seq, name, payload, ctx = item
        host = self.traces[tidx].hostname
        if self.first_ns is None:
            self.first_ns = t
        if self.prev_ns is not None and t < self.prev_ns:
            self.in_order = False
            self.disorder += 1
        self.prev_ns = t
        self.last_ns = t if self.last_ns is None else max(self.last_ns, t)
        self.total += 1

        provider, _, ev = name.partition(":")
        if provider == "microcosm_mpi":
            self.mpi_event(t, tidx, host, ev, payload, ctx)
        elif provider == "microcosm_workload" and ev in ("phase", "iteration"):
            fields = dict(payload)
            if "vpid" in ctx:
                fields["vpid"] = ctx["vpid"]
            self.timeline.append((t, host, ev, fields))
        elif provider == "microcosm_harness":
            if ev in ("fault_planned", "fault_injected", "fault_detected"):
                self.timeline.append((t, host, ev, dict(payload)))
            elif ev == "guest_state" and payload.get("state") in TIMELINE_STATES:
                self.timeline.append((t, host, ev, dict(payload)))

    def mpi_event(self, t, tidx, host, ev, p, ctx):
        threaded = "vtid" in ctx
        if ev == "call_entry":
            key = (tidx, ctx.get("vpid"), ctx["vtid"]) if threaded else (tidx, p["rank"])
            self.open_calls.setdefault(key, []).append((p["call"], p["rank"], t))
            lo_hi = size_bin(p["bytes"])
            per_call = self.sizes.setdefault(p["call"], {})
            per_call[lo_hi] = per_call.get(lo_hi, 0) + 1
            return
        if ev != "call_exit":
            return
        # MPI_Init's entry says rank -1: its exit is the first to know the rank.
        if threaded:
            keys = [(tidx, ctx.get("vpid"), ctx["vtid"])]
        else:
            keys = [(tidx, p["rank"]), (tidx, -1)]
        for key in keys:
            stack = self.open_calls.get(key, [])
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == p["call"]:
                    call, entry_rank, t0 = stack.pop(i)
                    rank = p["rank"] if p["rank"] >= 0 else entry_rank
                    self.account(host, rank, call, t0, t)
                    return
        self.unmatched_exits += 1

    def account(self, host, rank, call, t0, t1):
        agg = self.mpi.setdefault((host, rank, call), [0, 0])
        agg[0] += 1
        agg[1] += t1 - t0
        r = self.ranks.get((host, rank))
        if r is None:
            self.ranks[(host, rank)] = {
                "first_ns": t0, "first_call": call, "last_ns": t1, "last_call": call,
            }
            return
        if t0 < r["first_ns"]:
            r["first_ns"], r["first_call"] = t0, call
        if t1 >= r["last_ns"]:
            r["last_ns"], r["last_call"] = t1, call

    def result(self, root):
        """Everything as one JSON-ready dict."""
        t0 = self.first_ns or 0

        def rel_ms(t):
            return round((t - t0) / 1e6, 6)

        ranks = []
        for (host, rank), r in sorted(self.ranks.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            span = r["last_ns"] - r["first_ns"]
            calls = {}
            in_mpi = 0
            for (h, rk, call), (count, total) in sorted(self.mpi.items()):
                if h == host and rk == rank:
                    calls[call] = {
                        "count": count,
                        "total_ms": round(total / 1e6, 6),
                        "share": round(total / span, 6) if span > 0 else None,
                    }
                    in_mpi += total
            ranks.append({
                "host": host,
                "rank": rank,
                "span_ms": round(span / 1e6, 6),
                "mpi_ms": round(in_mpi / 1e6, 6),
                "share": round(in_mpi / span, 6) if span > 0 else None,
                "calls": calls,
            })

        sizes = {
            call: [{"lo": lo, "hi": hi, "count": n} for (lo, hi), n in sorted(bins.items())]
            for call, bins in sorted(self.sizes.items())
            if any(lo > 0 for lo, _hi in bins)
        }

        items = list(self.timeline)
        for (host, rank), r in self.ranks.items():
            items.append((r["first_ns"], host, "mpi_first",
                          {"rank": rank, "call": r["first_call"]}))
            items.append((r["last_ns"], host, "mpi_last",
                          {"rank": rank, "call": r["last_call"]}))
        items.sort(key=lambda it: (it[0], it[1], it[2]))
        timeline = [
            {"t_ms": rel_ms(t), "t_ns": t, "host": host, "event": ev, "fields": fields}
            for t, host, ev, fields in items
        ]

        traces = []
        for tr in self.traces:
            traces.append({
                "path": tr.rel,
                "hostname": tr.hostname,
                "events": tr.events,
                "discarded_events": tr.discarded,
                "offset_ns": tr.offset_ns,
                "rtt_ns": tr.rtt_ns,
                "shift_in_metadata_ns": tr.shift_applied_ns,
                "error": tr.error,
            })
        unfinished = sum(len(s) for s in self.open_calls.values())
        return {
            "trace_dir": root,
            "t0_ns": self.first_ns,
            "span_ms": rel_ms(self.last_ns) if self.last_ns is not None else 0.0,
            "events": self.total,
            "mpi_ranks": ranks,
            "message_sizes": sizes,
            "timeline": timeline,
            "check": {
                "in_order": self.in_order,
                "out_of_order_events": self.disorder,
                "events": self.total,
                "traces": traces,
                "mpi_calls_without_exit": unfinished,
                "mpi_exits_without_entry": self.unmatched_exits,
            },
        }


def summarize(path):
    """Reads, merges and summarizes the traces under path; returns the result dict."""
    root = trace_root(path)
    offsets = load_offsets(root)
    traces = [TraceInfo(i, p, root) for i, p in enumerate(find_traces(root))]
    # Every trace stays open during the merge: one file per stream and CPU each.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # keep the soft limit; a trace that cannot open reports its error
    summary = Summary(traces)
    # Each trace is already in its own time order: a k-way merge on host time keeps
    # memory flat however long the traces are. Ties break on trace, then position.
    for item in heapq.merge(*(trace_events(tr, offsets) for tr in traces)):
        summary.add(item)
    return summary.result(root)


# ---- Text output --------------------------------------------------------------------------


def fmt_share(x):
    return "-" if x is None else "%.1f%%" % (100.0 * x)


def fmt_bytes(n):
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n >= size and n % size == 0:
            return "%d%s" % (n // size, unit)
    return str(n)


def describe(ev, f):
    """One timeline event's details, in words."""
    if ev == "fault_planned":
        return "%s (%s) on %s at +%d ms of the plan" % (
            f["name"], f["kind"], f["guests"], f["planned_ms"])
    if ev == "fault_injected":
        return "%s (%s) into %s: %s, %d ms late" % (
            f["name"], f["kind"], f["guest"], f["outcome"], f["delay_ms"])
    if ev == "fault_detected":
        return "%s in %s, %d ms after injection" % (f["fault"], f["guest"], f["latency_ms"])
    if ev == "guest_state":
        reason = " (%s)" % f["reason"] if f.get("reason") else ""
        return "%s %s%s" % (f["guest"], f["state"], reason)
    if ev == "phase":
        return "%s: %s" % (f["workload"], f["phase"])
    if ev == "iteration":
        return "%s: n=%d value=%g" % (f["workload"], f["n"], f["value"])
    if ev in ("mpi_first", "mpi_last"):
        return "rank %d %s" % (f["rank"], f["call"])
    return json.dumps(f, sort_keys=True)


def print_text(r, out):
    w = out.write
    w("trace %s: %d traces, %d events over %.3f ms\n\n"
      % (r["trace_dir"], len(r["check"]["traces"]), r["events"], r["span_ms"]))

    w("MPI time by rank and call (share of the rank's span: first entry to last exit)\n")
    if not r["mpi_ranks"]:
        w("  (no MPI calls)\n")
    else:
        w("  %-12s %5s  %-22s %7s %12s %7s\n"
          % ("host", "rank", "call", "count", "total ms", "share"))
        for rk in r["mpi_ranks"]:
            for call, c in rk["calls"].items():
                w("  %-12s %5d  %-22s %7d %12.3f %7s\n"
                  % (rk["host"], rk["rank"], call, c["count"], c["total_ms"],
                     fmt_share(c["share"])))
            w("  %-12s %5d  %-22s %7s %12.3f %7s  of %.3f ms\n"
              % (rk["host"], rk["rank"], "(all calls)", "", rk["mpi_ms"], fmt_share(rk["share"]),
                 rk["span_ms"]))
    w("\n")

    w("MPI message sizes (call_entry bytes, all ranks, power-of-two bins)\n")
    if not r["message_sizes"]:
        w("  (no messages)\n")
    for call, bins in r["message_sizes"].items():
        w("  %s\n" % call)
        for b in bins:
            if b["hi"] == 0:
                label = "0"
            else:
                label = "[%s, %s)" % (fmt_bytes(b["lo"]), fmt_bytes(b["hi"] + 1))
            w("    %-16s %9d\n" % (label, b["count"]))
    w("\n")

    w("Fault timeline (ms from the first event, host clock)\n")
    if not r["timeline"]:
        w("  (nothing)\n")
    for e in r["timeline"]:
        w("  %+12.3f  %-12s %-15s %s\n"
          % (e["t_ms"], e["host"], e["event"], describe(e["event"], e["fields"])))
    w("\n")

    c = r["check"]
    parts = []
    for tr in c["traces"]:
        extra = ""
        if tr["offset_ns"]:
            extra = ", clock offset %+.3f ms" % (tr["offset_ns"] / 1e6)
        if tr["discarded_events"]:
            extra += ", %d discarded" % tr["discarded_events"]
        if tr["error"]:
            extra += ", error: %s" % tr["error"]
        parts.append("%s=%d (%s%s)" % (tr["hostname"] or "?", tr["events"], tr["path"], extra))
    w("check: in time order: %s%s; events per trace: %s; unfinished MPI calls: %d\n"
      % ("yes" if c["in_order"] else "NO",
         "" if c["in_order"] else " (%d events out of order)" % c["out_of_order_events"],
         ", ".join(parts) if parts else "(no traces)",
         c["mpi_calls_without_exit"]))


def main(argv):
    args = argv[1:]
    as_json = False
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0
    if args and args[0] == "--json":
        as_json = True
        args = args[1:]
    if len(args) != 1:
        sys.stderr.write("usage: summary.py [--json] RUN_OR_TRACE_DIR\n")
        return 2
    path = args[0]
    if not os.path.isdir(path):
        sys.stderr.write("summary.py: %s: not a directory\n" % path)
        return 1
    if bt2 is None:
        sys.stderr.write("summary.py: no bt2 module: install python3-bt2, run /usr/bin/python3\n")
        return 1
    try:
        result = summarize(path)
    except (OSError, ValueError) as e:
        sys.stderr.write("summary.py: %s\n" % e)
        return 1
    if not result["check"]["traces"]:
        sys.stderr.write("summary.py: %s: no CTF trace (no metadata file) found\n"
                         % trace_root(path))
        return 1
    try:
        if as_json:
            json.dump(result, sys.stdout, indent=1, sort_keys=False)
            sys.stdout.write("\n")
        else:
            print_text(result, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    failed = [t for t in result["check"]["traces"] if t["error"]]
    for t in failed:
        sys.stderr.write("summary.py: trace %s: %s\n" % (t["path"], t["error"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
