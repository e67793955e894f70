/* compare.h — two sets of runs' metrics side by side, with an exact rank test: the CI gate. */
#ifndef MC_COMPARE_H
#define MC_COMPARE_H

#include <stddef.h>
#include <stdio.h>

/* Above this many values on either side, mc_mwu_p_greater() uses the normal
 * approximation instead of the exact permutation distribution. */
#define MC_MWU_EXACT_MAX 25

/* The one-sided Mann–Whitney U (Wilcoxon rank-sum) p-value for "x tends to be
 * greater than y": the probability, under the null hypothesis that all nx + ny
 * values come from one distribution, of a rank sum of x at least as large as
 * the observed one.
 *
 * Ties get mid-ranks, and the p-value is exact for the permutation
 * distribution of those mid-ranks (every one of the C(nx + ny, nx) ways of
 * splitting the pooled values is counted), so it stays exact with ties. Above
 * MC_MWU_EXACT_MAX values on either side it is the normal approximation with a
 * continuity correction and the tie-corrected variance.
 *
 * x and y are borrowed and not modified; NaNs are not allowed. Returns a value
 * in (0, 1]; 1 when either side is empty or every value is tied. */
double mc_mwu_p_greater(const double *x, size_t nx, const double *y, size_t ny);

/* The smallest one-sided p-value the exact test can give for these sample
 * sizes (no ties): 1 / C(nx + ny, nx). 1 when either side is empty. */
double mc_mwu_min_p(size_t nx, size_t ny);

/* Parses a regression threshold: "5%" (percent) or "0.05" (a fraction, which
 * must be below 1 so that "5" is not read as 500 %). Returns 0 and sets *out,
 * or -EINVAL. */
int mc_compare_parse_threshold(const char *s, double *out);

/* Loaded runs of one side: their metrics' values pooled, and each run's
 * status. Opaque. */
struct mc_compare_side;

/* Loads one side: dirs is one run directory or several joined by commas. Each
 * must be a directory holding a summary.json with a "metrics" object
 * (docs/results.md); manifest.json is read for the run's status ("unknown"
 * when it is missing). Caller owns *out; free with mc_compare_side_destroy().
 * Returns 0, or -EINVAL / -ENOENT / -ENOMEM with a message naming the path in
 * err (err may be NULL). */
int mc_compare_side_load(const char *dirs, struct mc_compare_side **out, char *err, size_t errlen);

/* Frees a side; accepts NULL and nulls *s. */
void mc_compare_side_destroy(struct mc_compare_side **s);

/* The number of runs on a side, and the i-th run's directory and manifest
 * status (borrowed; valid until the side is destroyed). */
size_t mc_compare_side_runs(const struct mc_compare_side *s);
const char *mc_compare_side_run_dir(const struct mc_compare_side *s, size_t i);
const char *mc_compare_side_run_status(const struct mc_compare_side *s, size_t i);

/* Whether some metric of the side matches the fnmatch(3) pattern glob. */
int mc_compare_side_has_match(const struct mc_compare_side *s, const char *glob);

enum mc_compare_verdict {
	MC_COMPARE_OK = 0,     /* within the threshold, or not significant */
	MC_COMPARE_IMPROVED,   /* better by more than the threshold */
	MC_COMPARE_REGRESSION, /* worse by more than the threshold (failure) */
	MC_COMPARE_MISSING,    /* in BASE, not in NEW (failure) */
	MC_COMPARE_NEW,        /* in NEW only (not a failure) */
	MC_COMPARE_RUN_FAILED, /* a NEW run's status row: not finished or failed reps */
};

/* How to judge. Zero-initialised fields are not defaults: fill them all. */
struct mc_compare_params {
	double threshold;         /* relative change below which nothing is a regression (0.05) */
	double alpha;             /* significance level of the one-sided test (0.05) */
	const char *const *globs; /* fnmatch patterns on metric names; borrowed; NULL: all */
	size_t nglobs;            /* entries in globs */
};

/* One row of the result: a metric, or a NEW run's status (is_run). */
struct mc_compare_row {
	char *name;        /* metric name; for a run status row "run status" */
	char *workload;    /* the metric's workload; for a run status row the run's directory */
	char *unit;        /* "us", "s", "MB/s", "/s" or "" */
	int higher_better; /* better: "higher" */
	size_t base_n;     /* values in BASE (0: not in BASE) */
	size_t new_n;      /* values in NEW (0: not in NEW) */
	double base_median;
	double new_median;
	double change;   /* (new - base) / |base|: new/base - 1 for a positive base; NAN if n/a */
	double p_worse;  /* one-sided p that NEW is worse than BASE; NAN if n/a */
	double p_better; /* one-sided p that NEW is better than BASE; NAN if n/a */
	int few_samples; /* the test cannot reach alpha: the threshold alone decides */
	int not_significant; /* beyond the threshold, but p > alpha */
	enum mc_compare_verdict verdict;
	int is_run;   /* a run status row */
	char *detail; /* run status rows: "finished" or what went wrong */
};

/* The outcome: metric rows sorted by name, then one status row per NEW run. */
struct mc_compare_result {
	struct mc_compare_row *rows; /* nrows entries */
	size_t nrows;
	size_t metrics;     /* metric rows */
	size_t regressions; /* rows with MC_COMPARE_REGRESSION */
	size_t missing;     /* rows with MC_COMPARE_MISSING */
	size_t improved;    /* rows with MC_COMPARE_IMPROVED */
	size_t failed_runs; /* rows with MC_COMPARE_RUN_FAILED */
	double threshold;   /* the parameters used */
	double alpha;
	char *base_dirs; /* the sides as given */
	char *new_dirs;
};

/* Compares NEW against BASE metric by metric (the metrics on either side that
 * match a glob, or all), and checks each NEW run's status. base and new are
 * borrowed. Caller owns *out; free with mc_compare_result_destroy(). Returns 0
 * or -ENOMEM. */
int mc_compare_compute(const struct mc_compare_side *base, const struct mc_compare_side *new_,
                       const struct mc_compare_params *params, struct mc_compare_result **out);

/* Frees a result; accepts NULL and nulls *r. */
void mc_compare_result_destroy(struct mc_compare_result **r);

/* Whether the gate fails: a regression, a missing metric or a failed run. */
int mc_compare_failed(const struct mc_compare_result *r);

/* "REGRESSION", "improved", "ok", "MISSING", "new", "FAILED". */
const char *mc_compare_verdict_name(enum mc_compare_verdict v);

/* The one-line verdict, without a newline:
 * "compare: N metrics, R regressions, M missing -> PASS|FAIL" (with
 * ", F failed runs" before the arrow when a NEW run failed). */
void mc_compare_verdict_line(const struct mc_compare_result *r, char *buf, size_t len);

/* Writes the table and the verdict line; the JSON document (one object and a
 * newline); or a JUnit XML document. fp is borrowed. Return 0 or -EIO. */
int mc_compare_write_table(const struct mc_compare_result *r, FILE *fp);
int mc_compare_write_json(const struct mc_compare_result *r, FILE *fp);
int mc_compare_write_junit(const struct mc_compare_result *r, FILE *fp);

#endif
