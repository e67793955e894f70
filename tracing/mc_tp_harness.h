/* mc_tp_harness.h — LTTng-UST provider microcosm_harness: guest states, agent commands, faults. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER microcosm_harness

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "mc_tp_harness.h"

#if !defined(MC_TP_HARNESS_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define MC_TP_HARNESS_H

#include <lttng/tracepoint.h>
#include <stdint.h>

/* One field per line reads better than any wrapping of these macros. */
/* clang-format off */

/*
 * Emitted by the host side (the `microcosm` CLI and controller) through
 * libmc-tp-harness.so, never directly: harness code calls mc_trace.h.
 */

/* A guest changed state: "booting", "ready", "busy", "paused", "stopping",
 * "stopped" or "failed"; reason says why ("" when there is nothing to add). */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_harness, guest_state,
	LTTNG_UST_TP_ARGS(const char *, guest, const char *, state, const char *, reason),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(guest, guest)
		lttng_ust_field_string(state, state)
		lttng_ust_field_string(reason, reason)
	)
)

/* The guest's agent started command exec_id (unique per guest); argv0 is its program. */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_harness, agent_exec,
	LTTNG_UST_TP_ARGS(const char *, guest, uint32_t, exec_id, const char *, argv0),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(guest, guest)
		lttng_ust_field_integer(uint32_t, exec_id, exec_id)
		lttng_ust_field_string(argv0, argv0)
	)
)

/* Command exec_id ended: exit status (or -1), terminating signal number (or 0). */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_harness, agent_exit,
	LTTNG_UST_TP_ARGS(const char *, guest, uint32_t, exec_id, int32_t, status, int32_t, sig),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(guest, guest)
		lttng_ust_field_integer(uint32_t, exec_id, exec_id)
		lttng_ust_field_integer(int32_t, status, status)
		lttng_ust_field_integer(int32_t, signal, sig)
	)
)

/* A fault plan scheduled fault name of kind (e.g. "net-partition") on guests (a
 * list or pattern as written in the plan) at planned_ms after the run started. */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_harness, fault_planned,
	LTTNG_UST_TP_ARGS(
		const char *, name,
		const char *, kind,
		const char *, guests,
		int64_t, planned_ms
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(name, name)
		lttng_ust_field_string(kind, kind)
		lttng_ust_field_string(guests, guests)
		lttng_ust_field_integer(int64_t, planned_ms, planned_ms)
	)
)

/* Fault name was injected into one guest; outcome is "ok" or what went wrong;
 * delay_ms is how late the injection came against the plan (ms). */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_harness, fault_injected,
	LTTNG_UST_TP_ARGS(
		const char *, name,
		const char *, kind,
		const char *, guest,
		const char *, outcome,
		int64_t, delay_ms
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(name, name)
		lttng_ust_field_string(kind, kind)
		lttng_ust_field_string(guest, guest)
		lttng_ust_field_string(outcome, outcome)
		lttng_ust_field_integer(int64_t, delay_ms, delay_ms)
	)
)

/* The harness noticed fault in guest, latency_ms after it was injected. */
LTTNG_UST_TRACEPOINT_EVENT(microcosm_harness, fault_detected,
	LTTNG_UST_TP_ARGS(const char *, guest, const char *, fault, int64_t, latency_ms),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(guest, guest)
		lttng_ust_field_string(fault, fault)
		lttng_ust_field_integer(int64_t, latency_ms, latency_ms)
	)
)
/* clang-format on */

#endif /* MC_TP_HARNESS_H */

#include <lttng/tracepoint-event.h>
