/* run.h — running an experiment file end to end: cluster, network, workloads, results
 * directory. */
#ifndef MC_RUN_H
#define MC_RUN_H

#include <limits.h>
#include <stdint.h>

#include "cli.h"
#include "experiment.h"

struct mc_run_opts {
	struct mc_common_opts c; /* cluster name (default run<pid>) and state root */
	char file[PATH_MAX];     /* the experiment file */
	char results[PATH_MAX];  /* --results: overrides the file's results.dir; "" = keep */
	uint64_t seed;           /* --seed, when seed_set */
	int seed_set;
	int keep;    /* --keep: leave the cluster up after the run */
	int dry_run; /* --dry-run: check the file and print the resolved spec, start nothing */
	int trace;   /* --trace: LTTng traces in the run directory (as tracing.enabled) */
	int cluster_given;
	char hosts[PATH_MAX];         /* --hosts: passed to `up` ("" = up's default) */
	char launcher_exec[PATH_MAX]; /* --launcher-exec: passed to `up` */
	char listen[64];              /* --listen: passed to `up` */
};

extern const char mc_run_usage[];

/* Parses `run` options (no action). Returns 0, 1 for --help, or -EINVAL. */
int mc_cli_parse_run(int argc, char **argv, struct mc_run_opts *o);

/*
 * Runs the experiment e (already loaded and checked) as o says. Writes the
 * run directory and puts its path in rundir (PATH_MAX). Returns the process
 * exit status: 0 when every workload run succeeded, 1 when one failed or the
 * run was interrupted, 2 when it could not start (nothing was left running).
 */
int mc_run_experiment(const struct mc_experiment *e, const struct mc_run_opts *o, char *rundir);

#endif
