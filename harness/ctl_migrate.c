/* ctl_migrate.c — live migration of a guest to a new QEMU process on this host: QEMU's own
 * pre-copy migration over a unix socket. The guest keeps its name, disk overlay, address,
 * MAC and agent link: the new QEMU opens the same overlay, gets a new tap with the same
 * host-side MAC, and the guest's /32 route moves to that tap when the source says the
 * migration completed. */
#include <errno.h>
#include <signal.h>
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
#include "resolve.h"
#include "util.h"

#define MIG_TIMEOUT_MS  180000       /* a migration that takes longer is cancelled */
#define MIG_BANDWIDTH   (4ull << 30) /* bytes/s: a unix socket on one host, no cap */
#define MIG_DOWNTIME_MS 100          /* QEMU's downtime-limit for the last pass */

enum mig_phase {
	MIG_LISTENING, /* target QEMU started, migrate-incoming sent */
	MIG_SENDING,   /* source QEMU migrating */
	MIG_FINISHING, /* source completed: query-migrate for the figures */
	MIG_SWITCHING, /* route moved, source QEMU killed: waiting for it to be reaped */
	MIG_RESUMING,  /* cont sent to the target (it takes the overlay's lock now) */
	MIG_DONE,      /* running on the target; the tick frees what is left */
};

struct ctl_migration {
	enum mig_phase phase;
	struct job *job;
	void *be;      /* the target QEMU (MIG_DONE: the retired source) */
	pid_t pid;     /* its process */
	pid_t old_pid; /* MIG_DONE: the source's process, until reaped */
	int epoll_added;
	char ifname[16]; /* the target's tap */
	char sock[PATH_MAX + 16];
	int64_t t0_ms, deadline_ms;
	int stat_tries;          /* query-migrate replies without the final times */
	int check;               /* MIG_RESUMING: the reply is query-status's */
	int resumed;             /* the target needed a cont */
	int64_t t_switched_ms;   /* the route moved */
	int stop;                /* stop-and-copy: the source's vCPUs stop before it sends */
	int64_t t_stop_ms;       /* ... when */
	int target_acks;         /* replies from the target (capabilities, migrate-incoming) */
	int64_t t_completed_ms;  /* the source said completed (its vCPUs are stopped) */
	struct ctl_mig_stats st; /* the source's query-migrate */
};

static void reply(struct ctl *c, struct job *j, json_t *msg)
{
	if (!j) {
		json_decref(msg);
		return;
	}
	ctl_job_send(c, j, msg, NULL, 0);
	ctl_job_part_done(c, j);
}

static void reply_error(struct ctl *c, struct job *j, struct guest *g, const char *why)
{
	reply(c, j, json_pack("{s:s, s:s, s:s}", "type", "result", "guest", g->name, "error", why));
}

static void free_migration(struct ctl *c, struct ctl_migration *m)
{
	if (m->be) {
		struct mc_vmm_info info;

		mc_vmm_qemu_ops.query(m->be, &info);
		if (m->epoll_added && info.fd >= 0)
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, info.fd, NULL);
		mc_vmm_qemu_ops.destroy(&m->be); /* kills and reaps a running QEMU */
	}
	if (m->sock[0])
		unlink(m->sock);
	free(m);
}

void ctl_migrate_abort(struct ctl *c, struct guest *g, const char *why)
{
	struct ctl_migration *m = g->mig;

	if (!m || m->phase == MIG_DONE)
		return;
	/* Detach first: callbacks of the target's QMP fire while it is destroyed. */
	g->mig = NULL;
	if (m->phase >= MIG_SWITCHING) {
		/* The guest lives in the target QEMU now (g->be); m->be is the old one. */
		mc_warn("vm %s: migration failed after the switch: %s", g->name, why);
		reply_error(c, m->job, g, why);
		free_migration(c, m);
		return;
	}
	if (m->phase >= MIG_SENDING && g->be && g->pid > 0)
		mc_vmm_qemu_ops.command(g->be, "migrate_cancel", NULL, NULL, NULL);
	mc_warn("vm %s: migration failed: %s", g->name, why);
	reply_error(c, m->job, g, why);
	free_migration(c, m);
	ctl_epoll_sync(c, g);
}

static void sync_target(struct ctl *c, struct guest *g)
{
	struct ctl_migration *m = g->mig;
	struct mc_vmm_info info;
	struct epoll_event ev;

	mc_vmm_qemu_ops.query(m->be, &info);
	if (info.fd < 0) {
		m->epoll_added = 0;
		return;
	}
	ev.events = (uint32_t)info.events;
	ev.data.u64 = EP_TAG(EP_MIG, g->index);
	if (epoll_ctl(c->epfd, m->epoll_added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, info.fd, &ev) == 0)
		m->epoll_added = 1;
}

void ctl_migrate_io(struct ctl *c, struct guest *g, uint32_t events)
{
	struct ctl_migration *m = g->mig;

	if (!m || !m->be || m->phase == MIG_DONE)
		return;
	if (mc_vmm_qemu_ops.on_io(m->be, !!(events & EPOLLIN), !!(events & EPOLLOUT)) < 0) {
		m->epoll_added = 0; /* closed: the fd left epoll with it */
		if (g->mig == m)
			ctl_migrate_abort(c, g, "lost the new QEMU's control connection");
		return;
	}
	if (g->mig == m)
		sync_target(c, g);
}

/* The target runs the guest: the migration is done. */
static void on_cont(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl *c = g->ctl;
	struct ctl_migration *m = g->mig;
	int64_t now = mc_now_ms();
	json_int_t sw, down;
	char why[200];

	if (!m || m->phase != MIG_RESUMING)
		return;
	if (ret && m->check) {
		/* query-status: running already (the usual case), or cont it now. */
		m->check = 0;
		if (!json_is_true(json_object_get(ret, "running"))) {
			m->resumed = 1;
			if (mc_vmm_qemu_ops.command(g->be, "cont", NULL, on_cont, g) < 0)
				on_cont(g, NULL, NULL, "the new QEMU's control connection is gone");
			ctl_epoll_sync(c, g);
			return;
		}
	}
	if (!ret) {
		snprintf(why, sizeof(why), "resume on the new QEMU: %s",
		         desc  ? desc
		         : cls ? cls
		               : "error");
		ctl_migrate_abort(c, g, why);
		ctl_transition(c, g, MC_VM_EV_ERROR, why);
		return;
	}
	m->phase = MIG_DONE;
	g->migrations++;
	g->last_hb_ms = now; /* the pause is not a lost heartbeat */
	/* The target runs from the end of the stream on; when it had to be continued by
	 * hand, its vCPUs were stopped until now. */
	sw = (json_int_t)(m->t_switched_ms - m->t_completed_ms);
	down = m->stop      ? (json_int_t)(now - m->t_stop_ms)
	       : m->resumed ? m->st.downtime + (json_int_t)(now - m->t_completed_ms)
	                    : m->st.downtime;
	mc_info("vm %s: migrated (%s) to a new QEMU (pid %d): %lld ms, downtime %lld ms%s, route "
	        "moved %lld ms after, %.1f MiB sent in %lld passes",
	        g->name, m->stop ? "stop-and-copy" : "pre-copy", (int)g->pid,
	        (long long)(now - m->t0_ms), (long long)down,
	        m->resumed ? " (continued by hand)" : "", (long long)sw,
	        (double)m->st.bytes / (1 << 20), (long long)m->st.passes);
	ctl_events_append(
	        c, json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:{s:I, s:I, s:I, s:I, "
	                     "s:I, s:I, s:I, s:I, s:s, s:s}}",
	                     "t_ms", (json_int_t)mc_wall_ms(), "guest", g->name, "from",
	                     mc_vm_state_name(g->state), "state", mc_vm_state_name(g->state),
	                     "boot", (int)g->boots, "reason", "migrated", "migration", "total_ms",
	                     (json_int_t)(now - m->t0_ms), "downtime_ms", down, "qemu_total_ms",
	                     m->st.total, "qemu_downtime_ms", m->st.downtime, "switch_ms", sw,
	                     "setup_ms", m->st.setup, "bytes", m->st.bytes, "passes", m->st.passes,
	                     "tap", g->ifname, "mode", m->stop ? "stop" : "live"));
	mc_trace_guest_state(g->name, "migrated", g->ifname);
	reply(c, m->job,
	      json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "type",
	                "result", "guest", g->name, "state", mc_vm_state_name(g->state), "mode",
	                m->stop ? "stop" : "live", "total_ms", (json_int_t)(now - m->t0_ms),
	                "downtime_ms", down, "qemu_total_ms", m->st.total, "qemu_downtime_ms",
	                m->st.downtime, "switch_ms", sw, "setup_ms", m->st.setup, "bytes",
	                m->st.bytes, "passes", m->st.passes, "pid", (int)g->pid));
	m->job = NULL;
}

int ctl_mig_stats(struct ctl *c, struct guest *g, json_t *ret, int *tries,
                  void (*again)(void *, json_t *, const char *, const char *),
                  struct ctl_mig_stats *s)
{
	json_t *ram = json_object_get(ret, "ram");

	if (ret && json_integer_value(json_object_get(ret, "total-time")) <= 0 && ++*tries < 50 &&
	    mc_vmm_qemu_ops.command(g->be, "query-migrate", NULL, again, g) == 0) {
		ctl_epoll_sync(c, g);
		return 1;
	}
	s->downtime = json_integer_value(json_object_get(ret, "downtime"));
	s->total = json_integer_value(json_object_get(ret, "total-time"));
	s->setup = json_integer_value(json_object_get(ret, "setup-time"));
	s->bytes = json_integer_value(json_object_get(ram, "transferred"));
	s->passes = json_integer_value(json_object_get(ram, "dirty-sync-count"));
	return 0;
}

/* The source's figures; then the switch: route, back end, and the end of the old QEMU. The
 * target runs already: it started at the end of the stream. */
static void on_stats(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl *c = g->ctl;
	struct ctl_migration *m = g->mig;
	void *old;
	pid_t old_pid;
	struct mc_vmm_info info;
	int err;

	(void)cls;
	(void)desc;
	if (!m || m->phase != MIG_FINISHING)
		return;
	if (ctl_mig_stats(c, g, ret, &m->stat_tries, on_stats, &m->st))
		return;
	if ((err = mc_net_route_to(m->ifname, g->addr)) < 0) {
		char why[160];

		/* The source is paused and still whole: give the guest back to it. */
		snprintf(why, sizeof(why), "route to %s: %s", m->ifname, strerror(-err));
		mc_vmm_qemu_ops.command(g->be, "cont", NULL, NULL, NULL);
		m->phase = MIG_LISTENING; /* nothing to cancel any more */
		ctl_migrate_abort(c, g, why);
		return;
	}
	/* The old QEMU's connection leaves epoll now, and the old QEMU ends. */
	mc_vmm_qemu_ops.query(g->be, &info);
	if (g->epoll_added && info.fd >= 0)
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, info.fd, NULL);
	old_pid = info.pid;
	mc_vmm_qemu_ops.kill(g->be);
	old = g->be;
	g->be = m->be;
	g->pid = m->pid;
	g->epoll_added = 0;
	if (m->epoll_added) {
		mc_vmm_qemu_ops.query(g->be, &info);
		if (info.fd >= 0)
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, info.fd, NULL);
	}
	m->be = old;
	m->pid = 0;
	m->old_pid = old_pid;
	m->epoll_added = 0;
	m->phase = MIG_SWITCHING;
	m->t_switched_ms = mc_now_ms();
	snprintf(g->ifname, sizeof(g->ifname), "%s", m->ifname);
	ctl_epoll_sync(c, g);
	if (m->sock[0]) {
		unlink(m->sock);
		m->sock[0] = '\0';
	}
}

/* The old QEMU was reaped. The target started itself at the end of the stream, unless
 * taking the overlay's lock failed then: it is free now, so check and continue it. */
static void resume_target(struct ctl *c, struct guest *g)
{
	struct ctl_migration *m = g->mig;

	m->phase = MIG_RESUMING;
	m->check = 1;
	if (mc_vmm_qemu_ops.command(g->be, "query-status", NULL, on_cont, g) < 0)
		on_cont(g, NULL, NULL, "the new QEMU's control connection is gone");
	else
		ctl_epoll_sync(c, g);
}

void ctl_migrate_event(struct ctl *c, struct guest *g, json_t *data)
{
	struct ctl_migration *m = g->mig;
	const char *st = json_string_value(json_object_get(data, "status"));

	if (!m || m->phase != MIG_SENDING || !st)
		return;
	if (strcmp(st, "completed") == 0) {
		m->phase = MIG_FINISHING;
		m->t_completed_ms = mc_now_ms();
		if (mc_vmm_qemu_ops.command(g->be, "query-migrate", NULL, on_stats, g) < 0)
			on_stats(g, NULL, NULL, NULL);
		ctl_epoll_sync(c, g);
	} else if (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0) {
		char why[64];

		snprintf(why, sizeof(why), "QEMU reports the migration %s", st);
		ctl_migrate_abort(c, g, why);
	}
}

static void on_source_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	char why[256];

	if (ret || !g->mig || g->mig->phase != MIG_SENDING)
		return;
	snprintf(why, sizeof(why), "source QEMU: %s", desc ? desc : cls ? cls : "error");
	ctl_migrate_abort(g->ctl, g, why);
}

/* The target listens: start sending. */
static void on_target_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl *c = g->ctl;
	struct ctl_migration *m = g->mig;
	char uri[PATH_MAX + 32], why[256];

	if (!m || m->phase != MIG_LISTENING)
		return;
	if (!ret) {
		snprintf(why, sizeof(why), "new QEMU: %s", desc ? desc : cls ? cls : "error");
		ctl_migrate_abort(c, g, why);
		return;
	}
	if (++m->target_acks < 2)
		return; /* capabilities set; migrate-incoming's reply comes next */
	m->phase = MIG_SENDING;
	snprintf(uri, sizeof(uri), "unix:%s", m->sock);
	/* x-ignore-shared as on the target (a clone's source already has it); events: the
	 * source's MIGRATION events drive the switch. */
	mc_vmm_qemu_ops.command(g->be, "migrate-set-capabilities",
	                        json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "capabilities",
	                                  "capability", "x-ignore-shared", "state", 1, "capability",
	                                  "events", "state", 1),
	                        on_source_reply, g);
	mc_vmm_qemu_ops.command(g->be, "migrate-set-parameters",
	                        json_pack("{s:I, s:I}", "max-bandwidth", (json_int_t)MIG_BANDWIDTH,
	                                  "downtime-limit", (json_int_t)MIG_DOWNTIME_MS),
	                        on_source_reply, g);
	if (m->stop) {
		/* Stop-and-copy: no pre-copy passes while the guest runs. */
		m->t_stop_ms = mc_now_ms();
		mc_vmm_qemu_ops.command(g->be, "stop", NULL, on_source_reply, g);
	}
	mc_vmm_qemu_ops.command(g->be, "migrate", json_pack("{s:s}", "uri", uri), on_source_reply,
	                        g);
	ctl_epoll_sync(c, g);
}

const char *ctl_migrate_refusal(struct ctl *c, struct guest *g, char *buf, size_t cap)
{
	const char *f;

	if (g->state != MC_VM_READY && g->state != MC_VM_BUSY) {
		snprintf(buf, cap, "cannot migrate a guest that is %s", mc_vm_state_name(g->state));
		return buf;
	}
	if (g->mig || g->xmig)
		return "a migration of this guest is already in progress";
	if (g->op_job || g->rebooting || g->ckpt || g->restore || !g->be || g->pid <= 0)
		return "another operation on this guest is in progress";
	if (c->cfg->share[0])
		return "the cluster shares a host directory over virtio-9p (--share), which QEMU "
		       "cannot migrate once mounted";
	f = ctl_fault_on_guest(c, g->index);
	if (f[0]) {
		snprintf(buf, cap, "a %s fault is in force on it", f);
		return buf;
	}
	return NULL;
}

static void begin(struct ctl *c, struct job *j, struct guest *g, int stop)
{
	struct ctl_migration *m = calloc(1, sizeof(*m));
	struct ctl_guest_paths p;
	struct mc_vm_spec spec;
	struct mc_vmm_info info;
	char why[256];
	int tap_fd = -1, err;

	if (!m) {
		reply_error(c, j, g, "out of memory");
		return;
	}
	m->job = j;
	m->stop = stop;
	m->t0_ms = mc_now_ms();
	m->deadline_ms = m->t0_ms + MIG_TIMEOUT_MS;
	/* Two names per guest, taken in turn: the old tap lives until the old QEMU ends. */
	snprintf(m->ifname, sizeof(m->ifname), "%s%u", strncmp(g->ifname, "mct", 3) ? "mct" : "mcm",
	         g->index);
	snprintf(m->sock, sizeof(m->sock), "%s/migrate.sock", g->dir);
	unlink(m->sock);
	if ((err = mc_net_tap_open(m->ifname, g->addr, 0, &tap_fd)) < 0) {
		snprintf(why, sizeof(why), "tap %s: %s", m->ifname, strerror(-err));
		goto fail;
	}
	ctl_guest_paths(g, &p);
	ctl_guest_spec(c, g, g->from_template, &p, tap_fd, &spec);
	spec.listen = 1;
	m->be = mc_vmm_qemu_ops.create(&spec, &ctl_vmm_hooks, g);
	if (!m->be) {
		snprintf(why, sizeof(why), "back end refused the new QEMU");
		goto fail;
	}
	if ((err = mc_vmm_qemu_ops.start(m->be)) < 0) {
		snprintf(why, sizeof(why), "start the new QEMU: %s", strerror(-err));
		goto fail;
	}
	close(tap_fd); /* the new QEMU holds its own copy */
	tap_fd = -1;
	mc_vmm_qemu_ops.query(m->be, &info);
	m->pid = info.pid;
	g->mig = m;
	mc_info("vm %s: migrating to a new QEMU (pid %d, tap %s)", g->name, (int)m->pid, m->ifname);
	{
		char uri[PATH_MAX + 32];

		snprintf(uri, sizeof(uri), "unix:%s", m->sock);
		mc_vmm_qemu_ops.command(m->be, "migrate-set-capabilities",
		                        json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability",
		                                  "x-ignore-shared", "state", 1),
		                        on_target_reply, g);
		mc_vmm_qemu_ops.command(m->be, "migrate-incoming", json_pack("{s:s}", "uri", uri),
		                        on_target_reply, g);
	}
	sync_target(c, g);
	return;
fail:
	if (tap_fd >= 0)
		close(tap_fd);
	m->sock[0] = '\0';
	reply_error(c, j, g, why);
	free_migration(c, m);
}

static void migrate_one(struct ctl *c, struct job *j, struct guest *g, void *arg)
{
	char buf[160];
	const char *no = ctl_migrate_refusal(c, g, buf, sizeof(buf));

	if (no)
		reply_error(c, j, g, no);
	else
		begin(c, j, g, *(int *)arg);
}

/* Whether name is this host: its hostname (or the first label of it) or localhost. */
static int this_host(const char *name)
{
	char self[256];
	size_t n;

	if (!strcmp(name, "localhost") || !strcmp(name, "127.0.0.1"))
		return 1;
	if (gethostname(self, sizeof(self)) < 0)
		return 0;
	self[sizeof(self) - 1] = '\0';
	if (!strcmp(name, self))
		return 1;
	n = strcspn(self, ".");
	return strlen(name) == n && !strncmp(name, self, n);
}

void ctl_req_migrate(struct ctl *c, json_t *req, const unsigned char *client, size_t len)
{
	const char *mode = json_string_value(json_object_get(req, "mode"));
	const char *to = json_string_value(json_object_get(req, "to"));
	/* auto: pre-copy under KVM; stop-and-copy under TCG, where busy pre-copy migrations
	 * lost guest writes (docs/architecture.md, bench/migrate.sh). */
	int stop = mode && !strcmp(mode, "stop");

	if (mode && !stop && strcmp(mode, "live") && strcmp(mode, "auto")) {
		ctl_reply_error(c, client, len, "mode: want auto, live or stop");
		return;
	}
	/* Another host: only a cluster across hosts has one (its cluster controller moves the
	 * guest itself and never forwards "to"). */
	if (to && to[0] && !this_host(to)) {
		char why[400];

		snprintf(
		        why, sizeof(why),
		        "migrate --to %s: not this host; this cluster runs on one host, so a guest "
		        "can only move to a new QEMU here (docs/hosts.md: clusters across hosts)",
		        to);
		ctl_reply_error(c, client, len, why);
		return;
	}
	if (!mode || !strcmp(mode, "auto"))
		stop = strcmp(c->cfg->accel, "kvm") != 0;
	ctl_for_target(c, req, "migrate", client, len, migrate_one, &stop);
}

int ctl_migrate_reaped(struct ctl *c, pid_t pid, int status)
{
	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];
		struct ctl_migration *m = g->mig;
		char why[96];

		if (!m)
			continue;

		if (m && m->phase >= MIG_SWITCHING && m->old_pid == pid) {
			m->old_pid = 0;
			mc_vmm_qemu_ops.exited(m->be);
			if (m->phase == MIG_SWITCHING)
				resume_target(c, g);
			return 1;
		}
		if (!m || m->pid != pid || m->phase >= MIG_SWITCHING)
			continue;
		m->pid = 0;
		mc_vmm_qemu_ops.exited(m->be);
		m->epoll_added = 0;
		if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "the new QEMU was killed by signal %d",
			         WTERMSIG(status));
		else
			snprintf(why, sizeof(why),
			         "the new QEMU exited with status %d (see qemu.log)",
			         WEXITSTATUS(status));
		ctl_migrate_abort(c, g, why);
		return 1;
	}
	return 0;
}

int64_t ctl_migrate_tick(struct ctl *c, int64_t now)
{
	int64_t next = -1;

	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];
		struct ctl_migration *m = g->mig;

		if (!m)
			continue;
		if (m->phase == MIG_DONE) {
			g->mig = NULL; /* the old QEMU is paused for good: SIGKILL ends it */
			free_migration(c, m);
			continue;
		}
		if (c->shutting_down) {
			ctl_migrate_abort(c, g, "the cluster is shutting down");
			continue;
		}
		if (now >= m->deadline_ms) {
			char why[64];

			snprintf(why, sizeof(why), "not finished after %d s",
			         MIG_TIMEOUT_MS / 1000);
			ctl_migrate_abort(c, g, why);
			continue;
		}
		if (next < 0 || m->deadline_ms < next)
			next = m->deadline_ms;
	}
	return next;
}
