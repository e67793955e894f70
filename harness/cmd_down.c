/* cmd_down.c — `microcosm down`: stop every guest and remove everything the cluster created. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "util.h"

int mc_down_cluster(const struct mc_common_opts *c, int quiet)
{
	char dir[PATH_MAX], err[512];
	struct mc_client *cl;
	json_t *m = NULL;
	int pid, rc = 0;
	int64_t t0 = mc_now_ms(), deadline;

	mc_cluster_dir(c, dir, sizeof(dir));
	if (access(dir, F_OK) < 0) {
		if (!quiet)
			fprintf(stderr, "down: no cluster '%s' is up\n", c->cluster);
		return 0;
	}
	pid = mc_cluster_pid(dir);
	cl = mc_client_connect(c, err, sizeof(err));
	if (cl) {
		if (!quiet)
			fprintf(stderr, "down: stopping cluster '%s'...\n", c->cluster);
		if (mc_client_send(cl, json_pack("{s:s}", "op", "down")) == 0) {
			for (;;) {
				const char *type;
				int r = mc_client_recv(cl, 120000, &m, NULL, NULL);

				if (r < 0)
					break;
				type = json_string_value(json_object_get(m, "type"));
				if (type && strcmp(type, "down") == 0)
					break;
				json_decref(m);
				m = NULL;
			}
		}
		json_decref(m);
		mc_client_destroy(&cl);
	}
	/* Wait for the controller to exit; it removes its state on the way out. */
	deadline = mc_now_ms() + 30000;
	while (mc_pid_alive(pid) && mc_now_ms() < deadline)
		usleep(100 * 1000);
	if (mc_pid_alive(pid)) {
		fprintf(stderr, "down: controller pid %d still running: sending SIGTERM\n", pid);
		kill(pid, SIGTERM);
		deadline = mc_now_ms() + 15000;
		while (mc_pid_alive(pid) && mc_now_ms() < deadline)
			usleep(100 * 1000);
		if (mc_pid_alive(pid)) {
			fprintf(stderr, "down: controller pid %d ignored SIGTERM: killed\n", pid);
			kill(pid, SIGKILL); /* its QEMUs die with it (parent-death signal) */
			rc = 1;
		}
	}
	mc_cluster_cleanup_stale(c);
	if (!quiet)
		fprintf(stderr, "down: cluster '%s' removed in %.1f s\n", c->cluster,
		        (double)(mc_now_ms() - t0) / 1000.0);
	return rc;
}

int cmd_down(int argc, char **argv)
{
	struct mc_simple_opts o;
	int r = mc_cli_parse_simple(argc, argv, &o, mc_down_usage);

	if (r)
		return r > 0 ? 0 : 2;
	if (geteuid() != 0) {
		fprintf(stderr, "microcosm down: must run as root\n");
		return 1;
	}
	if (o.force) {
		char dir[PATH_MAX];
		int pid;

		mc_cluster_dir(&o.c, dir, sizeof(dir));
		pid = mc_cluster_pid(dir);
		if (mc_pid_alive(pid)) {
			kill(pid, SIGTERM);
			for (int i = 0; i < 100 && mc_pid_alive(pid); i++)
				usleep(100 * 1000);
			if (mc_pid_alive(pid))
				kill(pid, SIGKILL);
		}
		mc_cluster_cleanup_stale(&o.c);
		fprintf(stderr, "down: cluster '%s' removed (forced)\n", o.c.cluster);
		return 0;
	}
	return mc_down_cluster(&o.c, 0);
}
