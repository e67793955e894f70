/* metrics.c — a run's metrics: one number per successful repetition of a workload,
 * named and summarized as docs/results.md ("summary.json") describes. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fields that describe a measurement rather than measure something. */
static const char *const descriptive[] = {"bytes", "ranks",          "iters", "iter",  "rank",
                                          "size",  "count",          "reps",  "tasks", "workers",
                                          "seed",  "bytes_per_rank", "block", NULL};

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

const char *mc_metric_unit(const char *field)
{
	if (ends_with(field, "_us") || strstr(field, "_us_"))
		return "us";
	if (ends_with(field, "_MBps"))
		return "MB/s";
	if (ends_with(field, "_per_s"))
		return "/s";
	if (!strcmp(field, "seconds") || ends_with(field, "_s"))
		return "s";
	return "";
}

const char *mc_metric_better(const char *field)
{
	return ends_with(field, "_MBps") || ends_with(field, "_per_s") ||
	                       strstr(field, "bandwidth") || strstr(field, "throughput")
	               ? "higher"
	               : "lower";
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double mc_median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Appends value to metrics[name].values, creating the entry. */
static void add_value(json_t *metrics, const char *name, const char *workload, const char *field,
                      double value)
{
	json_t *m = json_object_get(metrics, name);

	if (!isfinite(value))
		return;
	if (!m) {
		m = json_pack("{s:s, s:s, s:s, s:[]}", "workload", workload, "unit",
		              mc_metric_unit(field), "better", mc_metric_better(field), "values");
		if (!m || json_object_set_new(metrics, name, m) < 0)
			return;
	}
	json_array_append_new(json_object_get(m, "values"), json_real(value));
}

static int is_descriptive(const char *field)
{
	for (size_t i = 0; descriptive[i]; i++)
		if (!strcmp(field, descriptive[i]))
			return 1;
	return 0;
}

/* n, median, min, max and mad of each metric's values. */
static void summarize(json_t *metrics)
{
	const char *name;
	json_t *m;

	json_object_foreach(metrics, name, m)
	{
		json_t *vals = json_object_get(m, "values"), *x;
		size_t n = json_array_size(vals), i;
		double *v = calloc(n ? n : 1, sizeof(*v)), *dev = calloc(n ? n : 1, sizeof(*dev));
		double med;

		if (!v || !dev) {
			free(v);
			free(dev);
			continue;
		}
		json_array_foreach(vals, i, x) v[i] = json_number_value(x);
		med = mc_median(v, n);
		for (i = 0; i < n; i++)
			dev[i] = fabs(v[i] - med);
		json_object_set_new(m, "n", json_integer((json_int_t)n));
		json_object_set_new(m, "median", json_real(med));
		json_object_set_new(m, "min", json_real(v[0]));
		json_object_set_new(m, "max", json_real(v[n - 1]));
		json_object_set_new(m, "mad", json_real(mc_median(dev, n)));
		free(v);
		free(dev);
	}
}

json_t *mc_metrics_from_summary(json_t *workloads)
{
	json_t *metrics = json_object(), *w, *rep, *rec;
	size_t i, j, k;

	if (!metrics)
		return NULL;
	json_array_foreach(workloads, i, w)
	{
		const char *wname = json_string_value(json_object_get(w, "workload"));

		if (!wname)
			continue;
		json_array_foreach(json_object_get(w, "reps"), j, rep)
		{
			char name[512];

			if (!json_is_true(json_object_get(rep, "ok")))
				continue;
			snprintf(name, sizeof(name), "%s/seconds", wname);
			add_value(metrics, name, wname, "seconds",
			          json_number_value(json_object_get(rep, "seconds")));
			json_array_foreach(json_object_get(rep, "results"), k, rec)
			{
				json_t *bytes = json_object_get(rec, "bytes"), *val;
				const char *field;

				const char *phase =
				        json_string_value(json_object_get(rec, "phase"));

				/* progress lines ("phase": "iter", ...) are not results */
				if (!json_is_object(rec) || (phase && strcmp(phase, "result")))
					continue;
				json_object_foreach(rec, field, val)
				{
					if (!json_is_number(val) || is_descriptive(field))
						continue;
					if (json_is_integer(bytes))
						snprintf(name, sizeof(name), "%s/%lldB/%s", wname,
						         (long long)json_integer_value(bytes),
						         field);
					else
						snprintf(name, sizeof(name), "%s/%s", wname, field);
					add_value(metrics, name, wname, field,
					          json_number_value(val));
				}
			}
		}
	}
	/* A policy's figures (run_policy.h): `<workload>/ft/<field>`, arrays value by value. */
	json_array_foreach(workloads, i, w)
	{
		const char *wname = json_string_value(json_object_get(w, "workload")), *field;
		json_t *val, *x;

		json_object_foreach(json_object_get(w, "ft"), field, val)
		{
			char name[512];

			snprintf(name, sizeof(name), "%s/ft/%s", wname ? wname : "?", field);
			if (json_is_number(val))
				add_value(metrics, name, wname, field, json_number_value(val));
			else if (json_is_array(val))
				json_array_foreach(val, k, x) if (json_is_number(x)) add_value(
				        metrics, name, wname, field, json_number_value(x));
		}
	}
	summarize(metrics);
	return metrics;
}
