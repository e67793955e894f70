/* coordinator.c — the coordinator: hands out tasks on credit, verifies results, re-issues lost
 * work. */
#include "coordinator.h"
#include "tf_log.h"
#include "tf_task.h"
#include "tf_util.h"
#include "tf_wire.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define COORD_MAX_WORKERS  65536 /* distinct worker sessions in one run */
#define COORD_DRAIN_MAX    512   /* messages handled per wake-up before timers run */
#define COORD_POLL_MAX_MS  100   /* ms, longest poll: timers are checked this often */
#define COORD_PROGRESS_MS  2000  /* ms between progress lines */
#define COORD_LINGER_MS    1000  /* ms, ZMQ_LINGER: time for STOP to reach workers */
#define COORD_CALIBRATE_MS 50    /* ms spent measuring squarings per ms */
#define COORD_WARN_FIRST   10    /* warnings of one kind logged before rate limiting */
#define COORD_WARN_EVERY   1000  /* ... then every this many */

const char mc_tf_coord_usage[] =
        "usage: mc-taskfarm coordinator [options]\n"
        "\n"
        "Hands tasks to workers on credit, verifies every result, re-issues the tasks of\n"
        "a worker silent for longer than the lease, and tells workers to stop when all\n"
        "tasks are done. Prints one JSON line on stdout; progress and warnings on stderr.\n"
        "\n"
        "  --bind EP        ZeroMQ endpoint to bind (default tcp://*:7100; tcp://HOST:* picks\n"
        "                   a free port, logged as \"listening on ...\")\n"
        "  --tasks N        tasks in the run (default 1000, at most 10000000)\n"
        "  --task-ms MS     CPU time of one task, calibrated on this host (default 10)\n"
        "  --iters N        squarings per task instead of --task-ms (exact, host-independent)\n"
        "  --lease-ms L     silence after which a worker is lost and its tasks re-issued\n"
        "                   (default 2000; workers heartbeat every L/4)\n"
        "  --timeout S      give up after S seconds (default 0: never)\n"
        "  --give-up-s S    give up after S seconds without a live worker (default 0: never)\n"
        "  --seed N         run seed (default random)\n"
        "  -q, --quiet      warnings and errors only\n"
        "  -v, --verbose    debug messages\n"
        "  -h, --help       this text\n"
        "\n"
        "Output: {\"workload\":\"taskfarm\",\"tasks\":N,\"done\":N,\"lost\":0,\"redone\":R,\n"
        "  "
        "\"duplicates\":D,\"workers_seen\":W,\"workers_lost\":L,\"seconds\":S,\"tasks_per_s\":T,\n"
        "  \"bad_results\":B,\"malformed\":M,\"iters\":I}\n"
        "seconds runs from the first task handed out to the end. Exit status: 0 all done,\n"
        "1 gave up (lost > 0) or could not start, 2 bad options.\n";

enum {
	OPT_BIND = 256,
	OPT_TASKS,
	OPT_TASK_MS,
	OPT_ITERS,
	OPT_LEASE_MS,
	OPT_TIMEOUT,
	OPT_GIVE_UP_S,
	OPT_SEED,
};

int mc_tf_coord_parse(int argc, char **argv, struct mc_tf_coord_opts *o)
{
	static const struct option lo[] = {
	        {"bind", required_argument, NULL, OPT_BIND},
	        {"tasks", required_argument, NULL, OPT_TASKS},
	        {"task-ms", required_argument, NULL, OPT_TASK_MS},
	        {"iters", required_argument, NULL, OPT_ITERS},
	        {"lease-ms", required_argument, NULL, OPT_LEASE_MS},
	        {"timeout", required_argument, NULL, OPT_TIMEOUT},
	        {"give-up-s", required_argument, NULL, OPT_GIVE_UP_S},
	        {"seed", required_argument, NULL, OPT_SEED},
	        {"quiet", no_argument, NULL, 'q'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *role = "coordinator";
	uint64_t v;
	int opt;

	memset(o, 0, sizeof(*o));
	snprintf(o->bind, sizeof(o->bind), "tcp://*:7100");
	o->tasks = 1000;
	o->task_ms = 10;
	o->lease_ms = 2000;
	o->seed = mc_tf_random_u64();
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":qvh", lo, NULL)) != -1) {
		char sbuf[8];
		const char *name = mc_tf_bad_opt_name(argv, optind, optopt, sbuf, sizeof(sbuf));

		switch (opt) {
		case OPT_BIND:
			if (strlen(optarg) >= sizeof(o->bind) || !strstr(optarg, "://")) {
				fprintf(stderr,
				        "mc-taskfarm coordinator: --bind '%s': want a ZeroMQ "
				        "endpoint "
				        "such as tcp://*:7100\n",
				        optarg);
				return -EINVAL;
			}
			snprintf(o->bind, sizeof(o->bind), "%s", optarg);
			break;
		case OPT_TASKS:
			if (mc_tf_parse_u64(role, "--tasks", optarg, 1, MC_TF_COORD_MAX_TASKS, &v))
				return -EINVAL;
			o->tasks = (uint32_t)v;
			break;
		case OPT_TASK_MS:
			if (mc_tf_parse_u64(role, "--task-ms", optarg, 0, 3600000, &v))
				return -EINVAL;
			o->task_ms = (uint32_t)v;
			break;
		case OPT_ITERS:
			if (mc_tf_parse_u64(role, "--iters", optarg, 0, MC_TF_WIRE_MAX_ITERS, &v))
				return -EINVAL;
			o->iters = v;
			o->iters_set = 1;
			break;
		case OPT_LEASE_MS:
			if (mc_tf_parse_u64(role, "--lease-ms", optarg, 4 * MC_TF_WIRE_HB_MIN_MS,
			                    4ull * MC_TF_WIRE_HB_MAX_MS, &v))
				return -EINVAL;
			o->lease_ms = (uint32_t)v;
			break;
		case OPT_TIMEOUT:
			if (mc_tf_parse_u64(role, "--timeout", optarg, 0, 30 * 86400, &v))
				return -EINVAL;
			o->timeout_s = (uint32_t)v;
			break;
		case OPT_GIVE_UP_S:
			if (mc_tf_parse_u64(role, "--give-up-s", optarg, 0, 30 * 86400, &v))
				return -EINVAL;
			o->give_up_s = (uint32_t)v;
			break;
		case OPT_SEED:
			if (mc_tf_parse_u64(role, "--seed", optarg, 0, UINT64_MAX, &o->seed))
				return -EINVAL;
			break;
		case 'q':
			o->verbosity = -1;
			break;
		case 'v':
			o->verbosity = 1;
			break;
		case 'h':
			fputs(mc_tf_coord_usage, stdout);
			return 1;
		case ':':
			fprintf(stderr, "mc-taskfarm coordinator: option '%s' needs a value\n",
			        name);
			return -EINVAL;
		default:
			fprintf(stderr,
			        "mc-taskfarm coordinator: unknown option '%s' (see mc-taskfarm "
			        "coordinator --help)\n",
			        name);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mc-taskfarm coordinator: unexpected argument '%s'\n",
		        argv[optind]);
		return -EINVAL;
	}
	return 0;
}

enum task_state { TASK_PENDING = 0, TASK_ASSIGNED, TASK_DONE };

/* One task. A task is on exactly one list: the pending list while PENDING, its
 * owner's assigned list while ASSIGNED, none when DONE. */
struct task {
	uint64_t seq;       /* TASK seq at the owner while ASSIGNED */
	int64_t sent_ms;    /* ms (monotonic) the TASK was sent, while ASSIGNED */
	int32_t prev, next; /* list links, -1 = end */
	int32_t owner;      /* worker index while ASSIGNED, else -1 */
	uint8_t state;      /* enum task_state */
};

/* Doubly-linked list of tasks threaded through struct task. */
struct tlist {
	int32_t head, tail; /* task indices, -1 = empty */
	uint32_t n;         /* tasks on the list */
};

/* One worker session, kept for the whole run (a lost worker may come back). */
struct worker {
	uint64_t session;                   /* from HELLO; non-zero */
	uint8_t rid[255];                   /* current ZeroMQ routing id */
	size_t rid_len;                     /* bytes in rid, 1..255 */
	char name[MC_TF_WIRE_MAX_NAME + 1]; /* from HELLO */
	uint32_t slots;                     /* from HELLO */
	int alive;                          /* heard from within the lease */
	int ever_lost;                      /* counted in workers_lost */
	int in_ready;                       /* on the ready queue */
	int32_t ready_next;                 /* ready-queue link, -1 = end */
	int64_t last_rx_ms;                 /* ms (monotonic) of its last valid message */
	uint64_t sent_seq;                  /* seq of the last TASK sent to it */
	uint32_t credit;                    /* tasks it asked for and has not been sent */
	struct tlist assigned;              /* its tasks, in send order */
	uint64_t results;                   /* results accepted from it */
};

struct coord {
	const struct mc_tf_coord_opts *o; /* borrowed for the run */
	void *zctx, *sock;                /* ZeroMQ context and ROUTER */
	struct mc_tf_task_params tp;      /* seed, secret factors, squarings per task */
	struct task *tasks;               /* o->tasks entries */
	struct tlist pending;             /* tasks waiting for a worker; re-issues first */
	struct worker *w;                 /* nw sessions, in order of first HELLO */
	uint32_t nw, capw;                /* used and allocated entries of w */
	uint32_t alive;                   /* workers with alive set */
	int32_t ready_head, ready_tail;   /* FIFO of workers with credit, -1 = empty */
	uint64_t done;                    /* distinct tasks with a verified result */
	uint64_t redone;                  /* tasks re-queued after being handed out */
	uint64_t dups;                    /* verified results for tasks already done */
	uint64_t bad_results;             /* results with a wrong value */
	uint64_t malformed;               /* messages dropped as malformed */
	uint64_t strays;                  /* well-formed messages from unknown sessions */
	uint64_t workers_lost;            /* distinct workers ever declared lost */
	int64_t t0_ms;                    /* ms (monotonic) at start */
	int64_t first_task_ms;            /* ms the first task was sent; 0 = none yet */
	int64_t last_alive_ms;            /* ms a worker was last alive */
	uint64_t run;                     /* random run id, sent in WELCOME */
	uint8_t buf[MC_TF_WIRE_MAX_MSG];  /* encode buffer */
};

/* Set from the SIGINT/SIGTERM handler; the run gives up cleanly when it is. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void tl_init(struct tlist *l)
{
	l->head = l->tail = -1;
	l->n = 0;
}

static void tl_push_tail(struct task *t, struct tlist *l, int32_t i)
{
	t[i].prev = l->tail;
	t[i].next = -1;
	if (l->tail >= 0)
		t[l->tail].next = i;
	else
		l->head = i;
	l->tail = i;
	l->n++;
}

static void tl_push_head(struct task *t, struct tlist *l, int32_t i)
{
	t[i].prev = -1;
	t[i].next = l->head;
	if (l->head >= 0)
		t[l->head].prev = i;
	else
		l->tail = i;
	l->head = i;
	l->n++;
}

static void tl_remove(struct task *t, struct tlist *l, int32_t i)
{
	if (t[i].prev >= 0)
		t[t[i].prev].next = t[i].next;
	else
		l->head = t[i].next;
	if (t[i].next >= 0)
		t[t[i].next].prev = t[i].prev;
	else
		l->tail = t[i].prev;
	t[i].prev = t[i].next = -1;
	l->n--;
}

/* Whether a warning that is the count-th of its kind should be logged. */
static int warn_due(uint64_t count)
{
	return count <= COORD_WARN_FIRST || count % COORD_WARN_EVERY == 0;
}

static void bad_msg(struct coord *c, const void *rid, size_t rid_len, size_t len, const char *why)
{
	char hex[24];

	c->malformed++;
	if (!warn_due(c->malformed))
		return;
	mc_tf_hex(rid, rid_len, hex, sizeof(hex));
	mc_tf_warn("peer %s: malformed message (%zu bytes): %s; ignored (%" PRIu64 " so far)", hex,
	           len, why, c->malformed);
}

/* Sends m to the peer with routing id rid. Returns 0 or -errno (EHOSTUNREACH: the
 * peer is gone; EAGAIN: its queue is full). */
static int send_to(struct coord *c, const void *rid, size_t rid_len, const struct mc_tf_msg *m)
{
	int n = mc_tf_wire_encode(m, c->buf, sizeof(c->buf));

	if (n < 0)
		return -EINVAL;
	if (zmq_send(c->sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -errno;
	if (zmq_send(c->sock, c->buf, (size_t)n, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

static void send_pong(struct coord *c, const void *rid, size_t rid_len, uint64_t session)
{
	struct mc_tf_msg m = {.type = MC_TF_MSG_PONG};

	m.u.session = session;
	send_to(c, rid, rid_len, &m);
}

static void send_unknown(struct coord *c, const void *rid, size_t rid_len, uint64_t session)
{
	struct mc_tf_msg m = {.type = MC_TF_MSG_UNKNOWN};

	m.u.unknown.session = session;
	m.u.unknown.run = c->run;
	send_to(c, rid, rid_len, &m);
}

static void ready_push(struct coord *c, uint32_t wi)
{
	struct worker *w = &c->w[wi];

	if (w->in_ready)
		return;
	w->in_ready = 1;
	w->ready_next = -1;
	if (c->ready_tail >= 0)
		c->w[c->ready_tail].ready_next = (int32_t)wi;
	else
		c->ready_head = (int32_t)wi;
	c->ready_tail = (int32_t)wi;
}

static int32_t ready_pop(struct coord *c)
{
	int32_t wi = c->ready_head;

	if (wi < 0)
		return -1;
	c->ready_head = c->w[wi].ready_next;
	if (c->ready_head < 0)
		c->ready_tail = -1;
	c->w[wi].in_ready = 0;
	return wi;
}

/* Puts an ASSIGNED task back at the head of the pending list (re-issued first). */
static void requeue(struct coord *c, int32_t i)
{
	struct task *t = &c->tasks[i];

	tl_remove(c->tasks, &c->w[t->owner].assigned, i);
	t->state = TASK_PENDING;
	t->owner = -1;
	tl_push_head(c->tasks, &c->pending, i);
	c->redone++;
}

static void lose(struct coord *c, struct worker *w, int64_t now)
{
	uint32_t n = w->assigned.n;

	w->alive = 0;
	w->credit = 0;
	c->alive--;
	if (!w->ever_lost) {
		w->ever_lost = 1;
		c->workers_lost++;
	}
	while (w->assigned.head >= 0)
		requeue(c, w->assigned.head);
	mc_tf_info("worker %s: lost: silent for %" PRId64 " ms (lease %u ms); %u tasks re-issued, "
	           "%u workers alive",
	           w->name, now - w->last_rx_ms, c->o->lease_ms, n, c->alive);
}

/* Records a valid message from w: its (possibly new) routing id and liveness. */
static void touch(struct coord *c, struct worker *w, const void *rid, size_t rid_len, int64_t now)
{
	if (w->rid_len != rid_len || memcmp(w->rid, rid, rid_len)) {
		mc_tf_debug("worker %s: reconnected (new routing id)", w->name);
		memcpy(w->rid, rid, rid_len);
		w->rid_len = rid_len;
	}
	if (!w->alive) {
		w->alive = 1;
		c->alive++;
		mc_tf_info("worker %s: back after %" PRId64 " ms of silence, %u workers alive",
		           w->name, now - w->last_rx_ms, c->alive);
	}
	w->last_rx_ms = now;
}

/* The worker a STATUS or RESULT claims to come from, or NULL after telling the
 * peer it is unknown here. */
static struct worker *lookup(struct coord *c, uint32_t idx, uint64_t session, const void *rid,
                             size_t rid_len)
{
	if (idx < c->nw && c->w[idx].session == session)
		return &c->w[idx];
	c->strays++;
	if (warn_due(c->strays))
		mc_tf_warn("session %016" PRIx64 " (index %u): unknown here; told to join again "
		           "(%" PRIu64 " so far)",
		           session, idx, c->strays);
	send_unknown(c, rid, rid_len, session);
	return NULL;
}

static void on_hello(struct coord *c, const struct mc_tf_hello *h, const void *rid, size_t rid_len,
                     int64_t now)
{
	struct mc_tf_msg m = {.type = MC_TF_MSG_WELCOME};
	uint32_t hb = c->o->lease_ms / 4;
	uint32_t i;

	for (i = 0; i < c->nw; i++)
		if (c->w[i].session == h->session)
			break;
	if (i == c->nw) {
		struct worker *w;

		if (c->nw == COORD_MAX_WORKERS) {
			if (warn_due(++c->strays))
				mc_tf_warn("worker %s: join refused: already %u workers", h->name,
				           c->nw);
			return;
		}
		if (c->nw == c->capw) {
			uint32_t cap = c->capw ? 2 * c->capw : 64;
			struct worker *nw = realloc(c->w, cap * sizeof(*nw));

			if (!nw) {
				mc_tf_warn("worker %s: join refused: out of memory", h->name);
				return;
			}
			c->w = nw;
			c->capw = cap;
		}
		w = &c->w[c->nw++];
		memset(w, 0, sizeof(*w));
		w->session = h->session;
		snprintf(w->name, sizeof(w->name), "%s", h->name);
		w->slots = h->slots;
		w->ready_next = -1;
		tl_init(&w->assigned);
		w->alive = 1;
		w->last_rx_ms = now;
		c->alive++;
		memcpy(w->rid, rid, rid_len);
		w->rid_len = rid_len;
		mc_tf_info("worker %s: joined (slots %u), %u workers alive", w->name, w->slots,
		           c->alive);
	} else {
		touch(c, &c->w[i], rid, rid_len, now);
	}
	m.u.welcome.session = h->session;
	m.u.welcome.idx = i;
	m.u.welcome.hb_ms = hb < MC_TF_WIRE_HB_MIN_MS ? MC_TF_WIRE_HB_MIN_MS : hb;
	m.u.welcome.run = c->run;
	send_to(c, rid, rid_len, &m);
}

static int holds(const struct mc_tf_status *s, uint32_t task)
{
	for (unsigned i = 0; i < s->nheld; i++)
		if (s->held[i] == task)
			return 1;
	return 0;
}

/* A heartbeat and credit request. Reconciles the tasks the coordinator believes
 * the worker has with the ones it reports, then sets its credit to the free
 * slots not already covered by tasks still in flight to it. */
static void on_status(struct coord *c, const struct mc_tf_status *s, const void *rid,
                      size_t rid_len, size_t len, int64_t now)
{
	struct worker *w = lookup(c, s->idx, s->session, rid, rid_len);
	uint32_t unacked = 0, want;
	int32_t i, next;

	if (!w)
		return;
	if (s->last_seq > w->sent_seq) {
		bad_msg(c, rid, rid_len, len, "acknowledges a task never sent");
		return;
	}
	touch(c, w, rid, rid_len, now);
	for (i = w->assigned.head; i >= 0; i = next) {
		struct task *t = &c->tasks[i];

		next = t->next;
		if (t->seq <= s->last_seq) {
			/* Received, not held, no result before this STATUS: the result
			 * (or the task, dropped by a full worker) is gone. */
			if (!holds(s, (uint32_t)i)) {
				mc_tf_debug(
				        "worker %s: task %d neither held nor answered; re-issued",
				        w->name, i);
				requeue(c, i);
			}
		} else if (now - t->sent_ms > (int64_t)c->o->lease_ms) {
			mc_tf_debug("worker %s: task %d not received within the lease; re-issued",
			            w->name, i);
			requeue(c, i);
		} else {
			unacked++;
		}
	}
	want = s->free < w->slots ? s->free : w->slots;
	w->credit = want > unacked ? want - unacked : 0;
	if (w->credit)
		ready_push(c, (uint32_t)(w - c->w));
	if (s->flags & MC_TF_STATUS_PING)
		send_pong(c, rid, rid_len, w->session);
}

static void on_result(struct coord *c, const struct mc_tf_result *r, const void *rid,
                      size_t rid_len, size_t len, int64_t now)
{
	struct worker *w = lookup(c, r->idx, r->session, rid, rid_len);
	struct task *t;
	uint64_t want;

	if (!w)
		return;
	if (r->task >= c->o->tasks) {
		bad_msg(c, rid, rid_len, len, "task id out of range");
		return;
	}
	touch(c, w, rid, rid_len, now);
	t = &c->tasks[r->task];
	if (t->state == TASK_DONE) {
		c->dups++;
		mc_tf_debug("worker %s: task %u: duplicate result", w->name, r->task);
		return;
	}
	want = mc_tf_task_expect(&c->tp, r->task);
	if (r->value != want) {
		c->bad_results++;
		if (warn_due(c->bad_results))
			mc_tf_warn("worker %s: task %u: wrong result %016" PRIx64
			           " (want %016" PRIx64 "); rejected (%" PRIu64 " so far)",
			           w->name, r->task, r->value, want, c->bad_results);
		if (t->state == TASK_ASSIGNED && c->w + t->owner == w)
			requeue(c, (int32_t)r->task);
		return;
	}
	if (t->state == TASK_PENDING)
		tl_remove(c->tasks, &c->pending, (int32_t)r->task);
	else
		tl_remove(c->tasks, &c->w[t->owner].assigned, (int32_t)r->task);
	t->state = TASK_DONE;
	t->owner = -1;
	c->done++;
	mc_tf_debug("worker %s: task %u done", w->name, r->task);
	w->results++;
}

static void handle(struct coord *c, const void *rid, size_t rid_len, const void *data, size_t len,
                   int64_t now)
{
	struct mc_tf_msg m;
	const char *why = "?";

	if (mc_tf_wire_decode(data, len, &m, &why) < 0) {
		bad_msg(c, rid, rid_len, len, why);
		return;
	}
	switch (m.type) {
	case MC_TF_MSG_HELLO:
		on_hello(c, &m.u.hello, rid, rid_len, now);
		break;
	case MC_TF_MSG_STATUS:
		on_status(c, &m.u.status, rid, rid_len, len, now);
		break;
	case MC_TF_MSG_RESULT:
		on_result(c, &m.u.result, rid, rid_len, len, now);
		break;
	default:
		bad_msg(c, rid, rid_len, len, "a coordinator-to-worker message");
		break;
	}
}

/* Receives and handles one message. Returns 1 if there was one, 0 if none was
 * waiting, -1 on a ZeroMQ error other than EAGAIN/EINTR. */
static int recv_one(struct coord *c, int64_t now)
{
	zmq_msg_t id, body;
	int frames = 1, more;

	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, c->sock, ZMQ_DONTWAIT) < 0) {
		int rc = (errno == EAGAIN || errno == EINTR) ? 0 : -1;

		zmq_msg_close(&id);
		return rc;
	}
	zmq_msg_init(&body);
	more = zmq_msg_more(&id);
	if (more && zmq_msg_recv(&body, c->sock, 0) >= 0) {
		frames++;
		more = zmq_msg_more(&body);
	}
	while (more) { /* discard the rest of a multi-frame message */
		zmq_msg_t extra;

		zmq_msg_init(&extra);
		more = zmq_msg_recv(&extra, c->sock, 0) >= 0 && zmq_msg_more(&extra);
		frames++;
		zmq_msg_close(&extra);
	}
	if (zmq_msg_size(&id) == 0 || zmq_msg_size(&id) > sizeof(c->w[0].rid))
		bad_msg(c, "", 0, zmq_msg_size(&body), "bad routing id");
	else if (frames != 2)
		bad_msg(c, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_size(&body),
		        frames < 2 ? "no body" : "more than one frame");
	else
		handle(c, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_data(&body),
		       zmq_msg_size(&body), now);
	zmq_msg_close(&body);
	zmq_msg_close(&id);
	return 1;
}

/* Hands pending tasks to workers with credit, round-robin, one task per turn. */
static void dispatch(struct coord *c, int64_t now)
{
	while (c->pending.n > 0 && c->ready_head >= 0) {
		int32_t wi = ready_pop(c), ti = c->pending.head;
		struct worker *w = &c->w[wi];
		struct mc_tf_msg m = {.type = MC_TF_MSG_TASK};
		struct task *t = &c->tasks[ti];
		int e;

		if (!w->alive || w->credit == 0)
			continue;
		m.u.task.seq = w->sent_seq + 1;
		m.u.task.task = (uint32_t)ti;
		m.u.task.iters = c->tp.iters;
		m.u.task.modulus = c->tp.modulus;
		m.u.task.seed = c->tp.seed;
		e = send_to(c, w->rid, w->rid_len, &m);
		if (e < 0) {
			/* Gone or backed up: no more tasks until its next STATUS. */
			mc_tf_debug("worker %s: task %d not sent: %s", w->name, ti,
			            zmq_strerror(-e));
			w->credit = 0;
			continue;
		}
		w->sent_seq++;
		w->credit--;
		tl_remove(c->tasks, &c->pending, ti);
		t->state = TASK_ASSIGNED;
		t->owner = wi;
		t->seq = w->sent_seq;
		t->sent_ms = now;
		tl_push_tail(c->tasks, &w->assigned, ti);
		mc_tf_debug("worker %s: task %d sent (seq %" PRIu64 ")", w->name, ti, t->seq);
		if (!c->first_task_ms)
			c->first_task_ms = now;
		if (w->credit)
			ready_push(c, (uint32_t)wi);
	}
}

static void sweep(struct coord *c, int64_t now)
{
	for (uint32_t i = 0; i < c->nw; i++) {
		struct worker *w = &c->w[i];

		if (w->alive && now - w->last_rx_ms > (int64_t)c->o->lease_ms)
			lose(c, w, now);
	}
	if (c->alive)
		c->last_alive_ms = now;
}

static void stop_workers(struct coord *c)
{
	struct mc_tf_msg m = {.type = MC_TF_MSG_STOP};

	/* Lost workers too: a slow one may still be connected. */
	for (uint32_t i = 0; i < c->nw; i++)
		send_to(c, c->w[i].rid, c->w[i].rid_len, &m);
}

static void report(struct coord *c, int64_t now)
{
	int64_t from = c->first_task_ms ? c->first_task_ms : c->t0_ms;
	double s = (double)(now - from) / 1000.0;

	printf("{\"workload\":\"taskfarm\",\"tasks\":%u,\"done\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"redone\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"workers_seen\":%u"
	       ",\"workers_lost\":%" PRIu64 ",\"seconds\":%.3f,\"tasks_per_s\":%.1f"
	       ",\"bad_results\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"iters\":%" PRIu64 "}\n",
	       c->o->tasks, c->done, (uint64_t)c->o->tasks - c->done, c->redone, c->dups, c->nw,
	       c->workers_lost, s, s > 0 ? (double)c->done / s : 0.0, c->bad_results, c->malformed,
	       c->tp.iters);
	fflush(stdout);
}

/* Why the run should give up now, or NULL to go on. */
static const char *give_up_reason(struct coord *c, int64_t now, char *buf, size_t cap)
{
	if (stop_signal) {
		snprintf(buf, cap, "interrupted by signal %d", (int)stop_signal);
		return buf;
	}
	if (c->o->timeout_s && now - c->t0_ms >= (int64_t)c->o->timeout_s * 1000) {
		snprintf(buf, cap, "--timeout %u s reached", c->o->timeout_s);
		return buf;
	}
	if (c->o->give_up_s && !c->alive &&
	    now - c->last_alive_ms >= (int64_t)c->o->give_up_s * 1000) {
		snprintf(buf, cap, "no live worker for %u s (--give-up-s)", c->o->give_up_s);
		return buf;
	}
	return NULL;
}

static int open_socket(struct coord *c)
{
	int one = 1, linger = COORD_LINGER_MS;
	int64_t maxmsg = MC_TF_WIRE_MAX_MSG;
	char ep[256] = "";
	size_t eplen = sizeof(ep);

	c->zctx = zmq_ctx_new();
	if (!c->zctx) {
		mc_tf_err("zeromq context: %s", zmq_strerror(errno));
		return -1;
	}
	c->sock = zmq_socket(c->zctx, ZMQ_ROUTER);
	if (!c->sock) {
		mc_tf_err("zeromq socket: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(c->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(c->sock, c->o->bind) < 0) {
		mc_tf_err("bind %s: %s", c->o->bind, zmq_strerror(errno));
		return -1;
	}
	zmq_getsockopt(c->sock, ZMQ_LAST_ENDPOINT, ep, &eplen);
	ep[sizeof(ep) - 1] = '\0';
	mc_tf_info("listening on %s: %u tasks of %" PRIu64 " squarings, lease %u ms, seed %" PRIu64,
	           ep, c->o->tasks, c->tp.iters, c->o->lease_ms, c->tp.seed);
	return 0;
}

static int farm(struct coord *c)
{
	int64_t now = mc_tf_now_ms(), next_progress = now + COORD_PROGRESS_MS, next_sweep = now;
	int64_t sweep_ms = c->o->lease_ms / 10;
	const char *why = NULL;
	char whybuf[128];

	if (sweep_ms > COORD_POLL_MAX_MS)
		sweep_ms = COORD_POLL_MAX_MS;
	c->last_alive_ms = now;
	while (c->done < c->o->tasks) {
		zmq_pollitem_t pi = {.socket = c->sock, .events = ZMQ_POLLIN};
		int n;

		now = mc_tf_now_ms();
		if (now >= next_sweep) {
			sweep(c, now);
			next_sweep = now + sweep_ms;
		}
		why = give_up_reason(c, now, whybuf, sizeof(whybuf));
		if (why)
			break;
		dispatch(c, now);
		if (now >= next_progress) {
			mc_tf_info("progress: %" PRIu64 "/%u done, %u of %u workers alive, %" PRIu64
			           " redone, %" PRIu64 " duplicates",
			           c->done, c->o->tasks, c->alive, c->nw, c->redone, c->dups);
			next_progress = now + COORD_PROGRESS_MS;
		}
		if (zmq_poll(&pi, 1, (long)sweep_ms) < 0) {
			if (errno == EINTR)
				continue;
			mc_tf_err("poll: %s", zmq_strerror(errno));
			why = "zeromq poll failed";
			break;
		}
		now = mc_tf_now_ms();
		for (n = 0; n < COORD_DRAIN_MAX && c->done < c->o->tasks; n++)
			if (recv_one(c, now) <= 0)
				break;
	}
	now = mc_tf_now_ms();
	stop_workers(c);
	report(c, now);
	if (why) {
		mc_tf_err("giving up: %s; %" PRIu64 " of %u tasks never completed", why,
		          (uint64_t)c->o->tasks - c->done, c->o->tasks);
		return 1;
	}
	mc_tf_info("done: %u tasks, %" PRIu64 " redone, %" PRIu64
	           " duplicates, %u workers (%" PRIu64 " lost)",
	           c->o->tasks, c->redone, c->dups, c->nw, c->workers_lost);
	return 0;
}

int mc_tf_coord_run(const struct mc_tf_coord_opts *o)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct coord *c;
	uint64_t iters = o->iters;
	int rc = 1;

	c = calloc(1, sizeof(*c));
	if (!c) {
		mc_tf_err("start: out of memory");
		return 1;
	}
	c->o = o;
	c->ready_head = c->ready_tail = -1;
	c->run = mc_tf_random_u64();
	c->t0_ms = mc_tf_now_ms();
	c->tasks = calloc(o->tasks, sizeof(*c->tasks));
	if (!c->tasks) {
		mc_tf_err("start: out of memory for %u tasks", o->tasks);
		goto out_coord;
	}
	tl_init(&c->pending);
	for (uint32_t i = 0; i < o->tasks; i++) {
		c->tasks[i].owner = -1;
		tl_push_tail(c->tasks, &c->pending, (int32_t)i);
	}
	if (!o->iters_set) {
		uint64_t rate = mc_tf_task_calibrate(COORD_CALIBRATE_MS);

		iters = rate * o->task_ms;
		if (iters > MC_TF_WIRE_MAX_ITERS)
			iters = MC_TF_WIRE_MAX_ITERS;
		mc_tf_debug("calibrated %" PRIu64 " squarings per ms", rate);
	}
	mc_tf_task_params_init(&c->tp, o->seed, iters);
	if (open_socket(c) < 0)
		goto out_zmq;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = farm(c);
out_zmq:
	if (c->sock)
		zmq_close(c->sock);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	free(c->w);
	free(c->tasks);
out_coord:
	free(c);
	return rc;
}
