"""summary.py (test stub) — stands in for tracing/summary.py in tests/unit/test_report.sh.

report.py loads summary.py from $MC_TRACE_SCRIPTS; this one needs no bt2 and no trace:
summarize() returns fixed numbers in the shape tracing/summary.py's summarize() returns,
for 8 ranks on guests g0000..g0007 (rank 7 spends longest in MPI_Recv).
"""

bt2 = True  # report.py treats bt2 = None as "python3-bt2 missing"

CALLS = {"MPI_Init": 40.0, "MPI_Send": 120.0, "MPI_Recv": 260.0, "MPI_Barrier": 35.0,
         "MPI_Allreduce": 80.0, "MPI_Finalize": 15.0}


def summarize(path):
    ranks = []
    for r in range(8):
        calls = {}
        for i, (call, ms) in enumerate(CALLS.items()):
            total = ms * (1.0 + 0.1 * r if call == "MPI_Recv" else 1.0 + 0.02 * i)
            calls[call] = {"count": 10 + i, "total_ms": total, "share": None}
        mpi = sum(c["total_ms"] for c in calls.values())
        span = mpi + 300.0 + 20 * r
        for c in calls.values():
            c["share"] = c["total_ms"] / span
        ranks.append({"host": "g%04d" % r, "rank": r, "span_ms": span, "mpi_ms": mpi,
                      "share": mpi / span, "calls": calls})
    return {
        "trace_dir": path + "/trace",
        "t0_ns": 0,
        "span_ms": 1000.0,
        "events": 1234,
        "mpi_ranks": ranks,
        "message_sizes": {"MPI_Send": [{"lo": 8, "hi": 15, "count": 400},
                                       {"lo": 65536, "hi": 131071, "count": 100}],
                          "MPI_Recv": [{"lo": 8, "hi": 15, "count": 400}]},
        "timeline": [],
        "check": {"in_order": True, "out_of_order_events": 0, "events": 1234, "traces": [],
                  "mpi_calls_without_exit": 0, "mpi_exits_without_entry": 0},
    }
