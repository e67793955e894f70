/* mc_tp_workload.h — LTTng-UST provider microcosm_workload: a workload's phases and results. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER microcosm_workload

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "mc_tp_workload.h"

#if !defined(MC_TP_WORKLOAD_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define MC_TP_WORKLOAD_H

#include <lttng/tracepoint.h>
#include <stdint.h>

/* One field per line reads better than any wrapping of these macros. */
/* clang-format off */

/*
 * Emitted by libmc-mpi-trace.so on behalf of the workloads, which call
 * mc_trace_phase() / mc_trace_iteration() when the library is preloaded
 * (wl_trace_phase() and wl_trace_iteration() in workloads/wl_common.h).
 */

/* The rank enters phase ("size 1024", "warmup", "run", ...) of workload ("ring"). */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_workload, phase,
	LTTNG_UST_TP_ARGS(const char *, workload, const char *, phase),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(workload, workload)
		lttng_ust_field_string(phase, phase)
	)
)

/* One measurement: n says which (mc-ring, mc-allreduce: the message size in bytes),
 * value what was measured (there: the median time in microseconds). */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_workload, iteration,
	LTTNG_UST_TP_ARGS(const char *, workload, uint64_t, n, double, value),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(workload, workload)
		lttng_ust_field_integer(uint64_t, n, n)
		lttng_ust_field_float(double, value, value)
	)
)
/* clang-format on */

#endif /* MC_TP_WORKLOAD_H */

#include <lttng/tracepoint-event.h>
