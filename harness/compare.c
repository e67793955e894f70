/* compare.c — two sets of runs' metrics side by side, with an exact rank test: the CI gate.
 *
 * A side is one or more run directories; a metric's values on a side are the
 * concatenation of summary.json metrics.<name>.values over its runs (one value
 * per successful repetition, docs/results.md). Each metric present on either
 * side gets one row: medians, relative change, the one-sided Mann–Whitney p in
 * both directions and a verdict. Each NEW run gets a status row.
 */
#include "compare.h"

#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/* A summary.json holds every repetition's result.json too: allow for big ones. */
#define SUMMARY_MAX  ((size_t)256 << 20)
#define MANIFEST_MAX ((size_t)16 << 20)

/* Relative slack on comparisons against the threshold and alpha, so that a
 * change of exactly 5 % (1.05 / 1.0 - 1 = 0.05000000000000004) is not "more
 * than 5 %", and p = 1/20 is "at most 0.05". */
#define EPS 1e-9

struct side_metric {
	char *name;     /* metric name */
	char *workload; /* its workload */
	char *unit;     /* "us", "s", ... or "" */
	int higher;     /* better: "higher" */
	double *v;      /* pooled values; n entries */
	size_t n, cap;
};

struct side_run {
	char *dir;     /* as given */
	char *status;  /* manifest status, or "unknown" */
	char *problem; /* NULL when finished with every repetition ok; else why not */
	char *reps;    /* "3/3 repetitions ok" */
};

struct mc_compare_side {
	struct side_run *runs; /* nruns entries */
	size_t nruns;
	struct side_metric *m; /* nm entries, sorted by name once loaded */
	size_t nm;
};

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- the Mann–Whitney U test ---- */

struct pooled {
	double v;
	int in_x; /* from x (1) or y (0) */
};

static int cmp_pooled(const void *a, const void *b)
{
	return cmp_double(&((const struct pooled *)a)->v, &((const struct pooled *)b)->v);
}

double mc_mwu_min_p(size_t nx, size_t ny)
{
	double c = 1.0;

	if (!nx || !ny)
		return 1.0;
	/* C(nx + ny, nx) as a running product; exact for the sizes that matter. */
	for (size_t i = 1; i <= nx; i++)
		c = c * (double)(ny + i) / (double)i;
	return 1.0 / c;
}

/* P(W2 >= w2_obs) over all splits of the doubled mid-ranks r2[0..n) into nx
 * and n - nx: count the subsets of nx ranks by their sum (a knapsack count). */
static double exact_p(const unsigned *r2, size_t n, size_t nx, unsigned w2_obs)
{
	unsigned smax = 0;
	uint64_t *c, hit = 0, total = 0;
	size_t stride;

	for (size_t i = 0; i < n; i++)
		smax += r2[i];
	stride = (size_t)smax + 1;
	c = calloc((nx + 1) * stride, sizeof(*c));
	if (!c)
		return NAN;
	c[0] = 1; /* the empty subset sums to 0 */
	for (size_t i = 0, reach = 0; i < n; i++) {
		size_t kmax = i + 1 < nx ? i + 1 : nx;

		reach += r2[i]; /* no subset of the first i + 1 ranks sums to more */
		for (size_t k = kmax; k >= 1; k--)
			for (size_t s = reach; s >= r2[i]; s--)
				c[k * stride + s] += c[(k - 1) * stride + s - r2[i]];
	}
	for (size_t s = 0; s <= smax; s++) {
		total += c[nx * stride + s];
		if (s >= w2_obs)
			hit += c[nx * stride + s];
	}
	free(c);
	return total ? (double)hit / (double)total : 1.0;
}

double mc_mwu_p_greater(const double *x, size_t nx, const double *y, size_t ny)
{
	size_t n = nx + ny;
	struct pooled *p;
	unsigned *r2;
	uint64_t w2 = 0; /* twice the rank sum of x */
	double ties = 0; /* sum of t^3 - t over tie groups */
	double res;

	if (!nx || !ny)
		return 1.0;
	p = malloc(n * sizeof(*p));
	r2 = malloc(n * sizeof(*r2));
	if (!p || !r2) {
		free(p);
		free(r2);
		return NAN;
	}
	for (size_t i = 0; i < nx; i++)
		p[i] = (struct pooled){x[i], 1};
	for (size_t i = 0; i < ny; i++)
		p[nx + i] = (struct pooled){y[i], 0};
	qsort(p, n, sizeof(*p), cmp_pooled);
	/* Positions i..j-1 hold equal values: ranks i+1..j, mid-rank (i+1+j)/2. */
	for (size_t i = 0, j; i < n; i = j) {
		double t;

		for (j = i + 1; j < n && p[j].v == p[i].v; j++)
			;
		for (size_t k = i; k < j; k++) {
			r2[k] = (unsigned)(i + 1 + j);
			if (p[k].in_x)
				w2 += r2[k];
		}
		t = (double)(j - i);
		ties += t * t * t - t;
	}
	if (ties == (double)n * n * n - (double)n) {
		res = 1.0; /* one tie group: every split has the same rank sum */
	} else if (nx <= MC_MWU_EXACT_MAX && ny <= MC_MWU_EXACT_MAX) {
		res = exact_p(r2, n, nx, (unsigned)w2);
	} else {
		double u = (double)w2 / 2.0 - (double)nx * (double)(nx + 1) / 2.0;
		double mu = (double)nx * (double)ny / 2.0;
		double var = (double)nx * (double)ny / 12.0 *
		             ((double)(n + 1) - ties / ((double)n * (double)(n - 1)));
		double z = (u - mu - 0.5) / sqrt(var);

		res = var > 0 ? 0.5 * erfc(z / sqrt(2.0)) : 1.0;
		if (res > 1.0)
			res = 1.0;
	}
	free(p);
	free(r2);
	return res;
}

int mc_compare_parse_threshold(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	if (*end == '%' && end[1] == '\0') {
		*out = v / 100.0;
		return 0;
	}
	if (*end != '\0' || v >= 1.0)
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- loading runs ---- */

static void metric_fini(struct side_metric *m)
{
	free(m->name);
	free(m->workload);
	free(m->unit);
	free(m->v);
}

void mc_compare_side_destroy(struct mc_compare_side **s)
{
	if (!s || !*s)
		return;
	for (size_t i = 0; i < (*s)->nruns; i++) {
		free((*s)->runs[i].dir);
		free((*s)->runs[i].status);
		free((*s)->runs[i].problem);
		free((*s)->runs[i].reps);
	}
	for (size_t i = 0; i < (*s)->nm; i++)
		metric_fini(&(*s)->m[i]);
	free((*s)->runs);
	free((*s)->m);
	free(*s);
	*s = NULL;
}

static struct side_metric *find_metric(struct mc_compare_side *s, const char *name)
{
	for (size_t i = 0; i < s->nm; i++)
		if (!strcmp(s->m[i].name, name))
			return &s->m[i];
	return NULL;
}

/* Adds one summary.json metric's values to the side. */
static int add_metric(struct mc_compare_side *s, const char *path, const char *name, json_t *o,
                      char *err, size_t errlen)
{
	json_t *values = json_object_get(o, "values"), *v;
	const char *better = json_string_value(json_object_get(o, "better"));
	const char *wl = json_string_value(json_object_get(o, "workload"));
	const char *unit = json_string_value(json_object_get(o, "unit"));
	struct side_metric *m;
	size_t i;

	if (!json_is_object(o) || !json_is_array(values)) {
		mc_errf(err, errlen, "%s: metric %s: no \"values\" array", path, name);
		return -EINVAL;
	}
	if (better && strcmp(better, "lower") && strcmp(better, "higher")) {
		mc_errf(err, errlen, "%s: metric %s: better is \"%s\" (expected lower or higher)",
		        path, name, better);
		return -EINVAL;
	}
	m = find_metric(s, name);
	if (!m) {
		struct side_metric *nm = realloc(s->m, (s->nm + 1) * sizeof(*nm));
		const char *slash = strchr(name, '/');

		if (!nm)
			return -ENOMEM;
		s->m = nm;
		m = &s->m[s->nm];
		memset(m, 0, sizeof(*m));
		m->name = strdup(name);
		m->workload = wl      ? strdup(wl)
		              : slash ? strndup(name, (size_t)(slash - name))
		                      : strdup(name);
		m->unit = strdup(unit ? unit : "");
		m->higher = better && !strcmp(better, "higher");
		s->nm++;
		if (!m->name || !m->workload || !m->unit)
			return -ENOMEM;
	}
	json_array_foreach(values, i, v)
	{
		if (!json_is_number(v)) {
			mc_errf(err, errlen, "%s: metric %s: values[%zu] is not a number", path,
			        name, i);
			return -EINVAL;
		}
		if (m->n == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 8;
			double *nv = realloc(m->v, cap * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			m->v = nv;
			m->cap = cap;
		}
		m->v[m->n++] = json_number_value(v);
	}
	return 0;
}

/* Reads and parses dir/name; -ENOENT when it does not exist. */
static int load_json(const char *dir, const char *name, size_t max, json_t **out, char *path,
                     size_t pathlen, char *err, size_t errlen)
{
	json_error_t jerr;
	char *buf;
	size_t len;
	int rc;

	if ((size_t)snprintf(path, pathlen, "%s/%s", dir, name) >= pathlen) {
		mc_errf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	rc = mc_read_file(path, max, &buf, &len);
	if (rc == -ENOENT)
		return rc;
	if (rc < 0) {
		mc_errf(err, errlen, "%s: read: %s", path, strerror(-rc));
		return rc;
	}
	*out = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!*out) {
		mc_errf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		mc_errf(err, errlen, "%s: not a JSON object", path);
		return -EINVAL;
	}
	return 0;
}

/* A run's status: the manifest's, plus any workload with failed repetitions. */
static int run_status(struct side_run *r, json_t *manifest, json_t *summary)
{
	const char *st = manifest ? json_string_value(json_object_get(manifest, "status")) : NULL;
	json_t *wls = json_object_get(summary, "workloads"), *w;
	char *problem = NULL;
	long runs = 0, ok = 0;
	size_t i;

	r->status = strdup(st ? st : "unknown");
	if (!r->status)
		return -ENOMEM;
	if (strcmp(r->status, "finished")) {
		problem =
		        xasprintf("status %s%s", r->status, manifest ? "" : " (no manifest.json)");
		if (!problem)
			return -ENOMEM;
	}
	json_array_foreach(wls, i, w)
	{
		const char *name = json_string_value(json_object_get(w, "workload"));
		long wr = (long)json_integer_value(json_object_get(w, "runs"));
		long wo = (long)json_integer_value(json_object_get(w, "ok"));
		char *np;

		runs += wr;
		ok += wo;
		if (wo >= wr)
			continue;
		np = xasprintf("%s%s%s: %ld of %ld repetitions failed", problem ? problem : "",
		               problem ? "; " : "", name ? name : "?", wr - wo, wr);
		free(problem);
		if (!np)
			return -ENOMEM;
		problem = np;
	}
	r->problem = problem;
	r->reps = xasprintf("%ld/%ld repetitions ok", ok, runs);
	return r->reps ? 0 : -ENOMEM;
}

static int load_run(struct mc_compare_side *s, const char *dir, char *err, size_t errlen)
{
	char path[4096];
	json_t *summary = NULL, *manifest = NULL, *metrics, *o;
	struct side_run *runs, *r;
	struct stat st;
	const char *name;
	int rc;

	if (stat(dir, &st) < 0) {
		rc = -errno;
		mc_errf(err, errlen, "%s: not a run directory (%s)", dir, strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		mc_errf(err, errlen, "%s: not a run directory (not a directory)", dir);
		return -EINVAL;
	}
	rc = load_json(dir, "summary.json", SUMMARY_MAX, &summary, path, sizeof(path), err, errlen);
	if (rc == -ENOENT)
		mc_errf(err, errlen, "%s: not a run directory (no summary.json)", dir);
	if (rc < 0)
		return rc;
	metrics = json_object_get(summary, "metrics");
	if (!json_is_object(metrics)) {
		mc_errf(err, errlen, "%s: no \"metrics\" object (written by an older microcosm?)",
		        path);
		rc = -EINVAL;
		goto out;
	}
	rc = load_json(dir, "manifest.json", MANIFEST_MAX, &manifest, path, sizeof(path), err,
	               errlen);
	if (rc < 0 && rc != -ENOENT)
		goto out;
	runs = realloc(s->runs, (s->nruns + 1) * sizeof(*runs));
	if (!runs) {
		rc = -ENOMEM;
		goto out;
	}
	s->runs = runs;
	r = &s->runs[s->nruns++];
	memset(r, 0, sizeof(*r));
	r->dir = strdup(dir);
	rc = r->dir ? run_status(r, manifest, summary) : -ENOMEM;
	if (rc < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	json_object_foreach(metrics, name, o)
	{
		rc = add_metric(s, path, name, o, err, errlen);
		if (rc < 0)
			goto out;
	}
out:
	if (rc == -ENOMEM)
		mc_errf(err, errlen, "%s: out of memory", dir);
	json_decref(summary);
	json_decref(manifest);
	return rc;
}

static int cmp_metric(const void *a, const void *b)
{
	return strcmp(((const struct side_metric *)a)->name, ((const struct side_metric *)b)->name);
}

int mc_compare_side_load(const char *dirs, struct mc_compare_side **out, char *err, size_t errlen)
{
	struct mc_compare_side *s;
	char *copy, *p, *dir;
	int rc = 0;

	*out = NULL;
	if (!dirs || !*dirs) {
		mc_errf(err, errlen, "no run directory given");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	copy = strdup(dirs);
	if (!s || !copy) {
		free(s);
		free(copy);
		mc_errf(err, errlen, "%s: out of memory", dirs);
		return -ENOMEM;
	}
	/* strsep over the copy: "a,,b" and a trailing comma name an empty directory. */
	p = copy;
	while (rc == 0 && (dir = strsep(&p, ",")) != NULL) {
		if (!*dir) {
			mc_errf(err, errlen, "'%s': empty run directory in the list", dirs);
			rc = -EINVAL;
		} else {
			rc = load_run(s, dir, err, errlen);
		}
	}
	free(copy);
	if (rc < 0) {
		mc_compare_side_destroy(&s);
		return rc;
	}
	qsort(s->m, s->nm, sizeof(*s->m), cmp_metric);
	*out = s;
	return 0;
}

size_t mc_compare_side_runs(const struct mc_compare_side *s)
{
	return s->nruns;
}

const char *mc_compare_side_run_dir(const struct mc_compare_side *s, size_t i)
{
	return i < s->nruns ? s->runs[i].dir : NULL;
}

const char *mc_compare_side_run_status(const struct mc_compare_side *s, size_t i)
{
	return i < s->nruns ? s->runs[i].status : NULL;
}

int mc_compare_side_has_match(const struct mc_compare_side *s, const char *glob)
{
	for (size_t i = 0; i < s->nm; i++)
		if (fnmatch(glob, s->m[i].name, 0) == 0)
			return 1;
	return 0;
}

/* ---- comparing ---- */

static const struct side_metric *lookup(const struct mc_compare_side *s, const char *name)
{
	struct side_metric key = {.name = (char *)name};
	const struct side_metric *m = bsearch(&key, s->m, s->nm, sizeof(*s->m), cmp_metric);

	return m && m->n ? m : NULL; /* a metric without values is absent */
}

static int selected(const struct mc_compare_params *pp, const char *name)
{
	if (!pp->globs || !pp->nglobs)
		return 1;
	for (size_t i = 0; i < pp->nglobs; i++)
		if (fnmatch(pp->globs[i], name, 0) == 0)
			return 1;
	return 0;
}

static double median(const double *v, size_t n)
{
	double *c, m;

	if (!n)
		return NAN;
	c = malloc(n * sizeof(*c));
	if (!c)
		return NAN;
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
	free(c);
	return m;
}

static void row_fini(struct mc_compare_row *r)
{
	free(r->name);
	free(r->workload);
	free(r->unit);
	free(r->detail);
}

void mc_compare_result_destroy(struct mc_compare_result **r)
{
	if (!r || !*r)
		return;
	for (size_t i = 0; i < (*r)->nrows; i++)
		row_fini(&(*r)->rows[i]);
	free((*r)->rows);
	free((*r)->base_dirs);
	free((*r)->new_dirs);
	free(*r);
	*r = NULL;
}

/* Fills a metric row from the metric on each side (either may be NULL). */
static int metric_row(struct mc_compare_row *row, const struct side_metric *b,
                      const struct side_metric *n, const struct mc_compare_params *pp)
{
	const struct side_metric *any = b ? b : n;
	double worse;

	row->name = strdup(any->name);
	row->workload = strdup(any->workload);
	row->unit = strdup(any->unit);
	if (!row->name || !row->workload || !row->unit)
		return -ENOMEM;
	row->higher_better = any->higher;
	row->base_n = b ? b->n : 0;
	row->new_n = n ? n->n : 0;
	row->base_median = b ? median(b->v, b->n) : NAN;
	row->new_median = n ? median(n->v, n->n) : NAN;
	row->change = row->p_worse = row->p_better = NAN;
	if (!n) {
		row->verdict = MC_COMPARE_MISSING;
		return 0;
	}
	if (!b) {
		row->verdict = MC_COMPARE_NEW;
		return 0;
	}
	if (row->base_median == 0)
		row->change = row->new_median == 0 ? 0.0 : copysign(INFINITY, row->new_median);
	else
		row->change = (row->new_median - row->base_median) / fabs(row->base_median);
	worse = row->higher_better ? -row->change : row->change;
	/* "x greater than y": for lower-is-better, NEW greater than BASE is worse. */
	if (row->higher_better) {
		row->p_worse = mc_mwu_p_greater(b->v, b->n, n->v, n->n);
		row->p_better = mc_mwu_p_greater(n->v, n->n, b->v, b->n);
	} else {
		row->p_worse = mc_mwu_p_greater(n->v, n->n, b->v, b->n);
		row->p_better = mc_mwu_p_greater(b->v, b->n, n->v, n->n);
	}
	if (isnan(row->p_worse) || isnan(row->p_better))
		return -ENOMEM;
	row->few_samples = mc_mwu_min_p(b->n, n->n) > pp->alpha * (1 + EPS);
	row->verdict = MC_COMPARE_OK;
	if (worse > pp->threshold + EPS) {
		if (row->few_samples || row->p_worse <= pp->alpha * (1 + EPS))
			row->verdict = MC_COMPARE_REGRESSION;
		else
			row->not_significant = 1;
	} else if (-worse > pp->threshold + EPS) {
		if (row->few_samples || row->p_better <= pp->alpha * (1 + EPS))
			row->verdict = MC_COMPARE_IMPROVED;
		else
			row->not_significant = 1;
	}
	return 0;
}

static int run_row(struct mc_compare_row *row, const struct side_run *r)
{
	row->is_run = 1;
	row->name = strdup("run status");
	row->workload = strdup(r->dir);
	row->unit = strdup("");
	row->detail = r->problem ? xasprintf("%s (%s)", r->problem, r->reps)
	                         : xasprintf("%s, %s", r->status, r->reps);
	row->change = row->p_worse = row->p_better = row->base_median = row->new_median = NAN;
	row->verdict = r->problem ? MC_COMPARE_RUN_FAILED : MC_COMPARE_OK;
	return row->name && row->workload && row->unit && row->detail ? 0 : -ENOMEM;
}

int mc_compare_compute(const struct mc_compare_side *base, const struct mc_compare_side *new_,
                       const struct mc_compare_params *params, struct mc_compare_result **out)
{
	struct mc_compare_result *r = calloc(1, sizeof(*r));
	size_t i = 0, j = 0;
	int rc = 0;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->threshold = params->threshold;
	r->alpha = params->alpha;
	r->rows = calloc(base->nm + new_->nm + new_->nruns + 1, sizeof(*r->rows));
	if (!r->rows) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Both metric lists are sorted: walk them side by side. */
	while (i < base->nm || j < new_->nm) {
		int c = i == base->nm   ? 1
		        : j == new_->nm ? -1
		                        : strcmp(base->m[i].name, new_->m[j].name);
		const char *name = c <= 0 ? base->m[i].name : new_->m[j].name;
		const struct side_metric *b = lookup(base, name), *n = lookup(new_, name);
		struct mc_compare_row *row;

		i += c <= 0;
		j += c >= 0;
		if ((!b && !n) || !selected(params, name))
			continue;
		row = &r->rows[r->nrows++];
		rc = metric_row(row, b, n, params);
		if (rc < 0)
			goto fail;
		r->metrics++;
		r->regressions += row->verdict == MC_COMPARE_REGRESSION;
		r->missing += row->verdict == MC_COMPARE_MISSING;
		r->improved += row->verdict == MC_COMPARE_IMPROVED;
	}
	for (size_t k = 0; k < new_->nruns; k++) {
		struct mc_compare_row *row = &r->rows[r->nrows++];

		rc = run_row(row, &new_->runs[k]);
		if (rc < 0)
			goto fail;
		r->failed_runs += row->verdict == MC_COMPARE_RUN_FAILED;
	}
	/* The sides as given, for the reports. */
	{
		size_t lb = 0, ln = 0;

		for (size_t k = 0; k < base->nruns; k++)
			lb += strlen(base->runs[k].dir) + 1;
		for (size_t k = 0; k < new_->nruns; k++)
			ln += strlen(new_->runs[k].dir) + 1;
		r->base_dirs = calloc(1, lb + 1);
		r->new_dirs = calloc(1, ln + 1);
		if (!r->base_dirs || !r->new_dirs) {
			rc = -ENOMEM;
			goto fail;
		}
		for (size_t k = 0; k < base->nruns; k++)
			strcat(strcat(r->base_dirs, k ? "," : ""), base->runs[k].dir);
		for (size_t k = 0; k < new_->nruns; k++)
			strcat(strcat(r->new_dirs, k ? "," : ""), new_->runs[k].dir);
	}
	*out = r;
	return 0;
fail:
	mc_compare_result_destroy(&r);
	return rc;
}

int mc_compare_failed(const struct mc_compare_result *r)
{
	return r->regressions || r->missing || r->failed_runs;
}

const char *mc_compare_verdict_name(enum mc_compare_verdict v)
{
	switch (v) {
	case MC_COMPARE_OK:
		return "ok";
	case MC_COMPARE_IMPROVED:
		return "improved";
	case MC_COMPARE_REGRESSION:
		return "REGRESSION";
	case MC_COMPARE_MISSING:
		return "MISSING";
	case MC_COMPARE_NEW:
		return "new";
	case MC_COMPARE_RUN_FAILED:
		return "FAILED";
	}
	return "?";
}

void mc_compare_verdict_line(const struct mc_compare_result *r, char *buf, size_t len)
{
	char runs[64] = "";

	if (r->failed_runs)
		snprintf(runs, sizeof(runs), ", %zu failed run%s", r->failed_runs,
		         r->failed_runs == 1 ? "" : "s");
	snprintf(buf, len, "compare: %zu metric%s, %zu regression%s, %zu missing%s -> %s",
	         r->metrics, r->metrics == 1 ? "" : "s", r->regressions,
	         r->regressions == 1 ? "" : "s", r->missing, runs,
	         mc_compare_failed(r) ? "FAIL" : "PASS");
}

/* ---- reports ---- */

/* A value for people: whole numbers from 10000 up, else 5 significant digits. */
static void fmt_num(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (fabs(v) >= 1e4 && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.5g", v);
}

static void fmt_median(char *buf, size_t len, double v, size_t n, const char *unit)
{
	char num[64];

	if (!n) {
		snprintf(buf, len, "-");
		return;
	}
	fmt_num(num, sizeof(num), v);
	snprintf(buf, len, "%s%s%s (%zu)", num, *unit ? " " : "", unit, n);
}

static void fmt_change(char *buf, size_t len, double c)
{
	if (isnan(c))
		snprintf(buf, len, "-");
	else if (isinf(c))
		snprintf(buf, len, "%sinf%%", c > 0 ? "+" : "-");
	else
		snprintf(buf, len, "%+.1f%%", c * 100.0);
}

/* The p-value in the direction the median moved. */
static double shown_p(const struct mc_compare_row *row)
{
	double worse;

	if (isnan(row->change))
		return NAN;
	worse = row->higher_better ? -row->change : row->change;
	return worse >= 0 ? row->p_worse : row->p_better;
}

static void fmt_p(char *buf, size_t len, double p)
{
	if (isnan(p))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3g", p);
}

static void fmt_verdict(char *buf, size_t len, const struct mc_compare_row *row)
{
	snprintf(buf, len, "%s%s", mc_compare_verdict_name(row->verdict),
	         row->few_samples       ? " (few samples)"
	         : row->not_significant ? " (not significant)"
	                                : "");
}

struct cells {
	char metric[512], base[96], new_[96], change[32], p[32], verdict[64];
};

static void row_cells(const struct mc_compare_row *row, struct cells *c)
{
	snprintf(c->metric, sizeof(c->metric), "%s", row->name);
	fmt_median(c->base, sizeof(c->base), row->base_median, row->base_n, row->unit);
	fmt_median(c->new_, sizeof(c->new_), row->new_median, row->new_n, row->unit);
	fmt_change(c->change, sizeof(c->change), row->change);
	fmt_p(c->p, sizeof(c->p), shown_p(row));
	fmt_verdict(c->verdict, sizeof(c->verdict), row);
}

static int imax(int a, size_t b)
{
	return (size_t)a > b ? a : (int)b;
}

int mc_compare_write_table(const struct mc_compare_result *r, FILE *fp)
{
	int wm = 6, wb = 17, wn = 16, wc = 6, wp = 1;
	char line[256];
	struct cells c;

	for (size_t i = 0; i < r->nrows; i++) {
		if (r->rows[i].is_run) {
			wm = imax(wm, strlen("run status"));
			continue;
		}
		row_cells(&r->rows[i], &c);
		wm = imax(wm, strlen(c.metric));
		wb = imax(wb, strlen(c.base));
		wn = imax(wn, strlen(c.new_));
		wc = imax(wc, strlen(c.change));
		wp = imax(wp, strlen(c.p));
	}
	fprintf(fp, "%-*s  %-*s  %-*s  %*s  %-*s  %s\n", wm, "METRIC", wb, "BASE median (n)", wn,
	        "NEW median (n)", wc, "CHANGE", wp, "p", "VERDICT");
	for (size_t i = 0; i < r->nrows; i++) {
		const struct mc_compare_row *row = &r->rows[i];

		if (row->is_run) {
			fprintf(fp, "%-*s  %s: %s  %s\n", wm, row->name, row->workload, row->detail,
			        mc_compare_verdict_name(row->verdict));
			continue;
		}
		row_cells(row, &c);
		fprintf(fp, "%-*s  %-*s  %-*s  %*s  %-*s  %s\n", wm, c.metric, wb, c.base, wn,
		        c.new_, wc, c.change, wp, c.p, c.verdict);
	}
	mc_compare_verdict_line(r, line, sizeof(line));
	fprintf(fp, "%s\n", line);
	return fflush(fp) || ferror(fp) ? -EIO : 0;
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static const char *json_verdict(enum mc_compare_verdict v)
{
	static const char *const names[] = {"ok",      "improved", "regression",
	                                    "missing", "new",      "failed"};

	return (size_t)v < MC_ARRAY_SIZE(names) ? names[v] : "?";
}

int mc_compare_write_json(const struct mc_compare_result *r, FILE *fp)
{
	json_t *doc, *metrics = json_array(), *runs = json_array();
	char line[256];
	int rc;

	for (size_t i = 0; i < r->nrows; i++) {
		const struct mc_compare_row *row = &r->rows[i];

		if (row->is_run) {
			json_array_append_new(runs, json_pack("{s:s, s:s, s:b}", "run",
			                                      row->workload, "detail", row->detail,
			                                      "ok", row->verdict == MC_COMPARE_OK));
			continue;
		}
		json_array_append_new(
		        metrics,
		        json_pack("{s:s, s:s, s:s, s:s, s:{s:o, s:I}, s:{s:o, s:I}, s:o, s:o, s:o, "
		                  "s:o, s:b, s:b, s:s}",
		                  "metric", row->name, "workload", row->workload, "unit", row->unit,
		                  "better", row->higher_better ? "higher" : "lower", "base",
		                  "median", num_or_null(row->base_median), "n",
		                  (json_int_t)row->base_n, "new", "median",
		                  num_or_null(row->new_median), "n", (json_int_t)row->new_n,
		                  "change", num_or_null(row->change), "p_worse",
		                  num_or_null(row->p_worse), "p_better", num_or_null(row->p_better),
		                  "p", num_or_null(shown_p(row)), "few_samples", row->few_samples,
		                  "not_significant", row->not_significant, "verdict",
		                  json_verdict(row->verdict)));
	}
	mc_compare_verdict_line(r, line, sizeof(line));
	doc = json_pack("{s:s, s:s, s:f, s:f, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:b, s:s}}",
	                "base", r->base_dirs, "new", r->new_dirs, "threshold", r->threshold,
	                "alpha", r->alpha, "metrics", metrics, "runs", runs, "summary", "metrics",
	                (json_int_t)r->metrics, "regressions", (json_int_t)r->regressions,
	                "missing", (json_int_t)r->missing, "improved", (json_int_t)r->improved,
	                "failed_runs", (json_int_t)r->failed_runs, "pass", !mc_compare_failed(r),
	                "line", line);
	if (!doc)
		return -ENOMEM;
	rc = json_dumpf(doc, fp, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	json_decref(doc);
	if (rc < 0 || fputc('\n', fp) == EOF || fflush(fp))
		return -EIO;
	return 0;
}

/* Writes s with XML's five special characters escaped; other control
 * characters, which XML 1.0 cannot carry, become '?'. */
static void xml_escape(FILE *fp, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '&':
			fputs("&amp;", fp);
			break;
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		case '\'':
			fputs("&apos;", fp);
			break;
		default:
			fputc(ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r' ? '?' : ch, fp);
		}
	}
}

/* "ring/8B/lap_us_median REGRESSION (few samples): base median 801.2 us (3), new median
 * 900 us (3), change +12.3%, p=0.05" */
static char *describe(const struct mc_compare_row *row)
{
	struct cells c;

	row_cells(row, &c);
	return xasprintf("%s %s: base median %s, new median %s, change %s, p=%s", row->name,
	                 c.verdict, c.base, c.new_, c.change, c.p);
}

int mc_compare_write_junit(const struct mc_compare_result *r, FILE *fp)
{
	size_t tests = r->nrows;
	size_t failures = r->regressions + r->missing + r->failed_runs;
	char line[256];

	mc_compare_verdict_line(r, line, sizeof(line));
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(fp,
	        "<testsuites name=\"microcosm compare\" tests=\"%zu\" failures=\"%zu\" "
	        "errors=\"0\" time=\"0\">\n",
	        tests, failures);
	fprintf(fp,
	        "  <testsuite name=\"microcosm compare\" tests=\"%zu\" failures=\"%zu\" "
	        "errors=\"0\" skipped=\"0\" time=\"0\">\n",
	        tests, failures);
	fprintf(fp, "    <properties>\n      <property name=\"base\" value=\"");
	xml_escape(fp, r->base_dirs);
	fprintf(fp, "\"/>\n      <property name=\"new\" value=\"");
	xml_escape(fp, r->new_dirs);
	fprintf(fp, "\"/>\n      <property name=\"threshold\" value=\"%g\"/>\n", r->threshold);
	fprintf(fp, "      <property name=\"alpha\" value=\"%g\"/>\n    </properties>\n", r->alpha);
	for (size_t i = 0; i < r->nrows; i++) {
		const struct mc_compare_row *row = &r->rows[i];
		int failed = row->verdict == MC_COMPARE_REGRESSION ||
		             row->verdict == MC_COMPARE_MISSING ||
		             row->verdict == MC_COMPARE_RUN_FAILED;
		char *text = row->is_run ? xasprintf("%s: %s", row->workload, row->detail)
		                         : describe(row);

		if (!text)
			return -ENOMEM;
		fprintf(fp, "    <testcase classname=\"");
		xml_escape(fp, row->workload);
		fprintf(fp, "\" name=\"");
		xml_escape(fp, row->name);
		fprintf(fp, "\" time=\"0\">\n");
		if (failed) {
			fprintf(fp, "      <failure type=\"%s\" message=\"",
			        json_verdict(row->verdict));
			xml_escape(fp, text);
			fprintf(fp, "\">");
			xml_escape(fp, text);
			fprintf(fp, "</failure>\n");
		} else {
			fprintf(fp, "      <system-out>");
			xml_escape(fp, text);
			fprintf(fp, "</system-out>\n");
		}
		fprintf(fp, "    </testcase>\n");
		free(text);
	}
	fprintf(fp, "    <system-out>");
	xml_escape(fp, line);
	fprintf(fp, "</system-out>\n  </testsuite>\n</testsuites>\n");
	return fflush(fp) || ferror(fp) ? -EIO : 0;
}
