/* worker.c — the worker: asks for tasks on credit, computes them in chunks, heartbeats meanwhile.
 */
#include "worker.h"
#include "tf_log.h"
#include "tf_task.h"
#include "tf_util.h"
#include "tf_wire.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define WK_HELLO_MS        1000 /* ms between HELLOs until WELCOME */
#define WK_CHUNK           4096 /* squarings between clock checks */
#define WK_SLICE_MS        2    /* ms of computing between polls */
#define WK_RECONNECT_MS    100  /* ms, ZMQ_RECONNECT_IVL */
#define WK_RECONNECT_MAX   2000 /* ms, ZMQ_RECONNECT_IVL_MAX */
#define WK_ZMTP_HB_MS      1000 /* ms, ZMTP-level ping on the connection */
#define WK_ZMTP_HB_TIMEOUT 5000 /* ms without ZMTP traffic before reconnecting */
#define WK_DRAIN_MAX       64   /* messages handled per wake-up before timers run */
#define WK_WARN_FIRST      10   /* malformed-message warnings before rate limiting */
#define WK_WARN_EVERY      1000

const char mc_tf_worker_usage[] =
        "usage: mc-taskfarm worker --connect EP [options]\n"
        "\n"
        "Joins a task-farm coordinator, asks for tasks on credit (never more than --slots\n"
        "at once), computes them and returns the results, with heartbeats every quarter\n"
        "lease even while computing. Exits 0 when the coordinator says stop.\n"
        "\n"
        "  --connect EP     the coordinator, e.g. tcp://10.77.0.1:7100 (required)\n"
        "  --id NAME        worker name in the coordinator's logs, 1-64 of [A-Za-z0-9._-]\n"
        "                   (default <hostname>-<pid>)\n"
        "  --slots K        tasks held at once, 1-64 (default 1)\n"
        "  --give-up-s S    exit 3 after S seconds without a word from the coordinator\n"
        "                   (default 30)\n"
        "  -q, --quiet      warnings and errors only\n"
        "  -v, --verbose    debug messages\n"
        "  -h, --help       this text\n"
        "\n"
        "Exit status: 0 stopped by the coordinator, 1 local error, 2 bad options,\n"
        "3 coordinator unreachable.\n";

enum {
	OPT_CONNECT = 256,
	OPT_ID,
	OPT_SLOTS,
	OPT_GIVE_UP_S,
};

/* <hostname>-<pid>, with characters outside the name alphabet replaced by '_'. */
static void default_name(char *buf, size_t cap)
{
	char host[64] = "worker";
	size_t n;

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "worker");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, cap, "%.40s-%ld", host, (long)getpid());
	n = strlen(buf);
	for (size_t i = 0; i < n; i++)
		if (!mc_tf_valid_name(&buf[i], 1))
			buf[i] = '_';
}

int mc_tf_worker_parse(int argc, char **argv, struct mc_tf_worker_opts *o)
{
	static const struct option lo[] = {
	        {"connect", required_argument, NULL, OPT_CONNECT},
	        {"id", required_argument, NULL, OPT_ID},
	        {"slots", required_argument, NULL, OPT_SLOTS},
	        {"give-up-s", required_argument, NULL, OPT_GIVE_UP_S},
	        {"quiet", no_argument, NULL, 'q'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *role = "worker";
	uint64_t v;
	int opt;

	memset(o, 0, sizeof(*o));
	o->slots = 1;
	o->give_up_s = 30;
	default_name(o->id, sizeof(o->id));
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":qvh", lo, NULL)) != -1) {
		char sbuf[8];
		const char *name = mc_tf_bad_opt_name(argv, optind, optopt, sbuf, sizeof(sbuf));

		switch (opt) {
		case OPT_CONNECT:
			if (strlen(optarg) >= sizeof(o->connect) || !strstr(optarg, "://")) {
				fprintf(stderr,
				        "mc-taskfarm worker: --connect '%s': want a ZeroMQ "
				        "endpoint "
				        "such as tcp://10.77.0.1:7100\n",
				        optarg);
				return -EINVAL;
			}
			snprintf(o->connect, sizeof(o->connect), "%s", optarg);
			break;
		case OPT_ID:
			if (!mc_tf_valid_name(optarg, strlen(optarg))) {
				fprintf(stderr,
				        "mc-taskfarm worker: --id '%s': use 1-64 letters, digits, "
				        "'.', "
				        "'_' or '-'\n",
				        optarg);
				return -EINVAL;
			}
			snprintf(o->id, sizeof(o->id), "%s", optarg);
			break;
		case OPT_SLOTS:
			if (mc_tf_parse_u64(role, "--slots", optarg, 1, MC_TF_WIRE_MAX_SLOTS, &v))
				return -EINVAL;
			o->slots = (uint32_t)v;
			break;
		case OPT_GIVE_UP_S:
			if (mc_tf_parse_u64(role, "--give-up-s", optarg, 1, 30 * 86400, &v))
				return -EINVAL;
			o->give_up_s = (uint32_t)v;
			break;
		case 'q':
			o->verbosity = -1;
			break;
		case 'v':
			o->verbosity = 1;
			break;
		case 'h':
			fputs(mc_tf_worker_usage, stdout);
			return 1;
		case ':':
			fprintf(stderr, "mc-taskfarm worker: option '%s' needs a value\n", name);
			return -EINVAL;
		default:
			fprintf(stderr,
			        "mc-taskfarm worker: unknown option '%s' (see mc-taskfarm worker "
			        "--help)\n",
			        name);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mc-taskfarm worker: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->connect[0]) {
		fprintf(stderr, "mc-taskfarm worker: --connect is required (see mc-taskfarm worker "
		                "--help)\n");
		return -EINVAL;
	}
	return 0;
}

enum wk_state {
	WK_JOINING, /* sending HELLO until WELCOME */
	WK_RUNNING, /* welcomed: asking for, computing and returning tasks */
};

/* A task received and not yet answered. */
struct held {
	uint32_t task;    /* task id */
	uint64_t iters;   /* squarings */
	uint64_t modulus; /* >= 3 */
	uint64_t seed;    /* run seed */
};

struct wk {
	const struct mc_tf_worker_opts *o;  /* borrowed for the run */
	void *zctx, *sock;                  /* ZeroMQ context and DEALER */
	enum wk_state state;                /* see enum */
	uint64_t session;                   /* random, this process's identity */
	uint32_t idx;                       /* index from WELCOME */
	uint32_t hb_ms;                     /* ms, STATUS period from WELCOME */
	uint64_t run;                       /* coordinator run id from WELCOME */
	struct held q[MC_TF_WIRE_MAX_HELD]; /* FIFO of held tasks; q[qhead] computes */
	unsigned qhead, qlen;               /* FIFO head index and length */
	int busy;                           /* x and left describe q[qhead] */
	uint64_t x, left;                   /* current value, squarings left */
	uint64_t last_seq;                  /* highest TASK seq received */
	int64_t last_rx_ms;                 /* ms (monotonic) of the coordinator's last word */
	int64_t next_hello_ms, next_hb_ms;  /* ms, timers */
	uint64_t done;                      /* results sent */
	uint64_t malformed;                 /* messages dropped */
	uint8_t buf[MC_TF_WIRE_MAX_MSG];    /* encode buffer */
};

static void send_msg(struct wk *k, const struct mc_tf_msg *m)
{
	int n = mc_tf_wire_encode(m, k->buf, sizeof(k->buf));

	/* EAGAIN (queue full while disconnected) loses the message; STATUS repeats
	 * and the coordinator re-issues a lost result's task. */
	if (n < 0 || zmq_send(k->sock, k->buf, (size_t)n, ZMQ_DONTWAIT) < 0)
		mc_tf_debug("send %s: %s", mc_tf_wire_type_name(m->type),
		            n < 0 ? "encode failed" : zmq_strerror(errno));
}

static void send_hello(struct wk *k)
{
	struct mc_tf_msg m = {.type = MC_TF_MSG_HELLO};

	m.u.hello.session = k->session;
	m.u.hello.slots = (uint16_t)k->o->slots;
	snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s", k->o->id);
	send_msg(k, &m);
}

static void send_status(struct wk *k, uint8_t flags)
{
	struct mc_tf_msg m = {.type = MC_TF_MSG_STATUS};
	struct mc_tf_status *s = &m.u.status;

	s->session = k->session;
	s->idx = k->idx;
	s->flags = flags;
	s->free = (uint16_t)(k->qlen < k->o->slots ? k->o->slots - k->qlen : 0);
	s->last_seq = k->last_seq;
	s->nheld = (uint16_t)k->qlen;
	for (unsigned i = 0; i < k->qlen; i++)
		s->held[i] = k->q[(k->qhead + i) % MC_TF_WIRE_MAX_HELD].task;
	send_msg(k, &m);
}

static void bad_msg(struct wk *k, size_t len, const char *why)
{
	k->malformed++;
	if (k->malformed <= WK_WARN_FIRST || k->malformed % WK_WARN_EVERY == 0)
		mc_tf_warn("coordinator: malformed message (%zu bytes): %s; ignored (%" PRIu64
		           " so far)",
		           len, why, k->malformed);
}

static void on_task(struct wk *k, const struct mc_tf_task *t, size_t len)
{
	struct held *h;

	if (k->state != WK_RUNNING) {
		bad_msg(k, len, "TASK before WELCOME");
		return;
	}
	if (t->seq <= k->last_seq) {
		bad_msg(k, len, "TASK seq not increasing");
		return;
	}
	k->last_seq = t->seq;
	if (k->qlen == MC_TF_WIRE_MAX_HELD) {
		/* The next STATUS lacks it, so the coordinator re-issues it. */
		mc_tf_warn("task %u: dropped: already holding %u tasks", t->task, k->qlen);
		return;
	}
	h = &k->q[(k->qhead + k->qlen) % MC_TF_WIRE_MAX_HELD];
	h->task = t->task;
	h->iters = t->iters;
	h->modulus = t->modulus;
	h->seed = t->seed;
	k->qlen++;
	mc_tf_debug("task %u: received (seq %" PRIu64 ", %u held)", t->task, t->seq, k->qlen);
}

/* Handles one decoded message. Returns 1 on STOP, else 0. */
static int on_msg(struct wk *k, const struct mc_tf_msg *m, size_t len, int64_t now)
{
	switch (m->type) {
	case MC_TF_MSG_WELCOME:
		if (m->u.welcome.session != k->session) {
			bad_msg(k, len, "WELCOME for another session");
			return 0;
		}
		k->last_rx_ms = now;
		if (k->state == WK_JOINING) {
			k->state = WK_RUNNING;
			k->idx = m->u.welcome.idx;
			k->hb_ms = m->u.welcome.hb_ms;
			k->run = m->u.welcome.run;
			mc_tf_info("joined %s as #%u (run %016" PRIx64 ", heartbeat %u ms)",
			           k->o->connect, k->idx, m->u.welcome.run, k->hb_ms);
			send_status(k, 0);
			k->next_hb_ms = now + k->hb_ms;
		}
		return 0;
	case MC_TF_MSG_TASK:
		k->last_rx_ms = now;
		on_task(k, &m->u.task, len);
		return 0;
	case MC_TF_MSG_PONG:
		if (m->u.session != k->session) {
			bad_msg(k, len, "PONG for another session");
			return 0;
		}
		k->last_rx_ms = now;
		return 0;
	case MC_TF_MSG_STOP:
		return 1;
	case MC_TF_MSG_UNKNOWN:
		if (m->u.unknown.session != k->session) {
			bad_msg(k, len, "UNKNOWN for another session");
			return 0;
		}
		/* Joining already, or from the run that welcomed us (which never forgets
		 * a session): a reply to a message queued before the WELCOME. */
		if (k->state == WK_JOINING || m->u.unknown.run == k->run) {
			mc_tf_debug("stale UNKNOWN ignored");
			return 0;
		}
		/* A coordinator that never met us (restarted): its tasks are not ours. */
		mc_tf_warn("coordinator does not know this session; joining again, %u held tasks "
		           "dropped",
		           k->qlen);
		k->last_rx_ms = now;
		k->state = WK_JOINING;
		k->qlen = 0;
		k->busy = 0;
		k->last_seq = 0;
		k->next_hello_ms = now;
		return 0;
	default:
		bad_msg(k, len, "a worker-to-coordinator message");
		return 0;
	}
}

/* Receives and handles one message. Returns 1 on STOP, 0 after another message,
 * -1 if none was waiting. */
static int recv_one(struct wk *k, int64_t now)
{
	zmq_msg_t msg;
	struct mc_tf_msg m;
	const char *why = "?";
	int more, rc = 0;
	size_t len;

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, k->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		return -1;
	}
	len = zmq_msg_size(&msg);
	more = zmq_msg_more(&msg);
	if (more) {
		while (more) { /* discard the rest of a multi-frame message */
			zmq_msg_t extra;

			zmq_msg_init(&extra);
			more = zmq_msg_recv(&extra, k->sock, 0) >= 0 && zmq_msg_more(&extra);
			zmq_msg_close(&extra);
		}
		bad_msg(k, len, "more than one frame");
	} else if (mc_tf_wire_decode(zmq_msg_data(&msg), len, &m, &why) < 0) {
		bad_msg(k, len, why);
	} else {
		rc = on_msg(k, &m, len, now);
	}
	zmq_msg_close(&msg);
	return rc;
}

/* Computes on the head task for up to WK_SLICE_MS; sends its result when done. */
static void compute(struct wk *k)
{
	struct held *h = &k->q[k->qhead];
	int64_t until = mc_tf_now_ms() + WK_SLICE_MS;
	struct mc_tf_msg m = {.type = MC_TF_MSG_RESULT};

	if (!k->busy) {
		k->x = mc_tf_task_start(h->task, h->seed, h->modulus);
		k->left = h->iters;
		k->busy = 1;
	}
	while (k->left) {
		uint64_t n = k->left < WK_CHUNK ? k->left : WK_CHUNK;

		k->x = mc_tf_task_step(k->x, h->modulus, n);
		k->left -= n;
		if (mc_tf_now_ms() >= until)
			break;
	}
	if (k->left)
		return;
	m.u.result.session = k->session;
	m.u.result.idx = k->idx;
	m.u.result.task = h->task;
	m.u.result.value = k->x;
	send_msg(k, &m);
	k->busy = 0;
	k->qhead = (k->qhead + 1) % MC_TF_WIRE_MAX_HELD;
	k->qlen--;
	k->done++;
	send_status(k, 0); /* the freed slot is credit for the next task */
}

static int open_socket(struct wk *k)
{
	int zero = 0, ivl = WK_RECONNECT_MS, ivl_max = WK_RECONNECT_MAX;
	int hb = WK_ZMTP_HB_MS, hb_to = WK_ZMTP_HB_TIMEOUT;
	int64_t maxmsg = MC_TF_WIRE_MAX_MSG;

	k->zctx = zmq_ctx_new();
	if (!k->zctx) {
		mc_tf_err("zeromq context: %s", zmq_strerror(errno));
		return -1;
	}
	k->sock = zmq_socket(k->zctx, ZMQ_DEALER);
	if (!k->sock) {
		mc_tf_err("zeromq socket: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(k->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(k->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(k->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(k->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
	zmq_setsockopt(k->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
	zmq_setsockopt(k->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_to, sizeof(hb_to));
	if (zmq_connect(k->sock, k->o->connect) < 0) {
		mc_tf_err("connect %s: %s", k->o->connect, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static int work(struct wk *k)
{
	int64_t now = mc_tf_now_ms();

	k->last_rx_ms = now;
	k->next_hello_ms = now;
	for (;;) {
		zmq_pollitem_t pi = {.socket = k->sock, .events = ZMQ_POLLIN};
		int64_t wait;
		int rc;

		now = mc_tf_now_ms();
		if (now - k->last_rx_ms >= (int64_t)k->o->give_up_s * 1000) {
			mc_tf_err("coordinator %s: unreachable: no reply for %u s (--give-up-s); "
			          "giving up after %" PRIu64 " tasks",
			          k->o->connect, k->o->give_up_s, k->done);
			return MC_TF_WORKER_EXIT_UNREACHABLE;
		}
		if (k->state == WK_JOINING && now >= k->next_hello_ms) {
			send_hello(k);
			k->next_hello_ms = now + WK_HELLO_MS;
		}
		if (k->state == WK_RUNNING && now >= k->next_hb_ms) {
			send_status(k, MC_TF_STATUS_PING);
			k->next_hb_ms = now + k->hb_ms;
		}
		if (k->state == WK_RUNNING && k->qlen > 0) {
			compute(k);
			wait = 0;
		} else {
			wait = (k->state == WK_JOINING ? k->next_hello_ms : k->next_hb_ms) - now;
			wait = wait < 0 ? 0 : wait > 100 ? 100 : wait;
		}
		if (zmq_poll(&pi, 1, (long)wait) < 0) {
			if (errno == EINTR)
				continue;
			mc_tf_err("poll: %s", zmq_strerror(errno));
			return 1;
		}
		now = mc_tf_now_ms();
		for (int n = 0; n < WK_DRAIN_MAX; n++) {
			rc = recv_one(k, now);
			if (rc != 0)
				break;
		}
		if (rc == 1) {
			mc_tf_info("stopped by the coordinator after %" PRIu64 " tasks", k->done);
			return 0;
		}
	}
}

int mc_tf_worker_run(const struct mc_tf_worker_opts *o)
{
	struct wk *k = calloc(1, sizeof(*k));
	int rc = 1;

	if (!k) {
		mc_tf_err("start: out of memory");
		return 1;
	}
	k->o = o;
	k->session = mc_tf_random_u64();
	if (open_socket(k) == 0)
		rc = work(k);
	if (k->sock)
		zmq_close(k->sock);
	if (k->zctx)
		zmq_ctx_term(k->zctx);
	free(k);
	return rc;
}
