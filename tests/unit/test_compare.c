/* test_compare.c — the Mann–Whitney test, verdicts, reports and `microcosm compare` exit codes. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "compare.h"
#include "util.h"

#ifndef MC_MICROCOSM_PATH
#error "MC_MICROCOSM_PATH must name the microcosm binary"
#endif

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Asserts |a - b| <= 1e-12, printing both. */
#define assert_p(a, b)                                                                             \
	do {                                                                                       \
		double a_ = (a), b_ = (b);                                                         \
		if (!(fabs(a_ - b_) <= 1e-12))                                                     \
			fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                        \
	} while (0)

/* ---- the test itself ---- */

/* An independent reference: U = #(x > y) + #(x == y) / 2 over all pairs, and
 * P(U >= U_obs) by enumerating every way to split the pooled values into nx
 * and ny (bit masks; n <= 20). */
static double pairs_u(const double *v, unsigned mask, size_t n)
{
	double u = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (((mask >> i) & 1) && !((mask >> j) & 1))
				u += v[i] > v[j] ? 1.0 : v[i] == v[j] ? 0.5 : 0.0;
	return u;
}

static double brute_p(const double *x, size_t nx, const double *y, size_t ny)
{
	double v[20], u_obs;
	size_t n = nx + ny, hit = 0, total = 0;

	memcpy(v, x, nx * sizeof(*x));
	memcpy(v + nx, y, ny * sizeof(*y));
	u_obs = pairs_u(v, (1u << nx) - 1, n);
	for (unsigned mask = 0; mask < 1u << n; mask++) {
		if ((size_t)__builtin_popcount(mask) != nx)
			continue;
		total++;
		hit += pairs_u(v, mask, n) >= u_obs - 1e-9;
	}
	return (double)hit / (double)total;
}

static void test_mwu_exact(void **state)
{
	(void)state;
	{
		/* 3 vs 3, x all above y: only 1 of the C(6,3) = 20 splits has a rank sum
		 * of x as large as 4+5+6 = 15, so p = 1/20; the other way every split
		 * qualifies, p = 1. */
		const double x[] = {4, 5, 6}, y[] = {1, 2, 3};

		assert_p(mc_mwu_p_greater(x, 3, y, 3), 1.0 / 20);
		assert_p(mc_mwu_p_greater(y, 3, x, 3), 1.0);
	}
	{
		/* 4 vs 4 separated: 1 / C(8,4) = 1/70. */
		const double x[] = {10.5, 11, 12, 13}, y[] = {1, 2, 3, 4};

		assert_p(mc_mwu_p_greater(x, 4, y, 4), 1.0 / 70);
	}
	{
		/* 3 vs 3, x ranks {3,5,6} = 14: the subsets of {1..6} of size 3 with a sum
		 * >= 14 are {4,5,6} = 15 and {3,5,6} = 14, so p = 2/20. */
		const double x[] = {3, 5, 6}, y[] = {1, 2, 4};

		assert_p(mc_mwu_p_greater(x, 3, y, 3), 2.0 / 20);
	}
	{
		/* 1 vs 1: p = 1/2 at best. */
		const double x[] = {2}, y[] = {1};

		assert_p(mc_mwu_p_greater(x, 1, y, 1), 0.5);
		assert_p(mc_mwu_p_greater(y, 1, x, 1), 1.0);
	}
	/* The smallest p the sizes allow: 1 / C(nx + ny, nx). */
	assert_p(mc_mwu_min_p(3, 3), 1.0 / 20);
	assert_p(mc_mwu_min_p(4, 4), 1.0 / 70);
	assert_p(mc_mwu_min_p(2, 2), 1.0 / 6);
	assert_p(mc_mwu_min_p(1, 1), 0.5);
	assert_p(mc_mwu_min_p(1, 19), 1.0 / 20);
	assert_p(mc_mwu_min_p(0, 3), 1.0);
	/* No values on a side: no evidence. */
	assert_p(mc_mwu_p_greater(NULL, 0, (const double[]){1}, 1), 1.0);
}

static void test_mwu_ties(void **state)
{
	(void)state;
	{
		/* x {2,3}, y {1,2}: mid-ranks 1, 2.5, 2.5, 4; x sums 2.5+4 = 6.5. Of the
		 * C(4,2) = 6 pairs, {1,2.5} x2 = 3.5, {1,4} = 5, {2.5,2.5} = 5, {2.5,4}
		 * x2 = 6.5: p = 2/6. */
		const double x[] = {2, 3}, y[] = {1, 2};

		assert_p(mc_mwu_p_greater(x, 2, y, 2), 2.0 / 6);
	}
	{
		/* x {2,2,2}, y {1,1,2}: mid-ranks 1.5 (x2) and 4.5 (x4); x sums 13.5, the
		 * maximum, reached by the C(4,3) = 4 subsets of the 4.5s: p = 4/20. */
		const double x[] = {2, 2, 2}, y[] = {1, 1, 2};

		assert_p(mc_mwu_p_greater(x, 3, y, 3), 4.0 / 20);
	}
	{
		/* Everything tied: every split has the same rank sum. */
		const double x[] = {7, 7}, y[] = {7, 7, 7};

		assert_p(mc_mwu_p_greater(x, 2, y, 3), 1.0);
	}
	{
		/* Against full enumeration, with many ties (values from a small set). */
		unsigned seed = 12345;

		for (int round = 0; round < 40; round++) {
			double x[10], y[10];
			size_t nx = 1 + (size_t)(round % 7), ny = 1 + (size_t)((round * 3) % 8);

			for (size_t i = 0; i < nx; i++)
				x[i] = (double)(rand_r(&seed) % 5);
			for (size_t i = 0; i < ny; i++)
				y[i] = (double)(rand_r(&seed) % 5);
			assert_p(mc_mwu_p_greater(x, nx, y, ny), brute_p(x, nx, y, ny));
			assert_p(mc_mwu_p_greater(y, ny, x, nx), brute_p(y, ny, x, nx));
		}
	}
}

static void test_mwu_normal(void **state)
{
	double x[30], y[30];

	(void)state;
	/* 30 vs 30 separated: far below any alpha; the other way round, about 1. */
	for (int i = 0; i < 30; i++) {
		x[i] = 100 + i;
		y[i] = i;
	}
	assert_true(mc_mwu_p_greater(x, 30, y, 30) < 1e-9);
	assert_true(mc_mwu_p_greater(y, 30, x, 30) > 0.999);
	/* 26 vs 26 interleaved, x_i = 2i+1 and y_j = 2j: U = sum(i+1) = 351, mean
	 * 26*26/2 = 338, sd = sqrt(26*26*53/12) = 54.641; z = (351 - 338 - 0.5) /
	 * 54.641 = 0.22877, p = 1 - Phi(z) = 0.40952. */
	for (int i = 0; i < 26; i++) {
		x[i] = 2 * i + 1;
		y[i] = 2 * i;
	}
	assert_true(fabs(mc_mwu_p_greater(x, 26, y, 26) - 0.40952) < 1e-4);
}

static void test_parse_threshold(void **state)
{
	double t = -1;

	(void)state;
	assert_int_equal(mc_compare_parse_threshold("5%", &t), 0);
	assert_p(t, 0.05);
	assert_int_equal(mc_compare_parse_threshold("0.05", &t), 0);
	assert_p(t, 0.05);
	assert_int_equal(mc_compare_parse_threshold("12.5%", &t), 0);
	assert_p(t, 0.125);
	assert_int_equal(mc_compare_parse_threshold("0", &t), 0);
	assert_p(t, 0.0);
	assert_int_equal(mc_compare_parse_threshold("150%", &t), 0);
	assert_p(t, 1.5);
	/* "5" would be 500 %: refused, as are junk, negatives and NaN. */
	assert_int_equal(mc_compare_parse_threshold("5", &t), -EINVAL);
	assert_int_equal(mc_compare_parse_threshold("", &t), -EINVAL);
	assert_int_equal(mc_compare_parse_threshold("abc", &t), -EINVAL);
	assert_int_equal(mc_compare_parse_threshold("-1%", &t), -EINVAL);
	assert_int_equal(mc_compare_parse_threshold("5%%", &t), -EINVAL);
	assert_int_equal(mc_compare_parse_threshold("5 %", &t), -EINVAL);
	assert_int_equal(mc_compare_parse_threshold("nan", &t), -EINVAL);
}

/* ---- fixture run directories ---- */

struct fx {
	char root[64]; /* the mkdtemp directory */
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/mc-test-compare-XXXXXX");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	int rc = mc_rm_rf(f->root);

	free(f);
	return rc;
}

static void write_text(const char *path, const char *text)
{
	assert_int_equal(mc_write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* Creates root/name with manifest.json (status, none when NULL) and
 * summary.json {"workloads": [workloads], "metrics": {metrics}}. Returns the
 * directory in a static buffer per call slot (path, pathlen). */
static void make_run(const struct fx *f, const char *name, const char *status,
                     const char *workloads, const char *metrics, char *path, size_t pathlen)
{
	char file[512], *text;

	snprintf(path, pathlen, "%s/%s", f->root, name);
	assert_int_equal(mc_mkdir_p(path, 0755), 0);
	if (status) {
		snprintf(file, sizeof(file), "%s/manifest.json", path);
		assert_true(asprintf(&text, "{\"name\": \"t\", \"status\": \"%s\"}", status) > 0);
		write_text(file, text);
		free(text);
	}
	snprintf(file, sizeof(file), "%s/summary.json", path);
	assert_true(asprintf(&text, "{\"workloads\": [%s], \"metrics\": {%s}}", workloads,
	                     metrics) > 0);
	write_text(file, text);
	free(text);
}

#define WL_OK "{\"workload\": \"ring\", \"kind\": \"mpi\", \"runs\": 3, \"ok\": 3}"
#define METRIC(name, better, values)                                                               \
	"\"" name "\": {\"workload\": \"ring\", \"unit\": \"us\", \"better\": \"" better           \
	"\", \"values\": [" values "]}"

/* Loads both sides and compares them with the default threshold and alpha. */
static struct mc_compare_result *compare(const char *base, const char *new_, double threshold,
                                         const char *const *globs, size_t nglobs)
{
	struct mc_compare_side *b = NULL, *n = NULL;
	struct mc_compare_params pp = {threshold, 0.05, globs, nglobs};
	struct mc_compare_result *r = NULL;
	char err[1024] = "";

	if (mc_compare_side_load(base, &b, err, sizeof(err)) < 0)
		fail_msg("load %s: %s", base, err);
	if (mc_compare_side_load(new_, &n, err, sizeof(err)) < 0)
		fail_msg("load %s: %s", new_, err);
	assert_int_equal(mc_compare_compute(b, n, &pp, &r), 0);
	mc_compare_side_destroy(&b);
	mc_compare_side_destroy(&n);
	assert_null(b);
	return r;
}

static const struct mc_compare_row *row(const struct mc_compare_result *r, const char *name)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (!strcmp(r->rows[i].name, name))
			return &r->rows[i];
	fail_msg("no row %s", name);
	return NULL;
}

static void test_verdict_few_samples(void **state)
{
	struct fx *f = *state;
	char b[256], n[256];
	struct mc_compare_result *r;
	const struct mc_compare_row *w;

	/* 2 vs 2: the test's best p is 1/6 > 0.05, so the threshold alone decides. */
	make_run(f, "b", "finished", WL_OK,
	         METRIC("ring/lat_us", "lower", "100, 102") "," METRIC(
	                 "ring/small_us", "lower", "100, 102") "," METRIC("ring/fast_us", "lower",
	                                                                  "100, 102"),
	         b, sizeof(b));
	make_run(f, "n", "finished", WL_OK,
	         METRIC("ring/lat_us", "lower", "110, 112") "," METRIC(
	                 "ring/small_us", "lower", "104, 105") "," METRIC("ring/fast_us", "lower",
	                                                                  "90, 92"),
	         n, sizeof(n));
	r = compare(b, n, 0.05, NULL, 0);
	/* 111 / 101 - 1 = +9.9 %, worse: REGRESSION on the threshold; p = 1/6. */
	w = row(r, "ring/lat_us");
	assert_int_equal(w->verdict, MC_COMPARE_REGRESSION);
	assert_true(w->few_samples);
	assert_int_equal(w->base_n, 2);
	assert_p(w->base_median, 101);
	assert_p(w->new_median, 111);
	assert_p(w->change, 10.0 / 101);
	assert_p(w->p_worse, 1.0 / 6);
	/* 104.5 / 101 - 1 = +3.5 %: under the threshold. */
	assert_int_equal(row(r, "ring/small_us")->verdict, MC_COMPARE_OK);
	/* 91 / 101 - 1 = -9.9 %: improved. */
	assert_int_equal(row(r, "ring/fast_us")->verdict, MC_COMPARE_IMPROVED);
	assert_int_equal(r->metrics, 3);
	assert_int_equal(r->regressions, 1);
	assert_true(mc_compare_failed(r));
	mc_compare_result_destroy(&r);
	assert_null(r);

	/* The same with a 10 % threshold: nothing is beyond it. */
	r = compare(b, n, 0.10, NULL, 0);
	assert_int_equal(row(r, "ring/lat_us")->verdict, MC_COMPARE_OK);
	assert_int_equal(r->regressions, 0);
	assert_false(mc_compare_failed(r));
	mc_compare_result_destroy(&r);
}

static void test_verdict_p_gated(void **state)
{
	struct fx *f = *state;
	char b[256], n[256];
	struct mc_compare_result *r;
	const struct mc_compare_row *w;

	/* 5 vs 5: the test can reach 1/C(10,5) = 1/252, so p decides beyond the threshold. */
	make_run(f, "b", "finished", WL_OK,
	         METRIC("ring/shift_us", "lower", "100, 101, 102, 103, 104") "," METRIC(
	                 "ring/noisy_us", "lower",
	                 "100, 101, 102, 103, 104") "," METRIC("ring/exact5_us", "lower",
	                                                       "100, 100, 100, 100, 100"),
	         b, sizeof(b));
	make_run(f, "n", "finished", WL_OK,
	         METRIC("ring/shift_us", "lower", "110, 111, 112, 113, 114") "," METRIC(
	                 "ring/noisy_us", "lower",
	                 "95, 96, 120, 121, 122") "," METRIC("ring/exact5_us", "lower",
	                                                     "105, 105, 105, 105, 105"),
	         n, sizeof(n));
	r = compare(b, n, 0.05, NULL, 0);
	/* Separated: p = 1/252, +9.8 %. */
	w = row(r, "ring/shift_us");
	assert_int_equal(w->verdict, MC_COMPARE_REGRESSION);
	assert_false(w->few_samples);
	assert_p(w->p_worse, 1.0 / 252);
	/* Median 102 -> 120 (+17.6 %), but two of five NEW values are the best of
	 * all: U = 15 of 25, p well above 0.05, so not a regression. */
	w = row(r, "ring/noisy_us");
	assert_int_equal(w->verdict, MC_COMPARE_OK);
	assert_true(w->not_significant);
	assert_true(w->change > 0.17);
	assert_true(w->p_worse > 0.05);
	{
		const double x[] = {95, 96, 120, 121, 122}, y[] = {100, 101, 102, 103, 104};

		assert_p(w->p_worse, brute_p(x, 5, y, 5));
	}
	/* Exactly +5 %: a change of the threshold itself is not more than it. */
	assert_int_equal(row(r, "ring/exact5_us")->verdict, MC_COMPARE_OK);
	assert_int_equal(r->regressions, 1);
	mc_compare_result_destroy(&r);
}

static void test_verdict_higher_better(void **state)
{
	struct fx *f = *state;
	char b[256], n[256];
	struct mc_compare_result *r;
	const struct mc_compare_row *w;

	make_run(f, "b", "finished", WL_OK,
	         METRIC("bw/down_MBps", "higher",
	                "100, 101, 102") "," METRIC("bw/up_MBps", "higher", "100, 101, 102"),
	         b, sizeof(b));
	make_run(f, "n", "finished", WL_OK,
	         METRIC("bw/down_MBps", "higher", "80, 81, 82") "," METRIC("bw/up_MBps", "higher",
	                                                                   "120, 121, 122"),
	         n, sizeof(n));
	r = compare(b, n, 0.05, NULL, 0);
	/* Lower bandwidth is worse: -19.8 %, 3 vs 3 separated, p = 1/20 <= 0.05. */
	w = row(r, "bw/down_MBps");
	assert_true(w->higher_better);
	assert_true(w->change < -0.19);
	assert_int_equal(w->verdict, MC_COMPARE_REGRESSION);
	assert_false(w->few_samples);
	assert_p(w->p_worse, 1.0 / 20);
	assert_p(w->p_better, 1.0);
	w = row(r, "bw/up_MBps");
	assert_int_equal(w->verdict, MC_COMPARE_IMPROVED);
	assert_p(w->p_better, 1.0 / 20);
	assert_int_equal(r->improved, 1);
	mc_compare_result_destroy(&r);
}

static void test_missing_new_and_failed_run(void **state)
{
	struct fx *f = *state;
	char b[256], n[256], n2[256], sides[600];
	struct mc_compare_result *r;
	const struct mc_compare_row *w;

	make_run(f, "b", "finished", WL_OK,
	         METRIC("ring/a_us", "lower", "1, 2, 3") "," METRIC("ring/gone_us", "lower", "5"),
	         b, sizeof(b));
	make_run(f, "n", "finished", WL_OK,
	         METRIC("ring/a_us", "lower", "1, 2, 3") "," METRIC(
	                 "ring/fresh_us", "lower", "7") "," METRIC("ring/gone_us", "lower", ""),
	         n, sizeof(n));
	r = compare(b, n, 0.05, NULL, 0);
	/* A metric listed without values counts as missing. */
	w = row(r, "ring/gone_us");
	assert_int_equal(w->verdict, MC_COMPARE_MISSING);
	assert_int_equal(w->new_n, 0);
	assert_int_equal(row(r, "ring/fresh_us")->verdict, MC_COMPARE_NEW);
	assert_int_equal(row(r, "ring/a_us")->verdict, MC_COMPARE_OK);
	w = row(r, "run status");
	assert_true(w->is_run);
	assert_int_equal(w->verdict, MC_COMPARE_OK);
	assert_int_equal(r->metrics, 3);
	assert_int_equal(r->missing, 1);
	assert_int_equal(r->failed_runs, 0);
	assert_true(mc_compare_failed(r));
	mc_compare_result_destroy(&r);

	/* A NEW run with a failed repetition (and status failed) fails the gate even
	 * when every metric is fine; two NEW runs pool their values. */
	make_run(
	        f, "n2", "failed",
	        "{\"workload\": \"ring\", \"runs\": 3, \"ok\": 2}, {\"workload\": \"x\", \"runs\": "
	        "1, \"ok\": 1}",
	        METRIC("ring/a_us", "lower", "2, 2") "," METRIC("ring/gone_us", "lower", "5"), n2,
	        sizeof(n2));
	snprintf(sides, sizeof(sides), "%s,%s", n, n2);
	r = compare(b, sides, 0.05, NULL, 0);
	w = row(r, "ring/a_us");
	assert_int_equal(w->new_n, 5);
	assert_p(w->new_median, 2);
	assert_int_equal(row(r, "ring/gone_us")->verdict, MC_COMPARE_OK);
	assert_int_equal(r->missing, 0);
	assert_int_equal(r->failed_runs, 1);
	assert_true(mc_compare_failed(r));
	assert_int_equal(r->nrows, 5); /* 3 metrics, 2 run status rows */
	w = &r->rows[4];
	assert_true(w->is_run);
	assert_string_equal(w->workload, n2);
	assert_int_equal(w->verdict, MC_COMPARE_RUN_FAILED);
	assert_non_null(strstr(w->detail, "status failed"));
	assert_non_null(strstr(w->detail, "ring: 1 of 3 repetitions failed"));
	mc_compare_result_destroy(&r);

	/* A NEW run without a manifest: status unknown, a failure. */
	make_run(f, "n3", NULL, WL_OK, METRIC("ring/a_us", "lower", "1, 2, 3"), n2, sizeof(n2));
	r = compare(b, n2, 0.05, NULL, 0);
	assert_int_equal(r->failed_runs, 1);
	assert_non_null(strstr(row(r, "run status")->detail, "status unknown"));
	mc_compare_result_destroy(&r);
}

static void test_metric_globs(void **state)
{
	struct fx *f = *state;
	const char *const globs[] = {"ring/*_us", "bw/exact"};
	char b[256];
	struct mc_compare_result *r;
	struct mc_compare_side *s = NULL;

	make_run(f, "b", "finished", WL_OK,
	         METRIC("ring/a_us", "lower",
	                "1") "," METRIC("ring/seconds", "lower",
	                                "1") "," METRIC("bw/exact", "higher",
	                                                "1") "," METRIC("bw/other", "higher", "1"),
	         b, sizeof(b));
	r = compare(b, b, 0.05, globs, N(globs));
	assert_int_equal(r->metrics, 2);
	assert_string_equal(r->rows[0].name, "bw/exact");
	assert_string_equal(r->rows[1].name, "ring/a_us");
	mc_compare_result_destroy(&r);
	assert_int_equal(mc_compare_side_load(b, &s, NULL, 0), 0);
	assert_true(mc_compare_side_has_match(s, "ring/*"));
	assert_false(mc_compare_side_has_match(s, "nothing*"));
	mc_compare_side_destroy(&s);
}

static void test_bad_sides(void **state)
{
	struct fx *f = *state;
	struct mc_compare_side *s = NULL;
	char path[256], list[600], err[1024];

	snprintf(path, sizeof(path), "%s/nonexistent", f->root);
	assert_int_equal(mc_compare_side_load(path, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_null(s);
	/* A directory without summary.json is not a run directory. */
	snprintf(path, sizeof(path), "%s/empty", f->root);
	assert_int_equal(mc_mkdir_p(path, 0755), 0);
	assert_int_equal(mc_compare_side_load(path, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no summary.json"));
	/* Broken JSON, no metrics object, values not numbers. */
	make_run(f, "r", "finished", WL_OK, METRIC("ring/a_us", "lower", "1"), path, sizeof(path));
	snprintf(list, sizeof(list), "%s/summary.json", path);
	write_text(list, "{\"metrics\": ");
	assert_int_equal(mc_compare_side_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "summary.json:1:"));
	write_text(list, "{\"workloads\": []}");
	assert_int_equal(mc_compare_side_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no \"metrics\""));
	write_text(list, "{\"metrics\": {\"a\": {\"values\": [1, \"x\"]}}}");
	assert_int_equal(mc_compare_side_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "metric a: values[1] is not a number"));
	/* An empty entry in a list. */
	make_run(f, "r", "finished", WL_OK, METRIC("ring/a_us", "lower", "1"), path, sizeof(path));
	snprintf(list, sizeof(list), "%s,,%s", path, path);
	assert_int_equal(mc_compare_side_load(list, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty run directory"));
	snprintf(list, sizeof(list), "%s,", path);
	assert_int_equal(mc_compare_side_load(list, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
}

/* ---- reports ---- */

/* Renders a report into a string. Caller frees. */
static char *render(int (*fn)(const struct mc_compare_result *, FILE *),
                    const struct mc_compare_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(fn(r, fp), 0);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

/* The value of attribute name="..." in the element starting at tag,
 * unescaped. Caller frees. */
static char *xml_attr(const char *tag, const char *name)
{
	char key[64], *out, *o;
	const char *p, *end = strchr(tag, '>');

	snprintf(key, sizeof(key), " %s=\"", name);
	p = strstr(tag, key);
	if (!p || (end && p > end))
		return NULL;
	p += strlen(key);
	out = o = malloc(strlen(p) + 1);
	assert_non_null(out);
	while (*p && *p != '"') {
		static const struct {
			const char *ent;
			char ch;
		} ents[] = {{"&amp;", '&'},
		            {"&lt;", '<'},
		            {"&gt;", '>'},
		            {"&quot;", '"'},
		            {"&apos;", '\''}};
		size_t k;

		if (*p == '<')
			fail_msg("raw '<' in attribute %s", name);
		if (*p != '&') {
			*o++ = *p++;
			continue;
		}
		for (k = 0; k < N(ents); k++)
			if (!strncmp(p, ents[k].ent, strlen(ents[k].ent)))
				break;
		if (k == N(ents))
			fail_msg("bad entity in attribute %s: %.10s", name, p);
		*o++ = ents[k].ch;
		p += strlen(ents[k].ent);
	}
	*o = '\0';
	return out;
}

static void test_reports(void **state)
{
	struct fx *f = *state;
	char b[256], n[256], line[256], *text, *v;
	const char *p, *tc;
	struct mc_compare_result *r;
	size_t cases = 0, failures = 0;
	json_t *doc;

	/* A metric name with every XML special character. */
	make_run(f, "b", "finished", WL_OK,
	         METRIC("ring/a<b>&\\\"c'_us", "lower", "100, 101, 102") "," METRIC(
	                 "ring/ok_us", "lower", "1, 2, 3") "," METRIC("ring/gone_us", "lower", "4"),
	         b, sizeof(b));
	make_run(f, "n", "finished", WL_OK,
	         METRIC("ring/a<b>&\\\"c'_us", "lower",
	                "200, 201, 202") "," METRIC("ring/ok_us", "lower", "1, 2, 3"),
	         n, sizeof(n));
	r = compare(b, n, 0.05, NULL, 0);
	mc_compare_verdict_line(r, line, sizeof(line));
	assert_string_equal(line, "compare: 3 metrics, 1 regression, 1 missing -> FAIL");

	/* The table: a header, one line per metric and run, the verdict line. */
	text = render(mc_compare_write_table, r);
	assert_true(!strncmp(text, "METRIC", 6));
	assert_non_null(strstr(text, "BASE median (n)"));
	assert_non_null(strstr(text, "101 us (3)"));
	assert_non_null(strstr(text, "+99.0%"));
	assert_non_null(strstr(text, "0.05"));
	assert_non_null(strstr(text, "REGRESSION"));
	assert_non_null(strstr(text, "MISSING"));
	assert_non_null(strstr(text, "run status"));
	assert_non_null(strstr(text, "compare: 3 metrics, 1 regression, 1 missing -> FAIL\n"));
	free(text);

	/* JSON: parses, and says the same. */
	text = render(mc_compare_write_json, r);
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	assert_false(json_is_true(json_object_get(json_object_get(doc, "summary"), "pass")));
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(doc, "summary"), "regressions")),
	        1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(doc, "metrics"), 0), "verdict")),
	                    "regression");
	json_decref(doc);
	free(text);

	/* JUnit: every testcase names its metric; the failures name the metric, both
	 * medians, the change and p; special characters are escaped. */
	text = render(mc_compare_write_junit, r);
	assert_true(!strncmp(text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 50));
	assert_non_null(strstr(text, "<testsuite name=\"microcosm compare\" tests=\"4\" "
	                             "failures=\"2\""));
	assert_non_null(strstr(text, "name=\"ring/a&lt;b&gt;&amp;&quot;c&apos;_us\""));
	assert_null(strstr(text, "a<b"));
	for (tc = strstr(text, "<testcase "); tc; tc = strstr(tc + 1, "<testcase ")) {
		const char *close = strstr(tc, "</testcase>"), *fl = strstr(tc, "<failure ");
		char *name = xml_attr(tc, "name"), *cls = xml_attr(tc, "classname");

		assert_non_null(close);
		assert_non_null(name);
		assert_non_null(cls);
		cases++;
		if (fl && fl < close) {
			char *msg = xml_attr(fl, "message");

			failures++;
			assert_non_null(msg);
			if (!strcmp(name, "run status")) {
				fail_msg("run status failed: %s", msg);
			} else if (!strcmp(name, "ring/gone_us")) {
				assert_string_equal(cls, "ring");
				assert_non_null(strstr(msg, "ring/gone_us MISSING"));
				assert_non_null(strstr(msg, "base median 4 us (1)"));
			} else {
				assert_string_equal(name, "ring/a<b>&\"c'_us");
				assert_non_null(strstr(msg, "ring/a<b>&\"c'_us REGRESSION"));
				assert_non_null(strstr(msg, "base median 101 us (3)"));
				assert_non_null(strstr(msg, "new median 201 us (3)"));
				assert_non_null(strstr(msg, "change +99.0%"));
				assert_non_null(strstr(msg, "p=0.05"));
			}
			free(msg);
		}
		free(name);
		free(cls);
	}
	assert_int_equal(cases, 4);
	assert_int_equal(failures, 2);
	/* Outside markup, no raw '<' '>' or '&' that is not an entity. */
	for (p = text; (p = strchr(p, '&')); p++)
		assert_true(!strncmp(p, "&amp;", 5) || !strncmp(p, "&lt;", 4) ||
		            !strncmp(p, "&gt;", 4) || !strncmp(p, "&quot;", 6) ||
		            !strncmp(p, "&apos;", 6));
	v = strstr(text, "-&gt; FAIL</system-out>");
	assert_non_null(v);
	free(text);
	mc_compare_result_destroy(&r);
}

/* ---- the command ---- */

/* Runs `microcosm compare args...` with stdout and stderr to files under the
 * fixture root. Returns its exit status; *out and *err (caller frees) hold what
 * it printed. */
static int run_cli(const struct fx *f, char **out, char **err, ...)
{
	const char *argv[32] = {MC_MICROCOSM_PATH, "compare"};
	char opath[128], epath[128];
	int argc = 2, status;
	va_list ap;
	pid_t pid;

	va_start(ap, err);
	while (argc < 31 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	snprintf(opath, sizeof(opath), "%s/cli.out", f->root);
	snprintf(epath, sizeof(epath), "%s/cli.err", f->root);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(mc_read_file(opath, 1 << 20, out, NULL), 0);
	assert_int_equal(mc_read_file(epath, 1 << 20, err, NULL), 0);
	return WEXITSTATUS(status);
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void test_cli(void **state)
{
	struct fx *f = *state;
	char b[256], n[256], bad[256], junit[256], nosum[256], *out, *err, *x;
	json_t *doc;

	make_run(f, "b", "finished", WL_OK,
	         METRIC("ring/lat_us", "lower", "100, 101, 102") "," METRIC("ring/o_us", "lower",
	                                                                    "1, 2, 3"),
	         b, sizeof(b));
	make_run(f, "n", "finished", WL_OK,
	         METRIC("ring/lat_us", "lower", "120, 121, 122") "," METRIC("ring/o_us", "lower",
	                                                                    "1, 2, 3"),
	         n, sizeof(n));
	snprintf(junit, sizeof(junit), "%s/report.xml", f->root);
	snprintf(bad, sizeof(bad), "%s/nonexistent", f->root);
	snprintf(nosum, sizeof(nosum), "%s/nosummary", f->root);
	assert_int_equal(mc_mkdir_p(nosum, 0755), 0);

	/* Same runs: pass, exit 0, JUnit without failures. */
	assert_int_equal(run_cli(f, &out, &err, "--junit", junit, b, b, NULL), 0);
	assert_non_null(strstr(out, "compare: 2 metrics, 0 regressions, 0 missing -> PASS\n"));
	free(out);
	free(err);
	assert_int_equal(mc_read_file(junit, 1 << 20, &x, NULL), 0);
	assert_non_null(strstr(x, "failures=\"0\""));
	free(x);

	/* +19.8 % with 3 vs 3 separated (p = 0.05): exit 1, the failure in the JUnit file. */
	assert_int_equal(run_cli(f, &out, &err, "--threshold", "5%", "--junit", junit, b, n, NULL),
	                 1);
	assert_non_null(strstr(out, "REGRESSION"));
	assert_non_null(strstr(out, "-> FAIL\n"));
	free(out);
	free(err);
	assert_int_equal(mc_read_file(junit, 1 << 20, &x, NULL), 0);
	assert_non_null(strstr(x, "<failure type=\"regression\" message=\"ring/lat_us REGRESSION"));
	free(x);
	/* A 25 % threshold lets it pass; --metric limits the rows. */
	assert_int_equal(run_cli(f, &out, &err, "--threshold=0.25", b, n, NULL), 0);
	free(out);
	free(err);
	assert_int_equal(run_cli(f, &out, &err, "--metric", "ring/o_*", b, n, NULL), 0);
	assert_null(strstr(out, "ring/lat_us"));
	free(out);
	free(err);

	/* --json: one object on stdout. */
	assert_int_equal(run_cli(f, &out, &err, "--json", b, n, NULL), 1);
	doc = json_loads(out, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(doc, "summary"), "regressions")),
	        1);
	json_decref(doc);
	free(out);
	free(err);

	/* Bad input: exit 2, a message naming the path or option, no JUnit file. */
	assert_int_equal(unlink(junit), 0);
	assert_int_equal(run_cli(f, &out, &err, "--junit", junit, bad, n, NULL), 2);
	assert_non_null(strstr(err, bad));
	assert_non_null(strstr(err, "not a run directory"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f, &out, &err, "--junit", junit, b, nosum, NULL), 2);
	assert_non_null(strstr(err, "no summary.json"));
	assert_non_null(strstr(err, nosum));
	free(out);
	free(err);
	assert_int_equal(run_cli(f, &out, &err, "--junit", junit, "--threshold", "5", b, n, NULL),
	                 2);
	assert_non_null(strstr(err, "--threshold '5'"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f, &out, &err, "--junit", junit, "--alpha", "0", b, n, NULL), 2);
	assert_non_null(strstr(err, "--alpha"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f, &out, &err, "--junit", junit, "--metric", "zzz*", b, n, NULL),
	                 2);
	assert_non_null(strstr(err, "--metric 'zzz*' matches no metric"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f, &out, &err, "--junit", junit, b, NULL), 2);
	assert_non_null(strstr(err, "no NEW run directory"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f, &out, &err, "--bogus", b, n, NULL), 2);
	assert_non_null(strstr(err, "unknown option '--bogus'"));
	free(out);
	free(err);
	assert_false(exists(junit));

	assert_int_equal(run_cli(f, &out, &err, "--help", NULL), 0);
	assert_non_null(strstr(out, "usage: microcosm compare"));
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mwu_exact),
	        cmocka_unit_test(test_mwu_ties),
	        cmocka_unit_test(test_mwu_normal),
	        cmocka_unit_test(test_parse_threshold),
	        cmocka_unit_test_setup_teardown(test_verdict_few_samples, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_verdict_p_gated, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_verdict_higher_better, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_missing_new_and_failed_run, fx_setup,
	                                        fx_teardown),
	        cmocka_unit_test_setup_teardown(test_metric_globs, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_bad_sides, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_reports, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_cli, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
