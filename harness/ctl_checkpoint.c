/* ctl_checkpoint.c — a guest's whole state to files and back: the reactive baseline to live
 * migration. checkpoint: QMP stop, QEMU's migration to "exec:cat > state", a copy of the
 * disk overlay while QEMU has it flushed and inactive, cont. restore: a new QEMU with the
 * checkpoint's disk that loads the state (as a clone loads its template's) and runs on from
 * there; its agent, whose TCP connection is older than the controller's, reconnects by its
 * ZeroMQ heartbeat and says HELLO again. Layout of a checkpoint: DIR/<guest>/{state,
 * disk.qcow2, checkpoint.json}. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_internal.h"
#include "log.h"
#include "overlay.h"
#include "resolve.h"
#include "util.h"

enum ck_phase { CK_STOPPING, CK_SAVING, CK_RESUMING };

struct ctl_ckpt {
	enum ck_phase phase;
	struct job *job;
	char dir[PATH_MAX]; /* DIR/<guest> */
	int64_t t0_ms, t_saved_ms;
	long long state_bytes, disk_bytes;
	char error[200]; /* set when it failed: sent after cont */
};

static void reply(struct ctl *c, struct job *j, json_t *msg)
{
	ctl_job_send(c, j, msg, NULL, 0);
	ctl_job_part_done(c, j);
}

static void reply_error(struct ctl *c, struct job *j, struct guest *g, const char *why)
{
	reply(c, j, json_pack("{s:s, s:s, s:s}", "type", "result", "guest", g->name, "error", why));
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* ---------- checkpoint ---------- */

static void ck_finish(struct ctl *c, struct guest *g)
{
	struct ctl_ckpt *k = g->ckpt;
	int64_t now = mc_now_ms();

	g->ckpt = NULL;
	g->last_hb_ms = now; /* the pause is not a lost heartbeat */
	if (k->error[0]) {
		mc_warn("vm %s: checkpoint failed: %s", g->name, k->error);
		reply_error(c, k->job, g, k->error);
	} else {
		mc_info("vm %s: checkpoint in %s: %lld ms (paused %lld ms), state %.1f MiB, disk "
		        "%.1f MiB",
		        g->name, k->dir, (long long)(now - k->t0_ms),
		        (long long)(k->t_saved_ms - k->t0_ms), (double)k->state_bytes / (1 << 20),
		        (double)k->disk_bytes / (1 << 20));
		ctl_events_append(c, json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s}", "t_ms",
		                               (json_int_t)mc_wall_ms(), "guest", g->name, "from",
		                               mc_vm_state_name(g->state), "state",
		                               mc_vm_state_name(g->state), "boot", (int)g->boots,
		                               "reason", "checkpointed", "dir", k->dir));
		reply(c, k->job,
		      json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "type", "result",
		                "guest", g->name, "state", mc_vm_state_name(g->state), "dir",
		                k->dir, "total_ms", (json_int_t)(now - k->t0_ms), "paused_ms",
		                (json_int_t)(now - k->t0_ms), "state_bytes",
		                (json_int_t)k->state_bytes, "disk_bytes",
		                (json_int_t)k->disk_bytes));
	}
	free(k);
}

static void on_cont(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl_ckpt *k = g->ckpt;

	if (!k || k->phase != CK_RESUMING)
		return;
	if (!ret && !k->error[0])
		snprintf(k->error, sizeof(k->error), "cont after the checkpoint: %s",
		         desc  ? desc
		         : cls ? cls
		               : "error");
	ck_finish(g->ctl, g);
}

static void ck_resume(struct ctl *c, struct guest *g, const char *error)
{
	struct ctl_ckpt *k = g->ckpt;

	if (error && !k->error[0])
		snprintf(k->error, sizeof(k->error), "%s", error);
	k->phase = CK_RESUMING;
	if (mc_vmm_qemu_ops.command(g->be, "cont", NULL, on_cont, g) < 0)
		ck_finish(c, g);
	else
		ctl_epoll_sync(c, g);
}

/* The state is written: copy the disk (QEMU flushed it and lets go of it until cont). */
static void ck_saved(struct ctl *c, struct guest *g)
{
	struct ctl_ckpt *k = g->ckpt;
	struct ctl_guest_paths p;
	char state[PATH_MAX + 32], tmp[PATH_MAX + 32], disk[PATH_MAX + 32], meta[PATH_MAX + 32];
	json_t *j;
	int err;

	k->t_saved_ms = mc_now_ms();
	ctl_guest_paths(g, &p);
	snprintf(tmp, sizeof(tmp), "%s/disk.qcow2.tmp", k->dir);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", k->dir);
	unlink(tmp);
	if ((err = mc_overlay_copy(p.disk, tmp)) < 0) {
		char why[PATH_MAX + 64];

		snprintf(why, sizeof(why), "copy %s: %s", p.disk, strerror(-err));
		ck_resume(c, g, why);
		return;
	}
	snprintf(state, sizeof(state), "%s/state", k->dir);
	snprintf(tmp, sizeof(tmp), "%s/state.tmp", k->dir);
	rename(tmp, state);
	snprintf(tmp, sizeof(tmp), "%s/disk.qcow2.tmp", k->dir);
	rename(tmp, disk);
	k->state_bytes = file_size(state);
	k->disk_bytes = file_size(disk);
	snprintf(meta, sizeof(meta), "%s/checkpoint.json", k->dir);
	j = json_pack("{s:i, s:s, s:i, s:b, s:I, s:I, s:I}", "version", 1, "guest", g->name,
	              "index", (int)g->gindex, "from_template", g->from_template, "t_ms",
	              (json_int_t)mc_wall_ms(), "mem_mib", (json_int_t)c->cfg->mem_mib, "boot_id",
	              (json_int_t)g->boot_id);
	snprintf(tmp, sizeof(tmp), "%s/checkpoint.json.tmp", k->dir);
	if (!j || json_dump_file(j, tmp, JSON_INDENT(1)) < 0 || rename(tmp, meta) < 0)
		snprintf(k->error, sizeof(k->error), "write %s", meta);
	json_decref(j);
	ck_resume(c, g, NULL);
}

void ctl_checkpoint_event(struct ctl *c, struct guest *g, json_t *data)
{
	struct ctl_ckpt *k = g->ckpt;
	const char *st = json_string_value(json_object_get(data, "status"));

	if (!k || k->phase != CK_SAVING || !st)
		return;
	if (!strcmp(st, "completed"))
		ck_saved(c, g);
	else if (!strcmp(st, "failed") || !strcmp(st, "cancelled"))
		ck_resume(c, g, "QEMU could not write the state");
}

static void on_step(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct guest *g = arg;
	struct ctl_ckpt *k = g->ckpt;
	char why[240];

	if (ret || !k || k->phase == CK_RESUMING)
		return;
	snprintf(why, sizeof(why), "QEMU: %s", desc ? desc : cls ? cls : "error");
	ck_resume(g->ctl, g, why);
}

static void ck_begin(struct ctl *c, struct job *j, struct guest *g, const char *root)
{
	struct ctl_ckpt *k = calloc(1, sizeof(*k));
	char uri[PATH_MAX + 64];
	int err;

	if (!k) {
		reply_error(c, j, g, "out of memory");
		return;
	}
	k->job = j;
	k->t0_ms = mc_now_ms();
	snprintf(k->dir, sizeof(k->dir), "%s/%s", root, g->name);
	if ((err = mc_mkdir_p(k->dir, 0755)) < 0) {
		char why[PATH_MAX + 64];

		snprintf(why, sizeof(why), "mkdir %s: %s", k->dir, strerror(-err));
		reply_error(c, j, g, why);
		free(k);
		return;
	}
	g->ckpt = k;
	k->phase = CK_SAVING;
	snprintf(uri, sizeof(uri), "exec:cat > '%s/state.tmp'", k->dir);
	mc_vmm_qemu_ops.command(g->be, "stop", NULL, on_step, g);
	mc_vmm_qemu_ops.command(g->be, "migrate-set-capabilities",
	                        json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "capabilities",
	                                  "capability", "x-ignore-shared", "state", 1, "capability",
	                                  "events", "state", 1),
	                        on_step, g);
	mc_vmm_qemu_ops.command(g->be, "migrate-set-parameters",
	                        json_pack("{s:I}", "max-bandwidth", (json_int_t)(4ll << 30)),
	                        on_step, g);
	mc_vmm_qemu_ops.command(g->be, "migrate", json_pack("{s:s}", "uri", uri), on_step, g);
	ctl_epoll_sync(c, g);
}

/* ---------- restore ---------- */

struct ctl_restore {
	struct job *job;
	char dir[PATH_MAX];
	int from_template;
	int64_t t0_ms;
};

/* After the old QEMU (if any) is gone: the checkpoint's disk, then a QEMU that loads it. */
void ctl_restore_continue(struct ctl *c, struct guest *g)
{
	struct ctl_restore *r = g->restore;
	struct ctl_guest_paths p;
	char disk[PATH_MAX + 32], state[PATH_MAX + 32], why[PATH_MAX + 80];
	int err;

	ctl_fail_runs(c, g, "guest restored from a checkpoint");
	mc_vmm_qemu_ops.destroy(&g->be);
	if (g->state == MC_VM_BOOTING)
		c->booting--;
	g->state = MC_VM_DEFINED;
	g->pid = 0;
	g->epoll_added = 0;
	g->t_ready_ms = 0;
	g->last_hb_ms = 0;
	g->hb_seq = 0;
	g->reason[0] = '\0';
	g->disk_fault = 0;
	ctl_guest_paths(g, &p);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", r->dir);
	snprintf(state, sizeof(state), "%s/state", r->dir);
	unlink(p.disk);
	if ((err = mc_overlay_copy(disk, p.disk)) < 0) {
		snprintf(why, sizeof(why), "restore: copy %s: %s", disk, strerror(-err));
		ctl_transition(c, g, MC_VM_EV_ERROR, why);
		return;
	}
	mc_info("vm %s: restoring from %s", g->name, r->dir);
	ctl_start_guest_ex(c, g, 1, state, r->from_template);
}

/* The guest restored reached ready (1) or failed (0). */
void ctl_restore_done(struct ctl *c, struct guest *g, int ok)
{
	struct ctl_restore *r = g->restore;
	int64_t now = mc_now_ms();

	if (!r)
		return;
	g->restore = NULL;
	if (ok) {
		mc_info("vm %s: restored from %s in %lld ms", g->name, r->dir,
		        (long long)(now - r->t0_ms));
		ctl_events_append(c, json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s}", "t_ms",
		                               (json_int_t)mc_wall_ms(), "guest", g->name, "from",
		                               mc_vm_state_name(g->state), "state",
		                               mc_vm_state_name(g->state), "boot", (int)g->boots,
		                               "reason", "restored", "dir", r->dir));
		reply(c, r->job,
		      json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "result", "guest", g->name,
		                "state", mc_vm_state_name(g->state), "dir", r->dir, "total_ms",
		                (json_int_t)(now - r->t0_ms)));
	} else {
		reply_error(c, r->job, g, g->reason[0] ? g->reason : "the restored guest failed");
	}
	free(r);
}

static void restore_begin(struct ctl *c, struct job *j, struct guest *g, const char *root)
{
	struct ctl_restore *r = calloc(1, sizeof(*r));
	char meta[PATH_MAX + 32], state[PATH_MAX + 32], disk[PATH_MAX + 32], why[PATH_MAX + 80];
	json_t *m;
	json_error_t je;

	if (!r) {
		reply_error(c, j, g, "out of memory");
		return;
	}
	r->job = j;
	r->t0_ms = mc_now_ms();
	snprintf(r->dir, sizeof(r->dir), "%s/%s", root, g->name);
	snprintf(meta, sizeof(meta), "%s/checkpoint.json", r->dir);
	snprintf(state, sizeof(state), "%s/state", r->dir);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", r->dir);
	m = json_load_file(meta, 0, &je);
	if (!m || access(state, R_OK) < 0 || access(disk, R_OK) < 0) {
		snprintf(why, sizeof(why),
		         "no checkpoint of %s in %s (checkpoint.json, state, disk)", g->name,
		         r->dir);
		goto fail;
	}
	if (strcmp(json_string_value(json_object_get(m, "guest")) ?: "", g->name) ||
	    json_integer_value(json_object_get(m, "mem_mib")) != (json_int_t)c->cfg->mem_mib) {
		snprintf(why, sizeof(why), "%s is a checkpoint of another guest or memory size",
		         meta);
		goto fail;
	}
	r->from_template = json_is_true(json_object_get(m, "from_template"));
	json_decref(m);
	g->restore = r;
	if (g->pid > 0) {
		/* The running QEMU goes first; reap() continues (ctl_restore_continue). */
		mc_vmm_qemu_ops.kill(g->be);
		return;
	}
	ctl_restore_continue(c, g);
	return;
fail:
	json_decref(m);
	free(r);
	reply_error(c, j, g, why);
}

/* ---------- requests ---------- */

struct ck_req {
	int restore;
	const char *op;
	char root[PATH_MAX];
};

static void checkpoint_one(struct ctl *c, struct job *j, struct guest *g, void *arg)
{
	const struct ck_req *r = arg;
	char why[160] = "";
	const char *f;

	if (g->mig || g->ckpt || g->restore || g->op_job || g->rebooting || g->revive_job)
		snprintf(why, sizeof(why), "another operation on this guest is in progress");
	else if (c->cfg->share[0])
		snprintf(why, sizeof(why),
		         "the cluster shares a host directory over virtio-9p (--share), which QEMU "
		         "cannot save once mounted");
	else if (r->restore ? !(g->state == MC_VM_READY || g->state == MC_VM_BUSY ||
	                        g->state == MC_VM_PAUSED || g->state == MC_VM_FAILED)
	                    : !(g->state == MC_VM_READY || g->state == MC_VM_BUSY))
		snprintf(why, sizeof(why), "cannot %s a guest that is %s", r->op,
		         mc_vm_state_name(g->state));
	else if (!r->restore && (f = ctl_fault_on_guest(c, g->index))[0])
		snprintf(why, sizeof(why), "a %s fault is in force on it", f);
	if (why[0])
		reply_error(c, j, g, why);
	else if (r->restore)
		restore_begin(c, j, g, r->root);
	else
		ck_begin(c, j, g, r->root);
}

void ctl_req_checkpoint(struct ctl *c, json_t *req, const char *op, const unsigned char *client,
                        size_t len)
{
	const char *dir = json_string_value(json_object_get(req, "dir"));
	struct ck_req r = {.restore = !strcmp(op, "restore"), .op = op};

	if (dir && dir[0] != '/') {
		ctl_reply_error(c, client, len,
		                "the checkpoint directory must be an absolute path");
		return;
	}
	if (dir)
		snprintf(r.root, sizeof(r.root), "%s", dir);
	else
		snprintf(r.root, sizeof(r.root), "%s/checkpoints", c->cfg->dir);
	ctl_for_target(c, req, op, client, len, checkpoint_one, &r);
}

void ctl_checkpoint_cleanup(struct ctl *c, struct guest *g)
{
	if (g->ckpt) {
		free(g->ckpt);
		g->ckpt = NULL;
	}
	if (g->restore) {
		free(g->restore);
		g->restore = NULL;
	}
	(void)c;
}

/* ---------- revive: a failed guest boots again (a job's restart) ---------- */

void ctl_revive_done(struct ctl *c, struct guest *g, int ok)
{
	struct job *j = g->revive_job;

	if (!j)
		return;
	g->revive_job = NULL;
	if (ok)
		reply(c, j,
		      json_pack("{s:s, s:s, s:s, s:I}", "type", "result", "guest", g->name, "state",
		                mc_vm_state_name(g->state), "boot_ms",
		                (json_int_t)(g->t_ready_ms - g->t_start_ms)));
	else
		reply_error(c, j, g, g->reason[0] ? g->reason : "the guest did not come back");
}

static void revive_one(struct ctl *c, struct job *j, struct guest *g, void *arg)
{
	(void)arg;
	if (g->state != MC_VM_FAILED || g->revive_job || g->restore || g->rebooting) {
		char why[96];

		snprintf(why, sizeof(why), "cannot revive a guest that is %s",
		         mc_vm_state_name(g->state));
		reply_error(c, j, g, why);
		return;
	}
	g->revive_job = j;
	/* Cold boot with its own disk, as a reboot: its QEMU goes first if it is still there
	 * (reap() continues), else now. */
	if (g->pid > 0) {
		g->rebooting = 1;
		mc_vmm_qemu_ops.kill(g->be);
	} else {
		ctl_reboot_continue(c, g);
	}
}

void ctl_req_revive(struct ctl *c, json_t *req, const unsigned char *client, size_t len)
{
	ctl_for_target(c, req, "revive", client, len, revive_one, NULL);
}
