/* taskfarm.c — mc-taskfarm: a ZeroMQ task farm (a non-MPI workload), one role per subcommand. */
#include <stdio.h>
#include <string.h>

#include "coordinator.h"
#include "tf_log.h"
#include "worker.h"

#ifndef MC_VERSION
#define MC_VERSION "dev" /* the top-level build defines it */
#endif

static enum mc_tf_log_level level_of(int verbosity)
{
	return verbosity < 0 ? MC_TF_LOG_WARN : verbosity > 0 ? MC_TF_LOG_DEBUG : MC_TF_LOG_INFO;
}

static int cmd_coordinator(int argc, char **argv)
{
	struct mc_tf_coord_opts o;
	int rc = mc_tf_coord_parse(argc, argv, &o);

	if (rc)
		return rc > 0 ? 0 : 2;
	mc_tf_log_setup(level_of(o.verbosity), "coordinator");
	return mc_tf_coord_run(&o);
}

static int cmd_worker(int argc, char **argv)
{
	struct mc_tf_worker_opts o;
	char who[96];
	int rc = mc_tf_worker_parse(argc, argv, &o);

	if (rc)
		return rc > 0 ? 0 : 2;
	snprintf(who, sizeof(who), "worker %s", o.id);
	mc_tf_log_setup(level_of(o.verbosity), who);
	return mc_tf_worker_run(&o);
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} roles[] = {
        {"coordinator", cmd_coordinator, "hand out tasks, verify results, re-issue lost work"},
        {"worker", cmd_worker, "compute tasks for a coordinator"},
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: mc-taskfarm ROLE [options]   (mc-taskfarm ROLE --help for each)\n\n");
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		fprintf(fp, "  %-12s %s\n", roles[i].name, roles[i].summary);
	fprintf(fp,
	        "\nA ZeroMQ task farm: workers ask the coordinator for tasks on credit and\n"
	        "heartbeat; the tasks of a worker silent for longer than the lease go to others.\n"
	        "The coordinator prints one JSON line with the run's counts on stdout.\n"
	        "Example: mc-taskfarm coordinator --bind tcp://*:7100 --tasks 1000 &\n"
	        "         mc-taskfarm worker --connect tcp://10.77.0.1:7100   (on each guest)\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("mc-taskfarm %s (protocol %d)\n", MC_VERSION, MC_TF_WIRE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (!strcmp(argv[1], roles[i].name))
			return roles[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "mc-taskfarm: unknown role '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
