#!/usr/bin/python3
"""make_run.py — writes a fake microcosm run directory for tests/unit/test_report.sh.

usage: make_run.py [--guests N] [--unfinished PID] [--boot-id ID] [--traced] DIR

A finished run (the default) of N guests (40), laid out as docs/results.md says, with
nothing started: manifest.json, events.jsonl (every guest defined → booting or restoring →
ready; FAULTED crashes at +30 s, is detected 80 ms later and boots again), guests.json,
faults.jsonl (the crash and its detection), workloads ring and allreduce with message
sizes (3 repetitions each; allreduce at 8 and 16 ranks) and halo without, summary.json
with the metrics, and with --traced an empty trace/ folder (the test's stub summary.py
supplies the MPI numbers).

--unfinished PID writes an unfinished run instead: a manifest that says "running" with
process PID (dead, for the test) and host boot ID (default: this host's boot), and a few
events for three guests, one still booting. Nothing else.

Deterministic: the same arguments write the same files.
"""

import json
import os
import random
import statistics
import sys

START_MS = 1795636800000  # 2026-11-25T20:00:00Z
FAULTED = "g0007"
DESCRIPTIVE = {"bytes", "ranks", "iters", "rank", "size", "reps", "tasks", "workers", "seed"}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def iso(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def this_boot():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def manifest(status, pid, boot_id, ended=None):
    m = {
        "name": "report-fixture", "cluster": "rpt", "spec_file": "tests/report-fixture.yaml",
        "status": status, "pid": pid, "host_boot_id": boot_id, "started": iso(START_MS),
        "seed": 42, "fault_seed": 7,
        "versions": {"microcosm": "0.1.0", "qemu": "QEMU emulator version 7.2.22",
                     "mpich": "4.0.2", "guest_kernel": "6.1.192-microcosm",
                     "assets": "0123456789abcdef-fedcba9876543210"},
        "host": {"kernel": "6.18.44", "machine": "x86_64", "cpus": 2, "mem_mib": 24105,
                 "hostname": "fixture-host"},
        "timings": {},
    }
    if ended is not None:
        m["ended"] = iso(ended)
        m["timings"] = {"up_s": 9.5, "network_s": 0.4, "collect_s": 1.2, "down_s": 2.0}
        m["faults"] = {"injected": 1, "detected": 1}
    return m


def event(t, guest, old, new, boot, reason=""):
    return {"t_ms": int(t), "guest": guest, "from": old, "state": new, "boot": boot,
            "reason": reason}


def unfinished(d, pid, boot_id):
    write_json(os.path.join(d, "manifest.json"), manifest("running", pid, boot_id))
    ev = []
    for i, g in enumerate(("g0000", "g0001", "g0002")):
        t = START_MS + 300 + 50 * i
        ev.append(event(t, g, "", "defined", 0))
        ev.append(event(t + 100, g, "defined", "booting", 1))
        if i < 2:
            ev.append(event(t + 2500 + 400 * i, g, "booting", "ready", 1))
    write_jsonl(os.path.join(d, "events.jsonl"), ev)


def metric_unit(field):
    if field.endswith("_us") or "_us_" in field:
        return "us"
    if field.endswith("_per_s"):
        return "/s"
    if field == "seconds" or field.endswith("_s"):
        return "s"
    if field.endswith("_MBps"):
        return "MB/s"
    return ""


def finished(d, n, traced):
    rnd = random.Random(n)
    names = ["g%04d" % i for i in range(n)]
    ev, guests = [], []
    for i, g in enumerate(names):
        t = START_MS + 200 + 15 * i
        ev.append(event(t, g, "", "defined", 0))
        clone = i % 2 == 1
        start = t + 300 + rnd.randint(0, 1500)
        took = rnd.randint(250, 700) if clone else rnd.randint(2500, 5500)
        ev.append(event(start, g, "defined", "restoring" if clone else "booting", 1))
        ev.append(event(start + took, g, "restoring" if clone else "booting", "ready", 1))
        guests.append({"name": g, "index": i, "state": "ready", "boot_ms": took,
                       "boots": 1, "reason": ""})
    crash = START_MS + 30000
    fault_guest = FAULTED if FAULTED in names else names[-1]
    ev.append(event(crash + 80, fault_guest, "ready", "failed", 1, "qemu killed by signal 9"))
    ev.append(event(crash + 2000, fault_guest, "failed", "booting", 2))
    ev.append(event(crash + 5200, fault_guest, "booting", "ready", 2))
    for gj in guests:
        if gj["name"] == fault_guest:
            gj["boots"] = 2
    write_jsonl(os.path.join(d, "events.jsonl"), sorted(ev, key=lambda e: e["t_ms"]))
    write_json(os.path.join(d, "guests.json"), guests)
    write_jsonl(os.path.join(d, "faults.jsonl"), [
        {"type": "fault", "name": "crash-7", "kind": "crash", "guest": fault_guest,
         "at_ms": crash, "planned_ms": 29994, "actual_ms": 30000, "delay_ms": 6,
         "duration_ms": 0, "outcome": "injected", "params": {}, "workload": "ring"},
        {"type": "detection", "fault": "crash-7", "kind": "crash", "guest": fault_guest,
         "injected_at_ms": crash, "detected_at_ms": crash + 80, "latency_ms": 80,
         "reason": "qemu killed by signal 9"},
    ])

    # Workloads: (name, [(ranks, sizes)], record maker).
    def ring(ranks, b, rep):
        lap = (30 + b / 120.0) * ranks * (1 + 0.05 * rep)
        return {"workload": "ring", "ranks": ranks, "mode": "ring", "bytes": b, "iters": 100,
                "lap_us_median": round(lap, 3), "lap_us_min": round(lap * 0.8, 3),
                "hop_latency_us": round(lap / ranks, 3),
                "bandwidth_MBps": round(b / (lap / ranks), 3)}

    def allreduce(ranks, b, rep):
        t = (12 + b / 400.0) * (1 + 0.2 * (ranks / 8 - 1)) * (1 + 0.04 * rep)
        return {"workload": "allreduce", "ranks": ranks, "bytes": b, "count": b // 8,
                "iters": 100, "time_us_median": round(t, 3), "time_us_min": round(t * 0.7, 3),
                "time_us_max": round(t * 2.2, 3)}

    def halo(ranks, _b, rep):
        s = 1.8 + 0.1 * rep
        return {"workload": "halo", "ranks": ranks, "phase": "result", "dims": [2, 4],
                "local": [256, 256], "iters": 200, "seconds": s,
                "iters_per_s": round(200 / s, 3), "residual": 0.37}

    plan = [("ring", ring, [(8, [8, 1024, 65536, 1048576])]),
            ("allreduce", allreduce, [(8, [8, 1024, 65536]), (16, [8, 1024, 65536])]),
            ("halo", halo, [(8, [None])])]
    workloads, per_metric = [], {}
    for name, make, configs in plan:
        reps = []
        for rep in range(3):
            rd = os.path.join(d, "workloads", name, str(rep))
            os.makedirs(rd)
            records = [make(ranks, b, rep) for ranks, sizes in configs for b in sizes]
            if name == "halo":
                records.insert(0, {"workload": "halo", "ranks": 8, "phase": "iter",
                                   "iter": 100, "seconds": 0.9, "residual": 0.6})
            with open(os.path.join(rd, "stdout.jsonl"), "w") as f:
                f.write("mpiexec: starting 8 ranks\n")  # not JSON: readers skip it
                for r in records:
                    f.write(json.dumps(r) + "\n")
            seconds = 4.0 + rep * 0.3 + (1 if name == "ring" else 0)
            result = {"workload": name, "rep": rep, "ok": True, "seconds": seconds,
                      "results": records}
            write_json(os.path.join(rd, "result.json"), result)
            reps.append(result)
            per_metric.setdefault(("%s/seconds" % name, name, "seconds"), []).append(seconds)
            for r in records:
                if r.get("phase") not in (None, "result"):
                    continue
                for k, v in r.items():
                    if k in DESCRIPTIVE or isinstance(v, (str, list)):
                        continue
                    mname = ("%s/%dB/%s" % (name, r["bytes"], k)) if "bytes" in r \
                        else "%s/%s" % (name, k)
                    per_metric.setdefault((mname, name, k), []).append(float(v))
        workloads.append({"workload": name, "kind": "mpi", "runs": 3, "ok": 3,
                          "median_s": statistics.median(r["seconds"] for r in reps),
                          "reps": reps})
    metrics = {}
    for (mname, w, field), vals in sorted(per_metric.items()):
        med = statistics.median(vals)
        better = "higher" if any(h in field for h in ("_MBps", "_per_s")) else "lower"
        metrics[mname] = {"workload": w, "unit": metric_unit(field), "better": better,
                          "values": vals, "n": len(vals), "median": med, "min": min(vals),
                          "max": max(vals),
                          "mad": statistics.median(abs(v - med) for v in vals)}
    write_json(os.path.join(d, "summary.json"), {
        "workloads": workloads, "metrics": metrics,
        "faults": {"injected": 1, "detected": 1}})
    end = START_MS + 60000
    write_json(os.path.join(d, "manifest.json"), manifest("finished", 4242, this_boot(), end))
    if traced:
        os.makedirs(os.path.join(d, "trace"))


def main(argv):
    args = argv[1:]
    n, pid, boot_id, traced = 40, None, None, False
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--guests":
            n = int(args.pop(0))
        elif opt == "--unfinished":
            pid = int(args.pop(0))
        elif opt == "--boot-id":
            boot_id = args.pop(0)
        elif opt == "--traced":
            traced = True
        else:
            sys.stderr.write("make_run.py: unknown option %s\n" % opt)
            return 2
    if len(args) != 1 or n < 1:
        sys.stderr.write(__doc__)
        return 2
    d = args[0]
    os.makedirs(d)
    if pid is not None:
        unfinished(d, pid, boot_id or this_boot())
    else:
        finished(d, n, traced)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
