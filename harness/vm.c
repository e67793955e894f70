/* vm.c — the guest state machine's transition table. */
#include "vm.h"

#include <errno.h>
#include <string.h>

#define X (-1) /* not allowed */

/* next[state][event] */
static const signed char transitions[MC_VM_NSTATES][MC_VM_NEVENTS] = {
        /*               START          HELLO        EXEC        IDLE        PAUSE         RESUME
           STOP             EXITED         TIMEOUT        ERROR */
        [MC_VM_DEFINED] = {MC_VM_BOOTING, X, X, X, X, X, MC_VM_STOPPED, X, X, MC_VM_FAILED},
        [MC_VM_BOOTING] = {X, MC_VM_READY, X, X, MC_VM_PAUSED, X, MC_VM_STOPPING, MC_VM_FAILED,
                           MC_VM_FAILED, MC_VM_FAILED},
        [MC_VM_READY] = {X, MC_VM_READY, MC_VM_BUSY, MC_VM_READY, MC_VM_PAUSED, X, MC_VM_STOPPING,
                         MC_VM_FAILED, MC_VM_FAILED, MC_VM_FAILED},
        [MC_VM_BUSY] = {X, MC_VM_READY, MC_VM_BUSY, MC_VM_READY, MC_VM_PAUSED, X, MC_VM_STOPPING,
                        MC_VM_FAILED, MC_VM_FAILED, MC_VM_FAILED},
        [MC_VM_PAUSED] = {X, X, X, MC_VM_PAUSED, MC_VM_PAUSED, MC_VM_READY, MC_VM_STOPPING,
                          MC_VM_FAILED, X, MC_VM_FAILED},
        [MC_VM_STOPPING] = {X, X, X, MC_VM_STOPPING, X, X, MC_VM_STOPPING, MC_VM_STOPPED,
                            MC_VM_FAILED, MC_VM_FAILED},
        [MC_VM_STOPPED] = {X, X, X, X, X, X, MC_VM_STOPPED, MC_VM_STOPPED, X, X},
        [MC_VM_FAILED] = {X, X, X, X, X, X, MC_VM_FAILED, MC_VM_FAILED, X, MC_VM_FAILED},
};

int mc_vm_next(enum mc_vm_state s, enum mc_vm_event ev, enum mc_vm_state *next)
{
	signed char n;

	if ((unsigned)s >= MC_VM_NSTATES || (unsigned)ev >= MC_VM_NEVENTS)
		return -EINVAL;
	n = transitions[s][ev];
	if (n == X)
		return -EINVAL;
	*next = (enum mc_vm_state)n;
	return 0;
}

int mc_vm_state_live(enum mc_vm_state s)
{
	return s == MC_VM_BOOTING || s == MC_VM_READY || s == MC_VM_BUSY || s == MC_VM_PAUSED ||
	       s == MC_VM_STOPPING;
}

static const char *const state_names[MC_VM_NSTATES] = {
        "defined", "booting", "ready", "busy", "paused", "stopping", "stopped", "failed",
};

static const char *const event_names[MC_VM_NEVENTS] = {
        "start", "hello", "exec", "idle", "pause", "resume", "stop", "exited", "timeout", "error",
};

const char *mc_vm_state_name(enum mc_vm_state s)
{
	return (unsigned)s < MC_VM_NSTATES ? state_names[s] : "?";
}

const char *mc_vm_event_name(enum mc_vm_event ev)
{
	return (unsigned)ev < MC_VM_NEVENTS ? event_names[ev] : "?";
}

int mc_vm_state_parse(const char *name)
{
	for (int i = 0; i < MC_VM_NSTATES; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}
