/* cmd_compare.c — `microcosm compare BASE NEW`: two runs' metrics, exit 1 on a regression (CI). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "compare.h"
#include "util.h"

const char mc_compare_usage[] =
        "usage: microcosm compare [options] BASE NEW\n"
        "Compares the metrics of NEW against BASE (summary.json of each run directory;\n"
        "docs/results.md). BASE and NEW are each a run directory or several joined by\n"
        "commas, whose repetitions pool. Per metric: the medians, the relative change\n"
        "(NEW/BASE - 1) and the exact one-sided Mann-Whitney U p-value that NEW is worse\n"
        "(normal approximation above 25 values a side; ties get mid-ranks, and the\n"
        "p-value is exact for their permutation distribution).\n"
        "  REGRESSION  worse by more than the threshold, and p <= alpha; when these\n"
        "              sample sizes cannot reach alpha (with 0.05: 1 vs up to 18, or\n"
        "              2 vs up to 4) the threshold alone decides: \"few samples\"\n"
        "  improved    better by more than the threshold, likewise\n"
        "  MISSING     in BASE, not in NEW (its workload failed?)\n"
        "  new         in NEW only\n"
        "  run status  a NEW run that did not finish or has failed repetitions: FAILED\n"
        "  --threshold P   smallest relative change that counts: \"5%\" or \"0.05\" (5%)\n"
        "  --alpha A       significance level of the test (0.05)\n"
        "  --metric GLOB   only metrics matching GLOB (fnmatch; repeatable); a GLOB that\n"
        "                  matches no metric is an error\n"
        "  --junit FILE    also write a JUnit XML report to FILE (atomically)\n"
        "  --json          print a JSON object instead of the table\n"
        "  -h, --help      this text\n"
        "Exit status: 0 pass, 1 a regression, a missing metric or a failed NEW run,\n"
        "2 bad input (then no JUnit file is written).\n";

/* What the command line asks for; filled by parse(), which does nothing else. */
struct compare_opts {
	const char *base;   /* BASE run directories; borrowed from argv */
	const char *new_;   /* NEW run directories; borrowed from argv */
	double threshold;   /* relative, 0.05 = 5 % */
	double alpha;       /* significance level */
	const char **globs; /* --metric patterns, borrowed from argv; owned array */
	size_t nglobs;      /* entries in globs */
	const char *junit;  /* --junit FILE or NULL; borrowed */
	int json;           /* --json */
	int help;           /* -h/--help: print usage, do nothing else */
};

/* Returns 0, or 2 after printing why the command line is wrong. Caller frees o->globs. */
static int parse(int argc, char **argv, struct compare_opts *o)
{
	int dashdash = 0, npos = 0;

	memset(o, 0, sizeof(*o));
	o->threshold = 0.05;
	o->alpha = 0.05;
	o->globs = calloc((size_t)argc + 1, sizeof(*o->globs));
	if (!o->globs) {
		fprintf(stderr, "microcosm compare: out of memory\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;

		if (!dashdash && a[0] == '-' && a[1]) {
			if (!strcmp(a, "--")) {
				dashdash = 1;
			} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
				o->help = 1;
			} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
				/* main() set the log level */
			} else if (!strcmp(a, "--json")) {
				o->json = 1;
			} else if (mc_opt_value(argc, argv, &i, "--threshold", &v)) {
				if (!v || mc_compare_parse_threshold(v, &o->threshold) < 0) {
					fprintf(stderr,
					        "microcosm compare: --threshold '%s': expected a "
					        "percentage (5%%) or a fraction below 1 (0.05)\n",
					        v ? v : "");
					return 2;
				}
			} else if (mc_opt_value(argc, argv, &i, "--alpha", &v)) {
				char *end;

				o->alpha = v ? strtod(v, &end) : 0;
				if (!v || !*v || *end || !(o->alpha > 0 && o->alpha < 1)) {
					fprintf(stderr,
					        "microcosm compare: --alpha '%s': expected a "
					        "number "
					        "between 0 and 1 (0.05)\n",
					        v ? v : "");
					return 2;
				}
			} else if (mc_opt_value(argc, argv, &i, "--metric", &v)) {
				if (!v || !*v) {
					fprintf(stderr,
					        "microcosm compare: --metric needs a GLOB\n");
					return 2;
				}
				o->globs[o->nglobs++] = v;
			} else if (mc_opt_value(argc, argv, &i, "--junit", &v)) {
				if (!v || !*v) {
					fprintf(stderr,
					        "microcosm compare: --junit needs a FILE\n");
					return 2;
				}
				o->junit = v;
			} else {
				fprintf(stderr,
				        "microcosm compare: unknown option '%s' (see --help)\n", a);
				return 2;
			}
		} else if (npos == 0) {
			o->base = a;
			npos++;
		} else if (npos == 1) {
			o->new_ = a;
			npos++;
		} else {
			fprintf(stderr, "microcosm compare: BASE and NEW only ('%s' is extra)\n",
			        a);
			return 2;
		}
	}
	if (!o->help && npos < 2) {
		fprintf(stderr, "microcosm compare: %s (see --help)\n",
		        npos ? "no NEW run directory given"
		             : "no BASE and NEW run directories given");
		return 2;
	}
	return 0;
}

/* Renders the JUnit report in memory and writes it atomically. Returns 0 or -errno. */
static int write_junit(const struct mc_compare_result *r, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	int rc;

	if (!fp)
		return -errno;
	rc = mc_compare_write_junit(r, fp);
	if (fclose(fp) && !rc)
		rc = -EIO;
	if (!rc)
		rc = mc_write_file_atomic(path, buf, len, 0644);
	free(buf);
	return rc;
}

int cmd_compare(int argc, char **argv)
{
	struct mc_compare_side *base = NULL, *new_ = NULL;
	struct mc_compare_result *res = NULL;
	struct mc_compare_params params;
	struct compare_opts o;
	char err[4608], line[256];
	int rc;

	rc = parse(argc, argv, &o);
	if (rc || o.help) {
		if (!rc)
			fputs(mc_compare_usage, stdout);
		free(o.globs);
		return rc;
	}
	rc = 2;
	if (mc_compare_side_load(o.base, &base, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm compare: BASE %s\n", err);
		goto out;
	}
	if (mc_compare_side_load(o.new_, &new_, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm compare: NEW %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < o.nglobs; i++) {
		if (!mc_compare_side_has_match(base, o.globs[i]) &&
		    !mc_compare_side_has_match(new_, o.globs[i])) {
			fprintf(stderr,
			        "microcosm compare: --metric '%s' matches no metric in %s or %s\n",
			        o.globs[i], o.base, o.new_);
			goto out;
		}
	}
	for (size_t i = 0; i < mc_compare_side_runs(base); i++) {
		const char *st = mc_compare_side_run_status(base, i);

		if (strcmp(st, "finished"))
			fprintf(stderr,
			        "microcosm compare: warning: BASE run %s has status %s; its "
			        "metrics are used as they are\n",
			        mc_compare_side_run_dir(base, i), st);
	}
	params = (struct mc_compare_params){
	        .threshold = o.threshold, .alpha = o.alpha, .globs = o.globs, .nglobs = o.nglobs};
	if (mc_compare_compute(base, new_, &params, &res) < 0) {
		fprintf(stderr, "microcosm compare: out of memory\n");
		goto out;
	}
	if (!res->metrics)
		fprintf(stderr, "microcosm compare: warning: no metric in %s or %s to compare\n",
		        o.base, o.new_);
	if (o.json) {
		mc_compare_write_json(res, stdout);
		mc_compare_verdict_line(res, line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	} else {
		mc_compare_write_table(res, stdout);
	}
	if (o.junit) {
		int wrc = write_junit(res, o.junit);

		if (wrc < 0) {
			fprintf(stderr, "microcosm compare: --junit %s: write: %s\n", o.junit,
			        strerror(-wrc));
			goto out;
		}
	}
	rc = mc_compare_failed(res) ? 1 : 0;
out:
	mc_compare_result_destroy(&res);
	mc_compare_side_destroy(&base);
	mc_compare_side_destroy(&new_);
	free(o.globs);
	return rc;
}
