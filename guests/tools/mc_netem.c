/* mc_netem.c — `mc-netem`: link emulation inside a guest, on its own egress.
 *
 * The controller runs it on every guest (microcosm net, or an experiment's network
 * section) with the same settings; each guest works out its own classes from its
 * index (its hostname gNNNN) and the cluster size: a packet from A to B crosses one
 * netem, A's, chosen by B's address. Uses the harness's netlink code (netem.c,
 * topology.c), never tc.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "netem.h"
#include "topology.h"

static const char usage[] =
        "usage: mc-netem --guests N [--index I] [--dev IF] [KEY=VALUE...]\n"
        "       mc-netem --clear [--dev IF]\n"
        "Emulates this guest's links on its egress (one-way latency to each peer).\n"
        "  --guests N   guests in the cluster (for the topology's racks)\n"
        "  --index I    this guest's index (default: from the hostname gNNNN)\n"
        "  --dev IF     interface (default eth0)\n"
        "  --clear      remove the emulation\n"
        "  --show       print the plan instead of applying it\n"
        "KEY: latency jitter bandwidth loss duplicate corrupt topology.kind\n"
        "     topology.rack_size topology.oversubscription topology.intra.<link key>\n"
        "     topology.inter.<link key>   (values as in experiment files, e.g. 50us, 1Gbit,\n"
        "     0.1%, fat-tree)\n";

static int index_from_hostname(unsigned *idx)
{
	char h[64], *end;
	unsigned long v;

	if (gethostname(h, sizeof(h)) < 0 || h[0] != 'g')
		return -1;
	errno = 0;
	v = strtoul(h + 1, &end, 10);
	if (errno || *end || end == h + 1 || v >= MC_NET_MAX_GUESTS)
		return -1;
	*idx = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	        {"guests", required_argument, NULL, 'n'},
	        {"index", required_argument, NULL, 'i'},
	        {"dev", required_argument, NULL, 'd'},
	        {"clear", no_argument, NULL, 'C'},
	        {"show", no_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct mc_topology t;
	struct mc_topology_plan p;
	struct mc_netem *nl = NULL;
	const char *dev = "eth0";
	unsigned n = 0, idx = 0;
	int opt, clear = 0, show = 0, have_idx = 0, ifindex, rc = 1;
	char err[512], buf[512];

	mc_topology_init(&t);
	while ((opt = getopt_long(argc, argv, "+n:i:d:Csh", lo, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'n':
		case 'i': {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || v > MC_NET_MAX_GUESTS) {
				fprintf(stderr, "mc-netem: --%s '%s': not a number\n",
				        opt == 'n' ? "guests" : "index", optarg);
				return 2;
			}
			if (opt == 'n')
				n = (unsigned)v;
			else {
				idx = (unsigned)v;
				have_idx = 1;
			}
			break;
		}
		case 'd':
			dev = optarg;
			break;
		case 'C':
			clear = 1;
			break;
		case 's':
			show = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq) {
			fprintf(stderr, "mc-netem: '%s': want KEY=VALUE\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		if (mc_topology_set(&t, argv[i], eq + 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "mc-netem: %s\n", err);
			return 2;
		}
	}
	if (mc_topology_check(&t, err, sizeof(err)) < 0) {
		fprintf(stderr, "mc-netem: %s\n", err);
		return 2;
	}
	if (!clear && n == 0) {
		fprintf(stderr, "mc-netem: --guests N is required\n");
		return 2;
	}
	if (!clear && !have_idx && index_from_hostname(&idx) < 0) {
		fprintf(stderr, "mc-netem: hostname is not gNNNN: give --index\n");
		return 2;
	}
	ifindex = (int)if_nametoindex(dev);
	if (ifindex == 0) {
		fprintf(stderr, "mc-netem: interface %s: %s\n", dev, strerror(errno));
		return 1;
	}
	nl = mc_netem_new(err, sizeof(err));
	if (!nl) {
		fprintf(stderr, "mc-netem: %s\n", err);
		return 1;
	}
	mc_netem_match_dst(nl, 1);
	mc_topology_plan_init(&p);
	if (clear) {
		rc = mc_netem_clear(nl, ifindex, err, sizeof(err)) < 0;
	} else if (mc_topology_plan(&t, idx, n, &p, err, sizeof(err)) < 0) {
		rc = 1;
	} else if (show) {
		printf("guest %u of %u: other traffic %s\n", idx, n,
		       mc_link_format(&p.dflt, buf, sizeof(buf)));
		for (size_t c = 0; c < p.nclasses; c++)
			printf("  class %zu (%zu addresses): %s\n", c, p.classes[c].nsrc,
			       mc_link_format(&p.classes[c].link, buf, sizeof(buf)));
		rc = 0;
	} else {
		rc = mc_netem_apply(nl, ifindex, &p.dflt, p.classes, p.nclasses, err, sizeof(err)) <
		     0;
		if (!rc)
			printf("%s: %s\n", dev, mc_topology_format(&t, buf, sizeof(buf)));
	}
	if (rc)
		fprintf(stderr, "mc-netem: %s\n", err);
	mc_topology_plan_fini(&p);
	mc_netem_destroy(&nl);
	return rc;
}
