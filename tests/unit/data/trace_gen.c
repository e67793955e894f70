/* trace_gen.c — emits a known sequence of microcosm LTTng-UST events, for test_trace_summary. */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "mc_tp_harness.h"
#include "mc_tp_mpi.h"
#include "mc_tp_workload.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Usage:
 *   trace_gen host GUEST_A GUEST_B   the harness side: plans, injects and detects a fault
 *                                    in GUEST_A while GUEST_B stays ready
 *   trace_gen mpi RANK...            the guest side: each RANK in turn runs the fixed
 *                                    MPI sequence below
 *
 * Per rank, in this order (sleeps make the time spent in each call known):
 *   MPI_Init       1 call,  1 ms,  0 bytes (entry rank -1, exit rank RANK)
 *   phase "warmup"
 *   MPI_Send       7 calls, 2 ms each, bytes 1, 8, 100, 1024, 1500, 4096, 65536
 *   MPI_Recv       7 calls, 1 ms each, same bytes (one Recv after each Send)
 *   iteration      7 events, n = the bytes, value = n / 2
 *   phase "run"
 *   MPI_Allreduce  3 calls, 5 ms each, 8 bytes
 *   MPI_Barrier    1 call,  3 ms,  0 bytes
 *   MPI_Finalize   1 call,  0 ms,  0 bytes
 * test_trace_summary.py holds the same numbers: change both together.
 */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void mpi_call(const char *call, int32_t entry_rank, int32_t rank, int32_t peer,
                     int64_t bytes, long ms)
{
	lttng_ust_tracepoint(microcosm_mpi, call_entry, call, entry_rank, 0, peer, 7, bytes);
	sleep_ms(ms);
	lttng_ust_tracepoint(microcosm_mpi, call_exit, call, rank, 0);
}

static void run_rank(int32_t rank)
{
	static const int64_t sizes[] = {1, 8, 100, 1024, 1500, 4096, 65536};

	mpi_call("MPI_Init", -1, rank, -1, 0, 1);
	lttng_ust_tracepoint(microcosm_workload, phase, "ring", "warmup");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		mpi_call("MPI_Send", rank, rank, rank + 1, sizes[i], 2);
		mpi_call("MPI_Recv", rank, rank, rank - 1, sizes[i], 1);
		lttng_ust_tracepoint(microcosm_workload, iteration, "ring", (uint64_t)sizes[i],
		                     (double)sizes[i] / 2.0);
	}
	lttng_ust_tracepoint(microcosm_workload, phase, "ring", "run");
	for (int i = 0; i < 3; i++)
		mpi_call("MPI_Allreduce", rank, rank, -1, 8, 5);
	mpi_call("MPI_Barrier", rank, rank, -1, 0, 3);
	mpi_call("MPI_Finalize", rank, rank, -1, 0, 0);
}

static void run_host(const char *a, const char *b)
{
	lttng_ust_tracepoint(microcosm_harness, guest_state, a, "ready", "");
	lttng_ust_tracepoint(microcosm_harness, guest_state, b, "ready", "");
	lttng_ust_tracepoint(microcosm_harness, fault_planned, "f1", "crash", a, 500);
	lttng_ust_tracepoint(microcosm_harness, agent_exec, a, 1, "mc-ring");
	sleep_ms(2);
	lttng_ust_tracepoint(microcosm_harness, fault_injected, "f1", "crash", a, "ok", 3);
	sleep_ms(2);
	lttng_ust_tracepoint(microcosm_harness, agent_exit, a, 1, -1, 9);
	lttng_ust_tracepoint(microcosm_harness, guest_state, a, "failed", "heartbeat timeout");
	lttng_ust_tracepoint(microcosm_harness, fault_detected, a, "f1", 120);
	lttng_ust_tracepoint(microcosm_harness, guest_state, b, "busy", "");
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "host") == 0) {
		run_host(argv[2], argv[3]);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "mpi") == 0) {
		for (int i = 2; i < argc; i++)
			run_rank((int32_t)atoi(argv[i]));
		return 0;
	}
	fprintf(stderr, "usage: trace_gen host GUEST_A GUEST_B | trace_gen mpi RANK...\n");
	return 2;
}
