/* mc_trace_selftest_tp.c — probes of the `mc_trace_selftest` provider (one per binary). */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "mc_trace_selftest_tp.h"
