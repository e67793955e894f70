/* mpi_trace.c — libmc-mpi-trace.so: MPI calls and workload phases as LTTng-UST events.
 *
 * Preloaded into MPI ranks (usage in mc_mpi_trace.h). Each wrapper emits
 * microcosm_mpi:call_entry, calls the next definition of the same function and
 * emits microcosm_mpi:call_exit with its return code. "Next" is dlsym(RTLD_NEXT),
 * not PMPI_*: libmc-mpi-preload.so wraps some of the same calls through PMPI, and
 * with LD_PRELOAD="libmc-mpi-trace.so libmc-mpi-preload.so" both layers must run,
 * this one first. PMPI_* is only the fallback when no next definition is found.
 *
 * The arguments that cost an MPI call to compute (type sizes, the rank) are
 * computed only while the event is enabled in some session. Never built with
 * sanitizers: ranks run in guests without their runtime.
 */
#include "mc_mpi_trace.h"

#include "mc_tp_mpi.h"
#include "mc_tp_workload.h"

#include <dlfcn.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define NO_COMM (-1) /* "comm" of calls without a communicator */
#define NONE    (-1) /* "peer" or "tag" of calls without one */

/* The next definition of every wrapped call. Filled once (pthread_once), then read-only. */
static struct {
	int (*send)(const void *, int, MPI_Datatype, int, int, MPI_Comm);
	int (*recv)(void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Status *);
	int (*isend)(const void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Request *);
	int (*irecv)(void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Request *);
	int (*wait)(MPI_Request *, MPI_Status *);
	int (*waitall)(int, MPI_Request[], MPI_Status[]);
	int (*sendrecv)(const void *, int, MPI_Datatype, int, int, void *, int, MPI_Datatype, int,
	                int, MPI_Comm, MPI_Status *);
	int (*barrier)(MPI_Comm);
	int (*bcast)(void *, int, MPI_Datatype, int, MPI_Comm);
	int (*reduce)(const void *, void *, int, MPI_Datatype, MPI_Op, int, MPI_Comm);
	int (*allreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm);
	int (*allgather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, MPI_Comm);
	int (*alltoall)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, MPI_Comm);
	int (*gather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, int, MPI_Comm);
	int (*scatter)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, int, MPI_Comm);
	int (*init)(int *, char ***);
	int (*init_thread)(int *, char ***, int, int *);
	int (*finalize)(void);
} next;
static pthread_once_t next_once = PTHREAD_ONCE_INIT;

static _Atomic int world_rank = -1; /* MPI_COMM_WORLD rank once known */

static void resolve(void)
{
#define NEXT(field, name)                                                                          \
	do {                                                                                       \
		next.field = (__typeof__(next.field))dlsym(RTLD_NEXT, #name);                      \
		if (!next.field)                                                                   \
			next.field = P##name;                                                      \
	} while (0)
	NEXT(send, MPI_Send);
	NEXT(recv, MPI_Recv);
	NEXT(isend, MPI_Isend);
	NEXT(irecv, MPI_Irecv);
	NEXT(wait, MPI_Wait);
	NEXT(waitall, MPI_Waitall);
	NEXT(sendrecv, MPI_Sendrecv);
	NEXT(barrier, MPI_Barrier);
	NEXT(bcast, MPI_Bcast);
	NEXT(reduce, MPI_Reduce);
	NEXT(allreduce, MPI_Allreduce);
	NEXT(allgather, MPI_Allgather);
	NEXT(alltoall, MPI_Alltoall);
	NEXT(gather, MPI_Gather);
	NEXT(scatter, MPI_Scatter);
	NEXT(init, MPI_Init);
	NEXT(init_thread, MPI_Init_thread);
	NEXT(finalize, MPI_Finalize);
#undef NEXT
}

/* Called first in every wrapper. */
static void resolve_once(void)
{
	pthread_once(&next_once, resolve);
}

/* The MPI_COMM_WORLD rank, or -1 while MPI is not initialized. Costs MPI
 * calls until the rank is known; call only when an event is enabled. */
static int32_t rank_now(void)
{
	int r = atomic_load(&world_rank), init = 0, fin = 0;

	if (r >= 0)
		return r;
	PMPI_Initialized(&init);
	PMPI_Finalized(&fin);
	if (!init || fin || PMPI_Comm_rank(MPI_COMM_WORLD, &r) != MPI_SUCCESS)
		return -1;
	atomic_store(&world_rank, r);
	return r;
}

/* count elements of type, in bytes; 0 for no data or a null type. */
static int64_t nbytes(int count, MPI_Datatype type)
{
	MPI_Count size = 0;

	if (count <= 0 || type == MPI_DATATYPE_NULL ||
	    PMPI_Type_size_x(type, &size) != MPI_SUCCESS || size < 0)
		return 0;
	return (int64_t)count * (int64_t)size;
}

static int32_t comm_id(MPI_Comm comm)
{
	return (int32_t)MPI_Comm_c2f(comm);
}

/* Emits call_entry; bytes are count elements of type. */
static void entry(const char *call, int32_t comm, int32_t peer, int32_t tag, int count,
                  MPI_Datatype type)
{
	if (lttng_ust_tracepoint_enabled(microcosm_mpi, call_entry))
		lttng_ust_do_tracepoint(microcosm_mpi, call_entry, call, rank_now(), comm, peer,
		                        tag, nbytes(count, type));
}

/* Emits call_exit and returns rc. */
static int leave(const char *call, int rc)
{
	if (lttng_ust_tracepoint_enabled(microcosm_mpi, call_exit))
		lttng_ust_do_tracepoint(microcosm_mpi, call_exit, call, rank_now(), rc);
	return rc;
}

/* ---- point to point ---- */

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dst, int tag, MPI_Comm comm)
{
	resolve_once();
	entry("MPI_Send", comm_id(comm), dst, tag, count, type);
	return leave("MPI_Send", next.send(buf, count, type, dst, tag, comm));
}

int MPI_Recv(void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm,
             MPI_Status *st)
{
	resolve_once();
	entry("MPI_Recv", comm_id(comm), src, tag, count, type);
	return leave("MPI_Recv", next.recv(buf, count, type, src, tag, comm, st));
}

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dst, int tag, MPI_Comm comm,
              MPI_Request *req)
{
	resolve_once();
	entry("MPI_Isend", comm_id(comm), dst, tag, count, type);
	return leave("MPI_Isend", next.isend(buf, count, type, dst, tag, comm, req));
}

int MPI_Irecv(void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm,
              MPI_Request *req)
{
	resolve_once();
	entry("MPI_Irecv", comm_id(comm), src, tag, count, type);
	return leave("MPI_Irecv", next.irecv(buf, count, type, src, tag, comm, req));
}

int MPI_Wait(MPI_Request *req, MPI_Status *st)
{
	resolve_once();
	entry("MPI_Wait", NO_COMM, NONE, NONE, 0, MPI_DATATYPE_NULL);
	return leave("MPI_Wait", next.wait(req, st));
}

int MPI_Waitall(int n, MPI_Request reqs[], MPI_Status sts[])
{
	resolve_once();
	entry("MPI_Waitall", NO_COMM, NONE, NONE, 0, MPI_DATATYPE_NULL);
	return leave("MPI_Waitall", next.waitall(n, reqs, sts));
}

/* Recorded with its send side: peer dst, tag stag, the bytes it sends. */
int MPI_Sendrecv(const void *sbuf, int scount, MPI_Datatype stype, int dst, int stag, void *rbuf,
                 int rcount, MPI_Datatype rtype, int src, int rtag, MPI_Comm comm, MPI_Status *st)
{
	resolve_once();
	entry("MPI_Sendrecv", comm_id(comm), dst, stag, scount, stype);
	return leave("MPI_Sendrecv", next.sendrecv(sbuf, scount, stype, dst, stag, rbuf, rcount,
	                                           rtype, src, rtag, comm, st));
}

/* ---- collectives: bytes are this rank's block, from the arguments that are significant ---- */

int MPI_Barrier(MPI_Comm comm)
{
	resolve_once();
	entry("MPI_Barrier", comm_id(comm), NONE, NONE, 0, MPI_DATATYPE_NULL);
	return leave("MPI_Barrier", next.barrier(comm));
}

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
	resolve_once();
	entry("MPI_Bcast", comm_id(comm), root, NONE, count, type);
	return leave("MPI_Bcast", next.bcast(buf, count, type, root, comm));
}

int MPI_Reduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, int root,
               MPI_Comm comm)
{
	resolve_once();
	entry("MPI_Reduce", comm_id(comm), root, NONE, count, type);
	return leave("MPI_Reduce", next.reduce(sbuf, rbuf, count, type, op, root, comm));
}

int MPI_Allreduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
                  MPI_Comm comm)
{
	resolve_once();
	entry("MPI_Allreduce", comm_id(comm), NONE, NONE, count, type);
	return leave("MPI_Allreduce", next.allreduce(sbuf, rbuf, count, type, op, comm));
}

/* In place, the send count and type are not significant: the receive block is the size. */
int MPI_Allgather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                  MPI_Datatype rtype, MPI_Comm comm)
{
	bool in_place = sbuf == MPI_IN_PLACE;

	resolve_once();
	entry("MPI_Allgather", comm_id(comm), NONE, NONE, in_place ? rcount : scount,
	      in_place ? rtype : stype);
	return leave("MPI_Allgather",
	             next.allgather(sbuf, scount, stype, rbuf, rcount, rtype, comm));
}

/* bytes: the block sent to each rank. */
int MPI_Alltoall(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                 MPI_Datatype rtype, MPI_Comm comm)
{
	bool in_place = sbuf == MPI_IN_PLACE;

	resolve_once();
	entry("MPI_Alltoall", comm_id(comm), NONE, NONE, in_place ? rcount : scount,
	      in_place ? rtype : stype);
	return leave("MPI_Alltoall", next.alltoall(sbuf, scount, stype, rbuf, rcount, rtype, comm));
}

/* The receive arguments count only at the root, which may gather in place. */
int MPI_Gather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
               MPI_Datatype rtype, int root, MPI_Comm comm)
{
	bool in_place = sbuf == MPI_IN_PLACE;

	resolve_once();
	entry("MPI_Gather", comm_id(comm), root, NONE, in_place ? rcount : scount,
	      in_place ? rtype : stype);
	return leave("MPI_Gather",
	             next.gather(sbuf, scount, stype, rbuf, rcount, rtype, root, comm));
}

/* The send arguments count only at the root: every rank's block is its receive
 * block, except at a root that scatters in place. */
int MPI_Scatter(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                MPI_Datatype rtype, int root, MPI_Comm comm)
{
	bool in_place = rbuf == MPI_IN_PLACE;

	resolve_once();
	entry("MPI_Scatter", comm_id(comm), root, NONE, in_place ? scount : rcount,
	      in_place ? stype : rtype);
	return leave("MPI_Scatter",
	             next.scatter(sbuf, scount, stype, rbuf, rcount, rtype, root, comm));
}

/* ---- start and end ---- */

int MPI_Init(int *argc, char ***argv)
{
	resolve_once();
	entry("MPI_Init", NO_COMM, NONE, NONE, 0, MPI_DATATYPE_NULL);
	return leave("MPI_Init", next.init(argc, argv));
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
	resolve_once();
	entry("MPI_Init_thread", NO_COMM, NONE, NONE, 0, MPI_DATATYPE_NULL);
	return leave("MPI_Init_thread", next.init_thread(argc, argv, required, provided));
}

/* The rank is looked up before, as MPI cannot tell it after. */
int MPI_Finalize(void)
{
	resolve_once();
	if (lttng_ust_tracepoint_enabled(microcosm_mpi, call_exit))
		rank_now();
	entry("MPI_Finalize", NO_COMM, NONE, NONE, 0, MPI_DATATYPE_NULL);
	return leave("MPI_Finalize", next.finalize());
}

/* ---- workload events ---- */

void mc_trace_phase(const char *workload, const char *phase)
{
	lttng_ust_tracepoint(microcosm_workload, phase, workload, phase);
}

void mc_trace_iteration(const char *workload, uint64_t n, double value)
{
	lttng_ust_tracepoint(microcosm_workload, iteration, workload, n, value);
}
