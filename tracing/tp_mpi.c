/* tp_mpi.c — probes and tracepoint definitions of microcosm_mpi and microcosm_workload
 * (libmc-mpi-trace.so). */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "mc_tp_mpi.h"
#include "mc_tp_workload.h"
