#!/usr/bin/env python3
"""check_workload.py — runs one workload command and checks what it did.

    check_workload.py [checks] -- COMMAND...

Checks the exit status, regular expressions over stdout/stderr, and with
--workload that stdout is JSON lines with the fields and plausible values of
that workload (the rank count comes from the command's "-n N"). With --io-dir
the directory is created and emptied of ckpt.* first, and the ckpt.* files
left behind are counted (and removed) afterwards.
"""
import argparse
import glob
import json
import math
import os
import re
import subprocess
import sys

RUN_TIMEOUT = 100  # s; ctest's TIMEOUT is 120


class Failed(Exception):
    pass


def need(cond, what, line=None):
    if not cond:
        raise Failed(what + (f"\n  in line: {json.dumps(line)}" if line is not None else ""))


def num(line, key, lo=0.0, hi=math.inf, strict_lo=False):
    """line[key] is a finite number in [lo, hi] (lo excluded if strict_lo)."""
    v = line.get(key)
    need(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
         f"field {key!r} is {v!r}, want a finite number", line)
    need(v > lo if strict_lo else v >= lo, f"field {key!r} = {v}, want {'>' if strict_lo else '>='} {lo}", line)
    need(v <= hi, f"field {key!r} = {v}, want <= {hi}", line)
    return v


def integer(line, key, lo=0):
    v = line.get(key)
    need(isinstance(v, int) and not isinstance(v, bool) and v >= lo,
         f"field {key!r} is {v!r}, want an integer >= {lo}", line)
    return v


def close(a, b, what, line):
    need(math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3), f"{what}: {a} != {b}", line)


def check_ring(lines, ranks, args):
    for ln in lines:
        need(ln.get("mode") in ("ring", "pingpong"), "mode is not ring or pingpong", ln)
        integer(ln, "bytes")
        integer(ln, "iters", 1)
        if ln["mode"] == "ring":
            med = num(ln, "lap_us_median", strict_lo=True)
            num(ln, "lap_us_min", strict_lo=True, hi=med)
            close(num(ln, "hop_latency_us", strict_lo=True), med / ranks, "hop = lap / ranks", ln)
        else:
            med = num(ln, "rtt_us_median", strict_lo=True)
            low = num(ln, "rtt_us_min", strict_lo=True, hi=med)
            close(num(ln, "latency_us_median"), med / 2, "latency = rtt / 2", ln)
            close(num(ln, "latency_us_min"), low / 2, "latency_min = rtt_min / 2", ln)
        num(ln, "bandwidth_MBps")
        need("host" not in ln, "host in a line that is not per rank", ln)


def check_allreduce(lines, ranks, args):
    for ln in lines:
        b = integer(ln, "bytes", 8)
        need(b % 8 == 0 and ln.get("count") == b // 8, "count != bytes / 8", ln)
        integer(ln, "iters", 1)
        med = num(ln, "time_us_median", strict_lo=True)
        num(ln, "time_us_min", strict_lo=True, hi=med)
        need(num(ln, "time_us_max") >= med, "time_us_max < median", ln)
        need("host" not in ln, "host in a line that is not per rank", ln)


def check_halo(lines, ranks, args):
    *iters, result = lines
    last_iter, last_s, last_res = 0, 0.0, math.inf
    for ln in iters:
        need(ln.get("phase") == "iter", "progress line without phase iter", ln)
        it = integer(ln, "iter", 1)
        need(it > last_iter, "iter does not increase", ln)
        s = num(ln, "seconds")
        need(s >= last_s, "seconds go backwards", ln)
        res = num(ln, "residual")
        # Jacobi on a symmetric operator: the update's L2 norm never grows.
        need(res <= last_res * (1 + 1e-9), "residual grew", ln)
        last_iter, last_s, last_res = it, s, res
    need(result.get("phase") == "result", "last line is not phase result", result)
    dims = result.get("dims")
    need(isinstance(dims, list) and len(dims) == 2 and dims[0] * dims[1] == ranks,
         f"dims {dims!r} do not multiply to {ranks} ranks", result)
    if args.halo_dims:
        need(dims == [int(x) for x in args.halo_dims.split(",")], f"dims != {args.halo_dims}", result)
    if args.halo_local:
        need(result.get("local") == [int(x) for x in args.halo_local.split(",")],
             f"local != {args.halo_local}", result)
    n = integer(result, "iters", 1)
    need(n >= last_iter, "iters < last progress iter", result)
    s = num(result, "seconds", strict_lo=True)
    close(num(result, "iters_per_s", strict_lo=True), n / s, "iters_per_s = iters / seconds", result)
    num(result, "residual")
    for ln in lines:
        need("host" not in ln, "host in a line that is not per rank", ln)


def check_io(lines, ranks, args):
    *per_rank, result = lines
    seen = []
    for ln in per_rank:
        need(ln.get("phase") == "rank", "line before the result is not phase rank", ln)
        seen.append(integer(ln, "rank"))
        need(isinstance(ln.get("host"), str) and ln["host"], "per-rank line without host", ln)
        num(ln, "write_s", strict_lo=True)
        num(ln, "read_s", strict_lo=True)
    need(not per_rank or sorted(seen) == list(range(ranks)), f"per-rank lines for ranks {seen}")
    need(result.get("phase") == "result", "last line is not phase result", result)
    need("host" not in result, "host in the result line", result)
    need(isinstance(result.get("dir"), str), "result without dir", result)
    b = integer(result, "bytes_per_rank", 1)
    integer(result, "block", 1)
    wmax = num(result, "write_s_max", strict_lo=True)
    num(result, "write_s_min", strict_lo=True, hi=wmax)
    rmax = num(result, "read_s_max", strict_lo=True)
    num(result, "read_s_min", strict_lo=True, hi=rmax)
    close(num(result, "write_MBps", strict_lo=True), b * ranks / wmax / 1e6, "write_MBps", result)
    close(num(result, "read_MBps", strict_lo=True), b * ranks / rmax / 1e6, "read_MBps", result)


CHECKS = {"ring": check_ring, "allreduce": check_allreduce, "halo": check_halo, "io": check_io}


def ranks_of(cmd):
    for flag in ("-n", "-np"):
        if flag in cmd[:-1]:
            return int(cmd[cmd.index(flag) + 1])
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--expect-exit", type=int, default=0)
    ap.add_argument("--expect-stdout", action="append", default=[], metavar="RE")
    ap.add_argument("--expect-stderr", action="append", default=[], metavar="RE")
    ap.add_argument("--workload", choices=sorted(CHECKS))
    ap.add_argument("--lines", type=int, help="JSON lines expected on stdout")
    ap.add_argument("--halo-dims", metavar="PX,PY")
    ap.add_argument("--halo-local", metavar="NX,NY")
    ap.add_argument("--io-dir")
    ap.add_argument("--io-files", type=int, help="ckpt.* files left in --io-dir")
    ap.add_argument("--io-file-bytes", type=int, help="size of each file left")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command after --")

    if args.io_dir:
        os.makedirs(args.io_dir, exist_ok=True)
        for f in glob.glob(os.path.join(args.io_dir, "ckpt.*")):
            os.remove(f)
    print("running:", " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        print(f"FAIL: still running after {RUN_TIMEOUT} s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}")
        return 1
    print(f"exit {p.returncode}\n--- stdout\n{p.stdout}--- stderr\n{p.stderr}---", flush=True)

    try:
        need(p.returncode == args.expect_exit, f"exit status {p.returncode}, want {args.expect_exit}")
        for pat in args.expect_stdout:
            need(re.search(pat, p.stdout), f"stdout does not match {pat!r}")
        for pat in args.expect_stderr:
            need(re.search(pat, p.stderr), f"stderr does not match {pat!r}")
        if args.workload:
            lines = []
            for text in p.stdout.splitlines():
                try:
                    ln = json.loads(text)
                except ValueError:
                    raise Failed(f"stdout line is not JSON: {text!r}")
                need(isinstance(ln, dict), "JSON line is not an object", ln)
                need(ln.get("workload") == args.workload, f"workload is not {args.workload!r}", ln)
                need(ln.get("ranks") == ranks_of(cmd), f"ranks is not {ranks_of(cmd)}", ln)
                lines.append(ln)
            need(lines, "no JSON lines on stdout")
            if args.lines is not None:
                need(len(lines) == args.lines, f"{len(lines)} JSON lines, want {args.lines}")
            CHECKS[args.workload](lines, ranks_of(cmd), args)
        if args.io_dir and args.io_files is not None:
            left = sorted(glob.glob(os.path.join(args.io_dir, "ckpt.*")))
            need(len(left) == args.io_files, f"{len(left)} files left in {args.io_dir}, want {args.io_files}: {left}")
            for f in left:
                if args.io_file_bytes is not None:
                    size = os.path.getsize(f)
                    need(size == args.io_file_bytes, f"{f} has {size} bytes, want {args.io_file_bytes}")
                os.remove(f)
    except Failed as e:
        print(f"FAIL: {e}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
