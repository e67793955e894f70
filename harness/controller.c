/* controller.c — the cluster controller's event loop: guests, agent link, QMP, CLI requests,
 * teardown. */
#include "controller.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "admit.h"
#include "cli.h"
#include "ksm.h"
#include "log.h"
#include "mc_proto.h"
#include "net.h"
#include "overlay.h"
#include "template.h"
#include "util.h"
#include "vm.h"
#include "vmm.h"

#include "ctl_internal.h"
#include "mc_trace.h"

#define SPAWN_PER_TICK 8    /* guests started per loop turn, keeps the loop responsive */
#define STOP_GRACE_MS  5000 /* agent SHUTDOWN -> QMP quit */
#define QUIT_GRACE_MS  3000 /* QMP quit -> SIGKILL */

/* ---------- CLI replies ---------- */

static void send_client(struct ctl *c, const unsigned char *client, size_t client_len, json_t *msg,
                        const void *data, size_t len)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	void *sock = c->zcli;

	json_decref(msg);
	if (!s)
		return;
	/* A request the cluster controller forwarded: the answer goes back the same way. */
	if (c->cfg->uplink && client_len > 0 && client[0] == MC_CTL_UPLINK_TAG) {
		sock = c->cfg->uplink;
		client++;
		client_len--;
	}
	zmq_send(sock, client, client_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(sock, s, strlen(s), (data ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
	if (data)
		zmq_send(sock, data, len, ZMQ_DONTWAIT);
	free(s);
}

void ctl_job_send(struct ctl *c, struct job *j, json_t *msg, const void *data, size_t len)
{
	send_client(c, j->client, j->client_len, msg, data, len);
}

void ctl_job_part_done(struct ctl *c, struct job *j)
{
	struct job **pp;

	if (--j->pending > 0)
		return;
	ctl_job_send(c, j, json_pack("{s:s, s:I}", "type", "done", "job", (json_int_t)j->id), NULL,
	             0);
	for (pp = &c->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	free(j);
}

static json_t *guest_json(struct ctl *c, struct guest *g)
{
	int64_t now = mc_now_ms();

	return json_pack("{s:s, s:i, s:s, s:s, s:i, s:I, s:I, s:s, s:s, s:i, s:I, s:i, s:I, s:I, "
	                 "s:i}",
	                 "name", g->name, "index", (int)g->gindex, "ip", g->ip, "state",
	                 mc_vm_state_name(g->state), "pid", (int)g->pid, "boot_ms",
	                 (json_int_t)(g->t_ready_ms ? g->t_ready_ms - g->t_start_ms : -1),
	                 "hb_age_ms", (json_int_t)(g->last_hb_ms ? now - g->last_hb_ms : -1),
	                 "kernel", g->kernel, "reason", g->reason, "running", (int)g->nruns,
	                 "failed_at_ms", (json_int_t)g->failed_wall_ms, "boots", (int)g->boots,
	                 "hb_seq", (json_int_t)g->hb_seq, "health_errors",
	                 (json_int_t)g->health_errors, "migrations", (int)g->migrations);
	(void)c;
}

/* ---------- guest state ---------- */

static int guest_send(struct ctl *c, struct guest *g, const struct mc_msg *m)
{
	size_t len;
	int err = mc_proto_encode(m, c->sendbuf, MC_PROTO_MAX_MSG, &len);

	if (err) {
		mc_err("vm %s: encode %s: error %d", g->name, mc_proto_type_name(m->type), err);
		return err;
	}
	if (zmq_send(c->zguest, g->rid, g->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->zguest, c->sendbuf, len, ZMQ_DONTWAIT) < 0) {
		mc_warn("vm %s: send %s: %s", g->name, mc_proto_type_name(m->type),
		        zmq_strerror(zmq_errno()));
		return -EIO;
	}
	return 0;
}

void ctl_fail_runs(struct ctl *c, struct guest *g, const char *why)
{
	struct run *r;

	while ((r = g->runs)) {
		g->runs = r->next;
		ctl_job_send(
		        c, r->job,
		        json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "exit", "guest", g->name,
		                  "state", mc_vm_state_name(g->state), "error", why, "boot_ms",
		                  (json_int_t)(g->t_ready_ms ? g->t_ready_ms - g->t_start_ms : -1)),
		        NULL, 0);
		ctl_job_part_done(c, r->job);
		free(r);
	}
	g->nruns = 0;
	if (g->op_job) {
		struct job *j = g->op_job;

		g->op_job = NULL;
		ctl_job_send(c, j,
		             json_pack("{s:s, s:s, s:s}", "type", "result", "guest", g->name,
		                       "error", why),
		             NULL, 0);
		ctl_job_part_done(c, j);
	}
}

/* One line per state change, written whole with O_APPEND: a reader (the run directory,
 * a person with tail -f) never sees half of one, and a controller crash loses none. */
static void log_event(struct ctl *c, struct guest *g, enum mc_vm_state from, enum mc_vm_state to,
                      const char *why)
{
	if (c->events_fd < 0 && !c->cfg->uplink)
		return;
	ctl_events_append(c, json_pack("{s:I, s:s, s:s, s:s, s:i, s:s}", "t_ms",
	                               (json_int_t)mc_wall_ms(), "guest", g->name, "from",
	                               mc_vm_state_name(from), "state", mc_vm_state_name(to),
	                               "boot", (int)g->boots, "reason", why));
}

/* A message to the cluster controller itself (an empty first frame). */
void ctl_uplink_send(struct ctl *c, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (!s)
		return;
	zmq_send(c->cfg->uplink, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(c->cfg->uplink, s, strlen(s), ZMQ_DONTWAIT);
	free(s);
}

void ctl_events_append(struct ctl *c, json_t *ev)
{
	char *line;

	if (c->events_fd < 0 && !c->cfg->uplink) {
		json_decref(ev);
		return;
	}
	line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	if (line && c->cfg->uplink) /* the cluster's events file is the controller's */
		ctl_uplink_send(c, json_pack("{s:s, s:O}", "type", "event", "event", ev));
	if (line && c->events_fd >= 0) {
		size_t len = strlen(line);

		line[len] = '\n';
		if (write(c->events_fd, line, len + 1) != (ssize_t)(len + 1))
			mc_debug("controller: events file: %s", strerror(errno));
	}
	free(line);
	json_decref(ev);
}

void ctl_transition(struct ctl *c, struct guest *g, enum mc_vm_event ev, const char *why)
{
	enum mc_vm_state next, prev = g->state;

	if (mc_vm_next(prev, ev, &next)) {
		mc_debug("vm %s: event %s ignored in state %s", g->name, mc_vm_event_name(ev),
		         mc_vm_state_name(prev));
		return;
	}
	if (next == prev)
		return;
	g->state = next;
	if (g->mig && (next == MC_VM_FAILED || next == MC_VM_STOPPING || next == MC_VM_STOPPED))
		ctl_migrate_abort(c, g, mc_vm_state_name(next));
	if (g->xmig && (next == MC_VM_FAILED || next == MC_VM_STOPPING || next == MC_VM_STOPPED)) {
		char cause[64];

		snprintf(cause, sizeof(cause), "the guest is %s on its source host",
		         mc_vm_state_name(next));
		ctl_xmig_abort(c, g, cause);
	}
	if (g->restore && (next == MC_VM_READY || next == MC_VM_FAILED || next == MC_VM_STOPPING ||
	                   next == MC_VM_STOPPED))
		ctl_restore_done(c, g, next == MC_VM_READY);
	if (g->revive_job && (next == MC_VM_READY || next == MC_VM_FAILED ||
	                      next == MC_VM_STOPPING || next == MC_VM_STOPPED))
		ctl_revive_done(c, g, next == MC_VM_READY);
	log_event(c, g, prev, next, next == MC_VM_FAILED && why ? why : "");
	mc_trace_guest_state(g->name, mc_vm_state_name(next),
	                     next == MC_VM_FAILED && why ? why : "");
	if (prev == MC_VM_BOOTING)
		c->booting--;
	if (next == MC_VM_BOOTING)
		c->booting++;
	if (next == MC_VM_FAILED) {
		g->failed_wall_ms = mc_wall_ms();
		snprintf(g->reason, sizeof(g->reason), "%s", why ? why : "failed");
		mc_warn("vm %s: failed: %s", g->name, g->reason);
		if (g->pid > 0 && g->be)
			mc_vmm_qemu_ops.kill(g->be);
		ctl_fail_runs(c, g, g->reason);
	} else if (next == MC_VM_STOPPED) {
		ctl_fail_runs(c, g, "guest stopped");
	} else {
		mc_debug("vm %s: %s -> %s", g->name, mc_vm_state_name(prev),
		         mc_vm_state_name(next));
	}
}

/* ---------- back-end callbacks ---------- */

static void on_vmm_event(void *arg, const char *event, json_t *data)
{
	struct guest *g = arg;

	mc_debug("vm %s: qmp event %s", g->name, event);
	if (g->xmig)
		ctl_xmig_event(g->ctl, g, event, data);
	else if (g->ckpt && strcmp(event, "MIGRATION") == 0)
		ctl_checkpoint_event(g->ctl, g, data);
	else if (g->mig && strcmp(event, "MIGRATION") == 0)
		ctl_migrate_event(g->ctl, g, data);
}

static void on_vmm_done(void *arg, const char *op, int err, const char *desc)
{
	struct guest *g = arg;
	struct ctl *c = g->ctl;
	struct job *j = g->op_job;

	if (strcmp(op, "restore") == 0) {
		char why[200];

		snprintf(why, sizeof(why), "restore from template: %s", desc ? desc : "failed");
		ctl_transition(c, g, MC_VM_EV_ERROR, why);
		return;
	}
	if (strcmp(op, "pause") == 0 && !err) {
		ctl_transition(c, g, MC_VM_EV_PAUSE, NULL);
	} else if (strcmp(op, "resume") == 0 && !err) {
		ctl_transition(c, g, MC_VM_EV_RESUME, NULL);
		g->last_hb_ms = mc_now_ms(); /* the silence while paused is not a failure */
		if (g->nruns)
			ctl_transition(c, g, MC_VM_EV_EXEC, NULL);
	} else if (err) {
		mc_warn("vm %s: %s: %s", g->name, op, desc ? desc : "failed");
	}
	if (j && strcmp(j->op, op) == 0) {
		g->op_job = NULL;
		ctl_job_send(c, j,
		             err ? json_pack("{s:s, s:s, s:s}", "type", "result", "guest", g->name,
		                             "error", desc ? desc : "failed")
		                 : json_pack("{s:s, s:s, s:s}", "type", "result", "guest", g->name,
		                             "state", mc_vm_state_name(g->state)),
		             NULL, 0);
		ctl_job_part_done(c, j);
	}
}

const struct mc_vmm_hooks ctl_vmm_hooks = {on_vmm_event, on_vmm_done};

void ctl_epoll_sync(struct ctl *c, struct guest *g)
{
	struct mc_vmm_info info;
	struct epoll_event ev;

	if (!g->be)
		return;
	mc_vmm_qemu_ops.query(g->be, &info);
	if (info.fd < 0) {
		g->epoll_added = 0;
		return;
	}
	ev.events = (uint32_t)info.events;
	ev.data.u64 = EP_TAG(EP_QMP, g->index);
	if (epoll_ctl(c->epfd, g->epoll_added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, info.fd, &ev) == 0)
		g->epoll_added = 1;
}

/* ---------- starting guests ---------- */

/* The guest's identity, read by its agent through fw_cfg. The seed makes
 * clones of one template differ in their random state; time_ms sets their
 * clock (a clone wakes up with its template's). */
int ctl_write_identity(struct ctl *c, struct guest *g, const char *path)
{
	const char *extra = getenv("MC_IDENTITY_EXTRA");
	char buf[MC_IDENTITY_SIZE], ctl_ip[16], seed[33];
	unsigned char raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(seed + 2 * i, 3, "%02x", raw[i]);
	snprintf(buf, sizeof(buf),
	         "version=1\nname=%s\nindex=%u\nip=%s\nprefix=%d\nmac=%s\ncontroller=tcp://%s:%d\n"
	         "heartbeat_ms=%llu\nseed=%s\ntime_ms=%lld\n",
	         g->name, g->gindex, g->ip, MC_NET_PREFIX, g->mac,
	         mc_net_ntoa(MC_NET_CTL_ADDR, ctl_ip), MC_NET_CTL_PORT,
	         (unsigned long long)c->cfg->hb_ms, seed, (long long)mc_wall_ms());
	/* Many hosts: the controller (mpiexec) is on the overlay, past this host's daemon. */
	if (c->cfg->uplink)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "gateway=%s\n", ctl_ip);
	if (c->cfg->share[0])
		strcat(buf, "share=1\n");
	/* MC_IDENTITY_EXTRA adds agent debugging keys, e.g. "trace=1" (docs/protocol.md). */
	if (extra && strlen(buf) + strlen(extra) + 2 < sizeof(buf))
		strcat(strcat(buf, extra), "\n");
	return mc_identity_write(path, buf);
}

void ctl_guest_paths(const struct guest *g, struct ctl_guest_paths *p)
{
	snprintf(p->disk, sizeof(p->disk), "%s/disk.qcow2", g->dir);
	snprintf(p->ident, sizeof(p->ident), "%s/identity", g->dir);
	snprintf(p->console, sizeof(p->console), "%s/console.log", g->dir);
	snprintf(p->log, sizeof(p->log), "%s/qemu.log", g->dir);
}

void ctl_guest_spec(struct ctl *c, struct guest *g, int from_template,
                    const struct ctl_guest_paths *p, int tap_fd, struct mc_vm_spec *spec)
{
	const struct mc_ctl_config *cfg = c->cfg;

	memset(spec, 0, sizeof(*spec));
	spec->name = g->name;
	spec->index = g->gindex;
	spec->qemu = cfg->qemu;
	spec->accel = cfg->accel;
	spec->machine = cfg->machine;
	spec->vcpus = cfg->vcpus;
	spec->mem_mib = cfg->mem_mib;
	spec->tb_size_mib = cfg->tb_mib;
	spec->kernel = cfg->kernel;
	spec->initrd = cfg->initrd;
	spec->cmdline = cfg->cmdline;
	spec->disk = p->disk;
	spec->identity = p->ident;
	spec->console_log = p->console;
	spec->log = p->log;
	spec->tap_fd = tap_fd;
	spec->mac = g->mac;
	if (from_template) {
		spec->mem_path = cfg->tpl_memory;
		spec->mem_share = 0; /* private copy-on-write view of the template's RAM */
		/* Not the real kernel and initramfs: QEMU would hold a copy of both
		 * in every clone's heap, and the clone never boots them. */
		if (cfg->tpl_stub[0]) {
			spec->kernel = cfg->tpl_stub;
			spec->initrd = NULL;
		}
	}
	spec->share = cfg->share[0] ? cfg->share : NULL;
	spec->no_aslr = cfg->density;
	spec->ksm = cfg->density;
}

void ctl_start_guest(struct ctl *c, struct guest *g, int reboot)
{
	ctl_start_guest_ex(c, g, reboot, NULL, 0);
}

void ctl_start_guest_ex(struct ctl *c, struct guest *g, int reboot, const char *state,
                        int from_template)
{
	const struct mc_ctl_config *cfg = c->cfg;
	struct ctl_guest_paths p;
	char why[200];
	struct mc_vm_spec spec;
	int err;

	if ((err = mc_mkdir_p(g->dir, 0755)) < 0) {
		snprintf(why, sizeof(why), "mkdir %s: %s", g->dir, strerror(-err));
		goto fail;
	}
	ctl_guest_paths(g, &p);
	/* A reboot keeps the guest's disk (and its console so far, renamed). */
	if (reboot) {
		char prev[PATH_MAX + 32];

		snprintf(prev, sizeof(prev), "%s/console.prev.log", g->dir);
		rename(p.console, prev);
	} else if ((err = mc_overlay_copy(c->blank, p.disk)) < 0) {
		snprintf(why, sizeof(why), "create overlay %s: %s", p.disk, strerror(-err));
		goto fail;
	}
	if ((err = ctl_write_identity(c, g, p.ident)) < 0) {
		snprintf(why, sizeof(why), "write %s: %s", p.ident, strerror(-err));
		goto fail;
	}
	snprintf(g->ifname, sizeof(g->ifname), "mct%u", g->index);
	if ((err = mc_net_tap_open(g->ifname, g->addr, 1, &g->tap_fd)) < 0) {
		snprintf(why, sizeof(why), "tap %s: %s", g->ifname, strerror(-err));
		goto fail;
	}
	g->from_template = state ? from_template : cfg->clone && !reboot;
	ctl_guest_spec(c, g, g->from_template, &p, g->tap_fd, &spec);
	if (state)
		spec.incoming = state; /* a checkpoint (ctl_checkpoint.c) */
	else if (g->from_template)
		spec.incoming = cfg->tpl_state;
	g->be = mc_vmm_qemu_ops.create(&spec, &ctl_vmm_hooks, g);
	if (!g->be) {
		snprintf(why, sizeof(why), "back end refused the guest");
		goto fail;
	}
	if ((err = mc_vmm_qemu_ops.start(g->be)) < 0) {
		snprintf(why, sizeof(why), "start qemu: %s", strerror(-err));
		goto fail;
	}
	{
		struct mc_vmm_info info;

		mc_vmm_qemu_ops.query(g->be, &info);
		g->pid = info.pid;
	}
	/* QEMU holds its own copy of the tap now. */
	close(g->tap_fd);
	g->tap_fd = -1;
	g->t_start_ms = mc_now_ms();
	g->boots++;
	ctl_transition(c, g, MC_VM_EV_START, NULL);
	ctl_epoll_sync(c, g);
	return;
fail:
	if (g->tap_fd >= 0) {
		close(g->tap_fd);
		g->tap_fd = -1;
	}
	ctl_transition(c, g, MC_VM_EV_ERROR, why);
}

/* ---------- agent link ---------- */

/* The guest a routing id "<name>.<boot id>" (or a bare "<name>") names. */
static struct guest *guest_by_id(struct ctl *c, const char *id, size_t len)
{
	char name[32];
	uint64_t idx;
	size_t i = 0;
	const char *dot = memchr(id, '.', len);
	struct guest *g;

	if (dot)
		len = (size_t)(dot - id);
	if (len < 2 || len >= sizeof(name) || id[0] != 'g')
		return NULL;
	memcpy(name, id, len);
	name[len] = '\0';
	for (i = 1; i < len; i++)
		if (!isdigit((unsigned char)name[i]))
			return NULL;
	if (mc_parse_u64(name + 1, 0, UINT32_MAX, &idx))
		return NULL;
	g = ctl_guest_by_gindex(c, (unsigned)idx);
	return g && ctl_here(g) && strcmp(g->name, name) == 0 ? g : NULL;
}

struct guest *ctl_guest_by_gindex(struct ctl *c, unsigned gi)
{
	/* This host's own block first (a slot per guest), then the guests that arrived. */
	if (gi >= c->cfg->first && gi - c->cfg->first < c->cfg->n &&
	    c->g[gi - c->cfg->first].slot != CTL_SLOT_AWAY)
		return &c->g[gi - c->cfg->first];
	for (unsigned i = c->cfg->n; i < c->n; i++)
		if (c->g[i].gindex == gi && c->g[i].slot != CTL_SLOT_AWAY)
			return &c->g[i];
	return NULL;
}

static struct run *take_run(struct guest *g, uint32_t exec_id, int remove)
{
	struct run **pp;

	for (pp = &g->runs; *pp; pp = &(*pp)->next)
		if ((*pp)->exec_id == exec_id) {
			struct run *r = *pp;

			if (remove) {
				*pp = r->next;
				g->nruns--;
			}
			return r;
		}
	return NULL;
}

static void sanitize(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < cap; i++)
		dst[i] = isprint((unsigned char)src[i]) ? src[i] : '?';
	dst[i] = '\0';
}

static void handle_guest_msg(struct ctl *c, struct guest *g, struct mc_msg *m)
{
	int64_t now = mc_now_ms();
	struct run *r;

	switch (m->type) {
	case MC_MSG_HELLO:
		if (strcmp(m->u.hello.name, g->name) || m->u.hello.index != g->gindex) {
			mc_warn("vm %s: hello claims name %s index %u: dropped", g->name,
			        m->u.hello.name, m->u.hello.index);
			return;
		}
		sanitize(g->kernel, sizeof(g->kernel), m->u.hello.kernel);
		if (g->state == MC_VM_BOOTING) {
			g->t_ready_ms = now;
			g->boot_id = m->u.hello.boot_id;
			ctl_transition(c, g, MC_VM_EV_HELLO, NULL);
			mc_debug("vm %s: ready in %lld ms", g->name,
			         (long long)(now - g->t_start_ms));
		} else if (m->u.hello.boot_id != g->boot_id) {
			mc_warn("vm %s: agent restarted (new boot id)", g->name);
			g->boot_id = m->u.hello.boot_id;
			ctl_fail_runs(c, g, "agent restarted");
			if (g->state == MC_VM_BUSY)
				ctl_transition(c, g, MC_VM_EV_IDLE, NULL);
		}
		g->last_hb_ms = now;
		break;
	case MC_MSG_HEARTBEAT:
		if (g->state == MC_VM_BOOTING) {
			/* We missed its HELLO: ask for it again. */
			struct mc_msg e = {.type = MC_MSG_ERROR};

			e.u.error.code = ENOTCONN;
			e.u.error.text = "send hello";
			guest_send(c, g, &e);
			return;
		}
		g->last_hb_ms = now;
		g->hb_seq = m->u.hb.seq;
		break;
	case MC_MSG_OUTPUT:
		if (!(r = take_run(g, m->id, 0))) {
			c->dropped_msgs++;
			return;
		}
		ctl_job_send(c, r->job,
		             json_pack("{s:s, s:s, s:i}", "type", "output", "guest", g->name,
		                       "stream", (int)m->u.output.stream),
		             m->u.output.data ? (const void *)m->u.output.data : "",
		             m->u.output.len);
		break;
	case MC_MSG_EXIT:
	case MC_MSG_ERROR:
		if (!(r = take_run(g, m->id, 1))) {
			if (m->type == MC_MSG_ERROR && m->u.error.code == ENOTCONN)
				return;
			if (m->type == MC_MSG_ERROR)
				mc_warn("vm %s: agent error %d: %.200s", g->name, m->u.error.code,
				        m->u.error.text);
			c->dropped_msgs++;
			return;
		}
		if (g->nruns == 0)
			ctl_transition(c, g, MC_VM_EV_IDLE, NULL);
		if (m->type == MC_MSG_EXIT)
			mc_trace_agent_exit(g->name, m->id, m->u.exit.status, m->u.exit.signal);
		if (m->type == MC_MSG_EXIT)
			ctl_job_send(c, r->job,
			             json_pack("{s:s, s:s, s:s, s:i, s:i, s:b, s:I, s:I}", "type",
			                       "exit", "guest", g->name, "state",
			                       mc_vm_state_name(g->state), "status",
			                       m->u.exit.status, "signal", m->u.exit.signal,
			                       "timed_out", m->u.exit.timed_out, "duration_ms",
			                       (json_int_t)m->u.exit.duration_ms, "boot_ms",
			                       (json_int_t)(g->t_ready_ms - g->t_start_ms)),
			             NULL, 0);
		else {
			char text[256];

			sanitize(text, sizeof(text), m->u.error.text);
			ctl_job_send(c, r->job,
			             json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "exit", "guest",
			                       g->name, "state", mc_vm_state_name(g->state),
			                       "error", text, "boot_ms",
			                       (json_int_t)(g->t_ready_ms - g->t_start_ms)),
			             NULL, 0);
		}
		ctl_job_part_done(c, r->job);
		free(r);
		break;
	default:
		mc_warn("vm %s: unexpected %s from agent: dropped", g->name,
		        mc_proto_type_name(m->type));
	}
}

static void drain_guests(struct ctl *c)
{
	for (;;) {
		zmq_msg_t id, body;
		struct guest *g;
		struct mc_msg m;
		const char *peer;
		int more = 0;
		size_t more_len = sizeof(more);

		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, c->zguest, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&id);
			return;
		}
		zmq_msg_init(&body);
		zmq_getsockopt(c->zguest, ZMQ_RCVMORE, &more, &more_len);
		if (!more || zmq_msg_recv(&body, c->zguest, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&id);
			zmq_msg_close(&body);
			continue;
		}
		/* Drop any extra frames: one message is one frame. */
		while (zmq_getsockopt(c->zguest, ZMQ_RCVMORE, &more, &more_len) == 0 && more) {
			zmq_msg_t extra;

			zmq_msg_init(&extra);
			zmq_msg_recv(&extra, c->zguest, ZMQ_DONTWAIT);
			zmq_msg_close(&extra);
			more = -1;
		}
		g = guest_by_id(c, zmq_msg_data(&id), zmq_msg_size(&id));
		peer = zmq_msg_gets(&body, "Peer-Address");
		if (!g || more == -1) {
			c->dropped_msgs++;
			if (c->dropped_msgs < 20 || c->dropped_msgs % 1000 == 0)
				mc_warn("agent link: message from unknown peer %.*s (%s): dropped",
				        (int)(zmq_msg_size(&id) < 40 ? zmq_msg_size(&id) : 40),
				        (char *)zmq_msg_data(&id), peer ? peer : "?");
		} else if (peer && strcmp(peer, g->ip) != 0) {
			mc_warn("vm %s: message from %s, not from the guest's address %s: dropped",
			        g->name, peer, g->ip);
		} else if (!mc_vm_state_live(g->state) && g->state != MC_VM_STOPPING) {
			/* Late messages from a failed/stopped guest. */
		} else if (mc_proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), &m) < 0) {
			mc_warn("vm %s: malformed message (%zu bytes): dropped", g->name,
			        zmq_msg_size(&body));
		} else {
			/* Replies go to the connection the guest's current life speaks from. */
			if (zmq_msg_size(&id) <= sizeof(g->rid)) {
				g->rid_len = zmq_msg_size(&id);
				memcpy(g->rid, zmq_msg_data(&id), g->rid_len);
			}
			handle_guest_msg(c, g, &m);
			mc_msg_fini(&m);
		}
		zmq_msg_close(&id);
		zmq_msg_close(&body);
	}
}

/* ---------- CLI requests ---------- */

int ctl_for_target(struct ctl *c, json_t *req, const char *op, const unsigned char *client,
                   size_t len, void (*fn)(struct ctl *c, struct job *j, struct guest *g, void *arg),
                   void *arg)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	struct mc_target t;
	struct job *j;
	unsigned matched = 0;

	if (!target || mc_target_parse(target, &t)) {
		ctl_reply_error(c, client, len, "malformed target");
		return -EINVAL;
	}
	if (c->shutting_down) {
		ctl_reply_error(c, client, len, "the cluster is shutting down");
		return -ESHUTDOWN;
	}
	if (!(j = ctl_job_new(c, op, client, len)))
		return -ENOMEM;
	for (unsigned i = 0; i < c->n; i++) {
		if (!ctl_here(&c->g[i]) || !mc_target_match(&t, c->g[i].name, c->g[i].gindex))
			continue;
		matched++;
		j->pending++;
		fn(c, j, &c->g[i], arg);
	}
	if (!matched) {
		c->jobs = j->next;
		free(j);
		ctl_reply_error(c, client, len, "target matches no guest");
		return -ENOENT;
	}
	ctl_job_part_done(c, j); /* the request's own hold */
	return 0;
}

void ctl_reply_error(struct ctl *c, const unsigned char *client, size_t len, const char *text)
{
	send_client(c, client, len, json_pack("{s:s, s:s}", "type", "error", "error", text), NULL,
	            0);
}

struct job *ctl_job_new(struct ctl *c, const char *op, const unsigned char *client, size_t len)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->id = ++c->next_job_id;
	/* Many hosts: a job's number also names its host (the cluster controller routes a
	 * signal to the job by it). */
	if (c->cfg->uplink)
		j->id = (j->id & 0xffffffu) | ((uint32_t)(c->cfg->host_index + 1) << 24);
	snprintf(j->op, sizeof(j->op), "%s", op);
	memcpy(j->client, client, len);
	j->client_len = len;
	j->pending = 1; /* held by the request itself until every part is sent */
	j->next = c->jobs;
	c->jobs = j;
	return j;
}

struct job *ctl_job_find(struct ctl *c, uint32_t id, const unsigned char *client, size_t len)
{
	for (struct job *j = c->jobs; j; j = j->next)
		if (j->id == id && j->client_len == len && memcmp(j->client, client, len) == 0)
			return j;
	return NULL;
}

static void req_status(struct ctl *c, const unsigned char *client, size_t len)
{
	unsigned counts[MC_VM_NSTATES] = {0};
	json_t *cnt = json_object();
	int64_t now = mc_now_ms();

	unsigned here = 0;

	for (unsigned i = 0; i < c->n; i++)
		if (ctl_here(&c->g[i])) {
			counts[c->g[i].state]++;
			here++;
		}
	for (int s = 0; s < MC_VM_NSTATES; s++)
		json_object_set_new(cnt, mc_vm_state_name(s), json_integer(counts[s]));
	send_client(c, client, len,
	            json_pack("{s:s, s:s, s:i, s:o, s:s, s:s, s:s, s:I, s:I, s:i, s:b}", "type",
	                      "status", "cluster", c->cfg->cluster, "guests", (int)here, "counts",
	                      cnt, "accel", c->cfg->accel, "accel_why", c->cfg->accel_why,
	                      "kernel_kind", c->cfg->kernel_kind, "elapsed_ms",
	                      (json_int_t)(now - c->started_ms), "all_ready_ms",
	                      (json_int_t)(c->all_ready_ms ? c->all_ready_ms - c->started_ms : -1),
	                      "pid", (int)getpid(), "shutting_down", c->shutting_down),
	            NULL, 0);
}

static void req_ls(struct ctl *c, const unsigned char *client, size_t len)
{
	json_t *arr = json_array();

	for (unsigned i = 0; i < c->n; i++)
		if (ctl_here(&c->g[i]))
			json_array_append_new(arr, guest_json(c, &c->g[i]));
	send_client(c, client, len, json_pack("{s:s, s:o}", "type", "ls", "guests", arr), NULL, 0);
}

/* Copies a JSON array of strings into a NULL-free char* array (borrowed
 * pointers into the JSON). Returns the count or -1. */
static int str_array(json_t *a, char **out, int max, size_t maxlen)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || (int)json_array_size(a) > max)
		return -1;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) > maxlen ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return -1;
		out[i] = (char *)json_string_value(v);
	}
	return (int)json_array_size(a);
}

/*
 * {"op":"signal","job":J,"signal":S}: forwards signal S to every command of
 * exec job J still running. Only the client that started the job may signal
 * it; the commands' exits reach that client as usual.
 */
static void req_signal(struct ctl *c, json_t *req, const unsigned char *client, size_t len)
{
	json_int_t id = json_integer_value(json_object_get(req, "job"));
	json_int_t sig = json_integer_value(json_object_get(req, "signal"));
	struct job *j;
	unsigned sent = 0;

	for (j = c->jobs; j; j = j->next)
		if (j->id == (uint32_t)id && strcmp(j->op, "exec") == 0)
			break;
	if (!j || id <= 0 || sig < 1 || sig > 64 || j->client_len != len ||
	    memcmp(j->client, client, len) != 0) {
		ctl_reply_error(c, client, len, "signal: no such exec job of this client");
		return;
	}
	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];

		for (struct run *r = g->runs; r; r = r->next) {
			struct mc_msg m = {.type = MC_MSG_SIGNAL, .id = r->exec_id};

			if (r->job != j)
				continue;
			m.u.signal.signal = (uint32_t)sig;
			if (guest_send(c, g, &m) == 0)
				sent++;
		}
	}
	mc_debug("job %u: signal %d sent to %u commands", j->id, (int)sig, sent);
}

static void req_exec(struct ctl *c, json_t *req, const unsigned char *client, size_t len)
{
	char *argv[MC_PROTO_MAX_ARGV], *env[MC_PROTO_MAX_ENV];
	struct mc_target t;
	const char *target = json_string_value(json_object_get(req, "target"));
	const char *cwd = json_string_value(json_object_get(req, "cwd"));
	json_int_t timeout = json_integer_value(json_object_get(req, "timeout_ms"));
	int argc, envc;
	struct job *j;
	json_t *names;

	argc = str_array(json_object_get(req, "argv"), argv, MC_PROTO_MAX_ARGV, MC_PROTO_MAX_STR);
	envc = str_array(json_object_get(req, "env"), env, MC_PROTO_MAX_ENV, MC_PROTO_MAX_STR);
	for (int i = 0; i < envc; i++)
		if (!strchr(env[i], '=') || env[i][0] == '=')
			envc = -1;
	if (argc >= 1 && argv[0][0] == '\0')
		argc = -1;
	if (!target || mc_target_parse(target, &t) || argc < 1 || envc < 0 || timeout < 0 ||
	    timeout > UINT32_MAX || (cwd && strlen(cwd) > MC_PROTO_MAX_STR)) {
		ctl_reply_error(c, client, len, "exec: malformed request");
		return;
	}
	if (c->shutting_down) {
		ctl_reply_error(c, client, len, "exec: cluster is shutting down");
		return;
	}
	j = ctl_job_new(c, "exec", client, len);
	if (!j) {
		ctl_reply_error(c, client, len, "exec: out of memory");
		return;
	}
	names = json_array();
	for (unsigned i = 0; i < c->n; i++)
		if (ctl_here(&c->g[i]) && mc_target_match(&t, c->g[i].name, c->g[i].gindex))
			json_array_append_new(names, json_string(c->g[i].name));
	if (json_array_size(names) == 0) {
		json_decref(names);
		c->jobs = j->next;
		free(j);
		ctl_reply_error(c, client, len, "exec: target matches no guest");
		return;
	}
	ctl_job_send(c, j,
	             json_pack("{s:s, s:I, s:o}", "type", "start", "job", (json_int_t)j->id,
	                       "guests", names),
	             NULL, 0);
	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];
		struct mc_msg m = {.type = MC_MSG_EXEC};
		struct run *r;

		if (!ctl_here(g) || !mc_target_match(&t, g->name, g->gindex))
			continue;
		j->pending++;
		if (g->state != MC_VM_READY && g->state != MC_VM_BUSY) {
			char why[200];

			snprintf(why, sizeof(why), "guest is %s%s%s", mc_vm_state_name(g->state),
			         g->reason[0] ? ": " : "", g->reason);
			ctl_job_send(
			        c, j,
			        json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "exit", "guest",
			                  g->name, "state", mc_vm_state_name(g->state), "error",
			                  why, "boot_ms",
			                  (json_int_t)(g->t_ready_ms ? g->t_ready_ms - g->t_start_ms
			                                             : -1)),
			        NULL, 0);
			ctl_job_part_done(c, j);
			continue;
		}
		r = calloc(1, sizeof(*r));
		if (!r) {
			ctl_job_part_done(c, j);
			continue;
		}
		/* Many hosts: unique across them, like job numbers (a guest that migrates takes
		 * its commands in flight to another host). */
		r->exec_id = ++c->next_exec_id;
		if (c->cfg->uplink)
			r->exec_id = (r->exec_id & 0xffffffu) |
			             ((uint32_t)(c->cfg->host_index + 1) << 24);
		r->job = j;
		r->next = g->runs;
		g->runs = r;
		g->nruns++;
		m.id = r->exec_id;
		m.u.exec.argc = (uint32_t)argc;
		m.u.exec.argv = argv;
		m.u.exec.envc = (uint32_t)envc;
		m.u.exec.env = env;
		m.u.exec.cwd = (char *)(cwd ? cwd : "");
		m.u.exec.timeout_ms = (uint32_t)timeout;
		if (guest_send(c, g, &m) < 0) {
			take_run(g, r->exec_id, 1);
			free(r);
			ctl_job_send(c, j,
			             json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "exit", "guest",
			                       g->name, "state", mc_vm_state_name(g->state),
			                       "error", "could not send the command to the agent",
			                       "boot_ms",
			                       (json_int_t)(g->t_ready_ms - g->t_start_ms)),
			             NULL, 0);
			ctl_job_part_done(c, j);
			continue;
		}
		mc_trace_agent_exec(g->name, r->exec_id, argv[0]);
		ctl_transition(c, g, MC_VM_EV_EXEC, NULL);
	}
	ctl_job_part_done(c, j); /* release the request's own hold */
}

static void req_pause_resume(struct ctl *c, json_t *req, const char *op,
                             const unsigned char *client, size_t len)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	int pause = strcmp(op, "pause") == 0;
	struct mc_target t;
	struct job *j;
	unsigned matched = 0;

	if (!target || mc_target_parse(target, &t)) {
		ctl_reply_error(c, client, len, "malformed target");
		return;
	}
	j = ctl_job_new(c, op, client, len);
	if (!j)
		return;
	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];
		int err;

		if (!ctl_here(g) || !mc_target_match(&t, g->name, g->gindex))
			continue;
		matched++;
		j->pending++;
		if (g->op_job || !g->be || g->mig || g->xmig || g->ckpt || g->restore ||
		    (pause ? !(g->state == MC_VM_READY || g->state == MC_VM_BUSY ||
		               g->state == MC_VM_BOOTING)
		           : g->state != MC_VM_PAUSED)) {
			char why[160];

			snprintf(why, sizeof(why), "cannot %s a guest that is %s%s", op,
			         mc_vm_state_name(g->state),
			         g->op_job ? " (busy)"
			         : g->mig  ? " (migrating)"
			                   : "");
			ctl_job_send(c, j,
			             json_pack("{s:s, s:s, s:s}", "type", "result", "guest",
			                       g->name, "error", why),
			             NULL, 0);
			ctl_job_part_done(c, j);
			continue;
		}
		g->op_job = j;
		err = pause ? mc_vmm_qemu_ops.pause(g->be) : mc_vmm_qemu_ops.resume(g->be);
		if (err) {
			g->op_job = NULL;
			ctl_job_send(c, j,
			             json_pack("{s:s, s:s, s:s}", "type", "result", "guest",
			                       g->name, "error", strerror(-err)),
			             NULL, 0);
			ctl_job_part_done(c, j);
		}
		ctl_epoll_sync(c, g);
	}
	if (!matched) {
		c->jobs = j->next;
		free(j);
		ctl_reply_error(c, client, len, "target matches no guest");
		return;
	}
	ctl_job_part_done(c, j);
}

/* The last max bytes of path (the whole file when shorter); *out is malloc'ed. */
static int read_tail(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t got;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((size_t)st.st_size > max)
		lseek(fd, st.st_size - (off_t)max, SEEK_SET);
	else
		max = (size_t)st.st_size;
	*out = malloc(max ? max : 1);
	got = *out ? read(fd, *out, max) : -1;
	close(fd);
	if (got < 0) {
		free(*out);
		*out = NULL;
		return -EIO;
	}
	*len = (size_t)got;
	return 0;
}

#define LOG_TAIL_MAX (4u << 20)

static void logs_one(struct ctl *c, struct job *j, struct guest *g, void *arg)
{
	struct ctl_guest_paths p;
	const char *names[2] = {"console.log", "qemu.log"};
	const char *paths[2];

	(void)arg;
	ctl_guest_paths(g, &p);
	paths[0] = p.console;
	paths[1] = p.log;
	for (int k = 0; k < 2; k++) {
		char *data;
		size_t len;
		int r = read_tail(paths[k], LOG_TAIL_MAX, &data, &len);

		ctl_job_send(c, j,
		             r < 0 ? json_pack("{s:s, s:s, s:s, s:s}", "type", "result", "guest",
		                               g->name, "file", names[k], "error", strerror(-r))
		                   : json_pack("{s:s, s:s, s:s, s:I}", "type", "result", "guest",
		                               g->name, "file", names[k], "bytes", (json_int_t)len),
		             r < 0 ? NULL : (data ? data : ""), len);
		free(data);
	}
	ctl_job_part_done(c, j);
}

/* {"op":"logs","target":T}: every guest's console and QEMU logs (the last 4 MiB of each),
 * a result per guest and file with the bytes in its data frame: a run directory gets them
 * the same way from one host or many. */
static void req_logs(struct ctl *c, json_t *req, const unsigned char *client, size_t len)
{
	ctl_for_target(c, req, "logs", client, len, logs_one, NULL);
}

static void begin_shutdown(struct ctl *c);

/* A message from the cluster controller to this host itself (first frame empty). */
static void uplink_control(struct ctl *c, const char *body)
{
	json_t *msg = json_loads(body, 0, NULL);
	const char *type = json_string_value(json_object_get(msg, "type"));

	c->up_heard_ms = mc_now_ms();
	if (type && strcmp(type, "down") == 0) {
		mc_info("controller: the cluster controller ends this host");
		begin_shutdown(c);
	} else if (type && strncmp(type, "xmig_", 5) == 0) {
		ctl_xmig_control(c, type, msg);
	}
	json_decref(msg);
}

/* Requests from the CLI (sock = c->zcli) or forwarded by the cluster controller (sock = the
 * uplink: their client ids get MC_CTL_UPLINK_TAG in front). */
static void drain_requests(struct ctl *c, void *sock)
{
	int up = sock != c->zcli;

	for (;;) {
		unsigned char client[MAX_CLIENT_ID];
		char body[1 << 16];
		int n, m, more = 0;
		size_t more_len = sizeof(more);
		json_t *req;
		const char *op;

		n = zmq_recv(sock, client + up, sizeof(client) - 1, ZMQ_DONTWAIT);
		if (n < 0)
			return;
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
		if (!more || n > (int)sizeof(client) - 1)
			continue;
		m = zmq_recv(sock, body, sizeof(body) - 1, ZMQ_DONTWAIT);
		while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len) == 0 && more) {
			char skip[64];

			zmq_recv(sock, skip, sizeof(skip), ZMQ_DONTWAIT);
		}
		if (up) {
			c->up_heard_ms = mc_now_ms();
			if (n == 0) {
				if (m >= 0 && m < (int)sizeof(body)) {
					body[m] = '\0';
					uplink_control(c, body);
				}
				continue;
			}
			client[0] = MC_CTL_UPLINK_TAG;
			n++;
		}
		if (m < 0 || m >= (int)sizeof(body)) {
			ctl_reply_error(c, client, (size_t)n, "request too large");
			continue;
		}
		body[m] = '\0';
		req = json_loads(body, 0, NULL);
		op = json_string_value(json_object_get(req, "op"));
		if (!op)
			ctl_reply_error(c, client, (size_t)n, "malformed request");
		else if (strcmp(op, "status") == 0)
			req_status(c, client, (size_t)n);
		else if (strcmp(op, "ls") == 0)
			req_ls(c, client, (size_t)n);
		else if (strcmp(op, "exec") == 0)
			req_exec(c, req, client, (size_t)n);
		else if (strcmp(op, "signal") == 0)
			req_signal(c, req, client, (size_t)n);
		else if (strcmp(op, "fault") == 0)
			ctl_req_fault(c, req, client, (size_t)n);
		else if (strcmp(op, "checkpoint") == 0 || strcmp(op, "restore") == 0)
			ctl_req_checkpoint(c, req, op, client, (size_t)n);
		else if (strcmp(op, "revive") == 0)
			ctl_req_revive(c, req, client, (size_t)n);
		else if (strcmp(op, "logs") == 0)
			req_logs(c, req, client, (size_t)n);
		else if (strcmp(op, "collect") == 0)
			ctl_req_collect(c, req, client, (size_t)n);
		else if (strcmp(op, "migrate") == 0)
			ctl_req_migrate(c, req, client, (size_t)n);
		else if (strcmp(op, "pause") == 0 || strcmp(op, "resume") == 0)
			req_pause_resume(c, req, op, client, (size_t)n);
		else if (strcmp(op, "down") == 0) {
			memcpy(c->down_client, client, (size_t)n);
			c->down_client_len = (size_t)n;
			c->have_down_client = 1;
			begin_shutdown(c);
		} else
			ctl_reply_error(c, client, (size_t)n, "unknown request");
		json_decref(req);
	}
}

/* ---------- processes, timers, teardown ---------- */

static void reap(struct ctl *c)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (ctl_migrate_reaped(c, pid, status) || ctl_collect_reaped(c, pid, status))
			continue;
		for (unsigned i = 0; i < c->n; i++) {
			struct guest *g = &c->g[i];
			char why[96];

			if (g->pid != pid)
				continue;
			g->pid = 0;
			g->epoll_added = 0;
			mc_vmm_qemu_ops.exited(g->be);
			if (g->slot == CTL_SLOT_INCOMING) {
				ctl_xmig_reaped(c, g, status);
				break;
			}
			if (g->restore && !c->shutting_down) {
				ctl_restore_continue(c, g);
				break;
			}
			if (g->rebooting && !c->shutting_down) {
				ctl_reboot_continue(c, g);
				break;
			}
			if (WIFSIGNALED(status))
				snprintf(why, sizeof(why), "qemu killed by signal %d",
				         WTERMSIG(status));
			else
				snprintf(why, sizeof(why), "qemu exited with status %d",
				         WEXITSTATUS(status));
			if (g->state != MC_VM_STOPPING && g->state != MC_VM_FAILED)
				mc_info("vm %s: %s", g->name, why);
			ctl_transition(c, g, MC_VM_EV_EXITED, why);
			break;
		}
	}
}

static void begin_shutdown(struct ctl *c)
{
	int64_t now = mc_now_ms();

	if (c->shutting_down)
		return;
	c->shutting_down = 1;
	mc_info("controller: shutting down %u guests", c->n);
	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];

		if (g->slot == CTL_SLOT_INCOMING)
			ctl_xmig_abort(c, g, "the host is shutting down");
		if (!ctl_here(g))
			continue;
		if (g->state == MC_VM_DEFINED) {
			ctl_transition(c, g, MC_VM_EV_STOP, NULL);
		} else if (g->state == MC_VM_READY || g->state == MC_VM_BUSY) {
			struct mc_msg m = {.type = MC_MSG_SHUTDOWN};

			guest_send(c, g, &m);
			ctl_transition(c, g, MC_VM_EV_STOP, NULL);
			g->deadline_ms = now + STOP_GRACE_MS;
		} else if (mc_vm_state_live(g->state)) {
			ctl_transition(c, g, MC_VM_EV_STOP, NULL);
			g->quit_sent = 1;
			mc_vmm_qemu_ops.stop(g->be);
			ctl_epoll_sync(c, g);
			g->deadline_ms = now + QUIT_GRACE_MS;
		}
	}
}

/* Whether starting one more guest could run the host short of memory:
 * MemAvailable (read at most every 200 ms) must stay above the admission
 * reserve plus what the guests still starting will take. */
static int memory_low(struct ctl *c)
{
	int64_t now = mc_now_ms();

	if (now - c->mem_checked_ms >= 200) {
		c->mem_avail_mib = mc_host_mem_available_mib();
		c->mem_checked_ms = now;
	}
	return c->mem_avail_mib &&
	       (double)c->mem_avail_mib <
	               MC_ADMIT_RESERVE_MIB + (c->booting + 1) * c->cfg->cost_mib;
}

/* Stops spawning: every guest not started yet is failed, with the numbers. */
static void refuse_rest(struct ctl *c)
{
	char why[160];
	unsigned refused = 0;

	snprintf(why, sizeof(why),
	         "admission: not started, host memory low (%llu MiB available, %d MiB kept)",
	         (unsigned long long)c->mem_avail_mib, MC_ADMIT_RESERVE_MIB);
	for (; c->next_start < c->cfg->n; c->next_start++, refused++)
		ctl_transition(c, &c->g[c->next_start], MC_VM_EV_ERROR, why);
	mc_err("controller: %u guests not started: %s", refused, why);
}

/* Measures idle guests (PSS, CPU over 10 s) and folds the result into the
 * cost estimate the next admission decision uses. */
static int host_congested(struct ctl *c);

static void measure_costs(struct ctl *c, unsigned ready)
{
	int64_t now = mc_now_ms();
	struct mc_cost cost;
	double pss = 0, cpu = 0;
	int n = 0;
	long hz = sysconf(_SC_CLK_TCK);

	if (c->sample.t0_ms == 0) {
		unsigned step;

		if (c->booting || c->next_start < c->cfg->n || ready == 0 ||
		    now < c->sample.next_ms)
			return;
		step = ready > 64 ? c->n / 64 : 1;
		c->sample.n = 0;
		for (unsigned i = 0; i < c->n && c->sample.n < 64; i += step ? step : 1) {
			struct guest *g = &c->g[i];

			if (!ctl_here(g) || g->state != MC_VM_READY || g->pid <= 0)
				continue;
			c->sample.idx[c->sample.n] = i;
			c->sample.ticks[c->sample.n++] = mc_proc_cpu_ticks(g->pid);
		}
		c->sample.t0_ms = now;
		c->sample.execs = c->next_exec_id;
		return;
	}
	if (now - c->sample.t0_ms < 10000)
		return;
	/* Not idle after all: a command ran in the window (a workload's CPU is not the guest's
	 * idle cost), the guests trace (their session daemons tick), or the host is saturated
	 * (a slow guest's timers cost more). Such a sample once made admission refuse 16
	 * guests a quiet host runs at 0.2 % of a core each. Try again later. */
	if (c->sample.execs != c->next_exec_id || getenv("MC_TRACE") || host_congested(c)) {
		c->sample.t0_ms = 0;
		c->sample.next_ms = now + 60000;
		return;
	}
	for (int k = 0; k < c->sample.n; k++) {
		struct guest *g = &c->g[c->sample.idx[k]];
		long long t;
		long kib;

		if (!ctl_here(g) || g->state != MC_VM_READY || g->pid <= 0)
			continue; /* busy or gone: not an idle sample */
		t = mc_proc_cpu_ticks(g->pid);
		kib = mc_proc_pss_kib(g->pid);
		if (t < 0 || kib < 0 || c->sample.ticks[k] < 0)
			continue;
		pss += (double)kib / 1024.0;
		cpu += (double)(t - c->sample.ticks[k]) / (double)hz /
		       ((double)(now - c->sample.t0_ms) / 1000.0) * 100.0;
		n++;
	}
	c->sample.t0_ms = 0;
	c->sample.next_ms = now + 60000;
	if (n == 0)
		return;
	/* PSS misses what the host kernel spends per guest (page tables, taps,
	 * sockets): the drop of MemAvailable per live guest sees it. Take the
	 * larger of the two. */
	{
		uint64_t avail = mc_host_mem_available_mib();
		unsigned live = 0;

		for (unsigned i = 0; i < c->n; i++)
			live += c->g[i].pid > 0;
		if (live && avail && c->mem_avail0_mib > avail) {
			double drop = (double)(c->mem_avail0_mib - avail) / live;

			if (drop > pss / n) {
				mc_info("controller: host memory per guest %.1f MiB > PSS %.1f MiB",
				        drop, pss / n);
				pss = drop * n;
			}
		}
	}
	mc_cost_load(c->cfg->cache_dir, c->cfg->cost_key, c->cfg->clone, c->cfg->accel,
	             c->cfg->tb_mib, c->cfg->mem_mib, &cost);
	mc_cost_update(c->cfg->cache_dir, c->cfg->cost_key, &cost, pss / n, cpu / n, n);
	mc_info("controller: measured %d idle guests: %.1f MiB PSS, %.3f%% of a core each "
	        "(estimate now %.1f MiB, %.3f%%)",
	        n, pss / n, cpu / n, cost.mem_mib, cost.cpu_pct);
}

/* Whether the host is saturated: CPUs more than 90 % busy over the last
 * second (/proc/stat) or a 1-minute load average above four times the CPUs;
 * sampled at most once a second. */
static int host_congested(struct ctl *c)
{
	int64_t now = mc_now_ms();
	unsigned long long v[8] = {0}, busy, total;
	FILE *fp;

	if (now - c->cpu_sampled_ms < 1000)
		return c->congested;
	fp = fopen("/proc/stat", "re");
	if (!fp)
		return 0;
	if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &v[6], &v[7]) != 8) {
		fclose(fp);
		return 0;
	}
	fclose(fp);
	total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	busy = total - v[3] - v[4];
	if (c->cpu_total && total > c->cpu_total) {
		int was = c->congested;

		unsigned runnable = 0;
		FILE *la = fopen("/proc/loadavg", "re");

		/* Busy CPUs, or a run queue far longer than the CPUs right now (the
		 * 4th field of /proc/loadavg; not the load average, whose slow decay
		 * held failures for a minute and more after a storm). Starved guests
		 * get a whole timeout to catch up from the moment the host calms. */
		if (la) {
			if (fscanf(la, "%*f %*f %*f %u/", &runnable) != 1)
				runnable = 0;
			fclose(la);
		}
		c->congested = (busy - c->cpu_busy) * 10 > (total - c->cpu_total) * 9 ||
		               runnable > 4u * (unsigned)mc_host_ncpus();
		if (was && !c->congested)
			c->calm_since_ms = now;
	}
	c->cpu_busy = busy;
	c->cpu_total = total;
	c->cpu_sampled_ms = now;
	return c->congested;
}

/* Runs deadlines; returns the ms until the next one (capped). */
static int tick(struct ctl *c)
{
	int64_t now = mc_now_ms(), next = now + 1000;
	unsigned started = 0, live = 0, ready = 0, held = 0, here = 0;
	int congested = host_congested(c);

	if (c->cfg->uplink) { /* a host daemon: heartbeats both ways */
		if (now - c->up_sent_ms >= (int64_t)c->cfg->hb_ms) {
			ctl_uplink_send(c, json_pack("{s:s}", "type", "hb"));
			c->up_sent_ms = now;
		}
		if (!c->shutting_down && now - c->up_heard_ms > (int64_t)c->cfg->up_timeout_ms) {
			mc_warn("controller: nothing from the cluster controller for %lld ms: "
			        "ending this host",
			        (long long)(now - c->up_heard_ms));
			begin_shutdown(c);
		}
		if (c->up_sent_ms + (int64_t)c->cfg->hb_ms < next)
			next = c->up_sent_ms + (int64_t)c->cfg->hb_ms;
	}

	while (!c->shutting_down && c->next_start < c->cfg->n && c->booting < c->cfg->parallel &&
	       started < SPAWN_PER_TICK) {
		if (memory_low(c)) {
			refuse_rest(c);
			break;
		}
		ctl_start_guest(c, &c->g[c->next_start++], 0);
		started++;
		now = mc_now_ms();
	}
	if (!c->shutting_down && c->next_start < c->cfg->n)
		next = now + (c->booting < c->cfg->parallel ? 0 : 200);
	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];
		int64_t due;
		char why[128];

		if (g->pid > 0)
			live++;
		if (!ctl_here(g))
			continue;
		here++;
		if (g->state == MC_VM_READY || g->state == MC_VM_BUSY)
			ready++;
		/* Migrating to another host: no heartbeats while stopped (the agent's next
		 * connection is to the target host). */
		if (g->xmig && (g->state == MC_VM_READY || g->state == MC_VM_BUSY))
			continue;
		switch (g->state) {
		case MC_VM_BOOTING:
			due = g->t_start_ms + (int64_t)c->cfg->boot_timeout_ms;
			if (now >= due) {
				snprintf(why, sizeof(why),
				         "no hello within the boot timeout (%llu ms)",
				         (unsigned long long)c->cfg->boot_timeout_ms);
				ctl_transition(c, g, MC_VM_EV_TIMEOUT, why);
			} else if (due < next)
				next = due;
			break;
		case MC_VM_READY:
		case MC_VM_BUSY:
			/* Silence only counts from the end of the last saturation:
			 * starved guests need a moment to catch up. */
			due = (g->last_hb_ms > c->calm_since_ms ? g->last_hb_ms
			                                        : c->calm_since_ms) +
			      (int64_t)c->cfg->hb_timeout_ms;
			/* When the host itself is saturated, heartbeats are late
			 * everywhere: hold the detector (up to 10 timeouts) rather than
			 * fail healthy guests. A dead QEMU is still seen at once. */
			if (now >= due && congested &&
			    now < g->last_hb_ms + 10 * (int64_t)c->cfg->hb_timeout_ms) {
				held++;
			} else if (now >= due) {
				snprintf(why, sizeof(why), "no heartbeat for %lld ms",
				         (long long)(now - g->last_hb_ms));
				ctl_transition(c, g, MC_VM_EV_TIMEOUT, why);
			} else if (due < next)
				next = due;
			break;
		case MC_VM_STOPPING:
			if (g->pid <= 0) {
				ctl_transition(c, g, MC_VM_EV_EXITED, NULL);
				break;
			}
			if (now >= g->deadline_ms) {
				if (!g->quit_sent) {
					g->quit_sent = 1;
					mc_vmm_qemu_ops.stop(g->be);
					ctl_epoll_sync(c, g);
					g->deadline_ms = now + QUIT_GRACE_MS;
				} else {
					mc_warn("vm %s: did not stop in time: killed", g->name);
					mc_vmm_qemu_ops.kill(g->be);
					g->deadline_ms = now + QUIT_GRACE_MS;
				}
			}
			if (g->deadline_ms < next)
				next = g->deadline_ms;
			break;
		default:
			break;
		}
	}
	if (held && now - c->held_logged_ms > 5000) {
		mc_warn("controller: host CPU saturated: holding heartbeat failures of %u late "
		        "guests",
		        held);
		c->held_logged_ms = now;
	}
	if (!c->all_ready_ms && ready == here) {
		c->all_ready_ms = now;
		c->sample.next_ms = now + 10000; /* let clones settle before measuring */
	}
	if (!c->shutting_down && c->cfg->cost_key[0])
		measure_costs(c, ready);
	{
		int64_t due = ctl_fault_tick(c, now);

		if (due >= 0 && due < next)
			next = due;
		due = ctl_migrate_tick(c, now);
		if (due >= 0 && due < next)
			next = due;
		due = ctl_xmig_tick(c, now);
		if (due >= 0 && due < next)
			next = due;
	}
	if (c->shutting_down && live == 0)
		c->done = 1;
	return next > now ? (int)(next - now) : 0;
}

static void teardown(struct ctl *c)
{
	ctl_collect_cleanup(c);
	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];

		ctl_migrate_abort(c, g, "the controller is going away");
		ctl_xmig_abort(c, g, "the controller is going away");
		ctl_checkpoint_cleanup(c, g);
		ctl_migrate_tick(c, mc_now_ms()); /* frees a finished one's old QEMU */
		if (g->be)
			mc_vmm_qemu_ops.destroy(&g->be); /* kills and reaps a survivor */
		if (g->tap_fd >= 0)
			close(g->tap_fd);
		while (g->runs) {
			struct run *r = g->runs;

			g->runs = r->next;
			free(r);
		}
		if (g->dir[0])
			mc_rm_rf(g->dir);
	}
	while (c->jobs) {
		struct job *j = c->jobs;

		c->jobs = j->next;
		free(j);
	}
	ctl_fault_cleanup(c); /* after the guests: their cgroups are empty now */
}

static int setup(struct ctl *c, char *why, size_t whylen)
{
	const struct mc_ctl_config *cfg = c->cfg;
	char ep[PATH_MAX + 16], ctl_ip[16];
	struct rlimit rl;
	struct epoll_event ev;
	int one = 1, zero = 0, fd;
	int64_t maxmsg = MC_PROTO_MAX_MSG + 64;

	/* Three descriptors per guest (tap while starting, QMP, agent link) and margin. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (mc_loop_fds(&c->sigfd, &c->epfd) < 0) {
		snprintf(why, whylen, "signalfd/epoll: %s", strerror(errno));
		return -1;
	}
	if (cfg->density && (fd = mc_ksm_enable(&c->ksm, 40)) < 0)
		mc_warn("density: ksm unavailable (%s): memory will not be merged", strerror(-fd));
	snprintf(c->blank, sizeof(c->blank), "%s/blank.qcow2", cfg->dir);
	if ((fd = mc_overlay_create(cfg->base_image, c->blank)) < 0) {
		snprintf(why, whylen, "overlay %s on %s: %s", c->blank, cfg->base_image,
		         strerror(-fd));
		return -1;
	}
	if ((fd = mc_net_enter_ns(cfg->netns)) < 0) {
		snprintf(why, whylen, "network namespace %s: %s", cfg->netns, strerror(-fd));
		return -1;
	}
	if (cfg->in_ns && cfg->in_ns(cfg->in_ns_arg, why, whylen) < 0)
		return -1;
	c->zctx = zmq_ctx_new();
	zmq_ctx_set(c->zctx, ZMQ_MAX_SOCKETS, 65536);
	c->zguest = zmq_socket(c->zctx, ZMQ_ROUTER);
	c->zcli = zmq_socket(c->zctx, ZMQ_ROUTER);
	if (!c->zguest || !c->zcli) {
		snprintf(why, whylen, "zmq socket: %s", zmq_strerror(zmq_errno()));
		return -1;
	}
	zmq_setsockopt(c->zguest, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	/* A guest restored from a checkpoint reconnects under its old routing id: the new
	 * connection replaces the dead one. */
	zmq_setsockopt(c->zguest, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
	zmq_setsockopt(c->zguest, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(c->zguest, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->zcli, ZMQ_LINGER, &zero, sizeof(zero));
	/* A ROUTER drops what exceeds the high-water mark: an exec on thousands of
	 * guests queues thousands of replies for one CLI, so no limit there. */
	zmq_setsockopt(c->zcli, ZMQ_SNDHWM, &zero, sizeof(zero));
	snprintf(ep, sizeof(ep), "tcp://%s:%d", mc_net_ntoa(MC_NET_CTL_ADDR, ctl_ip),
	         MC_NET_CTL_PORT);
	if (zmq_bind(c->zguest, ep) < 0) {
		snprintf(why, whylen, "bind %s: %s", ep, zmq_strerror(zmq_errno()));
		return -1;
	}
	snprintf(ep, sizeof(ep), "ipc://%s/%s", cfg->dir, MC_CTL_SOCK);
	if (zmq_bind(c->zcli, ep) < 0) {
		snprintf(why, whylen, "bind %s: %s", ep, zmq_strerror(zmq_errno()));
		return -1;
	}
	snprintf(ep, sizeof(ep), "%s/%s", cfg->dir, MC_CTL_SOCK);
	chmod(ep, 0600);
	ev.events = EPOLLIN;
	ev.data.u64 = EP_TAG(EP_SIGNAL, 0);
	epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->sigfd, &ev);
	{
		size_t sz = sizeof(fd);

		zmq_getsockopt(c->zguest, ZMQ_FD, &fd, &sz);
		ev.data.u64 = EP_TAG(EP_ZGUEST, 0);
		epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
		zmq_getsockopt(c->zcli, ZMQ_FD, &fd, &sz);
		ev.data.u64 = EP_TAG(EP_ZCLI, 0);
		epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
		if (cfg->uplink) {
			zmq_getsockopt(cfg->uplink, ZMQ_FD, &fd, &sz);
			ev.data.u64 = EP_TAG(EP_ZUP, 0);
			epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
		}
	}
	return 0;
}

static void on_signal(struct ctl *c)
{
	struct signalfd_siginfo si;

	while (read(c->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(c);
		else {
			mc_info("controller: signal %u: tearing down", si.ssi_signo);
			begin_shutdown(c);
		}
	}
}

int mc_controller_run(const struct mc_ctl_config *cfg, int ready_fd)
{
	struct ctl ctl = {0}, *c = &ctl;
	char why[512] = "";
	int rc = 0;

	c->cfg = cfg;
	c->n = cfg->n;
	c->sigfd = c->epfd = -1;
	{
		char path[PATH_MAX + 16];

		if (cfg->events[0])
			snprintf(path, sizeof(path), "%s", cfg->events);
		else
			snprintf(path, sizeof(path), "%s/events.jsonl", cfg->dir);
		c->events_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (c->events_fd < 0)
			mc_warn("controller: events file %s: %s", path, strerror(errno));
	}
	mc_trace_open(); /* guest events, when the run traces (MC_TRACE=1) */
	c->started_ms = mc_now_ms();
	c->up_heard_ms = c->started_ms;
	/* A host daemon may take in any guest of the cluster (migrations across hosts). */
	c->cap = cfg->uplink && cfg->cluster_n > cfg->n ? cfg->cluster_n : cfg->n;
	c->g = calloc(c->cap ? c->cap : 1, sizeof(*c->g));
	c->sendbuf = malloc(MC_PROTO_MAX_MSG);
	if (!c->g || !c->sendbuf) {
		snprintf(why, sizeof(why), "out of memory for %u guests", cfg->n);
		rc = 1;
		goto report;
	}
	for (unsigned i = 0; i < cfg->n; i++) {
		struct guest *g = &c->g[i];

		g->index = i;
		g->gindex = cfg->first + i;
		g->ctl = c;
		g->tap_fd = -1;
		g->state = MC_VM_DEFINED;
		snprintf(g->name, sizeof(g->name), "g%04u", g->gindex);
		g->addr = mc_net_guest_addr(g->gindex);
		mc_net_ntoa(g->addr, g->ip);
		mc_net_guest_mac(g->gindex, g->mac);
		snprintf(g->dir, sizeof(g->dir), "%s/guests/%s", cfg->dir, g->name);
	}
	for (unsigned i = cfg->n; c->g && i < c->cap; i++) { /* free slots for arrivals */
		c->g[i].index = i;
		c->g[i].ctl = c;
		c->g[i].tap_fd = -1;
		c->g[i].slot = CTL_SLOT_AWAY;
	}
	if (setup(c, why, sizeof(why)) < 0)
		rc = 1;
	c->mem_avail0_mib = mc_host_mem_available_mib();
report:
	if (ready_fd >= 0) {
		char msg[600];
		int n = rc ? snprintf(msg, sizeof(msg), "error: %s\n", why)
		           : snprintf(msg, sizeof(msg), "ok\n");

		if (write(ready_fd, msg, (size_t)n) < 0)
			mc_debug("controller: ready pipe: %s", strerror(errno));
		close(ready_fd);
	}
	if (cfg->uplink) /* a host daemon: the cluster controller waits for this */
		ctl_uplink_send(c, rc ? json_pack("{s:s, s:s}", "type", "error", "error", why)
		                      : json_pack("{s:s}", "type", "started"));
	if (rc) {
		mc_err("controller: setup failed: %s", why);
		goto out;
	}
	mc_info("controller: cluster %s: %u guests, accel %s, kernel %s, %u booting at once",
	        cfg->cluster, cfg->n, cfg->accel, cfg->kernel_kind, cfg->parallel);
	while (!c->done) {
		struct epoll_event evs[64];
		int timeout, n;

		drain_requests(c, c->zcli);
		if (cfg->uplink)
			drain_requests(c, cfg->uplink);
		drain_guests(c);
		timeout = tick(c);
		if (c->done)
			break;
		n = epoll_wait(c->epfd, evs, 64, timeout);
		for (int i = 0; i < n; i++) {
			uint64_t type = evs[i].data.u64 >> 32;
			unsigned idx = (unsigned)(evs[i].data.u64 & 0xffffffffu);

			if (type == EP_SIGNAL) {
				on_signal(c);
			} else if (type == EP_MIG && idx < c->n) {
				ctl_migrate_io(c, &c->g[idx], evs[i].events);
			} else if (type == EP_QMP && idx < c->n && c->g[idx].be) {
				struct guest *g = &c->g[idx];
				int err = mc_vmm_qemu_ops.on_io(g->be, !!(evs[i].events & EPOLLIN),
				                                !!(evs[i].events & EPOLLOUT));

				if (err < 0)
					g->epoll_added = 0; /* closed: the fd left epoll with it */
				else
					ctl_epoll_sync(c, g);
			}
		}
	}
	mc_info("controller: all guests down");
out:
	teardown(c);
	if (c->events_fd >= 0)
		close(c->events_fd);
	mc_rm_rf(cfg->dir); /* overlays, identities, logs, the control socket */
	if (c->zguest)
		zmq_close(c->zguest);
	if (c->have_down_client && c->zcli) {
		int linger = 2000;

		zmq_setsockopt(c->zcli, ZMQ_LINGER, &linger, sizeof(linger));
		send_client(c, c->down_client, c->down_client_len,
		            json_pack("{s:s}", "type", "down"), NULL, 0);
	}
	if (c->zcli)
		zmq_close(c->zcli);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	mc_net_forget_ns(cfg->netns);
	mc_ksm_restore(&c->ksm);
	if (c->sigfd >= 0)
		close(c->sigfd);
	if (c->epfd >= 0)
		close(c->epfd);
	free(c->g);
	free(c->sendbuf);
	return rc;
}
