/* test_lttng_session.c — tracing/session.c and mc-trace against real LTTng daemons on the host.
 *
 * A relay daemon on 127.0.0.1 (free ports above 20000) and session daemons private to this
 * test (their own /var/run/lttng in a mount namespace), so nothing clashes with a system
 * daemon or another test. mc-trace-selftest emits the events; babeltrace2 reads what the relay
 * daemon and a local session wrote. Daemons are stopped by pid in the group teardown, which
 * also runs after a failed test; they get SIGTERM if this process dies, and this process is a
 * child subreaper, so detached daemons cannot leak as orphans or zombies.
 *
 * Needs root (mount namespaces), lttng-tools and babeltrace2: without them it fails saying what
 * is missing, unless MC_TEST_MAY_SKIP=1 allows a skip.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lttng/lttng.h>

#include "session.h"

#ifndef MC_TRACE_PATH
#error "MC_TRACE_PATH must name the mc-trace binary"
#endif
#ifndef MC_TRACE_SELFTEST_PATH
#error "MC_TRACE_SELFTEST_PATH must name the mc-trace-selftest binary"
#endif

#define EVENT_NAME   "mc_trace_selftest:hello"
#define EVENT_GLOB   "mc_trace_selftest:*"
#define READ_WAIT_MS 10000 /* the relay daemon may finish writing just after destroy */

/* Everything the group shares; torn down whatever happened. */
static struct {
	char dir[64];                  /* temporary directory */
	char relay_dir[128];           /* relay daemon output */
	int port;                      /* relay control port (data +1, live +2) */
	struct mc_lttng_daemon relayd; /* ours, a child */
	struct mc_lttng_daemon sessiond;
	pid_t guest_sessiond; /* started detached by mc-trace, if seen */
	unsigned long long guest_start_time;
	int failed; /* a test failed: keep dir */
	char skip[256];
} g;

/* ---- Helpers ------------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int have_program(const char *name)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* Three consecutive TCP ports free on 127.0.0.1, above 20000. */
static int free_ports(void)
{
	for (int attempt = 0; attempt < 200; attempt++) {
		int base = 20000 + (int)((getpid() * 7 + attempt * 31) % 15000) * 3, ok = 1;
		int fds[3] = {-1, -1, -1};

		for (int i = 0; i < 3 && ok; i++) {
			struct sockaddr_in a = {.sin_family = AF_INET,
			                        .sin_port = htons((uint16_t)(base + i)),
			                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

			fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0)
				ok = 0;
		}
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (ok)
			return base;
	}
	return -1;
}

/* Runs argv (PATH searched), stdout to out_file (or /dev/null); returns its wait status. */
static int run(const char *const argv[], const char *out_file)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(out_file ? out_file : "/dev/null",
		              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* Lines of `babeltrace2 DIR` naming event; -1 if babeltrace2 fails (its output on stderr). */
static int count_events_once(const char *dir, const char *event)
{
	char cmd[512], line[4096];
	int n = 0, st;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "babeltrace2 '%s' 2>&1", dir);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (strstr(line, event))
			n++;
		else if (strstr(line, "ERROR") || strstr(line, "error"))
			fprintf(stderr, "babeltrace2 %s: %s", dir, line);
	st = pclose(p);
	return (st == 0) ? n : -1;
}

/* The events in dir, waiting up to READ_WAIT_MS for want of them to be there. */
static int count_events(const char *dir, const char *event, int want)
{
	int64_t deadline = now_ms() + READ_WAIT_MS;
	int n;

	for (;;) {
		n = count_events_once(dir, event);
		if (n == want || now_ms() >= deadline)
			return n;
		usleep(200 * 1000);
	}
}

/* The one directory matching pattern, in out; fails the test otherwise. */
static void find_one(const char *pattern, char *out, size_t len)
{
	glob_t gl;
	int rc = glob(pattern, 0, NULL, &gl);

	if (rc != 0 || gl.gl_pathc != 1) {
		size_t n = rc == 0 ? gl.gl_pathc : 0;

		if (rc == 0)
			globfree(&gl);
		fail_msg("expected one directory matching %s, found %zu", pattern, n);
	}
	snprintf(out, len, "%s", gl.gl_pathv[0]);
	globfree(&gl);
}

static int proc_running(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Live lttng* processes whose parent is this test, our relay daemon aside (leaks). */
static int lttng_children(void)
{
	glob_t gl;
	int n = 0;

	if (glob("/proc/[0-9]*/stat", 0, NULL, &gl) != 0)
		return 0;
	for (size_t i = 0; i < gl.gl_pathc; i++) {
		char buf[512], comm[64], state;
		int pid, ppid;
		FILE *f = fopen(gl.gl_pathv[i], "re");

		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) &&
		    sscanf(buf, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid) == 4 &&
		    ppid == getpid() && state != 'Z' && !strncmp(comm, "lttng", 5) &&
		    pid != g.relayd.pid) {
			fprintf(stderr, "test_lttng_session: leftover %s pid %d\n", comm, pid);
			n++;
		}
		fclose(f);
	}
	globfree(&gl);
	return n;
}

static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * Ends every process still parented to this one (a subreaper: detached daemons a failed
 * test case did not stop end up here), so nothing outlives the test.
 */
static void kill_orphans(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[64], buf[512], *p;
		int pid = atoi(de->d_name), ppid = 0;
		FILE *fp;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (!(fp = fopen(path, "r")))
			continue;
		p = fgets(buf, sizeof(buf), fp) ? strrchr(buf, ')') : NULL;
		fclose(fp);
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == (int)getpid()) {
			fprintf(stderr, "test_lttng_session: ending leftover process %d\n", pid);
			kill(pid, SIGKILL);
		}
	}
	closedir(d);
}

static void require_ready(void)
{
	const char *may = getenv("MC_TEST_MAY_SKIP");

	if (g.skip[0] == '\0')
		return;
	if (may && !strcmp(may, "1")) {
		fprintf(stderr, "test_lttng_session: skip (MC_TEST_MAY_SKIP=1): %s\n", g.skip);
		skip();
	}
	fail_msg("cannot run: %s (set MC_TEST_MAY_SKIP=1 to allow a skip)", g.skip);
}

/* ---- Group setup and teardown --------------------------------------------------------------- */

static int group_setup(void **state)
{
	char err[1024], listen[64];

	(void)state;
	if (getuid() != 0) {
		snprintf(g.skip, sizeof(g.skip),
		         "not root (private session daemons need a mount "
		         "namespace)");
		return 0;
	}
	if (!have_program("lttng-sessiond") || !have_program("lttng-relayd")) {
		snprintf(g.skip, sizeof(g.skip),
		         "lttng-sessiond or lttng-relayd missing "
		         "(install lttng-tools)");
		return 0;
	}
	if (!have_program("babeltrace2")) {
		snprintf(g.skip, sizeof(g.skip), "babeltrace2 missing (install babeltrace2)");
		return 0;
	}
	/* Detached daemons of mc-trace end up our children, and get reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(g.dir, sizeof(g.dir), "/tmp/mc-lttng-test.XXXXXX");
	if (mkdtemp(g.dir) == NULL) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(g.relay_dir, sizeof(g.relay_dir), "%s/relay", g.dir);
	g.port = free_ports();
	if (g.port < 0) {
		fprintf(stderr, "no free ports on 127.0.0.1\n");
		return -1;
	}
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", g.port);
	if (mc_lttng_relayd_start(&g.relayd, g.relay_dir, listen, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayd: %s\n", err);
		return -1;
	}
	fprintf(stderr, "test_lttng_session: relayd pid %d on %s, output %s\n", (int)g.relayd.pid,
	        listen, g.relay_dir);
	return 0;
}

static int group_teardown(void **state)
{
	struct mc_lttng_daemon gd;
	char err[512];
	int rc = 0;

	(void)state;
	if (g.guest_sessiond > 0 &&
	    mc_lttng_daemon_adopt(&gd, "lttng-sessiond", g.guest_sessiond, g.guest_start_time, err,
	                          sizeof(err)) == 0) {
		fprintf(stderr, "test_lttng_session: stopping leftover guest sessiond %d\n",
		        (int)g.guest_sessiond);
		mc_lttng_daemon_stop(&gd, err, sizeof(err));
	}
	if (mc_lttng_daemon_stop(&g.sessiond, err, sizeof(err)) < 0) {
		fprintf(stderr, "sessiond: %s\n", err);
		rc = -1;
	}
	if (mc_lttng_daemon_stop(&g.relayd, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayd: %s\n", err);
		rc = -1;
	}
	kill_orphans();
	reap_all();
	/* The private daemon's run directory stays bound on /run/lttng in this process's mount
	 * namespace (only here): unbind it, or it cannot be removed (EBUSY). */
	while (umount2("/run/lttng", MNT_DETACH) == 0)
		;
	if (g.dir[0]) {
		if (g.failed || rc) {
			fprintf(stderr, "test_lttng_session: kept %s\n", g.dir);
		} else {
			char cmd[128];

			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.dir);
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", g.dir);
		}
	}
	return rc;
}

/* ---- Tests ------------------------------------------------------------------------------- */

static void test_clock(void **state)
{
	int64_t rt, mono, rt2, mono2;
	struct timespec m;
	char out[256], line[256] = "";
	FILE *f;

	(void)state;
	assert_int_equal(mc_clock_now(&rt, &mono), 0);
	clock_gettime(CLOCK_MONOTONIC, &m);
	assert_true(llabs(rt / 1000000000 - (int64_t)time(NULL)) <= 2);
	assert_true(mono <= (int64_t)m.tv_sec * 1000000000 + m.tv_nsec);
	assert_int_equal(mc_clock_now(NULL, NULL), 0);

	/* mc-trace clock prints the same clocks: realtime - monotonic agrees within 50 ms. */
	snprintf(out, sizeof(out), "/tmp/mc-lttng-clock.%d", (int)getpid());
	const char *argv[] = {MC_TRACE_PATH, "clock", NULL};
	int st = run(argv, out);

	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(out);
	assert_int_equal(sscanf(line, "{\"realtime_ns\":%" SCNd64 ",\"monotonic_ns\":%" SCNd64 "}",
	                        &rt2, &mono2),
	                 2);
	assert_true(llabs((rt2 - mono2) - (rt - mono)) < 50000000);
}

static void test_errors(void **state)
{
	struct mc_lttng_daemon d = {0};
	const char *const none[] = {NULL};
	char err[512] = "";

	(void)state;
	assert_int_equal(mc_lttng_sessiond_start(&d, "relative/home", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "absolute"));
	assert_int_equal(mc_lttng_relayd_start(&d, "/tmp/x", "not-an-ip", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IPv4"));
	assert_int_equal(mc_lttng_relayd_start(&d, "/tmp/x", "127.0.0.1:99999", err, sizeof(err)),
	                 -1);
	assert_int_equal(mc_lttng_session_create("bad name", "/tmp/x", err, sizeof(err)), -1);
	assert_int_equal(mc_lttng_session_create("ok", "ftp://x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "net://"));
	assert_int_equal(mc_lttng_enable_ust_events("ok", none, 500, err, sizeof(err)), -1);
	/* The relay daemon's ports are taken: refused before anything starts. */
	if (g.port > 0) {
		char dir[160], listen[64];

		snprintf(dir, sizeof(dir), "%s/relay2", g.dir);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", g.port);
		assert_int_equal(mc_lttng_relayd_start(&d, dir, listen, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "in use"));
		assert_int_equal(d.pid, 0);
	}
	/* Stopping a zeroed daemon is a no-op. */
	assert_int_equal(mc_lttng_daemon_stop(&d, err, sizeof(err)), 0);
	assert_int_equal(mc_lttng_daemon_adopt(&d, "x", 0, 0, err, sizeof(err)), -1);
}

/*
 * The library in this process: a private session daemon, one session streaming to the relay
 * daemon and one writing locally, the same events in both.
 */
static void test_library_sessions(void **state)
{
	const char *const events[] = {EVENT_GLOB, NULL};
	char home[160], local[160], url[96], err[1024] = "", path[256];
	int st, n, sessiond_pid;

	(void)state;
	require_ready();
	g.failed = 1;
	snprintf(home, sizeof(home), "%s/home", g.dir);
	snprintf(local, sizeof(local), "%s/local", g.dir);
	snprintf(url, sizeof(url), "net://127.0.0.1:%d:%d", g.port, g.port + 1);

	if (mc_lttng_sessiond_start(&g.sessiond, home, NULL, err, sizeof(err)) < 0)
		fail_msg("sessiond start: %s", err);
	sessiond_pid = (int)g.sessiond.pid;
	fprintf(stderr, "test_lttng_session: private sessiond pid %d, home %s\n", sessiond_pid,
	        home);
	assert_string_equal(getenv("LTTNG_HOME"), home);
	/* Private: its client socket is in home/run, and not in the host's /run/lttng. */
	snprintf(path, sizeof(path), "%s/run/client-lttng-sessiond", home);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access("/var/run/lttng/client-lttng-sessiond", F_OK), 0);
	if (access("/proc/1/root/run/lttng/client-lttng-sessiond", F_OK) == 0)
		fprintf(stderr, "test_lttng_session: note: a system session daemon runs too\n");
	snprintf(path, sizeof(path), "%s/.lttng/lttng-ust-sock-8", home);
	assert_int_equal(access(path, F_OK), 0);
	/* A second one in the same place is refused, and the first one survives. */
	{
		struct mc_lttng_daemon d2 = {0};

		assert_int_equal(mc_lttng_sessiond_start(&d2, home, NULL, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "already"));
		assert_int_equal(d2.pid, 0);
		assert_true(proc_running(g.sessiond.pid));
	}

	if (mc_lttng_session_create("streamed", url, err, sizeof(err)) < 0)
		fail_msg("create streamed: %s", err);
	if (mc_lttng_session_create("local", local, err, sizeof(err)) < 0)
		fail_msg("create local: %s", err);
	/* The same name twice: lttng's own message. */
	assert_int_equal(mc_lttng_session_create("local", local, err, sizeof(err)), -1);
	fprintf(stderr, "test_lttng_session: expected error: %s\n", err);
	assert_true(strlen(err) > 20);
	if (mc_lttng_enable_ust_events("streamed", events, 500, err, sizeof(err)) < 0)
		fail_msg("enable streamed: %s", err);
	if (mc_lttng_enable_ust_events("local", events, 0, err, sizeof(err)) < 0)
		fail_msg("enable local: %s", err);
	assert_int_equal(mc_lttng_enable_ust_events("nosuch", events, 500, err, sizeof(err)), -1);
	fprintf(stderr, "test_lttng_session: expected error: %s\n", err);
	if (mc_lttng_start("streamed", err, sizeof(err)) < 0)
		fail_msg("start streamed: %s", err);
	if (mc_lttng_start("local", err, sizeof(err)) < 0)
		fail_msg("start local: %s", err);

	/* The traced program inherits LTTNG_HOME and registers on home/.lttng. */
	const char *app[] = {MC_TRACE_SELFTEST_PATH, "25", NULL};

	st = run(app, NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	if (mc_lttng_stop("streamed", err, sizeof(err)) < 0)
		fail_msg("stop streamed: %s", err);
	if (mc_lttng_stop("local", err, sizeof(err)) < 0)
		fail_msg("stop local: %s", err);
	assert_int_equal(mc_lttng_stop("local", err, sizeof(err)), 0); /* already stopped */
	if (mc_lttng_destroy("streamed", 30000, err, sizeof(err)) < 0)
		fail_msg("destroy streamed: %s", err);
	if (mc_lttng_destroy("local", 30000, err, sizeof(err)) < 0)
		fail_msg("destroy local: %s", err);

	n = count_events(local, EVENT_NAME, 25);
	fprintf(stderr, "test_lttng_session: local session: %d events in %s\n", n, local);
	assert_int_equal(n, 25);
	snprintf(path, sizeof(path), "%s/*/streamed-*", g.relay_dir);
	find_one(path, path, sizeof(path));
	n = count_events(path, EVENT_NAME, 25);
	fprintf(stderr, "test_lttng_session: streamed session: %d events in %s\n", n, path);
	assert_int_equal(n, 25);

	/* Another process reaches it by joining its mount namespace (here: from one of its own
	 * with an empty /run/lttng, where no daemon answers). */
	{
		char empty[160];
		pid_t pid;

		snprintf(empty, sizeof(empty), "%s/empty-run", g.dir);
		assert_int_equal(mkdir(empty, 0755), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (unshare(CLONE_NEWNS) < 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
			    mount(empty, "/run/lttng", NULL, MS_BIND, NULL) < 0)
				_exit(10);
			if (lttng_session_daemon_alive() != 0)
				_exit(11);
			if (mc_lttng_sessiond_join(g.sessiond.pid, home, err, sizeof(err)) < 0) {
				fprintf(stderr, "join: %s\n", err);
				_exit(12);
			}
			_exit(lttng_session_daemon_alive() == 1 ? 0 : 13);
		}
		while (waitpid(pid, &st, 0) < 0)
			assert_int_equal(errno, EINTR);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}

	if (mc_lttng_daemon_stop(&g.sessiond, err, sizeof(err)) < 0)
		fail_msg("sessiond stop: %s", err);
	assert_int_equal(g.sessiond.pid, 0);
	assert_false(proc_running(sessiond_pid));
	/* Its consumer daemon went with it (an orphan would have become our child). */
	usleep(200 * 1000);
	assert_int_equal(lttng_children(), 0);
	g.failed = 0;
}

/*
 * mc-trace as in a guest: in a mount namespace of its own, as the only session daemon there
 * (root's default /var/run/lttng), a traced program without LTTNG_HOME, streaming to the
 * relay daemon. The commands run in a child that owns that namespace.
 */
static void test_mc_trace_guest_like(void **state)
{
	char grun[160], ghome[160], out[192], relay[64], line[1024], path[256];
	int st, n, sessiond_pid = 0;
	pid_t pid;
	FILE *f;

	(void)state;
	require_ready();
	g.failed = 1;
	snprintf(grun, sizeof(grun), "%s/guest-run", g.dir);
	snprintf(ghome, sizeof(ghome), "%s/guest-home", g.dir);
	snprintf(out, sizeof(out), "%s/guest.jsonl", g.dir);
	snprintf(relay, sizeof(relay), "127.0.0.1:%d", g.port);
	assert_int_equal(mkdir(grun, 0755), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *start[] = {MC_TRACE_PATH, "start", "--relay", relay,
		                       "--name",      "guest", "--event", EVENT_GLOB,
		                       "--home",      ghome,   NULL};
		const char *app[] = {MC_TRACE_SELFTEST_PATH, "13", NULL};
		const char *stop[] = {MC_TRACE_PATH, "stop", "--name", "guest",
		                      "--home",      ghome,  NULL};

		if ((mkdir("/run/lttng", 0755) < 0 && errno != EEXIST) ||
		    unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
		    mount(grun, "/run/lttng", NULL, MS_BIND, NULL) < 0) {
			fprintf(stderr, "guest namespace: %s\n", strerror(errno));
			_exit(10);
		}
		unsetenv("LTTNG_HOME");
		st = run(start, out);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			_exit(11);
		st = run(app, NULL);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			_exit(12);
		st = run(stop, out);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			_exit(13);
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);

	f = fopen(out, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "\"sessiond_pid\":");

		fprintf(stderr, "test_lttng_session: mc-trace: %s", line);
		if (p && strstr(line, "\"command\":\"start\"")) {
			sessiond_pid = atoi(p + strlen("\"sessiond_pid\":"));
			g.guest_sessiond = sessiond_pid;
		}
	}
	fclose(f);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(sessiond_pid > 0);
	/* mc-trace stop ended it (it was detached: now our child, as subreaper; reap it). */
	reap_all();
	assert_false(proc_running(sessiond_pid));
	g.guest_sessiond = 0;

	snprintf(path, sizeof(path), "%s/*/guest-*", g.relay_dir);
	find_one(path, path, sizeof(path));
	n = count_events(path, EVENT_NAME, 13);
	fprintf(stderr, "test_lttng_session: mc-trace session: %d events in %s\n", n, path);
	assert_int_equal(n, 13);
	usleep(200 * 1000);
	reap_all();
	assert_int_equal(lttng_children(), 0);
	g.failed = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_clock),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_library_sessions),
	        cmocka_unit_test(test_mc_trace_guest_like),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
