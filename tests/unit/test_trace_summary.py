#!/usr/bin/python3
"""test_trace_summary.py — tracing/summary.py, align.py and `microcosm trace` on real LTTng traces.

usage: test_trace_summary.py TRACE_GEN SCRIPTS_DIR MICROCOSM

Records a fake run the way a traced run lays it out: two guest traces streamed through
lttng-relayd (RUN/trace/g0001/..., RUN/trace/g0002/...) and one local host trace
(RUN/trace/host/...), all emitted by data/trace_gen.c with the real providers. Sessions
run one after the other: g0001's ranks 0 and 1, then the host's fault events, then
g0002's ranks 2 and 3. g0001's session has vpid/vtid contexts, g0002's has none (as the
harness records them), so both ways summary.py pairs MPI entries and exits are used.

clock-offsets.json then says g0001's clock is 60 s behind the host's and g0002's 60 s
ahead: on the host's clock g0002 comes first and g0001 last. The test checks the
summary's numbers against the recording (babeltrace2's own text output, read here
independently) and against what trace_gen did, then that align.py makes babeltrace2
print the events in that same corrected order, and that `microcosm trace` runs it all.

Isolation (as root): LTTng-tools 2.13 gives a root session daemon no choice of run
directory (always /var/run/lttng, no LTTNG_RUNDIR; LTTNG_HOME moves only its config and
default output) and root applications wait on the shared-memory futex /lttng-ust-wait-8.
So the test runs itself again under unshare in new mount, UTS, network and PID
namespaces, with empty tmpfs on /run and /dev/shm: its daemons, lttng commands and traced
programs see only each other; hostnames are set in its own UTS namespace (the session
daemon records its hostname at `lttng create`); the relay daemon listens on the default
ports of its own loopback. Daemons are stopped by PID on every exit; if the test is
killed, unshare's --kill-child ends its PID namespace and with it all that is left.

Cannot run (not root, no lttng-tools, babeltrace2 or bt2): says why and fails, or
exits 77 (skipped) when MC_TEST_MAY_SKIP=1. A failed run's directory is kept (and a
passed one's too with MC_TEST_KEEP_RUN=1) for a look with summary.py or babeltrace2.
"""

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

PY = "/usr/bin/python3"
INSIDE = "MC_TEST_TRACE_SUMMARY_INSIDE"
OFFSETS = {
    "g0001": {"offset_ns": -60_000_000_000, "rtt_ns": 800_000},
    "g0002": {"offset_ns": 60_000_000_000, "rtt_ns": 1_200_000},
}
HOSTNAME = "mchost"  # the host trace's env hostname

# What trace_gen.c does per rank (keep in step with its header comment):
# call -> (calls, ms slept in each call)
CALLS = {
    "MPI_Init": (1, 1),
    "MPI_Send": (7, 2),
    "MPI_Recv": (7, 1),
    "MPI_Allreduce": (3, 5),
    "MPI_Barrier": (1, 3),
    "MPI_Finalize": (1, 0),
}
SIZES = [1, 8, 100, 1024, 1500, 4096, 65536]
EVENTS_PER_RANK = 2 * sum(n for n, _ in CALLS.values()) + 2 + len(SIZES)  # + phases, iterations
HOST_EVENTS = 9
RANKS = {"g0001": [0, 1], "g0002": [2, 3]}

failures = 0


def check(cond, what, got=None, want=None):
    """Records a failed assertion with both operands; the test goes on to report more."""
    global failures
    if cond:
        return
    failures += 1
    if got is None and want is None:
        print("FAIL: %s" % what, flush=True)
    else:
        print("FAIL: %s\n   got:  %r\n   want: %r" % (what, got, want), flush=True)


def die(msg):
    print("test_trace_summary: %s" % msg, file=sys.stderr, flush=True)
    sys.exit(1)


def cannot_run(why):
    if os.environ.get("MC_TEST_MAY_SKIP") == "1":
        print("test_trace_summary: skipped: %s" % why, flush=True)
        sys.exit(77)
    die("cannot run: %s (MC_TEST_MAY_SKIP=1 lets it skip)" % why)


def run(cmd, **kw):
    """Runs cmd; its output, or dies with it."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        die("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.stdout


# ---- Namespaces and daemons ---------------------------------------------------------------


def loopback_up():
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH14x", b"lo", 0))
        flags = struct.unpack("16sH14x", ifr)[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def private_mounts():
    for path in ("/run", "/dev/shm"):
        run(["mount", "-t", "tmpfs", "-o", "mode=755" if path == "/run" else "mode=1777",
             "mc-test", path])
    os.makedirs("/run/lttng", exist_ok=True)


class Daemon:
    """One daemon this test started; stop() ends it by PID."""

    def __init__(self, name, cmd, log, env):
        self.name = name
        self.log = log
        with open(log, "w") as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self):
        with open(self.log) as f:
            return "".join(f.readlines()[-15:])


def wait_until(what, daemon, ready, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not daemon.alive():
            die("%s exited early:\n%s" % (daemon.name, daemon.tail()))
        if ready():
            return
        time.sleep(0.1)
    die("%s not ready after %.0f s:\n%s" % (what, timeout, daemon.tail()))


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def lttng(*args, env):
    return run(["lttng", "--no-sessiond"] + list(args), env=env)


def record(name, hostname, output, contexts, argv, env):
    """One session: hostname as the daemon sees it, events microcosm_*, argv traced."""
    socket.sethostname(hostname)
    if output.startswith("net://"):
        lttng("create", name, "--set-url=" + output, env=env)
    else:
        lttng("create", name, "--output=" + output, env=env)
    lttng("enable-event", "-u", "microcosm_*", env=env)
    if contexts:
        lttng("add-context", "-u", "-t", "vpid", "-t", "vtid", env=env)
    lttng("start", env=env)
    run(argv, env=env)
    lttng("stop", env=env)
    lttng("destroy", env=env)
    time.sleep(0.05)  # a visible gap between the traces


def record_run(trace_gen, rundir, tmp):
    """Records the three traces under rundir/trace with private daemons."""
    env = dict(os.environ)
    env["LTTNG_HOME"] = os.path.join(tmp, "home")
    env["LTTNG_UST_REGISTER_TIMEOUT"] = "10000"
    os.makedirs(env["LTTNG_HOME"])
    trace = os.path.join(rundir, "trace")
    os.makedirs(trace)
    daemons = []
    try:
        sessiond = Daemon("lttng-sessiond", ["lttng-sessiond", "--no-kernel"],
                          os.path.join(tmp, "sessiond.log"), env)
        daemons.append(sessiond)
        wait_until("lttng-sessiond", sessiond, lambda: subprocess.run(
            ["lttng", "--no-sessiond", "list"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0)
        relayd = Daemon("lttng-relayd", ["lttng-relayd", "-o", trace],
                        os.path.join(tmp, "relayd.log"), env)
        daemons.append(relayd)
        wait_until("lttng-relayd", relayd, lambda: port_open(5342) and port_open(5343))

        record("mc", "g0001", "net://127.0.0.1", True,
               [trace_gen, "mpi"] + [str(r) for r in RANKS["g0001"]], env)
        record("mc-host", HOSTNAME, os.path.join(trace, "host"), False,
               [trace_gen, "host", "g0001", "g0002"], env)
        record("mc", "g0002", "net://127.0.0.1", False,
               [trace_gen, "mpi"] + [str(r) for r in RANKS["g0002"]], env)
    finally:
        for d in reversed(daemons):
            d.stop()


# ---- Reading babeltrace2's own output -----------------------------------------------------

BT_LINE = re.compile(r"^\[(\d+)\.(\d{9})\] \(\S+\) (\S+) (\S+): (.*)$")


def babeltrace(path):
    """[(t_ns, hostname, event name, payload text)] as babeltrace2 prints them."""
    out = run(["babeltrace2", "--clock-seconds", path])
    events = []
    for line in out.splitlines():
        m = BT_LINE.match(line)
        if not m:
            die("babeltrace2 line not understood: %r" % line)
        events.append((int(m.group(1)) * 10**9 + int(m.group(2)), m.group(3), m.group(4),
                       m.group(5)))
    return events


def payload_value(text, name):
    m = re.search(r"\b%s = (\"[^\"]*\"|-?\d+)" % name, text)
    return json.loads(m.group(1)) if m else None


def mpi_from_babeltrace(events):
    """(host, rank, call) -> [count, total_ns], from babeltrace2's lines: calls in one
    trace never overlap in trace_gen, so each exit closes the entry before it."""
    totals = {}
    open_entry = {}
    for t, host, name, text in events:
        if name == "microcosm_mpi:call_entry":
            open_entry[host] = (payload_value(text, "call"), t)
        elif name == "microcosm_mpi:call_exit":
            call, t0 = open_entry.pop(host)
            key = (host, payload_value(text, "rank"), call)
            agg = totals.setdefault(key, [0, 0])
            agg[0] += 1
            agg[1] += t - t0
    return totals


# ---- Checks -------------------------------------------------------------------------------


def summary(scripts, rundir):
    return json.loads(run([PY, os.path.join(scripts, "summary.py"), "--json", rundir]))


def check_summary(s, raw, label):
    """s: summary with offsets; raw: babeltrace2 events of the unaligned traces."""
    c = s["check"]
    check(c["in_order"] is True, "%s: merged stream in time order" % label, c["in_order"], True)
    per_host = {t["hostname"]: t["events"] for t in c["traces"]}
    want = {"g0001": 2 * EVENTS_PER_RANK, "g0002": 2 * EVENTS_PER_RANK, HOSTNAME: HOST_EVENTS}
    check(per_host == want, "%s: events per trace" % label, per_host, want)
    bt_counts = {}
    for _t, host, _n, _p in raw:
        bt_counts[host] = bt_counts.get(host, 0) + 1
    check(per_host == bt_counts, "%s: events per trace = babeltrace2's" % label, per_host,
          bt_counts)
    check(s["events"] == sum(want.values()), "%s: total events" % label, s["events"],
          sum(want.values()))
    check(c["mpi_calls_without_exit"] == 0 and c["mpi_exits_without_entry"] == 0,
          "%s: every MPI entry has its exit" % label,
          (c["mpi_calls_without_exit"], c["mpi_exits_without_entry"]), (0, 0))
    for t in c["traces"]:
        check(t["error"] is None and t["discarded_events"] == 0,
              "%s: trace %s read whole" % (label, t["path"]),
              (t["error"], t["discarded_events"]), (None, 0))
        want_off = OFFSETS.get(t["hostname"], {}).get("offset_ns", 0)
        check(t["offset_ns"] == want_off, "%s: %s offset" % (label, t["hostname"]),
              t["offset_ns"], want_off)

    # (a) MPI time per rank and call: counts exact, totals equal to babeltrace2's
    # timestamps (1 us), and at least what trace_gen slept, at most twice that + 10 ms
    # (sleeps overshoot on a loaded machine).
    bt = mpi_from_babeltrace(raw)
    ranks = {(r["host"], r["rank"]): r for r in s["mpi_ranks"]}
    want_ranks = sorted((h, r) for h, rs in RANKS.items() for r in rs)
    check(sorted(ranks) == want_ranks, "%s: ranks" % label, sorted(ranks), want_ranks)
    for (host, rank), r in sorted(ranks.items()):
        check(sorted(r["calls"]) == sorted(CALLS), "%s: %s rank %d calls" % (label, host, rank),
              sorted(r["calls"]), sorted(CALLS))
        mpi_ns = 0
        for call, (count, ms) in CALLS.items():
            got = r["calls"].get(call)
            if got is None:
                continue
            where = "%s: %s rank %d %s" % (label, host, rank, call)
            check(got["count"] == count, where + " count", got["count"], count)
            ref = bt.get((host, rank, call), [0, 0])
            check(abs(got["total_ms"] * 1e6 - ref[1]) <= 1000,
                  where + " total = babeltrace2's (ns)", got["total_ms"] * 1e6, ref[1])
            lo, hi = count * ms, count * ms * 2.0 + 10.0
            check(lo <= got["total_ms"] <= hi, where + " total within [%g, %g] ms" % (lo, hi),
                  got["total_ms"], (lo, hi))
            mpi_ns += ref[1]
        check(abs(r["mpi_ms"] * 1e6 - mpi_ns) <= 1000,
              "%s: %s rank %d MPI total" % (label, host, rank), r["mpi_ms"] * 1e6, mpi_ns)
        check(r["share"] is not None and 0.5 < r["share"] <= 1.0,
              "%s: %s rank %d share of span" % (label, host, rank), r["share"], "(0.5, 1]")

    # (b) message sizes: exact, four ranks each sending and posting each size once.
    nranks = sum(len(v) for v in RANKS.values())
    bins = {}
    for size in SIZES:
        k = size.bit_length() - 1
        bins[(1 << k, (1 << (k + 1)) - 1)] = bins.get((1 << k, (1 << (k + 1)) - 1), 0) + nranks
    p2p = [{"lo": lo, "hi": hi, "count": n} for (lo, hi), n in sorted(bins.items())]
    want_sizes = {
        "MPI_Allreduce": [{"lo": 8, "hi": 15, "count": 3 * nranks}],
        "MPI_Recv": p2p,
        "MPI_Send": p2p,
    }
    check(s["message_sizes"] == want_sizes, "%s: message-size histogram" % label,
          s["message_sizes"], want_sizes)
    check(p2p[3] == {"lo": 1024, "hi": 2047, "count": 2 * nranks},
          "%s: 1024 and 1500 share a bin" % label, p2p[3], {"lo": 1024, "hi": 2047, "count": 8})


def timeline_blocks(tl):
    """The order in which hosts appear in the timeline, runs collapsed."""
    blocks = []
    for e in tl:
        if not blocks or blocks[-1] != e["host"]:
            blocks.append(e["host"])
    return blocks


def check_timeline(s, plain, label):
    """s: summary with offsets; plain: summary of the same traces without offsets."""
    tl, tl0 = s["timeline"], plain["timeline"]
    want = ["g0002", HOSTNAME, "g0001"]
    check(timeline_blocks(tl) == want, "%s: timeline order with offsets" % label,
          timeline_blocks(tl), want)
    check(timeline_blocks(tl0) == ["g0001", HOSTNAME, "g0002"],
          "%s: timeline order without offsets" % label, timeline_blocks(tl0),
          ["g0001", HOSTNAME, "g0002"])
    check(tl and tl[0]["t_ms"] == 0 and tl[0]["event"] == "mpi_first"
          and tl[0]["fields"] == {"rank": 2, "call": "MPI_Init"},
          "%s: first timeline entry" % label, tl[0] if tl else None,
          "g0002 mpi_first rank 2 MPI_Init at 0")
    check(s["t0_ns"] == tl[0]["t_ns"], "%s: t0_ns is the first event" % label, s["t0_ns"],
          tl[0]["t_ns"])
    faults = [(e["event"], e["fields"].get("state")) for e in tl if e["host"] == HOSTNAME]
    want_faults = [("guest_state", "ready"), ("guest_state", "ready"), ("fault_planned", None),
                   ("fault_injected", None), ("guest_state", "failed"), ("fault_detected", None)]
    check(faults == want_faults, "%s: fault events and their order" % label, faults, want_faults)
    per_host = {}
    for e in tl:
        per_host.setdefault(e["host"], []).append(e["event"])
    want_guest = (["mpi_first", "phase"] + ["iteration"] * len(SIZES) + ["phase", "mpi_last"]) * 2
    for g in RANKS:
        check(per_host.get(g) == want_guest, "%s: %s workload progress" % (label, g),
              per_host.get(g), want_guest)
    # The offsets, exactly: the same event moves by -offset_ns, host events do not move.
    check(len(tl) == len(tl0), "%s: timeline length" % label, len(tl), len(tl0))
    key = lambda e: (e["host"], e["event"], json.dumps(e["fields"], sort_keys=True))
    moved = {}
    for e in tl0:
        moved.setdefault(key(e), []).append(e["t_ns"])
    for e in tl:
        earlier = moved.get(key(e))
        before = earlier.pop(0) if earlier else None
        shift = OFFSETS.get(e["host"], {}).get("offset_ns", 0)
        check(before is not None and e["t_ns"] == before - shift,
              "%s: %s %s moved by -offset" % (label, e["host"], e["event"]),
              e["t_ns"], None if before is None else before - shift)
    rel = [e["t_ms"] for e in tl]
    check(rel == sorted(rel), "%s: timeline sorted" % label)


def check_text(scripts, rundir):
    out = run([PY, os.path.join(scripts, "summary.py"), rundir])
    for want in ("MPI time by rank and call", "MPI message sizes", "Fault timeline",
                 "check: in time order: yes;", "g0002=%d" % (2 * EVENTS_PER_RANK),
                 "fault_injected  f1 (crash) into g0001: ok, 3 ms late", "[1Ki, 2Ki)"):
        check(want in out, "text summary has %r" % want, out[-600:], want)


def check_align(scripts, rundir, raw, s):
    """align.py twice, then babeltrace2 reads the corrected order by itself."""
    metas = {}
    for dirpath, _dirs, files in os.walk(os.path.join(rundir, "trace")):
        if "metadata" in files:
            with open(os.path.join(dirpath, "metadata"), "rb") as f:
                metas[dirpath] = f.read()
    run([PY, os.path.join(scripts, "align.py"), rundir])
    first = {}
    for d, orig in metas.items():
        with open(os.path.join(d, "metadata"), "rb") as f:
            first[d] = f.read()
        host_trace = os.path.relpath(d, os.path.join(rundir, "trace")).startswith("host")
        kept = os.path.join(d, ".metadata.orig")
        if host_trace:
            check(first[d] == orig and not os.path.exists(kept), "align: host trace untouched")
        else:
            check(first[d] != orig, "align: %s metadata rewritten" % d)
            with open(kept, "rb") as f:
                check(f.read() == orig, "align: %s original kept as .metadata.orig" % d)
            check(len(first[d]) % 4096 == 0, "align: %s still 4096-byte packets" % d,
                  len(first[d]) % 4096, 0)
    out2 = run([PY, os.path.join(scripts, "align.py"), rundir])
    for d in metas:
        with open(os.path.join(d, "metadata"), "rb") as f:
            check(f.read() == first[d], "align: second run changes nothing in %s" % d)
    check("already aligned" in out2, "align: second run says so", out2, "already aligned")

    aligned = babeltrace(os.path.join(rundir, "trace"))
    # raw is babeltrace2's order before alignment: each trace's events keep their order.
    want = sorted(((t - OFFSETS.get(h, {}).get("offset_ns", 0), h, n, p) for t, h, n, p in raw),
                  key=lambda e: e[0])
    got = [(t, h, n, p) for t, h, n, p in aligned]
    check(len(got) == len(want), "align: babeltrace2 event count", len(got), len(want))
    check([e[:3] for e in got] == [e[:3] for e in want],
          "align: babeltrace2's order and times are the offset-corrected ones",
          [e[:3] for e in got[:3]], [e[:3] for e in want[:3]])
    blocks = []
    for _t, h, _n, _p in got:
        if not blocks or blocks[-1] != h:
            blocks.append(h)
    check(blocks == ["g0002", HOSTNAME, "g0001"], "align: babeltrace2 trace order", blocks,
          ["g0002", HOSTNAME, "g0001"])
    check(got and got[0][0] == s["t0_ns"], "align: babeltrace2's first time = summary's t0_ns",
          got[0][0] if got else None, s["t0_ns"])
    inj = [t for t, h, n, _p in got if n == "microcosm_harness:fault_injected"]
    inj_s = [e["t_ns"] for e in s["timeline"] if e["event"] == "fault_injected"]
    check(inj == inj_s, "align: fault_injected time = summary's", inj, inj_s)

    # The summary reads aligned traces without applying the offsets twice.
    s2 = summary(scripts, rundir)
    for t in s2["check"]["traces"]:
        want_shift = OFFSETS.get(t["hostname"], {}).get("offset_ns", 0)
        check(t["shift_in_metadata_ns"] == want_shift, "align: %s shift recorded" % t["hostname"],
              t["shift_in_metadata_ns"], want_shift)
    check(unshifted(s2) == s, "align: summary after align = summary before",
          json.dumps(unshifted(s2))[:400], json.dumps(s)[:400])


def unshifted(s):
    """s without what align.py records (the shift already in each trace's metadata)."""
    s = json.loads(json.dumps(s))
    for t in s["check"]["traces"]:
        t["shift_in_metadata_ns"] = 0
    return s


def check_cli(microcosm, scripts, rundir, s, tmp):
    env = dict(os.environ)
    env.pop("MC_TRACE_SCRIPTS", None)
    p = subprocess.run([microcosm, "trace", "summary", "--json", rundir], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(p.returncode == 0, "microcosm trace summary: exit status", (p.returncode, p.stderr), 0)
    if p.returncode == 0:
        check(unshifted(json.loads(p.stdout)) == s,
              "microcosm trace summary --json = summary.py --json")
    p = subprocess.run([microcosm, "trace", "align", rundir], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(p.returncode == 0 and "already aligned" in p.stdout, "microcosm trace align",
          (p.returncode, p.stdout, p.stderr), "exit 0, already aligned")
    p = subprocess.run([microcosm, "trace", "--help"], stdout=subprocess.PIPE, text=True)
    check(p.returncode == 0 and "microcosm trace summary [--json] RUN" in p.stdout,
          "microcosm trace --help", (p.returncode, p.stdout[:80]), 0)
    empty = os.path.join(tmp, "untraced-run")
    os.makedirs(empty)
    p = subprocess.run([microcosm, "trace", "summary", empty], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    want = "%s has no trace: run with --trace or tracing: {enabled: true}" % empty
    check(p.returncode == 1 and want in p.stderr, "microcosm trace on a run without trace/",
          (p.returncode, p.stderr), (1, want))
    env["MC_TRACE_SCRIPTS"] = os.path.join(tmp, "nowhere")
    p = subprocess.run([microcosm, "trace", "summary", rundir], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(p.returncode == 1 and "MC_TRACE_SCRIPTS" in p.stderr,
          "microcosm trace with MC_TRACE_SCRIPTS pointing nowhere", (p.returncode, p.stderr), 1)
    p = subprocess.run([microcosm, "trace", "summary"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    check(p.returncode == 2, "microcosm trace summary without RUN", p.returncode, 2)


def inside(trace_gen, scripts, microcosm):
    private_mounts()
    loopback_up()
    tmp = tempfile.mkdtemp(prefix="mc-test-trace-summary-")
    rundir = os.path.join(tmp, "run")
    record_run(trace_gen, rundir, tmp)

    raw = babeltrace(os.path.join(rundir, "trace"))
    plain = summary(scripts, rundir)  # no clock-offsets.json yet
    with open(os.path.join(rundir, "trace", "clock-offsets.json"), "w") as f:
        json.dump(OFFSETS, f)
    s = summary(scripts, rundir)

    check_summary(s, raw, "summary")
    check_timeline(s, plain, "summary")
    check_text(scripts, rundir)
    check_align(scripts, rundir, raw, s)
    check_cli(microcosm, scripts, rundir, s, tmp)

    if failures:
        print("test_trace_summary: %d checks failed; the run is kept in %s" % (failures, rundir))
        return 1
    if os.environ.get("MC_TEST_KEEP_RUN") == "1":
        print("test_trace_summary: all checks passed; the run is kept in %s" % rundir)
        return 0
    shutil.rmtree(tmp)
    print("test_trace_summary: all checks passed")
    return 0


def main(argv):
    if len(argv) != 4:
        print("usage: test_trace_summary.py TRACE_GEN SCRIPTS_DIR MICROCOSM", file=sys.stderr)
        return 2
    trace_gen, scripts, microcosm = argv[1:]
    if os.environ.get(INSIDE) == "1":
        return inside(trace_gen, scripts, microcosm)
    if os.geteuid() != 0:
        cannot_run("needs root: it starts its own root lttng-sessiond in private namespaces")
    for tool in ("unshare", "lttng", "lttng-sessiond", "lttng-relayd", "babeltrace2"):
        if shutil.which(tool) is None:
            cannot_run("%s not found (install lttng-tools and babeltrace2)" % tool)
    if subprocess.run([PY, "-c", "import bt2"], stderr=subprocess.DEVNULL).returncode != 0:
        cannot_run("%s has no bt2 module (install python3-bt2)" % PY)
    for f in (trace_gen, microcosm, os.path.join(scripts, "summary.py"),
              os.path.join(scripts, "align.py")):
        if not os.path.exists(f):
            die("%s: not found" % f)
    env = dict(os.environ, **{INSIDE: "1"})
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", "--uts", "--net",
                           "--pid", "--fork", "--kill-child", "--mount-proc",
                           PY, os.path.abspath(argv[0])] + argv[1:], env)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
