/* cmd_mpirun.c — `microcosm mpirun`: an MPI program across the ready guests (Hydra). */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "mpirun.h"

int cmd_mpirun(int argc, char **argv)
{
	struct mc_mpirun_opts o;
	struct mc_mpirun_spec s = {0};
	struct mc_mpirun_result res;
	int r = mc_cli_parse_mpirun(argc, argv, &o);

	if (r)
		return r > 0 ? 0 : 2;
	s.c = &o.c;
	s.ranks = o.ranks;
	s.ppn = o.ppn;
	s.hosts = o.hosts;
	s.timeout_ms = o.timeout_ms;
	s.wdir = o.wdir;
	s.envc = o.envc;
	s.env = o.env;
	s.xargc = o.xargc;
	s.xargv = o.xargv;
	s.argc = o.argc;
	s.argv = o.argv;
	s.out_fd = s.err_fd = -1;
	if (mc_mpirun(&s, &res) < 0) {
		fprintf(stderr, "microcosm mpirun: %s\n", res.failure);
		return 2;
	}
	if (res.status != 0) {
		fprintf(stderr, "microcosm mpirun: job failed: %s\n", res.failure);
		return res.status;
	}
	fprintf(stderr, "mpirun: %u ranks on %u guests finished in %.2f s\n", res.ranks, res.guests,
	        res.seconds);
	return 0;
}
