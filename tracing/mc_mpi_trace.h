/* mc_mpi_trace.h — what libmc-mpi-trace.so exports besides the MPI calls it wraps. */
#ifndef MC_MPI_TRACE_H
#define MC_MPI_TRACE_H

#include <stdint.h>

/*
 * libmc-mpi-trace.so is preloaded into MPI ranks:
 *
 *   mpiexec -n 4 env LD_PRELOAD="$BIN/libmc-mpi-trace.so $BIN/libmc-mpi-preload.so" prog
 *
 * It records every call of MPI_Send, MPI_Recv, MPI_Isend, MPI_Irecv, MPI_Wait,
 * MPI_Waitall, MPI_Sendrecv, MPI_Barrier, MPI_Bcast, MPI_Reduce, MPI_Allreduce,
 * MPI_Allgather, MPI_Alltoall, MPI_Gather, MPI_Scatter, MPI_Init,
 * MPI_Init_thread and MPI_Finalize as microcosm_mpi:call_entry and
 * microcosm_mpi:call_exit (mc_tp_mpi.h), then passes the call on to the next
 * definition in load order (dlsym(RTLD_NEXT)): libmc-mpi-preload.so's wrapper
 * when that is preloaded after it, else MPICH. Listed the other way round, the
 * preload's wrappers call PMPI_* directly and nothing is recorded.
 *
 * Programs need not link it: the workloads find the two functions below with
 * dlsym(RTLD_DEFAULT) (wl_trace_phase(), wl_trace_iteration()).
 */

/* Emits microcosm_workload:phase. Both strings are borrowed for the call. */
void mc_trace_phase(const char *workload, const char *phase);

/* Emits microcosm_workload:iteration: measurement n of workload, its value. */
void mc_trace_iteration(const char *workload, uint64_t n, double value);

#endif
