/* coord.c — the cluster controller of a cluster across many hosts (docs/hosts.md): starts
 * the host daemons through srun or Hydra's mpiexec, places the guests, joins the overlay,
 * and serves the CLI as one cluster by forwarding each request to the hosts whose guests it
 * names and merging their answers. A host whose daemon falls silent for the heartbeat timeout
 * is lost: its guests are failed and recorded in the events file. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "admit.h"
#include "cli.h"
#include "hosts.h"
#include "log.h"
#include "net.h"
#include "util.h"

enum { H_HELLO, H_STARTING, H_UP, H_LOST, H_GONE };
static const char *const host_state_names[] = {"hello", "starting", "up", "lost", "gone"};

struct chost {
	struct mc_host h;
	unsigned char id[128]; /* the daemon's routing id */
	size_t id_len;
	int pid, cpus, state;
	uint64_t mem_avail_mib;
	int64_t heard_ms;
	char why[200]; /* why it was lost */
};

/* A CLI request forwarded to hosts; their answers come back under wire id 'q' + seq. */
struct creq {
	struct creq *next;
	uint32_t seq;
	unsigned char cid[256]; /* the CLI's routing id */
	size_t cid_len;
	char op[16];
	unsigned char waiting[MC_HOSTS_MAX]; /* 1: that host has not finished it */
	uint32_t hjob[MC_HOSTS_MAX];         /* each host's job number for it */
	uint32_t job;                        /* the number the CLI sees */
	json_t *agg;                         /* ls: guests; status: the merged reply */
	int any_done;
	int exec; /* "exec": lost hosts' guests get an exit, others a result */
	struct mc_target t;
	unsigned char answered[MC_HOSTS_MAX]; /* ls, status: that host's answer is in agg */
	int64_t deadline_ms;                  /* ls, status: answer by then with what is known */
	unsigned held; /* migrations to other hosts it started that have not ended */
};

/* A guest's migration to another host (migrate --to HOST): the cluster controller drives
 * both hosts' sides (ctl_xmig.c) with control messages and switches the overlay's routes. */
enum { CM_CHECK, CM_PREPARE, CM_SENDING, CM_FINISHING };

struct cmig {
	struct cmig *next;
	uint32_t id;
	unsigned gi;       /* the guest */
	unsigned src, dst; /* its host and the one it moves to */
	int phase;
	int stop;       /* stop-and-copy */
	struct creq *r; /* the CLI request it answers (NULL when that is gone) */
	int64_t t0_ms, deadline_ms;
	int64_t t_stop_ms; /* when the source stopped the guest (this clock) */
	json_t *sent;      /* the source's figures (xmig_sent) */
	uint32_t seqs[16]; /* exec requests whose commands moved with the guest */
	unsigned nseqs;
};

struct coord {
	const struct mc_ctl_config *cfg;
	struct mc_hosts_opts *ho;
	void *zctx, *zhosts, *zcli;
	int epfd, sigfd, events_fd;
	pid_t launcher;
	struct chost h[MC_HOSTS_MAX];
	unsigned nh, expected;
	char (*gstate)[12]; /* last state of every guest from the events */
	struct creq *reqs;
	uint32_t next_seq, next_job;
	int *owner;        /* the host running each guest (placement, then migrations) */
	struct cmig *migs; /* migrations across hosts in progress */
	uint32_t next_mig;
	int shutting_down, done;
	unsigned char down_cid[256];
	size_t down_cid_len;
	int have_down;
	int64_t started_ms, down_deadline_ms, sent_hb_ms;
	struct mc_overlay ov;
	char ep[128]; /* where the daemons connect */
};

/* ---------- small helpers ---------- */

static void send_frames(void *sock, const void *id, size_t id_len, const void *f1, size_t l1,
                        json_t *msg, const void *data, size_t len)
{
	char *s = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (!s)
		return;
	zmq_send(sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (f1)
		zmq_send(sock, f1, l1, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(sock, s, strlen(s), (data ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
	if (data)
		zmq_send(sock, data, len, ZMQ_DONTWAIT);
	free(s);
}

static void to_cli(struct coord *c, const unsigned char *cid, size_t len, json_t *msg,
                   const void *data, size_t dlen)
{
	send_frames(c->zcli, cid, len, NULL, 0, msg, data, dlen);
}

static void cli_error(struct coord *c, const unsigned char *cid, size_t len, const char *text)
{
	to_cli(c, cid, len, json_pack("{s:s, s:s}", "type", "error", "error", text), NULL, 0);
}

/* A control message to host k (first frame empty). */
static void to_host(struct coord *c, unsigned k, json_t *msg, const void *data, size_t len)
{
	send_frames(c->zhosts, c->h[k].id, c->h[k].id_len, "", 0, msg, data, len);
}

static void wire_id(uint32_t seq, unsigned char out[5])
{
	out[0] = 'q';
	memcpy(out + 1, &seq, 4);
}

static void guest_name(unsigned gi, char out[16])
{
	snprintf(out, 16, "g%04u", gi);
}

static unsigned total_guests(const struct coord *c)
{
	return c->cfg->n;
}

static int host_of(const struct coord *c, unsigned gi)
{
	if (c->owner && gi < total_guests(c) && c->owner[gi] >= 0)
		return c->owner[gi];
	for (unsigned k = 0; k < c->nh; k++)
		if (gi >= c->h[k].h.first && gi < c->h[k].h.first + c->h[k].h.n)
			return (int)k;
	return -1;
}

/* Guests host k runs now. */
static unsigned host_guests(const struct coord *c, unsigned k)
{
	unsigned n = 0;

	for (unsigned gi = 0; gi < total_guests(c); gi++)
		n += host_of(c, gi) == (int)k;
	return n;
}

static int host_live(const struct chost *h)
{
	return h->state == H_UP || h->state == H_STARTING;
}

/* ---------- events ---------- */

static void events_write(struct coord *c, json_t *ev)
{
	char *line = json_dumps(ev, JSON_COMPACT);
	const char *g = json_string_value(json_object_get(ev, "guest"));
	const char *st = json_string_value(json_object_get(ev, "state"));
	unsigned gi;

	if (g && st && sscanf(g, "g%u", &gi) == 1 && gi < total_guests(c))
		snprintf(c->gstate[gi], sizeof(c->gstate[gi]), "%s", st);
	if (line && c->events_fd >= 0) {
		size_t len = strlen(line);

		line[len] = '\n';
		if (write(c->events_fd, line, len + 1) != (ssize_t)(len + 1))
			mc_debug("coord: events file: %s", strerror(errno));
	}
	free(line);
}

/* ---------- requests ---------- */

static struct creq *req_find(struct coord *c, uint32_t seq)
{
	for (struct creq *r = c->reqs; r; r = r->next)
		if (r->seq == seq)
			return r;
	return NULL;
}

static void req_free(struct coord *c, struct creq *r)
{
	for (struct creq **pp = &c->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	for (struct cmig *m = c->migs; m; m = m->next)
		if (m->r == r)
			m->r = NULL;
	json_decref(r->agg);
	free(r);
}

/* What is known of guest gi of host k when the host did not answer: failed when the host is
 * lost, else its last state from the events. */
static const char *unanswered_state(struct coord *c, unsigned k, unsigned gi)
{
	return !host_live(&c->h[k]) ? "failed" : c->gstate[gi][0] ? c->gstate[gi] : "defined";
}

/* The ls entry of a guest whose host did not answer. */
static json_t *unanswered_guest(struct coord *c, unsigned k, unsigned gi)
{
	char name[16], ip[16], why[260];

	guest_name(gi, name);
	if (host_live(&c->h[k]))
		snprintf(why, sizeof(why), "host %s did not answer (last known state)",
		         c->h[k].h.name);
	else
		snprintf(why, sizeof(why), "host %s lost: %s", c->h[k].h.name, c->h[k].why);
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "name", name, "index", (int)gi,
	                 "ip", mc_net_ntoa(mc_net_guest_addr(gi), ip), "state",
	                 unanswered_state(c, k, gi), "reason", why, "host", c->h[k].h.name,
	                 "kernel", "");
}

static int guest_cmp(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "index"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "index"));

	return (x > y) - (x < y);
}

/* Every host has answered r (or is lost): the merged answer. */
static void req_finish(struct coord *c, struct creq *r)
{
	if (strcmp(r->op, "ls") == 0) {
		json_t *arr = json_array(), **v;
		size_t n = json_array_size(r->agg);

		for (unsigned k = 0; k < c->nh; k++)
			if (!r->answered[k])
				for (unsigned gi = 0; gi < total_guests(c); gi++)
					if (host_of(c, gi) == (int)k)
						json_array_append_new(r->agg,
						                      unanswered_guest(c, k, gi));
		n = json_array_size(r->agg);
		v = calloc(n ? n : 1, sizeof(*v));
		for (size_t i = 0; v && i < n; i++)
			v[i] = json_array_get(r->agg, i);
		if (v)
			qsort(v, n, sizeof(*v), guest_cmp);
		for (size_t i = 0; v && i < n; i++)
			json_array_append(arr, v[i]);
		free(v);
		to_cli(c, r->cid, r->cid_len, json_pack("{s:s, s:o}", "type", "ls", "guests", arr),
		       NULL, 0);
	} else if (strcmp(r->op, "status") == 0) {
		json_t *st = r->agg, *cnt = json_object_get(st, "counts"), *hosts = json_array();
		char ip[16];

		for (unsigned k = 0; k < c->nh; k++) {
			for (unsigned gi = 0; !r->answered[k] && gi < total_guests(c); gi++) {
				const char *state;

				if (host_of(c, gi) != (int)k)
					continue;
				state = unanswered_state(c, k, gi);

				json_object_set_new(cnt, state,
				                    json_integer(json_integer_value(json_object_get(
				                                         cnt, state)) +
				                                 1));
			}
			json_array_append_new(
			        hosts,
			        json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s}", "name",
			                  c->h[k].h.name, "state", host_state_names[c->h[k].state],
			                  "underlay", mc_net_ntoa(c->h[k].h.underlay, ip), "first",
			                  (int)c->h[k].h.first, "guests", (int)host_guests(c, k),
			                  "daemon_pid", c->h[k].pid, "why", c->h[k].why));
		}
		json_object_set_new(st, "guests", json_integer(total_guests(c)));
		json_object_set_new(st, "elapsed_ms", json_integer(mc_now_ms() - c->started_ms));
		json_object_set_new(st, "pid", json_integer(getpid()));
		json_object_set_new(st, "shutting_down", json_boolean(c->shutting_down));
		json_object_set_new(st, "hosts", hosts);
		json_object_set_new(st, "mpi_addr",
		                    json_string(mc_net_ntoa(MC_NET_OVERLAY_CTL, ip)));
		r->agg = NULL;
		to_cli(c, r->cid, r->cid_len, st, NULL, 0);
	} else if (r->any_done) {
		to_cli(c, r->cid, r->cid_len,
		       json_pack("{s:s, s:I}", "type", "done", "job", (json_int_t)r->job), NULL, 0);
	}
	req_free(c, r);
}

/* Every host has answered r and no migration of it is under way: the answer. */
static void req_maybe_finish(struct coord *c, struct creq *r)
{
	if (r->held)
		return;
	for (unsigned i = 0; i < c->nh; i++)
		if (r->waiting[i])
			return;
	req_finish(c, r);
}

static void req_host_finished(struct coord *c, struct creq *r, unsigned k)
{
	if (!r->waiting[k])
		return;
	r->waiting[k] = 0;
	req_maybe_finish(c, r);
}

/* The answers a lost host owes for r: an error for each of its guests r names. */
/* An error for each guest of host k that r names: the host is lost, or refused r (error). */
static void req_guest_errors(struct coord *c, struct creq *r, unsigned k, const char *error)
{
	char name[16], why[300];

	if (!r->t.n)
		return;
	if (error)
		snprintf(why, sizeof(why), "host %s: %s", c->h[k].h.name, error);
	else
		snprintf(why, sizeof(why), "host %s lost: %s", c->h[k].h.name, c->h[k].why);
	for (unsigned gi = 0; gi < total_guests(c); gi++) {
		if (host_of(c, gi) != (int)k)
			continue;
		guest_name(gi, name);
		if (!mc_target_match(&r->t, name, gi))
			continue;
		if (r->exec)
			to_cli(c, r->cid, r->cid_len,
			       json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "exit", "guest", name,
			                 "state", "failed", "error", why, "boot_ms",
			                 (json_int_t)-1),
			       NULL, 0);
		else
			to_cli(c, r->cid, r->cid_len,
			       json_pack("{s:s, s:s, s:s}", "type", "result", "guest", name,
			                 "error", why),
			       NULL, 0);
	}
	r->any_done = 1;
}

static void forward(struct coord *c, struct creq *r, unsigned k, json_t *req)
{
	unsigned char wid[5];

	wire_id(r->seq, wid);
	r->waiting[k] = 1;
	send_frames(c->zhosts, c->h[k].id, c->h[k].id_len, wid, 5, json_incref(req), NULL, 0);
}

static struct creq *req_new(struct coord *c, const char *op, const unsigned char *cid, size_t len)
{
	struct creq *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->seq = ++c->next_seq;
	memcpy(r->cid, cid, len);
	r->cid_len = len;
	snprintf(r->op, sizeof(r->op), "%s", op);
	r->job = ++c->next_job & 0xffffffu; /* top byte 0: the cluster controller's own */
	r->next = c->reqs;
	c->reqs = r;
	return r;
}

/* signal: to the hosts running the exec job the CLI knows by that number. */
static void cli_signal(struct coord *c, json_t *req, const unsigned char *cid, size_t len)
{
	json_int_t job = json_integer_value(json_object_get(req, "job"));
	json_int_t sig = json_integer_value(json_object_get(req, "signal"));
	struct creq *r;
	unsigned char wid[5];

	for (r = c->reqs; r; r = r->next)
		if (r->exec && r->job == (uint32_t)job && r->cid_len == len &&
		    memcmp(r->cid, cid, len) == 0)
			break;
	if (!r) {
		cli_error(c, cid, len, "signal: no such exec job of this client");
		return;
	}
	wire_id(r->seq, wid);
	for (unsigned k = 0; k < c->nh; k++)
		if (r->waiting[k] && r->hjob[k])
			send_frames(c->zhosts, c->h[k].id, c->h[k].id_len, wid, 5,
			            json_pack("{s:s, s:I, s:I}", "op", "signal", "job",
			                      (json_int_t)r->hjob[k], "signal", sig),
			            NULL, 0);
}

static void begin_down(struct coord *c);

/* ---------- migrations across hosts ---------- */

static struct cmig *cm_find(struct coord *c, uint32_t id)
{
	for (struct cmig *m = c->migs; m; m = m->next)
		if (m->id == id)
			return m;
	return NULL;
}

/* Ends m: its result goes to the request, which may be complete now. */
static void cm_end(struct coord *c, struct cmig *m, json_t *result)
{
	struct creq *r = m->r;

	for (struct cmig **pp = &c->migs; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	json_decref(m->sent);
	free(m);
	if (!r) {
		json_decref(result);
		return;
	}
	to_cli(c, r->cid, r->cid_len, result, NULL, 0);
	r->any_done = 1;
	r->held--;
	req_maybe_finish(c, r);
}

/* m failed (why names the guest): both sides undo their part, the guest stays where it is. */
static void cm_fail(struct coord *c, struct cmig *m, const char *why)
{
	char name[16], text[700];
	unsigned hosts[2] = {m->src, m->dst};

	guest_name(m->gi, name);
	for (int i = 0; i < 2; i++)
		if (host_live(&c->h[hosts[i]]))
			to_host(c, hosts[i],
			        json_pack("{s:s, s:I, s:i, s:s}", "type", "xmig_abort", "id",
			                  (json_int_t)m->id, "guest", (int)m->gi, "error", why),
			        NULL, 0);
	/* Commands that were to move with it stay with the source. */
	for (unsigned i = 0; i < m->nseqs; i++) {
		struct creq *r = req_find(c, m->seqs[i]);

		if (r && r != m->r)
			req_host_finished(c, r, m->dst);
		else if (r)
			r->waiting[m->dst] = 0;
	}
	/* The hosts' messages name the guest already ("vm g0003: …"). */
	if (!strncmp(why, "vm ", 3) && !strncmp(why + 3, name, strlen(name)) &&
	    !strncmp(why + 3 + strlen(name), ": ", 2))
		why += 3 + strlen(name) + 2;
	snprintf(text, sizeof(text), "vm %s: migration to host %s failed: %s; %s %s", name,
	         c->h[m->dst].h.name, why,
	         host_live(&c->h[m->src]) ? "it stays on host" : "it was on host, now lost:",
	         c->h[m->src].h.name);
	mc_warn("coord: %s", text);
	cm_end(c, m,
	       json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "result", "guest", name, "error",
	                 text, "from_host", c->h[m->src].h.name, "to_host", c->h[m->dst].h.name));
}

/* The target runs the guest: routes everywhere, the source lets go, the events and the
 * request get the figures. */
static void cm_done(struct coord *c, struct cmig *m, json_t *msg)
{
	int64_t now = mc_now_ms();
	static const char *const stats[] = {"qemu_total_ms", "qemu_downtime_ms", "setup_ms",
	                                    "bytes",         "passes",           "disk_bytes"};
	json_t *st = json_object_get(m->sent, "stats"), *ev, *fig;
	json_int_t down =
	        now - json_integer_value(json_object_get(msg, "since_cont_ms")) - m->t_stop_ms;
	const char *state = json_string_value(json_object_get(msg, "state")) ?: "ready";
	char name[16], a[16];
	int err;

	guest_name(m->gi, name);
	c->owner[m->gi] = (int)m->dst;
	if ((err = mc_net_route_via(MC_NET_OVERLAY_IF, mc_net_guest_addr(m->gi),
	                            mc_net_overlay_host(m->dst))) < 0)
		mc_warn("coord: vm %s: route via %s: %s", name,
		        mc_net_ntoa(mc_net_overlay_host(m->dst), a), strerror(-err));
	for (unsigned k = 0; k < c->nh; k++) {
		if (k == m->dst || !host_live(&c->h[k]))
			continue;
		to_host(c, k,
		        k == m->src ? json_pack("{s:s, s:I, s:i, s:i}", "type", "xmig_commit", "id",
		                                (json_int_t)m->id, "guest", (int)m->gi, "to_host",
		                                (int)m->dst)
		                    : json_pack("{s:s, s:i, s:i}", "type", "xmig_route", "guest",
		                                (int)m->gi, "to_host", (int)m->dst),
		        NULL, 0);
	}
	mc_info("coord: vm %s: migrated from host %s to host %s (%s): %lld ms, downtime %lld ms",
	        name, c->h[m->src].h.name, c->h[m->dst].h.name,
	        m->stop ? "stop-and-copy" : "pre-copy", (long long)(now - m->t0_ms),
	        (long long)down);
	/* The figures, in the event's "migration" and in the result alike. */
	fig = json_pack("{s:s, s:s, s:s, s:I, s:I}", "from_host", c->h[m->src].h.name, "to_host",
	                c->h[m->dst].h.name, "mode", m->stop ? "stop" : "live", "total_ms",
	                (json_int_t)(now - m->t0_ms), "downtime_ms", down);
	for (size_t k = 0; k < sizeof(stats) / sizeof(stats[0]); k++)
		json_object_set(fig, stats[k], json_object_get(st, stats[k]) ?: json_null());
	ev = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:O}", "t_ms", (json_int_t)mc_wall_ms(),
	               "guest", name, "from", state, "state", state, "reason", "migrated", "host",
	               c->h[m->dst].h.name, "migration", fig);
	events_write(c, ev);
	json_decref(ev);
	json_object_update_new(
	        fig, json_pack("{s:s, s:s, s:s, s:i}", "type", "result", "guest", name, "state",
	                       state, "pid", (int)json_integer_value(json_object_get(msg, "pid"))));
	cm_end(c, m, fig);
}

/* The source sent everything: its commands in flight are the target's to answer from now
 * on (their requests wait for it too), then the target may run the guest. */
static void cm_sent(struct coord *c, struct cmig *m, json_t *msg)
{
	json_t *runs = json_object_get(json_object_get(msg, "adopt"), "runs"), *v;
	size_t i;

	m->t_stop_ms = mc_now_ms() - json_integer_value(json_object_get(msg, "since_stop_ms"));
	m->sent = json_incref(msg);
	json_array_foreach(runs, i, v)
	{
		const char *hex = json_string_value(json_object_get(v, "client"));
		unsigned b[6];
		uint32_t seq;
		unsigned char raw[4];
		struct creq *r;

		/* The host saw the request's client as MC_CTL_UPLINK_TAG, 'q', its number. */
		if (!hex || strlen(hex) != 12 ||
		    sscanf(hex, "%2x%2x%2x%2x%2x%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) !=
		            6 ||
		    b[1] != 'q')
			continue;
		for (int k = 0; k < 4; k++)
			raw[k] = (unsigned char)b[2 + k];
		memcpy(&seq, raw, 4);
		if (!(r = req_find(c, seq)) || r->waiting[m->dst] || !r->waiting[m->src])
			continue;
		r->waiting[m->dst] = 1;
		r->hjob[m->dst] = (uint32_t)json_integer_value(json_object_get(v, "job"));
		if (m->nseqs < sizeof(m->seqs) / sizeof(m->seqs[0]))
			m->seqs[m->nseqs++] = seq;
	}
	m->phase = CM_FINISHING;
	to_host(c, m->dst,
	        json_pack("{s:s, s:I, s:i, s:O}", "type", "xmig_finish", "id", (json_int_t)m->id,
	                  "guest", (int)m->gi, "adopt",
	                  json_object_get(msg, "adopt") ?: json_object()),
	        NULL, 0);
}

/* A migration message from host k. */
static void cm_msg(struct coord *c, unsigned k, const char *type, json_t *msg)
{
	struct cmig *m = cm_find(c, (uint32_t)json_integer_value(json_object_get(msg, "id")));

	if (!m || (k != m->src && k != m->dst))
		return;
	if (!strcmp(type, "xmig_failed")) {
		cm_fail(c, m, json_string_value(json_object_get(msg, "error")) ?: "failed");
	} else if (!strcmp(type, "xmig_checked") && k == m->src && m->phase == CM_CHECK) {
		m->phase = CM_PREPARE;
		to_host(c, m->dst,
		        json_pack("{s:s, s:I, s:i, s:b, s:s}", "type", "xmig_prepare", "id",
		                  (json_int_t)m->id, "guest", (int)m->gi, "from_template",
		                  json_is_true(json_object_get(msg, "from_template")), "mode",
		                  m->stop ? "stop" : "live"),
		        NULL, 0);
	} else if (!strcmp(type, "xmig_listening") && k == m->dst && m->phase == CM_PREPARE) {
		m->phase = CM_SENDING;
		to_host(c, m->src,
		        json_pack("{s:s, s:I, s:i, s:s, s:O, s:O, s:O, s:O, s:i}", "type",
		                  "xmig_send", "id", (json_int_t)m->id, "guest", (int)m->gi, "mode",
		                  m->stop ? "stop" : "live", "host", json_object_get(msg, "host"),
		                  "nbd_port", json_object_get(msg, "nbd_port"), "mig_port",
		                  json_object_get(msg, "mig_port"), "export",
		                  json_object_get(msg, "export"), "to_host", (int)m->dst),
		        NULL, 0);
	} else if (!strcmp(type, "xmig_sent") && k == m->src && m->phase == CM_SENDING) {
		cm_sent(c, m, msg);
	} else if (!strcmp(type, "xmig_done") && k == m->dst && m->phase == CM_FINISHING) {
		cm_done(c, m, msg);
	}
}

/* migrate TARGET --to HOST: guests of other hosts move there, guests already there get the
 * ordinary migration to a new QEMU on their host. */
static void cli_migrate_to(struct coord *c, struct creq *r, json_t *req, const char *to)
{
	const char *mode = json_string_value(json_object_get(req, "mode")) ?: "auto";
	int hit[MC_HOSTS_MAX] = {0}, kd = -1, stop;
	unsigned matched = 0, live = 0;
	char name[16], why[300];

	for (unsigned k = 0; k < c->nh; k++)
		if (!strcmp(c->h[k].h.name, to))
			kd = (int)k;
	if (kd < 0) {
		size_t l = (size_t)snprintf(why, sizeof(why),
		                            "migrate --to %s: no such host (hosts:", to);

		for (unsigned k = 0; k < c->nh && l < sizeof(why); k++)
			l += (size_t)snprintf(why + l, sizeof(why) - l, " %s", c->h[k].h.name);
		if (l < sizeof(why))
			snprintf(why + l, sizeof(why) - l, ")");
		cli_error(c, r->cid, r->cid_len, why);
		req_free(c, r);
		return;
	}
	if (strcmp(mode, "stop") && strcmp(mode, "live") && strcmp(mode, "auto")) {
		cli_error(c, r->cid, r->cid_len, "mode: want auto, live or stop");
		req_free(c, r);
		return;
	}
	/* As on one host: pre-copy under KVM, stop-and-copy under TCG. */
	stop = !strcmp(mode, "stop") || (!strcmp(mode, "auto") && strcmp(c->cfg->accel, "kvm"));
	for (unsigned gi = 0; gi < total_guests(c); gi++) {
		int k = host_of(c, gi);
		const char *no = NULL;
		struct cmig *m;

		guest_name(gi, name);
		if (!mc_target_match(&r->t, name, gi))
			continue;
		matched++;
		if (k == kd) {
			hit[k] = 1;
			continue;
		}
		for (m = c->migs; m; m = m->next)
			if (m->gi == gi)
				no = "a migration of this guest is already in progress";
		if (k < 0 || !host_live(&c->h[k]))
			no = "its host is lost";
		else if (!host_live(&c->h[kd]))
			no = "the destination host is lost";
		else if (strcmp(c->gstate[gi], "ready") && strcmp(c->gstate[gi], "busy")) {
			snprintf(why, sizeof(why), "cannot migrate a guest that is %s",
			         c->gstate[gi][0] ? c->gstate[gi] : "defined");
			no = why;
		}
		if (no || !(m = calloc(1, sizeof(*m)))) {
			char text[400];

			snprintf(text, sizeof(text), "vm %s: migration to host %s refused: %s",
			         name, to, no ? no : "out of memory");
			to_cli(c, r->cid, r->cid_len,
			       json_pack("{s:s, s:s, s:s}", "type", "result", "guest", name,
			                 "error", text),
			       NULL, 0);
			r->any_done = 1;
			continue;
		}
		m->id = ++c->next_mig;
		m->gi = gi;
		m->src = (unsigned)k;
		m->dst = (unsigned)kd;
		m->stop = stop;
		m->r = r;
		m->t0_ms = mc_now_ms();
		m->deadline_ms = m->t0_ms + 270000; /* the hosts' own limit is 240 s */
		m->phase = CM_CHECK;
		m->next = c->migs;
		c->migs = m;
		r->held++;
		mc_info("coord: vm %s: migrating from host %s to host %s", name, c->h[k].h.name,
		        to);
		/* The source says how the guest's memory is set up (a clone's template file, or
		 * not): the target's QEMU must match. */
		to_host(c, m->src,
		        json_pack("{s:s, s:I, s:i}", "type", "xmig_check", "id", (json_int_t)m->id,
		                  "guest", (int)gi),
		        NULL, 0);
	}
	if (!matched) {
		cli_error(c, r->cid, r->cid_len, "target matches no guest");
		req_free(c, r);
		return;
	}
	if (hit[kd]) {
		json_t *fwd = json_deep_copy(req);

		json_object_del(fwd, "to");
		forward(c, r, (unsigned)kd, fwd);
		json_decref(fwd);
		live++;
	}
	(void)live;
	req_maybe_finish(c, r);
}

static void cli_request(struct coord *c, json_t *req, const unsigned char *cid, size_t len)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *target = json_string_value(json_object_get(req, "target"));
	struct creq *r;
	unsigned live = 0, matched = 0;

	if (!op) {
		cli_error(c, cid, len, "malformed request");
		return;
	}
	if (strcmp(op, "signal") == 0) {
		cli_signal(c, req, cid, len);
		return;
	}
	if (strcmp(op, "down") == 0) {
		memcpy(c->down_cid, cid, len);
		c->down_cid_len = len;
		c->have_down = 1;
		begin_down(c);
		return;
	}
	if (strcmp(op, "status") && strcmp(op, "ls") && strcmp(op, "exec") && strcmp(op, "fault") &&
	    strcmp(op, "pause") && strcmp(op, "resume") && strcmp(op, "migrate") &&
	    strcmp(op, "checkpoint") && strcmp(op, "restore") && strcmp(op, "revive") &&
	    strcmp(op, "logs") && strcmp(op, "collect")) {
		cli_error(c, cid, len, "unknown request");
		return;
	}
	if (c->shutting_down && strcmp(op, "status") && strcmp(op, "ls") && strcmp(op, "logs")) {
		cli_error(c, cid, len, "the cluster is shutting down");
		return;
	}
	if (!(r = req_new(c, op, cid, len))) {
		cli_error(c, cid, len, "out of memory");
		return;
	}
	if (strcmp(op, "status") == 0 || strcmp(op, "ls") == 0) {
		/* A host that does not answer (dying, or its network down until the heartbeat
		 * timeout says so) must not hold up the cluster's view. */
		r->deadline_ms = mc_now_ms() + 5000;
		r->agg = strcmp(op, "ls") == 0
		                 ? json_array()
		                 : json_pack("{s:s, s:s, s:s, s:s, s:s, s:{}, s:I}", "type",
		                             "status", "cluster", c->cfg->cluster, "accel",
		                             c->cfg->accel, "accel_why", c->cfg->accel_why,
		                             "kernel_kind", c->cfg->kernel_kind, "counts",
		                             "all_ready_ms", (json_int_t)0);
		for (unsigned k = 0; k < c->nh; k++)
			if (host_live(&c->h[k])) {
				forward(c, r, k, req);
				live++;
			}
		if (!live)
			req_finish(c, r);
		return;
	}
	/* A request on guests: to the hosts that have one it names. */
	if (!target || mc_target_parse(target, &r->t)) {
		req_free(c, r);
		cli_error(c, cid, len, "malformed target");
		return;
	}
	r->exec = strcmp(op, "exec") == 0;
	if (!strcmp(op, "migrate") && json_string_value(json_object_get(req, "to")) &&
	    json_string_value(json_object_get(req, "to"))[0]) {
		cli_migrate_to(c, r, req, json_string_value(json_object_get(req, "to")));
		return;
	}
	{
		json_t *names = json_array();
		int hit[MC_HOSTS_MAX] = {0};
		char name[16];

		for (unsigned gi = 0; gi < total_guests(c); gi++) {
			guest_name(gi, name);
			if (!mc_target_match(&r->t, name, gi))
				continue;
			matched++;
			json_array_append_new(names, json_string(name));
			if (host_of(c, gi) >= 0)
				hit[host_of(c, gi)] = 1;
		}
		if (!matched) {
			int exec = r->exec;

			json_decref(names);
			req_free(c, r);
			cli_error(c, cid, len,
			          exec ? "exec: target matches no guest"
			               : "target matches no guest");
			return;
		}
		if (r->exec)
			to_cli(c, cid, len,
			       json_pack("{s:s, s:I, s:o}", "type", "start", "job",
			                 (json_int_t)r->job, "guests", names),
			       NULL, 0);
		else
			json_decref(names);
		/* A partition's rules go to every host: each routes its own guests' traffic. */
		if (strcmp(op, "fault") == 0 &&
		    !strcmp(json_string_value(json_object_get(req, "kind")) ?: "", "partition"))
			for (unsigned k = 0; k < c->nh; k++)
				hit[k] = 1;
		for (unsigned k = 0; k < c->nh; k++) {
			if (!hit[k])
				continue;
			if (host_live(&c->h[k])) {
				forward(c, r, k, req);
				live++;
			} else {
				req_guest_errors(c, r, k, NULL);
			}
		}
	}
	if (!live)
		req_finish(c, r);
}

static void drain_cli(struct coord *c)
{
	for (;;) {
		unsigned char cid[256];
		char skip[8];
		int n, m, more = 0;
		size_t ml = sizeof(more);
		zmq_msg_t body;
		json_t *req;

		n = zmq_recv(c->zcli, cid, sizeof(cid), ZMQ_DONTWAIT);
		if (n < 0)
			return;
		zmq_getsockopt(c->zcli, ZMQ_RCVMORE, &more, &ml);
		if (!more || n > (int)sizeof(cid)) {
			while (more && zmq_recv(c->zcli, skip, sizeof(skip), ZMQ_DONTWAIT) >= 0 &&
			       zmq_getsockopt(c->zcli, ZMQ_RCVMORE, &more, &ml) == 0)
				;
			continue;
		}
		zmq_msg_init(&body);
		m = zmq_msg_recv(&body, c->zcli, ZMQ_DONTWAIT);
		while (zmq_getsockopt(c->zcli, ZMQ_RCVMORE, &more, &ml) == 0 && more)
			zmq_recv(c->zcli, skip, sizeof(skip), ZMQ_DONTWAIT);
		if (m < 0 || m > (1 << 20)) {
			zmq_msg_close(&body);
			cli_error(c, cid, (size_t)n, "request too large");
			continue;
		}
		req = json_loadb(zmq_msg_data(&body), zmq_msg_size(&body), 0, NULL);
		zmq_msg_close(&body);
		cli_request(c, req, cid, (size_t)n);
		json_decref(req);
	}
}

/* ---------- hosts ---------- */

static int host_by_id(struct coord *c, const unsigned char *id, size_t len)
{
	for (unsigned k = 0; k < c->nh; k++)
		if (c->h[k].id_len == len && memcmp(c->h[k].id, id, len) == 0)
			return (int)k;
	return -1;
}

static void host_lost(struct coord *c, unsigned k, const char *why)
{
	struct chost *h = &c->h[k];
	char name[16];

	if (!host_live(h))
		return;
	h->state = H_LOST;
	snprintf(h->why, sizeof(h->why), "%s", why);
	mc_warn("coord: host %s lost: %s", h->h.name, why);
	{
		json_t *ev = json_pack("{s:I, s:s, s:s, s:s}", "t_ms", (json_int_t)mc_wall_ms(),
		                       "host", h->h.name, "host_state", "lost", "reason", why);

		events_write(c, ev);
		json_decref(ev);
	}
	for (unsigned gi = 0; gi < total_guests(c); gi++) {
		char reason[260];
		json_t *ev;

		if (host_of(c, gi) != (int)k)
			continue;
		if (!strcmp(c->gstate[gi], "failed") || !strcmp(c->gstate[gi], "stopped"))
			continue;
		guest_name(gi, name);
		snprintf(reason, sizeof(reason), "host %s lost: %s", h->h.name, why);
		ev = json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s}", "t_ms",
		               (json_int_t)mc_wall_ms(), "guest", name, "from",
		               c->gstate[gi][0] ? c->gstate[gi] : "defined", "state", "failed",
		               "boot", 1, "reason", reason, "host", h->h.name);
		events_write(c, ev);
		json_decref(ev);
	}
	/* Migrations to or from it end: the other side undoes its part. */
	for (struct cmig *m = c->migs, *next; m; m = next) {
		char w[300];

		next = m->next;
		if (m->src != k && m->dst != k)
			continue;
		snprintf(w, sizeof(w), "host %s lost: %s", h->h.name, why);
		cm_fail(c, m, w);
	}
	/* What it still owed: answered for it. */
	for (struct creq *r = c->reqs, *next; r; r = next) {
		next = r->next;
		if (!r->waiting[k])
			continue;
		req_guest_errors(c, r, k, NULL);
		req_host_finished(c, r, k);
	}
}

/* An answer from host k to request wire id wid. */
static void host_reply(struct coord *c, unsigned k, uint32_t seq, json_t *msg, const void *data,
                       size_t dlen)
{
	struct creq *r = req_find(c, seq);
	const char *type = json_string_value(json_object_get(msg, "type"));
	json_int_t job = json_integer_value(json_object_get(msg, "job"));

	if (!r || !type)
		return;
	if (strcmp(type, "ls") == 0 && strcmp(r->op, "ls") == 0) {
		size_t i;
		json_t *g;

		json_array_foreach(json_object_get(msg, "guests"), i, g)
		{
			json_object_set_new(g, "host", json_string(c->h[k].h.name));
			json_array_append(r->agg, g);
		}
		r->answered[k] = 1;
		req_host_finished(c, r, k);
	} else if (strcmp(type, "status") == 0 && strcmp(r->op, "status") == 0) {
		json_t *cnt = json_object_get(r->agg, "counts"), *v;
		json_int_t ar = json_integer_value(json_object_get(msg, "all_ready_ms"));
		json_int_t have = json_integer_value(json_object_get(r->agg, "all_ready_ms"));
		const char *key;

		json_object_foreach(json_object_get(msg, "counts"), key, v)
		{
			json_int_t sum = json_integer_value(json_object_get(cnt, key)) +
			                 json_integer_value(v);

			json_object_set_new(cnt, key, json_integer(sum));
		}
		json_object_set_new(r->agg, "all_ready_ms",
		                    json_integer(ar < 0 || have < 0 ? -1
		                                 : ar > have        ? ar
		                                                    : have));
		r->answered[k] = 1;
		req_host_finished(c, r, k);
	} else if (strcmp(type, "start") == 0) {
		r->hjob[k] = (uint32_t)job; /* the cluster controller sent its own start */
	} else if (strcmp(type, "done") == 0) {
		r->any_done = 1;
		req_host_finished(c, r, k);
	} else if (strcmp(type, "error") == 0) {
		const char *e = json_string_value(json_object_get(msg, "error"));

		if (e && strncmp(e, "signal:", 7) == 0) { /* about a signal: the job goes on */
			to_cli(c, r->cid, r->cid_len, json_incref(msg), NULL, 0);
		} else if (r->t.n) { /* one host's refusal fails its guests, not the request */
			req_guest_errors(c, r, k, e ? e : "refused the request");
			req_host_finished(c, r, k);
		} else {
			to_cli(c, r->cid, r->cid_len, json_incref(msg), NULL, 0);
			req_host_finished(c, r, k);
		}
	} else {
		if (json_object_get(msg, "job"))
			json_object_set_new(msg, "job", json_integer(r->job));
		to_cli(c, r->cid, r->cid_len, json_incref(msg), data, dlen);
	}
}

static void host_control(struct coord *c, unsigned k, json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));
	struct chost *h = &c->h[k];

	if (!type)
		return;
	if (strcmp(type, "event") == 0) {
		json_t *ev = json_object_get(msg, "event");

		if (json_is_object(ev)) {
			json_object_set_new(ev, "host", json_string(h->h.name));
			events_write(c, ev);
		}
	} else if (strncmp(type, "xmig_", 5) == 0) {
		cm_msg(c, k, type, msg);
	} else if (strcmp(type, "started") == 0 && h->state == H_STARTING) {
		h->state = H_UP;
	} else if (strcmp(type, "error") == 0 && h->state == H_STARTING) {
		snprintf(h->why, sizeof(h->why), "%s",
		         json_string_value(json_object_get(msg, "error")) ?: "setup failed");
		h->state = H_GONE;
	} else if (strcmp(type, "bye") == 0) {
		if (!c->shutting_down)
			host_lost(c, k, "its daemon exited");
		h->state = h->state == H_LOST ? H_LOST : H_GONE;
	}
}

/* Reads what the daemons sent. Hellos are taken only while hosts are awaited. */
static void drain_hosts(struct coord *c, int accept_hello)
{
	for (;;) {
		unsigned char id[128], f1[16];
		void *data = NULL;
		int n, l1, m, more = 0, k;
		size_t ml = sizeof(more), dlen = 0;
		zmq_msg_t body, extra;
		json_t *msg;

		n = zmq_recv(c->zhosts, id, sizeof(id), ZMQ_DONTWAIT);
		if (n < 0)
			return;
		l1 = m = -1;
		zmq_msg_init(&body);
		zmq_msg_init(&extra);
		if (zmq_getsockopt(c->zhosts, ZMQ_RCVMORE, &more, &ml) == 0 && more)
			l1 = zmq_recv(c->zhosts, f1, sizeof(f1), ZMQ_DONTWAIT);
		/* Any size: an ls of a host with thousands of guests is megabytes. */
		if (zmq_getsockopt(c->zhosts, ZMQ_RCVMORE, &more, &ml) == 0 && more)
			m = zmq_msg_recv(&body, c->zhosts, ZMQ_DONTWAIT);
		if (zmq_getsockopt(c->zhosts, ZMQ_RCVMORE, &more, &ml) == 0 && more &&
		    zmq_msg_recv(&extra, c->zhosts, ZMQ_DONTWAIT) >= 0) {
			data = zmq_msg_data(&extra);
			dlen = zmq_msg_size(&extra);
		}
		while (zmq_getsockopt(c->zhosts, ZMQ_RCVMORE, &more, &ml) == 0 && more)
			zmq_recv(c->zhosts, f1, 1, ZMQ_DONTWAIT);
		if (n > (int)sizeof(id) || l1 < 0 || m < 0) {
			zmq_msg_close(&body);
			zmq_msg_close(&extra);
			continue;
		}
		msg = json_loadb(zmq_msg_data(&body), zmq_msg_size(&body), 0, NULL);
		zmq_msg_close(&body);
		k = host_by_id(c, id, (size_t)n);
		if (k < 0 && accept_hello && l1 == 0 && c->nh < c->expected &&
		    !strcmp(json_string_value(json_object_get(msg, "type")) ?: "", "hello")) {
			struct chost *h = &c->h[c->nh];
			const char *name = json_string_value(json_object_get(msg, "host"));
			const char *ul = json_string_value(json_object_get(msg, "underlay"));
			json_t *a = json_pack("[{s:s, s:s, s:i, s:i}]", "name", name ? name : "",
			                      "underlay", ul ? ul : "", "first", 0, "n", 0);
			unsigned one;

			const char *ver = json_string_value(json_object_get(msg, "version"));

			if (!ver || strcmp(ver, MC_VERSION) != 0) {
				mc_warn("coord: host %s runs microcosm %s, this is %s: not taken",
				        name ? name : "?", ver ? ver : "?", MC_VERSION);
			} else if (name && mc_hosts_from_json(a, &h->h, &one) == 0) {
				memcpy(h->id, id, (size_t)n);
				h->id_len = (size_t)n;
				h->pid = (int)json_integer_value(json_object_get(msg, "pid"));
				h->cpus = (int)json_integer_value(json_object_get(msg, "cpus"));
				h->mem_avail_mib = (uint64_t)json_integer_value(
				        json_object_get(msg, "mem_avail_mib"));
				h->state = H_HELLO;
				h->heard_ms = mc_now_ms();
				mc_info("coord: host %s (%s, pid %d) said hello", h->h.name, ul,
				        h->pid);
				c->nh++;
			} else {
				mc_warn("coord: malformed hello from a daemon");
			}
			json_decref(a);
		} else if (k >= 0 && !host_live(&c->h[k]) && c->h[k].state != H_HELLO) {
			/* A lost host's late words: its guests were answered for and recorded
			 * failed already. Only its goodbye counts. */
			if (l1 == 0 &&
			    !strcmp(json_string_value(json_object_get(msg, "type")) ?: "", "bye"))
				host_control(c, (unsigned)k, msg);
		} else if (k >= 0) {
			c->h[k].heard_ms = mc_now_ms();
			if (l1 == 0) {
				host_control(c, (unsigned)k, msg);
			} else if (l1 == 5 && f1[0] == 'q') {
				uint32_t seq;

				memcpy(&seq, f1 + 1, 4);
				host_reply(c, (unsigned)k, seq, msg, data, dlen);
			}
		}
		json_decref(msg);
		zmq_msg_close(&extra);
	}
}

static void begin_down(struct coord *c)
{
	if (c->shutting_down)
		return;
	c->shutting_down = 1;
	c->down_deadline_ms = mc_now_ms() + 60000;
	mc_info("coord: taking the cluster down on %u hosts", c->nh);
	for (unsigned k = 0; k < c->nh; k++)
		if (host_live(&c->h[k]) || c->h[k].state == H_HELLO)
			to_host(c, k, json_pack("{s:s}", "type", "down"), NULL, 0);
}

/* Heartbeats both ways, lost hosts, the end of a shutdown. Returns ms to wait. */
/* Heartbeats to the live hosts, every guest-heartbeat period (also while starting). */
static void send_hbs(struct coord *c)
{
	int64_t now = mc_now_ms();

	if (now - c->sent_hb_ms < (int64_t)c->cfg->hb_ms)
		return;
	for (unsigned k = 0; k < c->nh; k++)
		if (host_live(&c->h[k]))
			to_host(c, k, json_pack("{s:s}", "type", "hb"), NULL, 0);
	c->sent_hb_ms = now;
}

static int tick(struct coord *c)
{
	int64_t now = mc_now_ms(), timeout = (int64_t)c->cfg->hb_timeout_ms;
	int waiting = 0;

	if (timeout < 10000)
		timeout = 10000;
	send_hbs(c);
	for (struct creq *r = c->reqs, *next; r; r = next) {
		next = r->next;
		if (r->deadline_ms && now >= r->deadline_ms)
			req_finish(c, r);
	}
	for (struct cmig *m = c->migs, *next; m; m = next) {
		next = m->next;
		if (now >= m->deadline_ms)
			cm_fail(c, m, "not finished after 270 s");
		else if (c->shutting_down)
			cm_fail(c, m, "the cluster is shutting down");
	}
	for (unsigned k = 0; k < c->nh; k++) {
		char why[96];

		if (host_live(&c->h[k]) && now - c->h[k].heard_ms > timeout) {
			snprintf(why, sizeof(why), "no heartbeat for %lld ms",
			         (long long)(now - c->h[k].heard_ms));
			host_lost(c, k, why);
		}
		waiting += host_live(&c->h[k]);
	}
	if (c->shutting_down && (!waiting || now >= c->down_deadline_ms))
		c->done = 1;
	return 250;
}

/* ---------- start ---------- */

static int count_hosts(const char *file, char *why, size_t whylen)
{
	FILE *fp = fopen(file, "re");
	char line[512];
	int n = 0;

	if (!fp) {
		snprintf(why, whylen, "host file %s: %s", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *p = line + strspn(line, " \t");

		if (*p && *p != '#' && *p != '\n')
			n++;
	}
	fclose(fp);
	if (n < 1 || n > MC_HOSTS_MAX) {
		snprintf(why, whylen, "host file %s: %d hosts (1 to %d)", file, n, MC_HOSTS_MAX);
		return -1;
	}
	return n;
}

/* Forks the launcher: Hydra's mpiexec over the host file, or srun over the allocation. */
static int launch(struct coord *c, char *why, size_t whylen)
{
	char self[PATH_MAX], nbuf[16], log[PATH_MAX + 32];
	const char *argv[40];
	int na = 0, fd;
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;

	if (l <= 0) {
		snprintf(why, whylen, "/proc/self/exe: %s", strerror(errno));
		return -1;
	}
	self[l] = '\0';
	snprintf(nbuf, sizeof(nbuf), "%u", c->expected);
	if (strcmp(c->ho->hosts, "slurm") == 0) {
		argv[na++] = "srun";
		argv[na++] = "--nodes";
		argv[na++] = nbuf;
		argv[na++] = "--ntasks";
		argv[na++] = nbuf;
		argv[na++] = "--ntasks-per-node=1";
		argv[na++] = "--kill-on-bad-exit=0";
		argv[na++] = "--no-kill";
	} else {
		argv[na++] = "mpiexec";
		argv[na++] = "-f";
		argv[na++] = c->ho->hosts;
		argv[na++] = "-n";
		argv[na++] = nbuf;
		argv[na++] = "-ppn";
		argv[na++] = "1";
		if (c->ho->launcher_exec[0]) {
			argv[na++] = "-launcher";
			argv[na++] = "rsh";
			argv[na++] = "-launcher-exec";
			argv[na++] = c->ho->launcher_exec;
		}
		argv[na++] = "-localhost";
		argv[na++] = c->ho->listen;
		/* A host daemon that dies must not take the others with it. */
		argv[na++] = "-disable-auto-cleanup";
	}
	argv[na++] = self;
	argv[na++] = "daemon";
	argv[na++] = "--controller";
	argv[na++] = c->ep;
	argv[na] = NULL;
	snprintf(log, sizeof(log), "%s/%s", c->cfg->dir, MC_HOSTS_LOG);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char **)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	c->launcher = pid;
	mc_info("coord: launcher %s (pid %d) starting %u host daemons for %s", argv[0], (int)pid,
	        c->expected, c->ep);
	return 0;
}

/* The address the daemons reach this host at: the host name's first non-loopback IPv4
 * address, else the source of the default route. */
static int find_listen(char *out, size_t cap)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai, *p;
	char host[256];
	uint32_t a;

	if (gethostname(host, sizeof(host) - 1) == 0 && getaddrinfo(host, NULL, &hints, &ai) == 0) {
		for (p = ai; p; p = p->ai_next) {
			a = ntohl(((struct sockaddr_in *)p->ai_addr)->sin_addr.s_addr);
			if ((a >> 24) != 127) {
				mc_net_ntoa(a, out);
				freeaddrinfo(ai);
				return 0;
			}
		}
		freeaddrinfo(ai);
	}
	if (mc_net_source_for(0xc0000201u /* 192.0.2.1 */, &a) == 0) {
		snprintf(out, cap, "%s", mc_net_ntoa(a, host));
		return 0;
	}
	return -1;
}

/* The largest number of guests a host admits (memory and idle CPU). */
static unsigned capacity(const struct chost *h, const struct mc_cost *cost, unsigned n)
{
	unsigned lo = 0, hi = n;
	char msg[256];

	while (lo < hi) {
		unsigned mid = lo + (hi - lo + 1) / 2;

		if (mc_admit(mid, cost, h->mem_avail_mib, h->cpus, msg, sizeof(msg)) == 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Waits until cond(c) holds, the launcher exits or the time is up. */
static int wait_hosts(struct coord *c, int (*cond)(struct coord *), int64_t end, int hello,
                      char *why, size_t whylen)
{
	while (!cond(c)) {
		int status;
		zmq_pollitem_t it = {.socket = c->zhosts, .events = ZMQ_POLLIN};

		struct signalfd_siginfo si;

		if (mc_now_ms() >= end) {
			snprintf(why, whylen, "timed out");
			return -1;
		}
		while (read(c->sigfd, &si, sizeof(si)) == sizeof(si))
			if (si.ssi_signo != SIGCHLD) {
				snprintf(why, whylen, "interrupted by signal %u", si.ssi_signo);
				return -1;
			}
		if (c->launcher > 0 && waitpid(c->launcher, &status, WNOHANG) == c->launcher) {
			c->launcher = 0;
			snprintf(why, whylen, "the launcher exited (status %d)",
			         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			return -1;
		}
		zmq_poll(&it, 1, 200);
		drain_hosts(c, hello);
		send_hbs(c);
	}
	return 0;
}

static int all_hello(struct coord *c)
{
	return c->nh == c->expected;
}

static int all_started(struct coord *c)
{
	for (unsigned k = 0; k < c->nh; k++)
		if (c->h[k].state == H_STARTING)
			return 0;
	return 1;
}

static int host_cmp(const void *a, const void *b)
{
	return strverscmp(((const struct chost *)a)->h.name, ((const struct chost *)b)->h.name);
}

static int start_hosts(struct coord *c, char *why, size_t whylen)
{
	const struct mc_ctl_config *cfg = c->cfg;
	unsigned cap[MC_HOSTS_MAX];
	struct mc_host hs[MC_HOSTS_MAX];
	char err[200], ip[16];
	int64_t end = mc_now_ms() + (int64_t)c->ho->start_timeout_ms;
	json_t *plan;

	if (wait_hosts(c, all_hello, end, 1, err, sizeof(err)) < 0) {
		snprintf(why, whylen, "%u of %u host daemons said hello: %s (see %s/%s)", c->nh,
		         c->expected, err, cfg->dir, MC_HOSTS_LOG);
		return -1;
	}
	qsort(c->h, c->nh, sizeof(c->h[0]), host_cmp); /* placement in host-name order */
	for (unsigned k = 0; k < c->nh; k++) {
		for (unsigned j = 0; j < k; j++)
			if (strcmp(c->h[j].h.name, c->h[k].h.name) == 0) {
				snprintf(why, whylen, "two host daemons call their host %s",
				         c->h[k].h.name);
				return -1;
			}
		cap[k] = capacity(&c->h[k], &c->ho->cost, cfg->n);
		hs[k] = c->h[k].h;
	}
	if (mc_hosts_place(hs, cap, c->nh, cfg->n) < 0) {
		size_t l = (size_t)snprintf(
		        why, whylen, "the hosts admit fewer than %u guests of %.0f MiB:", cfg->n,
		        c->ho->cost.mem_mib);

		for (unsigned k = 0; k < c->nh && l < whylen; k++)
			l += (size_t)snprintf(why + l, whylen - l, " %s %u", c->h[k].h.name,
			                      cap[k]);
		return -1;
	}
	for (unsigned k = 0; k < c->nh; k++) {
		c->h[k].h.first = hs[k].first;
		c->h[k].h.n = hs[k].n;
		c->ov.hosts[k] = c->h[k].h;
		for (unsigned i = 0; i < hs[k].n; i++)
			c->owner[hs[k].first + i] = (int)k;
		mc_info("coord: host %s (%s): %u guests from g%04u (admits %u)", hs[k].name,
		        mc_net_ntoa(hs[k].underlay, ip), hs[k].n, hs[k].first, cap[k]);
	}
	c->ov.nhosts = c->nh;
	plan = mc_hosts_json(c->ov.hosts, c->nh);
	for (unsigned k = 0; k < c->nh; k++) {
		char root[PATH_MAX];
		char *slash;

		snprintf(root, sizeof(root), "%s", cfg->dir);
		if ((slash = strrchr(root, '/')))
			*slash = '\0';
		c->h[k].state = H_STARTING;
		to_host(c, k,
		        json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:O, s:I}", "type", "start",
		                  "host_index", (int)k, "first", (int)c->h[k].h.first, "n",
		                  (int)c->h[k].h.n, "cluster", cfg->cluster, "state_root", root,
		                  "hosts", plan, "vni", (json_int_t)c->ov.vni),
		        cfg, sizeof(*cfg));
	}
	json_decref(plan);
	if (wait_hosts(c, all_started, end, 0, err, sizeof(err)) < 0) {
		snprintf(why, whylen, "host daemons did not set up: %s", err);
		return -1;
	}
	for (unsigned k = 0; k < c->nh; k++)
		if (c->h[k].state != H_UP) {
			snprintf(why, whylen, "host %s: %s", c->h[k].h.name, c->h[k].why);
			return -1;
		}
	return 0;
}

static int setup(struct coord *c, char *why, size_t whylen)
{
	const struct mc_ctl_config *cfg = c->cfg;
	struct epoll_event ev = {.events = EPOLLIN};
	char ep[PATH_MAX + 16];
	size_t sz = sizeof(ep);
	int zero = 0, fd, r;

	if (mc_loop_fds(&c->sigfd, &c->epfd) < 0) {
		snprintf(why, whylen, "signalfd/epoll: %s", strerror(errno));
		return -1;
	}
	if (strcmp(c->ho->hosts, "slurm") == 0) {
		const char *nn = getenv("SLURM_JOB_NUM_NODES");

		if (!nn)
			nn = getenv("SLURM_NNODES");
		if (!nn || atoi(nn) < 1 || atoi(nn) > MC_HOSTS_MAX) {
			snprintf(why, whylen,
			         "--hosts slurm: not inside a Slurm allocation (no "
			         "SLURM_JOB_NUM_NODES); run under salloc or sbatch");
			return -1;
		}
		c->expected = (unsigned)atoi(nn);
	} else if ((r = count_hosts(c->ho->hosts, why, whylen)) < 0) {
		return -1;
	} else {
		c->expected = (unsigned)r;
	}
	if (!c->ho->listen[0] && find_listen(c->ho->listen, sizeof(c->ho->listen)) < 0) {
		snprintf(why, whylen,
		         "cannot tell this host's address for the daemons: give --listen");
		return -1;
	}
	{
		unsigned a, b, d, e;

		if (sscanf(c->ho->listen, "%u.%u.%u.%u", &a, &b, &d, &e) != 4) {
			snprintf(why, whylen, "--listen %s: not an IPv4 address", c->ho->listen);
			return -1;
		}
		c->ov.local = c->ov.ctl_underlay = a << 24 | b << 16 | d << 8 | e;
	}
	c->ov.host_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	c->ov.self = MC_NET_OVERLAY_CTL;
	c->ov.self_host = -1;
	/* Per run, not per name: the kernel frees a namespace (and its VXLAN device) some time
	 * after its last process, and the last run's device would still hold the number. */
	{
		char key[160];

		snprintf(key, sizeof(key), "%s/%d/%lld", cfg->cluster, (int)getpid(),
		         (long long)mc_wall_ms());
		c->ov.vni = mc_hosts_vni(key);
	}
	/* Made here, in the host's own namespace: the daemons' socket and the I/O threads. */
	c->zctx = zmq_ctx_new();
	zmq_ctx_set(c->zctx, ZMQ_MAX_SOCKETS, 4096);
	c->zhosts = zmq_socket(c->zctx, ZMQ_ROUTER);
	c->zcli = zmq_socket(c->zctx, ZMQ_ROUTER);
	if (!c->zhosts || !c->zcli) {
		snprintf(why, whylen, "zmq socket: %s", zmq_strerror(zmq_errno()));
		return -1;
	}
	zmq_setsockopt(c->zhosts, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->zhosts, ZMQ_SNDHWM, &zero, sizeof(zero));
	zmq_setsockopt(c->zcli, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->zcli, ZMQ_SNDHWM, &zero, sizeof(zero));
	snprintf(ep, sizeof(ep), "tcp://%s:*", c->ho->listen);
	if (zmq_bind(c->zhosts, ep) < 0) {
		snprintf(why, whylen, "bind %s: %s", ep, zmq_strerror(zmq_errno()));
		return -1;
	}
	sz = sizeof(c->ep);
	zmq_getsockopt(c->zhosts, ZMQ_LAST_ENDPOINT, c->ep, &sz);
	if (launch(c, why, whylen) < 0)
		return -1;
	if (start_hosts(c, why, whylen) < 0)
		return -1;
	/* The cluster controller's own fleet namespace on the overlay: mpiexec runs there. */
	if ((r = mc_net_enter_ns(cfg->netns)) < 0) {
		snprintf(why, whylen, "network namespace %s: %s", cfg->netns, strerror(-r));
		return -1;
	}
	if (mc_overlay_setup(&c->ov, why, whylen) < 0)
		return -1;
	snprintf(ep, sizeof(ep), "ipc://%s/%s", cfg->dir, MC_CTL_SOCK);
	if (zmq_bind(c->zcli, ep) < 0) {
		snprintf(why, whylen, "bind %s: %s", ep, zmq_strerror(zmq_errno()));
		return -1;
	}
	snprintf(ep, sizeof(ep), "%s/%s", cfg->dir, MC_CTL_SOCK);
	chmod(ep, 0600);
	ev.data.u32 = 0;
	epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->sigfd, &ev);
	sz = sizeof(fd);
	zmq_getsockopt(c->zhosts, ZMQ_FD, &fd, &sz);
	ev.data.u32 = 1;
	epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
	zmq_getsockopt(c->zcli, ZMQ_FD, &fd, &sz);
	ev.data.u32 = 2;
	epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

static void on_signal(struct coord *c)
{
	struct signalfd_siginfo si;

	while (read(c->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			int status;

			if (c->launcher > 0 &&
			    waitpid(c->launcher, &status, WNOHANG) == c->launcher) {
				mc_info("coord: the launcher exited (status %d)",
				        WIFEXITED(status) ? WEXITSTATUS(status)
				                          : 128 + WTERMSIG(status));
				c->launcher = 0;
			}
			while (waitpid(-1, &status, WNOHANG) > 0)
				;
		} else {
			mc_info("coord: signal %u: taking the cluster down", si.ssi_signo);
			begin_down(c);
		}
	}
}

/* Ends the launcher (its daemons are gone or going): TERM, then KILL after 5 s. */
static void stop_launcher(struct coord *c)
{
	int status;

	if (c->launcher <= 0)
		return;
	kill(-c->launcher, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(c->launcher, &status, WNOHANG) == c->launcher) {
			c->launcher = 0;
			return;
		}
		usleep(100 * 1000);
	}
	kill(-c->launcher, SIGKILL);
	waitpid(c->launcher, &status, 0);
	c->launcher = 0;
}

int mc_coord_run(const struct mc_ctl_config *cfg, const struct mc_hosts_opts *ho, int ready_fd)
{
	struct coord coord = {0}, *c = &coord;
	struct mc_hosts_opts hopts = *ho;
	char why[1024] = "", path[PATH_MAX + 32];
	int rc = 0;

	c->cfg = cfg;
	c->ho = &hopts;
	c->sigfd = c->epfd = -1;
	c->started_ms = mc_now_ms();
	snprintf(path, sizeof(path), "%s", cfg->events[0] ? cfg->events : "");
	if (!path[0])
		snprintf(path, sizeof(path), "%s/events.jsonl", cfg->dir);
	c->events_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	c->gstate = calloc(cfg->n ? cfg->n : 1, sizeof(*c->gstate));
	c->owner = calloc(cfg->n ? cfg->n : 1, sizeof(*c->owner));
	for (unsigned gi = 0; c->owner && gi < cfg->n; gi++)
		c->owner[gi] = -1;
	if (!c->gstate || !c->owner) {
		snprintf(why, sizeof(why), "out of memory");
		rc = 1;
	} else if (setup(c, why, sizeof(why)) < 0) {
		rc = 1;
	}
	if (ready_fd >= 0) {
		char msg[1100];
		int n = rc ? snprintf(msg, sizeof(msg), "error: %s\n", why)
		           : snprintf(msg, sizeof(msg), "ok\n");

		if (write(ready_fd, msg, (size_t)n) < 0)
			mc_debug("coord: ready pipe: %s", strerror(errno));
		close(ready_fd);
	}
	if (rc) {
		mc_err("coord: setup failed: %s", why);
		begin_down(c);
		c->down_deadline_ms = mc_now_ms() + 15000;
	} else {
		mc_info("coord: cluster %s: %u guests on %u hosts, daemons at %s", cfg->cluster,
		        cfg->n, c->nh, c->ep);
	}
	while (!c->done && c->zhosts) {
		struct epoll_event evs[8];
		int timeout = tick(c), n;

		if (c->done)
			break;
		if (c->epfd >= 0 && c->zcli && !rc) {
			n = epoll_wait(c->epfd, evs, 8, timeout);
			for (int i = 0; i < n; i++)
				if (evs[i].data.u32 == 0)
					on_signal(c);
			drain_cli(c);
		} else {
			zmq_pollitem_t it = {.socket = c->zhosts, .events = ZMQ_POLLIN};

			zmq_poll(&it, 1, timeout);
		}
		drain_hosts(c, 0);
	}
	stop_launcher(c);
	mc_info("coord: cluster %s down", cfg->cluster);
	if (c->have_down && c->zcli) {
		int linger = 2000;

		zmq_setsockopt(c->zcli, ZMQ_LINGER, &linger, sizeof(linger));
		to_cli(c, c->down_cid, c->down_cid_len, json_pack("{s:s}", "type", "down"), NULL,
		       0);
	}
	while (c->migs) {
		struct cmig *m = c->migs;

		c->migs = m->next;
		json_decref(m->sent);
		free(m);
	}
	while (c->reqs)
		req_free(c, c->reqs);
	if (c->zhosts)
		zmq_close(c->zhosts);
	if (c->zcli)
		zmq_close(c->zcli);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	mc_net_forget_ns(cfg->netns);
	mc_rm_rf(cfg->dir);
	if (c->events_fd >= 0)
		close(c->events_fd);
	if (c->ov.host_ns_fd > 0)
		close(c->ov.host_ns_fd);
	if (c->sigfd >= 0)
		close(c->sigfd);
	if (c->epfd >= 0)
		close(c->epfd);
	free(c->gstate);
	free(c->owner);
	return rc;
}
