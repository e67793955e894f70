/* allreduce.c — mc-allreduce: MPI_Allreduce (sum of doubles) time by message size, verified. */
#include "wl_common.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define AR_MAX_BYTES ((size_t)1 << 30) /* bytes, largest vector */
#define AR_MAX_ITERS 100000000L

struct ar_opts {
	size_t sizes[WL_MAX_SIZES]; /* bytes per vector, multiples of sizeof(double) */
	int nsizes;                 /* entries in sizes */
	long iters;                 /* timed calls per size */
	long warmup;                /* untimed calls per size before them */
	long corrupt;               /* this rank spoils its last result (a test); -1 = none */
};

static const char usage[] =
        "Usage: mc-allreduce [options]\n"
        "Times MPI_Allreduce (MPI_SUM over doubles) for each vector size. Every rank\n"
        "times each call; a call's time is the slowest rank's. Every result is checked\n"
        "against the exact sum of the ranks' inputs.\n"
        "\n"
        "  --sizes LIST    vector sizes in bytes, multiples of 8, suffixes K, M, G\n"
        "                  (default 8,1K,64K,1M; at most 1G each)\n"
        "  --iters N       timed calls per size (default 100)\n"
        "  --warmup N      untimed calls per size before them (default 10)\n"
        "  --corrupt RANK  testing: RANK spoils its last result, the check fails\n"
        "                  (default: none)\n" WL_COMMON_USAGE "\n"
        "Rank 0 prints one JSON object per line on stdout, one per size, with\n"
        "workload, ranks, bytes, count (doubles), iters, time_us_median, time_us_min\n"
        "and time_us_max.\n"
        "Exit status: 0 ok, 1 MPI failure or a wrong sum, 2 bad option.\n";

/* Fills o from argv. Returns 0, WL_HELP, or WL_EXIT_USAGE with ctx->err set. No MPI. */
static int parse(struct wl_ctx *ctx, int argc, char **argv, struct ar_opts *o)
{
	static const struct option longopts[] = {
	        {"sizes", required_argument, NULL, 's'},
	        {"iters", required_argument, NULL, 'i'},
	        {"warmup", required_argument, NULL, 'w'},
	        {"corrupt", required_argument, NULL, 'c'},
	        {"timeout", required_argument, NULL, WL_OPT_TIMEOUT},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	bool help = false;
	int c;

	*o = (struct ar_opts){.iters = 100, .warmup = 10, .corrupt = -1};
	wl_parse_sizes(ctx, "--sizes", "8,1K,64K,1M", AR_MAX_BYTES, o->sizes, &o->nsizes);
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			wl_parse_sizes(ctx, "--sizes", optarg, AR_MAX_BYTES, o->sizes, &o->nsizes);
			break;
		case 'i':
			wl_parse_int(ctx, "--iters", optarg, 1, AR_MAX_ITERS, &o->iters);
			break;
		case 'w':
			wl_parse_int(ctx, "--warmup", optarg, 0, AR_MAX_ITERS, &o->warmup);
			break;
		case 'c':
			wl_parse_int(ctx, "--corrupt", optarg, 0, 1L << 30, &o->corrupt);
			break;
		case WL_OPT_TIMEOUT:
			wl_parse_duration(ctx, "--timeout", optarg, &ctx->timeout);
			break;
		case 'h':
			help = true;
			break;
		default:
			wl_getopt_error(ctx, c, argv);
		}
	}
	if (optind < argc)
		wl_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	for (int s = 0; s < o->nsizes; s++) {
		if (o->sizes[s] == 0 || o->sizes[s] % sizeof(double) != 0)
			wl_usage_error(ctx,
			               "--sizes: %zu is not a multiple of 8 bytes (one double)",
			               o->sizes[s]);
	}
	if (help)
		return WL_HELP;
	return ctx->err[0] ? WL_EXIT_USAGE : 0;
}

/* Rank r contributes (r + 1) * (i % 13 + 1) at element i: small integers, so
 * the sum over N ranks, N (N + 1) / 2 * (i % 13 + 1), is exact in a double. */
static double input(int rank, size_t i)
{
	return (double)(rank + 1) * (double)(i % 13 + 1);
}

/* Checks a result; prints the first wrong element. Returns false if any. */
static bool check(const struct wl_ctx *ctx, const double *out, size_t count)
{
	double ranks = (double)ctx->size * (ctx->size + 1) / 2;

	for (size_t i = 0; i < count; i++) {
		double want = ranks * (double)(i % 13 + 1);

		if (out[i] != want) {
			wl_fail(ctx, "wrong sum at %zu bytes, element %zu: got %.17g, want %.17g",
			        count * sizeof(double), i, out[i], want);
			return false;
		}
	}
	return true;
}

int main(int argc, char **argv)
{
	struct wl_ctx ctx;
	struct ar_opts o;
	double *in = NULL, *out = NULL, *times = NULL, *slowest = NULL;
	size_t max = 0;
	int rc, code = WL_EXIT_FAIL;

	wl_ctx_init(&ctx, "mc-allreduce", "allreduce");
	rc = parse(&ctx, argc, argv, &o);
	if (rc == WL_HELP) {
		fputs(usage, stdout);
		return WL_EXIT_OK;
	}
	if (wl_mpi_init(&ctx, &argc, &argv))
		return WL_EXIT_FAIL;
	if (o.corrupt >= ctx.size)
		wl_usage_error(&ctx, "--corrupt: there is no rank %ld (%d ranks)", o.corrupt,
		               ctx.size);
	if (!wl_agree_usage(&ctx))
		return wl_finish(&ctx, WL_EXIT_USAGE);

	for (int s = 0; s < o.nsizes; s++)
		max = o.sizes[s] > max ? o.sizes[s] : max;
	in = malloc(max);
	out = malloc(max);
	times = malloc((size_t)o.iters * sizeof(*times));
	slowest = malloc((size_t)o.iters * sizeof(*slowest));
	if (!in || !out || !times || !slowest)
		wl_fail(&ctx, "out of memory for %zu-byte vectors", max);
	if (!wl_all_ok(in && out && times && slowest))
		goto out;
	for (size_t i = 0; i < max / sizeof(double); i++)
		in[i] = input(ctx.rank, i);

	for (int s = 0; s < o.nsizes; s++) {
		int count = (int)(o.sizes[s] / sizeof(double));
		bool ok = true;
		char what[32];

		snprintf(what, sizeof(what), "size %zu", o.sizes[s]);
		wl_trace_phase(&ctx, what);
		wl_phase(&ctx, "warmup");
		for (long k = 0; k < o.warmup; k++)
			MPI_Allreduce(in, out, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
		wl_phase(&ctx, "run");
		for (long k = 0; k < o.iters; k++) {
			double t0;

			memset(out, 0xff, (size_t)count * sizeof(double)); /* NaN: a no-op fails */
			MPI_Barrier(MPI_COMM_WORLD);
			t0 = MPI_Wtime();
			MPI_Allreduce(in, out, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
			times[k] = MPI_Wtime() - t0;
			if (k == o.iters - 1 && o.corrupt == ctx.rank)
				out[count / 2] += 1;
			/* Keep calling after a failure: every rank must make the same calls. */
			if (ok)
				ok = check(&ctx, out, (size_t)count);
		}
		if (!wl_all_ok(ok))
			goto out;
		MPI_Reduce(times, slowest, (int)o.iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
		if (ctx.rank == 0) {
			struct wl_stats st;

			wl_stats(slowest, (size_t)o.iters, &st);
			wl_trace_iteration(&ctx, o.sizes[s], st.median * 1e6);
			wl_json_begin(stdout, &ctx);
			wl_json_int(stdout, "bytes", (long long)o.sizes[s]);
			wl_json_int(stdout, "count", count);
			wl_json_int(stdout, "iters", o.iters);
			wl_json_num(stdout, "time_us_median", st.median * 1e6);
			wl_json_num(stdout, "time_us_min", st.min * 1e6);
			wl_json_num(stdout, "time_us_max", st.max * 1e6);
			wl_json_end(stdout);
		}
	}
	code = WL_EXIT_OK;
out:
	free(slowest);
	free(times);
	free(out);
	free(in);
	return wl_finish(&ctx, code);
}
