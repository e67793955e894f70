/* halo.c — mc-halo: 2-D Jacobi stencil on a Cartesian grid of ranks with halo exchange. */
#include "wl_common.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HALO_MAX_SIDE  (1L << 20) /* cells, largest local side */
#define HALO_MAX_ITERS 100000000L

/* Tags name the direction a message travels. */
enum { TAG_UP = 1, TAG_DOWN, TAG_LEFT, TAG_RIGHT };

struct halo_opts {
	long nx, ny;       /* cells per rank, rows x columns */
	long iters;        /* Jacobi sweeps */
	long report_every; /* sweeps between progress lines; 0 = none */
};

/* One rank's block of the global grid. Rows are x (up/down), columns y (left/right). */
struct halo {
	MPI_Comm cart;             /* px x py ranks, not periodic */
	int dims[2];               /* px, py */
	int up, down, left, right; /* neighbour ranks; MPI_PROC_NULL at the grid's edge */
	int nx, ny;                /* interior cells */
	double *u, *v;             /* (nx + 2) x (ny + 2) row-major: interior + ghost layer */
	MPI_Datatype column;       /* nx doubles one row apart */
};

#define AT(h, a, i, j) ((a)[(size_t)(i) * (size_t)((h)->ny + 2) + (size_t)(j)])

static const char usage[] =
        "Usage: mc-halo [options]\n"
        "Jacobi iteration for the Laplace equation on a 2-D grid split over the ranks\n"
        "(MPI_Dims_create + MPI_Cart_create). Each sweep exchanges one-cell halos with\n"
        "the four neighbours (non-blocking sends and receives) and averages every cell's\n"
        "neighbours. The global top edge is held at 1, the other edges at 0.\n"
        "\n"
        "  --grid NXxNY    cells per rank, rows x columns (default 256x256)\n"
        "  --iters N       sweeps (default 100)\n"
        "  --report-every N\n"
        "                  a progress line every N sweeps, 0 = none (default 10)\n" WL_COMMON_USAGE
        "\n"
        "Rank 0 prints JSON objects, one per line on stdout, all with workload, ranks\n"
        "and phase:\n"
        "  \"iter\"    (progress) iter, seconds so far, residual;\n"
        "  \"result\"  (last) dims [px,py], local [nx,ny], iters, seconds (slowest\n"
        "            rank), iters_per_s, residual.\n"
        "residual is the L2 norm of the last sweep's change over the whole grid; each\n"
        "progress line costs one MPI_Allreduce.\n"
        "Exit status: 0 ok, 1 MPI failure or a cell outside [0,1], 2 bad option.\n";

static int parse_grid(struct wl_ctx *ctx, const char *s, struct halo_opts *o)
{
	char *x, *end;

	o->nx = strtol(s, &x, 10);
	if (x == s || *x != 'x' || !(x[1] >= '0' && x[1] <= '9'))
		goto bad;
	o->ny = strtol(x + 1, &end, 10);
	if (*end == '\0' && o->nx >= 1 && o->nx <= HALO_MAX_SIDE && o->ny >= 1 &&
	    o->ny <= HALO_MAX_SIDE)
		return 0;
bad:
	return wl_usage_error(ctx, "--grid: '%s' is not NXxNY (each 1..%ld)", s, HALO_MAX_SIDE);
}

/* Fills o from argv. Returns 0, WL_HELP, or WL_EXIT_USAGE with ctx->err set. No MPI. */
static int parse(struct wl_ctx *ctx, int argc, char **argv, struct halo_opts *o)
{
	static const struct option longopts[] = {
	        {"grid", required_argument, NULL, 'g'},
	        {"iters", required_argument, NULL, 'i'},
	        {"report-every", required_argument, NULL, 'r'},
	        {"timeout", required_argument, NULL, WL_OPT_TIMEOUT},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	bool help = false;
	int c;

	*o = (struct halo_opts){.nx = 256, .ny = 256, .iters = 100, .report_every = 10};
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'g':
			parse_grid(ctx, optarg, o);
			break;
		case 'i':
			wl_parse_int(ctx, "--iters", optarg, 1, HALO_MAX_ITERS, &o->iters);
			break;
		case 'r':
			wl_parse_int(ctx, "--report-every", optarg, 0, HALO_MAX_ITERS,
			             &o->report_every);
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

/* Builds the process grid and this rank's block. Returns false (message printed)
 * when the block cannot be allocated; h is then still safe for halo_fini(). */
static bool halo_init(struct halo *h, const struct wl_ctx *ctx, const struct halo_opts *o)
{
	int periods[2] = {0, 0};
	size_t cells = (size_t)(o->nx + 2) * (size_t)(o->ny + 2);

	*h = (struct halo){.cart = MPI_COMM_NULL, .column = MPI_DATATYPE_NULL};
	h->nx = (int)o->nx;
	h->ny = (int)o->ny;
	MPI_Dims_create(ctx->size, 2, h->dims);
	MPI_Cart_create(MPI_COMM_WORLD, 2, h->dims, periods, 0, &h->cart);
	MPI_Cart_shift(h->cart, 0, 1, &h->up, &h->down);
	MPI_Cart_shift(h->cart, 1, 1, &h->left, &h->right);
	MPI_Type_vector(h->nx, 1, h->ny + 2, MPI_DOUBLE, &h->column);
	MPI_Type_commit(&h->column);

	h->u = calloc(cells, sizeof(double));
	h->v = calloc(cells, sizeof(double));
	if (!h->u || !h->v) {
		wl_fail(ctx, "out of memory for a %dx%d block", h->nx, h->ny);
		return false;
	}
	if (h->up == MPI_PROC_NULL) {
		/* The global top edge: ghost row 0, never overwritten by a receive. */
		for (int j = 0; j < h->ny + 2; j++)
			AT(h, h->u, 0, j) = AT(h, h->v, 0, j) = 1.0;
	}
	return true;
}

static void halo_fini(struct halo *h)
{
	free(h->u);
	free(h->v);
	if (h->column != MPI_DATATYPE_NULL)
		MPI_Type_free(&h->column);
	if (h->cart != MPI_COMM_NULL)
		MPI_Comm_free(&h->cart);
}

/* Fills a's ghost layer from the neighbours' edge cells. */
static void exchange(const struct halo *h, double *a)
{
	MPI_Request req[8];
	MPI_Status st[8]; /* not MPI_STATUSES_IGNORE, which trips GCC's -Wstringop-overflow */
	int nx = h->nx, ny = h->ny;

	MPI_Irecv(&AT(h, a, 0, 1), ny, MPI_DOUBLE, h->up, TAG_DOWN, h->cart, &req[0]);
	MPI_Irecv(&AT(h, a, nx + 1, 1), ny, MPI_DOUBLE, h->down, TAG_UP, h->cart, &req[1]);
	MPI_Irecv(&AT(h, a, 1, 0), 1, h->column, h->left, TAG_RIGHT, h->cart, &req[2]);
	MPI_Irecv(&AT(h, a, 1, ny + 1), 1, h->column, h->right, TAG_LEFT, h->cart, &req[3]);
	MPI_Isend(&AT(h, a, 1, 1), ny, MPI_DOUBLE, h->up, TAG_UP, h->cart, &req[4]);
	MPI_Isend(&AT(h, a, nx, 1), ny, MPI_DOUBLE, h->down, TAG_DOWN, h->cart, &req[5]);
	MPI_Isend(&AT(h, a, 1, 1), 1, h->column, h->left, TAG_LEFT, h->cart, &req[6]);
	MPI_Isend(&AT(h, a, 1, ny), 1, h->column, h->right, TAG_RIGHT, h->cart, &req[7]);
	MPI_Waitall(8, req, st);
}

/* One Jacobi sweep u -> v over the interior. Returns this rank's sum of squared changes. */
static double sweep(const struct halo *h)
{
	const double *u = h->u;
	double *v = h->v, sum = 0;

	for (int i = 1; i <= h->nx; i++) {
		for (int j = 1; j <= h->ny; j++) {
			double n = 0.25 * (AT(h, u, i - 1, j) + AT(h, u, i + 1, j) +
			                   AT(h, u, i, j - 1) + AT(h, u, i, j + 1));
			double d = n - AT(h, u, i, j);

			sum += d * d;
			AT(h, v, i, j) = n;
		}
	}
	return sum;
}

/* The L2 norm of the last sweep's change over the whole grid. Collective. */
static double residual(const struct halo *h, double local)
{
	double global;

	MPI_Allreduce(&local, &global, 1, MPI_DOUBLE, MPI_SUM, h->cart);
	return sqrt(global);
}

/* Averages of values in [0,1] stay in [0,1]; anything else means a broken halo. */
static bool check_range(const struct wl_ctx *ctx, const struct halo *h)
{
	for (int i = 1; i <= h->nx; i++) {
		for (int j = 1; j <= h->ny; j++) {
			double x = AT(h, h->u, i, j);

			if (!(x >= 0 && x <= 1)) {
				wl_fail(ctx, "cell (%d,%d) of the local block is %g, outside [0,1]",
				        i, j, x);
				return false;
			}
		}
	}
	return true;
}

int main(int argc, char **argv)
{
	struct wl_ctx ctx;
	struct halo_opts o;
	struct halo h = {.cart = MPI_COMM_NULL, .column = MPI_DATATYPE_NULL};
	double t0, mine, slowest, sq = 0, res;
	bool ok;
	int rc, code = WL_EXIT_FAIL;

	wl_ctx_init(&ctx, "mc-halo", "halo");
	rc = parse(&ctx, argc, argv, &o);
	if (rc == WL_HELP) {
		fputs(usage, stdout);
		return WL_EXIT_OK;
	}
	if (wl_mpi_init(&ctx, &argc, &argv))
		return WL_EXIT_FAIL;
	if (!wl_agree_usage(&ctx))
		return wl_finish(&ctx, WL_EXIT_USAGE);
	ok = halo_init(&h, &ctx, &o);
	if (!wl_all_ok(ok))
		goto out;

	wl_phase(&ctx, "run");
	MPI_Barrier(h.cart);
	t0 = MPI_Wtime();
	for (long it = 1; it <= o.iters; it++) {
		double *tmp;

		exchange(&h, h.u);
		sq = sweep(&h);
		tmp = h.u;
		h.u = h.v;
		h.v = tmp;
		if (o.report_every && it % o.report_every == 0) {
			res = residual(&h, sq);
			if (ctx.rank == 0) {
				wl_json_begin(stdout, &ctx);
				wl_json_str(stdout, "phase", "iter");
				wl_json_int(stdout, "iter", it);
				wl_json_num(stdout, "seconds", MPI_Wtime() - t0);
				wl_json_num(stdout, "residual", res);
				wl_json_end(stdout);
			}
		}
	}
	mine = MPI_Wtime() - t0;
	MPI_Reduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, h.cart);
	res = residual(&h, sq);
	ok = check_range(&ctx, &h);
	if (!wl_all_ok(ok))
		goto out;
	if (ctx.rank == 0) {
		int local[2] = {h.nx, h.ny};

		wl_json_begin(stdout, &ctx);
		wl_json_str(stdout, "phase", "result");
		wl_json_ints(stdout, "dims", h.dims, 2);
		wl_json_ints(stdout, "local", local, 2);
		wl_json_int(stdout, "iters", o.iters);
		wl_json_num(stdout, "seconds", slowest);
		wl_json_num(stdout, "iters_per_s", (double)o.iters / slowest);
		wl_json_num(stdout, "residual", res);
		wl_json_end(stdout);
	}
	code = WL_EXIT_OK;
out:
	halo_fini(&h);
	return wl_finish(&ctx, code);
}
