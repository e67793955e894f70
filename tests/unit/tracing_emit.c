/* tracing_emit.c — for test_tracing.sh: checks mc_trace.h's opening rules, then emits every
 * microcosm_harness event once with known values. Exit 0 when the API behaved. */
#include "mc_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints a failed expectation with both values; the caller returns 1. */
static int differ(const char *what, long long got, long long want)
{
	if (got == want)
		return 0;
	fprintf(stderr, "tracing_emit: %s: got %lld, want %lld\n", what, got, want);
	return 1;
}

/* Whether this process has mapped a library whose name contains name. */
static int mapped(const char *name)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

/* Emits every event with arguments the test recognises; tag says which pass. */
static void emit_all(const char *tag)
{
	char guest[32];

	snprintf(guest, sizeof(guest), "%s-7", tag);
	mc_trace_guest_state(guest, "ready", "booted in 1.5 s");
	mc_trace_agent_exec(guest, 42, "/bin/true");
	mc_trace_agent_exit(guest, 42, -1, 9);
	mc_trace_fault_planned("cut", "net-partition", "vm-[0-3]", 1500);
	mc_trace_fault_injected("cut", "net-partition", guest, "ok", -12);
	mc_trace_fault_detected(guest, "net-partition", 4294967296LL);
}

int main(void)
{
	const char *provider = getenv("MC_TRACE_PROVIDER");
	int bad = 0;

	/* Not asked for: nothing loaded, the events are no-ops. */
	unsetenv("MC_TRACE");
	bad |= differ("mc_trace_open() without MC_TRACE", mc_trace_open(), 0);
	bad |= differ("mc_trace_enabled() without MC_TRACE", mc_trace_enabled(), 0);
	emit_all("off");
	bad |= differ("liblttng-ust mapped without MC_TRACE", mapped("liblttng-ust"), 0);

	/* Asked for, but the library is missing: an error code, still off. */
	setenv("MC_TRACE", "1", 1);
	setenv("MC_TRACE_PROVIDER", "/nonexistent/libmc-tp-harness.so", 1);
	bad |= differ("mc_trace_open() with a missing provider", mc_trace_open(), -ENOENT);
	bad |= differ("mc_trace_enabled() with a missing provider", mc_trace_enabled(), 0);
	emit_all("missing");

	/* Asked for: the caller's MC_TRACE_PROVIDER, or the build's library. */
	if (provider)
		setenv("MC_TRACE_PROVIDER", provider, 1);
	else
		unsetenv("MC_TRACE_PROVIDER");
	bad |= differ("mc_trace_open() with MC_TRACE=1", mc_trace_open(), 0);
	bad |= differ("mc_trace_enabled() with MC_TRACE=1", mc_trace_enabled(), 1);
	bad |= differ("liblttng-ust mapped with MC_TRACE=1", mapped("liblttng-ust"), 1);
	bad |= differ("mc_trace_open() again", mc_trace_open(), 0);
	emit_all("vm");
	return bad;
}
