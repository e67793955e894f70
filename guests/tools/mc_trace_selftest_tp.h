/* mc_trace_selftest_tp.h — LTTng-UST provider `mc_trace_selftest` of mc-trace-selftest. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER mc_trace_selftest

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./mc_trace_selftest_tp.h"

#if !defined(MC_TRACE_SELFTEST_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define MC_TRACE_SELFTEST_TP_H

#include <lttng/tracepoint.h>

/* One event per call: its sequence number in the run and how many the run emits. */
/* clang-format off */
LTTNG_UST_TRACEPOINT_EVENT(mc_trace_selftest, hello,
	LTTNG_UST_TP_ARGS(int, seq, int, count, const char *, host),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(int, seq, seq)
		lttng_ust_field_integer(int, count, count)
		lttng_ust_field_string(host, host)
	)
)
/* clang-format on */

#endif

#include <lttng/tracepoint-event.h>
