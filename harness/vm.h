/* vm.h — the guest state machine: states, events and the allowed transitions. */
#ifndef MC_VM_H
#define MC_VM_H

/*
 * defined -> booting -> ready <-> busy, ready|busy <-> paused,
 * any live state -> stopping -> stopped, any live state -> failed.
 */
enum mc_vm_state {
	MC_VM_DEFINED = 0, /* described, nothing created yet */
	MC_VM_BOOTING,     /* QEMU started, waiting for the agent's HELLO */
	MC_VM_READY,       /* agent connected, idle */
	MC_VM_BUSY,        /* agent running at least one command */
	MC_VM_PAUSED,      /* vCPUs stopped on request (QMP stop) */
	MC_VM_STOPPING,    /* shutdown requested, waiting for QEMU to exit */
	MC_VM_STOPPED,     /* QEMU exited on request */
	MC_VM_FAILED,      /* crashed, timed out or lost its heartbeat */
	MC_VM_NSTATES
};

enum mc_vm_event {
	MC_VM_EV_START = 0, /* QEMU process spawned */
	MC_VM_EV_HELLO,     /* agent said HELLO */
	MC_VM_EV_EXEC,      /* a command was sent to the agent */
	MC_VM_EV_IDLE,      /* the last running command finished */
	MC_VM_EV_PAUSE,     /* vCPUs stopped */
	MC_VM_EV_RESUME,    /* vCPUs running again */
	MC_VM_EV_STOP,      /* shutdown requested */
	MC_VM_EV_EXITED,    /* QEMU process exited */
	MC_VM_EV_TIMEOUT,   /* boot deadline or heartbeat deadline passed */
	MC_VM_EV_ERROR,     /* anything else fatal (spawn failure, QMP lost) */
	MC_VM_NEVENTS
};

/*
 * Computes the state after event ev in state s. Returns 0 and sets *next,
 * or -EINVAL when the event is not allowed in that state (the caller keeps
 * the state and logs). RESUME returns to READY; the caller re-applies EXEC
 * when commands are still running.
 */
int mc_vm_next(enum mc_vm_state s, enum mc_vm_event ev, enum mc_vm_state *next);

/* Whether a guest in state s has a QEMU process that should be running. */
int mc_vm_state_live(enum mc_vm_state s);

/* Lowercase names for tables and JSON ("ready"); "?" when out of range. */
const char *mc_vm_state_name(enum mc_vm_state s);
const char *mc_vm_event_name(enum mc_vm_event ev);

/* Parses a state name; returns the state or -1. */
int mc_vm_state_parse(const char *name);

#endif
