/* coordinator.h — the task farm's coordinator role: options, and the run itself. */
#ifndef MC_TF_COORDINATOR_H
#define MC_TF_COORDINATOR_H

#include <stdint.h>

struct mc_tf_coord_opts {
	char bind[256];     /* ZeroMQ endpoint to bind, e.g. "tcp://0.0.0.0:7100" */
	uint32_t tasks;     /* tasks in the run, 1..MC_TF_COORD_MAX_TASKS */
	uint32_t task_ms;   /* ms of CPU one task should take (calibrated here) */
	uint64_t iters;     /* squarings per task; used instead of task_ms if iters_set */
	int iters_set;      /* --iters given */
	uint32_t lease_ms;  /* ms of silence after which a worker is lost */
	uint32_t timeout_s; /* s, give up after this long; 0 = never */
	uint32_t give_up_s; /* s without any live worker before giving up; 0 = never */
	uint64_t seed;      /* run seed (tasks and modulus derive from it) */
	int verbosity;      /* -1 quiet (warnings and errors), 0 info, 1 debug */
};

#define MC_TF_COORD_MAX_TASKS 10000000u

/* --help text of the role. */
extern const char mc_tf_coord_usage[];

/* Fills *o from argv (argv[0] is the role name). Performs no actions. Returns 0,
 * 1 if --help was printed, or -EINVAL after printing a message that names the
 * offending option to stderr. */
int mc_tf_coord_parse(int argc, char **argv, struct mc_tf_coord_opts *o);

/* Runs the farm: binds, hands out o->tasks tasks, verifies results, re-issues the
 * tasks of workers silent for longer than the lease, tells workers to stop and
 * prints one JSON line on stdout. Returns the process exit code: 0 when every
 * task was done, 1 when it gave up (timeout, no workers, signal) or could not
 * start. o is borrowed for the call. */
int mc_tf_coord_run(const struct mc_tf_coord_opts *o);

#endif
