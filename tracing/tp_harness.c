/* tp_harness.c — probes and tracepoint definitions of microcosm_harness (libmc-tp-harness.so). */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "mc_tp_harness.h"
