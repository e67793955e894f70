/* metrics.h — a run's metrics, as summary.json holds them (docs/results.md). */
#ifndef MC_METRICS_H
#define MC_METRICS_H

#include <jansson.h>
#include <stddef.h>

/*
 * The "metrics" object of summary.json from its "workloads" array: for every successful
 * repetition, `<workload>/seconds` and each numeric, non-descriptive field of its result
 * records (`<workload>/<bytes>B/<field>` when the record has bytes, else
 * `<workload>/<field>`); each metric {workload, unit, better, values, n, median, min, max,
 * mad}. A workload with no successful repetition has no metrics. NULL when out of memory.
 */
json_t *mc_metrics_from_summary(json_t *workloads);

/* "us", "s", "MB/s", "/s" or "" for a result field's name. */
const char *mc_metric_unit(const char *field);

/* "higher" for bandwidths and rates, "lower" otherwise. */
const char *mc_metric_better(const char *field);

/* The median of v[0..n) (sorts v); NAN when n is 0. */
double mc_median(double *v, size_t n);

#endif
