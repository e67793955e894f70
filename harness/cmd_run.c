/* cmd_run.c — `microcosm run FILE.yaml`: an experiment end to end (harness/run.c). */
#include <limits.h>
#include <stdio.h>

#include "commands.h"
#include "experiment.h"
#include "run.h"

int cmd_run(int argc, char **argv)
{
	struct mc_run_opts o;
	struct mc_experiment *e;
	char err[1024], rundir[PATH_MAX] = "";
	int r = mc_cli_parse_run(argc, argv, &o);

	if (r)
		return r > 0 ? 0 : 2;
	e = mc_experiment_load(o.file, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	r = mc_run_experiment(e, &o, rundir);
	mc_experiment_destroy(&e);
	return r;
}
