/* cmd_net.c — `microcosm net KEY=VALUE…`: emulated links (latency, bandwidth, loss, topology)
 * on every guest of a running cluster, through mc-netem in the guests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "hosts.h"
#include "inject.h"
#include "topology.h"

const char mc_net_usage[] =
        "usage: microcosm net [-c NAME] [--state-dir DIR] [--clear] [KEY=VALUE...]\n"
        "Emulates the links between the guests of a running cluster: each guest shapes its\n"
        "own egress (netlink, in its kernel), so LATENCY is the one-way latency between two\n"
        "guests. Keys (as in experiment files):\n"
        "  latency=50us jitter=5us bandwidth=1Gbit loss=0.1% duplicate=0% corrupt=0%\n"
        "  topology.kind=flat|fat-tree topology.rack_size=16 topology.oversubscription=4\n"
        "  topology.kind=hosts: intra within a host, inter across hosts (docs/hosts.md)\n"
        "  topology.intra.latency=10us topology.inter.latency=100us (any link key)\n"
        "The controller's own traffic is never shaped. --clear removes the emulation.\n";

int cmd_net(int argc, char **argv)
{
	struct mc_exec_opts e;
	struct mc_topology t;
	json_t *guests;
	char err[512], nbuf[16], starts[MC_HOSTS_MAX * 8 + 32];
	char **xargv;
	int clear = 0, nk = 0, r;

	memset(&e, 0, sizeof(e));
	mc_cli_common_defaults(&e.c);
	xargv = calloc((size_t)argc + 8, sizeof(*xargv));
	if (!xargv)
		return 1;
	mc_topology_init(&t);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(mc_net_usage, stdout);
			free(xargv);
			return 0;
		} else if (!strcmp(argv[i], "--clear")) {
			clear = 1;
		} else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--cluster")) &&
		           i + 1 < argc) {
			if (mc_cli_set_cluster(&e.c, argv[++i], "net") < 0) {
				free(xargv);
				return 2;
			}
		} else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc) {
			if (mc_cli_set_state_dir(&e.c, argv[++i], "net") < 0) {
				free(xargv);
				return 2;
			}
		} else if (strchr(argv[i], '=') && argv[i][0] != '-') {
			char *kv = strdup(argv[i]), *eq = strchr(kv, '=');

			*eq = '\0';
			r = mc_topology_set(&t, kv, eq + 1, err, sizeof(err));
			free(kv);
			if (r < 0) {
				fprintf(stderr, "microcosm net: %s\n", err);
				free(xargv);
				return 2;
			}
			xargv[5 + nk++] = argv[i];
		} else {
			fprintf(stderr,
			        "microcosm net: '%s': want KEY=VALUE or an option (see --help)\n",
			        argv[i]);
			free(xargv);
			return 2;
		}
	}
	if (mc_topology_check(&t, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm net: %s\n", err);
		free(xargv);
		return 2;
	}
	if (!clear && nk == 0) {
		fprintf(stderr, "microcosm net: nothing to set (see --help)\n");
		free(xargv);
		return 2;
	}
	if (!(guests = mc_cluster_guests(&e.c, 30000, err, sizeof(err)))) {
		fprintf(stderr, "microcosm net: %s\n", err);
		free(xargv);
		return 1;
	}
	snprintf(nbuf, sizeof(nbuf), "%zu", json_array_size(guests));
	/* kind hosts: the racks are the hosts the guests are on. */
	if (!clear && t.by_hosts) {
		if (mc_hosts_rack_starts(guests, starts, sizeof(starts)) < 0) {
			fprintf(stderr, "microcosm net: too many hosts for topology kind hosts\n");
			json_decref(guests);
			free(xargv);
			return 2;
		}
		xargv[5 + nk++] = starts;
	}
	json_decref(guests);
	xargv[0] = "mc-netem";
	if (clear) {
		xargv[1] = "--clear";
		e.argc = 2;
	} else {
		xargv[1] = "--guests";
		xargv[2] = nbuf;
		/* keys were stored from index 5: close the gap */
		memmove(&xargv[3], &xargv[5], (size_t)nk * sizeof(*xargv));
		e.argc = 3 + nk;
	}
	e.argv = xargv;
	snprintf(e.target, sizeof(e.target), "all");
	e.timeout_ms = 60000;
	r = mc_exec_session(&e, 0);
	/* Kept for fault bursts, which add to these settings and restore them. */
	if (r == 0)
		mc_cluster_save_network(&e.c, clear ? NULL : &xargv[3], clear ? 0 : (int)nk);
	free(xargv);
	return r;
}
