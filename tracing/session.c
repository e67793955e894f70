/* session.c — LTTng session control through liblttng-ctl: private daemons, sessions, clocks. */
#include "session.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lttng/lttng.h>

extern char **environ;

#define POLL_MS            20
#define SESSIOND_TIMEOUT   30000 /* ms: a sessiond under TCG takes seconds */
#define RELAYD_TIMEOUT     30000 /* ms */
#define KILL_WAIT_MS       5000  /* after SIGKILL */
#define APPS_SOCK_FILE     "lttng-ust-sock-8"
#define SESSIOND_PID_FILE  "lttng-sessiond.pid"
#define SYSTEM_RUNDIR      "/var/run/lttng"
#define SPAWN_REC_PID      1 /* spawn pipe record: the detached daemon's pid */
#define SPAWN_REC_EXEC_ERR 2 /* spawn pipe record: exec failed with errno */

struct spawn_rec {
	int tag; /* SPAWN_REC_* */
	int val; /* pid or errno */
};

/* ---- Small helpers ---------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void errf(char *err, size_t errlen, const char *fmt,
                                                       ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mkdir -p; 0 or -1 with errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * Reads /proc/PID/stat: the state letter and the start time (field 22). Returns 0, or -1 if
 * there is no such process.
 */
static int proc_stat(pid_t pid, char *state, unsigned long long *start_time)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	/* p is at field 3; field 22 is 19 fields further. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	*start_time = strtoull(p, NULL, 10);
	return 0;
}

/* True while d's process exists and is not a zombie (a detached one, reaped by init). */
static bool detached_alive(const struct mc_lttng_daemon *d)
{
	unsigned long long st;
	char state;

	if (proc_stat(d->pid, &state, &st) < 0)
		return false;
	if (st != d->start_time)
		return false;
	return state != 'Z' && state != 'X';
}

/*
 * Checks whether d's process is still running; for a child, reaps it if it has exited and
 * describes how in why. Returns true while it runs.
 */
static bool daemon_running(struct mc_lttng_daemon *d, char *why, size_t whylen)
{
	int st;
	pid_t w;

	if (!d->child) {
		if (detached_alive(d))
			return true;
		snprintf(why, whylen, "exited");
		return false;
	}
	w = waitpid(d->pid, &st, WNOHANG);
	if (w == 0)
		return true;
	if (w < 0)
		snprintf(why, whylen, "lost (waitpid: %s)", strerror(errno));
	else if (WIFEXITED(st))
		snprintf(why, whylen, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(why, whylen, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(why, whylen, "ended");
	return false;
}

/* The last non-empty line of file path (at most len - 1 bytes), or "" if none. */
static void last_line(const char *path, char *out, size_t len)
{
	char buf[4096];
	ssize_t n = -1;
	off_t size;
	int fd;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size >= 0) {
		off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;

		n = pread(fd, buf, sizeof(buf) - 1, from);
	}
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	char *start = strrchr(buf, '\n');

	snprintf(out, len, "%s", start ? start + 1 : buf);
}

/* Copies the environment, replacing or adding each "KEY=VALUE" of set. Free the array only. */
static char **env_with(const char *const set[])
{
	size_t n = 0, ns = 0, k = 0;
	char **envp;

	while (environ[n])
		n++;
	while (set[ns])
		ns++;
	envp = calloc(n + ns + 1, sizeof(*envp));
	if (envp == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;

		for (size_t j = 0; j < ns; j++) {
			size_t kl = (size_t)(strchr(set[j], '=') - set[j]) + 1;

			if (strncmp(environ[i], set[j], kl) == 0)
				replaced = true;
		}
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < ns; j++)
		envp[k++] = (char *)set[j];
	envp[k] = NULL;
	return envp;
}

static void spawn_report(int fd, int tag, int val)
{
	struct spawn_rec r = {.tag = tag, .val = val};
	ssize_t n = write(fd, &r, sizeof(r));

	(void)n;
}

/* Child side of spawn(): stdio, descriptors, exec. Never returns. */
__attribute__((noreturn)) static void spawn_exec(char *const argv[], char *const envp[],
                                                 const char *log, int rep)
{
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (in < 0 || out < 0) {
		spawn_report(rep, SPAWN_REC_EXEC_ERR, errno);
		_exit(127);
	}
	dup2(in, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(out, STDERR_FILENO);
	/* Nothing of the caller's leaks into a daemon that may outlive it (the agent waits for
	 * its command's pipes to close); rep goes at exec. */
	syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
	/* The caller may block or ignore signals (sigwait loops); the daemon must not. */
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	execvpe(argv[0], argv, envp);
	spawn_report(rep, SPAWN_REC_EXEC_ERR, errno);
	_exit(127);
}

/*
 * Starts argv with envp, stdout and stderr appended to d->log. A child: own process group,
 * SIGTERM when the caller dies. Detached: own session, reparented to init. Fills d->pid,
 * d->child, d->start_time. Returns 0, or -1 with err set (exec failures included).
 */
static int spawn(struct mc_lttng_daemon *d, char *const argv[], char *const envp[], bool detach,
                 char *err, size_t errlen)
{
	pid_t parent = getpid(), pid, daemon_pid = 0;
	struct spawn_rec r;
	int p[2], exec_err = 0;
	char state;

	if (pipe2(p, O_CLOEXEC) < 0) {
		errf(err, errlen, "%s: pipe: %s", d->what, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		errf(err, errlen, "%s: fork: %s", d->what, strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (detach) {
			pid_t g;

			setsid();
			g = fork();
			if (g < 0) {
				spawn_report(p[1], SPAWN_REC_EXEC_ERR, errno);
				_exit(127);
			}
			if (g > 0) {
				spawn_report(p[1], SPAWN_REC_PID, (int)g);
				_exit(0);
			}
		} else {
			setpgid(0, 0);
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(127);
		}
		spawn_exec(argv, envp, d->log, p[1]);
	}
	close(p[1]);
	daemon_pid = detach ? 0 : pid;
	for (;;) {
		ssize_t n = read(p[0], &r, sizeof(r));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(r))
			break;
		if (r.tag == SPAWN_REC_PID)
			daemon_pid = (pid_t)r.val;
		else if (r.tag == SPAWN_REC_EXEC_ERR)
			exec_err = r.val;
	}
	close(p[0]);
	if (detach)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (exec_err || daemon_pid <= 0) {
		if (!detach)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
		errf(err, errlen, "%s: start %s: %s", d->what, argv[0],
		     exec_err ? strerror(exec_err) : "no process");
		return -1;
	}
	d->pid = daemon_pid;
	d->child = !detach;
	if (proc_stat(daemon_pid, &state, &d->start_time) < 0)
		d->start_time = 0; /* already gone: the readiness wait says so */
	return 0;
}

/* Ends a daemon that failed to become ready; err already says why. */
static void abandon(struct mc_lttng_daemon *d)
{
	char ignored[128];

	mc_lttng_daemon_stop(d, ignored, sizeof(ignored));
}

/*
 * Waits up to timeout_ms until ready(ctx) holds, failing early if d's process ends (err then
 * quotes its log's last line). Returns 0, or -1 with err set and the daemon stopped.
 */
static int wait_ready(struct mc_lttng_daemon *d, bool (*ready)(const void *), const void *ctx,
                      int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + timeout_ms;
	char why[128], line[256];

	for (;;) {
		if (!daemon_running(d, why, sizeof(why))) {
			last_line(d->log, line, sizeof(line));
			errf(err, errlen, "%s (pid %d) %s before it was ready%s%s", d->what,
			     (int)d->pid, why, line[0] ? ": " : "", line);
			d->pid = 0;
			return -1;
		}
		if (ready(ctx))
			return 0;
		if (mono_ms() >= deadline) {
			last_line(d->log, line, sizeof(line));
			errf(err, errlen, "%s (pid %d) not ready after %d ms (log %s%s%s)", d->what,
			     (int)d->pid, timeout_ms, d->log, line[0] ? ": " : "", line);
			abandon(d);
			return -1;
		}
		sleep_ms(POLL_MS);
	}
}

/* ---- Session daemon ---------------------------------------------------------------------- */

struct sessiond_ready {
	const char *pid_file;  /* the daemon writes its pid there early */
	const char *apps_sock; /* traced programs register there */
	pid_t pid;             /* the daemon we started */
};

/*
 * Ready once the pid file names our daemon (not another one answering on the same socket),
 * the apps socket exists and this process's liblttng-ctl reaches a daemon.
 */
static bool sessiond_is_ready(const void *ctx)
{
	const struct sessiond_ready *r = ctx;
	char buf[32] = "";
	ssize_t n;
	int fd = open(r->pid_file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || atoi(buf) != (int)r->pid)
		return false;
	if (access(r->apps_sock, F_OK) < 0)
		return false;
	return lttng_session_daemon_alive() == 1;
}

/*
 * As root, gives this process a private /var/run/lttng: a new mount namespace (slave, so the
 * host's later mounts still show) with run_dir bind-mounted on /run/lttng.
 */
static int enter_private_rundir(const char *run_dir, char *err, size_t errlen)
{
	char sys[PATH_MAX];

	if (unshare(CLONE_NEWNS) < 0) {
		errf(err, errlen, "lttng-sessiond: unshare mount namespace: %s%s", strerror(errno),
		     errno == EINVAL ? " (the calling process must be single-threaded)" : "");
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		errf(err, errlen, "lttng-sessiond: make / a slave mount: %s", strerror(errno));
		return -1;
	}
	/* /var/run is usually a link to /run: mount on the directory it leads to. */
	if (realpath("/var/run", sys) == NULL)
		snprintf(sys, sizeof(sys), "/var/run");
	if (strlen(sys) + sizeof("/lttng") > sizeof(sys)) {
		errf(err, errlen, "lttng-sessiond: run directory path too long");
		return -1;
	}
	strcat(sys, "/lttng");
	if (mkdir_p(sys, 0755) < 0) {
		errf(err, errlen, "lttng-sessiond: mkdir %s: %s", sys, strerror(errno));
		return -1;
	}
	if (mount(run_dir, sys, NULL, MS_BIND, NULL) < 0) {
		errf(err, errlen, "lttng-sessiond: bind %s on %s: %s", run_dir, sys,
		     strerror(errno));
		return -1;
	}
	return 0;
}

int mc_lttng_sessiond_start(struct mc_lttng_daemon *d, const char *home,
                            const struct mc_lttng_sessiond_opts *opts, char *err, size_t errlen)
{
	const struct mc_lttng_sessiond_opts defaults = {0};
	const struct mc_lttng_sessiond_opts *o = opts ? opts : &defaults;
	const bool root = getuid() == 0, sys_mode = (o->flags & MC_LTTNG_SYSTEM) != 0;
	char dot[PATH_MAX], run[PATH_MAX], load[PATH_MAX], apps[PATH_MAX], pid_file[PATH_MAX];
	char env_home[PATH_MAX + 16], env_xsd[PATH_MAX + 40];
	const char *argv[20];
	const char *set[] = {env_home, NULL, NULL};
	char **envp = NULL;
	int argc = 0, rc = -1;

	memset(d, 0, sizeof(*d));
	snprintf(d->what, sizeof(d->what), "lttng-sessiond");
	if (home == NULL || home[0] != '/') {
		errf(err, errlen, "lttng-sessiond: home must be an absolute path");
		return -1;
	}
	if (strlen(home) > PATH_MAX - 64) {
		errf(err, errlen, "lttng-sessiond: home %s: path too long", home);
		return -1;
	}
	snprintf(dot, sizeof(dot), "%s/.lttng", home);
	snprintf(run, sizeof(run), "%s/run", home);
	snprintf(load, sizeof(load), "%s/sessions", home);
	snprintf(d->log, sizeof(d->log), "%s/sessiond.log", home);
	snprintf(env_home, sizeof(env_home), "LTTNG_HOME=%s", home);
	if (o->xsd_dir) {
		snprintf(env_xsd, sizeof(env_xsd), "LTTNG_SESSION_CONFIG_XSD_PATH=%s", o->xsd_dir);
		set[1] = env_xsd;
	}
	if (mkdir_p(dot, 0755) < 0 || mkdir_p(load, 0755) < 0 ||
	    (root && !sys_mode && mkdir_p(run, 0755) < 0)) {
		errf(err, errlen, "lttng-sessiond: create %s: %s", home, strerror(errno));
		return -1;
	}

	/* Where the daemon puts its sockets and pid file, and who reaches them. */
	if (sys_mode && root) {
		/* The daemon creates only the last level (a guest's initramfs has no /var/run). */
		if (mkdir_p(SYSTEM_RUNDIR, 0755) < 0) {
			errf(err, errlen, "lttng-sessiond: create " SYSTEM_RUNDIR ": %s",
			     strerror(errno));
			return -1;
		}
		snprintf(apps, sizeof(apps), SYSTEM_RUNDIR "/" APPS_SOCK_FILE);
		snprintf(pid_file, sizeof(pid_file), SYSTEM_RUNDIR "/" SESSIOND_PID_FILE);
	} else {
		snprintf(apps, sizeof(apps), "%s/" APPS_SOCK_FILE, dot);
		snprintf(pid_file, sizeof(pid_file), "%s/" SESSIOND_PID_FILE, root ? run : dot);
		if (root && enter_private_rundir(run, err, errlen) < 0)
			return -1;
		/* liblttng-ctl (non-root) and LTTng-UST in our children look at LTTNG_HOME. */
		if (setenv("LTTNG_HOME", home, 1) < 0) {
			errf(err, errlen, "lttng-sessiond: setenv LTTNG_HOME: %s", strerror(errno));
			return -1;
		}
	}
	/* One daemon per run directory: do not let a second one fail on its lock later. */
	if (lttng_session_daemon_alive() == 1) {
		errf(err, errlen, "lttng-sessiond: a session daemon already answers here (%s)",
		     sys_mode ? SYSTEM_RUNDIR : home);
		return -1;
	}
	/* A stale pid file must not make an old daemon look like ours. */
	unlink(pid_file);

	argv[argc++] = o->sessiond ? o->sessiond : "lttng-sessiond";
	argv[argc++] = "--no-kernel";
	/* Only sessions we create: nothing from /etc/lttng/sessions/auto. */
	argv[argc++] = "--load";
	argv[argc++] = load;
	if (!sys_mode) {
		argv[argc++] = "--apps-sock";
		argv[argc++] = apps;
	}
	if (o->consumerd) {
		argv[argc++] = "--consumerd64-path";
		argv[argc++] = o->consumerd;
	}
	for (int v = 0; v < o->verbose && v < 3; v++)
		argv[argc++] = "-v";
	if (o->verbose > 0)
		argv[argc++] = "--verbose-consumer";
	if (o->consumerd_libdir) {
		argv[argc++] = "--consumerd64-libdir";
		argv[argc++] = o->consumerd_libdir;
	}
	argv[argc] = NULL;

	envp = env_with(set);
	if (envp == NULL) {
		errf(err, errlen, "lttng-sessiond: out of memory");
		return -1;
	}
	if (spawn(d, (char *const *)argv, envp, (o->flags & MC_LTTNG_DETACH) != 0, err, errlen) ==
	    0) {
		struct sessiond_ready r = {.pid_file = pid_file, .apps_sock = apps, .pid = d->pid};

		rc = wait_ready(d, sessiond_is_ready, &r,
		                o->timeout_ms > 0 ? o->timeout_ms : SESSIOND_TIMEOUT, err, errlen);
	}
	free(envp);
	if (rc < 0)
		memset(d, 0, sizeof(*d));
	return rc;
}

int mc_lttng_sessiond_join(pid_t pid, const char *home, char *err, size_t errlen)
{
	char path[64];
	int fd;

	if (getuid() == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			errf(err, errlen, "lttng-sessiond %d: open %s: %s", (int)pid, path,
			     strerror(errno));
			return -1;
		}
		if (setns(fd, CLONE_NEWNS) < 0) {
			errf(err, errlen, "lttng-sessiond %d: enter its mount namespace: %s%s",
			     (int)pid, strerror(errno),
			     errno == EINVAL ? " (the calling process must be single-threaded)"
			                     : "");
			close(fd);
			return -1;
		}
		close(fd);
	}
	if (setenv("LTTNG_HOME", home, 1) < 0) {
		errf(err, errlen, "lttng-sessiond %d: setenv LTTNG_HOME: %s", (int)pid,
		     strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- Relay daemon -------------------------------------------------------------------------- */

struct relayd_ready {
	uint32_t addr; /* s_addr as stored (network order) */
	int port[3];   /* control, data, live */
	pid_t pid;     /* the relay daemon; 0: any process */
};

/* True if process pid holds the socket with this inode. */
static bool pid_has_socket(pid_t pid, unsigned long inode)
{
	char dir[64], path[128], link[64], want[64];
	struct dirent *e;
	bool found = false;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	dp = opendir(dir);
	if (dp == NULL)
		return false;
	while (!found && (e = readdir(dp)) != NULL) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(dp);
	return found;
}

/*
 * How many of the three ports listen at r->addr (or the wildcard address) in this network
 * namespace (/proc/self/net/tcp), counting only sockets of r->pid unless it is 0.
 */
static int relayd_listening(const struct relayd_ready *r)
{
	bool seen[3] = {false, false, false};
	char line[256];
	FILE *f = fopen("/proc/self/net/tcp", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned addr, port, state;
		unsigned long inode;

		if (sscanf(line, " %*u: %8X:%4X %*8X:%*4X %2X %*8X:%*8X %*2X:%*8X %*8X %*u %*u %lu",
		           &addr, &port, &state, &inode) != 4)
			continue;
		if (state != 0x0A || (addr != r->addr && addr != 0))
			continue;
		for (int i = 0; i < 3; i++)
			if ((int)port == r->port[i] && !seen[i])
				seen[i] = r->pid == 0 || pid_has_socket(r->pid, inode);
	}
	fclose(f);
	return (int)seen[0] + (int)seen[1] + (int)seen[2];
}

/* Ready when our relay daemon itself listens on all three ports. */
static bool relayd_is_ready(const void *ctx)
{
	return relayd_listening(ctx) == 3;
}

int mc_lttng_relayd_start(struct mc_lttng_daemon *d, const char *output_dir,
                          const char *listen_addr, char *err, size_t errlen)
{
	char host[64], url[3][96], env_home[PATH_MAX + 16];
	const char *set[] = {env_home, NULL};
	struct relayd_ready r;
	struct in_addr ia;
	const char *colon;
	long port = MC_LTTNG_RELAYD_PORT;
	char **envp;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	snprintf(d->what, sizeof(d->what), "lttng-relayd");
	if (output_dir == NULL || output_dir[0] != '/' || strlen(output_dir) > PATH_MAX - 64) {
		errf(err, errlen, "lttng-relayd: output directory must be an absolute path");
		return -1;
	}
	if (listen_addr == NULL) {
		errf(err, errlen, "lttng-relayd: no listen address");
		return -1;
	}
	colon = strchr(listen_addr, ':');
	if (colon) {
		char *end;

		port = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || port < 1 || port > 65533) {
			errf(err, errlen, "lttng-relayd: listen address %s: bad port", listen_addr);
			return -1;
		}
	}
	snprintf(host, sizeof(host), "%.*s",
	         (int)(colon ? (size_t)(colon - listen_addr) : strlen(listen_addr)), listen_addr);
	if (inet_pton(AF_INET, host, &ia) != 1) {
		errf(err, errlen, "lttng-relayd: listen address %s: not an IPv4 address", host);
		return -1;
	}
	r.addr = ia.s_addr;
	for (int i = 0; i < 3; i++) {
		r.port[i] = (int)port + i;
		snprintf(url[i], sizeof(url[i]), "tcp://%s:%d", host, r.port[i]);
	}
	if (mkdir_p(output_dir, 0755) < 0) {
		errf(err, errlen, "lttng-relayd: create %s: %s", output_dir, strerror(errno));
		return -1;
	}
	/* Taken ports would make it fail (or look ready through another daemon): say so now. */
	r.pid = 0;
	if (relayd_listening(&r) > 0) {
		errf(err, errlen, "lttng-relayd: %s:%d..%d: a port is already in use", host,
		     r.port[0], r.port[2]);
		return -1;
	}
	snprintf(d->log, sizeof(d->log), "%s/relayd.log", output_dir);
	/* Its configuration from output_dir/.lttng (none), never from the user's home. */
	snprintf(env_home, sizeof(env_home), "LTTNG_HOME=%s", output_dir);

	const char *argv[] = {"lttng-relayd", "--output", output_dir,    "--control-port", url[0],
	                      "--data-port",  url[1],     "--live-port", url[2],           NULL};

	envp = env_with(set);
	if (envp == NULL) {
		errf(err, errlen, "lttng-relayd: out of memory");
		return -1;
	}
	if (spawn(d, (char *const *)argv, envp, false, err, errlen) == 0) {
		r.pid = d->pid;
		rc = wait_ready(d, relayd_is_ready, &r, RELAYD_TIMEOUT, err, errlen);
	}
	free(envp);
	if (rc < 0)
		memset(d, 0, sizeof(*d));
	return rc;
}

/* ---- Stopping ---------------------------------------------------------------------------- */

/* Waits up to ms for d's process to be gone. */
static bool wait_gone(struct mc_lttng_daemon *d, int ms)
{
	int64_t deadline = mono_ms() + ms;
	char why[128];

	for (;;) {
		if (!daemon_running(d, why, sizeof(why)))
			return true;
		if (mono_ms() >= deadline)
			return false;
		sleep_ms(POLL_MS);
	}
}

int mc_lttng_daemon_stop(struct mc_lttng_daemon *d, char *err, size_t errlen)
{
	char why[128];

	if (d == NULL || d->pid <= 0)
		return 0;
	/* Gone already (or its pid belongs to another process now): nothing to signal. */
	if (!daemon_running(d, why, sizeof(why))) {
		d->pid = 0;
		return 0;
	}
	if (kill(d->pid, SIGTERM) < 0 && errno != ESRCH) {
		errf(err, errlen, "%s %d: SIGTERM: %s", d->what, (int)d->pid, strerror(errno));
		return -1;
	}
	if (!wait_gone(d, MC_LTTNG_STOP_GRACE_MS)) {
		kill(d->pid, SIGKILL);
		if (!wait_gone(d, KILL_WAIT_MS)) {
			errf(err, errlen, "%s %d: still running after SIGKILL", d->what,
			     (int)d->pid);
			return -1;
		}
	}
	d->pid = 0;
	return 0;
}

int mc_lttng_daemon_adopt(struct mc_lttng_daemon *d, const char *what, pid_t pid,
                          unsigned long long start_time, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->what, sizeof(d->what), "%s", what ? what : "daemon");
	d->pid = pid;
	d->start_time = start_time;
	d->child = 0;
	if (pid <= 0 || !detached_alive(d)) {
		errf(err, errlen, "%s %d: not running", d->what, (int)pid);
		d->pid = 0;
		return -1;
	}
	return 0;
}

/* ---- Sessions ------------------------------------------------------------------------------ */

static int check_name(const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= LTTNG_NAME_MAX) {
		errf(err, errlen, "session name: empty or too long");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.')) {
			errf(err, errlen, "session name '%s': only letters, digits, '-', '_', '.'",
			     name);
			return -1;
		}
	}
	return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * liblttng-ctl writes to the session daemon's socket without MSG_NOSIGNAL: a daemon that hangs
 * up (it does on some errors) would kill the caller with SIGPIPE. Each call blocks SIGPIPE in
 * the calling thread and discards one it caused; a SIGPIPE already pending stays.
 */
struct pipe_guard {
	sigset_t old;     /* the thread's mask before */
	bool was_pending; /* SIGPIPE was pending before the call */
};

static void pipe_guard_enter(struct pipe_guard *pg)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &pg->old);
	pg->was_pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
}

static void pipe_guard_leave(struct pipe_guard *pg)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!pg->was_pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE)) {
		const struct timespec zero = {0, 0};

		sigtimedwait(&set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &pg->old, NULL);
}

static int create_session(const char *name, const char *output, char *err, size_t errlen)
{
	struct lttng_session_descriptor *desc;
	enum lttng_error_code code;

	if (check_name(name, err, errlen) < 0)
		return -1;
	if (output == NULL) {
		errf(err, errlen, "session %s: no output", name);
		return -1;
	}
	if (starts_with(output, "net://") || starts_with(output, "net6://")) {
		desc = lttng_session_descriptor_network_create(name, output, NULL);
	} else if (starts_with(output, "file:///") || output[0] == '/') {
		const char *path = output[0] == '/' ? output : output + strlen("file://");

		desc = lttng_session_descriptor_local_create(name, path);
	} else {
		errf(err, errlen,
		     "session %s: output %s: neither net://HOST[:CTRL[:DATA]] nor an absolute "
		     "path",
		     name, output);
		return -1;
	}
	if (desc == NULL) {
		errf(err, errlen, "session %s: output %s: not accepted by liblttng-ctl", name,
		     output);
		return -1;
	}
	code = lttng_create_session_ext(desc);
	lttng_session_descriptor_destroy(desc);
	if (code != LTTNG_OK) {
		errf(err, errlen, "session %s: create (output %s): %s", name, output,
		     lttng_strerror(-(int)code));
		return -1;
	}
	return 0;
}

#define CHANNEL "microcosm"

static int enable_events(const char *name, const char *const patterns[], unsigned flush_ms,
                         char *err, size_t errlen)
{
	struct lttng_domain dom;
	struct lttng_handle *h;
	int rc = 0;

	if (check_name(name, err, errlen) < 0)
		return -1;
	if (patterns == NULL || patterns[0] == NULL) {
		errf(err, errlen, "session %s: no event pattern", name);
		return -1;
	}
	if (flush_ms > 3600000) {
		errf(err, errlen, "session %s: flush interval %u ms: at most an hour", name,
		     flush_ms);
		return -1;
	}
	memset(&dom, 0, sizeof(dom));
	dom.type = LTTNG_DOMAIN_UST;
	dom.buf_type = LTTNG_BUFFER_PER_UID;
	h = lttng_create_handle(name, &dom);
	if (h == NULL) {
		errf(err, errlen, "session %s: no handle for the user-space domain", name);
		return -1;
	}
	/* Our own channel (and the metadata channel), whose sub-buffers are flushed every
	 * flush_ms: a guest that crashes mid-run loses at most that much (the default channel
	 * flushes only full buffers, and its metadata only when asked). */
	for (int k = 0; k < 2; k++) {
		struct lttng_channel *ch = lttng_channel_create(&dom);
		const char *chname = k == 0 ? "metadata" : CHANNEL;
		int ret;

		if (ch == NULL) {
			errf(err, errlen, "session %s: out of memory", name);
			lttng_destroy_handle(h);
			return -1;
		}
		snprintf(ch->name, sizeof(ch->name), "%s", chname);
		ch->attr.switch_timer_interval = flush_ms * 1000u; /* us; 0 = no timer */
		ch->attr.read_timer_interval = 0;
		/* No buffer-usage sampling (nothing here uses triggers): one wake-up a second
		 * less per channel, which matters to a guest sharing a host core with dozens. */
		lttng_channel_set_monitor_timer_interval(ch, 0);
		ret = lttng_enable_channel(h, ch);
		lttng_channel_destroy(ch);
		if (ret < 0 && ret != -LTTNG_ERR_UST_CHAN_EXIST && k == 1) {
			errf(err, errlen, "session %s: channel %s: %s", name, chname,
			     lttng_strerror(ret));
			lttng_destroy_handle(h);
			return -1;
		}
	}
	for (size_t i = 0; patterns[i] && rc == 0; i++) {
		struct lttng_event *ev;
		int ret;

		if (patterns[i][0] == '\0' || strlen(patterns[i]) >= LTTNG_SYMBOL_NAME_LEN) {
			errf(err, errlen, "session %s: event pattern '%s': empty or too long", name,
			     patterns[i]);
			rc = -1;
			break;
		}
		ev = lttng_event_create();
		if (ev == NULL) {
			errf(err, errlen, "session %s: out of memory", name);
			rc = -1;
			break;
		}
		ev->type = LTTNG_EVENT_TRACEPOINT;
		snprintf(ev->name, sizeof(ev->name), "%s", patterns[i]);
		ev->loglevel_type = LTTNG_EVENT_LOGLEVEL_ALL;
		ev->loglevel = -1;
		ret = lttng_enable_event_with_exclusions(h, ev, CHANNEL, NULL, 0, NULL);
		lttng_event_destroy(ev);
		if (ret < 0) {
			errf(err, errlen, "session %s: enable user-space events '%s': %s", name,
			     patterns[i], lttng_strerror(ret));
			rc = -1;
		}
	}
	lttng_destroy_handle(h);
	return rc;
}

static int start_session(const char *name, char *err, size_t errlen)
{
	int ret;

	if (check_name(name, err, errlen) < 0)
		return -1;
	ret = lttng_start_tracing(name);
	if (ret < 0 && ret != -LTTNG_ERR_TRACE_ALREADY_STARTED) {
		errf(err, errlen, "session %s: start: %s", name, lttng_strerror(ret));
		return -1;
	}
	return 0;
}

static int stop_session(const char *name, char *err, size_t errlen)
{
	int ret;

	if (check_name(name, err, errlen) < 0)
		return -1;
	/* The whole metadata once more: a relay daemon that missed a metadata packet (seen
	 * with 64 guests streaming at once: a trace without its stream class) has it whole
	 * again, as it truncates and rewrites the metadata on a regeneration. Best effort: a
	 * session this does not apply to stops all the same. */
	(void)lttng_regenerate_metadata(name);
	/* Waits until the consumer has no data pending (written, or sent to the relay). */
	ret = lttng_stop_tracing(name);
	if (ret < 0 && ret != -LTTNG_ERR_TRACE_ALREADY_STOPPED) {
		errf(err, errlen, "session %s: stop: %s", name, lttng_strerror(ret));
		return -1;
	}
	return 0;
}

static int destroy_session(const char *name, int timeout_ms, char *err, size_t errlen)
{
	struct lttng_destruction_handle *h = NULL;
	enum lttng_destruction_handle_status st;
	enum lttng_error_code code, result = LTTNG_OK;
	int rc = -1;

	if (check_name(name, err, errlen) < 0)
		return -1;
	code = lttng_destroy_session_ext(name, &h);
	if (code != LTTNG_OK) {
		errf(err, errlen, "session %s: destroy: %s", name, lttng_strerror(-(int)code));
		return -1;
	}
	st = lttng_destruction_handle_wait_for_completion(h, timeout_ms < 0 ? -1 : timeout_ms);
	if (st == LTTNG_DESTRUCTION_HANDLE_STATUS_TIMEOUT) {
		errf(err, errlen, "session %s: destroy: not complete after %d ms", name,
		     timeout_ms);
	} else if (st != LTTNG_DESTRUCTION_HANDLE_STATUS_COMPLETED) {
		errf(err, errlen, "session %s: destroy: waiting failed (status %d)", name, (int)st);
	} else if (lttng_destruction_handle_get_result(h, &result) !=
	           LTTNG_DESTRUCTION_HANDLE_STATUS_OK) {
		errf(err, errlen, "session %s: destroy: no result", name);
	} else if (result != LTTNG_OK) {
		errf(err, errlen, "session %s: destroy: %s", name, lttng_strerror(-(int)result));
	} else {
		rc = 0;
	}
	lttng_destruction_handle_destroy(h);
	return rc;
}

/* ---- Public session calls: liblttng-ctl under a SIGPIPE guard ------------------------------ */

int mc_lttng_session_create(const char *name, const char *output, char *err, size_t errlen)
{
	struct pipe_guard pg;
	int rc;

	pipe_guard_enter(&pg);
	rc = create_session(name, output, err, errlen);
	pipe_guard_leave(&pg);
	return rc;
}

int mc_lttng_enable_ust_events(const char *name, const char *const patterns[], unsigned flush_ms,
                               char *err, size_t errlen)
{
	struct pipe_guard pg;
	int rc;

	pipe_guard_enter(&pg);
	rc = enable_events(name, patterns, flush_ms, err, errlen);
	pipe_guard_leave(&pg);
	return rc;
}

int mc_lttng_start(const char *name, char *err, size_t errlen)
{
	struct pipe_guard pg;
	int rc;

	pipe_guard_enter(&pg);
	rc = start_session(name, err, errlen);
	pipe_guard_leave(&pg);
	return rc;
}

int mc_lttng_stop(const char *name, char *err, size_t errlen)
{
	struct pipe_guard pg;
	int rc;

	pipe_guard_enter(&pg);
	rc = stop_session(name, err, errlen);
	pipe_guard_leave(&pg);
	return rc;
}

int mc_lttng_destroy(const char *name, int timeout_ms, char *err, size_t errlen)
{
	struct pipe_guard pg;
	int rc;

	pipe_guard_enter(&pg);
	rc = destroy_session(name, timeout_ms, err, errlen);
	pipe_guard_leave(&pg);
	return rc;
}

/* ---- Clocks -------------------------------------------------------------------------------- */

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

int mc_clock_now(int64_t *realtime_ns, int64_t *monotonic_ns)
{
	struct timespec m1, r, m2;

	if (clock_gettime(CLOCK_MONOTONIC, &m1) < 0 || clock_gettime(CLOCK_REALTIME, &r) < 0 ||
	    clock_gettime(CLOCK_MONOTONIC, &m2) < 0)
		return -1;
	if (realtime_ns)
		*realtime_ns = ts_ns(&r);
	if (monotonic_ns)
		*monotonic_ns = ts_ns(&m1) + (ts_ns(&m2) - ts_ns(&m1)) / 2;
	return 0;
}
