/* cmd_up.c — `microcosm up`: checks, resolves the configuration, starts the controller, shows
 * progress. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accel.h"
#include "admit.h"
#include "assets.h"
#include "cli.h"
#include "client.h"
#include "commands.h"
#include "controller.h"
#include "hosts.h"
#include "log.h"
#include "resolve.h"
#include "template.h"
#include "util.h"
#include "vmm.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void print_progress(json_t *st, int final, int tty, int64_t t0)
{
	json_t *cnt = json_object_get(st, "counts");
	int n = (int)json_integer_value(json_object_get(st, "guests"));
	int ready = (int)(json_integer_value(json_object_get(cnt, "ready")) +
	                  json_integer_value(json_object_get(cnt, "busy")) +
	                  json_integer_value(json_object_get(cnt, "paused")));
	int booting = (int)json_integer_value(json_object_get(cnt, "booting"));
	int failed = (int)json_integer_value(json_object_get(cnt, "failed"));
	double secs = (double)(mc_now_ms() - t0) / 1000.0;
	double rate = secs > 0 ? ready / secs : 0;
	int left = n - ready - failed;

	fprintf(stderr, "%sup: %d/%d ready, %d booting, %d failed, %.1f s, %.2f guests/s",
	        tty ? "\r" : "", ready, n, booting, failed, secs, rate);
	if (!final && rate > 0 && left > 0)
		fprintf(stderr, ", ETA %.0f s", left / rate);
	fprintf(stderr, tty && !final ? "\033[K" : "\n");
	fflush(stderr);
}

/* Polls the controller until no guest is defined or booting. Returns the
 * number of guests not ready, or -1 if the controller vanished. */
static int wait_ready(const struct mc_common_opts *co, int quiet, int *out_n)
{
	char err[512];
	struct mc_client *cl = mc_client_connect(co, err, sizeof(err));
	int tty = isatty(2), last_ready = -1;
	int64_t t0 = mc_now_ms(), last_print = 0;
	json_t *st = NULL;
	int rc = -1;

	if (!cl) {
		fprintf(stderr, "microcosm up: %s\n", err);
		return -1;
	}
	while (!interrupted) {
		json_t *cnt;
		int pending, ready;

		json_decref(st);
		st = NULL;
		if (mc_client_call(cl, json_pack("{s:s}", "op", "status"), 10000, &st) < 0)
			break;
		cnt = json_object_get(st, "counts");
		pending = (int)(json_integer_value(json_object_get(cnt, "defined")) +
		                json_integer_value(json_object_get(cnt, "booting")));
		ready = (int)(json_integer_value(json_object_get(cnt, "ready")) +
		              json_integer_value(json_object_get(cnt, "busy")) +
		              json_integer_value(json_object_get(cnt, "paused")));
		*out_n = (int)json_integer_value(json_object_get(st, "guests"));
		if (pending == 0) {
			if (!quiet)
				print_progress(st, 1, tty, t0);
			rc = *out_n - ready;
			break;
		}
		if (!quiet &&
		    (tty || mc_now_ms() - last_print >= 5000 ||
		     (ready != last_ready && ready * 10 / *out_n != last_ready * 10 / *out_n))) {
			print_progress(st, 0, tty, t0);
			last_print = mc_now_ms();
			last_ready = ready;
		}
		usleep(250 * 1000);
	}
	json_decref(st);
	mc_client_destroy(&cl);
	return rc;
}

static void print_failures(const struct mc_common_opts *co)
{
	char err[512];
	struct mc_client *cl = mc_client_connect(co, err, sizeof(err));
	json_t *ls = NULL, *g;
	size_t i;

	if (!cl)
		return;
	if (mc_client_call(cl, json_pack("{s:s}", "op", "ls"), 10000, &ls) == 0) {
		json_array_foreach(json_object_get(ls, "guests"), i, g)
		{
			const char *state = json_string_value(json_object_get(g, "state"));

			if (strcmp(state, "failed") == 0)
				fprintf(stderr, "up: guest %s failed: %s\n",
				        json_string_value(json_object_get(g, "name")),
				        json_string_value(json_object_get(g, "reason")));
		}
	}
	json_decref(ls);
	mc_client_destroy(&cl);
}

static int up_main(struct mc_up_opts *op, struct mc_ctl_config *cfg);

int cmd_up(int argc, char **argv)
{
	struct mc_up_opts o;
	struct mc_ctl_config *cfg;
	int r = mc_cli_parse_up(argc, argv, &o);

	if (r)
		return r > 0 ? 0 : 2;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return 1;
	r = up_main(&o, cfg);
	free(cfg);
	return r;
}

static int up_main(struct mc_up_opts *op, struct mc_ctl_config *cfg)
{
	struct mc_up_opts o = *op;
	char err[1024], dir[PATH_MAX], path[PATH_MAX + 32];
	struct mc_cost cost;
	struct mc_hosts_opts ho = {0};
	int r, pipefd[2], notready, n = 0;
	pid_t pid;
	FILE *fp;

	if (geteuid() != 0) {
		fprintf(stderr, "microcosm up: must run as root (it creates a network namespace, "
		                "taps and routes)\n");
		return 1;
	}
	if (mc_up_resolve(&o, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm up: %s\n", err);
		return 1;
	}
	mc_cluster_dir(&o.c, dir, sizeof(dir));
	r = mc_cluster_pid(dir);
	if (mc_pid_alive(r)) {
		fprintf(stderr,
		        "microcosm up: cluster '%s' is already up (controller pid %d); run "
		        "'microcosm down -c %s' first or pick another name with -c\n",
		        o.c.cluster, r, o.c.cluster);
		return 1;
	}
	if (access(dir, F_OK) == 0) {
		fprintf(stderr, "microcosm up: cleaning up stale state of cluster '%s' in %s\n",
		        o.c.cluster, dir);
		mc_cluster_cleanup_stale(&o.c);
	}
	/* Admission: measured cost of this kind of guest (or a conservative
	 * estimate before the first measurement), checked before anything starts. */
	mc_cost_key(cfg->cost_key, sizeof(cfg->cost_key), o.clone, cfg->accel, o.tb_mib, o.density,
	            o.mem_mib);
	mc_cost_load(cfg->cache_dir, cfg->cost_key, o.clone, cfg->accel, o.tb_mib, o.mem_mib,
	             &cost);
	if (o.hosts[0]) { /* each host's daemon is admitted by the cluster controller */
		snprintf(ho.hosts, sizeof(ho.hosts), "%s", o.hosts);
		snprintf(ho.launcher_exec, sizeof(ho.launcher_exec), "%s", o.launcher_exec);
		snprintf(ho.listen, sizeof(ho.listen), "%s", o.listen);
		ho.start_timeout_ms = 120000;
		ho.cost = cost;
		if (!o.quiet)
			fprintf(stderr, "up: %u guests over the hosts of %s (%.0f MiB each)\n", o.n,
			        strcmp(o.hosts, "slurm") ? o.hosts : "this Slurm allocation",
			        cost.mem_mib);
	} else if (mc_admit(o.n, &cost, mc_host_mem_available_mib(), mc_host_ncpus(), err,
	                    sizeof(err)) < 0) {
		fprintf(stderr, "microcosm up: %s\n", err);
		return 1;
	} else if (!o.quiet) {
		fprintf(stderr, "up: admission: %s\n", err);
	}
	cfg->cost_mib = cost.mem_mib;
	snprintf(cfg->cluster, sizeof(cfg->cluster), "%s", o.c.cluster);
	snprintf(cfg->dir, sizeof(cfg->dir), "%s", dir);
	mc_cluster_netns(&o.c, cfg->netns, sizeof(cfg->netns));
	cfg->n = o.n;
	cfg->parallel = o.parallel ? o.parallel : (o.clone ? 8u : 2u) * (unsigned)mc_host_ncpus();
	cfg->boot_timeout_ms = o.boot_timeout_ms;
	cfg->hb_ms = o.hb_ms;
	cfg->hb_timeout_ms = o.hb_timeout_ms;
	if (o.clone) {
		struct mc_template_spec ts;
		struct mc_template t;
		int built;

		mc_up_template_spec(cfg, &ts);
		if (mc_template_ensure(cfg->cache_dir, &ts, &t, &built, o.quiet, err, sizeof(err)) <
		    0) {
			fprintf(stderr, "microcosm up: template: %s\n", err);
			return 1;
		}
		snprintf(cfg->tpl_key, sizeof(cfg->tpl_key), "%s", t.key);
		snprintf(cfg->tpl_memory, sizeof(cfg->tpl_memory), "%s", t.memory);
		snprintf(cfg->tpl_state, sizeof(cfg->tpl_state), "%s", t.state);
		/* The stand-in kernel only matches a PVH (ELF) kernel's fw_cfg layout; a
		 * bzImage such as Debian's cloud kernel keeps its own. */
		if (mc_file_is_elf(cfg->kernel))
			snprintf(cfg->tpl_stub, sizeof(cfg->tpl_stub), "%s", t.stub_kernel);
	}
	if ((r = mc_mkdir_p(dir, 0700)) < 0) {
		fprintf(stderr, "microcosm up: create state dir %s: %s\n", dir, strerror(-r));
		return 1;
	}
	if (!o.quiet)
		fprintf(stderr,
		        "up: cluster '%s': %u guests, %llu MiB each, accel %s, kernel %s (%s)\n",
		        cfg->cluster, cfg->n, (unsigned long long)cfg->mem_mib, cfg->accel_why,
		        cfg->kernel_kind, cfg->kernel);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return 1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("microcosm up: fork");
		return 1;
	}
	if (pid == 0) {
		int fd;

		close(pipefd[0]);
		setsid();
		snprintf(path, sizeof(path), "%s/%s", dir, MC_CTL_LOG);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		{
			char buf[32];
			int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

			snprintf(path, sizeof(path), "%s/%s", dir, MC_CTL_PID);
			mc_write_file_atomic(path, buf, (size_t)len, 0644);
		}
		mc_log_setup(o.c.verbose ? MC_LOG_DEBUG : MC_LOG_INFO, stderr);
		mc_log_timestamps(1);
		_exit(o.hosts[0] ? mc_coord_run(cfg, &ho, pipefd[1])
		                 : mc_controller_run(cfg, pipefd[1]));
	}
	close(pipefd[1]);
	{
		char buf[700] = "";
		ssize_t got = read(pipefd[0], buf, sizeof(buf) - 1);

		close(pipefd[0]);
		if (got <= 0 || strncmp(buf, "ok", 2) != 0) {
			buf[got > 0 ? got : 0] = '\0';
			fprintf(stderr, "microcosm up: controller did not start: %s",
			        got > 0 ? buf + (strncmp(buf, "error: ", 7) ? 0 : 7)
			                : "it exited during setup\n");
			snprintf(path, sizeof(path), "%s/%s", dir, MC_CTL_LOG);
			if ((fp = fopen(path, "re"))) {
				char line[512];

				while (fgets(line, sizeof(line), fp))
					fprintf(stderr, "  | %s", line);
				fclose(fp);
			}
			kill(pid, SIGTERM);
			sleep(1);
			mc_cluster_cleanup_stale(&o.c);
			return 1;
		}
	}
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	signal(SIGHUP, on_sigint);
	notready = wait_ready(&o.c, o.quiet, &n);
	if (interrupted) {
		fprintf(stderr, "\nup: interrupted: tearing the cluster down\n");
		mc_down_cluster(&o.c, 0);
		return 130;
	}
	if (notready < 0) {
		if (mc_pid_alive(pid)) { /* alive but silent: its state is not stale */
			fprintf(stderr,
			        "microcosm up: the controller (pid %d) did not answer (see %s/%s); "
			        "'microcosm down%s%s' removes the cluster\n",
			        (int)pid, dir, MC_CTL_LOG,
			        strcmp(o.c.cluster, "default") ? " -c " : "",
			        strcmp(o.c.cluster, "default") ? o.c.cluster : "");
			return 1;
		}
		fprintf(stderr, "microcosm up: the controller went away (see %s/%s)\n", dir,
		        MC_CTL_LOG);
		mc_cluster_cleanup_stale(&o.c);
		return 1;
	}
	if (notready > 0)
		print_failures(&o.c);
	if (o.foreground) {
		fprintf(stderr, "up: cluster '%s' is up; Ctrl-C tears it down\n", o.c.cluster);
		while (!interrupted && mc_pid_alive(pid))
			usleep(200 * 1000);
		mc_down_cluster(&o.c, 0);
		return notready ? 1 : 0;
	}
	if (!o.quiet)
		fprintf(stderr,
		        "up: cluster '%s' is up (controller pid %d); 'microcosm down%s%s' "
		        "removes it\n",
		        o.c.cluster, (int)pid, strcmp(o.c.cluster, "default") ? " -c " : "",
		        strcmp(o.c.cluster, "default") ? o.c.cluster : "");
	return notready ? 1 : 0;
}
