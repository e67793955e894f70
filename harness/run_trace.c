/* run_trace.c — a traced run: a keeper process owns the private session daemon, the host
 * session and the relay; the guests stream to the relay; clock offsets are measured. */
#include "run_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "mc_trace.h"
#include "session.h"
#include "util.h"

#define RELAY_ADDR "10.77.0.1" /* the host in every cluster's network namespace */
/* Across hosts (docs/hosts.md) 10.77.0.1 is each host's own daemon: the relay runs in the
 * cluster controller's namespace, which guests reach at its overlay address. */
#define RELAY_ADDR_HOSTS "10.76.0.1"
#define GUEST_LIB        "/data/opt/microcosm/lib"

struct mc_run_trace {
	pid_t keeper;
	FILE *to, *from; /* command and answer pipes of the keeper */
	char rundir[PATH_MAX];
	char home[64];     /* the private daemon's LTTNG_HOME */
	char session[64];  /* session name, host and guests */
	char events[1024]; /* guests' patterns, comma-separated */
	unsigned flush_ms; /* channels' switch timer; 0 = none */
	json_t *traced;    /* names of the guests whose session started */
	int guests;        /* the guests stream to the relay */
	char preload[256];
};

/* ---- the keeper (a child; the private daemon's mount namespace is its own) ---- */

static void keeper(int in, int out, const char *rundir, const char *home, const char *session,
                   unsigned flush_ms)
{
	struct mc_lttng_daemon sd = {0}, relay = {0};
	char err[512], path[PATH_MAX + 64], line[256];
	const char *host_events[] = {"microcosm_harness:*", NULL};
	FILE *fin = fdopen(in, "r"), *fout = fdopen(out, "w");

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	snprintf(path, sizeof(path), "%s/trace/host", rundir);
	if (mc_lttng_sessiond_start(&sd, home, NULL, err, sizeof(err)) < 0 ||
	    mc_lttng_session_create(session, path, err, sizeof(err)) < 0 ||
	    mc_lttng_enable_ust_events(session, host_events, flush_ms, err, sizeof(err)) < 0 ||
	    mc_lttng_start(session, err, sizeof(err)) < 0) {
		fprintf(fout, "error %s\n", err);
		fflush(fout);
		mc_lttng_daemon_stop(&sd, err, sizeof(err));
		_exit(1);
	}
	fprintf(fout, "ok\n");
	fflush(fout);
	while (fgets(line, sizeof(line), fin)) {
		char addr[16] = RELAY_ADDR;
		int pid;

		if (sscanf(line, "relay %d %15s", &pid, addr) >= 1) {
			int fd;

			snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			snprintf(path, sizeof(path), "%s/trace", rundir);
			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
				fprintf(fout,
				        "error cannot enter the cluster's network namespace: %s\n",
				        strerror(errno));
			} else if (mc_lttng_relayd_start(&relay, path, addr, err, sizeof(err)) <
			           0) {
				fprintf(fout, "error %s\n", err);
			} else {
				fprintf(fout, "ok\n");
			}
			if (fd >= 0)
				close(fd);
			fflush(fout);
		} else if (strncmp(line, "stop", 4) == 0) {
			break;
		}
	}
	/* Stop (or the run is gone): flush the host session, then end both daemons. */
	mc_lttng_stop(session, err, sizeof(err));
	mc_lttng_destroy(session, 10000, err, sizeof(err));
	mc_lttng_daemon_stop(&relay, err, sizeof(err));
	mc_lttng_daemon_stop(&sd, err, sizeof(err));
	fprintf(fout, "ok\n");
	fflush(fout);
	_exit(0);
}

static int ask(struct mc_run_trace *t, const char *cmd, char *err, size_t errlen)
{
	char line[600];
	sigset_t pipe_set, old;
	int bad = 0;

	/* A keeper that died must not take the run with it (SIGPIPE). */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	if (cmd)
		bad = fputs(cmd, t->to) < 0 || fflush(t->to) != 0;
	if (bad) {
		struct timespec zero = {0, 0};

		sigtimedwait(&pipe_set, NULL, &zero);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (bad) {
		snprintf(err, errlen, "the trace keeper is gone");
		return -1;
	}
	if (!fgets(line, sizeof(line), t->from)) {
		snprintf(err, errlen, "the trace keeper died");
		return -1;
	}
	line[strcspn(line, "\n")] = '\0';
	if (strncmp(line, "ok", 2) == 0)
		return 0;
	snprintf(err, errlen, "%s", strncmp(line, "error ", 6) == 0 ? line + 6 : line);
	return -1;
}

struct mc_run_trace *mc_run_trace_start(const char *rundir, const char *const *events,
                                        unsigned flush_ms, char *err, size_t errlen)
{
	struct mc_run_trace *t = calloc(1, sizeof(*t));
	int a[2] = {-1, -1}, b[2] = {-1, -1};
	char dir[PATH_MAX + 16];

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(t->rundir, sizeof(t->rundir), "%s", rundir);
	t->flush_ms = flush_ms;
	snprintf(t->session, sizeof(t->session), "microcosm-%d", (int)getpid());
	snprintf(t->home, sizeof(t->home), "/tmp/mc-lttng-%d", (int)getpid());
	for (int i = 0; events && events[i]; i++)
		snprintf(t->events + strlen(t->events), sizeof(t->events) - strlen(t->events),
		         "%s%s", i ? "," : "", events[i]);
	if (!t->events[0])
		snprintf(t->events, sizeof(t->events), "microcosm_*");
	snprintf(dir, sizeof(dir), "%s/trace", rundir);
	mc_mkdir_p(dir, 0755);
	if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	t->keeper = fork();
	if (t->keeper == 0) {
		close(a[1]);
		close(b[0]);
		keeper(a[0], b[1], rundir, t->home, t->session, flush_ms);
	}
	if (t->keeper < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	close(a[0]);
	close(b[1]);
	a[0] = b[1] = -1;
	t->to = fdopen(a[1], "w");
	t->from = fdopen(b[0], "r");
	if (!t->to || !t->from || ask(t, NULL, err, errlen) < 0)
		goto fail_keeper;
	/* The controller (started next) and this process emit into the private daemon. */
	setenv("LTTNG_HOME", t->home, 1);
	setenv("MC_TRACE", "1", 1);
	mc_trace_open();
	return t;
fail_keeper:
	if (t->keeper > 0) {
		kill(t->keeper, SIGTERM);
		waitpid(t->keeper, NULL, 0);
	}
fail:
	if (t->to)
		fclose(t->to);
	else if (a[1] >= 0)
		close(a[1]);
	if (t->from)
		fclose(t->from);
	else if (b[0] >= 0)
		close(b[0]);
	if (a[0] >= 0)
		close(a[0]);
	if (b[1] >= 0)
		close(b[1]);
	mc_rm_rf(t->home);
	json_decref(t->traced);
	free(t);
	return NULL;
}

/* Runs `microcosm ARGV…`, keeps the first cap - 1 bytes of its stdout in out and appends
 * all of it to log (when not NULL; then its stderr goes to both too, so the log names the
 * guests a command failed on). Reads to the end: a command with more to say than out holds
 * (exec on 64 guests) must not die of SIGPIPE. */
static int run_capture(char *const argv[], char *out, size_t cap, const char *log)
{
	int p[2], st = -1,
	          lfd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
	size_t len = 0;
	char buf[4096];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		if (log)
			dup2(p[1], 2);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(p[1]);
	for (ssize_t n; pid > 0 && (n = read(p[0], buf, sizeof(buf))) != 0;) {
		size_t k;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		k = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
		memcpy(out + len, buf, k);
		len += k;
		if (lfd >= 0 && write(lfd, buf, (size_t)n) < 0) {
			close(lfd); /* a log that cannot be written loses only the log */
			lfd = -1;
		}
	}
	out[len] = '\0';
	close(p[0]);
	if (lfd >= 0)
		close(lfd);
	if (pid > 0)
		waitpid(pid, &st, 0);
	return pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Each guest's clock minus the host's, from one round trip per guest (`mc-trace clock`). */
static void clock_offsets(struct mc_run_trace *t, const struct mc_common_opts *c, json_t *guests)
{
	json_t *all = json_object(), *g;
	char path[PATH_MAX + 64], out[1024];
	size_t i;

	json_array_foreach(guests, i, g)
	{
		const char *name = json_string_value(json_object_get(g, "name"));
		const char *state = json_string_value(json_object_get(g, "state"));
		char *argv[] = {"microcosm",   "exec",
		                "-c",          (char *)c->cluster,
		                "--state-dir", (char *)c->state_dir,
		                (char *)name,  "--",
		                "mc-trace",    "clock",
		                NULL};
		int64_t t0, t1, guest_rt;
		char *brace;

		if (!name || !state || (strcmp(state, "ready") && strcmp(state, "busy")))
			continue;
		mc_clock_now(&t0, NULL);
		if (run_capture(argv, out, sizeof(out), NULL) != 0)
			continue;
		mc_clock_now(&t1, NULL);
		brace = strchr(out, '{');
		if (!brace)
			continue;
		{
			json_t *j = json_loads(brace, JSON_DISABLE_EOF_CHECK, NULL);

			guest_rt = json_integer_value(json_object_get(j, "realtime_ns"));
			json_decref(j);
		}
		if (!guest_rt)
			continue;
		json_object_set_new(all, name,
		                    json_pack("{s:I, s:I}", "offset_ns",
		                              (json_int_t)(guest_rt - (t0 + t1) / 2), "rtt_ns",
		                              (json_int_t)(t1 - t0)));
	}
	snprintf(path, sizeof(path), "%s/trace/clock-offsets.json", t->rundir);
	{
		char *text = json_dumps(all, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (text)
			mc_write_file_atomic(path, text, strlen(text), 0644);
		free(text);
	}
	json_decref(all);
}

/* `microcosm exec TARGET -- TAIL…` on the run's cluster; its output in out (cap bytes) and
 * appended to log. */
static int exec_on(const struct mc_common_opts *c, const char *target, char *const *tail,
                   const char *log, char *out, size_t cap)
{
	char *argv[64];
	int n = 0;

	argv[n++] = "microcosm";
	argv[n++] = "exec";
	argv[n++] = "-c";
	argv[n++] = (char *)c->cluster;
	argv[n++] = "--state-dir";
	argv[n++] = (char *)c->state_dir;
	argv[n++] = (char *)target;
	argv[n++] = "--";
	for (int i = 0; tail[i] && n < 63; i++)
		argv[n++] = tail[i];
	argv[n] = NULL;
	return run_capture(argv, out, cap, log);
}

/* Whether exec's output has guest name's line "NAME: {…key…}" (mc-trace's JSON answer)
 * without an "error". */
static int answered(const char *out, const char *name, const char *key)
{
	size_t len = strlen(name);

	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end = strchr(l, '\n');

		if (!strncmp(l, name, len) && !strncmp(l + len, ": {", 3)) {
			const char *k = strstr(l, key), *e = strstr(l, "\"error\"");

			if (k && (!end || k < end) && (!e || (end && e > end)))
				return 1;
		}
	}
	return 0;
}

/* Names a guest `mc-trace CMD` failed on, with what that means, the first NAMED_MAX of
 * them; *n counts them all. */
#define NAMED_MAX 8
static void name_failed(size_t *n, const char *cmd, const char *name, const char *meaning)
{
	if ((*n)++ < NAMED_MAX)
		fprintf(stderr, "run: trace: mc-trace %s failed on %s (trace/guests.log): %s\n",
		        cmd, name, meaning);
}

/* The count name_failed() left unnamed. */
static void name_rest(size_t n)
{
	if (n > NAMED_MAX)
		fprintf(stderr, "run: trace: … and on %zu more guests\n", n - NAMED_MAX);
}

#define EXEC_OUT_CAP (1u << 20) /* exec's answers from every guest, a few hundred bytes each */

int mc_run_trace_guests(struct mc_run_trace *t, const struct mc_common_opts *c, char *err,
                        size_t errlen)
{
	char cmd[64], *argv[32], evs[sizeof(t->events)], log[PATH_MAX + 32], flush[16], tmo[16];
	char *out;
	struct mc_client *cl = mc_client_connect(c, err, errlen);
	json_t *reply = NULL;
	const char *relay = RELAY_ADDR;
	int n = 0, pid;

	if (!cl)
		return -1;
	pid = mc_client_pid(cl);
	mc_client_call(cl, json_pack("{s:s}", "op", "ls"), 30000, &reply);
	mc_client_destroy(&cl);
	{
		size_t i;
		json_t *g;

		json_array_foreach(json_object_get(reply, "guests"), i, g)
		{
			if (json_object_get(g, "host"))
				relay = RELAY_ADDR_HOSTS;
		}
	}
	snprintf(cmd, sizeof(cmd), "relay %d %s\n", pid, relay);
	if (ask(t, cmd, err, errlen) < 0) {
		json_decref(reply);
		return -1;
	}
	argv[n++] = "mc-trace";
	argv[n++] = "start";
	argv[n++] = "--relay";
	argv[n++] = (char *)relay;
	argv[n++] = "--name";
	argv[n++] = t->session;
	if (t->flush_ms)
		snprintf(flush, sizeof(flush), "%u", t->flush_ms);
	else
		snprintf(flush, sizeof(flush), "off");
	argv[n++] = "--flush";
	argv[n++] = flush;
	/* Every guest starts its session daemon at once, and under TCG a daemon's start costs
	 * seconds of CPU: the host's cores share them out. */
	snprintf(tmo, sizeof(tmo), "%zu",
	         30 + 4 * json_array_size(json_object_get(reply, "guests")) > 1800
	                 ? (size_t)1800
	                 : 30 + 4 * json_array_size(json_object_get(reply, "guests")));
	argv[n++] = "--timeout";
	argv[n++] = tmo;
	snprintf(evs, sizeof(evs), "%s", t->events);
	for (char *save = NULL, *e = strtok_r(evs, ",", &save); e && n < 30;
	     e = strtok_r(NULL, ",", &save)) {
		argv[n++] = "--event";
		argv[n++] = e;
	}
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/trace/guests.log", t->rundir);
	out = malloc(EXEC_OUT_CAP);
	t->traced = json_array();
	if (!out || !t->traced) {
		free(out);
		json_decref(reply);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	exec_on(c, "all", argv, log, out, EXEC_OUT_CAP);
	{
		json_t *g;
		size_t i, failed = 0;

		json_array_foreach(json_object_get(reply, "guests"), i, g)
		{
			const char *name = json_string_value(json_object_get(g, "name"));

			if (!name)
				continue;
			if (answered(out, name, "\"sessiond_pid\""))
				json_array_append_new(t->traced, json_string(name));
			else
				name_failed(&failed, "start", name, "the others are traced");
		}
		name_rest(failed);
	}
	free(out);
	if (json_array_size(t->traced) == 0) { /* no guest to trace: no interposer either */
		json_decref(reply);
		snprintf(err, errlen, "mc-trace start failed on every guest (trace/guests.log)");
		return -1;
	}
	t->guests = 1;
	snprintf(t->preload, sizeof(t->preload), "%s/libmc-mpi-trace.so %s/libmc-mpi-preload.so",
	         GUEST_LIB, GUEST_LIB);
	if (reply)
		clock_offsets(t, c, json_object_get(reply, "guests"));
	json_decref(reply);
	return 0;
}

const char *mc_run_trace_preload(const struct mc_run_trace *t)
{
	return t && t->guests ? t->preload : "";
}

/* mc-trace stop on every guest whose session started: all of a session's data is at the
 * relay when its stop answers, so the relay must not end before. A guest that did not
 * answer gets a second try of its own (a guest that has failed keeps what it had sent);
 * those still without an answer are named, as their traces may lack their end. */
static void stop_guests(struct mc_run_trace *t, const struct mc_common_opts *c)
{
	char *argv[] = {"mc-trace", "stop", NULL}; /* the session its start recorded */
	char log[PATH_MAX + 32], *out = malloc(EXEC_OUT_CAP);
	json_t *g;
	size_t i, left = 0;

	if (!out)
		return;
	snprintf(log, sizeof(log), "%s/trace/guests.log", t->rundir);
	exec_on(c, "all", argv, log, out, EXEC_OUT_CAP);
	json_array_foreach(t->traced, i, g)
	{
		const char *name = json_string_value(g);
		char one[4096];

		if (answered(out, name, "\"stopped\":true"))
			continue;
		exec_on(c, name, argv, log, one, sizeof(one));
		if (answered(one, name, "\"stopped\":true"))
			continue;
		name_failed(&left, "stop", name, "its trace keeps what it had sent");
	}
	name_rest(left);
	free(out);
}

void mc_run_trace_stop(struct mc_run_trace **pt, const struct mc_common_opts *c)
{
	struct mc_run_trace *t = *pt;
	char err[512];

	if (!t)
		return;
	if (t->guests)
		stop_guests(t, c);
	if (ask(t, "stop\n", err, sizeof(err)) < 0)
		fprintf(stderr, "run: trace: %s\n", err);
	fclose(t->to);
	fclose(t->from);
	waitpid(t->keeper, NULL, 0);
	mc_rm_rf(t->home);
	unsetenv("MC_TRACE");
	unsetenv("LTTNG_HOME");
	/* One timeline: the guests' clocks shifted onto the host's (tracing/align.py). */
	{
		char *argv[] = {"microcosm", "trace", "align", t->rundir, NULL};
		char out[4096];

		if (run_capture(argv, out, sizeof(out), NULL) != 0)
			fprintf(stderr, "run: trace: aligning the guest clocks failed\n");
	}
	json_decref(t->traced);
	free(t);
	*pt = NULL;
}
