/* run_policy.c — a fault-tolerance policy carried out in a real run (run_policy.h).
 *
 * The loop, per workload: the predictor's warnings (predict.h, the same seeded model the
 * simulator uses) are injected at their times as degrade faults, which raise the guest's
 * health error counter in the controller; the controller writes each change to the run's
 * events.jsonl, and this executor reads that stream back: a "degraded" line is a WARNING to
 * the policy, a guest that turns failed is a FAILURE. The policy's MIGRATE actions become
 * `migrate` requests to the controller; once one completes, the guest runs in a new QEMU
 * (the "spare") and a failure planned for its old node is not injected (run_faults.c asks
 * mc_run_policy_vacated()). CHECKPOINT actions are carried out by workloads that take
 * application-level checkpoints (mc-ring --checkpoint DIR, given DIR by the run): the executor
 * asks rank 0's guest for one (DIR/request) and reads the workload's own output for when it
 * is done, so a restart resumes from it; other workloads' checkpoints are refused.
 *
 * Progress as the simulator counts it: a workload that says when its work begins (mc-ring's
 * "start" line) makes none while it first launches (ft/launch_s, the simulator's
 * launch_cost), and a restart lasts from the failure until its work begins again
 * (ft/restart_s: the failed guests revived and the job relaunched). Work lost at a failure is
 * the progress since the last checkpoint or since the work began. Other workloads progress
 * from the start of each attempt, and their restart ends when they are launched again.
 */
#include "run_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "fault.h"
#include "inject.h"
#include "log.h"
#include "policies/policy.h"
#include "predict.h"
#include "simulate.h"
#include "util.h"

#define MAX_MIGS      16     /* migrations in flight at once */
#define MAX_KIDS      64     /* warning injections in flight */
#define END_WAIT_MS   240000 /* end(): how long migrations in flight may still take */
#define EVENTS_MAX_RD 65536
#define CKPT_WAIT_MS                                                                               \
	300000 /* a checkpoint not done by then is given up (it still counts                       \
	          if the workload takes it later) */

struct mig {
	struct mc_client *cl;
	unsigned guest;
	unsigned node; /* the node it vacates */
	int got_result;
};

struct mc_run_policy {
	const struct mc_experiment *e;
	struct mc_common_opts c;
	struct mc_policy *pol;
	struct mc_policy_env env;
	struct mc_predict_list warn;
	unsigned n;         /* guests = nodes the job starts on */
	unsigned *node_of;  /* guest -> the node that holds its work now */
	int64_t *moved_ms;  /* guest -> when its work last moved (wall ms), 0 = never */
	char (*why)[160];   /* guest -> vacated() answer */
	unsigned next_node; /* the next spare's node number */
	char log_path[PATH_MAX + 32], ev_path[PATH_MAX + 32];
	off_t ev_off;
	char ev_tail[1024];
	/* the workload's own output (checkpoints, the start of its work) */
	char out_path[PATH_MAX + 32];
	off_t out_off;
	char out_tail[1024];
	char ckpt_dir[128];      /* its --checkpoint DIR; "" = it takes none */
	int ckpt_given;          /* the experiment gave mc-ring that DIR itself */
	int ckpt_pending;        /* a checkpoint was asked for and is not done */
	int64_t ckpt_req_mono;   /* when it was asked for */
	int64_t t_progress_mono; /* progress counts from here (attempt start, or its "start") */
	int64_t t_ckpt_mono;     /* the last checkpoint of this job; 0 = none */
	double saved_s;          /* progress the last checkpoint holds */
	int awaiting_start;      /* launching: progress begins at the workload's "start" line */
	int64_t t_launch_mono;   /* when the current attempt was launched */
	unsigned checkpoints;
	json_t *ckpt_costs, *launches;
	/* the current workload */
	int active;
	unsigned wi;
	size_t next_warn;
	int64_t t0_mono, t0_wall;
	double wake_s;
	int job_failed;
	int64_t t_job0_mono;     /* the job's latest (re)start */
	int64_t t_failed_mono;   /* when it failed (the first failure of this attempt) */
	unsigned char *failed_g; /* guest -> failed during this attempt */
	unsigned restarts;
	json_t *restart_times;
	struct mig migs[MAX_MIGS];
	unsigned nmigs;
	pid_t kids[MAX_KIDS];
	unsigned nkids;
	/* its figures */
	unsigned warnings, false_alarms, migrations, failures, avoided, refused, failed_migs;
	double work_lost_s;
	json_t *downtimes, *totals;
};

static void log_line(struct mc_run_policy *p, json_t *rec)
{
	char *s = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	int fd;

	json_decref(rec);
	if (!s)
		return;
	fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		size_t len = strlen(s);

		s[len] = '\n';
		if (write(fd, s, len + 1) != (ssize_t)(len + 1))
			mc_debug("run: %s: %s", p->log_path, strerror(errno));
		close(fd);
	}
	free(s);
}

static void on_record(void *ctx, const struct mc_policy_record *r)
{
	struct mc_run_policy *p = ctx;
	json_t *j = mc_sim_record_to_json(r);

	if (!j)
		return;
	json_object_set_new(j, "type", json_string("decision"));
	if (r->event_node < p->n || r->event == MC_POLICY_EV_WARNING ||
	    r->event == MC_POLICY_EV_FAILURE) {
		for (unsigned g = 0; g < p->n; g++)
			if (p->node_of[g] == r->event_node) {
				char name[16];

				snprintf(name, sizeof(name), "g%04u", g);
				json_object_set_new(j, "guest", json_string(name));
				break;
			}
	}
	if (r->refused)
		p->refused++;
	log_line(p, j);
	if (r->action.act != MC_POLICY_NOTHING || r->refused)
		fprintf(stderr, "run: policy %s: %s on node %u%s%s\n", r->policy,
		        mc_policy_act_name(r->action.act), r->action.node,
		        r->refused ? ": refused: " : "", r->refused ? r->why : "");
}

struct mc_run_policy *mc_run_policy_new(const struct mc_experiment *e,
                                        const struct mc_common_opts *c,
                                        const struct mc_fault_sched *s, uint64_t fault_seed,
                                        const char *rundir, char *err, size_t errlen)
{
	struct mc_run_policy *p;
	struct mc_sim_config cfg = {0};
	struct mc_predict pred;
	struct mc_policy_param params[MC_EXP_MAX_POLICY_PARAMS];
	double rate = 0;
	unsigned n = e->cluster.guests;

	if (errlen)
		err[0] = '\0';
	if (!e->policy.set)
		return NULL;
	if (!(p = calloc(1, sizeof(*p)))) {
		mc_errf(err, errlen, "policy: out of memory");
		return NULL;
	}
	p->e = e;
	p->c = *c;
	p->n = n;
	p->wake_s = -1;
	p->next_node = n;
	p->node_of = calloc(n, sizeof(*p->node_of));
	p->moved_ms = calloc(n, sizeof(*p->moved_ms));
	p->why = calloc(n, sizeof(*p->why));
	p->failed_g = calloc(n, 1);
	p->restart_times = json_array();
	p->downtimes = json_array();
	p->totals = json_array();
	p->ckpt_costs = json_array();
	p->launches = json_array();
	if (!p->node_of || !p->moved_ms || !p->why || !p->failed_g || !p->restart_times ||
	    !p->downtimes || !p->totals || !p->ckpt_costs || !p->launches) {
		mc_errf(err, errlen, "policy: out of memory");
		goto fail;
	}
	for (unsigned g = 0; g < n; g++)
		p->node_of[g] = g;
	snprintf(p->log_path, sizeof(p->log_path), "%s/policy.jsonl", rundir);
	snprintf(p->ev_path, sizeof(p->ev_path), "%s/events.jsonl", rundir);
	/* What the simulator would tell the policy; without a simulate section the work and
	 * the costs are unknown (0). */
	if (e->simulate.set) {
		if (mc_sim_config_resolve(e, n, NULL, fault_seed, &cfg, err, errlen) < 0)
			goto fail;
	} else {
		cfg.nodes = n;
		cfg.seed = fault_seed;
	}
	if (mc_predict_node_rate(e, n, fault_seed, &rate, err, errlen) < 0)
		goto fail;
	mc_predict_init(&pred, e, fault_seed, rate);
	for (unsigned i = 0; i < e->policy.n_params; i++) {
		params[i].key = e->policy.params[i].key;
		params[i].value = e->policy.params[i].value;
	}
	mc_sim_policy_env(&cfg, &pred, rate, params, e->policy.n_params, &p->env);
	if (!(p->pol = mc_policy_new(e->policy.name, &p->env, err, errlen)))
		goto fail;
	p->env.params = NULL; /* borrowed for init only */
	p->env.n_params = 0;
	mc_policy_set_recorder(p->pol, on_record, p);
	if (mc_predict_schedule(e, s, fault_seed, &p->warn, err, errlen) < 0)
		goto fail;
	return p;
fail:
	mc_run_policy_free(&p);
	return NULL;
}

static double now_s(const struct mc_run_policy *p)
{
	return (double)(mc_now_ms() - p->t0_mono) / 1000.0;
}

/* Since when the job's progress beyond its last checkpoint counts. */
static int64_t progress_from(const struct mc_run_policy *p)
{
	return p->t_ckpt_mono > p->t_progress_mono ? p->t_ckpt_mono : p->t_progress_mono;
}

static void job_of(const struct mc_run_policy *p, double t, struct mc_policy_job *job)
{
	memset(job, 0, sizeof(*job));
	job->now_s = t;
	/* Without a simulate section the work is not known: never "done" before it ends. */
	job->work_s = p->env.work_s > 0 ? p->env.work_s : HUGE_VAL;
	job->saved_s = p->saved_s;
	job->done_s = p->saved_s;
	if (!p->job_failed && !p->awaiting_start)
		job->done_s += t - (double)(progress_from(p) - p->t0_mono) / 1000.0;
	job->last_checkpoint_s = (double)(progress_from(p) - p->t0_mono) / 1000.0;
	job->nodes = p->n;
	job->spares_left = UINT64_MAX;
	job->checkpointing = p->ckpt_pending;
	job->restarting = p->job_failed || p->awaiting_start;
	job->migrating = p->nmigs;
}

static void start_migration(struct mc_run_policy *p, const struct mc_policy_event *ev,
                            const struct mc_policy_action *a);
static void start_checkpoint(struct mc_run_policy *p, const struct mc_policy_event *ev,
                             const struct mc_policy_action *a);

/* Tells the policy about ev and carries out what it asks. */
static void tell(struct mc_run_policy *p, struct mc_policy_event *ev)
{
	struct mc_policy_job job;
	struct mc_policy_out out = {0};
	char err[256];

	job_of(p, ev->now_s, &job);
	out.wake_s = p->wake_s;
	if (mc_policy_decide(p->pol, ev, &job, &out, err, sizeof(err)) < 0) {
		fprintf(stderr, "run: policy: %s\n", err);
		log_line(p, json_pack("{s:s, s:f, s:s}", "type", "error", "time_s", ev->now_s,
		                      "error", err));
		return;
	}
	p->wake_s = out.wake_s;
	for (unsigned i = 0; i < out.n; i++) {
		const struct mc_policy_action *a = &out.acts[i];

		if (a->act == MC_POLICY_MIGRATE)
			start_migration(p, ev, a);
		else if (a->act == MC_POLICY_CHECKPOINT)
			start_checkpoint(p, ev, a);
	}
}

/* The DIR of workload w's application-level checkpoints: mc-ring's ring (not --pingpong),
 * with the DIR the experiment gave it or /data/mc-ckpt/<workload> on each guest's disk
 * (which a revived guest keeps). "" for a workload that takes none. */
static void checkpoint_dir(const struct mc_exp_workload *w, char *dir, size_t cap, int *given)
{
	const char *base = w->program ? strrchr(w->program, '/') : NULL;

	dir[0] = '\0';
	*given = 0;
	base = base ? base + 1 : w->program;
	if (w->kind != MC_EXP_MPI || !base || strcmp(base, "mc-ring") != 0)
		return;
	for (unsigned i = 0; i < w->argc; i++) {
		if (!strcmp(w->argv[i], "--pingpong"))
			return;
		if (!strcmp(w->argv[i], "--checkpoint") && i + 1 < w->argc) {
			snprintf(dir, cap, "%s", w->argv[i + 1]);
			*given = 1;
		} else if (!strncmp(w->argv[i], "--checkpoint=", 13)) {
			snprintf(dir, cap, "%s", w->argv[i] + 13);
			*given = 1;
		}
	}
	if (!*given)
		snprintf(dir, cap, "/data/mc-ckpt/%s", w->name);
}

const char *mc_run_policy_checkpoint_arg(const struct mc_run_policy *p)
{
	if (!p || !p->active || !p->ckpt_dir[0] || p->ckpt_given)
		return NULL;
	return p->ckpt_dir;
}

void mc_run_policy_begin(struct mc_run_policy *p, unsigned wi, const char *rep_dir)
{
	struct mc_policy_event ev = {.kind = MC_POLICY_EV_START};
	struct stat st;

	p->wi = wi;
	p->active = 1;
	p->t0_mono = mc_now_ms();
	p->t0_wall = mc_wall_ms();
	p->t_job0_mono = p->t0_mono;
	p->t_progress_mono = p->t0_mono;
	p->t_ckpt_mono = 0;
	p->saved_s = 0;
	p->awaiting_start = 0;
	p->ckpt_pending = 0;
	p->checkpoints = 0;
	json_array_clear(p->ckpt_costs);
	json_array_clear(p->launches);
	checkpoint_dir(&p->e->workloads[wi], p->ckpt_dir, sizeof(p->ckpt_dir), &p->ckpt_given);
	p->t_launch_mono = p->t0_mono;
	p->awaiting_start = p->ckpt_dir[0] != 0;
	snprintf(p->out_path, sizeof(p->out_path), "%s/stdout.jsonl", rep_dir);
	p->out_off = 0;
	p->out_tail[0] = '\0';
	p->job_failed = 0;
	p->restarts = 0;
	memset(p->failed_g, 0, p->n);
	json_decref(p->restart_times);
	p->restart_times = json_array();
	p->wake_s = -1;
	p->next_warn = 0;
	p->warnings = p->false_alarms = p->migrations = p->failures = 0;
	p->avoided = p->refused = p->failed_migs = 0;
	p->work_lost_s = 0;
	json_decref(p->downtimes);
	json_decref(p->totals);
	p->downtimes = json_array();
	p->totals = json_array();
	/* The events so far are the cluster's start: read from here on. */
	p->ev_off = stat(p->ev_path, &st) == 0 ? st.st_size : 0;
	p->ev_tail[0] = '\0';
	tell(p, &ev);
}

static int guest_index(const char *name, unsigned n)
{
	char *end;
	unsigned long v;

	if (!name || name[0] != 'g')
		return -1;
	v = strtoul(name + 1, &end, 10);
	return *end || v >= n ? -1 : (int)v;
}

static void reap_kids(struct mc_run_policy *p, int block)
{
	for (unsigned i = 0; i < p->nkids;) {
		if (waitpid(p->kids[i], NULL, block ? 0 : WNOHANG) == p->kids[i] || errno == ECHILD)
			p->kids[i] = p->kids[--p->nkids];
		else
			i++;
	}
}

/* A due warning becomes a degrade fault on its guest (in a child: the controller may be
 * busy). The policy hears of it when the controller's event comes back. */
static void give_warning(struct mc_run_policy *p, const struct mc_predict_warning *w)
{
	char name[16];
	pid_t pid;

	snprintf(name, sizeof(name), "g%04u", w->guest);
	p->warnings++;
	p->false_alarms += w->false_alarm != 0;
	log_line(p, json_pack("{s:s, s:s, s:I, s:I, s:I, s:b}", "type", "warning", "guest", name,
	                      "at_ms", (json_int_t)w->at_ms, "actual_ms",
	                      (json_int_t)(mc_now_ms() - p->t0_mono), "predicted_ms",
	                      (json_int_t)w->predicted_ms, "false_alarm", w->false_alarm));
	fprintf(stderr, "run: prediction: %s warned at %.3f s (failure predicted at %.3f s%s)\n",
	        name, (double)(mc_now_ms() - p->t0_mono) / 1000.0, (double)w->predicted_ms / 1000.0,
	        w->false_alarm ? ", a false alarm" : "");
	reap_kids(p, 0);
	if (p->nkids == MAX_KIDS)
		reap_kids(p, 1);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct mc_inject_req req = {.kind = mc_fault_kind_find("degrade"),
		                            .target = name,
		                            .name = "prediction"};
		json_t *recs = NULL;
		char err[256];

		if (mc_inject(&p->c, &req, &recs, err, sizeof(err)) < 0)
			fprintf(stderr, "run: prediction: degrade %s: %s\n", name, err);
		json_decref(recs);
		fflush(NULL);
		_exit(0);
	}
	if (pid > 0)
		p->kids[p->nkids++] = pid;
}

static void start_migration(struct mc_run_policy *p, const struct mc_policy_event *ev,
                            const struct mc_policy_action *a)
{
	char err[256], name[16];
	struct mig *m;
	int g = -1;

	for (unsigned i = 0; i < p->n; i++)
		if (p->node_of[i] == a->node)
			g = (int)i;
	if (g < 0) {
		mc_policy_refused(p->pol, ev->now_s, ev, a, "no guest's work is on that node");
		return;
	}
	for (unsigned i = 0; i < p->nmigs; i++)
		if (p->migs[i].guest == (unsigned)g) {
			mc_policy_refused(p->pol, ev->now_s, ev, a, "already migrating");
			return;
		}
	if (p->nmigs == MAX_MIGS) {
		mc_policy_refused(p->pol, ev->now_s, ev, a, "too many migrations under way");
		return;
	}
	m = &p->migs[p->nmigs];
	memset(m, 0, sizeof(*m));
	snprintf(name, sizeof(name), "g%04d", g);
	if (!(m->cl = mc_client_connect(&p->c, err, sizeof(err))) ||
	    mc_client_send(m->cl, json_pack("{s:s, s:s}", "op", "migrate", "target", name)) < 0) {
		mc_client_destroy(&m->cl);
		mc_policy_refused(p->pol, ev->now_s, ev, a,
		                  err[0] ? err : "controller unreachable");
		return;
	}
	m->guest = (unsigned)g;
	m->node = a->node;
	p->nmigs++;
	fprintf(stderr, "run: policy: migrating %s (%s)\n", name, a->reason);
}

/* A migration's reply: a result, then done. */
static void mig_reply(struct mc_run_policy *p, struct mig *m, json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));
	const char *e = json_string_value(json_object_get(msg, "error"));
	char name[16];
	double t = now_s(p);

	snprintf(name, sizeof(name), "g%04u", m->guest);
	if (!type || strcmp(type, "result"))
		return;
	m->got_result = 1;
	json_object_set_new(msg, "type", json_string("migration"));
	json_object_set_new(msg, "time_s", json_real(t));
	if (e) {
		p->failed_migs++;
		fprintf(stderr, "run: policy: migrating %s failed: %s\n", name, e);
		log_line(p, json_incref(msg));
		return;
	}
	{
		struct mc_policy_event ev = {.kind = MC_POLICY_EV_MIGRATED, .now_s = t};
		double down =
		        (double)json_integer_value(json_object_get(msg, "downtime_ms")) / 1000.0;
		double total =
		        (double)json_integer_value(json_object_get(msg, "total_ms")) / 1000.0;

		p->migrations++;
		json_array_append_new(p->downtimes, json_real(down));
		json_array_append_new(p->totals, json_real(total));
		p->moved_ms[m->guest] = mc_wall_ms();
		ev.node = m->node;
		ev.spare = p->next_node++;
		p->node_of[m->guest] = ev.spare;
		json_object_set_new(msg, "node", json_integer(m->node));
		json_object_set_new(msg, "spare", json_integer(ev.spare));
		log_line(p, json_incref(msg));
		fprintf(stderr, "run: policy: %s migrated in %.3f s (downtime %.3f s)\n", name,
		        total, down);
		tell(p, &ev);
	}
}

static void poll_migrations(struct mc_run_policy *p, int timeout_ms)
{
	for (unsigned i = 0; i < p->nmigs;) {
		struct mig *m = &p->migs[i];
		json_t *msg = NULL;
		int r = mc_client_recv(m->cl, timeout_ms, &msg, NULL, NULL);
		const char *type = json_string_value(json_object_get(msg, "type"));
		int finished = 0;

		if (r == 0) {
			if (type && !strcmp(type, "result"))
				mig_reply(p, m, msg);
			else if (type && !strcmp(type, "error")) {
				p->failed_migs++;
				fprintf(stderr, "run: policy: migrating g%04u: %s\n", m->guest,
				        json_string_value(json_object_get(msg, "error")));
				finished = 1;
			} else if (type && !strcmp(type, "done"))
				finished = 1;
		} else if (r != -ETIMEDOUT) {
			p->failed_migs += !m->got_result;
			finished = 1;
		}
		json_decref(msg);
		if (finished) {
			mc_client_destroy(&m->cl);
			*m = p->migs[--p->nmigs];
			continue;
		}
		if (r == 0)
			continue; /* there may be more */
		i++;
	}
}

/* One line of the controller's events file. */
static void on_event_line(struct mc_run_policy *p, const char *line)
{
	json_t *ev = json_loads(line, 0, NULL);
	const char *reason = json_string_value(json_object_get(ev, "reason"));
	const char *state = json_string_value(json_object_get(ev, "state"));
	const char *from = json_string_value(json_object_get(ev, "from"));
	int g = guest_index(json_string_value(json_object_get(ev, "guest")), p->n);
	double t = now_s(p);

	if (g < 0 || !state) {
		json_decref(ev);
		return;
	}
	if (reason && !strcmp(reason, "degraded")) {
		/* The health signal: a warning; the predictor's lead says when the failure is due,
		 * its precision how much to believe it. */
		struct mc_policy_event w = {.kind = MC_POLICY_EV_WARNING,
		                            .now_s = t,
		                            .node = p->node_of[g],
		                            .predicted_s = t + p->env.lead_s,
		                            .signal = p->env.precision > 0 ? p->env.precision : 1};

		tell(p, &w);
	} else if (!strcmp(state, "failed") && from && strcmp(from, "failed")) {
		struct mc_policy_event f = {
		        .kind = MC_POLICY_EV_FAILURE, .now_s = t, .node = p->node_of[g]};

		p->failures++;
		p->failed_g[g] = 1;
		if (!p->job_failed) {
			/* The progress since the last checkpoint (or since the work began) is
			 * lost; a checkpoint under way is lost with it. A failure while the job
			 * is still relaunching loses nothing more. */
			p->job_failed = 1;
			p->t_failed_mono = mc_now_ms();
			if (!p->awaiting_start)
				f.lost_s = t - (double)(progress_from(p) - p->t0_mono) / 1000.0;
			p->work_lost_s += f.lost_s;
			if (p->ckpt_pending)
				log_line(p, json_pack("{s:s, s:f, s:s}", "type", "checkpoint",
				                      "time_s", t, "outcome",
				                      "lost: the job failed first"));
			p->ckpt_pending = 0;
		}
		log_line(p, json_pack("{s:s, s:f, s:s, s:s, s:f}", "type", "failure", "time_s", t,
		                      "guest", json_string_value(json_object_get(ev, "guest")),
		                      "reason", reason ? reason : "", "lost_s", f.lost_s));
		tell(p, &f);
	}
	json_decref(ev);
}

/* The new lines of a file another process appends to, from *off on, each to fn; tail
 * (1024 bytes) keeps an unfinished last line for the next call. */
static void read_lines(struct mc_run_policy *p, const char *path, off_t *off, char *tail,
                       void (*fn)(struct mc_run_policy *, const char *))
{
	char buf[EVENTS_MAX_RD + 1024];
	size_t have = strlen(tail);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;
	char *line, *nl;

	if (fd < 0)
		return;
	memcpy(buf, tail, have);
	got = pread(fd, buf + have, EVENTS_MAX_RD, *off);
	close(fd);
	if (got <= 0)
		return;
	*off += got;
	have += (size_t)got;
	buf[have] = '\0';
	for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		fn(p, line);
	}
	/* An unfinished last line waits for the rest (a line longer than the tail is dropped). */
	snprintf(tail, 1024, "%s", strlen(line) < 1024 ? line : "");
}

static void read_events(struct mc_run_policy *p)
{
	read_lines(p, p->ev_path, &p->ev_off, p->ev_tail, on_event_line);
}

/* The job's work begins: at the first attempt, or again after a restart (RESUMED). */
static void work_begins(struct mc_run_policy *p)
{
	int64_t now = mc_now_ms();
	double launch_s = (double)(now - p->t_launch_mono) / 1000.0;
	struct mc_policy_event ev = {.kind = MC_POLICY_EV_RESUMED, .now_s = now_s(p)};

	p->awaiting_start = 0;
	p->t_progress_mono = now;
	log_line(p, json_pack("{s:s, s:f, s:f, s:f}", "type", "work", "time_s", now_s(p),
	                      "launch_s", launch_s, "saved_s", p->saved_s));
	if (!p->restarts) {
		json_array_append_new(p->launches, json_real(launch_s));
		fprintf(stderr, "run: policy: the job's work begins after a %.3f s launch\n",
		        launch_s);
	} else {
		double restart_s = (double)(now - p->t_failed_mono) / 1000.0;

		json_array_append_new(p->restart_times, json_real(restart_s));
		fprintf(stderr,
		        "run: policy: the job works again %.3f s after it failed (relaunch %.3f "
		        "s), "
		        "%s\n",
		        restart_s, launch_s,
		        p->saved_s > 0 ? "from its last checkpoint" : "from the start");
	}
	tell(p, &ev); /* RESUMED, as the simulator says when a launch or a restart is over */
}

/* One line of the workload's output: its checkpoints and the start of its work. */
static void on_out_line(struct mc_run_policy *p, const char *line)
{
	json_t *j = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;
	json_t *ck = json_object_get(j, "checkpoint");

	if (json_is_integer(json_object_get(j, "start")) && p->awaiting_start) {
		work_begins(p);
	} else if (json_is_integer(ck) && !p->job_failed) {
		/* Also one given up on: the workload took it after all. */
		int64_t now = mc_now_ms();
		double cost = json_number_value(json_object_get(j, "cost_us")) / 1e6;
		struct mc_policy_event ev = {.kind = MC_POLICY_EV_CHECKPOINTED, .now_s = now_s(p)};
		struct mc_policy_job job;

		job_of(p, ev.now_s, &job);
		p->saved_s = job.done_s;
		p->t_ckpt_mono = now;
		p->ckpt_pending = 0;
		p->checkpoints++;
		json_array_append_new(p->ckpt_costs, json_real(cost));
		log_line(p,
		         json_pack("{s:s, s:f, s:I, s:f, s:f, s:f}", "type", "checkpoint", "time_s",
		                   ev.now_s, "laps", (json_int_t)json_integer_value(ck), "saved_s",
		                   p->saved_s, "cost_s", cost, "took_s",
		                   (double)(now - p->ckpt_req_mono) / 1000.0));
		fprintf(stderr, "run: policy: checkpoint after %lld laps (%.3f s of work saved)\n",
		        (long long)json_integer_value(ck), p->saved_s);
		tell(p, &ev);
	}
	json_decref(j);
}

/* Only a checkpointing workload says anything the executor reads: the others' output is
 * not opened every pump. */
static void read_out(struct mc_run_policy *p)
{
	if (p->ckpt_dir[0] && p->out_path[0])
		read_lines(p, p->out_path, &p->out_off, p->out_tail, on_out_line);
}

/* A CHECKPOINT action: rank 0's guest (the first) gets the request file its workload looks
 * for before every lap (in a child: the agent may take a while). */
static void start_checkpoint(struct mc_run_policy *p, const struct mc_policy_event *ev,
                             const struct mc_policy_action *a)
{
	char path[sizeof(p->ckpt_dir) + 16];
	pid_t pid;

	if (!p->ckpt_dir[0]) {
		mc_policy_refused(p->pol, ev->now_s, ev, a,
		                  "the workload takes no checkpoints (mc-ring's ring does)");
		return;
	}
	if (p->job_failed || p->awaiting_start) {
		mc_policy_refused(p->pol, ev->now_s, ev, a, "the job is restarting");
		return;
	}
	if (p->ckpt_pending) {
		mc_policy_refused(p->pol, ev->now_s, ev, a, "a checkpoint is under way");
		return;
	}
	reap_kids(p, 0);
	if (p->nkids == MAX_KIDS)
		reap_kids(p, 1);
	snprintf(path, sizeof(path), "%s/request", p->ckpt_dir);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char *argv[] = {"microcosm",   "exec",
		                "-c",          (char *)p->c.cluster,
		                "--state-dir", (char *)p->c.state_dir,
		                "g0000",       "--",
		                "touch",       path,
		                NULL};
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0)
			dup2(null, 1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (pid < 0) {
		mc_policy_refused(p->pol, ev->now_s, ev, a, "cannot fork");
		return;
	}
	p->kids[p->nkids++] = pid;
	p->ckpt_pending = 1;
	p->ckpt_req_mono = mc_now_ms();
	fprintf(stderr, "run: policy: checkpoint asked for (%s)\n", a->reason);
}

void mc_run_policy_pump(struct mc_run_policy *p)
{
	int64_t rel;

	if (!p || !p->active)
		return;
	rel = mc_now_ms() - p->t0_mono;
	while (p->next_warn < p->warn.n) {
		const struct mc_predict_warning *w = &p->warn.items[p->next_warn];

		if (w->workload_index < p->wi) {
			p->next_warn++;
			continue;
		}
		if (w->workload_index > p->wi || (int64_t)w->at_ms > rel)
			break;
		p->next_warn++;
		give_warning(p, w);
	}
	reap_kids(p, 0);
	read_events(p);
	read_out(p);
	if (p->ckpt_pending && mc_now_ms() - p->ckpt_req_mono > CKPT_WAIT_MS) {
		p->ckpt_pending = 0;
		log_line(p, json_pack("{s:s, s:f, s:s}", "type", "checkpoint", "time_s", now_s(p),
		                      "outcome", "given up: not taken within 5 minutes"));
		fprintf(stderr, "run: policy: the checkpoint asked for %d s ago is not taken yet\n",
		        CKPT_WAIT_MS / 1000);
	}
	poll_migrations(p, 1); /* 0 would not look at all */
	if (p->wake_s >= 0 && now_s(p) >= p->wake_s) {
		struct mc_policy_event t = {.kind = MC_POLICY_EV_TIMER, .now_s = now_s(p)};

		p->wake_s = -1;
		tell(p, &t);
	}
}

const char *mc_run_policy_vacated(const struct mc_run_policy *cp, const char *guest)
{
	struct mc_run_policy *p = (struct mc_run_policy *)cp;
	int g;

	if (!p || (g = guest_index(guest, p->n)) < 0 || !p->moved_ms[g])
		return NULL;
	p->avoided++;
	snprintf(p->why[g], sizeof(p->why[g]),
	         "avoided: the guest's work moved to a new QEMU by live migration %.3f s into the "
	         "workload, so the failing node holds nothing",
	         (double)(p->moved_ms[g] - p->t0_wall) / 1000.0);
	return p->why[g];
}

int mc_run_policy_job_failed(struct mc_run_policy *p, char *guests, size_t cap)
{
	size_t used = 0;

	if (!p || !p->active)
		return 0;
	read_events(p); /* the failure may be on record only now */
	read_out(p);    /* before the run keeps this attempt's output aside */
	if (!p->job_failed)
		return 0;
	if (cap)
		guests[0] = '\0';
	for (unsigned g = 0; g < p->n; g++)
		if (p->failed_g[g] && used + 8 < cap)
			used += (size_t)snprintf(guests + used, cap - used, "%sg%04u",
			                         used ? "," : "", g);
	return 1;
}

void mc_run_policy_restarted(struct mc_run_policy *p)
{
	int64_t now = mc_now_ms();
	double restart_s = (double)(now - p->t_failed_mono) / 1000.0;

	p->restarts++;
	if (!p->ckpt_dir[0]) /* otherwise the restart lasts until the work begins again */
		json_array_append_new(p->restart_times, json_real(restart_s));
	log_line(p, json_pack("{s:s, s:f, s:f, s:f}", "type", "restart", "time_s", now_s(p),
	                      "revived_s", restart_s, "saved_s", p->saved_s));
	fprintf(stderr, "run: policy: the job is launched again %.3f s after it failed, %s\n",
	        restart_s,
	        p->saved_s > 0 ? "to resume from its last checkpoint" : "from the start");
	p->job_failed = 0;
	p->t_job0_mono = now;
	p->t_launch_mono = now;
	memset(p->failed_g, 0, p->n);
	/* The new attempt's output starts empty (the failed one's is kept aside). */
	p->out_off = 0;
	p->out_tail[0] = '\0';
	if (p->ckpt_dir[0]) {
		p->awaiting_start = 1; /* RESUMED when the workload says its work begins */
	} else {
		struct mc_policy_event ev = {.kind = MC_POLICY_EV_RESUMED, .now_s = now_s(p)};

		p->t_progress_mono = now;
		tell(p, &ev);
	}
}

json_t *mc_run_policy_end(struct mc_run_policy *p, int ok, double seconds)
{
	int64_t deadline = mc_now_ms() + END_WAIT_MS;
	json_t *ft;

	if (!p)
		return NULL;
	while (p->nmigs && mc_now_ms() < deadline)
		poll_migrations(p, 200);
	for (unsigned i = 0; i < p->nmigs; i++)
		mc_client_destroy(&p->migs[i].cl);
	p->nmigs = 0;
	reap_kids(p, 1);
	read_events(p);
	p->active = 0;
	read_out(p);
	ft = json_pack("{s:s, s:b, s:f, s:i, s:O, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:O, "
	               "s:O, s:i, s:O, s:O}",
	               "policy", mc_policy_ops_of(p->pol)->name, "finished", ok,
	               "time_to_solution_s", seconds, "restarts", (int)p->restarts, "restart_s",
	               p->restart_times, "warnings", (int)p->warnings, "false_alarms",
	               (int)p->false_alarms, "migrations", (int)p->migrations, "failed_migrations",
	               (int)p->failed_migs, "failures", (int)p->failures, "avoided",
	               (int)p->avoided, "refused", (int)p->refused, "work_lost_s", p->work_lost_s,
	               "migrate_downtime_s", p->downtimes, "migrate_total_s", p->totals,
	               "checkpoints", (int)p->checkpoints, "checkpoint_s", p->ckpt_costs,
	               "launch_s", p->launches);
	log_line(p, json_pack("{s:s, s:O}", "type", "summary", "ft", ft));
	return ft;
}

void mc_run_policy_free(struct mc_run_policy **pp)
{
	struct mc_run_policy *p = pp ? *pp : NULL;

	if (!p)
		return;
	*pp = NULL;
	for (unsigned i = 0; i < p->nmigs; i++)
		mc_client_destroy(&p->migs[i].cl);
	reap_kids(p, 1);
	mc_policy_destroy(&p->pol);
	mc_predict_list_fini(&p->warn);
	json_decref(p->downtimes);
	json_decref(p->totals);
	json_decref(p->restart_times);
	json_decref(p->ckpt_costs);
	json_decref(p->launches);
	free(p->failed_g);
	free(p->node_of);
	free(p->moved_ms);
	free(p->why);
	free(p);
}
