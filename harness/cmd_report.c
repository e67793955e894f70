/* cmd_report.c — `microcosm report [-o FILE] RUN`: one HTML page of a run, via reports/report.py.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

#ifndef MC_REPORT_SCRIPTS_DIR
#error "MC_REPORT_SCRIPTS_DIR must name the folder holding report.py"
#endif

/* The MPI plot imports tracing/summary.py, which needs Debian's python3-bt2: a python
 * first on PATH may not have it. */
#define MC_REPORT_PYTHON "/usr/bin/python3"

const char mc_report_usage[] =
        "usage: microcosm report [-o FILE] RUN\n"
        "Writes one self-contained HTML page about the run directory RUN (RUN/report.html\n"
        "unless -o says otherwise) and prints its path. No scripts, no network: the plots\n"
        "are inline SVG.\n"
        "  header      experiment, status (a dead 'running' run is 'unfinished'), times,\n"
        "              seeds, versions, host, timings; workloads and metrics (summary.json)\n"
        "  plots       guests ready over time; boot and clone times; one row per guest\n"
        "              coloured by state, faults and detections marked; time per operation\n"
        "              by message size (bars for workloads without sizes); MPI time per\n"
        "              rank and call when RUN/trace exists. Missing data: 'not recorded'.\n"
        "  -o, --output FILE  write the page to FILE instead\n"
        "  -h, --help  this text\n"
        "Runs " MC_REPORT_PYTHON
        " on report.py in $MC_REPORT_SCRIPTS (default " MC_REPORT_SCRIPTS_DIR ").\n";

/* What the command line asks for; filled by parse(), which does nothing else. */
struct report_opts {
	const char *out; /* -o FILE, or NULL for RUN/report.html; borrowed from argv */
	int help;        /* -h/--help: print usage, do nothing else */
	const char *run; /* run directory; borrowed from argv */
};

/* Returns 0, or 2 after printing why the command line is wrong. */
static int parse(int argc, char **argv, struct report_opts *o)
{
	int dashdash = 0;

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!dashdash && a[0] == '-' && a[1]) {
			if (!strcmp(a, "--")) {
				dashdash = 1;
			} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
				o->help = 1;
			} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
				if (i + 1 >= argc || !argv[i + 1][0]) {
					fprintf(stderr, "microcosm report: %s needs a FILE\n", a);
					return 2;
				}
				o->out = argv[++i];
			} else if (!strncmp(a, "--output=", 9) && a[9]) {
				o->out = a + 9;
			} else {
				fprintf(stderr,
				        "microcosm report: unknown option '%s' (see --help)\n", a);
				return 2;
			}
		} else if (o->run) {
			fprintf(stderr, "microcosm report: one RUN only ('%s' is extra)\n", a);
			return 2;
		} else {
			o->run = a;
		}
	}
	if (!o->help && !o->run) {
		fprintf(stderr, "microcosm report: no RUN directory given (see --help)\n");
		return 2;
	}
	return 0;
}

int cmd_report(int argc, char **argv)
{
	char manifest[PATH_MAX];
	struct report_opts o;
	char *args[7];
	int n = 0, rc;

	rc = parse(argc, argv, &o);
	if (rc)
		return rc;
	if (o.help) {
		fputs(mc_report_usage, stdout);
		return 0;
	}
	if (!mc_is_dir(o.run)) {
		fprintf(stderr, "microcosm report: %s: %s\n", o.run,
		        access(o.run, F_OK) ? strerror(errno) : "not a directory");
		return 1;
	}
	if ((size_t)snprintf(manifest, sizeof(manifest), "%s/manifest.json", o.run) >=
	    sizeof(manifest)) {
		fprintf(stderr, "microcosm report: %s: path too long\n", o.run);
		return 1;
	}
	if (access(manifest, R_OK) < 0) {
		fprintf(stderr, "microcosm report: %s: not a run directory (manifest.json: %s)\n",
		        o.run, strerror(errno));
		return 1;
	}
#ifdef MC_TRACE_SCRIPTS_DIR
	/* report.py imports summary.py from $MC_TRACE_SCRIPTS for the MPI plot. */
	if (setenv("MC_TRACE_SCRIPTS", MC_TRACE_SCRIPTS_DIR, 0) < 0) {
		fprintf(stderr, "microcosm report: setenv: %s\n", strerror(errno));
		return 1;
	}
#endif
	if (o.out) {
		args[n++] = "-o";
		args[n++] = (char *)o.out;
	}
	args[n++] = "--";
	args[n++] = (char *)o.run;
	args[n] = NULL;
	return mc_exec_python("microcosm report", MC_REPORT_PYTHON, "MC_REPORT_SCRIPTS",
	                      MC_REPORT_SCRIPTS_DIR, "report.py", args);
}
