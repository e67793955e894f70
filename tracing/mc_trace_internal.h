/* mc_trace_internal.h — what libmc-tp-harness.so exports, for mc_trace.c to look up by name. */
#ifndef MC_TRACE_INTERNAL_H
#define MC_TRACE_INTERNAL_H

#include <stdint.h>

/*
 * One function per microcosm_harness event (mc_tp_harness.h), same arguments in
 * the same order. Defined in tp_harness_fns.c; mc_trace.c finds them with
 * dlsym() under these names, so renaming one is an ABI change of the library.
 * Strings are borrowed for the call; NULL is recorded as "(null)".
 */
void mc_tp_guest_state(const char *guest, const char *state, const char *reason);
void mc_tp_agent_exec(const char *guest, uint32_t exec_id, const char *argv0);
void mc_tp_agent_exit(const char *guest, uint32_t exec_id, int32_t status, int32_t sig);
void mc_tp_fault_planned(const char *name, const char *kind, const char *guests,
                         int64_t planned_ms);
void mc_tp_fault_injected(const char *name, const char *kind, const char *guest,
                          const char *outcome, int64_t delay_ms);
void mc_tp_fault_detected(const char *guest, const char *fault, int64_t latency_ms);

#endif
