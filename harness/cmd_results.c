/* cmd_results.c — `microcosm results ls|show|reindex`: the catalog of runs (catalog.c). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "commands.h"
#include "util.h"

#define MC_RESULTS_MAX_FILTERS 32

const char mc_results_usage[] =
        "usage: microcosm results ls [-r ROOT] [--filter EXPR]... [--json]\n"
        "       microcosm results show [-r ROOT] [--json] RUN\n"
        "       microcosm results reindex [ROOT]\n"
        "The catalog of runs: ROOT/" MC_CATALOG_FILE " indexes every run directory under\n"
        "ROOT (default runs, the default results.dir); `microcosm run` keeps it up to date.\n"
        "  ls              one line per run, newest first: id, status, started, guests,\n"
        "                  workload repetitions ok/failed, faults injected/detected, name;\n"
        "                  builds the catalog first when ROOT has runs but no catalog yet\n"
        "      --filter EXPR  keeps the runs where KEY OP VALUE holds (repeat it: all must\n"
        "                  hold). OP: = != < <= > >= or ~ (VALUE is a substring). KEY: a\n"
        "                  column (id, name, status, started, ended, seed, fault_seed,\n"
        "                  guests, workloads, ok_reps, failed_reps, faults_injected,\n"
        "                  failures_detected, traced, cluster, microcosm, qemu, mpich,\n"
        "                  guest_kernel, hostname, error, ...) or metric:NAME, which\n"
        "                  compares that metric's median: e.g. --filter status=finished\n"
        "                  --filter 'metric:ring/8B/lap_us_median<900'\n"
        "  show RUN        one run, read from its directory (RUN: a path, or a run id under\n"
        "                  ROOT): status (finished, failed, interrupted, running, or\n"
        "                  unfinished when its process is gone), seeds, versions, host,\n"
        "                  timings, guests by state, workloads, metrics, faults, trace, and\n"
        "                  a check of its files; works on a run killed halfway\n"
        "  reindex [ROOT]  rebuilds ROOT/" MC_CATALOG_FILE " from the run directories alone\n"
        "                  (atomically) and names the ones it could not read\n"
        "  -r, --results ROOT  the results root (default runs)\n"
        "      --json      the same as JSON (ls, show)\n"
        "  -h, --help      this text\n"
        "Exit status: 0 done, 1 the catalog or RUN could not be read (RUN is not a run),\n"
        "2 a bad command line or filter.\n";

enum results_sub { SUB_LS, SUB_SHOW, SUB_REINDEX };

/* What the command line asks for; filled by parse(), which does nothing else. */
struct results_opts {
	enum results_sub sub;
	const char *root; /* results root; borrowed from argv or "runs" */
	const char *run;  /* show: RUN; borrowed from argv */
	int root_set;     /* 1: -r or reindex's ROOT was given */
	int json;         /* --json */
	int help;         /* -h/--help: print usage, do nothing else */
	size_t n_filters; /* how many in filters */
	struct mc_catalog_filter filters[MC_RESULTS_MAX_FILTERS]; /* ls --filter, in order */
};

/* Returns 0, or 2 after printing why the command line is wrong. */
static int parse(int argc, char **argv, struct results_opts *o)
{
	enum { OPT_JSON = 400, OPT_FILTER };
	static const struct option lo[] = {
	        {"results", required_argument, NULL, 'r'},
	        {"filter", required_argument, NULL, OPT_FILTER},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *sub;
	char err[1024];
	int opt;

	memset(o, 0, sizeof(*o));
	o->root = "runs";
	if (argc < 2) {
		fprintf(stderr,
		        "microcosm results: no subcommand (ls, show or reindex; see --help)\n");
		return 2;
	}
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		o->help = 1;
		return 0;
	}
	if (!strcmp(sub, "ls")) {
		o->sub = SUB_LS;
	} else if (!strcmp(sub, "show")) {
		o->sub = SUB_SHOW;
	} else if (!strcmp(sub, "reindex")) {
		o->sub = SUB_REINDEX;
	} else {
		fprintf(stderr, "microcosm results: unknown subcommand '%s' (see --help)\n", sub);
		return 2;
	}
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":r:vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'h':
			o->help = 1;
			break;
		case 'v':
			break;
		case 'r':
			o->root = optarg;
			o->root_set = 1;
			break;
		case OPT_JSON:
			if (o->sub == SUB_REINDEX) {
				fprintf(stderr, "microcosm results reindex: no --json\n");
				return 2;
			}
			o->json = 1;
			break;
		case OPT_FILTER:
			if (o->sub != SUB_LS) {
				fprintf(stderr, "microcosm results %s: --filter is for ls\n", sub);
				return 2;
			}
			if (o->n_filters == MC_RESULTS_MAX_FILTERS) {
				fprintf(stderr, "microcosm results ls: at most %d filters\n",
				        MC_RESULTS_MAX_FILTERS);
				return 2;
			}
			if (mc_catalog_filter_parse(optarg, &o->filters[o->n_filters], err,
			                            sizeof(err)) < 0) {
				fprintf(stderr, "microcosm results ls: %s\n", err);
				return 2;
			}
			o->n_filters++;
			break;
		case ':':
			fprintf(stderr, "microcosm results %s: %s needs a value\n", sub,
			        argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "microcosm results %s: unknown option '%s' (see --help)\n",
			        sub, argv[optind - 1]);
			return 2;
		}
	}
	if (o->help)
		return 0;
	for (int i = optind; i < argc; i++) {
		if (o->sub == SUB_SHOW && !o->run) {
			o->run = argv[i];
		} else if (o->sub == SUB_REINDEX && !o->root_set) {
			o->root = argv[i];
			o->root_set = 1;
		} else {
			fprintf(stderr, "microcosm results %s: '%s' is extra (see --help)\n", sub,
			        argv[i]);
			return 2;
		}
	}
	if (o->sub == SUB_SHOW && !o->run) {
		fprintf(stderr, "microcosm results show: no RUN given (a run directory or id)\n");
		return 2;
	}
	return 0;
}

static int root_exists(const char *verb, const char *root)
{
	if (mc_is_dir(root))
		return 1;
	fprintf(stderr,
	        "microcosm results %s: %s: no such directory (the results root: -r ROOT, "
	        "default runs)\n",
	        verb, root);
	return 0;
}

/* A catalog value as a column of the table ("-" when NULL). */
static const char *cell(const json_t *row, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(row, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return "-";
}

/* "a/b" of two integer columns, "-" when both are NULL. */
static const char *pair(const json_t *row, const char *a, const char *b, char *buf, size_t len)
{
	char x[32], y[32];

	if (!json_is_integer(json_object_get(row, a)) && !json_is_integer(json_object_get(row, b)))
		return "-";
	snprintf(buf, len, "%s/%s", cell(row, a, x, sizeof(x)), cell(row, b, y, sizeof(y)));
	return buf;
}

static void print_table(FILE *fp, const json_t *rows)
{
	int w = 2;
	size_t i;
	json_t *r;

	json_array_foreach(rows, i, r)
	{
		const char *id = json_string_value(json_object_get(r, "id"));
		int n = id ? (int)strlen(id) : 0;

		if (n > w)
			w = n;
	}
	fprintf(fp, "%-*s  %-11s %-20s %6s %9s %7s  %s\n", w, "ID", "STATUS", "STARTED", "GUESTS",
	        "OK/FAILED", "FAULTS", "NAME");
	json_array_foreach(rows, i, r)
	{
		char g[32], okf[64], fl[64], a[32], b[32], c[32], d[32];

		fprintf(fp, "%-*s  %-11s %-20s %6s %9s %7s  %s\n", w, cell(r, "id", a, sizeof(a)),
		        cell(r, "status", b, sizeof(b)), cell(r, "started", c, sizeof(c)),
		        cell(r, "guests", g, sizeof(g)),
		        pair(r, "ok_reps", "failed_reps", okf, sizeof(okf)),
		        pair(r, "faults_injected", "failures_detected", fl, sizeof(fl)),
		        cell(r, "name", d, sizeof(d)));
	}
}

static int results_ls(const struct results_opts *o)
{
	char err[2048];
	json_t *rows = NULL;
	int built = -1, rc;

	if (!root_exists("ls", o->root))
		return 1;
	rc = mc_catalog_ensure(o->root, stderr, &built, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "microcosm results ls: %s\n", err);
		return 1;
	}
	if (built >= 0)
		fprintf(stderr, "results: %s had no catalog yet: built %s/%s from %d runs\n",
		        o->root, o->root, MC_CATALOG_FILE, built);
	rc = mc_catalog_query(o->root, o->filters, o->n_filters, &rows, err, sizeof(err));
	if (rc == -ENOENT) {
		/* No catalog and no run directory: nothing to list. */
		rows = json_array();
	} else if (rc < 0) {
		fprintf(stderr, "microcosm results ls: %s\n", err);
		return 1;
	}
	if (o->json) {
		char *s = json_dumps(rows, JSON_INDENT(2));

		printf("%s\n", s ? s : "[]");
		free(s);
	} else if (json_array_size(rows)) {
		print_table(stdout, rows);
	} else {
		fprintf(stderr, "results: %s under %s\n",
		        o->n_filters ? "no run passes the filters" : "no runs", o->root);
	}
	json_decref(rows);
	return 0;
}

/* RUN as a directory: the path when it holds a manifest, else ROOT/RUN when that is a
 * directory, else the path (which mc_run_describe() then says is not a run). */
static void resolve_run(const char *root, const char *run, char *dir, size_t len)
{
	char m[PATH_MAX + 32], under[PATH_MAX];
	struct stat st;

	snprintf(m, sizeof(m), "%s/manifest.json", run);
	if (stat(m, &st) == 0 || strchr(run, '/')) {
		snprintf(dir, len, "%s", run);
		return;
	}
	if ((size_t)snprintf(under, sizeof(under), "%s/%s", root, run) < sizeof(under) &&
	    mc_is_dir(under)) {
		snprintf(dir, len, "%s", under);
		return;
	}
	snprintf(dir, len, "%s", run);
}

static int results_show(const struct results_opts *o)
{
	char dir[PATH_MAX], err[PATH_MAX + 512];
	json_t *d = NULL;

	resolve_run(o->root, o->run, dir, sizeof(dir));
	if (mc_run_describe(dir, &d, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm results show: %s\n", err);
		return 1;
	}
	if (o->json) {
		char *s = json_dumps(d, JSON_INDENT(2));

		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		mc_run_describe_print(stdout, d);
	}
	json_decref(d);
	return 0;
}

static int results_reindex(const struct results_opts *o)
{
	char err[2048];
	int n;

	if (!root_exists("reindex", o->root))
		return 1;
	n = mc_catalog_reindex(o->root, stderr, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "microcosm results reindex: %s\n", err);
		return 1;
	}
	printf("indexed %d run%s into %s/%s\n", n, n == 1 ? "" : "s", o->root, MC_CATALOG_FILE);
	return 0;
}

int cmd_results(int argc, char **argv)
{
	struct results_opts *o = calloc(1, sizeof(*o));
	int rc;

	if (!o) {
		fprintf(stderr, "microcosm results: out of memory\n");
		return 1;
	}
	rc = parse(argc, argv, o);
	if (rc == 0 && o->help)
		fputs(mc_results_usage, stdout);
	else if (rc == 0)
		rc = o->sub == SUB_LS     ? results_ls(o)
		     : o->sub == SUB_SHOW ? results_show(o)
		                          : results_reindex(o);
	free(o);
	return rc;
}
