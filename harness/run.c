/* run.c — `microcosm run FILE.yaml`: an experiment end to end.
 *
 * up (the cluster, as `microcosm up` with the file's settings) → network
 * (mc-netem on every guest) → each workload × repeat (mpi: mc_mpirun(); exec:
 * `microcosm exec`; taskfarm: a coordinator on g0000 and a worker on each
 * other guest) → per-guest logs → down. Everything lands in one run directory:
 *
 *   <results>/<name>-<UTC time>/
 *     spec.yaml            the file as given
 *     spec.json            the spec as resolved (defaults filled, seed)
 *     manifest.json        versions, host, seed, pid, status (running → finished |
 *                          failed | interrupted), timings
 *     events.jsonl         every guest state change (the controller appends it)
 *     workloads/<name>/<rep>/stdout.jsonl, stderr.log, result.json
 *     guests.json          the guests at the end (state, boot time, reason)
 *     guests/<guest>/      console.log, qemu.log, files/ (results.collect)
 *     collected.json       what results.collect brought from each guest's disk
 *     summary.json         per workload: runs, failures, median seconds; metrics
 *                          (median and spread over repetitions); fault counts
 *
 * docs/results.md describes every file.
 * Every JSON file is written atomically (temp + rename); output files are
 * appended as the workload runs, so a killed run leaves what it had.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "assets.h"
#include "catalog.h"
#include "client.h"
#include "collect.h"
#include "hosts.h"
#include "image.h"
#include "inject.h"
#include "metrics.h"
#include "mpirun.h"
#include "run_faults.h"
#include "run_policy.h"
#include "run_trace.h"
#include "topology.h"
#include "util.h"

const char mc_run_usage[] =
        "usage: microcosm run [options] FILE.yaml\n"
        "Runs an experiment: brings its cluster up, sets its network, runs each workload\n"
        "(repeat times), writes a results directory and takes the cluster down. The last\n"
        "line printed is the path of the results directory.\n"
        "  -r, --results DIR      where run directories go (default: the file's results.dir)\n"
        "      --seed N           override the file's seed\n"
        "      --keep             leave the cluster up afterwards (microcosm down removes it)\n"
        "      --trace            LTTng traces of the harness, the guests and the MPI ranks\n"
        "                         in the run directory's trace/ (as tracing: {enabled: true})\n"
        "  -n, --dry-run          check the file and print the resolved spec; start nothing\n"
        "      --hosts FILE|slurm the cluster across many hosts (microcosm up --hosts;\n"
        "                         inside a Slurm allocation of 2+ nodes: slurm by default)\n"
        "      --launcher-exec P  with a host FILE: Hydra's launcher (microcosm up)\n"
        "      --listen ADDR      the address host daemons connect to (microcosm up)\n"
        "  -c, --cluster NAME     cluster name (default run<pid>)\n"
        "      --state-dir DIR    state root\n"
        "  -h, --help             this text\n"
        "Exit status: 0 every workload run succeeded, 1 one failed or the run was\n"
        "interrupted, 2 the file is bad or the cluster could not start.\n";

int mc_cli_parse_run(int argc, char **argv, struct mc_run_opts *o)
{
	enum { OPT_SEED = 400, OPT_KEEP, OPT_STATE, OPT_TRACE, OPT_HOSTS, OPT_LEXEC, OPT_LISTEN };
	static const struct option lo[] = {
	        {"results", required_argument, NULL, 'r'},
	        {"seed", required_argument, NULL, OPT_SEED},
	        {"keep", no_argument, NULL, OPT_KEEP},
	        {"trace", no_argument, NULL, OPT_TRACE},
	        {"hosts", required_argument, NULL, OPT_HOSTS},
	        {"launcher-exec", required_argument, NULL, OPT_LEXEC},
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"dry-run", no_argument, NULL, 'n'},
	        {"cluster", required_argument, NULL, 'c'},
	        {"state-dir", required_argument, NULL, OPT_STATE},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int opt;

	memset(o, 0, sizeof(*o));
	mc_cli_common_defaults(&o->c);
	snprintf(o->c.cluster, sizeof(o->c.cluster), "run%d", (int)getpid());
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":r:nc:vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(mc_run_usage, stdout);
			return 1;
		case 'r':
			snprintf(o->results, sizeof(o->results), "%s", optarg);
			break;
		case OPT_SEED:
			if (mc_parse_u64(optarg, 0, INT64_MAX, &o->seed)) {
				fprintf(stderr, "microcosm run: --seed '%s': want 0..2^63-1\n",
				        optarg);
				return -EINVAL;
			}
			o->seed_set = 1;
			break;
		case OPT_KEEP:
			o->keep = 1;
			break;
		case OPT_TRACE:
			o->trace = 1;
			break;
		case OPT_HOSTS: /* checked by up; made absolute for it */
			if (strcmp(optarg, "slurm") && !realpath(optarg, o->hosts)) {
				fprintf(stderr, "microcosm run: --hosts '%s': %s\n", optarg,
				        strerror(errno));
				return -EINVAL;
			}
			if (!strcmp(optarg, "slurm"))
				snprintf(o->hosts, sizeof(o->hosts), "slurm");
			break;
		case OPT_LEXEC:
			if (!realpath(optarg, o->launcher_exec)) {
				fprintf(stderr, "microcosm run: --launcher-exec '%s': %s\n", optarg,
				        strerror(errno));
				return -EINVAL;
			}
			break;
		case OPT_LISTEN:
			snprintf(o->listen, sizeof(o->listen), "%s", optarg);
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'c':
			if (mc_cli_set_cluster(&o->c, optarg, "run") < 0)
				return -EINVAL;
			o->cluster_given = 1;
			break;
		case OPT_STATE:
			if (mc_cli_set_state_dir(&o->c, optarg, "run") < 0)
				return -EINVAL;
			break;
		case 'v':
			o->c.verbose++;
			break;
		case ':':
			fprintf(stderr, "microcosm run: %s needs a value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "microcosm run: unknown option '%s' (see --help)\n",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "microcosm run: need exactly one experiment FILE (see --help)\n");
		return -EINVAL;
	}
	snprintf(o->file, sizeof(o->file), "%s", argv[optind]);
	return 0;
}

/* ---------- helpers ---------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static int write_json(const char *dir, const char *name, json_t *j)
{
	char path[PATH_MAX + 64];
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rc;

	if (!s)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = mc_write_file_atomic(path, s, strlen(s), 0644);
	free(s);
	return rc;
}

static double now_s(void)
{
	return (double)mc_now_ms() / 1000.0;
}

static void utc_stamp(char *buf, size_t cap, const char *fmt)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, fmt, &tm);
}

/* First line of a command's stdout (versions for the manifest); "" if none. */
static void first_line_of(const char *cmd, char *buf, size_t cap)
{
	FILE *fp = popen(cmd, "r");

	buf[0] = '\0';
	if (!fp)
		return;
	if (fgets(buf, (int)cap, fp))
		buf[strcspn(buf, "\n")] = '\0';
	pclose(fp);
}

/* Path of this executable, for running its own verbs. */
static int self_exe(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Spawns `microcosm ARGV…` with stdout/stderr to the given fds (-1: inherit). */
static pid_t spawn_self(const char *exe, char *const argv[], int out_fd, int err_fd)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	if (out_fd >= 0)
		dup2(out_fd, STDOUT_FILENO);
	if (err_fd >= 0)
		dup2(err_fd, STDERR_FILENO);
	execv(exe, argv);
	dprintf(STDERR_FILENO, "run: exec %s: %s\n", exe, strerror(errno));
	_exit(127);
}

/* Waits for pid up to timeout_ms (0 = no limit), then SIGTERM, SIGKILL. Returns
 * the exit status (128+signal when killed), *timed_out set when it was. */
/* A traced run's LD_PRELOAD for MPI ranks ("" = not traced). */
static const char *trace_preload = "";
/* ms: a traced rank's wait for its tracer's registration, and each exchange of it */
#define MC_TRACE_UST_REGISTER_TIMEOUT_MS 120000

/* The fault plan of the workload running now, pumped while the run waits; NULL = none. */
static struct mc_run_faults *active_faults;

#define MC_RUN_MAX_RESTARTS 5 /* a job a failure killed starts again at most this often */

/* The fault-tolerance policy of the workload running now; NULL = none. */
static struct mc_run_policy *active_policy;

static void pump_faults(void *arg)
{
	(void)arg;
	if (active_faults)
		mc_run_faults_pump(active_faults);
	if (active_policy)
		mc_run_policy_pump(active_policy);
}

static const char *vacated(void *ctx, const char *guest)
{
	return mc_run_policy_vacated(ctx, guest);
}

static int wait_child(pid_t pid, uint64_t timeout_ms, int *timed_out)
{
	int64_t deadline = timeout_ms ? mc_now_ms() + (int64_t)timeout_ms : 0, kill_at = 0;
	int status, forwarded = 0;

	if (timed_out)
		*timed_out = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (interrupted && !forwarded) {
			kill(pid, SIGTERM);
			forwarded = 1;
			kill_at = mc_now_ms() + 15000;
		}
		if (deadline && mc_now_ms() >= deadline && !kill_at) {
			if (timed_out)
				*timed_out = 1;
			kill(pid, SIGTERM);
			kill_at = mc_now_ms() + 15000;
		}
		if (kill_at && mc_now_ms() >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = 0;
			deadline = 0;
		}
		pump_faults(NULL);
		usleep(active_faults || active_policy ? 10000 : 50000);
	}
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static int open_out(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* The JSON objects among the lines of a file (workloads print JSON lines). */
static json_t *json_lines(const char *dir, const char *name)
{
	char path[PATH_MAX + 64], *text = NULL, *line, *save = NULL;
	size_t len;
	json_t *arr = json_array();

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mc_read_file(path, 64u << 20, &text, &len) < 0)
		return arr;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j;

		/* exec output is prefixed "gNNNN: " */
		if (line[0] == 'g' && strstr(line, ": {") && strstr(line, ": {") - line < 8)
			line = strstr(line, ": {") + 2;
		if (line[0] != '{')
			continue;
		j = json_loads(line, 0, NULL);
		/* mc-ring's checkpoint and start lines are for the policy, not results */
		if (json_is_object(j) && !json_object_get(j, "checkpoint") &&
		    !json_object_get(j, "start"))
			json_array_append_new(arr, j);
		else
			json_decref(j);
	}
	free(text);
	return arr;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A short line of a repetition's headline figures for the table: latency or time by
 * message size (ring, allreduce), rate (task farm, halo), bandwidth (io). */
static void headline(json_t *results, char *buf, size_t cap)
{
	static const char *const per_size[] = {"hop_latency_us", "latency_us_median",
	                                       "time_us_median"};
	size_t i, off = 0;
	json_t *r;

	buf[0] = '\0';
	json_array_foreach(results, i, r)
	{
		json_t *b = json_object_get(r, "bytes"), *v;

		if (off >= cap)
			break;
		if (json_is_integer(b)) {
			for (size_t k = 0; k < 3; k++)
				if ((v = json_object_get(r, per_size[k])) && json_is_number(v)) {
					json_int_t n = json_integer_value(b);

					off += (size_t)snprintf(
					        buf + off, cap - off, "%s%lld%s %.0fus",
					        off ? ", " : "",
					        (long long)(n >= 1024 ? n / 1024 : n),
					        n >= 1024 ? "K" : "B", json_number_value(v));
					break;
				}
		} else if ((v = json_object_get(r, "tasks_per_s"))) {
			off += (size_t)snprintf(
			        buf + off, cap - off, "%.0f tasks/s, %lld redone, %lld lost",
			        json_number_value(v),
			        (long long)json_integer_value(json_object_get(r, "redone")),
			        (long long)json_integer_value(json_object_get(r, "lost")));
		} else if ((v = json_object_get(r, "iters_per_s"))) {
			off += (size_t)snprintf(buf + off, cap - off, "%.1f iters/s",
			                        json_number_value(v));
		} else if ((v = json_object_get(r, "write_MBps"))) {
			off += (size_t)snprintf(buf + off, cap - off,
			                        "write %.0f MB/s, read %.0f MB/s",
			                        json_number_value(v),
			                        json_number_value(json_object_get(r, "read_MBps")));
		}
	}
}

/* ---------- workloads ---------- */

struct rep_result {
	int ok;
	double seconds;
	char failure[1024];
};

static char **env_strings(const struct mc_exp_workload *w)
{
	char **env = calloc(w->envc + 1, sizeof(*env));

	for (unsigned i = 0; env && i < w->envc; i++)
		if (asprintf(&env[i], "%s=%s", w->env[i].name, w->env[i].value) < 0)
			env[i] = NULL;
	return env;
}

static void free_strings(char **v, unsigned n)
{
	for (unsigned i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void run_mpi(const struct mc_run_opts *o, const struct mc_exp_workload *w, const char *dir,
                    struct rep_result *rr)
{
	struct mc_mpirun_spec s = {0};
	struct mc_mpirun_result res;
	char **argv = calloc(w->argc + 4, sizeof(*argv));
	char **env = env_strings(w);
	int out = open_out(dir, "stdout.jsonl"), err = open_out(dir, "stderr.log"), traced_env = 0;
	const char *ckpt = mc_run_policy_checkpoint_arg(active_policy);
	unsigned argc = w->argc + 1;

	if (!argv || !env || out < 0 || err < 0) {
		snprintf(rr->failure, sizeof(rr->failure), "could not set up the run: %s",
		         strerror(errno));
		goto out;
	}
	argv[0] = w->program;
	for (unsigned i = 0; i < w->argc; i++)
		argv[i + 1] = w->argv[i];
	if (ckpt) { /* the policy's checkpoints (run_policy.c) */
		argv[argc++] = "--checkpoint";
		argv[argc++] = (char *)ckpt;
	}
	if (trace_preload[0] && env) {
		/* The interposer, and time for the ranks' tracer to register with its guest's
		 * session daemon: lttng-ust's default 3 s also bounds each exchange on the
		 * notify socket, and at 64 guests under TCG a daemon can take longer to answer
		 * a rank's channel registration; the rank then traces nothing and its trace
		 * has a stream without its stream class (unreadable). */
		char timeout[16];
		const char *vars[][2] = {{"LD_PRELOAD", trace_preload},
		                         {"LTTNG_UST_REGISTER_TIMEOUT", timeout}};
		char **more = realloc(env, (w->envc + 3) * sizeof(*env));

		snprintf(timeout, sizeof(timeout), "%d", MC_TRACE_UST_REGISTER_TIMEOUT_MS);
		if (more)
			env = more;
		for (unsigned k = 0; more && k < 2; k++) {
			int user_set = 0;

			for (unsigned i = 0; i < w->envc; i++)
				user_set |= strcmp(w->env[i].name, vars[k][0]) == 0;
			if (!user_set && asprintf(&env[w->envc + traced_env], "%s=%s", vars[k][0],
			                          vars[k][1]) >= 0)
				traced_env++;
			env[w->envc + traced_env] = NULL;
		}
	}
	s.c = &o->c;
	s.ranks = w->ranks;
	s.ppn = w->ppn;
	s.timeout_ms = w->timeout_ms;
	s.envc = (int)w->envc + traced_env;
	s.env = env;
	s.argc = (int)argc;
	s.argv = argv;
	s.out_fd = out;
	s.err_fd = err;
	s.tick = pump_faults;
	if (mc_mpirun(&s, &res) < 0) {
		snprintf(rr->failure, sizeof(rr->failure), "%s", res.failure);
		goto out;
	}
	rr->seconds = res.seconds;
	rr->ok = res.status == 0;
	if (res.interrupted)
		interrupted = res.interrupted;
	if (!rr->ok)
		snprintf(rr->failure, sizeof(rr->failure), "%s", res.failure);
out:
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	free(argv);
	free_strings(env, w->envc + (unsigned)traced_env);
}

static void run_exec(const struct mc_run_opts *o, const char *exe, const struct mc_exp_workload *w,
                     const char *dir, struct rep_result *rr)
{
	char **argv = calloc(16 + 2 * w->envc + w->argc, sizeof(*argv));
	char **env = env_strings(w);
	char tmo[32];
	size_t n = 0;
	int out = open_out(dir, "stdout.jsonl"), err = open_out(dir, "stderr.log"), st, to;
	double t0 = now_s();
	pid_t pid;

	if (!argv || !env || out < 0 || err < 0) {
		snprintf(rr->failure, sizeof(rr->failure), "could not set up the run");
		goto out;
	}
	snprintf(tmo, sizeof(tmo), "%llums", (unsigned long long)w->timeout_ms);
	argv[n++] = "microcosm";
	argv[n++] = "exec";
	argv[n++] = "-c";
	argv[n++] = (char *)o->c.cluster;
	argv[n++] = "--state-dir";
	argv[n++] = (char *)o->c.state_dir;
	argv[n++] = "--timeout";
	argv[n++] = tmo;
	for (unsigned i = 0; i < w->envc; i++) {
		argv[n++] = "--env";
		argv[n++] = env[i];
	}
	argv[n++] = w->target;
	argv[n++] = "--";
	argv[n++] = w->program;
	for (unsigned i = 0; i < w->argc; i++)
		argv[n++] = w->argv[i];
	pid = spawn_self(exe, argv, out, err);
	if (pid < 0) {
		snprintf(rr->failure, sizeof(rr->failure), "fork: %s", strerror(errno));
		goto out;
	}
	st = wait_child(pid, w->timeout_ms + 30000, &to);
	rr->seconds = now_s() - t0;
	rr->ok = st == 0;
	if (!rr->ok)
		snprintf(rr->failure, sizeof(rr->failure), "%s on %s exited %d (stderr.log)",
		         w->program, w->target, st);
out:
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	free(argv);
	free_strings(env, w->envc);
}

/*
 * The task farm: coordinator on g0000, one worker on each of g0001..gW, and
 * kill_workers of them SIGKILLed kill_after into the run (the farm must
 * re-issue their tasks).
 */
static void run_taskfarm(const struct mc_run_opts *o, const char *exe,
                         const struct mc_exp_workload *w, uint64_t seed, unsigned rep,
                         const char *dir, struct rep_result *rr)
{
	char tasks[16], tms[16], sd[32], tmo[32], workers[32], victim[16];
	int out = open_out(dir, "stdout.jsonl"), err = open_out(dir, "stderr.log");
	int wout = open_out(dir, "workers.log"), st, to;
	pid_t coord = -1, wk = -1;
	int coord_status = -1; /* set once the coordinator was reaped early */
	double t0 = now_s();
	json_t *lines;

	if (out < 0 || err < 0 || wout < 0) {
		snprintf(rr->failure, sizeof(rr->failure), "could not set up the run");
		goto out;
	}
	snprintf(tasks, sizeof(tasks), "%u", w->tasks);
	snprintf(tms, sizeof(tms), "%u", w->task_ms);
	snprintf(sd, sizeof(sd), "%llu", (unsigned long long)(seed + rep));
	snprintf(tmo, sizeof(tmo), "%llums", (unsigned long long)w->timeout_ms);
	snprintf(workers, sizeof(workers), "1-%u", w->workers);
	{
		char *argv[] = {"microcosm",   "exec",
		                "-c",          (char *)o->c.cluster,
		                "--state-dir", (char *)o->c.state_dir,
		                "--timeout",   tmo,
		                "0",           "--",
		                "mc-taskfarm", "coordinator",
		                "--bind",      "tcp://*:7100",
		                "--tasks",     tasks,
		                "--task-ms",   tms,
		                "--seed",      sd,
		                NULL};

		coord = spawn_self(exe, argv, out, err);
	}
	{
		char *argv[] = {"microcosm",   "exec",
		                "-c",          (char *)o->c.cluster,
		                "--state-dir", (char *)o->c.state_dir,
		                "--timeout",   tmo,
		                workers,       "--",
		                "mc-taskfarm", "worker",
		                "--connect",   "tcp://10.77.0.2:7100",
		                "--slots",     "2",
		                NULL};

		wk = spawn_self(exe, argv, wout, wout);
	}
	if (coord < 0 || wk < 0) {
		snprintf(rr->failure, sizeof(rr->failure), "fork: %s", strerror(errno));
		goto out;
	}
	if (w->kill_workers) {
		/* The farm starts when every worker has joined (the coordinator logs "N
		 * workers alive"); kill_after counts from then, at most 60 s of waiting. */
		char want[48], path[PATH_MAX + 32], *log = NULL;
		int64_t at, give_up = mc_now_ms() + 60000;
		size_t len;

		snprintf(want, sizeof(want), " %u workers alive", w->workers);
		snprintf(path, sizeof(path), "%s/stderr.log", dir);
		while (mc_now_ms() < give_up && !interrupted && coord_status < 0) {
			int seen =
			        mc_read_file(path, 16u << 20, &log, &len) == 0 && strstr(log, want);

			free(log);
			log = NULL;
			if (seen)
				break;
			if (waitpid(coord, &st, WNOHANG) == coord)
				coord_status =
				        WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
			pump_faults(NULL);
			usleep(active_faults ? 10000 : 100000);
		}
		at = mc_now_ms() + (int64_t)w->kill_after_ms;

		while (mc_now_ms() < at && !interrupted && coord_status < 0) {
			if (waitpid(coord, &st, WNOHANG) == coord) {
				coord_status =
				        WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
				break;
			}
			pump_faults(NULL);
			usleep(active_faults || active_policy ? 10000 : 50000);
		}
		for (unsigned k = 0; k < w->kill_workers && !interrupted && coord_status < 0; k++) {
			/* the last workers: g<W>, g<W-1>, … */
			char *argv[] = {"microcosm",   "exec",
			                "-c",          (char *)o->c.cluster,
			                "--state-dir", (char *)o->c.state_dir,
			                victim,        "--",
			                "killall",     "-9",
			                "mc-taskfarm", NULL};

			snprintf(victim, sizeof(victim), "%u", w->workers - k);
			dprintf(err, "run: killing the worker on guest %s\n", victim);
			wait_child(spawn_self(exe, argv, wout, wout), 30000, NULL);
		}
	}
	to = 0;
	st = coord_status >= 0 ? coord_status : wait_child(coord, w->timeout_ms + 30000, &to);
	rr->seconds = now_s() - t0;
	/* Workers stop when told; the killed ones exited already. */
	wait_child(wk, 30000, NULL);
	lines = json_lines(dir, "stdout.jsonl");
	rr->ok = st == 0 && json_array_size(lines) > 0;
	if (!rr->ok)
		snprintf(rr->failure, sizeof(rr->failure), "coordinator exited %d%s (stderr.log)",
		         st, to ? " after the timeout" : "");
	json_decref(lines);
out:
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	if (wout >= 0)
		close(wout);
}

/* ---------- the run ---------- */

struct topo_ctx {
	struct mc_topology t;
	char **args; /* "key=value" for mc-netem */
	unsigned n;
};

static int topo_cb(void *ctx, const char *key, const char *value, char *err, size_t errlen)
{
	struct topo_ctx *tc = ctx;

	if (mc_topology_set(&tc->t, key, value, err, errlen) < 0)
		return -EINVAL;
	if (asprintf(&tc->args[tc->n], "%s=%s", key, value) < 0)
		return -ENOMEM;
	tc->n++;
	return 0;
}

/* This boot of the host: with the pid, it tells a live run from one that was killed. */
static void boot_id(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)cap, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

static json_t *manifest_new(const struct mc_experiment *e, const struct mc_run_opts *o,
                            uint64_t seed)
{
	struct utsname u;
	struct mc_assets a;
	char qemu[256], mpich[256], started[64], err[256], bid[64];
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	uname(&u);
	first_line_of("qemu-system-x86_64 --version 2>/dev/null", qemu, sizeof(qemu));
	first_line_of("mpichversion 2>/dev/null | sed -n 's/^MPICH Version:[[:space:]]*//p'", mpich,
	              sizeof(mpich));
	utc_stamp(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ");
	memset(&a, 0, sizeof(a));
	mc_assets_load(mc_assets_cache_dir(), &a, err, sizeof(err));
	boot_id(bid, sizeof(bid));
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:i, s:s, s:{s:s, s:s, s:s, s:s, s:s}, "
	                 "s:{s:s, s:s, s:s, s:i, s:I}, s:{}}",
	                 "name", e->name, "status", "running", "started", started, "seed",
	                 (json_int_t)seed, "spec_file", o->file, "cluster", o->c.cluster, "pid",
	                 (int)getpid(), "host_boot_id", bid, "versions", "microcosm", MC_VERSION,
	                 "qemu", qemu, "mpich", mpich, "guest_kernel", a.kernel_release, "assets",
	                 a.hash, "host", "hostname", u.nodename, "kernel", u.release, "machine",
	                 u.machine, "cpus", mc_host_ncpus(), "mem_mib",
	                 (json_int_t)((long long)pages * psz >> 20), "timings");
}

static void copy_file(const char *from, const char *to)
{
	char *text = NULL;
	size_t len;

	if (mc_read_file(from, 64u << 20, &text, &len) == 0)
		mc_write_file_atomic(to, text, len, 0644);
	free(text);
}

/* A guest name as the controller gives them ("g" and digits): safe as a directory name. */
static int guest_name_ok(const char *s)
{
	if (s[0] != 'g' || !s[1] || strlen(s) > 16)
		return 0;
	for (s++; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* guests.json and each guest's console and QEMU logs, before the cluster goes: the logs come
 * from the controller (from every host of a cluster across hosts), and a cluster across hosts
 * also leaves its launcher's and host daemons' output (hosts.log). */
static void collect_guests(const struct mc_run_opts *o, const char *rundir)
{
	struct mc_client *cl;
	json_t *reply = NULL, *g;
	char err[256], cdir[PATH_MAX], to[PATH_MAX + 64];
	size_t i;

	cl = mc_client_connect(&o->c, err, sizeof(err));
	if (!cl)
		return;
	if (mc_client_call(cl, json_pack("{s:s}", "op", "ls"), 30000, &reply) == 0 && reply) {
		write_json(rundir, "guests.json", json_object_get(reply, "guests"));
		json_array_foreach(json_object_get(reply, "guests"), i, g)
		{
			const char *name = json_string_value(json_object_get(g, "name"));

			if (!name || !guest_name_ok(name))
				continue;
			snprintf(to, sizeof(to), "%s/guests/%s", rundir, name);
			mc_mkdir_p(to, 0755);
		}
	}
	json_decref(reply);
	if (mc_client_send(cl, json_pack("{s:s, s:s}", "op", "logs", "target", "all")) == 0) {
		for (;;) {
			json_t *m = NULL;
			char *data = NULL;
			size_t len = 0;
			const char *type, *name, *file;
			int more;

			if (mc_client_recv(cl, 60000, &m, &data, &len) < 0)
				break;
			type = json_string_value(json_object_get(m, "type"));
			name = json_string_value(json_object_get(m, "guest"));
			file = json_string_value(json_object_get(m, "file"));
			more = type && strcmp(type, "result") == 0;
			if (more && name && file && data && guest_name_ok(name) &&
			    (!strcmp(file, "console.log") || !strcmp(file, "qemu.log"))) {
				snprintf(to, sizeof(to), "%s/guests/%s/%s", rundir, name, file);
				mc_write_file_atomic(to, data, len, 0644);
			}
			free(data);
			json_decref(m);
			if (!more)
				break;
		}
	}
	mc_client_destroy(&cl);
	mc_cluster_dir(&o->c, cdir, sizeof(cdir));
	{
		char from[PATH_MAX + 32];

		snprintf(from, sizeof(from), "%s/hosts.log", cdir);
		snprintf(to, sizeof(to), "%s/hosts.log", rundir);
		if (access(from, R_OK) == 0)
			copy_file(from, to);
	}
}

/* results.collect across hosts: each host's controller reads its own guests' disks and sends
 * the files (the "collect" request); they land where mc_collect_files() would put them, and
 * the hosts' reports merge into one. Guests are untrusted: names and paths are checked
 * again here. Returns 0, or -1 with err set when no host answered. */
static int collect_remote(const struct mc_run_opts *o, const char *const *pats, size_t np,
                          const char *accel, const char *out, json_t **report, char *err,
                          size_t errlen)
{
	struct mc_client *cl = mc_client_connect(&o->c, err, errlen);
	json_t *req, *arr = json_array(), *merged;
	int rc = -1;

	if (!cl) {
		json_decref(arr);
		return -1;
	}
	for (size_t i = 0; i < np; i++)
		json_array_append_new(arr, json_string(pats[i]));
	req = json_pack("{s:s, s:s, s:o, s:s}", "op", "collect", "target", "all", "patterns", arr,
	                "accel", accel);
	merged = json_pack("{s:{}, s:i, s:I, s:f}", "guests", "files", 0, "bytes", (json_int_t)0,
	                   "seconds", 0.0);
	if (mc_client_send(cl, req) < 0) {
		snprintf(err, errlen, "the controller did not take the request");
		goto done;
	}
	for (;;) {
		json_t *m = NULL, *rep;
		char *data = NULL, path[PATH_MAX * 2];
		size_t len = 0;
		const char *type, *g, *p;

		if (mc_client_recv(cl, 1800000, &m, &data, &len) < 0) {
			snprintf(err, errlen, "the controller did not answer for 30 minutes");
			break;
		}
		type = json_string_value(json_object_get(m, "type"));
		g = json_string_value(json_object_get(m, "guest"));
		p = json_string_value(json_object_get(m, "path"));
		rep = json_object_get(m, "report");
		if (type && !strcmp(type, "result") && rep) {
			const char *k;
			json_t *v;
			double secs = json_number_value(json_object_get(rep, "seconds"));

			json_object_foreach(json_object_get(rep, "guests"), k, v)
			        json_object_set(json_object_get(merged, "guests"), k, v);
			json_object_set_new(
			        merged, "files",
			        json_integer(json_integer_value(json_object_get(merged, "files")) +
			                     json_integer_value(json_object_get(rep, "files"))));
			json_object_set_new(
			        merged, "bytes",
			        json_integer(json_integer_value(json_object_get(merged, "bytes")) +
			                     json_integer_value(json_object_get(rep, "bytes"))));
			if (secs > json_number_value(json_object_get(merged, "seconds")))
				json_object_set_new(merged, "seconds", json_real(secs));
			rc = 0;
		} else if (type && !strcmp(type, "result") && g && p && data && guest_name_ok(g) &&
		           mc_collect_safe_rel(p) &&
		           strlen(out) + strlen(g) + strlen(p) + 16 < sizeof(path)) {
			char *slash;

			snprintf(path, sizeof(path), "%s/%s/files/%s", out, g, p);
			slash = strrchr(path, '/');
			*slash = '\0';
			mc_mkdir_p(path, 0755);
			*slash = '/';
			mc_write_file_atomic(path, data, len, 0644);
		} else if (type && !strcmp(type, "result") &&
		           json_string_value(json_object_get(m, "error"))) {
			fprintf(stderr, "run: collect: %s\n",
			        json_string_value(json_object_get(m, "error")));
		} else if (!type || strcmp(type, "result")) {
			if (type && !strcmp(type, "error"))
				snprintf(err, errlen, "%s",
				         json_string_value(json_object_get(m, "error")));
			free(data);
			json_decref(m);
			break;
		}
		free(data);
		json_decref(m);
	}
done:
	mc_client_destroy(&cl);
	if (rc == 0)
		*report = merged;
	else
		json_decref(merged);
	return rc;
}

/* results.collect: sync the guests that still run, then copy the files from every guest's
 * overlay (crashed and hung ones too) into guests/<guest>/files/; collected.json says
 * what came from where and what could not be read. */
static void collect_files(const struct mc_experiment *e, const struct mc_run_opts *o,
                          const char *exe, const char *rundir, json_t *manifest)
{
	char cdir[PATH_MAX], out[PATH_MAX + 16], err[512], accel[8] = "tcg";
	char *argv[] = {"microcosm",   "exec",
	                "-c",          (char *)o->c.cluster,
	                "--state-dir", (char *)o->c.state_dir,
	                "--timeout",   "30s",
	                "all",         "--",
	                "sync",        NULL};
	struct mc_collect_guest *gs;
	const char *pats[MC_EXP_MAX_COLLECT];
	json_t *guests, *g, *report = NULL;
	struct mc_client *cl;
	char(*disks)[PATH_MAX + 64];
	size_t i, n = 0;
	int log = open_out(rundir, "collect.log");
	double t0 = now_s();

	fprintf(stderr, "run: collecting %u path(s) from the guests' disks…\n", e->n_collect);
	/* What a running guest has not written back yet is in its page cache, not on disk. */
	wait_child(spawn_self(exe, argv, log, log), 60000, NULL);
	if (log >= 0)
		close(log);
	if ((cl = mc_client_connect(&o->c, err, sizeof(err)))) {
		json_t *st = NULL;

		if (mc_client_call(cl, json_pack("{s:s}", "op", "status"), 30000, &st) == 0 && st &&
		    json_string_value(json_object_get(st, "accel")))
			snprintf(accel, sizeof(accel), "%s",
			         json_string_value(json_object_get(st, "accel")));
		json_decref(st);
		mc_client_destroy(&cl);
	}
	guests = mc_cluster_guests(&o->c, 30000, err, sizeof(err));
	gs = calloc(json_array_size(guests) + 1, sizeof(*gs));
	disks = calloc(json_array_size(guests) + 1, sizeof(*disks));
	if (!guests || !gs || !disks) {
		fprintf(stderr, "run: collect: %s\n", guests ? "out of memory" : err);
		json_object_set_new(manifest, "collect_error",
		                    json_string(guests ? "out of memory" : err));
		goto out;
	}
	mc_cluster_dir(&o->c, cdir, sizeof(cdir));
	for (i = 0; i < e->n_collect; i++)
		pats[i] = e->collect[i];
	snprintf(out, sizeof(out), "%s/guests", rundir);
	if (json_object_get(json_array_get(guests, 0), "host")) { /* across hosts */
		n = json_array_size(guests);
		if (collect_remote(o, pats, e->n_collect, accel, out, &report, err, sizeof(err)) <
		    0) {
			fprintf(stderr, "run: collect: %s\n", err);
			json_object_set_new(manifest, "collect_error", json_string(err));
		}
		goto report;
	}
	json_array_foreach(guests, i, g)
	{
		const char *name = json_string_value(json_object_get(g, "name"));

		if (!name)
			continue;
		snprintf(disks[n], sizeof(disks[n]), "%s/guests/%s/disk.qcow2", cdir, name);
		if (access(disks[n], R_OK) < 0)
			continue; /* never started */
		gs[n].name = name;
		gs[n].disk = disks[n];
		n++;
	}
	if (mc_collect_files(gs, n, pats, e->n_collect, out, accel, &report, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "run: collect: %s\n", err);
		json_object_set_new(manifest, "collect_error", json_string(err));
	}
report:
	if (report) {
		write_json(rundir, "collected.json", report);
		fprintf(stderr, "run: collected %d files, %lld bytes from %zu guests in %.1f s\n",
		        (int)json_integer_value(json_object_get(report, "files")),
		        (long long)json_integer_value(json_object_get(report, "bytes")), n,
		        json_real_value(json_object_get(report, "seconds")));
	}
out:
	json_object_set_new(json_object_get(manifest, "timings"), "collect_s",
	                    json_real(now_s() - t0));
	json_decref(report);
	json_decref(guests);
	free(gs);
	free(disks);
}

/* The files the cluster section names exist, before anything starts. */
static int check_cluster_files(const struct mc_experiment *e, char *err, size_t errlen)
{
	char path[PATH_MAX], why[512];
	struct stat st;

	if (e->cluster.image[0] && mc_image_resolve(mc_assets_cache_dir(), e->cluster.image, path,
	                                            sizeof(path), why, sizeof(why)) < 0) {
		snprintf(err, errlen, "cluster.image: %s", why);
		return -1;
	}
	if (e->cluster.share[0]) {
		const char *bad = stat(e->cluster.share, &st) < 0 ? strerror(errno)
		                  : !S_ISDIR(st.st_mode)          ? "not a directory"
		                                                  : NULL;

		if (bad) {
			snprintf(err, errlen, "cluster.share: %s: %s", e->cluster.share, bad);
			return -1;
		}
	}
	return 0;
}

/* summary.json: {"workloads": [...], "faults": {...} (when the file has a plan)}. */
/* A failed attempt's output is kept beside the next one's: attempt-K.stdout.jsonl, .stderr.log. */
static void keep_attempt(const char *dir, unsigned k)
{
	static const char *const names[] = {"stdout.jsonl", "stderr.log"};

	for (size_t i = 0; i < 2; i++) {
		char from[PATH_MAX + 160], to[PATH_MAX + 192];

		snprintf(from, sizeof(from), "%s/%s", dir, names[i]);
		snprintf(to, sizeof(to), "%s/attempt-%u.%s", dir, k, names[i]);
		rename(from, to);
	}
}

/* Boots the failed guests again (the controller's "revive"), pumping the plan and the
 * policy meanwhile. Returns 0 when all are ready, else -1 with err set. */
static int revive(const struct mc_run_opts *o, const char *guests, char *err, size_t errlen)
{
	struct mc_client *cl = mc_client_connect(&o->c, err, errlen);
	int64_t deadline = mc_now_ms() + 300000;
	int bad = 0;

	if (!cl)
		return -1;
	if (mc_client_send(cl, json_pack("{s:s, s:s}", "op", "revive", "target", guests)) < 0) {
		mc_errf(err, errlen, "the controller did not take the request");
		mc_client_destroy(&cl);
		return -1;
	}
	for (;;) {
		json_t *m = NULL;
		int rc = mc_client_recv(cl, 200, &m, NULL, NULL);
		const char *type = json_string_value(json_object_get(m, "type"));
		int last;

		pump_faults(NULL);
		if (rc == -ETIMEDOUT && mc_now_ms() < deadline && !interrupted)
			continue;
		if (rc < 0) {
			mc_errf(err, errlen, "no answer from the controller");
			bad = 1;
		} else if (type && !strcmp(type, "result") && json_object_get(m, "error")) {
			mc_errf(err, errlen, "%s: %s",
			        json_string_value(json_object_get(m, "guest")),
			        json_string_value(json_object_get(m, "error")));
			bad = 1;
		} else if (type && !strcmp(type, "error")) {
			mc_errf(err, errlen, "%s", json_string_value(json_object_get(m, "error")));
			bad = 1;
		}
		last = rc < 0 || (type && (!strcmp(type, "done") || !strcmp(type, "error")));
		json_decref(m);
		if (last)
			break;
	}
	mc_client_destroy(&cl);
	return bad ? -1 : 0;
}

static void write_summary(const char *rundir, json_t *workloads, json_t *faults)
{
	json_t *doc = json_pack("{s:O, s:o}", "workloads", workloads, "metrics",
	                        mc_metrics_from_summary(workloads));

	if (faults)
		json_object_set(doc, "faults", faults);
	write_json(rundir, "summary.json", doc);
	json_decref(doc);
}

int mc_run_experiment(const struct mc_experiment *e, const struct mc_run_opts *o, char *rundir)
{
	const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = on_signal}, old[3];
	struct topo_ctx tc;
	char exe[PATH_MAX], stamp[32], err[512], base[PATH_MAX], nbuf[16], mem[32], vc[16];
	char hb[32], hbt[32], tbs[16], gbuf[16], events[PATH_MAX + 16];
	uint64_t seed = o->seed_set ? o->seed : e->seed_set ? e->seed : 0;
	json_t *manifest = NULL, *spec, *summary = json_array(), *timings;
	json_t *summary_lines = json_array(), *fault_counts = NULL;
	struct mc_fault_sched sched = {0};
	struct mc_run_faults *runner = NULL;
	struct mc_run_policy *policy = NULL;
	json_t *ft = NULL; /* the policy's figures of the current workload */
	struct mc_run_trace *tracer = NULL;
	uint64_t fseed = 0;
	int rc = 2, failed = 0, st, upped = 0;
	double t_up;

	memset(&tc, 0, sizeof(tc));
	mc_topology_init(&tc.t);
	tc.args = calloc(MC_EXP_MAX_NETWORK + 1, sizeof(*tc.args));
	if (!tc.args || self_exe(exe, sizeof(exe)) < 0) {
		fprintf(stderr, "microcosm run: out of memory\n");
		return 2;
	}
	if (mc_experiment_network_each(e, topo_cb, &tc, err, sizeof(err)) < 0 ||
	    mc_topology_check(&tc.t, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm run: %s\n", err);
		goto out_free;
	}
	if (check_cluster_files(e, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm run: %s\n", err);
		goto out_free;
	}
	if (!o->seed_set && !e->seed_set)
		seed = ((uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid()) & INT64_MAX;
	/* The fault plan's schedule: fixed by the seed before anything starts. */
	fseed = e->fault_seed_set ? e->fault_seed : seed;
	if (e->n_faults && mc_fault_schedule(e, fseed, &sched, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm run: %s\n", err);
		goto out_free;
	}
	spec = mc_experiment_to_json(e);
	json_object_set_new(spec, "seed", json_integer((json_int_t)seed));
	if (e->n_faults) {
		json_object_set_new(spec, "fault_seed", json_integer((json_int_t)fseed));
		json_object_set_new(spec, "fault_schedule", mc_fault_sched_to_json(&sched));
	}
	if (o->dry_run) {
		char *s = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("%s\n", s ? s : "{}");
		free(s);
		if (e->n_faults) {
			fprintf(stderr, "fault schedule (seed %llu, %zu injections):\n",
			        (unsigned long long)fseed, sched.n);
			mc_fault_sched_print(&sched, stderr);
		}
		json_decref(spec);
		rc = 0;
		goto out_free;
	}

	/* The run directory. */
	snprintf(base, sizeof(base), "%s", o->results[0] ? o->results : e->results_dir);
	utc_stamp(stamp, sizeof(stamp), "%Y%m%d-%H%M%S");
	for (int k = 0;; k++) {
		int made;

		snprintf(rundir, PATH_MAX, k ? "%s/%s-%s-%d" : "%s/%s-%s", base, e->name, stamp, k);
		made = mc_mkdir_p(base, 0755) == 0 && mkdir(rundir, 0755) == 0;
		if (made)
			break;
		if (errno != EEXIST || k >= 100) {
			fprintf(stderr, "microcosm run: cannot create %s: %s\n", rundir,
			        strerror(errno));
			json_decref(spec);
			goto out_free;
		}
	}
	{
		char p[PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/spec.yaml", rundir);
		mc_write_file_atomic(p, e->text, e->text_len, 0644);
	}
	write_json(rundir, "spec.json", spec);
	json_decref(spec);
	snprintf(events, sizeof(events), "%s/events.jsonl", rundir);
	manifest = manifest_new(e, o, seed);
	timings = json_object_get(manifest, "timings");
	write_json(rundir, "manifest.json", manifest);
	fprintf(stderr, "run: %s: seed %llu, cluster '%s', results in %s\n", e->name,
	        (unsigned long long)seed, o->c.cluster, rundir);
	if (mc_catalog_index_run(base, rundir, err, sizeof(err)) < 0)
		fprintf(stderr,
		        "run: catalog: %s (the run goes on; `microcosm results reindex %s` "
		        "catches up)\n",
		        err, base);
	if (e->n_faults) {
		json_object_set_new(manifest, "fault_seed", json_integer((json_int_t)fseed));
		write_json(rundir, "manifest.json", manifest);
		fprintf(stderr,
		        "run: fault plan: %zu injections, seed %llu (fault_schedule in "
		        "spec.json; the record goes to faults.jsonl)\n",
		        sched.n, (unsigned long long)fseed);
		if (sched.n && !(runner = mc_run_faults_new(&o->c, &sched, rundir))) {
			fprintf(stderr, "microcosm run: out of memory\n");
			goto finish;
		}
	}
	if (e->policy.set) {
		policy = mc_run_policy_new(e, &o->c, &sched, fseed, rundir, err, sizeof(err));
		if (!policy) {
			fprintf(stderr, "microcosm run: %s\n", err);
			goto finish;
		}
		if (runner)
			mc_run_faults_set_vacated(runner, vacated, policy);
		fprintf(stderr,
		        "run: policy %s: decisions, warnings and migrations go to policy.jsonl\n",
		        e->policy.name);
	}

	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);

	/* Tracing: the host session exists before the cluster, so its start is on record. */
	if (o->trace || e->tracing) {
		const char *evs[MC_EXP_MAX_TRACE_EVENTS + 1] = {0};

		for (unsigned i = 0; i < e->n_trace_events; i++)
			evs[i] = e->trace_events[i];
		tracer = mc_run_trace_start(rundir, evs, (unsigned)e->trace_flush_ms, err,
		                            sizeof(err));
		json_object_set_new(manifest, "trace",
		                    tracer ? json_pack("{s:s}", "dir", "trace")
		                           : json_pack("{s:s, s:s}", "dir", "trace", "error", err));
		if (!tracer)
			fprintf(stderr, "run: tracing is off: %s\n", err);
		else
			fprintf(stderr, "run: tracing into %s/trace\n", rundir);
	}

	/* The cluster. */
	snprintf(nbuf, sizeof(nbuf), "%u", e->cluster.guests);
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)e->cluster.mem_mib);
	snprintf(vc, sizeof(vc), "%u", e->cluster.vcpus);
	snprintf(hb, sizeof(hb), "%llums", (unsigned long long)e->cluster.heartbeat_ms);
	snprintf(hbt, sizeof(hbt), "%llums", (unsigned long long)e->cluster.heartbeat_timeout_ms);
	snprintf(tbs, sizeof(tbs), "%u", e->cluster.tb_mib);
	{
		char *argv[48];
		int n = 0;

		argv[n++] = "microcosm";
		argv[n++] = "up";
		argv[n++] = "-n";
		argv[n++] = nbuf;
		argv[n++] = "-c";
		argv[n++] = (char *)o->c.cluster;
		argv[n++] = "--state-dir";
		argv[n++] = (char *)o->c.state_dir;
		argv[n++] = "--memory";
		argv[n++] = mem;
		argv[n++] = "--vcpus";
		argv[n++] = vc;
		argv[n++] = "--spawn";
		argv[n++] = e->cluster.clone ? "clone" : "boot";
		argv[n++] = "--kernel";
		argv[n++] = (char *)e->cluster.kernel;
		if (e->cluster.heartbeat_ms) {
			argv[n++] = "--heartbeat";
			argv[n++] = hb;
		}
		if (e->cluster.tb_mib) {
			argv[n++] = "--tb-size";
			argv[n++] = tbs;
		}
		if (e->cluster.heartbeat_timeout_ms) {
			argv[n++] = "--hb-timeout";
			argv[n++] = hbt;
		}
		if (e->cluster.density)
			argv[n++] = "--density";
		if (e->cluster.image[0]) {
			argv[n++] = "--image";
			argv[n++] = (char *)e->cluster.image;
		}
		if (e->cluster.share[0]) {
			argv[n++] = "--share";
			argv[n++] = (char *)e->cluster.share;
		}
		if (o->hosts[0]) {
			argv[n++] = "--hosts";
			argv[n++] = (char *)o->hosts;
		}
		if (o->launcher_exec[0]) {
			argv[n++] = "--launcher-exec";
			argv[n++] = (char *)o->launcher_exec;
		}
		if (o->listen[0]) {
			argv[n++] = "--listen";
			argv[n++] = (char *)o->listen;
		}
		argv[n++] = "--events";
		argv[n++] = events;
		argv[n] = NULL;
		t_up = now_s();
		st = wait_child(spawn_self(exe, argv, STDERR_FILENO, -1), 0, NULL);
		json_object_set_new(timings, "up_s", json_real(now_s() - t_up));
	}
	upped = st == 0; /* a failed up (e.g. the name is taken) is not ours to take down */
	if (st != 0 || interrupted) {
		fprintf(stderr, "microcosm run: the cluster did not come up (exit %d)\n", st);
		json_object_set_new(manifest, "status", json_string("failed"));
		json_object_set_new(manifest, "error", json_string("cluster did not come up"));
		rc = 2;
		goto finish;
	}

	/* The network. */
	if (tc.n) {
		char **argv = calloc(17 + tc.n, sizeof(*argv));
		char starts[MC_HOSTS_MAX * 8 + 32];
		int n = 0, first_arg, out = open_out(rundir, "network.log");
		double t0 = now_s();

		snprintf(gbuf, sizeof(gbuf), "%u", e->cluster.guests);
		argv[n++] = "microcosm";
		argv[n++] = "exec";
		argv[n++] = "-c";
		argv[n++] = (char *)o->c.cluster;
		argv[n++] = "--state-dir";
		argv[n++] = (char *)o->c.state_dir;
		argv[n++] = "all";
		argv[n++] = "--";
		argv[n++] = "mc-netem";
		argv[n++] = "--guests";
		argv[n++] = gbuf;
		first_arg = n;
		for (unsigned i = 0; i < tc.n; i++)
			argv[n++] = tc.args[i];
		if (tc.t.by_hosts) { /* kind hosts: the racks are the hosts the guests are on */
			json_t *gs = mc_cluster_guests(&o->c, 30000, err, sizeof(err));

			if (gs && mc_hosts_rack_starts(gs, starts, sizeof(starts)) > 0)
				argv[n++] = starts;
			json_decref(gs);
		}
		argv[n] = NULL;
		st = wait_child(spawn_self(exe, argv, out, out), 600000, NULL);
		if (!st) /* for fault bursts: the settings as the guests got them */
			mc_cluster_save_network(&o->c, argv + first_arg, n - first_arg);
		free(argv);
		if (out >= 0)
			close(out);
		json_object_set_new(timings, "network_s", json_real(now_s() - t0));
		fprintf(stderr, "run: network: %s on %u guests%s\n",
		        mc_topology_format(&tc.t, err, sizeof(err)), e->cluster.guests,
		        st ? " FAILED (network.log)" : "");
		if (st) {
			json_object_set_new(manifest, "status", json_string("failed"));
			json_object_set_new(manifest, "error",
			                    json_string("network emulation failed (network.log)"));
			rc = 1;
			goto finish;
		}
	}

	if (tracer) {
		if (mc_run_trace_guests(tracer, &o->c, err, sizeof(err)) < 0) {
			fprintf(stderr, "run: tracing: the guests are not traced: %s\n", err);
			json_object_set_new(json_object_get(manifest, "trace"), "guests_error",
			                    json_string(err));
		}
		trace_preload = mc_run_trace_preload(tracer);
	}

	/* The workloads. */
	for (unsigned wi = 0; wi < e->n_workloads && !interrupted; wi++) {
		const struct mc_exp_workload *w = &e->workloads[wi];
		double *secs = calloc(w->repeat, sizeof(*secs));
		unsigned nok = 0;
		json_t *runs = json_array();

		for (unsigned r = 0; r < w->repeat && !interrupted; r++) {
			char dir[PATH_MAX + 128];
			struct rep_result rr = {0};
			int64_t t_started, t_job = 0;
			unsigned attempts = 0; /* restarts after failures (with a policy) */
			json_t *res;

			snprintf(dir, sizeof(dir), "%s/workloads/%s/%u", rundir, w->name, r);
			mc_mkdir_p(dir, 0755);
			fprintf(stderr, "run: %s %u/%u…\n", w->name, r + 1, w->repeat);
			t_started = mc_wall_ms();
			/* A plan's times count from the start of its workload's first run. */
			if (runner && r == 0) {
				mc_run_faults_begin(runner, wi, dir);
				active_faults = runner;
			}
			if (policy && r == 0) {
				mc_run_policy_begin(policy, wi, dir);
				active_policy = policy;
			}
			for (unsigned attempt = 0;; attempt++) {
				char failed_guests[1024], rerr[512];
				int64_t t_first = mc_now_ms();

				memset(&rr, 0, sizeof(rr));
				if (w->kind == MC_EXP_MPI)
					run_mpi(o, w, dir, &rr);
				else if (w->kind == MC_EXP_EXEC)
					run_exec(o, exe, w, dir, &rr);
				else
					run_taskfarm(o, exe, w, seed, r, dir, &rr);
				if (attempt == 0)
					t_job = t_first;
				/* With a policy, a job a failure killed starts again on its revived
				 * guests: from its last checkpoint when it takes them (mc-ring),
				 * otherwise from the start. */
				if (rr.ok || !active_policy || interrupted ||
				    attempt >= MC_RUN_MAX_RESTARTS ||
				    !mc_run_policy_job_failed(active_policy, failed_guests,
				                              sizeof(failed_guests)))
					break;
				keep_attempt(dir, attempt);
				fprintf(stderr,
				        "run: %s %u/%u: %s failed: reviving them, restart %u\n",
				        w->name, r + 1, w->repeat, failed_guests, attempt + 1);
				if (revive(o, failed_guests, rerr, sizeof(rerr)) < 0) {
					fprintf(stderr, "run: %s: no restart: %s\n", w->name, rerr);
					break;
				}
				mc_run_policy_restarted(active_policy);
				attempts = attempt + 1;
			}
			if (attempts && rr.ok)
				rr.seconds =
				        (double)(mc_now_ms() - t_job) / 1000.0; /* to solution */
			if (active_faults) {
				active_faults = NULL;
				mc_run_faults_end(runner);
			}
			if (active_policy) {
				active_policy = NULL;
				json_decref(ft);
				ft = mc_run_policy_end(policy, rr.ok, rr.seconds);
			}
			res = json_pack("{s:s, s:i, s:b, s:f, s:I, s:I, s:o}", "workload", w->name,
			                "rep", (int)r, "ok", rr.ok, "seconds", rr.seconds,
			                "started_ms", (json_int_t)t_started, "ended_ms",
			                (json_int_t)mc_wall_ms(), "results",
			                json_lines(dir, "stdout.jsonl"));
			if (!rr.ok)
				json_object_set_new(res, "failure", json_string(rr.failure));
			if (attempts)
				json_object_set_new(res, "restarts", json_integer(attempts));
			write_json(dir, "result.json", res);
			json_array_append_new(runs, res);
			fprintf(stderr, "run: %s %u/%u: %s in %.2f s%s%s\n", w->name, r + 1,
			        w->repeat, rr.ok ? "ok" : "FAILED", rr.seconds, rr.ok ? "" : ": ",
			        rr.ok ? "" : rr.failure);
			if (rr.ok)
				secs[nok++] = rr.seconds;
			else
				failed++;
		}
		qsort(secs, nok, sizeof(*secs), cmp_double);
		{
			char hl[256] = "";
			size_t k;
			json_t *rj;

			/* the figures of the last repetition that succeeded */
			json_array_foreach(runs, k, rj) if (json_is_true(json_object_get(rj, "ok")))
			        headline(json_object_get(rj, "results"), hl, sizeof(hl));
			json_array_append_new(summary_lines, json_string(hl));
		}
		json_array_append_new(summary, json_pack("{s:s, s:s, s:i, s:i, s:f, s:o}",
		                                         "workload", w->name, "kind",
		                                         w->kind == MC_EXP_MPI    ? "mpi"
		                                         : w->kind == MC_EXP_EXEC ? "exec"
		                                                                  : "taskfarm",
		                                         "runs", (int)json_array_size(runs), "ok",
		                                         (int)nok, "median_s",
		                                         nok ? secs[nok / 2] : 0.0, "reps", runs));
		if (ft) {
			/* The policy's figures for the workload's first repetition. */
			json_object_set_new(json_array_get(summary, json_array_size(summary) - 1),
			                    "ft", ft);
			ft = NULL;
		}
		write_summary(rundir, summary, NULL);
		free(secs);
	}
	rc = failed || interrupted ? 1 : 0;
	json_object_set_new(manifest, "status",
	                    json_string(interrupted ? "interrupted"
	                                : failed    ? "failed"
	                                            : "finished"));

finish:
	active_faults = NULL;
	active_policy = NULL;
	json_decref(ft);
	mc_run_policy_free(&policy);
	if (runner && upped) {
		fault_counts = mc_run_faults_finish(runner);
		json_object_set(manifest, "faults", fault_counts);
		fprintf(stderr,
		        "run: faults: %d planned, %d injected, %d failed, %d not injected; %d "
		        "failures detected\n",
		        (int)json_integer_value(json_object_get(fault_counts, "planned")),
		        (int)json_integer_value(json_object_get(fault_counts, "injected")),
		        (int)json_integer_value(json_object_get(fault_counts, "failed")),
		        (int)json_integer_value(json_object_get(fault_counts, "not_injected")),
		        (int)json_integer_value(json_object_get(fault_counts, "detected")));
	}
	if (tracer) {
		mc_run_trace_stop(&tracer, &o->c); /* guests flush before the cluster goes */
		trace_preload = "";
	}
	if (upped && e->n_collect)
		collect_files(e, o, exe, rundir, manifest);
	collect_guests(o, rundir);
	if (upped && !o->keep) {
		char *argv[] = {"microcosm",   "down",
		                "-c",          (char *)o->c.cluster,
		                "--state-dir", (char *)o->c.state_dir,
		                NULL};
		int saved = interrupted;

		double t0 = now_s();

		interrupted = 0; /* teardown must run to the end */
		wait_child(spawn_self(exe, argv, STDERR_FILENO, -1), 0, NULL);
		interrupted = saved;
		json_object_set_new(timings, "down_s", json_real(now_s() - t0));
	}
	{
		char ended[64];

		utc_stamp(ended, sizeof(ended), "%Y-%m-%dT%H:%M:%SZ");
		json_object_set_new(manifest, "ended", json_string(ended));
	}
	write_summary(rundir, summary, fault_counts);
	write_json(rundir, "manifest.json", manifest);
	if (mc_catalog_index_run(base, rundir, err, sizeof(err)) < 0)
		fprintf(stderr, "run: catalog: %s\n", err);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);

	/* The table a person reads. */
	printf("%-16s %-9s %4s %4s %9s  %s\n", "WORKLOAD", "KIND", "RUNS", "OK", "MEDIAN_S",
	       "RESULT (last good run)");
	{
		size_t i;
		json_t *s;

		json_array_foreach(summary, i, s)
		{
			printf("%-16s %-9s %4d %4d %9.2f  %s\n",
			       json_string_value(json_object_get(s, "workload")),
			       json_string_value(json_object_get(s, "kind")),
			       (int)json_integer_value(json_object_get(s, "runs")),
			       (int)json_integer_value(json_object_get(s, "ok")),
			       json_real_value(json_object_get(s, "median_s")),
			       json_string_value(json_array_get(summary_lines, i)));
		}
	}
	printf("status: %s\n", json_string_value(json_object_get(manifest, "status")));
	printf("%s\n", rundir);
	fflush(stdout);
out_free:
	mc_run_faults_free(&runner);
	mc_fault_sched_fini(&sched);
	json_decref(fault_counts);
	json_decref(manifest);
	json_decref(summary);
	json_decref(summary_lines);
	for (unsigned i = 0; i < tc.n; i++)
		free(tc.args[i]);
	free(tc.args);
	return rc;
}
