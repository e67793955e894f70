/* mc_tp_mpi.h — LTTng-UST provider microcosm_mpi: entry and exit of MPI calls in a rank. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER microcosm_mpi

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "mc_tp_mpi.h"

#if !defined(MC_TP_MPI_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define MC_TP_MPI_H

#include <lttng/tracepoint.h>
#include <stdint.h>

/* One field per line reads better than any wrapping of these macros. */
/* clang-format off */

/*
 * Emitted by libmc-mpi-trace.so (mpi_trace.c) around every wrapped call.
 *
 *   call   "MPI_Send", "MPI_Allreduce", ...
 *   rank   MPI_COMM_WORLD rank; -1 before MPI_Init returned
 *   comm   MPI_Comm_c2f() of the communicator; -1 for calls without one
 *   peer   destination, source or root as passed (MPI_ANY_SOURCE is -2 in
 *          MPICH); -1 when the call has none
 *   tag    the tag as passed (Sendrecv: the send tag); -1 when the call has none
 *   bytes  count * type size of what this rank sends (receives: the buffer
 *          it posts; collectives: its own per-rank block); 0 for calls that
 *          move no data themselves (Wait, Waitall, Barrier, Init, Finalize)
 *   ret    the MPI return code (MPI_SUCCESS = 0)
 */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_mpi, call_entry,
	LTTNG_UST_TP_ARGS(
		const char *, call,
		int32_t, rank,
		int32_t, comm,
		int32_t, peer,
		int32_t, tag,
		int64_t, bytes
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(call, call)
		lttng_ust_field_integer( int32_t, rank, rank)
		lttng_ust_field_integer(int32_t, comm, comm)
		lttng_ust_field_integer(int32_t, peer, peer)
		lttng_ust_field_integer(int32_t, tag, tag)
		lttng_ust_field_integer(int64_t, bytes, bytes)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(microcosm_mpi, call_exit,
	LTTNG_UST_TP_ARGS(const char *, call, int32_t, rank, int32_t, ret),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(call, call)
		lttng_ust_field_integer(int32_t, rank, rank)
		lttng_ust_field_integer(int32_t, ret, ret)
	)
)
/* clang-format on */

#endif /* MC_TP_MPI_H */

#include <lttng/tracepoint-event.h>
