/* mc_trace.c — `mc-trace`: an LTTng session in a guest, streaming to the host's relay daemon.
 *
 * `start` runs a session daemon in the guest (detached: the agent's command returns, the
 * daemon stays), creates a session streaming to net://RELAY, enables user-space events and
 * starts; `stop` stops (flushing to the relay), destroys and ends that daemon by pid. The
 * daemon and its consumer come with the guest runtime, next to this program
 * (/data/opt/microcosm/bin/lttng-{sessiond,consumerd}), their libraries in ../lib. State
 * (daemon pid and start time, session name) lives in HOME/state between the two commands.
 * `relay` runs a relay daemon until SIGINT/SIGTERM (host side, e.g. under `ip netns exec
 * microcosm-CLUSTER`). Results are one JSON line on stdout; errors go to stderr and the JSON
 * line carries "error".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mc_trace_xsd.h"
#include "session.h"

#define DEFAULT_NAME    "microcosm"
#define DEFAULT_HOME    "/run/mc-trace"
#define DEFAULT_EVENT   "microcosm_*"
#define MAX_EVENTS      32
#define DESTROY_TIMEOUT 60000 /* ms */

static const char usage[] =
        "usage: mc-trace start --relay ADDR[:PORT] [--name N] [--event PATTERN]... [--home DIR]\n"
        "                      [--flush MS|off] [--consumerd PATH] [--timeout SEC] [-v]...\n"
        "       mc-trace stop [--name N] [--home DIR]\n"
        "       mc-trace clock\n"
        "       mc-trace relay --listen ADDR[:PORT] --output DIR\n"
        "An LTTng session streaming this machine's user-space events to a relay daemon.\n"
        "  start   start a session daemon (detached), create session N (default " DEFAULT_NAME ")\n"
        "          streaming to net://ADDR:PORT:PORT+1 (PORT default 5342), enable PATTERN\n"
        "          (default " DEFAULT_EVENT ", repeatable), start recording\n"
        "  stop    stop recording (flushing to the relay), destroy the session, end the daemon\n"
        "  clock   print this machine's realtime and monotonic clocks\n"
        "  relay   run lttng-relayd listening on ADDR:PORT..PORT+2, traces under DIR, until\n"
        "          SIGINT/SIGTERM\n"
        "  --flush MS|off   hand partly filled buffers to the relay every MS milliseconds, what\n"
        "                   a crash loses at most (default 500); off: full buffers only\n"
        "  --home DIR       daemon and state directory (default " DEFAULT_HOME ")\n"
        "  --consumerd PATH consumer daemon (default: lttng-consumerd next to mc-trace)\n"
        "  --timeout SEC    how long the daemon may take to start (default 30)\n"
        "  -v, --verbose    more daemon messages in DIR/sessiond.log (up to -vvv)\n"
        "Prints one JSON line.\n";

/* ---- Output ------------------------------------------------------------------------------ */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* {"command":…,"error":…}: the JSON line of a failed command; the message also on stderr. */
static int fail(const char *command, const char *session, const char *msg)
{
	fprintf(stderr, "mc-trace %s: %s\n", command, msg);
	printf("{\"command\":");
	json_str(command);
	if (session) {
		printf(",\"session\":");
		json_str(session);
	}
	printf(",\"error\":");
	json_str(msg);
	printf("}\n");
	return 1;
}

/* ---- Runtime next to this program ------------------------------------------------------- */

/* Directory holding this executable (/data/opt/microcosm/bin in a guest). */
static int self_dir(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	snprintf(out, len, "%s", dirname(exe));
	return 0;
}

static int is_exec(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
 * Writes the session configuration schema the daemon validates against (it will not start
 * without one; a guest has no /usr/share/xml/lttng) as DIR/session.xsd.
 */
static int write_xsd(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	FILE *f;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/session.xsd", dir);
	f = fopen(path, "we");
	if (f == NULL || fwrite(mc_trace_session_xsd, 1, sizeof(mc_trace_session_xsd), f) !=
	                         sizeof(mc_trace_session_xsd)) {
		snprintf(err, errlen, "write %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	if (fclose(f) != 0) {
		snprintf(err, errlen, "write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- State between start and stop --------------------------------------------------------- */

struct state {
	pid_t pid;                     /* session daemon */
	unsigned long long start_time; /* its /proc start time */
	char name[128];                /* session */
};

static void state_path(const char *home, char *out, size_t len)
{
	snprintf(out, len, "%s/state", home);
}

static int state_read(const char *home, struct state *s)
{
	char path[PATH_MAX];
	FILE *f;
	int pid, n;

	state_path(home, path, sizeof(path));
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	n = fscanf(f, "%d %llu %127s", &pid, &s->start_time, s->name);
	fclose(f);
	if (n != 3)
		return -1;
	s->pid = pid;
	return 0;
}

static int state_write(const char *home, const struct state *s)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	state_path(home, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (f == NULL)
		return -1;
	fprintf(f, "%d %llu %s\n", (int)s->pid, s->start_time, s->name);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

/* ---- Commands ------------------------------------------------------------------------------ */

/* "ADDR" or "ADDR:PORT" → "net://ADDR:PORT:PORT+1". */
static int relay_url(const char *relay, char *out, size_t len)
{
	const char *colon = strchr(relay, ':');
	long port = MC_LTTNG_RELAYD_PORT;

	if (colon) {
		char *end;

		port = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || port < 1 || port > 65533)
			return -1;
	}
	snprintf(out, len, "net://%.*s:%ld:%ld",
	         (int)(colon ? (size_t)(colon - relay) : strlen(relay)), relay, port, port + 1);
	return 0;
}

static int cmd_start(const char *relay, const char *name, const char *events[], const char *home,
                     const char *consumerd, unsigned flush_ms, int timeout_s, int verbose)
{
	struct mc_lttng_sessiond_opts o = {.flags = MC_LTTNG_SYSTEM | MC_LTTNG_DETACH};
	struct mc_lttng_daemon d = {0};
	char dir[PATH_MAX], sessiond[PATH_MAX + 32], cons[PATH_MAX + 32], lib[PATH_MAX + 32] = "";
	char url[128], err[1024], ignored[256], xsd[PATH_MAX];
	struct state s;
	int64_t rt = 0, mono = 0;

	if (relay == NULL)
		return fail("start", name, "--relay ADDR[:PORT] is required");
	if (relay_url(relay, url, sizeof(url)) < 0) {
		snprintf(err, sizeof(err), "--relay %s: bad port", relay);
		return fail("start", name, err);
	}
	if (strlen(name) >= sizeof(s.name))
		return fail("start", name, "session name too long");
	if (mkdir(home, 0755) < 0 && errno != EEXIST) {
		snprintf(err, sizeof(err), "mkdir %s: %s", home, strerror(errno));
		return fail("start", name, err);
	}
	if (state_read(home, &s) == 0 &&
	    mc_lttng_daemon_adopt(&d, "lttng-sessiond", s.pid, s.start_time, ignored,
	                          sizeof(ignored)) == 0) {
		snprintf(err, sizeof(err),
		         "session %s already started (lttng-sessiond pid %d): mc-trace stop first",
		         s.name, (int)s.pid);
		return fail("start", name, err);
	}

	/* The daemons shipped next to mc-trace (guest runtime); else the host's. */
	if (self_dir(dir, sizeof(dir)) == 0) {
		snprintf(sessiond, sizeof(sessiond), "%s/lttng-sessiond", dir);
		snprintf(cons, sizeof(cons), "%s/lttng-consumerd", dir);
		snprintf(lib, sizeof(lib), "%s/../lib", dir);
		if (is_exec(sessiond))
			o.sessiond = sessiond;
		if (is_exec(cons))
			o.consumerd = cons;
		if (access(lib, F_OK) == 0 && o.consumerd)
			o.consumerd_libdir = lib;
	}
	if (consumerd)
		o.consumerd = consumerd;
	snprintf(xsd, sizeof(xsd), "%s/xml", home);
	if (write_xsd(xsd, err, sizeof(err)) < 0)
		return fail("start", name, err);
	o.xsd_dir = xsd;
	o.timeout_ms = timeout_s * 1000;
	o.verbose = verbose;

	/* Clones start their daemons in the same second: without fresh randomness in
	 * LTTng's UUID seed they would share session UUIDs (tracing/uuid_seed.c). */
	{
		char seedlib[PATH_MAX + 32];

		snprintf(seedlib, sizeof(seedlib), "%s/libmc-uuid-seed.so", lib);
		if (lib[0] && access(seedlib, R_OK) == 0)
			setenv("LD_PRELOAD", seedlib, 1);
	}
	if (mc_lttng_sessiond_start(&d, home, &o, err, sizeof(err)) < 0)
		return fail("start", name, err);
	unsetenv("LD_PRELOAD");
	/* One name per guest (NAME-HOSTNAME): the relay daemon keeps each guest's session
	 * apart even where the guests' daemons look alike (same pids, same second). */
	{
		static char full[sizeof(s.name)];
		char host[64] = "";

		gethostname(host, sizeof(host) - 1);
		if (host[0] &&
		    (size_t)snprintf(full, sizeof(full), "%s-%s", name, host) < sizeof(full))
			name = full;
	}
	if (mc_lttng_session_create(name, url, err, sizeof(err)) < 0 ||
	    mc_lttng_enable_ust_events(name, events, flush_ms, err, sizeof(err)) < 0 ||
	    mc_lttng_start(name, err, sizeof(err)) < 0) {
		mc_lttng_daemon_stop(&d, ignored, sizeof(ignored));
		return fail("start", name, err);
	}
	s.pid = d.pid;
	s.start_time = d.start_time;
	snprintf(s.name, sizeof(s.name), "%s", name);
	if (state_write(home, &s) < 0) {
		snprintf(err, sizeof(err), "write %s/state: %s", home, strerror(errno));
		mc_lttng_daemon_stop(&d, ignored, sizeof(ignored));
		return fail("start", name, err);
	}
	mc_clock_now(&rt, &mono);
	printf("{\"command\":\"start\",\"session\":");
	json_str(name);
	printf(",\"sessiond_pid\":%d,\"flush_ms\":%u,\"output\":", (int)d.pid, flush_ms);
	json_str(url);
	printf(",\"events\":[");
	for (int i = 0; events[i]; i++) {
		printf(i ? "," : "");
		json_str(events[i]);
	}
	printf("],\"realtime_ns\":%" PRId64 ",\"monotonic_ns\":%" PRId64 "}\n", rt, mono);
	return 0;
}

static int cmd_stop(const char *home, const char *name)
{
	struct mc_lttng_daemon d = {0};
	char err[1024] = "", derr[512] = "";
	struct state s;
	int rc = 0;

	if (state_read(home, &s) < 0) {
		snprintf(err, sizeof(err), "no session started (no %s/state)", home);
		return fail("stop", name, err);
	}
	/* The name given to start, or the per-guest one start made of it (NAME-HOSTNAME). */
	if (name && strcmp(name, s.name) != 0 &&
	    !(strncmp(name, s.name, strlen(name)) == 0 && s.name[strlen(name)] == '-')) {
		snprintf(err, sizeof(err), "the session started in %s is %s, not %s", home, s.name,
		         name);
		return fail("stop", name, err);
	}
	if (mc_lttng_daemon_adopt(&d, "lttng-sessiond", s.pid, s.start_time, err, sizeof(err)) <
	    0) {
		char path[PATH_MAX];

		state_path(home, path, sizeof(path));
		unlink(path);
		return fail("stop", s.name, err);
	}
	if (mc_lttng_stop(s.name, err, sizeof(err)) < 0 ||
	    mc_lttng_destroy(s.name, DESTROY_TIMEOUT, err, sizeof(err)) < 0)
		rc = -1;
	if (mc_lttng_daemon_stop(&d, derr, sizeof(derr)) < 0) {
		if (rc == 0)
			snprintf(err, sizeof(err), "%s", derr);
		rc = -1;
	} else {
		char path[PATH_MAX];

		state_path(home, path, sizeof(path));
		unlink(path);
	}
	if (rc < 0)
		return fail("stop", s.name, err);
	printf("{\"command\":\"stop\",\"session\":");
	json_str(s.name);
	printf(",\"sessiond_pid\":%d,\"stopped\":true}\n", (int)s.pid);
	return 0;
}

static int cmd_clock(void)
{
	int64_t rt, mono;

	if (mc_clock_now(&rt, &mono) < 0)
		return fail("clock", NULL, strerror(errno));
	printf("{\"realtime_ns\":%" PRId64 ",\"monotonic_ns\":%" PRId64 "}\n", rt, mono);
	return 0;
}

static int cmd_relay(const char *listen, const char *output)
{
	struct mc_lttng_daemon d = {0};
	sigset_t set;
	char err[1024];
	int sig = 0;

	if (listen == NULL || output == NULL)
		return fail("relay", NULL, "--listen ADDR[:PORT] and --output DIR are required");
	/* Blocked before the daemon starts, so an early Ctrl-C still stops it. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (mc_lttng_relayd_start(&d, output, listen, err, sizeof(err)) < 0)
		return fail("relay", NULL, err);
	printf("{\"command\":\"relay\",\"relayd_pid\":%d,\"listen\":", (int)d.pid);
	json_str(listen);
	printf(",\"output\":");
	json_str(output);
	printf("}\n");
	fflush(stdout);
	while (sig != SIGINT && sig != SIGTERM && sig != SIGHUP) {
		int st;

		if (sigwait(&set, &sig) != 0)
			break;
		if (sig == SIGCHLD && waitpid(d.pid, &st, WNOHANG) == d.pid) {
			snprintf(err, sizeof(err), "lttng-relayd %d ended (log %s)", (int)d.pid,
			         d.log);
			return fail("relay", NULL, err);
		}
	}
	if (mc_lttng_daemon_stop(&d, err, sizeof(err)) < 0)
		return fail("relay", NULL, err);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	        {"relay", required_argument, NULL, 'r'},
	        {"name", required_argument, NULL, 'n'},
	        {"event", required_argument, NULL, 'e'},
	        {"home", required_argument, NULL, 'H'},
	        {"consumerd", required_argument, NULL, 'c'},
	        {"timeout", required_argument, NULL, 't'},
	        {"flush", required_argument, NULL, 'f'},
	        {"listen", required_argument, NULL, 'l'},
	        {"output", required_argument, NULL, 'o'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *events[MAX_EVENTS + 1] = {NULL};
	const char *relay = NULL, *name = DEFAULT_NAME, *home = DEFAULT_HOME, *consumerd = NULL;
	const char *listen = NULL, *output = NULL, *cmd;
	int nev = 0, timeout_s = 30, name_set = 0, verbose = 0, opt;
	unsigned flush_ms = 500;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "+r:n:e:H:c:t:f:l:o:vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'r':
			relay = optarg;
			break;
		case 'n':
			name = optarg;
			name_set = 1;
			break;
		case 'e':
			if (nev == MAX_EVENTS) {
				fprintf(stderr, "mc-trace: at most %d --event\n", MAX_EVENTS);
				return 2;
			}
			events[nev++] = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'c':
			consumerd = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 3600) {
				fprintf(stderr, "mc-trace: --timeout '%s': seconds, 1..3600\n",
				        optarg);
				return 2;
			}
			timeout_s = (int)v;
			break;
		}
		case 'f': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (!strcmp(optarg, "off")) {
				flush_ms = 0;
				break;
			}
			if (*end || end == optarg || v < 1 || v > 3600000) {
				fprintf(stderr,
				        "mc-trace: --flush '%s': milliseconds, 1..3600000, or "
				        "off\n",
				        optarg);
				return 2;
			}
			flush_ms = (unsigned)v;
			break;
		}
		case 'l':
			listen = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mc-trace: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	if (home[0] != '/') {
		fprintf(stderr, "mc-trace: --home must be an absolute path\n");
		return 2;
	}
	if (nev == 0)
		events[nev++] = DEFAULT_EVENT;
	events[nev] = NULL;

	if (!strcmp(cmd, "start"))
		return cmd_start(relay, name, events, home, consumerd, flush_ms, timeout_s,
		                 verbose);
	if (!strcmp(cmd, "stop"))
		return cmd_stop(home, name_set ? name : NULL);
	if (!strcmp(cmd, "clock"))
		return cmd_clock();
	if (!strcmp(cmd, "relay"))
		return cmd_relay(listen, output);
	fprintf(stderr, "mc-trace: unknown command '%s'\n%s", cmd, usage);
	return 2;
}
