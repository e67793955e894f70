/* tp_harness_fns.c — libmc-tp-harness.so's exported functions, one per microcosm_harness event. */
#include "mc_trace_internal.h"

#include "mc_tp_harness.h"

void mc_tp_guest_state(const char *guest, const char *state, const char *reason)
{
	lttng_ust_tracepoint(microcosm_harness, guest_state, guest, state, reason);
}

void mc_tp_agent_exec(const char *guest, uint32_t exec_id, const char *argv0)
{
	lttng_ust_tracepoint(microcosm_harness, agent_exec, guest, exec_id, argv0);
}

void mc_tp_agent_exit(const char *guest, uint32_t exec_id, int32_t status, int32_t sig)
{
	lttng_ust_tracepoint(microcosm_harness, agent_exit, guest, exec_id, status, sig);
}

void mc_tp_fault_planned(const char *name, const char *kind, const char *guests, int64_t planned_ms)
{
	lttng_ust_tracepoint(microcosm_harness, fault_planned, name, kind, guests, planned_ms);
}

void mc_tp_fault_injected(const char *name, const char *kind, const char *guest,
                          const char *outcome, int64_t delay_ms)
{
	lttng_ust_tracepoint(microcosm_harness, fault_injected, name, kind, guest, outcome,
	                     delay_ms);
}

void mc_tp_fault_detected(const char *guest, const char *fault, int64_t latency_ms)
{
	lttng_ust_tracepoint(microcosm_harness, fault_detected, guest, fault, latency_ms);
}
