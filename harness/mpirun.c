/* mpirun.c — MPI jobs across a cluster's guests with MPICH's Hydra.
 *
 * mpiexec runs on the host inside the cluster's network namespace (so the
 * guests reach it at 10.77.0.1) with a hostfile of guest addresses and
 * `-launcher rsh -launcher-exec <job dir>/mc-rsh`: Hydra starts its proxy on
 * each guest through `microcosm rsh`, i.e. through the guest's agent, where a
 * cluster would use ssh. Ranks find each other over the guests' network.
 */
#include "mpirun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

#define CONTROLLER_ADDR  "10.77.0.1"
#define OVERLAY_CTL_ADDR "10.76.0.1" /* MC_NET_OVERLAY_CTL: docs/hosts.md */
#define KILL_GRACE_MS    10000       /* SIGTERM to mpiexec -> SIGKILL of its process group */
#define DRAIN_MS         2000        /* stderr read after mpiexec exited */
#define WATCH_MS         2000        /* how often the job's guests are checked */
#define REAP_MS          7000        /* leftover launchers: SIGTERM -> SIGKILL */

struct host {
	char name[32];
	char ip[16];
};

/* Environment every rank gets unless the job sets it (mpirun --env). */
static const char *const ucx_defaults[][2] = {
        {"UCX_TLS", "tcp,self"}, /* UCX's shared-memory transports hang in these guests */
        {"UCX_NET_DEVICES", "eth0"},
        {"UCX_WARN_UNUSED_ENV_VARS", "n"},
        /* workloads/mpi_preload.c: no busy waiting, a finalize that cannot hang */
        {"LD_PRELOAD", "/data/opt/microcosm/lib/libmc-mpi-preload.so"},
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Whether the cluster spans many hosts (its guests name their host): mpiexec then listens
 * on the cluster controller's overlay address instead of 10.77.0.1, which is every host's
 * own daemon. */
static int many_hosts;

/* Ready guests matching the target set, in index order. Caller frees *out. */
static int ready_guests(const struct mc_common_opts *c, const char *hosts, struct host **out,
                        unsigned *n, unsigned *total, char *why, size_t cap)
{
	struct mc_client *cl;
	struct mc_target t;
	json_t *reply = NULL, *gs, *g;
	size_t i;
	char err[512];
	int notready = 0;
	size_t wl = 0;

	*out = NULL;
	*n = *total = 0;
	if (mc_target_parse(hosts && *hosts ? hosts : "all", &t)) {
		snprintf(why, cap, "--hosts '%s': not a target set", hosts);
		return -1;
	}
	cl = mc_client_connect(c, err, sizeof(err));
	if (!cl) {
		snprintf(why, cap, "%s", err);
		return -1;
	}
	if (mc_client_call(cl, json_pack("{s:s}", "op", "ls"), 30000, &reply) < 0 || !reply) {
		snprintf(why, cap, "cluster '%s': the controller did not answer", c->cluster);
		mc_client_destroy(&cl);
		return -1;
	}
	mc_client_destroy(&cl);
	gs = json_object_get(reply, "guests");
	*out = calloc(json_array_size(gs) + 1, sizeof(**out));
	if (!*out) {
		json_decref(reply);
		snprintf(why, cap, "out of memory");
		return -1;
	}
	why[0] = '\0';
	json_array_foreach(gs, i, g)
	{
		const char *name = json_string_value(json_object_get(g, "name"));
		const char *ip = json_string_value(json_object_get(g, "ip"));
		const char *st = json_string_value(json_object_get(g, "state"));
		int idx = (int)json_integer_value(json_object_get(g, "index"));

		if (!name || !ip || !st || !mc_target_match(&t, name, (unsigned)idx))
			continue;
		(*total)++;
		if (strcmp(st, "ready") && strcmp(st, "busy")) {
			/* Name the first few that cannot take part. */
			if (notready++ < 4 && wl < cap)
				wl += (size_t)snprintf(why + wl, cap - wl, "%s%s is %s",
				                       wl ? ", " : "", name, st);
			continue;
		}
		snprintf((*out)[*n].name, sizeof((*out)[*n].name), "%s", name);
		snprintf((*out)[*n].ip, sizeof((*out)[*n].ip), "%s", ip);
		(*n)++;
		if (json_object_get(g, "host"))
			many_hosts = 1;
	}
	json_decref(reply);
	return 0;
}

static const struct host *host_by_ip(const struct host *h, unsigned n, const char *ip, size_t len,
                                     unsigned *pos)
{
	for (unsigned i = 0; i < n; i++)
		if (strlen(h[i].ip) == len && strncmp(h[i].ip, ip, len) == 0) {
			*pos = i;
			return &h[i];
		}
	return NULL;
}

static const struct host *host_by_name(const struct host *h, unsigned n, const char *name,
                                       size_t len, unsigned *pos)
{
	for (unsigned i = 0; i < n; i++)
		if (strlen(h[i].name) == len && strncmp(h[i].name, name, len) == 0) {
			*pos = i;
			return &h[i];
		}
	return NULL;
}

/* "rank 3" or "ranks 4-7": the ranks Hydra placed on the pos-th host. */
static void ranks_of(unsigned pos, unsigned ppn, unsigned ranks, char *buf, size_t cap)
{
	unsigned lo = pos * ppn, hi = lo + ppn - 1;

	if (hi >= ranks)
		hi = ranks - 1;
	if (lo == hi)
		snprintf(buf, cap, "rank %u", lo);
	else
		snprintf(buf, cap, "ranks %u-%u", lo, hi);
}

/*
 * Reads one line of mpiexec's stderr for what failed: Hydra's "RUNNING AT
 * <ip>" / "EXIT CODE: n" block, or rsh's "microcosm rsh: guest NAME: why".
 */
struct scan {
	const struct host *hosts;
	unsigned n, ppn, ranks;
	int have_at; /* a RUNNING AT line named a host */
	unsigned at_pos;
	int exit_code;
	char guest_msg[512];
	int in_codes;        /* inside Hydra's "Exit codes:" block (stdout) */
	unsigned nfailed;    /* ranks with a non-zero wait status */
	char ranks_msg[512]; /* the first of them, by rank */
	size_t ranks_len;
};

/* One "[<ip>] w0,w1,…" entry of -print-all-exitcodes: wait statuses of the
 * ranks on that host, in rank order. Returns 1 if the line was one. */
static int scan_codes(struct scan *sc, const char *line, size_t len)
{
	const char *close = memchr(line, ']', len), *p;
	unsigned pos, k = 0;

	if (len < 4 || line[0] != '[' || !close || close + 2 > line + len || close[1] != ' ' ||
	    !host_by_ip(sc->hosts, sc->n, line + 1, (size_t)(close - line - 1), &pos))
		return 0;
	for (p = close + 2; p < line + len; k++) {
		char *end;
		long w = strtol(p, &end, 10);

		if (end == p)
			return 0;
		if (w != 0) {
			unsigned rank = pos * sc->ppn + k;

			if (sc->nfailed++ < 4 && sc->ranks_len < sizeof(sc->ranks_msg))
				sc->ranks_len += (size_t)snprintf(
				        sc->ranks_msg + sc->ranks_len,
				        sizeof(sc->ranks_msg) - sc->ranks_len,
				        "%srank %u on guest %s (%s) %s %ld",
				        sc->ranks_len ? "; " : "", rank, sc->hosts[pos].name,
				        sc->hosts[pos].ip,
				        (w & 0x7f) ? "killed by signal" : "exited with code",
				        (w & 0x7f) ? (w & 0x7f) : (w >> 8) & 0xff);
		}
		p = end;
		if (p < line + len && *p == ',')
			p++;
	}
	return 1;
}

static void scan_line(struct scan *sc, const char *line, size_t len)
{
	static const char at[] = "RUNNING AT ",
	                  code[] = "EXIT CODE: ", rsh[] = "microcosm rsh: guest ";
	const char *p;
	unsigned pos;

	if ((p = memmem(line, len, at, sizeof(at) - 1))) {
		const char *ip = p + sizeof(at) - 1;
		size_t l = 0;

		while (ip + l < line + len && ((ip[l] >= '0' && ip[l] <= '9') || ip[l] == '.'))
			l++;
		if (host_by_ip(sc->hosts, sc->n, ip, l, &pos) && !sc->have_at) {
			sc->have_at = 1;
			sc->at_pos = pos;
		}
	} else if ((p = memmem(line, len, code, sizeof(code) - 1)) && sc->exit_code < 0) {
		sc->exit_code = atoi(p + sizeof(code) - 1);
	} else if (len > sizeof(rsh) - 1 && memcmp(line, rsh, sizeof(rsh) - 1) == 0 &&
	           !sc->guest_msg[0]) {
		const char *name = line + sizeof(rsh) - 1,
		           *colon = memchr(name, ':', len - (sizeof(rsh) - 1));
		char rk[32];

		if (colon && host_by_name(sc->hosts, sc->n, name, (size_t)(colon - name), &pos)) {
			ranks_of(pos, sc->ppn, sc->ranks, rk, sizeof(rk));
			snprintf(sc->guest_msg, sizeof(sc->guest_msg),
			         "guest %s (%s, %s) failed:%.*s", sc->hosts[pos].name,
			         sc->hosts[pos].ip, rk, (int)(line + len - colon - 1), colon + 1);
		}
	}
}

/* A child's output stream relayed line by line (so Hydra's exit-code block
 * can be taken out of stdout); lines longer than the buffer pass in pieces. */
struct relay {
	int fd;              /* read end; -1 at EOF */
	int out;             /* where the data goes */
	int is_out;          /* stdout: take out the exit-code block */
	char line[4096 + 1]; /* + NUL, for the parsers */
	size_t len;
};
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void relay_line(struct relay *r, struct scan *sc, int complete)
{
	static const char codes[] = "Exit codes: ";
	const char *p;

	r->line[r->len] = '\0';
	if (r->is_out && complete) {
		p = memmem(r->line, r->len, codes, sizeof(codes) - 1);
		if (r->len > 9 && memcmp(r->line, "[mpiexec@", 9) == 0 && p) {
			sc->in_codes = 1;
			p += sizeof(codes) - 1;
			scan_codes(sc, p, (size_t)(r->line + r->len - p));
			r->len = 0;
			return;
		}
		if (sc->in_codes && scan_codes(sc, r->line, r->len)) {
			r->len = 0;
			return;
		}
		sc->in_codes = 0;
	}
	if (complete)
		scan_line(sc, r->line, r->len);
	write_all(r->out, r->line, r->len);
	if (complete)
		write_all(r->out, "\n", 1);
	r->len = 0;
}

/* Reads what is there; returns 0, or -1 at EOF. */
static int relay_read(struct relay *r, struct scan *sc)
{
	char buf[4096];
	ssize_t n = read(r->fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			relay_line(r, sc, 1);
		} else {
			r->line[r->len++] = buf[i];
			if (r->len == sizeof(r->line) - 1)
				relay_line(r, sc, 0);
		}
	}
	return 0;
}

/*
 * Checks the job's guests; when one is no longer running (crashed, stopped),
 * describes it in why and returns 1. Hydra does not always notice a lost
 * proxy, so mpirun does.
 */
static int job_guest_lost(struct mc_client *cl, const struct host *h, unsigned n, unsigned ppn,
                          unsigned ranks, char *why, size_t cap)
{
	json_t *reply = NULL, *g;
	size_t i;
	int lost = 0;

	if (mc_client_call(cl, json_pack("{s:s}", "op", "ls"), 5000, &reply) < 0 || !reply)
		return 0;
	json_array_foreach(json_object_get(reply, "guests"), i, g)
	{
		const char *name = json_string_value(json_object_get(g, "name"));
		const char *st = json_string_value(json_object_get(g, "state"));
		const char *reason = json_string_value(json_object_get(g, "reason"));
		unsigned pos;
		char rk[32];

		if (!name || !st || !strcmp(st, "ready") || !strcmp(st, "busy") ||
		    !host_by_name(h, n, name, strlen(name), &pos))
			continue;
		ranks_of(pos, ppn, ranks, rk, sizeof(rk));
		snprintf(why, cap, "guest %s (%s, %s) is %s%s%s", name, h[pos].ip, rk, st,
		         reason && *reason ? ": " : "", reason ? reason : "");
		lost = 1;
		break;
	}
	json_decref(reply);
	return lost;
}

/* Sends sig to every child of this process (mpirun is a subreaper: launchers
 * mpiexec left behind are its children now). Returns how many there were. */
/* Children this process had before the job (a run's trace keeper, its fault injectors):
 * not the job's, never signalled by it. */
static pid_t before_job[256];
static int n_before_job;

static int was_child_before(pid_t pid)
{
	for (int i = 0; i < n_before_job; i++)
		if (before_job[i] == pid)
			return 1;
	return 0;
}

static int signal_children(int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[64], buf[512], *p;
		int pid = atoi(de->d_name), ppid;
		FILE *fp;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		p = fgets(buf, sizeof(buf), fp) ? strrchr(buf, ')') : NULL;
		fclose(fp);
		/* "pid (comm) S ppid …": a zombie is only reaped, never signalled */
		if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid != self)
			continue;
		if (sig == -1) { /* the snapshot before the job */
			if (n_before_job < (int)(sizeof(before_job) / sizeof(before_job[0])))
				before_job[n_before_job++] = pid;
			continue;
		}
		if (was_child_before(pid))
			continue;
		if (sig == -2) { /* reap */
			waitpid(pid, NULL, WNOHANG);
			continue;
		}
		if (p[2] != 'Z')
			kill(pid, sig);
		n++;
	}
	closedir(d);
	return n;
}

/* Ends what mpiexec left behind (launchers whose proxies did not exit, in its
 * process group or orphaned to us): SIGTERM, which mc-rsh forwards to the
 * guest, then SIGKILL. */
/* Reaps the job's exited processes, not the children this process had before it. */
static void reap_strays(void)
{
	signal_children(-2);
}

static void reap_group(pid_t pgid)
{
	int64_t until = mc_now_ms() + REAP_MS;

	kill(-pgid, SIGTERM);
	signal_children(SIGTERM);
	while (mc_now_ms() < until) {
		reap_strays();
		if (kill(-pgid, 0) < 0 && signal_children(0) == 0)
			return;
		usleep(100000);
	}
	kill(-pgid, SIGKILL);
	signal_children(SIGKILL);
	reap_strays();
}

/* Job directory: hostfile and the mc-rsh launcher link. */
static int make_job_dir(const char *dir, const struct host *h, unsigned nh, unsigned ppn, char *why,
                        size_t cap)
{
	char path[PATH_MAX + 32], self[PATH_MAX];
	size_t bl = (size_t)nh * 24 + 1, off = 0;
	char *buf;
	ssize_t sl;
	int rc;

	if (mkdir(dir, 0700) < 0) {
		snprintf(why, cap, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	buf = malloc(bl);
	if (!buf) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < nh; i++)
		off += (size_t)snprintf(buf + off, bl - off, "%s:%u\n", h[i].ip, ppn);
	snprintf(path, sizeof(path), "%s/hostfile", dir);
	rc = mc_write_file_atomic(path, buf, off, 0600);
	free(buf);
	if (rc < 0) {
		snprintf(why, cap, "write %s: %s", path, strerror(-rc));
		return -1;
	}
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0) {
		snprintf(why, cap, "readlink /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	self[sl] = '\0';
	/* The binary was rebuilt while this run went on: the link names the new one (a link
	 * to "… (deleted)" leads nowhere, and Hydra then waits forever). */
	if (sl > 10 && strcmp(self + sl - 10, " (deleted)") == 0)
		self[sl - 10] = '\0';
	snprintf(path, sizeof(path), "%s/mc-rsh", dir);
	if (symlink(self, path) < 0) {
		snprintf(why, cap, "symlink %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Child: enter the cluster's network namespace and exec mpiexec. */
__attribute__((noreturn)) static void exec_mpiexec(int ctl_pid, const struct mc_common_opts *c,
                                                   char **args, int out_fd, int err_fd)
{
	char ns[64];
	int fd;

	setpgid(0, 0);
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", ctl_pid);
	fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		dprintf(err_fd, "mpirun: enter %s: %s\n", ns, strerror(errno));
		_exit(127);
	}
	dup2(out_fd, STDOUT_FILENO);
	dup2(err_fd, STDERR_FILENO);
	setenv("MC_CLUSTER", c->cluster, 1);
	setenv("MC_STATE_DIR", c->state_dir, 1);
	execvp(args[0], args);
	dprintf(STDERR_FILENO, "mpirun: exec %s: %s (install mpich)\n", args[0], strerror(errno));
	_exit(127);
}

int mc_mpirun(const struct mc_mpirun_spec *s, struct mc_mpirun_result *res)
{
	const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = on_signal}, old[3];
	struct host *hosts = NULL;
	unsigned nready = 0, total = 0, need, ranks, ppn = s->ppn ? s->ppn : 1;
	char cdir[PATH_MAX], jdir[PATH_MAX + 32], hostfile[PATH_MAX + 48], rsh[PATH_MAX + 48];
	char why[512], nbuf[16], pbuf[16];
	char **args = NULL, **keys = NULL;
	size_t na = 0;
	int pipefd[2] = {-1, -1}, opipe[2] = {-1, -1}, ctl_pid, status = 0, forwarded = 0, rc = -1;
	int out_fd = s->out_fd >= 0 ? s->out_fd : STDOUT_FILENO;
	int err_fd = s->err_fd >= 0 ? s->err_fd : STDERR_FILENO;
	int64_t t0, deadline, kill_at = 0;
	pid_t pid;
	struct scan sc = {.exit_code = -1};
	struct relay rel[2];
	struct mc_client *watch = NULL;
	char lost[512] = "";
	int64_t next_watch = 0;

	memset(res, 0, sizeof(*res));
	res->status = -1;
	jdir[0] = '\0';
	if (ready_guests(s->c, s->hosts, &hosts, &nready, &total, why, sizeof(why)) < 0) {
		snprintf(res->failure, sizeof(res->failure), "%s", why);
		return -1;
	}
	ranks = s->ranks ? s->ranks : nready * ppn;
	need = (ranks + ppn - 1) / ppn;
	if (ranks == 0 || need > nready) {
		snprintf(res->failure, sizeof(res->failure),
		         "%u ranks at %u per guest need %u ready guests; cluster '%s' has %u of %u "
		         "selected%s%s",
		         ranks, ppn, need ? need : 1, s->c->cluster, nready, total,
		         why[0] ? ": " : "", why);
		goto out;
	}
	res->guests = need;
	res->ranks = ranks;

	mc_cluster_dir(s->c, cdir, sizeof(cdir));
	ctl_pid = mc_cluster_pid(cdir);
	if (ctl_pid <= 0) {
		snprintf(res->failure, sizeof(res->failure), "cluster '%s' is not up",
		         s->c->cluster);
		goto out;
	}
	snprintf(jdir, sizeof(jdir), "%s/mpirun-%d", cdir, (int)getpid());
	if (make_job_dir(jdir, hosts, need, ppn, why, sizeof(why)) < 0) {
		snprintf(res->failure, sizeof(res->failure), "%s", why);
		goto out;
	}
	snprintf(hostfile, sizeof(hostfile), "%s/hostfile", jdir);
	snprintf(rsh, sizeof(rsh), "%s/mc-rsh", jdir);
	snprintf(nbuf, sizeof(nbuf), "%u", ranks);
	snprintf(pbuf, sizeof(pbuf), "%u", ppn);

	args = calloc((size_t)(40 + 3 * s->envc + s->xargc + s->argc), sizeof(*args));
	keys = calloc((size_t)s->envc + 1, sizeof(*keys));
	if (!args || !keys) {
		snprintf(res->failure, sizeof(res->failure), "out of memory");
		goto out;
	}
	{
		char *fixed[] = {"mpiexec",
		                 "-f",
		                 hostfile,
		                 "-n",
		                 nbuf,
		                 "-ppn",
		                 pbuf,
		                 "-launcher",
		                 "rsh",
		                 "-launcher-exec",
		                 rsh,
		                 "-localhost",
		                 many_hosts ? OVERLAY_CTL_ADDR : CONTROLLER_ADDR,
		                 "-genvnone",
		                 "-print-all-exitcodes",
		                 "-wdir",
		                 (char *)(s->wdir && *s->wdir ? s->wdir : "/data")};

		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			args[na++] = fixed[i];
	}
	/* UCX over the guests' one NIC: without these it also offers its peers the
	 * loopback device (connections to 127.0.0.1 fail) and probes transports a
	 * guest does not have. An --env of the same name wins. */
	for (size_t d = 0; d < sizeof(ucx_defaults) / sizeof(ucx_defaults[0]); d++) {
		size_t kl = strlen(ucx_defaults[d][0]);
		int given = 0;

		for (int i = 0; i < s->envc; i++)
			given |= strncmp(s->env[i], ucx_defaults[d][0], kl) == 0 &&
			         s->env[i][kl] == '=';
		if (given)
			continue;
		args[na++] = "-genv";
		args[na++] = (char *)ucx_defaults[d][0];
		args[na++] = (char *)ucx_defaults[d][1];
	}
	for (int i = 0; i < s->envc; i++) {
		char *eq = strchr(s->env[i], '=');

		keys[i] = strndup(s->env[i], (size_t)(eq - s->env[i]));
		if (!keys[i]) {
			snprintf(res->failure, sizeof(res->failure), "out of memory");
			goto out;
		}
		args[na++] = "-genv";
		args[na++] = keys[i];
		args[na++] = eq + 1;
	}
	for (int i = 0; i < s->xargc; i++)
		args[na++] = s->xargv[i];
	for (int i = 0; i < s->argc; i++)
		args[na++] = s->argv[i];
	args[na] = NULL;

	if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(opipe, O_CLOEXEC) < 0) {
		snprintf(res->failure, sizeof(res->failure), "pipe: %s", strerror(errno));
		goto out;
	}
	got_signal = 0;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	t0 = mc_now_ms();
	deadline = s->timeout_ms ? t0 + (int64_t)s->timeout_ms : 0;
	/* Launchers mpiexec leaves behind become ours, so reap_group() collects them. */
	n_before_job = 0;
	signal_children(-1); /* what is not the job's */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid = fork();
	if (pid < 0) {
		snprintf(res->failure, sizeof(res->failure), "fork: %s", strerror(errno));
		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		goto out;
	}
	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		exec_mpiexec(ctl_pid, s->c, args, opipe[1], pipefd[1]);
	}
	close(pipefd[1]);
	close(opipe[1]);
	pipefd[1] = opipe[1] = -1;
	rel[0] = (struct relay){.fd = opipe[0], .out = out_fd, .is_out = 1};
	rel[1] = (struct relay){.fd = pipefd[0], .out = err_fd};
	sc.hosts = hosts;
	sc.n = need;
	sc.ppn = ppn;
	sc.ranks = ranks;

	watch = mc_client_connect(s->c, why, sizeof(why));
	next_watch = mc_now_ms() + WATCH_MS;
	for (int exited = 0; rel[0].fd >= 0 || rel[1].fd >= 0 || !exited;) {
		struct pollfd pfd[2] = {{.fd = rel[0].fd, .events = POLLIN},
		                        {.fd = rel[1].fd, .events = POLLIN}};
		int64_t now = mc_now_ms();

		if (!exited) {
			if (got_signal && !forwarded) {
				kill(pid, got_signal);
				forwarded = 1;
				kill_at = now + KILL_GRACE_MS;
			}
			if (deadline && now >= deadline && !res->timed_out) {
				dprintf(err_fd, "mpirun: timeout after %llu ms, stopping mpiexec\n",
				        (unsigned long long)s->timeout_ms);
				res->timed_out = 1;
				kill(pid, SIGTERM);
				kill_at = now + KILL_GRACE_MS;
			}
			if (watch && !lost[0] && now >= next_watch) {
				next_watch = now + WATCH_MS;
				if (job_guest_lost(watch, hosts, need, ppn, ranks, lost,
				                   sizeof(lost))) {
					dprintf(err_fd, "mpirun: %s; stopping the job\n", lost);
					kill(pid, SIGTERM);
					kill_at = now + KILL_GRACE_MS;
				}
			}
			if (kill_at && now >= kill_at) {
				kill(-pid, SIGKILL);
				kill_at = 0;
			}
			if (waitpid(pid, &status, WNOHANG) == pid) {
				exited = 1;
				res->seconds = (double)(mc_now_ms() - t0) / 1000.0;
				/* Output still in the pipes comes soon or never (a stray
				 * launcher holding them must not hold the job). */
				kill_at = mc_now_ms() + DRAIN_MS;
			}
		} else if (now >= kill_at) {
			break;
		}
		if (s->tick)
			s->tick(s->tick_arg);
		if (poll(pfd, 2, s->tick ? 10 : 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (rel[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    relay_read(&rel[i], &sc) < 0) {
				if (rel[i].len)
					relay_line(&rel[i], &sc, 0);
				close(rel[i].fd);
				rel[i].fd = -1;
			}
	}
	for (int i = 0; i < 2; i++) {
		if (rel[i].len)
			relay_line(&rel[i], &sc, 0);
		if (rel[i].fd >= 0)
			close(rel[i].fd);
	}
	pipefd[0] = opipe[0] = -1;
	reap_group(pid);
	mc_client_destroy(&watch);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	res->interrupted = got_signal;
	res->status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	if (res->status == 0 && (res->timed_out || lost[0] || got_signal))
		res->status = res->timed_out ? 124 : 1; /* mpiexec may exit 0 when stopped */
	rc = 0;
	if (res->status != 0) {
		char rk[32];

		if (lost[0]) {
			snprintf(res->failure, sizeof(res->failure), "%s", lost);
		} else if (res->timed_out) {
			snprintf(res->failure, sizeof(res->failure),
			         "job killed after the %llu ms timeout",
			         (unsigned long long)s->timeout_ms);
		} else if (sc.guest_msg[0]) {
			snprintf(res->failure, sizeof(res->failure), "%s", sc.guest_msg);
		} else if (sc.nfailed) {
			snprintf(res->failure, sizeof(res->failure), "%s%s", sc.ranks_msg,
			         sc.nfailed > 4 ? " (and more)" : "");
		} else if (sc.have_at) {
			ranks_of(sc.at_pos, ppn, ranks, rk, sizeof(rk));
			snprintf(res->failure, sizeof(res->failure),
			         "%s on guest %s (%s) failed (exit code %d)", rk,
			         hosts[sc.at_pos].name, hosts[sc.at_pos].ip, sc.exit_code);
		} else if (got_signal) {
			snprintf(res->failure, sizeof(res->failure), "interrupted by signal %d",
			         (int)got_signal);
		} else {
			snprintf(res->failure, sizeof(res->failure),
			         "mpiexec exited with status %d", res->status);
		}
	}
out:
	for (int i = 0; i < 2; i++) {
		if (pipefd[i] >= 0)
			close(pipefd[i]);
		if (opipe[i] >= 0)
			close(opipe[i]);
	}
	if (keys)
		for (int i = 0; i < s->envc; i++)
			free(keys[i]);
	free(keys);
	free(args);
	free(hosts);
	if (jdir[0])
		mc_rm_rf(jdir);
	return rc;
}
