/* worker.h — the task farm's worker role: options, and the run itself. */
#ifndef MC_TF_WORKER_H
#define MC_TF_WORKER_H

#include <stdint.h>

#include "tf_wire.h"

struct mc_tf_worker_opts {
	char connect[256];                /* coordinator's ZeroMQ endpoint */
	char id[MC_TF_WIRE_MAX_NAME + 1]; /* worker name; default <hostname>-<pid> */
	uint32_t slots;                   /* tasks held at once, 1..MC_TF_WIRE_MAX_SLOTS */
	uint32_t give_up_s;               /* s without a word from the coordinator -> exit 3 */
	int verbosity;                    /* -1 quiet (warnings and errors), 0 info, 1 debug */
};

/* Exit status when the coordinator stayed unreachable for --give-up-s. */
#define MC_TF_WORKER_EXIT_UNREACHABLE 3

/* --help text of the role. */
extern const char mc_tf_worker_usage[];

/* Fills *o from argv (argv[0] is the role name). Performs no actions. Returns 0,
 * 1 if --help was printed, or -EINVAL after printing a message that names the
 * offending option to stderr. */
int mc_tf_worker_parse(int argc, char **argv, struct mc_tf_worker_opts *o);

/* Joins the coordinator, asks for up to o->slots tasks at a time, computes them
 * in short chunks between polls (so heartbeats go out on time) and returns the
 * results. Returns the process exit code: 0 when the coordinator said STOP,
 * MC_TF_WORKER_EXIT_UNREACHABLE when it was silent for o->give_up_s, 1 on a
 * local error. o is borrowed for the call. */
int mc_tf_worker_run(const struct mc_tf_worker_opts *o);

#endif
