/* io.c — mc-io: checkpoint-like I/O; each rank writes, syncs, reads back and checks its own file.
 */
#include "wl_common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IO_MAX_BYTES ((size_t)1 << 40) /* bytes, largest file */
#define IO_MAX_BLOCK ((size_t)1 << 26) /* bytes, largest write()/read() */

struct io_opts {
	size_t bytes;    /* file size per rank */
	size_t block;    /* bytes per write()/read() call */
	const char *dir; /* where the files go; borrowed from argv */
	bool keep;       /* leave the files behind */
	bool per_rank;   /* one JSON line per rank as well */
	long corrupt;    /* this rank flips a byte before the read-back (a test); -1 = none */
};

static const char usage[] =
        "Usage: mc-io [options]\n"
        "Checkpoint-like I/O. Every rank writes its own file DIR/ckpt.<rank> in blocks\n"
        "and fsyncs it; after a barrier every rank reads its file back (its pages are\n"
        "dropped from the page cache first) and checks the content.\n"
        "\n"
        "  --bytes SIZE    bytes per rank, suffixes K, M, G (default 16M)\n"
        "  --block SIZE    bytes per write() and read() (default 1M; at most 64M)\n"
        "  --dir DIR       directory for the files (default: the current directory)\n"
        "  --keep          keep the files (default: remove them)\n"
        "  --per-rank      also print one line per rank with its host and times\n"
        "  --corrupt RANK  testing: RANK flips a byte of its file before reading it\n"
        "                  (default: none)\n" WL_COMMON_USAGE "\n"
        "Rank 0 prints JSON objects, one per line on stdout, all with workload, ranks\n"
        "and phase:\n"
        "  \"rank\"    (--per-rank, one per rank) rank, host, write_s, read_s;\n"
        "  \"result\"  (last) dir, bytes_per_rank, block, write_MBps and read_MBps\n"
        "            (all bytes over the slowest rank's time; MB = 10^6 bytes),\n"
        "            write_s_min, write_s_max, read_s_min, read_s_max.\n"
        "write_s runs from open() to the end of fsync(); read_s counts the read() calls.\n"
        "Exit status: 0 ok, 1 MPI or I/O failure or wrong content, 2 bad option.\n";

/* Fills o from argv. Returns 0, WL_HELP, or WL_EXIT_USAGE with ctx->err set. No MPI. */
static int parse(struct wl_ctx *ctx, int argc, char **argv, struct io_opts *o)
{
	static const struct option longopts[] = {
	        {"bytes", required_argument, NULL, 'b'},
	        {"block", required_argument, NULL, 'B'},
	        {"dir", required_argument, NULL, 'd'},
	        {"keep", no_argument, NULL, 'k'},
	        {"per-rank", no_argument, NULL, 'p'},
	        {"corrupt", required_argument, NULL, 'c'},
	        {"timeout", required_argument, NULL, WL_OPT_TIMEOUT},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	bool help = false;
	int c;

	*o = (struct io_opts){.bytes = 16 << 20, .block = 1 << 20, .dir = ".", .corrupt = -1};
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			wl_parse_size(ctx, "--bytes", optarg, IO_MAX_BYTES, &o->bytes);
			break;
		case 'B':
			wl_parse_size(ctx, "--block", optarg, IO_MAX_BLOCK, &o->block);
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'k':
			o->keep = true;
			break;
		case 'p':
			o->per_rank = true;
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
	if (o->bytes == 0)
		wl_usage_error(ctx, "--bytes: must be at least 1");
	if (o->block == 0)
		wl_usage_error(ctx, "--block: must be at least 1");
	if (o->dir[0] == '\0')
		wl_usage_error(ctx, "--dir: must not be empty");
	if (help)
		return WL_HELP;
	return ctx->err[0] ? WL_EXIT_USAGE : 0;
}

/* The content of block k of rank's file: a rank-dependent byte pattern whose first
 * 8 bytes are replaced by the rank and block number, so a block that lands at the
 * wrong offset, or in another rank's file, fails the check. */
static void fill_block(unsigned char *buf, size_t n, int rank, uint64_t k)
{
	uint64_t stamp = (uint64_t)rank << 40 | k;

	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(i * 131 + (size_t)rank * 977 + (i >> 8));
	memcpy(buf, &stamp, n < sizeof(stamp) ? n : sizeof(stamp));
}

/* write() until done. Returns 0 or -1 with errno set. */
static int write_all(int fd, const unsigned char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* read() until n bytes or end of file. Returns the bytes read or -1 with errno set. */
static ssize_t read_all(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Writes and fsyncs the file, then drops it from the page cache so the read-back
 * comes from the device. *seconds: open() to the end of fsync(). */
static bool write_file(const struct wl_ctx *ctx, const struct io_opts *o, const char *path,
                       unsigned char *buf, double *seconds)
{
	double t0 = MPI_Wtime();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		wl_fail(ctx, "open %s for writing: %s", path, strerror(errno));
		return false;
	}
	for (size_t off = 0; off < o->bytes; off += o->block) {
		size_t n = o->bytes - off < o->block ? o->bytes - off : o->block;

		fill_block(buf, n, ctx->rank, off / o->block);
		if (write_all(fd, buf, n) < 0) {
			wl_fail(ctx, "write %s at offset %zu: %s", path, off, strerror(errno));
			close(fd);
			return false;
		}
	}
	if (fsync(fd) < 0) {
		wl_fail(ctx, "fsync %s: %s", path, strerror(errno));
		close(fd);
		return false;
	}
	*seconds = MPI_Wtime() - t0;
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (close(fd) < 0) {
		wl_fail(ctx, "close %s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

/* --corrupt: flips the byte in the middle of the file, as a bad disk would. */
static bool corrupt_file(const struct wl_ctx *ctx, const struct io_opts *o, const char *path)
{
	unsigned char c = 0;
	off_t at = (off_t)(o->bytes / 2);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	bool ok = fd >= 0 && pread(fd, &c, 1, at) == 1;

	c ^= 0xff;
	ok = ok && pwrite(fd, &c, 1, at) == 1 && fsync(fd) == 0;
	if (!ok)
		wl_fail(ctx, "corrupt %s: %s", path, strerror(errno));
	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	return ok;
}

/* Reads the file back and compares every block. *seconds: the read() calls only. */
static bool read_file(const struct wl_ctx *ctx, const struct io_opts *o, const char *path,
                      unsigned char *want, unsigned char *got, double *seconds)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = true;

	*seconds = 0;
	if (fd < 0) {
		wl_fail(ctx, "open %s for reading: %s", path, strerror(errno));
		return false;
	}
	for (size_t off = 0; ok && off < o->bytes; off += o->block) {
		size_t n = o->bytes - off < o->block ? o->bytes - off : o->block;
		double t0 = MPI_Wtime();
		ssize_t r = read_all(fd, got, n);

		*seconds += MPI_Wtime() - t0;
		if (r < 0) {
			wl_fail(ctx, "read %s at offset %zu: %s", path, off, strerror(errno));
			ok = false;
		} else if ((size_t)r < n) {
			wl_fail(ctx, "%s: ends at %zu bytes, want %zu", path, off + (size_t)r,
			        o->bytes);
			ok = false;
		} else {
			fill_block(want, n, ctx->rank, off / o->block);
			for (size_t i = 0; i < n; i++) {
				if (got[i] != want[i]) {
					wl_fail(ctx, "%s: content differs at offset %zu", path,
					        off + i);
					ok = false;
					break;
				}
			}
		}
	}
	close(fd);
	return ok;
}

/* Rank 0: the per-rank lines (--per-rank) and the result line. t holds
 * {write_s, read_s} of every rank; hosts MPI_MAX_PROCESSOR_NAME bytes per rank
 * or NULL. */
static void report(const struct wl_ctx *ctx, const struct io_opts *o, const double *t,
                   const char *hosts)
{
	double wmin = t[0], wmax = t[0], rmin = t[1], rmax = t[1];
	double total = (double)o->bytes * ctx->size / 1e6;

	for (int r = 0; r < ctx->size; r++) {
		double w = t[2 * r], rd = t[2 * r + 1];

		wmin = w < wmin ? w : wmin;
		wmax = w > wmax ? w : wmax;
		rmin = rd < rmin ? rd : rmin;
		rmax = rd > rmax ? rd : rmax;
		if (!hosts)
			continue;
		wl_json_begin(stdout, ctx);
		wl_json_str(stdout, "phase", "rank");
		wl_json_int(stdout, "rank", r);
		wl_json_str(stdout, "host", hosts + (size_t)r * MPI_MAX_PROCESSOR_NAME);
		wl_json_num(stdout, "write_s", w);
		wl_json_num(stdout, "read_s", rd);
		wl_json_end(stdout);
	}
	wl_json_begin(stdout, ctx);
	wl_json_str(stdout, "phase", "result");
	wl_json_str(stdout, "dir", o->dir);
	wl_json_int(stdout, "bytes_per_rank", (long long)o->bytes);
	wl_json_int(stdout, "block", (long long)o->block);
	wl_json_num(stdout, "write_MBps", total / wmax);
	wl_json_num(stdout, "read_MBps", total / rmax);
	wl_json_num(stdout, "write_s_min", wmin);
	wl_json_num(stdout, "write_s_max", wmax);
	wl_json_num(stdout, "read_s_min", rmin);
	wl_json_num(stdout, "read_s_max", rmax);
	wl_json_end(stdout);
}

int main(int argc, char **argv)
{
	struct wl_ctx ctx;
	struct io_opts o;
	char path[PATH_MAX];
	unsigned char *want = NULL, *got = NULL;
	double mine[2] = {0, 0}, *all = NULL;
	char *hosts = NULL;
	bool ok;
	int rc, code = WL_EXIT_FAIL;

	wl_ctx_init(&ctx, "mc-io", "io");
	rc = parse(&ctx, argc, argv, &o);
	if (rc == WL_HELP) {
		fputs(usage, stdout);
		return WL_EXIT_OK;
	}
	if (wl_mpi_init(&ctx, &argc, &argv))
		return WL_EXIT_FAIL;
	if (snprintf(path, sizeof(path), "%s/ckpt.%d", o.dir, ctx.rank) >= (int)sizeof(path))
		wl_usage_error(&ctx, "--dir: '%s' is too long", o.dir);
	if (o.corrupt >= ctx.size)
		wl_usage_error(&ctx, "--corrupt: there is no rank %ld (%d ranks)", o.corrupt,
		               ctx.size);
	if (!wl_agree_usage(&ctx))
		return wl_finish(&ctx, WL_EXIT_USAGE);

	if (o.block > o.bytes)
		o.block = o.bytes;
	want = malloc(o.block);
	got = malloc(o.block);
	if (ctx.rank == 0) {
		all = malloc(2 * sizeof(double) * (size_t)ctx.size);
		hosts = o.per_rank ? malloc((size_t)ctx.size * MPI_MAX_PROCESSOR_NAME) : NULL;
	}
	ok = want && got && (ctx.rank != 0 || (all && (hosts || !o.per_rank)));
	if (!ok)
		wl_fail(&ctx, "out of memory for %zu-byte blocks", o.block);
	if (!wl_all_ok(ok))
		goto out;

	wl_phase(&ctx, "write");
	MPI_Barrier(MPI_COMM_WORLD);
	ok = write_file(&ctx, &o, path, want, &mine[0]);
	if (ok && o.corrupt == ctx.rank)
		ok = corrupt_file(&ctx, &o, path);
	/* Every file is written and synced before any is read. */
	if (!wl_all_ok(ok))
		goto out;
	wl_phase(&ctx, "read");
	ok = read_file(&ctx, &o, path, want, got, &mine[1]);
	if (!wl_all_ok(ok))
		goto out;

	MPI_Gather(mine, 2, MPI_DOUBLE, all, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
	if (o.per_rank)
		MPI_Gather(ctx.host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts,
		           MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);
	if (ctx.rank == 0)
		report(&ctx, &o, all, hosts);
	code = WL_EXIT_OK;
out:
	if (!o.keep && unlink(path) < 0 && errno != ENOENT) {
		wl_fail(&ctx, "remove %s: %s", path, strerror(errno));
		code = WL_EXIT_FAIL;
	}
	free(hosts);
	free(all);
	free(got);
	free(want);
	return wl_finish(&ctx, code);
}
