/* test_metrics.c — summary.json's metrics from workload repetitions (harness/metrics.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "metrics.h"

static json_t *rep(int ok, double seconds, const char *results)
{
	return json_pack("{s:b, s:f, s:o}", "ok", ok, "seconds", seconds, "results",
	                 json_loads(results, 0, NULL));
}

static void test_names_units_and_spread(void **state)
{
	json_t *w = json_pack(
	        "[{s:s, s:[o, o, o, o]}]", "workload", "ring", "reps",
	        rep(1, 2.0,
	            "[{\"bytes\": 8, \"ranks\": 4, \"lap_us_median\": 100, "
	            "\"bandwidth_MBps\": 1.5}, {\"bytes\": 1024, \"lap_us_median\": 300}]"),
	        rep(1, 4.0,
	            "[{\"bytes\": 8, \"ranks\": 4, \"lap_us_median\": 110, \"bandwidth_MBps\": "
	            "1.0}]"),
	        rep(0, 99.0, "[{\"bytes\": 8, \"lap_us_median\": 1e9}]"), /* failed: not counted */
	        rep(1, 3.0, "[{\"bytes\": 8, \"lap_us_median\": 130, \"mode\": \"ring\"}]"));
	json_t *m = mc_metrics_from_summary(w), *lap, *sec, *bw;

	(void)state;
	assert_non_null(m);
	lap = json_object_get(m, "ring/8B/lap_us_median");
	sec = json_object_get(m, "ring/seconds");
	bw = json_object_get(m, "ring/8B/bandwidth_MBps");
	assert_non_null(lap);
	assert_non_null(sec);
	assert_non_null(bw);
	assert_null(json_object_get(m, "ring/8B/ranks")); /* descriptive */
	assert_null(json_object_get(m, "ring/8B/bytes"));
	assert_null(json_object_get(m, "ring/8B/mode")); /* not a number */
	assert_non_null(json_object_get(m, "ring/1024B/lap_us_median"));
	assert_int_equal(json_integer_value(json_object_get(lap, "n")), 3);
	assert_true(json_real_value(json_object_get(lap, "median")) == 110.0);
	assert_true(json_real_value(json_object_get(lap, "min")) == 100.0);
	assert_true(json_real_value(json_object_get(lap, "max")) == 130.0);
	assert_true(json_real_value(json_object_get(lap, "mad")) == 10.0); /* |100,110,130 - 110| */
	assert_string_equal(json_string_value(json_object_get(lap, "unit")), "us");
	assert_string_equal(json_string_value(json_object_get(lap, "better")), "lower");
	assert_string_equal(json_string_value(json_object_get(bw, "better")), "higher");
	assert_string_equal(json_string_value(json_object_get(bw, "unit")), "MB/s");
	assert_true(json_real_value(json_object_get(sec, "median")) == 3.0);
	assert_string_equal(json_string_value(json_object_get(sec, "unit")), "s");
	/* the values keep the repetitions' order */
	assert_true(json_real_value(json_array_get(json_object_get(lap, "values"), 2)) == 130.0);
	json_decref(m);
	json_decref(w);
}

static void test_no_success_no_metrics(void **state)
{
	json_t *w = json_pack("[{s:s, s:[o]}, {s:s, s:[]}]", "workload", "a", "reps",
	                      rep(0, 1.0, "[{\"x_us\": 5}]"), "workload", "b", "reps");
	json_t *m = mc_metrics_from_summary(w);

	(void)state;
	assert_int_equal(json_object_size(m), 0);
	json_decref(m);
	json_decref(w);
	/* progress lines and descriptive fields are not metrics */
	w = json_pack("[{s:s, s:[o]}]", "workload", "halo", "reps",
	              rep(1, 1.0,
	                  "[{\"phase\": \"iter\", \"iter\": 3, \"residual\": 0.5}, "
	                  "{\"phase\": \"result\", \"count\": 9, \"iters_per_s\": 40}]"));
	m = mc_metrics_from_summary(w);
	assert_int_equal(json_object_size(m), 2); /* halo/seconds, halo/iters_per_s */
	assert_non_null(json_object_get(m, "halo/iters_per_s"));
	assert_null(json_object_get(m, "halo/residual"));
	json_decref(m);
	json_decref(w);
}

static void test_units_and_median(void **state)
{
	double even[] = {4, 1, 3, 2}, one[] = {7};

	(void)state;
	assert_string_equal(mc_metric_unit("time_us_median"), "us");
	assert_string_equal(mc_metric_unit("hop_latency_us"), "us");
	assert_string_equal(mc_metric_unit("tasks_per_s"), "/s");
	assert_string_equal(mc_metric_unit("wall_s"), "s");
	assert_string_equal(mc_metric_unit("count"), "");
	assert_string_equal(mc_metric_better("tasks_per_s"), "higher");
	assert_string_equal(mc_metric_better("throughput"), "higher");
	assert_string_equal(mc_metric_better("time_us_median"), "lower");
	assert_true(mc_median(even, 4) == 2.5);
	assert_true(mc_median(one, 1) == 7);
	assert_true(isnan(mc_median(one, 0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names_units_and_spread),
	        cmocka_unit_test(test_no_success_no_metrics),
	        cmocka_unit_test(test_units_and_median),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
