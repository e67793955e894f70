/* wl_common.c — option values, rank agreement, watchdog and JSON lines for the MPI workloads. */
#include "wl_common.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void wl_ctx_init(struct wl_ctx *ctx, const char *prog, const char *workload)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->prog = prog;
	ctx->workload = workload;
	ctx->rank = -1;
	ctx->size = 1;
	atomic_init(&ctx->phase, "start-up");
	atomic_init(&ctx->rank_seen, -1);
	/* Present only when libmc-mpi-trace.so is preloaded; see tracing/mc_mpi_trace.h. */
	ctx->trace_phase = (__typeof__(ctx->trace_phase))dlsym(RTLD_DEFAULT, "mc_trace_phase");
	ctx->trace_iteration =
	        (__typeof__(ctx->trace_iteration))dlsym(RTLD_DEFAULT, "mc_trace_iteration");
}

int wl_usage_error(struct wl_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
		va_end(ap);
	}
	return WL_EXIT_USAGE;
}

int wl_getopt_error(struct wl_ctx *ctx, int c, char *const argv[])
{
	/* Long options: getopt_long has advanced optind past the offending word. */
	const char *word = argv[optind - 1];
	bool is_long = strncmp(word, "--", 2) == 0;

	if (c == ':')
		return wl_usage_error(ctx, "option '%s' needs a value", word);
	if (is_long && optopt && strchr(word, '='))
		return wl_usage_error(ctx, "option '%.*s' takes no value", (int)strcspn(word, "="),
		                      word);
	if (!is_long && optopt)
		return wl_usage_error(ctx, "unknown option '-%c'", optopt);
	return wl_usage_error(ctx, "unknown option '%s'", word);
}

int wl_parse_size(struct wl_ctx *ctx, const char *opt, const char *s, size_t max, size_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return wl_usage_error(ctx, "%s: '%s' is not a size", opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end != '\0')
		return wl_usage_error(ctx, "%s: '%s' is not a size", opt, s);
	if (errno == ERANGE || v > (max >> shift))
		return wl_usage_error(ctx, "%s: '%s' is larger than %zu bytes", opt, s, max);
	*out = (size_t)(v << shift);
	return 0;
}

int wl_parse_sizes(struct wl_ctx *ctx, const char *opt, const char *s, size_t max,
                   size_t out[WL_MAX_SIZES], int *n)
{
	char item[64];

	*n = 0;
	for (;;) {
		size_t len = strcspn(s, ",");

		if (*n == WL_MAX_SIZES)
			return wl_usage_error(ctx, "%s: more than %d sizes", opt, WL_MAX_SIZES);
		if (len >= sizeof(item))
			return wl_usage_error(ctx, "%s: '%.*s' is not a size", opt, (int)len, s);
		memcpy(item, s, len);
		item[len] = '\0';
		if (wl_parse_size(ctx, opt, item, max, &out[*n]))
			return WL_EXIT_USAGE;
		(*n)++;
		if (s[len] == '\0')
			return 0;
		s += len + 1;
	}
}

int wl_parse_int(struct wl_ctx *ctx, const char *opt, const char *s, long min, long max, long *out)
{
	long v;
	char *end;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max)
		return wl_usage_error(ctx, "%s: '%s' is not an integer in %ld..%ld", opt, s, min,
		                      max);
	*out = v;
	return 0;
}

int wl_parse_duration(struct wl_ctx *ctx, const char *opt, const char *s, double *out)
{
	static const struct {
		const char *unit;
		double seconds;
	} units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"m", 60}, {"h", 3600}};
	double v;
	char *end;

	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		return wl_usage_error(ctx, "%s: '%s' is not a duration", opt, s);
	v = strtod(s, &end);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0 || !isfinite(v))
			continue;
		if (v * units[i].seconds > WL_MAX_SECONDS)
			return wl_usage_error(ctx, "%s: '%s' is longer than %gs", opt, s,
			                      WL_MAX_SECONDS);
		*out = v * units[i].seconds;
		return 0;
	}
	return wl_usage_error(ctx, "%s: '%s' is not a duration", opt, s);
}

/* Aborts the job on any MPI error, naming the rank (MPI_COMM_WORLD and the
 * communicators derived from it inherit this handler). */
static void on_mpi_error(MPI_Comm *comm, int *code, ...)
{
	char msg[MPI_MAX_ERROR_STRING], host[MPI_MAX_PROCESSOR_NAME];
	int len, rank = -1;

	if (MPI_Error_string(*code, msg, &len) != MPI_SUCCESS)
		snprintf(msg, sizeof(msg), "error code %d", *code);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (MPI_Get_processor_name(host, &len) != MPI_SUCCESS)
		snprintf(host, sizeof(host), "?");
	fprintf(stderr, "%s: rank %d (%s): MPI error: %s\n", program_invocation_short_name, rank,
	        host, msg);
	MPI_Abort(*comm, WL_EXIT_FAIL);
}

/* The --timeout watchdog: sleeps until the deadline, then ends this rank,
 * which makes mpiexec end the others. Calls no MPI. */
static void *watchdog(void *arg)
{
	struct wl_ctx *ctx = arg;
	struct timespec t;
	char host[256] = "?", rank[16] = "?";
	double whole = floor(ctx->timeout);

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)whole;
	t.tv_nsec += (long)((ctx->timeout - whole) * 1e9);
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
	gethostname(host, sizeof(host) - 1);
	if (atomic_load(&ctx->rank_seen) >= 0)
		snprintf(rank, sizeof(rank), "%d", atomic_load(&ctx->rank_seen));
	fprintf(stderr, "%s: rank %s (%s): --timeout %gs expired in %s\n", ctx->prog, rank, host,
	        ctx->timeout, atomic_load(&ctx->phase));
	_exit(WL_EXIT_FAIL);
}

int wl_mpi_init(struct wl_ctx *ctx, int *argc, char ***argv)
{
	MPI_Errhandler eh;
	pthread_attr_t attr;
	pthread_t tid;
	int provided, len, rc;

	if (ctx->timeout > 0) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&tid, &attr, watchdog, ctx);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			fprintf(stderr, "%s: watchdog thread: %s\n", ctx->prog, strerror(rc));
			return WL_EXIT_FAIL;
		}
	}
	wl_phase(ctx, "MPI_Init");
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		fprintf(stderr, "%s: MPI_Init_thread failed\n", ctx->prog);
		return WL_EXIT_FAIL;
	}
	MPI_Comm_create_errhandler(on_mpi_error, &eh);
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, eh);
	MPI_Errhandler_free(&eh);
	MPI_Comm_rank(MPI_COMM_WORLD, &ctx->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &ctx->size);
	MPI_Get_processor_name(ctx->host, &len);
	atomic_store(&ctx->rank_seen, ctx->rank);
	wl_phase(ctx, "set-up");
	return 0;
}

bool wl_agree_usage(struct wl_ctx *ctx)
{
	int mine = ctx->err[0] ? ctx->rank : ctx->size, first;

	MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	if (first == ctx->size)
		return true;
	if (first == ctx->rank)
		fprintf(stderr, "%s: %s\n", ctx->prog, ctx->err);
	return false;
}

bool wl_all_ok(bool ok)
{
	int mine = ok, all;

	MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
	return all != 0;
}

void wl_fail(const struct wl_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: rank %d (%s): %s\n", ctx->prog, ctx->rank, ctx->host, msg);
}

void wl_phase(struct wl_ctx *ctx, const char *phase)
{
	atomic_store(&ctx->phase, phase);
	wl_trace_phase(ctx, phase);
}

void wl_trace_phase(const struct wl_ctx *ctx, const char *phase)
{
	if (ctx->trace_phase)
		ctx->trace_phase(ctx->workload, phase);
}

void wl_trace_iteration(const struct wl_ctx *ctx, uint64_t n, double value)
{
	if (ctx->trace_iteration)
		ctx->trace_iteration(ctx->workload, n, value);
}

int wl_finish(struct wl_ctx *ctx, int code)
{
	fflush(stdout);
	wl_phase(ctx, "MPI_Finalize");
	MPI_Finalize();
	return code;
}

static void json_key(FILE *f, const char *key)
{
	fprintf(f, ",\"%s\":", key);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void wl_json_begin(FILE *f, const struct wl_ctx *ctx)
{
	fputs("{\"workload\":", f);
	json_string(f, ctx->workload);
	fprintf(f, ",\"ranks\":%d", ctx->size);
}

void wl_json_int(FILE *f, const char *key, long long v)
{
	json_key(f, key);
	fprintf(f, "%lld", v);
}

void wl_json_num(FILE *f, const char *key, double v)
{
	json_key(f, key);
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

void wl_json_str(FILE *f, const char *key, const char *s)
{
	json_key(f, key);
	json_string(f, s);
}

void wl_json_ints(FILE *f, const char *key, const int *v, int n)
{
	json_key(f, key);
	fputc('[', f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? "," : "", v[i]);
	fputc(']', f);
}

void wl_json_end(FILE *f)
{
	fputs("}\n", f);
	fflush(f);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void wl_stats(double *v, size_t n, struct wl_stats *out)
{
	qsort(v, n, sizeof(*v), cmp_double);
	out->min = v[0];
	out->max = v[n - 1];
	out->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
