/* run_faults.c — a run's fault plan in action: injections on time, events, the record,
 * detection. Called from run.c's workload loop (begin, pump while waiting, end, finish). */
#include "run_faults.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "inject.h"
#include "mc_trace.h"
#include "predict.h"
#include "util.h"

#define CHUNK_GUESTS    60  /* names per injection request (target sets hold 64 items) */
#define HB_POLL_MS      200 /* heartbeat events: how often the controller is asked */
#define OUTPUT_TAIL_MAX (1 << 20)
#define MAX_KIDS        256    /* injections in flight at once */
#define KID_WAIT_MS     120000 /* finish(): how long injections in flight may take */

enum item_state { ITEM_PENDING, ITEM_ARMED, ITEM_DONE };

struct item {
	enum item_state state;
	int fired;        /* triggered: the event happened */
	int64_t fired_ms; /* ... at this time since the workload started */
	uint64_t hb_base; /* heartbeat event: the guest's count when the workload started */
};

struct mc_run_faults {
	struct mc_common_opts c;
	const struct mc_fault_sched *s;
	struct item *it;
	char path[PATH_MAX + 32]; /* faults.jsonl */
	char out[PATH_MAX + 32];  /* current workload's stdout.jsonl */
	off_t out_off;
	char tail[512]; /* unterminated end of the output read so far */
	unsigned wi;    /* current workload */
	int active;
	int64_t t0_mono, t0_wall; /* the current workload's start */
	int64_t hb_polled_ms;
	pid_t kids[MAX_KIDS]; /* injections still being carried out */
	off_t traced_off;     /* faults.jsonl up to here became trace events */
	unsigned nkids;
	const char *(*vacated)(void *ctx, const char *guest); /* see set_vacated */
	void *vacated_ctx;
};

void mc_run_faults_set_vacated(struct mc_run_faults *f,
                               const char *(*fn)(void *ctx, const char *guest), void *ctx)
{
	f->vacated = fn;
	f->vacated_ctx = ctx;
}

static void append(struct mc_run_faults *f, json_t *rec)
{
	char *line = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	int fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	/* One write per line with O_APPEND: a crash leaves whole lines behind. */
	if (line && fd >= 0) {
		size_t n = strlen(line);
		char *buf = malloc(n + 2);

		if (buf) {
			memcpy(buf, line, n);
			buf[n] = '\n';
			if (write(fd, buf, n + 1) < 0)
				fprintf(stderr, "run: cannot write %s: %s\n", f->path,
				        strerror(errno));
			fdatasync(fd);
			free(buf);
		}
	}
	if (fd >= 0)
		close(fd);
	free(line);
}

struct mc_run_faults *mc_run_faults_new(const struct mc_common_opts *c,
                                        const struct mc_fault_sched *s, const char *rundir)
{
	struct mc_run_faults *f = calloc(1, sizeof(*f));

	if (!f || !(f->it = calloc(s->n ? s->n : 1, sizeof(*f->it)))) {
		free(f);
		return NULL;
	}
	f->c = *c;
	f->s = s;
	snprintf(f->path, sizeof(f->path), "%s/faults.jsonl", rundir);
	return f;
}

/* Every guest as the controller lists it now (state, hb_seq, failed_at_ms). */
static json_t *guests_now(const struct mc_common_opts *c)
{
	char err[256];

	return mc_cluster_guests(c, 10000, err, sizeof(err));
}

static uint64_t hb_of(json_t *guests, const char *name)
{
	size_t i;
	json_t *g;

	json_array_foreach(guests, i, g)
	{
		if (!strcmp(json_string_value(json_object_get(g, "name")), name))
			return (uint64_t)json_integer_value(json_object_get(g, "hb_seq"));
	}
	return 0;
}

void mc_run_faults_begin(struct mc_run_faults *f, unsigned wi, const char *rep_dir)
{
	json_t *guests = NULL;

	f->wi = wi;
	f->active = 1;
	f->t0_mono = mc_now_ms();
	f->t0_wall = mc_wall_ms();
	snprintf(f->out, sizeof(f->out), "%s/stdout.jsonl", rep_dir);
	f->out_off = 0;
	f->tail[0] = '\0';
	for (size_t i = 0; i < f->s->n; i++) {
		const struct mc_fault_planned *p = &f->s->items[i];

		if (p->workload_index != wi || f->it[i].state != ITEM_PENDING)
			continue;
		f->it[i].state = ITEM_ARMED;
		mc_trace_fault_planned(p->name, p->kind->name, p->guests,
		                       p->triggered ? -1 : (int64_t)p->at_ms);
		if (p->triggered && p->event == MC_EXP_EVENT_HEARTBEAT) {
			if (!guests)
				guests = guests_now(&f->c);
			f->it[i].hb_base = hb_of(guests, p->guest);
		}
	}
	json_decref(guests);
}

/* New output since the last look: does any complete line contain a match? Marks the
 * output-triggered items whose substring appeared. */
static void scan_output(struct mc_run_faults *f, int64_t rel)
{
	char buf[65536];
	int fd = open(f->out, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	while (f->out_off < OUTPUT_TAIL_MAX &&
	       (n = pread(fd, buf, sizeof(buf) - 1, f->out_off)) > 0) {
		char *line = buf, *nl;

		buf[n] = '\0';
		f->out_off += n;
		while ((nl = strchr(line, '\n'))) {
			char joined[sizeof(f->tail) + 4096];

			*nl = '\0';
			snprintf(joined, sizeof(joined), "%s%s", f->tail, line);
			f->tail[0] = '\0';
			for (size_t i = 0; i < f->s->n; i++) {
				const struct mc_fault_planned *p = &f->s->items[i];

				if (f->it[i].state == ITEM_ARMED && p->triggered &&
				    !f->it[i].fired && p->event == MC_EXP_EVENT_OUTPUT &&
				    strstr(joined, p->match)) {
					f->it[i].fired = 1;
					f->it[i].fired_ms = rel;
				}
			}
			line = nl + 1;
		}
		snprintf(f->tail + strlen(f->tail), sizeof(f->tail) - strlen(f->tail), "%s", line);
	}
	close(fd);
}

static void poll_heartbeats(struct mc_run_faults *f, int64_t rel)
{
	json_t *guests = NULL;

	for (size_t i = 0; i < f->s->n; i++) {
		const struct mc_fault_planned *p = &f->s->items[i];

		if (f->it[i].state != ITEM_ARMED || !p->triggered || f->it[i].fired ||
		    p->event != MC_EXP_EVENT_HEARTBEAT)
			continue;
		if (!guests && !(guests = guests_now(&f->c)))
			return;
		if (hb_of(guests, p->guest) >= f->it[i].hb_base + p->count) {
			f->it[i].fired = 1;
			f->it[i].fired_ms = rel;
		}
	}
	json_decref(guests);
}

static void record_common(struct mc_run_faults *f, const struct mc_fault_planned *p, json_t *rec,
                          int64_t planned_rel)
{
	json_object_set_new(rec, "type", json_string("fault"));
	json_object_set_new(rec, "name", json_string(p->name));
	json_object_set_new(rec, "workload", json_string(p->workload));
	json_object_set_new(rec, "planned_ms", json_integer(planned_rel));
	if (p->triggered)
		json_object_set_new(
		        rec, "trigger",
		        p->event == MC_EXP_EVENT_OUTPUT
		                ? json_pack("{s:s, s:s}", "event", "output", "match", p->match)
		                : json_pack("{s:s, s:s, s:i}", "event", "heartbeat", "guest",
		                            p->guest, "count", (int)p->count));
	(void)f;
}

/* Carries out item i now on guests (a comma list), a chunk of guests at a time, and writes
 * its records. */
static void inject_item(struct mc_run_faults *f, size_t i, int64_t planned_rel, const char *guests)
{
	const struct mc_fault_planned *p = &f->s->items[i];
	char *names = strdup(guests), *save = NULL, *tok;
	char chunk[CHUNK_GUESTS * 8 + 16];
	unsigned in_chunk = 0;

	if (!names)
		return;
	chunk[0] = '\0';
	for (tok = strtok_r(names, ",", &save);; tok = strtok_r(NULL, ",", &save)) {
		if (tok) {
			snprintf(chunk + strlen(chunk), sizeof(chunk) - strlen(chunk), "%s%s",
			         in_chunk ? "," : "", tok);
			in_chunk++;
		}
		if (in_chunk && (!tok || in_chunk == CHUNK_GUESTS)) {
			struct mc_inject_req req = {.kind = p->kind,
			                            .target = chunk,
			                            .duration_ms = p->duration_ms,
			                            .name = p->name};
			json_t *records = NULL, *rec;
			char err[512];
			size_t k;

			for (unsigned q = 0; q < p->n_params; q++) {
				req.keys[q] = p->params[q].key;
				req.vals[q] = p->params[q].value;
			}
			req.nparams = (int)p->n_params;
			if (mc_inject(&f->c, &req, &records, err, sizeof(err)) < 0) {
				/* Nothing could be tried: every guest of the chunk failed. */
				char *n2 = strdup(chunk), *s2 = NULL;

				records = json_array();
				for (char *g = strtok_r(n2, ",", &s2); g;
				     g = strtok_r(NULL, ",", &s2))
					json_array_append_new(
					        records,
					        json_pack("{s:s, s:s, s:s, s:s, s:I}", "guest", g,
					                  "kind", p->kind->name, "outcome",
					                  "failed", "error", err, "at_ms",
					                  (json_int_t)mc_wall_ms()));
				free(n2);
			}
			json_array_foreach(records, k, rec)
			{
				int64_t at = json_integer_value(json_object_get(rec, "at_ms"));
				int ok = !strcmp(json_string_value(json_object_get(rec, "outcome")),
				                 "injected");

				record_common(f, p, rec, planned_rel);
				json_object_set_new(rec, "actual_ms",
				                    json_integer(at - f->t0_wall));
				json_object_set_new(rec, "delay_ms",
				                    json_integer(at - f->t0_wall - planned_rel));
				append(f, rec);
				fprintf(stderr,
				        "run: fault %s %s on %s at %.3f s (planned %.3f s)%s%s\n",
				        p->name, p->kind->name,
				        json_string_value(json_object_get(rec, "guest")),
				        (double)(at - f->t0_wall) / 1000.0,
				        (double)planned_rel / 1000.0, ok ? "" : ": FAILED: ",
				        ok ? "" : json_string_value(json_object_get(rec, "error")));
			}
			json_decref(records);
			chunk[0] = '\0';
			in_chunk = 0;
		}
		if (!tok)
			break;
	}
	free(names);
}

/*
 * The injection records children wrote since the last look, as fault_injected trace
 * events. Emitted here, in the run's own process: LTTng-UST does not work in a child
 * forked without exec. (The timestamp is when the child was reaped: within a pump
 * period of a host kind's injection; the record has the exact time.)
 */
static void trace_new_records(struct mc_run_faults *f)
{
	char buf[8192];
	int fd;
	ssize_t n;

	if (!mc_trace_enabled() || (fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while ((n = pread(fd, buf, sizeof(buf) - 1, f->traced_off)) > 0) {
		char *end = memrchr(buf, '\n', (size_t)n), *line = buf, *nl;

		if (!end)
			break;
		end[1] = '\0';
		f->traced_off += end + 1 - buf;
		while ((nl = strchr(line, '\n'))) {
			const struct mc_fault_kind *k;
			json_t *r;

			*nl = '\0';
			r = json_loads(line, 0, NULL);
			k = r ? mc_fault_kind_find(json_string_value(json_object_get(r, "kind"))
			                                   ?: "")
			      : NULL;
			/* Host kinds: the controller put them on the trace as they took effect. */
			if (r && k && k->where == MC_FAULT_GUEST &&
			    !strcmp(json_string_value(json_object_get(r, "type")) ?: "", "fault") &&
			    json_object_get(r, "guest"))
				mc_trace_fault_injected(
				        json_string_value(json_object_get(r, "name")),
				        json_string_value(json_object_get(r, "kind")),
				        json_string_value(json_object_get(r, "guest")),
				        json_string_value(json_object_get(r, "outcome")),
				        json_integer_value(json_object_get(r, "delay_ms")));
			json_decref(r);
			line = nl + 1;
		}
	}
	close(fd);
}

/* Reaps finished injections; with wait_ms, waits for all of them (then kills the rest). */
static void reap_kids(struct mc_run_faults *f, int64_t wait_ms)
{
	int64_t until = mc_now_ms() + wait_ms;

	for (;;) {
		for (unsigned k = 0; k < f->nkids;) {
			pid_t r = waitpid(f->kids[k], NULL, WNOHANG);

			/* ECHILD: someone else reaped it (a subreaper's sweep). */
			if (r == f->kids[k] || (r < 0 && errno == ECHILD)) {
				f->kids[k] = f->kids[--f->nkids];
				trace_new_records(f);
			} else {
				k++;
			}
		}
		if (!wait_ms || !f->nkids)
			return;
		if (mc_now_ms() >= until) {
			for (unsigned k = 0; k < f->nkids; k++) {
				kill(f->kids[k], SIGKILL);
				waitpid(f->kids[k], NULL, 0);
			}
			f->nkids = 0;
			return;
		}
		usleep(20000);
	}
}

/*
 * Starts item i: a child process carries it out and writes its records, so a slow
 * injection (a guest command under TCG) never delays the next one.
 */
/* A failure planned for guests whose work moved away (a policy's migration) strikes nothing:
 * those get a not-injected record here; the others are returned as a new list (caller frees;
 * NULL when none is left). */
static char *strike_vacated(struct mc_run_faults *f, size_t i, int64_t planned_rel)
{
	const struct mc_fault_planned *p = &f->s->items[i];
	char *names = strdup(p->guests), *keep = calloc(1, strlen(p->guests) + 1), *save = NULL;

	if (!names || !keep) {
		free(names);
		free(keep);
		return NULL;
	}
	for (char *g = strtok_r(names, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
		const char *why = mc_predict_is_failure(p->kind) && f->vacated
		                          ? f->vacated(f->vacated_ctx, g)
		                          : NULL;

		if (why) {
			json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:I}", "guest", g, "kind",
			                        p->kind->name, "outcome", "avoided", "error", why,
			                        "at_ms", (json_int_t)mc_wall_ms());

			record_common(f, p, rec, planned_rel);
			append(f, rec);
			json_decref(rec);
			fprintf(stderr, "run: fault %s %s on %s: %s\n", p->name, p->kind->name, g,
			        why);
		} else {
			if (keep[0])
				strcat(keep, ",");
			strcat(keep, g);
		}
	}
	free(names);
	if (!keep[0]) {
		free(keep);
		return NULL;
	}
	return keep;
}

static void dispatch(struct mc_run_faults *f, size_t i, int64_t planned_rel)
{
	char *guests;
	pid_t pid;

	f->it[i].state = ITEM_DONE;
	if (!(guests = strike_vacated(f, i, planned_rel)))
		return;
	reap_kids(f, 0);
	if (f->nkids == MAX_KIDS)
		reap_kids(f, KID_WAIT_MS);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		inject_item(f, i, planned_rel, guests);
		fflush(NULL);
		_exit(0);
	}
	if (pid < 0)
		inject_item(f, i, planned_rel, guests); /* no process to spare: do it here */
	else
		f->kids[f->nkids++] = pid;
	free(guests);
}

void mc_run_faults_pump(struct mc_run_faults *f)
{
	int64_t now = mc_now_ms(), rel = now - f->t0_mono;
	int want_hb = 0, want_out = 0;

	if (!f->active)
		return;
	for (size_t i = 0; i < f->s->n; i++) {
		const struct mc_fault_planned *p = &f->s->items[i];

		if (f->it[i].state != ITEM_ARMED || !p->triggered || f->it[i].fired)
			continue;
		want_hb |= p->event == MC_EXP_EVENT_HEARTBEAT;
		want_out |= p->event == MC_EXP_EVENT_OUTPUT;
	}
	if (want_out)
		scan_output(f, rel);
	if (want_hb && now - f->hb_polled_ms >= HB_POLL_MS) {
		f->hb_polled_ms = now;
		poll_heartbeats(f, rel);
	}
	for (size_t i = 0; i < f->s->n; i++) {
		const struct mc_fault_planned *p = &f->s->items[i];
		int64_t due;

		if (f->it[i].state != ITEM_ARMED || (p->triggered && !f->it[i].fired))
			continue;
		due = (p->triggered ? f->it[i].fired_ms : 0) + (int64_t)p->at_ms;
		if (rel >= due)
			dispatch(f, i, due);
		rel = mc_now_ms() - f->t0_mono;
	}
}

/* Records the items not carried out, with why. */
static void not_injected(struct mc_run_faults *f, size_t i, const char *why)
{
	const struct mc_fault_planned *p = &f->s->items[i];
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "guests", p->guests, "kind", p->kind->name,
	                        "outcome", "not-injected", "error", why);

	record_common(f, p, rec, p->triggered ? -1 : (int64_t)p->at_ms);
	append(f, rec);
	json_decref(rec);
	f->it[i].state = ITEM_DONE;
	fprintf(stderr, "run: fault %s %s on %s: not injected: %s\n", p->name, p->kind->name,
	        p->guests, why);
}

void mc_run_faults_end(struct mc_run_faults *f)
{
	for (size_t i = 0; i < f->s->n; i++) {
		const struct mc_fault_planned *p = &f->s->items[i];

		if (f->it[i].state == ITEM_ARMED)
			not_injected(f, i,
			             p->triggered && !f->it[i].fired
			                     ? "its event did not happen before the workload ended"
			                     : "the workload ended before its planned time");
	}
	f->active = 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static json_t *median_max(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	int64_t *v = calloc(n ? n : 1, sizeof(*v));
	json_t *x, *o;

	if (!v)
		return json_null();
	json_array_foreach(arr, i, x) v[i] = json_integer_value(x);
	qsort(v, n, sizeof(*v), cmp_i64);
	o = n ? json_pack("{s:I, s:I, s:i}", "median", (json_int_t)v[n / 2], "max",
	                  (json_int_t)v[n - 1], "n", (int)n)
	      : json_null();
	free(v);
	return o;
}

/* The records written so far (every line of faults.jsonl). */
static json_t *read_records(const char *path)
{
	json_t *all = json_array();
	char *text = NULL;
	size_t len = 0;

	if (mc_read_file(path, 256u << 20, &text, &len) < 0)
		return all;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		json_t *r = json_loads(l, 0, NULL);

		if (r)
			json_array_append_new(all, r);
	}
	free(text);
	return all;
}

json_t *mc_run_faults_finish(struct mc_run_faults *f)
{
	json_t *guests, *g, *lat = json_array(), *delays = json_array(), *recs, *rec, *out;
	unsigned detected = 0, undetected = 0, unplanned = 0, injected = 0, failed = 0, not = 0;
	unsigned avoided = 0;
	size_t i, k;

	for (size_t q = 0; q < f->s->n; q++)
		if (f->it[q].state != ITEM_DONE)
			not_injected(f, q, "its workload did not run");
	reap_kids(f, KID_WAIT_MS);
	recs = read_records(f->path);
	json_array_foreach(recs, k, rec)
	{
		const char *o = json_string_value(json_object_get(rec, "outcome"));

		if (!o)
			continue;
		if (!strcmp(o, "injected")) {
			injected++;
			json_array_append(delays, json_object_get(rec, "delay_ms"));
		} else if (!strcmp(o, "not-injected")) {
			not ++;
		} else if (!strcmp(o, "avoided")) {
			avoided++;
		} else {
			failed++;
		}
	}
	guests = guests_now(&f->c);
	json_array_foreach(guests, i, g)
	{
		const char *name = json_string_value(json_object_get(g, "name"));
		int64_t failed_at = json_integer_value(json_object_get(g, "failed_at_ms"));
		json_t *cause = NULL;

		/* The latest fault injected on this guest before it was seen failed. */
		json_array_foreach(recs, k, rec)
		{
			const char *rg = json_string_value(json_object_get(rec, "guest"));
			const char *o = json_string_value(json_object_get(rec, "outcome"));

			if (rg && o && !strcmp(rg, name) && !strcmp(o, "injected") &&
			    (!failed_at ||
			     json_integer_value(json_object_get(rec, "at_ms")) <= failed_at))
				cause = rec;
		}
		if (failed_at) {
			json_t *d =
			        json_pack("{s:s, s:s, s:I, s:s}", "type", "detection", "guest",
			                  name, "detected_at_ms", (json_int_t)failed_at, "reason",
			                  json_string_value(json_object_get(g, "reason")));

			if (cause) {
				int64_t at = json_integer_value(json_object_get(cause, "at_ms"));

				json_object_set(d, "fault", json_object_get(cause, "name"));
				json_object_set(d, "kind", json_object_get(cause, "kind"));
				json_object_set_new(d, "injected_at_ms", json_integer(at));
				json_object_set_new(d, "latency_ms", json_integer(failed_at - at));
				json_array_append_new(lat, json_integer(failed_at - at));
				mc_trace_fault_detected(
				        name, json_string_value(json_object_get(cause, "name")),
				        failed_at - at);
				detected++;
			} else {
				json_object_set_new(d, "fault", json_null());
				unplanned++;
			}
			append(f, d);
			json_decref(d);
		} else if (cause &&
		           !strcmp(json_string_value(json_object_get(cause, "kind")), "crash")) {
			undetected++; /* a crash the detector never reported */
		}
	}
	json_decref(guests);
	json_decref(recs);
	out = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:o}", "planned",
	                (int)(injected + failed + not +avoided), "injected", (int)injected,
	                "failed", (int)failed, "not_injected", (int)not, "avoided", (int)avoided,
	                "detected", (int)detected, "undetected_crashes", (int)undetected,
	                "unplanned_failures", (int)unplanned, "detection_latency_ms",
	                median_max(lat), "injection_delay_ms", median_max(delays));
	json_decref(lat);
	json_decref(delays);
	return out;
}

void mc_run_faults_free(struct mc_run_faults **pf)
{
	struct mc_run_faults *f = *pf;

	if (!f)
		return;
	reap_kids(f, KID_WAIT_MS);
	free(f->it);
	free(f);
	*pf = NULL;
}
