/* ctl_fault.c — faults the controller carries out itself: on a guest's QEMU (crash, hang,
 * link-down, disk-error), its CPU share (slow-cpu, cgroup) and the fleet network (partition). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ctl_internal.h"
#include "fault.h"
#include "log.h"
#include "mc_trace.h"
#include "net.h"
#include "util.h"
#include "vmm.h"

/* A fault in force whose revert is due at due_ms. */
struct ctl_fault {
	struct ctl_fault *next;
	int64_t due_ms;                   /* monotonic; 0 = until cleanup */
	const struct mc_fault_kind *kind; /* what to undo */
	unsigned gi;                      /* guest index (not for partition) */
	uint32_t boot_id;                 /* the guest's incarnation when injected */
	char cgroup[PATH_MAX];            /* slow-cpu: the guest's cgroup directory */
	char back[PATH_MAX];              /* slow-cpu: cgroup.procs the QEMU returns to */
	uint32_t *side_a, *side_b;        /* partition: addresses of both sides */
	size_t na, nb;
};

/* ---------- cgroups (slow-cpu) ---------- */

/* The cpu controller: cgroup v2 (cpu.max) or v1 (cpu.cfs_quota_us). Writes its
 * mount root to root and returns 2 or 1; 0 when there is none. */
static int cpu_cgroup_root(char *root, size_t cap)
{
	char buf[256] = "";
	FILE *f = fopen("/sys/fs/cgroup/cgroup.controllers", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (strstr(buf, "cpu")) {
			snprintf(root, cap, "/sys/fs/cgroup");
			return 2;
		}
	}
	if (access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", W_OK) == 0) {
		snprintf(root, cap, "/sys/fs/cgroup/cpu");
		return 1;
	}
	return 0;
}

/* This process's cgroup under the cpu controller (QEMU was forked from it). */
static void own_cpu_cgroup(int version, char *path, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "r");

	snprintf(path, cap, "/");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		int match;

		if (!c2)
			continue;
		*c2 = '\0';
		match = version == 2 ? strcmp(c1 + 1, "") == 0 && strncmp(line, "0", 1) == 0
		                     : strstr(c1 + 1, "cpu") != NULL &&
		                               (strcmp(c1 + 1, "cpu") == 0 ||
		                                strncmp(c1 + 1, "cpu,", 4) == 0 ||
		                                strstr(c1 + 1, ",cpu,") != NULL);
		if (match) {
			c2[strcspn(c2 + 1, "\n") + 1] = '\0';
			snprintf(path, cap, "%s", c2 + 1);
			break;
		}
	}
	fclose(f);
}

static int slow_cpu(struct ctl *c, struct guest *g, const char *quota, struct ctl_fault *f,
                    char *why, size_t whylen)
{
	char root[64], own[PATH_MAX], file[PATH_MAX + 32], val[64], pid[16];
	int v = cpu_cgroup_root(root, sizeof(root)), err;
	double pct = strtod(quota, NULL);
	long q = (long)(pct * 1000.0); /* us per 100 ms period */

	if (!v) {
		snprintf(why, whylen, "no writable cgroup cpu controller on this host");
		return -ENOTSUP;
	}
	if (q < 1000)
		q = 1000; /* the kernel's minimum quota is 1 ms */
	own_cpu_cgroup(v, own, sizeof(own));
	snprintf(f->back, sizeof(f->back), "%s%s/cgroup.procs", root, strcmp(own, "/") ? own : "");
	snprintf(f->cgroup, sizeof(f->cgroup), "%s%s/microcosm-%s-%s", root,
	         strcmp(own, "/") ? own : "", c->cfg->cluster, g->name);
	if (mkdir(f->cgroup, 0755) < 0 && errno != EEXIST) {
		err = -errno;
		snprintf(why, whylen, "mkdir %s: %s", f->cgroup, strerror(errno));
		return err;
	}
	if (v == 2) {
		snprintf(file, sizeof(file), "%s/cpu.max", f->cgroup);
		snprintf(val, sizeof(val), "%ld 100000", q);
		err = mc_write_string(file, val);
	} else {
		snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", f->cgroup);
		err = mc_write_string(file, "100000");
		snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", f->cgroup);
		snprintf(val, sizeof(val), "%ld", q);
		if (!err)
			err = mc_write_string(file, val);
	}
	snprintf(pid, sizeof(pid), "%d", (int)g->pid);
	if (!err) {
		snprintf(file, sizeof(file), "%s/cgroup.procs", f->cgroup);
		err = mc_write_string(file, pid);
	}
	if (err) {
		snprintf(why, whylen, "%s: %s", file, strerror(-err));
		rmdir(f->cgroup);
		return err;
	}
	return 0;
}

static void slow_cpu_undo(struct ctl *c, struct ctl_fault *f)
{
	struct guest *g = &c->g[f->gi];
	char pid[16];

	if (g->pid > 0) {
		snprintf(pid, sizeof(pid), "%d", (int)g->pid);
		mc_write_string(f->back, pid);
	}
	if (rmdir(f->cgroup) < 0 && errno != ENOENT)
		mc_warn("fault: rmdir %s: %s", f->cgroup, strerror(errno));
}

/* ---------- the request ---------- */

/* One guest's answer to a fault request. */
static void result(struct ctl *c, struct job *j, struct guest *g, int err, const char *why,
                   const char *detail)
{
	/* On the trace at the moment it takes effect (the run records it too, later). */
	if (j->fault[0])
		mc_trace_fault_injected(j->fault, j->kind, g->name, err ? "failed" : "injected", 0);
	json_t *m = json_pack("{s:s, s:s, s:s, s:I}", "type", "result", "guest", g->name, "outcome",
	                      err ? "failed" : "injected", "at_ms", (json_int_t)mc_wall_ms());

	if (err)
		json_object_set_new(m, "error", json_string(why && *why ? why : strerror(-err)));
	if (detail)
		json_object_set_new(m, "detail", json_string(detail));
	ctl_job_send(c, j, m, NULL, 0);
	ctl_job_part_done(c, j);
}

/* QMP replies for hang and link-down: the fault is in force once QEMU says so. */
struct qmp_wait {
	struct ctl *c;
	struct job *j;
	unsigned gi;
	const char *what;
};

static void on_qmp_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct qmp_wait *w = arg;
	struct guest *g = &w->c->g[w->gi];
	char why[200];

	(void)ret;
	if (cls)
		snprintf(why, sizeof(why), "QMP %s: %s", w->what, desc ? desc : cls);
	if (w->j)
		result(w->c, w->j, g, cls ? -EIO : 0, cls ? why : NULL, NULL);
	else if (cls)
		mc_warn("fault: vm %s: revert: %s", g->name, why);
	free(w);
}

static int qmp_send(struct ctl *c, struct job *j, struct guest *g, const char *cmd, json_t *args)
{
	struct qmp_wait *w = calloc(1, sizeof(*w));
	int err;

	if (!w) {
		json_decref(args);
		return -ENOMEM;
	}
	*w = (struct qmp_wait){c, j, g->index, cmd};
	err = mc_vmm_qemu_ops.command(g->be, cmd, args, on_qmp_reply, w);
	if (err) {
		free(w);
		return err;
	}
	ctl_epoll_sync(c, g);
	return 0;
}

/*
 * disk-error: a blkdebug node "err0" over the qcow2 node, with rules failing reads
 * and/or writes (EIO), becomes the child of the raw node the device sits on
 * (vmm_qemu.c builds file -> qcow2 -> raw). blkdebug rules fire on the events
 * the raw driver emits for every request; write-zeroes has its own event.
 */
static int disk_error(struct ctl *c, struct job *j, struct guest *g, const char *iotype)
{
	json_t *rules = json_array();
	int rd = strcmp(iotype, "write") != 0, wr = strcmp(iotype, "read") != 0, err;

	if (rd)
		json_array_append_new(rules, json_pack("{s:s, s:s, s:i}", "event", "read_aio",
		                                       "iotype", "read", "errno", EIO));
	if (wr) {
		json_array_append_new(rules, json_pack("{s:s, s:s, s:i}", "event", "write_aio",
		                                       "iotype", "write", "errno", EIO));
		json_array_append_new(rules, json_pack("{s:s, s:s, s:i}", "event", "pwritev_zero",
		                                       "iotype", "write-zeroes", "errno", EIO));
	}
	err = qmp_send(c, NULL, g, "blockdev-add",
	               json_pack("{s:s, s:s, s:s, s:{s:b}, s:o}", "driver", "blkdebug", "node-name",
	                         "err0", "image", "q0", "cache", "no-flush", 1, "inject-error",
	                         rules));
	/* QMP answers in order: the reopen's reply says whether both took effect. */
	if (!err)
		err = qmp_send(c, j, g, "blockdev-reopen",
		               json_pack("{s:[{s:s, s:s, s:s, s:{s:b}}]}", "options", "driver",
		                         "raw", "node-name", "top0", "file", "err0", "cache",
		                         "no-flush", 1));
	return err;
}

static void disk_error_undo(struct ctl *c, struct guest *g)
{
	qmp_send(c, NULL, g, "blockdev-reopen",
	         json_pack("{s:[{s:s, s:s, s:s, s:{s:b}}]}", "options", "driver", "raw",
	                   "node-name", "top0", "file", "q0", "cache", "no-flush", 1));
	qmp_send(c, NULL, g, "blockdev-del", json_pack("{s:s}", "node-name", "err0"));
	g->disk_fault = 0;
}

static void add_revert(struct ctl *c, struct ctl_fault *f, uint64_t duration_ms)
{
	f->due_ms = duration_ms ? mc_now_ms() + (int64_t)duration_ms : 0;
	f->next = c->faults;
	c->faults = f;
}

static void undo(struct ctl *c, struct ctl_fault *f)
{
	struct guest *g = strcmp(f->kind->name, "partition") ? &c->g[f->gi] : NULL;
	int same = g && g->boot_id == f->boot_id && g->be && mc_vm_state_live(g->state);

	if (strcmp(f->kind->name, "partition") == 0) {
		int err = mc_net_partition(f->side_a, f->na, f->side_b, f->nb, 0);

		c->partitioned = 0;
		if (err)
			mc_warn("fault: partition: removing the rules: %s", strerror(-err));
		else
			mc_info("fault: partition lifted");
	} else if (strcmp(f->kind->name, "slow-cpu") == 0) {
		slow_cpu_undo(c, f);
		mc_info("fault: vm %s: slow-cpu lifted", c->g[f->gi].name);
	} else if (!same) {
		mc_info("fault: vm %s: %s not reverted: the guest is %s", c->g[f->gi].name,
		        f->kind->name, mc_vm_state_name(c->g[f->gi].state));
	} else if (strcmp(f->kind->name, "hang") == 0) {
		qmp_send(c, NULL, g, "cont", NULL);
		g->last_hb_ms = mc_now_ms(); /* heartbeats resume from now */
		mc_info("fault: vm %s: hang over (cont)", g->name);
	} else if (strcmp(f->kind->name, "disk-error") == 0) {
		disk_error_undo(c, g);
		mc_info("fault: vm %s: disk-error over", g->name);
	} else if (strcmp(f->kind->name, "link-down") == 0) {
		qmp_send(c, NULL, g, "set_link", json_pack("{s:s, s:b}", "name", "n0", "up", 1));
		mc_info("fault: vm %s: link up again", g->name);
	}
	free(f->side_a);
	free(f->side_b);
	free(f);
}

int64_t ctl_fault_tick(struct ctl *c, int64_t now)
{
	struct ctl_fault **pp = &c->faults;
	int64_t next = -1;

	while (*pp) {
		struct ctl_fault *f = *pp;

		if (f->due_ms && now >= f->due_ms) {
			*pp = f->next;
			undo(c, f);
			continue;
		}
		if (f->due_ms && (next < 0 || f->due_ms < next))
			next = f->due_ms;
		pp = &f->next;
	}
	return next;
}

void ctl_fault_cleanup(struct ctl *c)
{
	while (c->faults) {
		struct ctl_fault *f = c->faults;

		c->faults = f->next;
		undo(c, f);
	}
}

static int partition(struct ctl *c, struct job *j, const struct mc_target *t, uint64_t duration_ms,
                     const struct mc_fault_kind *k)
{
	/* Both sides over the whole cluster: across hosts, each host's fleet namespace routes
	 * its own guests' traffic, so every host installs the same rules. */
	unsigned total = c->cfg->cluster_n ? c->cfg->cluster_n : c->cfg->n;
	struct ctl_fault *f = calloc(1, sizeof(*f));
	int err;

	if (!f || !(f->side_a = calloc(total, sizeof(uint32_t))) ||
	    !(f->side_b = calloc(total, sizeof(uint32_t)))) {
		if (f)
			free(f->side_a);
		free(f);
		return -ENOMEM;
	}
	f->kind = k;
	for (unsigned gi = 0; gi < total; gi++) {
		char name[16];

		snprintf(name, sizeof(name), "g%04u", gi);
		if (mc_target_match(t, name, gi))
			f->side_a[f->na++] = mc_net_guest_addr(gi);
		else
			f->side_b[f->nb++] = mc_net_guest_addr(gi);
	}
	err = mc_net_partition(f->side_a, f->na, f->side_b, f->nb, 1);
	for (unsigned i = 0; i < c->n; i++) {
		struct guest *g = &c->g[i];

		if (!ctl_here(g) || !mc_target_match(t, g->name, g->gindex))
			continue;
		j->pending++;
		result(c, j, g, err, err ? "installing the partition's routing rules" : NULL, NULL);
	}
	if (err) {
		mc_net_partition(f->side_a, f->na, f->side_b, f->nb, 0);
		free(f->side_a);
		free(f->side_b);
		free(f);
		return 0;
	}
	c->partitioned = 1;
	mc_info("fault: partition: %zu guests cut off from %zu", f->na, f->nb);
	add_revert(c, f, duration_ms);
	return 0;
}

/* One host-side fault on one live guest; answers through j (now or on the QMP reply). */
static void inject_one(struct ctl *c, struct job *j, struct guest *g, const struct mc_fault_kind *k,
                       json_t *params, uint64_t duration_ms)
{
	struct ctl_fault *f;
	char why[256] = "";
	int err = 0;

	j->pending++;
	if (!g->be || g->pid <= 0 || !mc_vm_state_live(g->state) || g->state == MC_VM_STOPPING) {
		snprintf(why, sizeof(why), "the guest is %s", mc_vm_state_name(g->state));
		result(c, j, g, -ESRCH, why, NULL);
		return;
	}
	if (g->mig && strcmp(k->name, "crash")) {
		/* A crash ends the migration with the guest; anything else waits for it. */
		result(c, j, g, -EBUSY, "the guest is migrating", NULL);
		return;
	}
	if (strcmp(k->name, "reboot") == 0) {
		g->rebooting = 1; /* reap() starts it again */
		err = kill(g->pid, SIGKILL) < 0 ? -errno : 0;
		if (err)
			g->rebooting = 0;
		result(c, j, g, err, NULL, NULL);
		return;
	}
	if (strcmp(k->name, "crash") == 0) {
		err = kill(g->pid, SIGKILL) < 0 ? -errno : 0;
		mc_info("fault: vm %s: crash (SIGKILL qemu %d)", g->name, (int)g->pid);
		result(c, j, g, err, NULL, NULL);
		return;
	}
	if (strcmp(k->name, "hang") == 0 || strcmp(k->name, "link-down") == 0) {
		int hang = k->name[0] == 'h';

		if (!(f = calloc(1, sizeof(*f)))) {
			result(c, j, g, -ENOMEM, NULL, NULL);
			return;
		}
		err = hang ? qmp_send(c, j, g, "stop", NULL)
		           : qmp_send(c, j, g, "set_link",
		                      json_pack("{s:s, s:b}", "name", "n0", "up", 0));
		if (err) {
			free(f);
			result(c, j, g, err, NULL, NULL);
			return;
		}
		mc_info("fault: vm %s: %s", g->name, k->name);
		f->kind = k;
		f->gi = g->index;
		f->boot_id = g->boot_id;
		if (duration_ms || !hang)
			add_revert(c, f, duration_ms);
		else
			free(f); /* a hang without a duration lasts */
		return;
	}
	if (strcmp(k->name, "degrade") == 0) {
		const char *v = json_string_value(json_object_get(params, "errors"));
		long n = v ? strtol(v, NULL, 10) : 1;
		char detail[64];

		if (n < 1 || n > 1000000) {
			result(c, j, g, -EINVAL, "errors: want 1 to 1000000", NULL);
			return;
		}
		g->health_errors += (uint64_t)n;
		mc_info("fault: vm %s: degrade: health errors now %llu", g->name,
		        (unsigned long long)g->health_errors);
		ctl_events_append(c, json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:I}", "t_ms",
		                               (json_int_t)mc_wall_ms(), "guest", g->name, "from",
		                               mc_vm_state_name(g->state), "state",
		                               mc_vm_state_name(g->state), "boot", (int)g->boots,
		                               "reason", "degraded", "health_errors",
		                               (json_int_t)g->health_errors));
		snprintf(detail, sizeof(detail), "health_errors=%llu",
		         (unsigned long long)g->health_errors);
		result(c, j, g, 0, NULL, detail);
		return;
	}
	if (strcmp(k->name, "slow-cpu") == 0) {
		const char *quota = json_string_value(json_object_get(params, "quota"));

		if (!quota || !(f = calloc(1, sizeof(*f)))) {
			result(c, j, g, -EINVAL, "slow-cpu needs quota", NULL);
			return;
		}
		f->kind = k;
		f->gi = g->index;
		f->boot_id = g->boot_id;
		err = slow_cpu(c, g, quota, f, why, sizeof(why));
		if (err) {
			free(f);
			result(c, j, g, err, why, NULL);
			return;
		}
		mc_info("fault: vm %s: slow-cpu %s of a core (%s)", g->name, quota, f->cgroup);
		add_revert(c, f, duration_ms);
		result(c, j, g, 0, NULL, f->cgroup);
		return;
	}
	if (strcmp(k->name, "disk-error") == 0) {
		const char *io = json_string_value(json_object_get(params, "iotype"));

		if (g->disk_fault) {
			result(c, j, g, -EBUSY, "a disk-error is already in force on this guest",
			       NULL);
			return;
		}
		if (!(f = calloc(1, sizeof(*f)))) {
			result(c, j, g, -ENOMEM, NULL, NULL);
			return;
		}
		err = disk_error(c, j, g, io ? io : "both");
		if (err) {
			free(f);
			result(c, j, g, err, "QMP blockdev-add / blockdev-reopen", NULL);
			return;
		}
		mc_info("fault: vm %s: disk-error (%s)", g->name, io ? io : "both");
		g->disk_fault = 1;
		f->kind = k;
		f->gi = g->index;
		f->boot_id = g->boot_id;
		add_revert(c, f, duration_ms);
		return;
	}
	snprintf(why, sizeof(why), "%s is not carried out by the controller", k->name);
	result(c, j, g, -ENOTSUP, why, NULL);
}

void ctl_reboot_continue(struct ctl *c, struct guest *g)
{
	g->rebooting = 0;
	g->disk_fault = 0; /* a new QEMU: its block graph has no blkdebug node */
	ctl_fail_runs(c, g, "guest rebooted");
	mc_vmm_qemu_ops.destroy(&g->be);
	if (g->state == MC_VM_BOOTING)
		c->booting--;
	g->state = MC_VM_DEFINED;
	g->t_ready_ms = 0;
	g->last_hb_ms = 0;
	g->hb_seq = 0;
	g->reason[0] = '\0';
	mc_info("fault: vm %s: rebooting (cold boot, same disk and identity)", g->name);
	ctl_start_guest(c, g, 1);
}

void ctl_req_fault(struct ctl *c, json_t *req, const unsigned char *client, size_t len)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	const char *kname = json_string_value(json_object_get(req, "kind"));
	json_t *params = json_object_get(req, "params");
	json_int_t dur = json_integer_value(json_object_get(req, "duration_ms"));
	const struct mc_fault_kind *k = kname ? mc_fault_kind_find(kname) : NULL;
	struct mc_target t;
	struct job *j;
	unsigned matched = 0;

	if (!target || mc_target_parse(target, &t)) {
		ctl_reply_error(c, client, len, "malformed target");
		return;
	}
	if (!k || k->where != MC_FAULT_HOST) {
		ctl_reply_error(c, client, len, "not a fault kind the controller carries out");
		return;
	}
	if (dur < 0 || (dur && !k->duration)) {
		ctl_reply_error(c, client, len, "bad duration for this fault kind");
		return;
	}
	for (unsigned i = 0; i < c->n; i++)
		matched += ctl_here(&c->g[i]) &&
		           mc_target_match(&t, c->g[i].name, c->g[i].gindex) != 0;
	/* Across hosts a partition also goes to the hosts of the other side only. */
	if (!matched && !(c->cfg->uplink && strcmp(k->name, "partition") == 0)) {
		ctl_reply_error(c, client, len, "target matches no guest");
		return;
	}
	if (strcmp(k->name, "partition") == 0 && c->partitioned) {
		ctl_reply_error(c, client, len, "a partition is already in force");
		return;
	}
	if (!(j = ctl_job_new(c, "fault", client, len)))
		return;
	snprintf(j->fault, sizeof(j->fault), "%s",
	         json_string_value(json_object_get(req, "name")) ?: "");
	snprintf(j->kind, sizeof(j->kind), "%s", k->name);
	if (strcmp(k->name, "partition") == 0) {
		partition(c, j, &t, (uint64_t)dur, k);
	} else {
		for (unsigned i = 0; i < c->n; i++)
			if (ctl_here(&c->g[i]) && mc_target_match(&t, c->g[i].name, c->g[i].gindex))
				inject_one(c, j, &c->g[i], k, params, (uint64_t)dur);
	}
	ctl_job_part_done(c, j);
}

const char *ctl_fault_on_guest(struct ctl *c, unsigned gi)
{
	for (struct ctl_fault *f = c->faults; f; f = f->next)
		if (strcmp(f->kind->name, "partition") && f->gi == gi &&
		    f->boot_id == c->g[gi].boot_id)
			return f->kind->name;
	return c->g[gi].disk_fault ? "disk-error" : "";
}
