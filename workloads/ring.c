/* ring.c — mc-ring: ring latency by message size, or ping-pong latency between ranks 0 and 1. */
#include "wl_common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RING_MAX_BYTES ((size_t)1 << 30) /* bytes, largest message */
#define RING_MAX_ITERS 100000000L
#define RING_TAG       1
#define RING_TAG_CKPT  2 /* the token of a lap after which every rank saves its position */

struct ring_opts {
	size_t sizes[WL_MAX_SIZES]; /* bytes per message */
	int nsizes;                 /* entries in sizes */
	long iters;                 /* timed laps (round trips) per size */
	long warmup;                /* untimed laps before them */
	bool pingpong;              /* ranks 0 and 1 bounce a message instead of the ring */
	const char *ckpt_dir;       /* --checkpoint: where positions are saved; NULL = none */
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
        "  --pingpong      between ranks 0 and 1; needs 2 ranks or more\n"
        "  --checkpoint DIR  application-level checkpoints (ring only): whenever the file\n"
        "                  DIR/request appears on rank 0's machine, rank 0 removes it and\n"
        "                  the next lap's token tells every rank to save its position in\n"
        "                  DIR/rank-R (written and synced after it passes the token on;\n"
        "                  then the ranks agree that all have);\n"
        "                  rank 0 then prints {\"checkpoint\": LAPS, \"cost_us\": ...}.\n"
        "                  Started again with the same DIR, the ranks resume after the last\n"
        "                  lap all of them saved (rank 0 prints the results already finished\n"
        "                  again). Rank 0 prints {\"start\": LAPS} when the laps "
        "begin.\n" WL_COMMON_USAGE "\n"
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
	        {"checkpoint", required_argument, NULL, 'c'},
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
		case 'c':
			if (optarg[0] != '/' || strlen(optarg) > PATH_MAX - 32)
				wl_usage_error(ctx, "--checkpoint '%s': an absolute directory path",
				               optarg);
			o->ckpt_dir = optarg;
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
	if (o->pingpong && o->ckpt_dir)
		wl_usage_error(ctx, "--checkpoint works with the ring, not --pingpong");
	if (help)
		return WL_HELP;
	return ctx->err[0] ? WL_EXIT_USAGE : 0;
}

/* ---- application-level checkpoints (--checkpoint) ---- */

struct ckpt {
	const char *dir; /* NULL: no checkpoints */
	long pos;        /* laps this rank has finished, over all sizes */
	bool now;        /* rank 0: the next lap carries the checkpoint token */
	bool saved;      /* this lap's token was a checkpoint one */
	bool failed;     /* a position could not be saved */
};

/* Writes text to dir/name through a temporary file: written, synced, renamed, the
 * directory synced, so a crash leaves the old content or the new one. */
static int save_file(const char *dir, const char *name, const char *text, bool append)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(append ? path : tmp,
	          O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		rc = -1;
	close(fd);
	if (append)
		return rc;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return rc;
}

/* Saves this rank's position (pos laps done) in dir/rank-R. */
static void ckpt_save(const struct wl_ctx *ctx, struct ckpt *c, long pos)
{
	char name[32], text[32];

	snprintf(name, sizeof(name), "rank-%d", ctx->rank);
	snprintf(text, sizeof(text), "%ld\n", pos);
	if (save_file(c->dir, name, text, false) < 0) {
		wl_fail(ctx, "checkpoint: cannot save %s/%s: %s", c->dir, name, strerror(errno));
		c->failed = true;
	}
}

/* Rank 0, before each lap: has a checkpoint been asked for (DIR/request)? */
static void ckpt_poll(const struct wl_ctx *ctx, struct ckpt *c)
{
	char path[PATH_MAX];

	if (!c->dir || ctx->rank != 0)
		return;
	snprintf(path, sizeof(path), "%s/request", c->dir);
	if (access(path, F_OK) == 0) {
		unlink(path);
		c->now = true;
	}
}

/* The position every rank saved (the smallest: a crash in the middle of a checkpoint lap
 * leaves some ranks one checkpoint behind); 0 with no checkpoint. Collective. */
static long ckpt_resume(const struct wl_ctx *ctx, struct ckpt *c)
{
	char path[PATH_MAX];
	long mine = 0, all = 0;
	FILE *f;

	if (!c->dir)
		return 0;
	snprintf(path, sizeof(path), "%s", c->dir); /* mkdir -p */
	for (char *s = path + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char was = *s;

			*s = '\0';
			if (mkdir(path, 0755) < 0 && errno != EEXIST) {
				wl_fail(ctx, "checkpoint: cannot create %s: %s", path,
				        strerror(errno));
				break;
			}
			*s = was;
			if (!was)
				break;
		}
	}
	snprintf(path, sizeof(path), "%s/rank-%d", c->dir, ctx->rank);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%ld", &mine) != 1 || mine < 0)
			mine = 0;
		fclose(f);
	}
	MPI_Allreduce(&mine, &all, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
	return all;
}

/* A checkpoint lap's end, on every rank: save the position (this lap included), all ranks
 * at once (each guest syncs its own disk), then agree that every rank has. A crash before
 * then leaves some ranks with the previous checkpoint, and a resume takes the smallest. */
static void ckpt_commit(const struct wl_ctx *ctx, struct ckpt *c)
{
	int ok, all = 0;

	ckpt_save(ctx, c, c->pos + 1);
	ok = !c->failed;
	MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	c->failed = !all;
	c->saved = all;
}

/* One lap of the ring. Rank 0 sends sbuf and receives rbuf, every other rank
 * forwards what it receives. Returns the lap time on rank 0 (s), 0 elsewhere.
 * With checkpoints on, a lap whose token has tag RING_TAG_CKPT ends in a checkpoint on
 * every rank (ckpt_commit()). */
static double ring_lap_ck(const struct wl_ctx *ctx, const void *sbuf, void *rbuf, int bytes,
                          struct ckpt *c)
{
	int right = (ctx->rank + 1) % ctx->size, left = (ctx->rank + ctx->size - 1) % ctx->size;
	int tag = c && c->now ? RING_TAG_CKPT : RING_TAG;
	MPI_Request req;
	MPI_Status st;
	double t0;

	if (c)
		c->saved = false;
	if (ctx->rank != 0) {
		/* Any tag only with checkpoints: a traced plain ring keeps its tag in the trace. */
		MPI_Recv(rbuf, bytes, MPI_BYTE, left, c ? MPI_ANY_TAG : RING_TAG, MPI_COMM_WORLD,
		         &st);
		MPI_Send(rbuf, bytes, MPI_BYTE, right, st.MPI_TAG, MPI_COMM_WORLD);
		if (c && st.MPI_TAG == RING_TAG_CKPT)
			ckpt_commit(ctx, c);
		return 0;
	}
	t0 = MPI_Wtime();
	/* Non-blocking send: with one rank, rank 0 is its own neighbour on both sides. */
	MPI_Isend(sbuf, bytes, MPI_BYTE, right, tag, MPI_COMM_WORLD, &req);
	MPI_Recv(rbuf, bytes, MPI_BYTE, left, c ? MPI_ANY_TAG : RING_TAG, MPI_COMM_WORLD,
	         MPI_STATUS_IGNORE);
	MPI_Wait(&req, MPI_STATUS_IGNORE);
	if (c && tag == RING_TAG_CKPT) {
		c->now = false;
		ckpt_commit(ctx, c);
	}
	return MPI_Wtime() - t0;
}

static double ring_lap(const struct wl_ctx *ctx, const void *sbuf, void *rbuf, int bytes)
{
	return ring_lap_ck(ctx, sbuf, rbuf, bytes, NULL);
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

static void print_line(FILE *out, const struct wl_ctx *ctx, const struct ring_opts *o, size_t bytes,
                       double *laps, long n)
{
	struct wl_stats st;
	double med_us, min_us, one_way_us;

	wl_stats(laps, (size_t)n, &st);
	med_us = st.median * 1e6;
	min_us = st.min * 1e6;
	/* The message crosses N links per lap, 2 per round trip. */
	one_way_us = o->pingpong ? med_us / 2 : med_us / ctx->size;
	wl_trace_iteration(ctx, bytes, med_us);

	wl_json_begin(out, ctx);
	wl_json_str(out, "mode", o->pingpong ? "pingpong" : "ring");
	wl_json_int(out, "bytes", (long long)bytes);
	wl_json_int(out, "iters", n);
	if (o->pingpong) {
		wl_json_num(out, "rtt_us_median", med_us);
		wl_json_num(out, "rtt_us_min", min_us);
		wl_json_num(out, "latency_us_median", one_way_us);
		wl_json_num(out, "latency_us_min", min_us / 2);
	} else {
		wl_json_num(out, "lap_us_median", med_us);
		wl_json_num(out, "lap_us_min", min_us);
		wl_json_num(out, "hop_latency_us", one_way_us);
	}
	/* bytes per microsecond is MB/s. */
	wl_json_num(out, "bandwidth_MBps", one_way_us > 0 ? (double)bytes / one_way_us : 0);
	wl_json_end(out);
}

/* Rank 0: prints a size's result; with checkpoints also keeps it in DIR/results.jsonl,
 * to print again when the job resumes. */
static void result_line(const struct wl_ctx *ctx, const struct ring_opts *o, struct ckpt *c,
                        size_t bytes, double *laps, long n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m;

	if (!c->dir || !(m = open_memstream(&text, &len))) {
		print_line(stdout, ctx, o, bytes, laps, n);
		return;
	}
	print_line(m, ctx, o, bytes, laps, n);
	fclose(m);
	fputs(text, stdout);
	fflush(stdout);
	if (save_file(c->dir, "results.jsonl", text, true) < 0) {
		wl_fail(ctx, "checkpoint: cannot save %s/results.jsonl: %s", c->dir,
		        strerror(errno));
		c->failed = true;
	}
	free(text);
}

/* Rank 0, at a resume: prints the results saved before; returns how many sizes they are. */
static long reprint_results(const struct ckpt *c)
{
	char path[PATH_MAX], line[4096];
	long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/results.jsonl", c->dir);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (line[0] == '{' && line[strlen(line) - 1] == '\n') {
			fputs(line, stdout);
			n++;
		}
	fclose(f);
	fflush(stdout);
	return n;
}

int main(int argc, char **argv)
{
	struct wl_ctx ctx;
	struct ring_opts o;
	struct ckpt ck = {0};
	long start = 0, printed = 0, per;
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
	per = o.warmup + o.iters;
	ck.dir = o.ckpt_dir;
	if (ck.dir) {
		start = ckpt_resume(&ctx, &ck);
		if (ctx.rank == 0 && start > 0) {
			printed = reprint_results(&ck);
			fprintf(stderr,
			        "%s: resuming after lap %ld of %ld (the checkpoint in %s), %ld "
			        "size(s) done\n",
			        ctx.prog, start, per * o.nsizes, ck.dir, printed);
		}
		MPI_Bcast(&printed, 1, MPI_LONG, 0, MPI_COMM_WORLD);
		if (ctx.rank == 0) { /* the work starts (again) here: launching is over */
			wl_json_begin(stdout, &ctx);
			wl_json_int(stdout, "start", start);
			wl_json_int(stdout, "of", per * o.nsizes);
			wl_json_end(stdout);
			fflush(stdout);
		}
	}

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
		long from = start - s * per, n = 0;
		double plain = 0; /* s, the last lap without a checkpoint */

		if (s < printed) /* finished before the checkpoint: its result is printed */
			continue;
		/* Resume inside this size; past its end (it finished, but its result was not
		 * saved) it times its laps again. */
		from = from < 0 ? 0 : from >= per ? o.warmup : from;
		ck.pos = s * per + from;
		snprintf(what, sizeof(what), "size %d", bytes);
		wl_trace_phase(&ctx, what);
		memset(rbuf, 0, max);
		MPI_Barrier(MPI_COMM_WORLD);
		wl_phase(&ctx, from < o.warmup ? "warmup" : "run");
		for (long k = from; k < per; k++) {
			double t;

			if (k == o.warmup && from < o.warmup)
				wl_phase(&ctx, "run");
			ckpt_poll(&ctx, &ck);
			t = o.pingpong ? lap(&ctx, sbuf, rbuf, bytes)
			               : ring_lap_ck(&ctx, sbuf, rbuf, bytes, ck.dir ? &ck : NULL);
			ck.pos++;
			if (k >= o.warmup)
				laps[n++] = t;
			if (ck.saved && ctx.rank == 0) {
				wl_json_begin(stdout, &ctx);
				wl_json_int(stdout, "checkpoint", ck.pos);
				wl_json_int(stdout, "of", per * o.nsizes);
				wl_json_num(stdout, "lap_us", t * 1e6);
				if (plain > 0) /* what saving cost: this lap over the one before */
					wl_json_num(stdout, "cost_us",
					            t > plain ? (t - plain) * 1e6 : 0);
				wl_json_end(stdout);
				fflush(stdout);
			} else {
				plain = t;
			}
		}
		if (ctx.rank == 0 && memcmp(sbuf, rbuf, (size_t)bytes) != 0) {
			wl_fail(&ctx, "the %d-byte message came back changed", bytes);
			ok = false;
		}
		if (!wl_all_ok(ok && !ck.failed))
			goto out;
		if (ctx.rank == 0)
			result_line(&ctx, &o, &ck, o.sizes[s], laps, n);
	}
	code = WL_EXIT_OK;
out:
	free(laps);
	free(rbuf);
	free(sbuf);
	return wl_finish(&ctx, code);
}
