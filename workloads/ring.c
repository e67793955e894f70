/* ring.c — mc-ring: ring latency by message size, or ping-pong latency between ranks 0 and 1. */
#include "wl_common.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define RING_MAX_BYTES ((size_t)1 << 30) /* bytes, largest message */
#define RING_MAX_ITERS 100000000L
#define RING_TAG       1

struct ring_opts {
	size_t sizes[WL_MAX_SIZES]; /* bytes per message */
	int nsizes;                 /* entries in sizes */
	long iters;                 /* timed laps (round trips) per size */
	long warmup;                /* untimed laps before them */
	bool pingpong;              /* ranks 0 and 1 bounce a message instead of the ring */
};

static const char usage[] =
        "Usage: mc-ring [options]\n"
        "Ring latency: a token of each size travels rank 0 -> 1 -> ... -> N-1 -> 0 and\n"
        "rank 0 times every lap. With --pingpong, ranks 0 and 1 bounce the message\n"
        "instead (the other ranks wait) and the one-way latency is half the round trip.\n"
        "\n"
        "  --sizes LIST    message sizes in bytes, suffixes K, M, G\n"
        "                  (default 8,64,1K,8K,64K; at most 1G each)\n"
        "  --iters N       timed laps per size (default 100)\n"
        "  --warmup N      untimed laps per size before them (default 10)\n"
        "  --pingpong      between ranks 0 and 1; needs 2 ranks or more\n" WL_COMMON_USAGE "\n"
        "Rank 0 prints one JSON object per line on stdout, one per size, with\n"
        "workload, ranks, mode (\"ring\" or \"pingpong\"), bytes, iters and\n"
        "  ring:      lap_us_median, lap_us_min, hop_latency_us (median lap / ranks),\n"
        "  pingpong:  rtt_us_median, rtt_us_min, latency_us_median and latency_us_min\n"
        "             (one way: half the round trip),\n"
        "  both:      bandwidth_MBps (bytes over the one-hop time; MB = 10^6 bytes).\n"
        "Exit status: 0 ok, 1 MPI failure or a changed message, 2 bad option.\n";

/* Fills o from argv. Returns 0, WL_HELP, or WL_EXIT_USAGE with ctx->err set. No MPI. */
static int parse(struct wl_ctx *ctx, int argc, char **argv, struct ring_opts *o)
{
	static const struct option longopts[] = {
	        {"sizes", required_argument, NULL, 's'},
	        {"iters", required_argument, NULL, 'i'},
	        {"warmup", required_argument, NULL, 'w'},
	        {"pingpong", no_argument, NULL, 'p'},
	        {"timeout", required_argument, NULL, WL_OPT_TIMEOUT},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	bool help = false;
	int c;

	*o = (struct ring_opts){.iters = 100, .warmup = 10};
	wl_parse_sizes(ctx, "--sizes", "8,64,1K,8K,64K", RING_MAX_BYTES, o->sizes, &o->nsizes);
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			wl_parse_sizes(ctx, "--sizes", optarg, RING_MAX_BYTES, o->sizes,
			               &o->nsizes);
			break;
		case 'i':
			wl_parse_int(ctx, "--iters", optarg, 1, RING_MAX_ITERS, &o->iters);
			break;
		case 'w':
			wl_parse_int(ctx, "--warmup", optarg, 0, RING_MAX_ITERS, &o->warmup);
			break;
		case 'p':
			o->pingpong = true;
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
	if (help)
		return WL_HELP;
	return ctx->err[0] ? WL_EXIT_USAGE : 0;
}

/* One lap of the ring. Rank 0 sends sbuf and receives rbuf, every other rank
 * forwards what it receives. Returns the lap time on rank 0 (s), 0 elsewhere. */
static double ring_lap(const struct wl_ctx *ctx, const void *sbuf, void *rbuf, int bytes)
{
	int right = (ctx->rank + 1) % ctx->size, left = (ctx->rank + ctx->size - 1) % ctx->size;
	MPI_Request req;
	double t0;

	if (ctx->rank != 0) {
		MPI_Recv(rbuf, bytes, MPI_BYTE, left, RING_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		MPI_Send(rbuf, bytes, MPI_BYTE, right, RING_TAG, MPI_COMM_WORLD);
		return 0;
	}
	t0 = MPI_Wtime();
	/* Non-blocking send: with one rank, rank 0 is its own neighbour on both sides. */
	MPI_Isend(sbuf, bytes, MPI_BYTE, right, RING_TAG, MPI_COMM_WORLD, &req);
	MPI_Recv(rbuf, bytes, MPI_BYTE, left, RING_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	MPI_Wait(&req, MPI_STATUS_IGNORE);
	return MPI_Wtime() - t0;
}

/* One round trip between ranks 0 and 1. Returns the round-trip time on rank 0 (s),
 * 0 elsewhere; ranks above 1 do nothing. */
static double pingpong_lap(const struct wl_ctx *ctx, const void *sbuf, void *rbuf, int bytes)
{
	double t0;

	if (ctx->rank == 1) {
		MPI_Recv(rbuf, bytes, MPI_BYTE, 0, RING_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		MPI_Send(rbuf, bytes, MPI_BYTE, 0, RING_TAG, MPI_COMM_WORLD);
	}
	if (ctx->rank != 0)
		return 0;
	t0 = MPI_Wtime();
	MPI_Send(sbuf, bytes, MPI_BYTE, 1, RING_TAG, MPI_COMM_WORLD);
	MPI_Recv(rbuf, bytes, MPI_BYTE, 1, RING_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	return MPI_Wtime() - t0;
}

static void print_line(const struct wl_ctx *ctx, const struct ring_opts *o, size_t bytes,
                       double *laps)
{
	struct wl_stats st;
	double med_us, min_us, one_way_us;

	wl_stats(laps, (size_t)o->iters, &st);
	med_us = st.median * 1e6;
	min_us = st.min * 1e6;
	/* The message crosses N links per lap, 2 per round trip. */
	one_way_us = o->pingpong ? med_us / 2 : med_us / ctx->size;
	wl_trace_iteration(ctx, bytes, med_us);

	wl_json_begin(stdout, ctx);
	wl_json_str(stdout, "mode", o->pingpong ? "pingpong" : "ring");
	wl_json_int(stdout, "bytes", (long long)bytes);
	wl_json_int(stdout, "iters", o->iters);
	if (o->pingpong) {
		wl_json_num(stdout, "rtt_us_median", med_us);
		wl_json_num(stdout, "rtt_us_min", min_us);
		wl_json_num(stdout, "latency_us_median", one_way_us);
		wl_json_num(stdout, "latency_us_min", min_us / 2);
	} else {
		wl_json_num(stdout, "lap_us_median", med_us);
		wl_json_num(stdout, "lap_us_min", min_us);
		wl_json_num(stdout, "hop_latency_us", one_way_us);
	}
	/* bytes per microsecond is MB/s. */
	wl_json_num(stdout, "bandwidth_MBps", one_way_us > 0 ? (double)bytes / one_way_us : 0);
	wl_json_end(stdout);
}

int main(int argc, char **argv)
{
	struct wl_ctx ctx;
	struct ring_opts o;
	unsigned char *sbuf = NULL, *rbuf = NULL;
	double *laps = NULL;
	double (*lap)(const struct wl_ctx *, const void *, void *, int);
	size_t max = 1;
	int rc, code = WL_EXIT_FAIL;

	wl_ctx_init(&ctx, "mc-ring", "ring");
	rc = parse(&ctx, argc, argv, &o);
	if (rc == WL_HELP) {
		fputs(usage, stdout);
		return WL_EXIT_OK;
	}
	if (wl_mpi_init(&ctx, &argc, &argv))
		return WL_EXIT_FAIL;
	if (o.pingpong && ctx.size < 2)
		wl_usage_error(&ctx, "--pingpong needs 2 or more ranks, not %d", ctx.size);
	if (!wl_agree_usage(&ctx))
		return wl_finish(&ctx, WL_EXIT_USAGE);
	lap = o.pingpong ? pingpong_lap : ring_lap;

	for (int s = 0; s < o.nsizes; s++)
		max = o.sizes[s] > max ? o.sizes[s] : max;
	sbuf = malloc(max);
	rbuf = malloc(max);
	laps = malloc((size_t)o.iters * sizeof(*laps));
	if (!sbuf || !rbuf || !laps)
		wl_fail(&ctx, "out of memory for %zu-byte buffers", max);
	if (!wl_all_ok(sbuf && rbuf && laps))
		goto out;
	for (size_t i = 0; i < max; i++)
		sbuf[i] = (unsigned char)(i * 31 + 7);

	for (int s = 0; s < o.nsizes; s++) {
		int bytes = (int)o.sizes[s];
		bool ok = true;
		char what[32];

		snprintf(what, sizeof(what), "size %d", bytes);
		wl_trace_phase(&ctx, what);
		memset(rbuf, 0, max);
		MPI_Barrier(MPI_COMM_WORLD);
		wl_phase(&ctx, "warmup");
		for (long k = 0; k < o.warmup; k++)
			lap(&ctx, sbuf, rbuf, bytes);
		wl_phase(&ctx, "run");
		for (long k = 0; k < o.iters; k++)
			laps[k] = lap(&ctx, sbuf, rbuf, bytes);
		if (ctx.rank == 0 && memcmp(sbuf, rbuf, (size_t)bytes) != 0) {
			wl_fail(&ctx, "the %d-byte message came back changed", bytes);
			ok = false;
		}
		if (!wl_all_ok(ok))
			goto out;
		if (ctx.rank == 0)
			print_line(&ctx, &o, o.sizes[s], laps);
	}
	code = WL_EXIT_OK;
out:
	free(laps);
	free(rbuf);
	free(sbuf);
	return wl_finish(&ctx, code);
}
