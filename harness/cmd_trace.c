/* cmd_trace.c — `microcosm trace summary|align RUN`: a run's LTTng traces, via tracing/ scripts. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

#ifndef MC_TRACE_SCRIPTS_DIR
#error "MC_TRACE_SCRIPTS_DIR must name the folder holding summary.py and align.py"
#endif

/* Debian's python3 has the bt2 module (python3-bt2); a python first on PATH may not. */
#define MC_TRACE_PYTHON "/usr/bin/python3"

const char mc_trace_usage[] =
        "usage: microcosm trace summary [--json] RUN\n"
        "       microcosm trace align RUN\n"
        "Reads the LTTng traces a traced run left in RUN/trace (the host's and one per\n"
        "guest) with the guests' clock offsets from RUN/trace/clock-offsets.json.\n"
        "  summary     MPI time per rank and call, message sizes per call (power-of-two\n"
        "              bins), the fault timeline beside workload progress, all on the\n"
        "              host's clock, and a check that the merged events are in order\n"
        "      --json  the same as one JSON object\n"
        "  align       rewrites each guest trace's metadata clock offset so that\n"
        "              babeltrace2 and Trace Compass show one timeline without options;\n"
        "              keeps the original as .metadata.orig; running it again changes\n"
        "              nothing. Run it after the run has ended.\n"
        "  -h, --help  this text\n"
        "Runs " MC_TRACE_PYTHON " (needs python3-bt2) on summary.py or align.py in\n"
        "$MC_TRACE_SCRIPTS (default " MC_TRACE_SCRIPTS_DIR ").\n";

/* What the command line asks for; filled by parse(), which does nothing else. */
struct trace_opts {
	const char *script; /* "summary.py" or "align.py" */
	int json;           /* summary --json */
	int help;           /* -h/--help: print usage, do nothing else */
	const char *run;    /* run directory; borrowed from argv */
};

/* Returns 0, or 2 after printing why the command line is wrong. */
static int parse(int argc, char **argv, struct trace_opts *o)
{
	int summary, dashdash = 0;

	memset(o, 0, sizeof(*o));
	if (argc < 2) {
		fprintf(stderr, "microcosm trace: no subcommand (summary or align; see --help)\n");
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		o->help = 1;
		return 0;
	}
	summary = !strcmp(argv[1], "summary");
	if (!summary && strcmp(argv[1], "align")) {
		fprintf(stderr, "microcosm trace: unknown subcommand '%s' (see --help)\n", argv[1]);
		return 2;
	}
	o->script = summary ? "summary.py" : "align.py";
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (!dashdash && a[0] == '-' && a[1]) {
			if (!strcmp(a, "--")) {
				dashdash = 1;
			} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
				o->help = 1;
			} else if (summary && !strcmp(a, "--json")) {
				o->json = 1;
			} else {
				fprintf(stderr,
				        "microcosm trace %s: unknown option '%s' (see --help)\n",
				        argv[1], a);
				return 2;
			}
		} else if (o->run) {
			fprintf(stderr, "microcosm trace %s: one RUN only ('%s' is extra)\n",
			        argv[1], a);
			return 2;
		} else {
			o->run = a;
		}
	}
	if (!o->help && !o->run) {
		fprintf(stderr, "microcosm trace %s: no RUN directory given (see --help)\n",
		        argv[1]);
		return 2;
	}
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	char trace_dir[PATH_MAX];
	struct trace_opts o;
	char *args[5];
	int n = 0, rc;

	rc = parse(argc, argv, &o);
	if (rc)
		return rc;
	if (o.help) {
		fputs(mc_trace_usage, stdout);
		return 0;
	}
	if (!mc_is_dir(o.run)) {
		fprintf(stderr, "microcosm trace: %s: not a run directory\n", o.run);
		return 1;
	}
	if ((size_t)snprintf(trace_dir, sizeof(trace_dir), "%s/trace", o.run) >=
	            sizeof(trace_dir) ||
	    !mc_is_dir(trace_dir)) {
		fprintf(stderr,
		        "microcosm trace: %s has no trace: run with --trace or tracing: {enabled: "
		        "true}\n",
		        o.run);
		return 1;
	}
	if (o.json)
		args[n++] = "--json";
	args[n++] = (char *)o.run;
	args[n] = NULL;
	return mc_exec_python("microcosm trace", MC_TRACE_PYTHON, "MC_TRACE_SCRIPTS",
	                      MC_TRACE_SCRIPTS_DIR, o.script, args);
}
