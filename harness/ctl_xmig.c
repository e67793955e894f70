/* ctl_xmig.c — a guest's migration to another host of a cluster across hosts (docs/hosts.md),
 * both sides of it. The cluster controller (coord.c) drives them with control messages over
 * the uplink:
 *
 *   target  xmig_prepare → a slot for the guest, a new overlay over the same base, a tap, a
 *           QEMU with -incoming defer that exports its disk writable over NBD and listens
 *           for the migration stream on this host's overlay address → xmig_listening
 *   source  xmig_send → blockdev-add an NBD client of that export, blockdev-mirror sync=top
 *           (only what the guest wrote: both overlays have the same base), BLOCK_JOB_READY,
 *           stop (or, pre-copy, pause-before-switchover), block-job-cancel (the target now
 *           holds a point-in-time copy), blockdev-del, migrate over TCP → xmig_sent, paused
 *   target  xmig_finish → nbd-server-stop, the guest's /32 route to its tap, cont, the
 *           guest (and its commands in flight) adopted → xmig_done
 *   source  xmig_commit → its QEMU ends, its route goes via the target host; the slot is
 *           away. xmig_abort on either side undoes its part: the source continues.
 *
 * RAM travels in full: clones map their host's own template file privately (share=off),
 * so x-ignore-shared skips nothing; it is turned off on both sides so that no host relies
 * on another's template. Every failure is reported as "vm gNNNN: …". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl_internal.h"
#include "log.h"
#include "mc_trace.h"
#include "net.h"
#include "overlay.h"
#include "util.h"

#define XMIG_TIMEOUT_MS  240000       /* either side gives up after this */
#define XMIG_BANDWIDTH   (4ull << 30) /* bytes/s: no cap of QEMU's own */
#define XMIG_DOWNTIME_MS 100
#define XMIG_PORT_BASE   20000 /* target slot i: NBD on base + 2i, the stream on base + 2i + 1 */

enum xmig_phase {
	XIN_STARTING,   /* target: QEMU started, its export and listener being set up */
	XIN_LISTENING,  /* target: the stream and the controller's finish awaited */
	XIN_RESUMING,   /* target: export stopped, route moved, query-status/cont sent */
	XOUT_MIRROR,    /* source: NBD client and mirror started; BLOCK_JOB_READY awaited */
	XOUT_SYNCING,   /* source: vCPUs stopped, mirror cancelled; BLOCK_JOB_COMPLETED awaited */
	XOUT_SENDING,   /* source: the RAM migration runs */
	XOUT_FINISHING, /* source: completed; query-migrate for the figures */
	XOUT_SENT,      /* source: paused for good; commit or abort awaited */
};

struct ctl_xmig {
	enum xmig_phase phase;
	uint32_t id;   /* the cluster controller's number for this migration */
	int stop;      /* stop-and-copy; else pre-copy that pauses before the switch-over */
	int acks;      /* target: replies to the setup commands so far */
	int in_done;   /* target: its incoming stream completed */
	json_t *adopt; /* target: the guest's state from the source (the finish message) */
	int stopped;   /* source: its vCPUs are stopped (by stop or at the switch-over) */
	int job, node; /* source: the mirror job / the NBD client node exists */
	char node_name[32], job_name[32], export_name[32];
	char host[16]; /* the target's overlay address */
	unsigned nbd_port, mig_port;
	int to_host;    /* source: the target's host number */
	int stat_tries; /* source: query-migrate replies without the final times */
	int64_t t0_ms, t_stop_ms, t_cont_ms, deadline_ms;
	struct ctl_mig_stats st; /* source: its query-migrate */
	json_int_t disk_bytes;
	char ifname[16]; /* target: its tap */
};

static void send_failed(struct ctl *c, struct ctl_xmig *x, struct guest *g, const char *side,
                        const char *why)
{
	char msg[400];

	snprintf(msg, sizeof(msg), "vm %s: %s", g->name, why);
	ctl_uplink_send(c, json_pack("{s:s, s:I, s:i, s:s, s:s}", "type", "xmig_failed", "id",
	                             (json_int_t)x->id, "guest", (int)g->gindex, "side", side,
	                             "error", msg));
}

/* ---------- target ---------- */

/* Releases an arriving guest's slot: its QEMU, tap and files go. */
static void in_release(struct ctl *c, struct guest *g)
{
	struct ctl_xmig *x = g->xmig;
	struct mc_vmm_info info;

	g->xmig = NULL;
	if (g->be) {
		mc_vmm_qemu_ops.query(g->be, &info);
		if (g->epoll_added && info.fd >= 0)
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, info.fd, NULL);
		mc_vmm_qemu_ops.destroy(&g->be); /* kills and reaps it */
	}
	g->epoll_added = 0;
	g->pid = 0;
	if (g->tap_fd >= 0)
		close(g->tap_fd);
	g->tap_fd = -1;
	if (g->dir[0])
		mc_rm_rf(g->dir);
	g->slot = CTL_SLOT_AWAY;
	if (x) {
		json_decref(x->adopt);
		free(x);
	}
}

static void in_fail(struct ctl *c, struct guest *g, const char *why)
{
	struct ctl_xmig *x = g->xmig;

	mc_warn("vm %s: arriving from another host failed: %s", g->name, why);
	if (x)
		send_failed(c, x, g, "target", why);
	in_release(c, g);
}

/* A free slot for cluster guest gi: its own one in this host's block, else an unused one. */
static struct guest *in_slot(struct ctl *c, unsigned gi)
{
	const struct mc_ctl_config *cfg = c->cfg;
	struct guest *g = NULL;

	if (gi >= cfg->first && gi - cfg->first < cfg->n)
		g = &c->g[gi - cfg->first];
	for (unsigned i = cfg->n; !g && i < c->n; i++)
		if (c->g[i].slot == CTL_SLOT_AWAY && !c->g[i].be)
			g = &c->g[i];
	if (!g && c->n < c->cap)
		g = &c->g[c->n++];
	if (!g || g->slot != CTL_SLOT_AWAY || g->be)
		return NULL;
	/* A fresh guest record, named by its cluster index. */
	{
		unsigned index = g->index;

		memset(g, 0, sizeof(*g));
		g->index = index;
	}
	g->ctl = c;
	g->tap_fd = -1;
	g->gindex = gi;
	g->state = MC_VM_DEFINED;
	g->slot = CTL_SLOT_INCOMING;
	snprintf(g->name, sizeof(g->name), "g%04u", gi);
	g->addr = mc_net_guest_addr(gi);
	mc_net_ntoa(g->addr, g->ip);
	mc_net_guest_mac(gi, g->mac);
	snprintf(g->dir, sizeof(g->dir), "%s/guests/%s", cfg->dir, g->name);
	return g;
}

static void in_adopt(struct ctl *c, struct guest *g);

static void on_in_cont(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl *c = g->ctl;
	char why[256];

	if (!g->xmig || g->xmig->phase != XIN_RESUMING)
		return;
	if (!ret) {
		snprintf(why, sizeof(why), "cont on the new QEMU: %s",
		         desc  ? desc
		         : cls ? cls
		               : "?");
		in_fail(c, g, why);
		return;
	}
	in_adopt(c, g);
}

static void on_in_status(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl *c = g->ctl;
	char why[256];

	if (!g->xmig || g->xmig->phase != XIN_RESUMING)
		return;
	if (!ret) {
		snprintf(why, sizeof(why), "query-status on the new QEMU: %s",
		         desc  ? desc
		         : cls ? cls
		               : "?");
		in_fail(c, g, why);
		return;
	}
	if (json_is_true(json_object_get(ret, "running"))) {
		in_adopt(c, g);
		return;
	}
	if (mc_vmm_qemu_ops.command(g->be, "cont", NULL, on_in_cont, g) < 0)
		in_fail(c, g, "the new QEMU's control connection is gone");
	else
		ctl_epoll_sync(c, g);
}

/* The stream is in and the source has stopped for good: run the guest here. */
static void in_maybe_resume(struct ctl *c, struct guest *g)
{
	struct ctl_xmig *x = g->xmig;
	char why[160];
	int err;

	if (x->phase != XIN_LISTENING || !x->in_done || !x->adopt)
		return;
	x->phase = XIN_RESUMING;
	mc_vmm_qemu_ops.command(g->be, "nbd-server-stop", NULL, NULL, NULL);
	if ((err = mc_net_route_to(x->ifname, g->addr)) < 0) {
		snprintf(why, sizeof(why), "route to %s: %s", x->ifname, strerror(-err));
		in_fail(c, g, why);
		return;
	}
	if (mc_vmm_qemu_ops.command(g->be, "query-status", NULL, on_in_status, g) < 0)
		in_fail(c, g, "the new QEMU's control connection is gone");
	else
		ctl_epoll_sync(c, g);
}

/* Takes over the commands in flight the source handed over: same exec ids, same job
 * numbers, same client (the cluster controller's request), so their output and exits reach
 * it from here. */
static void in_adopt_runs(struct ctl *c, struct guest *g, json_t *runs)
{
	size_t i;
	json_t *v;
	struct job *created[64];
	unsigned ncreated = 0;

	json_array_foreach(runs, i, v)
	{
		const char *hex = json_string_value(json_object_get(v, "client"));
		unsigned char client[MAX_CLIENT_ID];
		size_t len = hex ? strlen(hex) / 2 : 0;
		uint32_t id = (uint32_t)json_integer_value(json_object_get(v, "job"));
		struct job *j;
		struct run *r;

		if (!hex || len == 0 || len > sizeof(client))
			continue;
		for (size_t k = 0; k < len; k++) {
			unsigned b;

			if (sscanf(hex + 2 * k, "%2x", &b) != 1)
				b = 0;
			client[k] = (unsigned char)b;
		}
		if (!(j = ctl_job_find(c, id, client, len))) {
			if (ncreated == sizeof(created) / sizeof(created[0]) ||
			    !(j = ctl_job_new(c, "exec", client, len)))
				continue;
			j->id = id;
			created[ncreated++] = j; /* held by its creation until all runs are in */
		}
		if (!(r = calloc(1, sizeof(*r))))
			continue;
		r->exec_id = (uint32_t)json_integer_value(json_object_get(v, "exec_id"));
		r->job = j;
		r->next = g->runs;
		g->runs = r;
		g->nruns++;
		j->pending++;
	}
	for (unsigned k = 0; k < ncreated; k++)
		ctl_job_part_done(c, created[k]);
}

/* The guest runs here now: its state travels with it (no transition: nothing happened to
 * the guest itself), it is ready or busy as it was. */
static void in_adopt(struct ctl *c, struct guest *g)
{
	struct ctl_xmig *x = g->xmig;
	json_t *a = x->adopt;
	int64_t now = mc_now_ms();
	json_int_t boot_ms = json_integer_value(json_object_get(a, "boot_ms"));
	const char *kernel = json_string_value(json_object_get(a, "kernel"));
	struct mc_vmm_info info;

	x->t_cont_ms = now;
	g->slot = CTL_SLOT_HERE;
	g->state = MC_VM_READY;
	g->boots = (unsigned)json_integer_value(json_object_get(a, "boots"));
	g->boot_id = (uint32_t)json_integer_value(json_object_get(a, "boot_id"));
	g->migrations = (unsigned)json_integer_value(json_object_get(a, "migrations")) + 1;
	g->health_errors = (uint64_t)json_integer_value(json_object_get(a, "health_errors"));
	g->hb_seq = (uint64_t)json_integer_value(json_object_get(a, "hb_seq"));
	snprintf(g->kernel, sizeof(g->kernel), "%s", kernel ? kernel : "");
	g->t_ready_ms = now;
	g->t_start_ms = now - (boot_ms > 0 ? boot_ms : 0);
	g->last_hb_ms = now;
	snprintf(g->ifname, sizeof(g->ifname), "%s", x->ifname);
	/* The agent's next connection says who it is (its routing id); until then replies go
	 * to the id it had. */
	snprintf((char *)g->rid, sizeof(g->rid), "%s.%u", g->name, g->boot_id);
	g->rid_len = strlen((char *)g->rid);
	in_adopt_runs(c, g, json_object_get(a, "runs"));
	if (g->nruns)
		g->state = MC_VM_BUSY;
	mc_vmm_qemu_ops.query(g->be, &info);
	g->pid = info.pid;
	mc_info("vm %s: arrived from another host: runs in a new QEMU (pid %d, tap %s), %u "
	        "commands in flight",
	        g->name, (int)g->pid, g->ifname, g->nruns);
	mc_trace_guest_state(g->name, "migrated", g->ifname);
	ctl_uplink_send(c, json_pack("{s:s, s:I, s:i, s:i, s:s, s:I}", "type", "xmig_done", "id",
	                             (json_int_t)x->id, "guest", (int)g->gindex, "pid", (int)g->pid,
	                             "state", mc_vm_state_name(g->state), "since_cont_ms",
	                             (json_int_t)(mc_now_ms() - x->t_cont_ms)));
	json_decref(x->adopt);
	free(x);
	g->xmig = NULL;
}

static void on_in_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl *c = g->ctl;
	struct ctl_xmig *x = g->xmig;
	char why[256];

	if (!x || x->phase != XIN_STARTING)
		return;
	if (!ret) {
		snprintf(why, sizeof(why), "new QEMU: %s", desc ? desc : cls ? cls : "error");
		in_fail(c, g, why);
		return;
	}
	if (++x->acks < 4)
		return; /* capabilities, nbd-server-start, nbd-server-add, migrate-incoming */
	x->phase = XIN_LISTENING;
	mc_info("vm %s: arriving from another host: new QEMU (pid %d, tap %s) exports its disk "
	        "on %s:%u and listens on %s:%u",
	        g->name, (int)g->pid, x->ifname, x->host, x->nbd_port, x->host, x->mig_port);
	ctl_uplink_send(c, json_pack("{s:s, s:I, s:i, s:s, s:i, s:i, s:s}", "type",
	                             "xmig_listening", "id", (json_int_t)x->id, "guest",
	                             (int)g->gindex, "host", x->host, "nbd_port", (int)x->nbd_port,
	                             "mig_port", (int)x->mig_port, "export", x->export_name));
}

/* xmig_prepare {id, guest, from_template, mode}: the target side. */
static void in_prepare(struct ctl *c, json_t *msg)
{
	uint32_t id = (uint32_t)json_integer_value(json_object_get(msg, "id"));
	json_int_t gi = json_integer_value(json_object_get(msg, "guest"));
	int from_template = json_is_true(json_object_get(msg, "from_template"));
	struct ctl_guest_paths p;
	struct mc_vm_spec spec;
	struct mc_vmm_info info;
	struct ctl_xmig *x = NULL;
	struct guest *g;
	char why[300], uri[64];
	int err;

	if (gi < 0 || gi >= MC_NET_MAX_GUESTS || ctl_guest_by_gindex(c, (unsigned)gi)) {
		struct guest tmp = {0};
		struct ctl_xmig t = {.id = id};

		snprintf(tmp.name, sizeof(tmp.name), "g%04u", (unsigned)gi);
		send_failed(c, &t, &tmp, "target", "already on this host (or arriving)");
		return;
	}
	if (!(g = in_slot(c, (unsigned)gi)) || !(x = calloc(1, sizeof(*x)))) {
		struct guest tmp = {0};
		struct ctl_xmig t = {.id = id};

		snprintf(tmp.name, sizeof(tmp.name), "g%04u", (unsigned)gi);
		send_failed(c, &t, &tmp, "target", "no free slot for it on this host");
		if (g)
			g->slot = CTL_SLOT_AWAY;
		return;
	}
	g->xmig = x;
	x->id = id;
	x->phase = XIN_STARTING;
	x->t0_ms = mc_now_ms();
	x->deadline_ms = x->t0_ms + XMIG_TIMEOUT_MS;
	x->stop = !strcmp(json_string_value(json_object_get(msg, "mode")) ?: "stop", "stop");
	mc_net_ntoa(mc_net_overlay_host((unsigned)c->cfg->host_index), x->host);
	x->nbd_port = XMIG_PORT_BASE + 2 * g->index;
	x->mig_port = x->nbd_port + 1;
	snprintf(x->export_name, sizeof(x->export_name), "%s", g->name);
	snprintf(x->ifname, sizeof(x->ifname), "mct%u", g->index);
	g->from_template = from_template;
	if ((err = mc_mkdir_p(g->dir, 0755)) < 0) {
		snprintf(why, sizeof(why), "mkdir %s: %s", g->dir, strerror(-err));
		goto fail;
	}
	ctl_guest_paths(g, &p);
	/* Its own overlay on this host, over the same base: the source mirrors what the guest
	 * wrote into it. */
	if ((err = mc_overlay_copy(c->blank, p.disk)) < 0) {
		snprintf(why, sizeof(why), "create overlay %s: %s", p.disk, strerror(-err));
		goto fail;
	}
	if ((err = ctl_write_identity(c, g, p.ident)) < 0) {
		snprintf(why, sizeof(why), "write %s: %s", p.ident, strerror(-err));
		goto fail;
	}
	/* No route yet: the guest's traffic goes to its source host until the switch. */
	if ((err = mc_net_tap_open(x->ifname, g->addr, 0, &g->tap_fd)) < 0) {
		snprintf(why, sizeof(why), "tap %s: %s", x->ifname, strerror(-err));
		goto fail;
	}
	ctl_guest_spec(c, g, from_template, &p, g->tap_fd, &spec);
	spec.listen = 1;
	if (!(g->be = mc_vmm_qemu_ops.create(&spec, &ctl_vmm_hooks, g))) {
		snprintf(why, sizeof(why), "back end refused the new QEMU");
		goto fail;
	}
	if ((err = mc_vmm_qemu_ops.start(g->be)) < 0) {
		snprintf(why, sizeof(why), "start the new QEMU: %s", strerror(-err));
		goto fail;
	}
	close(g->tap_fd); /* the new QEMU holds its own copy */
	g->tap_fd = -1;
	mc_vmm_qemu_ops.query(g->be, &info);
	g->pid = info.pid;
	g->t_start_ms = mc_now_ms();
	mc_vmm_qemu_ops.command(g->be, "migrate-set-capabilities",
	                        json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "capabilities",
	                                  "capability", "x-ignore-shared", "state", 0, "capability",
	                                  "events", "state", 1),
	                        on_in_reply, g);
	{
		char port[8];

		snprintf(port, sizeof(port), "%u", x->nbd_port);
		mc_vmm_qemu_ops.command(g->be, "nbd-server-start",
		                        json_pack("{s:{s:s, s:{s:s, s:s}}}", "addr", "type", "inet",
		                                  "data", "host", x->host, "port", port),
		                        on_in_reply, g);
	}
	/* Writable, before the stream arrives: exporting activates the disk nodes. */
	mc_vmm_qemu_ops.command(g->be, "nbd-server-add",
	                        json_pack("{s:s, s:s, s:b}", "device", "top0", "name",
	                                  x->export_name, "writable", 1),
	                        on_in_reply, g);
	snprintf(uri, sizeof(uri), "tcp:%s:%u", x->host, x->mig_port);
	mc_vmm_qemu_ops.command(g->be, "migrate-incoming", json_pack("{s:s}", "uri", uri),
	                        on_in_reply, g);
	ctl_epoll_sync(c, g);
	return;
fail:
	in_fail(c, g, why);
}

/* ---------- source ---------- */

/* Undoes the source's part: the guest goes on here. */
static void out_abort(struct ctl *c, struct guest *g, const char *why, int tell)
{
	struct ctl_xmig *x = g->xmig;

	g->xmig = NULL;
	if (g->be && g->pid > 0) {
		if (x->phase == XOUT_SENDING)
			mc_vmm_qemu_ops.command(g->be, "migrate_cancel", NULL, NULL, NULL);
		if (x->job)
			mc_vmm_qemu_ops.command(
			        g->be, "block-job-cancel",
			        json_pack("{s:s, s:b}", "device", x->job_name, "force", 1), NULL,
			        NULL);
		if (x->node)
			mc_vmm_qemu_ops.command(g->be, "blockdev-del",
			                        json_pack("{s:s}", "node-name", x->node_name), NULL,
			                        NULL);
		/* Stopped by us, or paused at the end of a completed stream: continue (QEMU takes
		 * its disk back). */
		if (x->stopped || x->phase >= XOUT_FINISHING)
			mc_vmm_qemu_ops.command(g->be, "cont", NULL, NULL, NULL);
		ctl_epoll_sync(c, g);
	}
	g->last_hb_ms = mc_now_ms(); /* the pause is not a lost heartbeat */
	mc_warn("vm %s: migration to another host failed: %s; it stays on this host", g->name, why);
	if (tell)
		send_failed(c, x, g, "source", why);
	free(x);
}

static void out_fail(struct ctl *c, struct guest *g, const char *why)
{
	out_abort(c, g, why, 1);
}

static void on_out_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	char why[300];

	if (ret || !g->xmig || g->xmig->phase >= XOUT_SENT || g->slot != CTL_SLOT_HERE)
		return;
	snprintf(why, sizeof(why), "source QEMU: %s", desc ? desc : cls ? cls : "error");
	out_fail(g->ctl, g, why);
}

/* The guest is stopped and the disk copy consistent: send the RAM. */
static void out_send_ram(struct ctl *c, struct guest *g)
{
	struct ctl_xmig *x = g->xmig;
	char uri[64];

	x->phase = XOUT_SENDING;
	snprintf(uri, sizeof(uri), "tcp:%s:%u", x->host, x->mig_port);
	mc_vmm_qemu_ops.command(g->be, "migrate", json_pack("{s:s}", "uri", uri), on_out_reply, g);
	ctl_epoll_sync(c, g);
}

/* The mirror is in sync: stop-and-copy stops the guest and ends the mirror (the target gets
 * a point-in-time copy); pre-copy starts sending RAM and ends the mirror at the
 * switch-over. */
static void out_mirror_ready(struct ctl *c, struct guest *g)
{
	struct ctl_xmig *x = g->xmig;

	if (x->stop) {
		x->phase = XOUT_SYNCING;
		x->stopped = 1;
		x->t_stop_ms = mc_now_ms();
		mc_vmm_qemu_ops.command(g->be, "stop", NULL, on_out_reply, g);
		mc_vmm_qemu_ops.command(g->be, "block-job-cancel",
		                        json_pack("{s:s}", "device", x->job_name), on_out_reply, g);
	} else {
		out_send_ram(c, g);
	}
	ctl_epoll_sync(c, g);
}

static void on_out_del(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;

	(void)cls;
	(void)desc;
	if (!g->xmig)
		return;
	if (ret)
		g->xmig->node = 0;
}

/* BLOCK_JOB_COMPLETED after the cancel: the target's disk is the source's. */
static void out_mirror_done(struct ctl *c, struct guest *g, json_t *data)
{
	struct ctl_xmig *x = g->xmig;
	const char *err = json_string_value(json_object_get(data, "error"));
	char why[300];

	x->job = 0;
	if (err) {
		snprintf(why, sizeof(why), "disk mirror: %s", err);
		out_fail(c, g, why);
		return;
	}
	x->disk_bytes = json_integer_value(json_object_get(data, "offset"));
	mc_vmm_qemu_ops.command(g->be, "blockdev-del",
	                        json_pack("{s:s}", "node-name", x->node_name), on_out_del, g);
	if (x->phase == XOUT_SYNCING && x->stop)
		out_send_ram(c, g);
	else if (x->phase == XOUT_SYNCING) { /* pre-copy paused before the switch-over */
		x->phase = XOUT_SENDING;
		mc_vmm_qemu_ops.command(g->be, "migrate-continue",
		                        json_pack("{s:s}", "state", "pre-switchover"), on_out_reply,
		                        g);
	}
	ctl_epoll_sync(c, g);
}

/* What the target needs to take the guest over, and its commands in flight. */
static json_t *out_adopt_json(struct guest *g)
{
	json_t *runs = json_array();

	for (struct run *r = g->runs; r; r = r->next) {
		char hex[2 * MAX_CLIENT_ID + 1];

		for (size_t k = 0; k < r->job->client_len; k++)
			snprintf(hex + 2 * k, 3, "%02x", r->job->client[k]);
		hex[2 * r->job->client_len] = '\0';
		json_array_append_new(runs, json_pack("{s:I, s:I, s:s}", "exec_id",
		                                      (json_int_t)r->exec_id, "job",
		                                      (json_int_t)r->job->id, "client", hex));
	}
	return json_pack("{s:s, s:i, s:I, s:i, s:I, s:I, s:s, s:I, s:o}", "state",
	                 mc_vm_state_name(g->state), "boots", (int)g->boots, "boot_id",
	                 (json_int_t)g->boot_id, "migrations", (int)g->migrations, "health_errors",
	                 (json_int_t)g->health_errors, "hb_seq", (json_int_t)g->hb_seq, "kernel",
	                 g->kernel, "boot_ms",
	                 (json_int_t)(g->t_ready_ms ? g->t_ready_ms - g->t_start_ms : -1), "runs",
	                 runs);
}

static void on_out_stats(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl *c = g->ctl;
	struct ctl_xmig *x = g->xmig;
	int64_t now = mc_now_ms();

	(void)cls;
	(void)desc;
	if (!x || x->phase != XOUT_FINISHING)
		return;
	if (ctl_mig_stats(c, g, ret, &x->stat_tries, on_out_stats, &x->st))
		return;
	x->phase = XOUT_SENT;
	mc_info("vm %s: sent to host %d: %.1f MiB of RAM in %lld ms, %.1f MiB of disk; paused "
	        "until the target runs it",
	        g->name, x->to_host, (double)x->st.bytes / (1 << 20), (long long)x->st.total,
	        (double)x->disk_bytes / (1 << 20));
	ctl_uplink_send(c,
	                json_pack("{s:s, s:I, s:i, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:s}, "
	                          "s:o}",
	                          "type", "xmig_sent", "id", (json_int_t)x->id, "guest",
	                          (int)g->gindex, "since_stop_ms", (json_int_t)(now - x->t_stop_ms),
	                          "stats", "qemu_total_ms", x->st.total, "qemu_downtime_ms",
	                          x->st.downtime, "setup_ms", x->st.setup, "bytes", x->st.bytes,
	                          "passes", x->st.passes, "disk_bytes", x->disk_bytes, "mode",
	                          x->stop ? "stop" : "live", "adopt", out_adopt_json(g)));
}

/* xmig_send {id, guest, mode, host, nbd_port, mig_port, export, to_host}: the source side. */
static void out_send(struct ctl *c, json_t *msg)
{
	uint32_t id = (uint32_t)json_integer_value(json_object_get(msg, "id"));
	json_int_t gi = json_integer_value(json_object_get(msg, "guest"));
	const char *host = json_string_value(json_object_get(msg, "host"));
	const char *exp = json_string_value(json_object_get(msg, "export"));
	struct guest *g = gi >= 0 ? ctl_guest_by_gindex(c, (unsigned)gi) : NULL;
	struct ctl_xmig *x, t = {.id = id};
	char buf[160], port[8];
	const char *no;

	if (!g || !ctl_here(g)) {
		struct guest tmp = {0};

		snprintf(tmp.name, sizeof(tmp.name), "g%04u", (unsigned)gi);
		send_failed(c, &t, &tmp, "source", "not on this host");
		return;
	}
	if ((no = ctl_migrate_refusal(c, g, buf, sizeof(buf))) || !host || !exp ||
	    strlen(host) >= sizeof(x->host) || strlen(exp) >= sizeof(x->export_name)) {
		send_failed(c, &t, g, "source", no ? no : "malformed request");
		return;
	}
	if (!(x = calloc(1, sizeof(*x)))) {
		send_failed(c, &t, g, "source", "out of memory");
		return;
	}
	g->xmig = x;
	x->id = id;
	x->phase = XOUT_MIRROR;
	x->stop = !strcmp(json_string_value(json_object_get(msg, "mode")) ?: "stop", "stop");
	x->t0_ms = mc_now_ms();
	x->deadline_ms = x->t0_ms + XMIG_TIMEOUT_MS;
	x->to_host = (int)json_integer_value(json_object_get(msg, "to_host"));
	x->nbd_port = (unsigned)json_integer_value(json_object_get(msg, "nbd_port"));
	x->mig_port = (unsigned)json_integer_value(json_object_get(msg, "mig_port"));
	snprintf(x->host, sizeof(x->host), "%s", host);
	snprintf(x->export_name, sizeof(x->export_name), "%s", exp);
	snprintf(x->node_name, sizeof(x->node_name), "xnbd%u", id);
	snprintf(x->job_name, sizeof(x->job_name), "xmir%u", id);
	snprintf(port, sizeof(port), "%u", x->nbd_port);
	mc_info("vm %s: migrating to host %d: mirroring its disk to %s:%u, then %s", g->name,
	        x->to_host, x->host, x->nbd_port, x->stop ? "stop-and-copy" : "pre-copy");
	/* RAM in full (see the top of this file); events drive the switch; pre-copy pauses
	 * before the switch-over so that the mirror can end while the guest is stopped. */
	mc_vmm_qemu_ops.command(g->be, "migrate-set-capabilities",
	                        json_pack("{s:[{s:s, s:b}, {s:s, s:b}, {s:s, s:b}]}",
	                                  "capabilities", "capability", "x-ignore-shared", "state",
	                                  0, "capability", "events", "state", 1, "capability",
	                                  "pause-before-switchover", "state", !x->stop),
	                        on_out_reply, g);
	mc_vmm_qemu_ops.command(g->be, "migrate-set-parameters",
	                        json_pack("{s:I, s:I}", "max-bandwidth", (json_int_t)XMIG_BANDWIDTH,
	                                  "downtime-limit", (json_int_t)XMIG_DOWNTIME_MS),
	                        on_out_reply, g);
	x->node = 1;
	mc_vmm_qemu_ops.command(g->be, "blockdev-add",
	                        json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:s}", "driver", "nbd",
	                                  "node-name", x->node_name, "server", "type", "inet",
	                                  "host", x->host, "port", port, "export", x->export_name),
	                        on_out_reply, g);
	/* Only what the guest wrote (its overlay, not the base every host has). */
	x->job = 1;
	mc_vmm_qemu_ops.command(g->be, "blockdev-mirror",
	                        json_pack("{s:s, s:s, s:s, s:s}", "job-id", x->job_name, "device",
	                                  "top0", "target", x->node_name, "sync", "top"),
	                        on_out_reply, g);
	ctl_epoll_sync(c, g);
}

/* xmig_commit {id, guest, to_host}: the guest runs on the target: let go of it. */
static void out_commit(struct ctl *c, struct guest *g, json_t *msg)
{
	struct ctl_xmig *x = g->xmig;
	struct mc_vmm_info info;
	int to = (int)json_integer_value(json_object_get(msg, "to_host")), err;
	struct run *r;
	char a[16];

	g->xmig = NULL;
	if (g->be) {
		mc_vmm_qemu_ops.query(g->be, &info);
		if (g->epoll_added && info.fd >= 0)
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, info.fd, NULL);
		mc_vmm_qemu_ops.destroy(&g->be); /* paused for good: SIGKILL, reaped */
	}
	g->epoll_added = 0;
	g->pid = 0;
	/* Its commands in flight went with it: their parts end here without a word (the
	 * target answers for them). */
	while ((r = g->runs)) {
		g->runs = r->next;
		ctl_job_part_done(c, r->job);
		free(r);
	}
	g->nruns = 0;
	g->slot = CTL_SLOT_AWAY;
	if ((err = mc_net_route_via(MC_NET_OVERLAY_IF, g->addr,
	                            mc_net_overlay_host((unsigned)to))) < 0)
		mc_warn("vm %s: route via host %d (%s): %s", g->name, to,
		        mc_net_ntoa(mc_net_overlay_host((unsigned)to), a), strerror(-err));
	mc_rm_rf(g->dir);
	mc_info("vm %s: migrated to host %d: its QEMU, tap and disk here are gone", g->name, to);
	free(x);
}

/* ---------- both ---------- */

void ctl_xmig_abort(struct ctl *c, struct guest *g, const char *why)
{
	if (!g->xmig)
		return;
	if (g->slot == CTL_SLOT_INCOMING)
		in_fail(c, g, why);
	else
		out_fail(c, g, why);
}

void ctl_xmig_reaped(struct ctl *c, struct guest *g, int status)
{
	char why[96];

	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "the new QEMU was killed by signal %d",
		         WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "the new QEMU exited with status %d (see qemu.log)",
		         WEXITSTATUS(status));
	if (g->xmig)
		in_fail(c, g, why);
	else
		in_release(c, g);
}

void ctl_xmig_event(struct ctl *c, struct guest *g, const char *event, json_t *data)
{
	struct ctl_xmig *x = g->xmig;
	const char *st = json_string_value(json_object_get(data, "status"));
	const char *dev = json_string_value(json_object_get(data, "device"));
	char why[160];

	if (g->slot == CTL_SLOT_INCOMING) {
		if (strcmp(event, "MIGRATION") || !st)
			return;
		if (!strcmp(st, "completed")) {
			x->in_done = 1;
			in_maybe_resume(c, g);
		} else if (!strcmp(st, "failed")) {
			in_fail(c, g, "the incoming migration stream failed (see qemu.log)");
		}
		return;
	}
	if (!strncmp(event, "BLOCK_JOB_", 10) && (!dev || strcmp(dev, x->job_name)))
		return;
	if (!strcmp(event, "BLOCK_JOB_READY") && x->phase == XOUT_MIRROR) {
		out_mirror_ready(c, g);
	} else if (!strcmp(event, "BLOCK_JOB_COMPLETED") && x->phase == XOUT_SYNCING) {
		out_mirror_done(c, g, data);
	} else if (!strcmp(event, "BLOCK_JOB_ERROR") || !strcmp(event, "BLOCK_JOB_CANCELLED") ||
	           !strcmp(event, "BLOCK_JOB_COMPLETED")) {
		snprintf(why, sizeof(why), "disk mirror: %s%s%s", event,
		         json_string_value(json_object_get(data, "error")) ? ": " : "",
		         json_string_value(json_object_get(data, "error")) ?: "");
		x->job = 0;
		out_fail(c, g, why);
	} else if (!strcmp(event, "MIGRATION") && st && x->phase == XOUT_SENDING) {
		if (!strcmp(st, "pre-switchover")) {
			/* Pre-copy: the guest is stopped here; end the mirror, then switch over. */
			x->phase = XOUT_SYNCING;
			x->stopped = 1;
			x->t_stop_ms = mc_now_ms();
			mc_vmm_qemu_ops.command(g->be, "block-job-cancel",
			                        json_pack("{s:s}", "device", x->job_name),
			                        on_out_reply, g);
		} else if (!strcmp(st, "completed")) {
			x->phase = XOUT_FINISHING;
			if (mc_vmm_qemu_ops.command(g->be, "query-migrate", NULL, on_out_stats, g) <
			    0)
				on_out_stats(g, NULL, NULL, NULL);
		} else if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
			snprintf(why, sizeof(why), "QEMU reports the migration %s", st);
			out_fail(c, g, why);
		}
		ctl_epoll_sync(c, g);
	}
}

void ctl_xmig_control(struct ctl *c, const char *type, json_t *msg)
{
	uint32_t id = (uint32_t)json_integer_value(json_object_get(msg, "id"));
	json_int_t gi = json_integer_value(json_object_get(msg, "guest"));
	struct guest *g = gi >= 0 ? ctl_guest_by_gindex(c, (unsigned)gi) : NULL;
	struct ctl_xmig *x = g ? g->xmig : NULL;

	if (!c->cfg->uplink)
		return;
	if (!strcmp(type, "xmig_prepare")) {
		if (c->shutting_down) {
			struct guest tmp = {0};
			struct ctl_xmig t = {.id = id};

			snprintf(tmp.name, sizeof(tmp.name), "g%04u", (unsigned)gi);
			send_failed(c, &t, &tmp, "target", "the host is shutting down");
			return;
		}
		in_prepare(c, msg);
	} else if (!strcmp(type, "xmig_check")) {
		/* Whether it can go, and how its memory is set up (the target must match). */
		char buf[160];
		const char *no = !g || !ctl_here(g) ? "not on this host"
		                                    : ctl_migrate_refusal(c, g, buf, sizeof(buf));
		struct ctl_xmig t = {.id = id};

		if (no) {
			struct guest tmp = {0};

			snprintf(tmp.name, sizeof(tmp.name), "g%04u", (unsigned)gi);
			send_failed(c, &t, g ? g : &tmp, "source", no);
			return;
		}
		ctl_uplink_send(c, json_pack("{s:s, s:I, s:i, s:b}", "type", "xmig_checked", "id",
		                             (json_int_t)id, "guest", (int)g->gindex,
		                             "from_template", g->from_template));
	} else if (!strcmp(type, "xmig_send")) {
		out_send(c, msg);
	} else if (!strcmp(type, "xmig_route")) {
		/* Another host's guest moved to host to_host: follow it (this host's own route
		 * to a guest here is its tap). */
		int to = (int)json_integer_value(json_object_get(msg, "to_host"));
		uint32_t addr = mc_net_guest_addr((unsigned)gi);
		int err;

		if (gi < 0 || gi >= MC_NET_MAX_GUESTS || to < 0 || (g && ctl_here(g)))
			return;
		if ((err = mc_net_route_via(MC_NET_OVERLAY_IF, addr,
		                            mc_net_overlay_host((unsigned)to))) < 0)
			mc_warn("vm g%04u: route via host %d: %s", (unsigned)gi, to,
			        strerror(-err));
	} else if (!x || x->id != id) {
		mc_debug("controller: %s for migration %u of no guest here: ignored", type, id);
	} else if (!strcmp(type, "xmig_finish") && g->slot == CTL_SLOT_INCOMING &&
	           x->phase == XIN_LISTENING) {
		x->adopt = json_incref(json_object_get(msg, "adopt"));
		in_maybe_resume(c, g);
	} else if (!strcmp(type, "xmig_commit") && ctl_here(g) && x->phase == XOUT_SENT) {
		out_commit(c, g, msg);
	} else if (!strcmp(type, "xmig_abort")) {
		const char *why = json_string_value(json_object_get(msg, "error"));

		if (g->slot == CTL_SLOT_INCOMING) {
			mc_warn("vm %s: arrival cancelled: %s", g->name, why ? why : "?");
			in_release(c, g);
		} else {
			out_abort(c, g, why ? why : "cancelled by the cluster controller", 0);
		}
	}
}

int64_t ctl_xmig_tick(struct ctl *c, int64_t now)
{
	int64_t next = -1;

	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];
		struct ctl_xmig *x = g->xmig;

		if (!x)
			continue;
		if (now >= x->deadline_ms) {
			char why[64];

			snprintf(why, sizeof(why), "not finished after %d s",
			         XMIG_TIMEOUT_MS / 1000);
			ctl_xmig_abort(c, g, why);
			continue;
		}
		if (next < 0 || x->deadline_ms < next)
			next = x->deadline_ms;
	}
	return next;
}
