#!/usr/bin/env python3
"""check_ring_checkpoint.py — mc-ring's application-level checkpoints under the host's mpiexec.

    check_ring_checkpoint.py MPIEXEC NP_FLAG MC_RING

1. A checkpoint directory where the ranks saved different positions (a crash in the middle
   of a checkpoint lap) and a pending request: three ranks resume after the smallest
   position, take the checkpoint at once (every rank saves the same new position, rank 0
   prints it) and time only the laps left of the first size.
2. Started again on the finished directory: the saved results are printed again and no
   lap runs.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

mpiexec, npflag, ring = sys.argv[1:4]
SIZES, ITERS, WARMUP = "8,1K", 40, 5
PER = ITERS + WARMUP


def run(d):
    p = subprocess.run([mpiexec, npflag, "3", ring, "--sizes", SIZES, "--iters", str(ITERS),
                        "--warmup", str(WARMUP), "--checkpoint", d, "--timeout", "90s"],
                       capture_output=True, text=True, timeout=100)
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return p.returncode, lines, p.stderr


def need(cond, what, *extra):
    if not cond:
        sys.exit("FAIL: " + what + "".join("\n  " + str(e) for e in extra))


with tempfile.TemporaryDirectory() as d:
    for rank, pos in ((0, 12), (1, 10), (2, 12)):
        with open(f"{d}/rank-{rank}", "w") as f:
            f.write(f"{pos}\n")
    open(f"{d}/request", "w").close()
    rc, lines, err = run(d)
    need(rc == 0, f"exit status {rc}", err)
    need(re.search(rf"resuming after lap 10 of {2 * PER} ", err), "no resume message", err)
    ck = [x for x in lines if "checkpoint" in x]
    res = [x for x in lines if "bytes" in x]
    st = [x for x in lines if "start" in x]
    need(len(st) == 1 and st[0]["start"] == 10, "one start line at lap 10", lines)
    need(len(ck) == 1 and ck[0]["checkpoint"] == 11 and ck[0]["of"] == 2 * PER,
         "one checkpoint after lap 11 expected", lines)
    need([x["bytes"] for x in res] == [8, 1024], "results for 8 and 1024 bytes", lines)
    need(res[0]["iters"] == PER - 10 and res[1]["iters"] == ITERS,
         f"timed laps {PER - 10} and {ITERS} expected", res)
    saved = [open(f"{d}/rank-{r}").read().strip() for r in range(3)]
    need(saved == ["11"] * 3, "every rank saved position 11", saved)
    need(not os.path.exists(f"{d}/request"), "the request was not taken")
    with open(f"{d}/results.jsonl") as f:
        need(len(f.readlines()) == 2, "results.jsonl keeps both results")

    rc, again, err = run(d)
    need(rc == 0, f"second run: exit status {rc}", err)
    need([x for x in again if "start" not in x] == res,
         "second run: the saved results, nothing else", again, res)
print("ok: resumed after lap 10, checkpoint at 11 on every rank, results kept")
