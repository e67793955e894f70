/* mc_trace.c — loads libmc-tp-harness.so on request and forwards harness events to it. */
#include "mc_trace.h"

#include "mc_trace_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifndef MC_TRACE_PROVIDER_DEFAULT
#define MC_TRACE_PROVIDER_DEFAULT "libmc-tp-harness.so" /* the loader's search path */
#endif

/* The provider's functions, as looked up by name. */
struct tp_fns {
	__typeof__(mc_tp_guest_state) *guest_state;
	__typeof__(mc_tp_agent_exec) *agent_exec;
	__typeof__(mc_tp_agent_exit) *agent_exit;
	__typeof__(mc_tp_fault_planned) *fault_planned;
	__typeof__(mc_tp_fault_injected) *fault_injected;
	__typeof__(mc_tp_fault_detected) *fault_detected;
};

/*
 * Process-wide by nature (one LTTng registration per process): the table is
 * filled once under the lock, then published; emitters only read the
 * published pointer, so they never see a half-filled table.
 */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tp_fns fns;                   /* written once, before publishing */
static _Atomic(const struct tp_fns *) live; /* NULL until the provider is loaded */

int mc_trace_open_path(const char *path)
{
	struct tp_fns t;
	void *lib;
	int rc = 0;

	pthread_mutex_lock(&open_lock);
	if (atomic_load(&live))
		goto out;
	if (!path)
		path = getenv("MC_TRACE_PROVIDER");
	if (!path || !*path)
		path = MC_TRACE_PROVIDER_DEFAULT;
	/* RTLD_LOCAL: nothing else in the process should bind to the provider. */
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		rc = -ENOENT;
		goto out;
	}
	t.guest_state = (__typeof__(t.guest_state))dlsym(lib, "mc_tp_guest_state");
	t.agent_exec = (__typeof__(t.agent_exec))dlsym(lib, "mc_tp_agent_exec");
	t.agent_exit = (__typeof__(t.agent_exit))dlsym(lib, "mc_tp_agent_exit");
	t.fault_planned = (__typeof__(t.fault_planned))dlsym(lib, "mc_tp_fault_planned");
	t.fault_injected = (__typeof__(t.fault_injected))dlsym(lib, "mc_tp_fault_injected");
	t.fault_detected = (__typeof__(t.fault_detected))dlsym(lib, "mc_tp_fault_detected");
	if (!t.guest_state || !t.agent_exec || !t.agent_exit || !t.fault_planned ||
	    !t.fault_injected || !t.fault_detected) {
		/* Not our provider. Left loaded: lttng-ust may have registered it
		 * already, and unloading a registered provider is not safe. */
		rc = -ENOSYS;
		goto out;
	}
	fns = t;
	atomic_store(&live, &fns);
out:
	pthread_mutex_unlock(&open_lock);
	return rc;
}

int mc_trace_open(void)
{
	const char *want = getenv("MC_TRACE");

	if (!want || strcmp(want, "1") != 0)
		return 0;
	return mc_trace_open_path(NULL);
}

int mc_trace_enabled(void)
{
	return atomic_load(&live) != NULL;
}

void mc_trace_guest_state(const char *guest, const char *state, const char *reason)
{
	const struct tp_fns *f = atomic_load(&live);

	if (f)
		f->guest_state(guest, state, reason);
}

void mc_trace_agent_exec(const char *guest, uint32_t exec_id, const char *argv0)
{
	const struct tp_fns *f = atomic_load(&live);

	if (f)
		f->agent_exec(guest, exec_id, argv0);
}

void mc_trace_agent_exit(const char *guest, uint32_t exec_id, int32_t status, int32_t sig)
{
	const struct tp_fns *f = atomic_load(&live);

	if (f)
		f->agent_exit(guest, exec_id, status, sig);
}

void mc_trace_fault_planned(const char *name, const char *kind, const char *guests,
                            int64_t planned_ms)
{
	const struct tp_fns *f = atomic_load(&live);

	if (f)
		f->fault_planned(name, kind, guests, planned_ms);
}

void mc_trace_fault_injected(const char *name, const char *kind, const char *guest,
                             const char *outcome, int64_t delay_ms)
{
	const struct tp_fns *f = atomic_load(&live);

	if (f)
		f->fault_injected(name, kind, guest, outcome, delay_ms);
}

void mc_trace_fault_detected(const char *guest, const char *fault, int64_t latency_ms)
{
	const struct tp_fns *f = atomic_load(&live);

	if (f)
		f->fault_detected(guest, fault, latency_ms);
}
