/* cmd_daemon.c — `microcosm daemon` (microcosmd): one per host of a cluster across many hosts.
 * Started by the cluster controller through srun or Hydra; says hello over ZeroMQ, gets its
 * guests and the overlay plan, and runs a controller for them whose uplink is the cluster
 * controller (docs/hosts.md). A watchdog process removes what it made on the host if it dies
 * without doing so itself. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "commands.h"
#include "controller.h"
#include "hosts.h"
#include "log.h"
#include "net.h"
#include "util.h"

const char mc_daemon_usage[] =
        "usage: microcosm daemon --controller tcp://ADDR:PORT [--name HOST] [-v]\n"
        "       microcosmd …\n"
        "The host daemon of a cluster across many hosts: started on every host by the\n"
        "cluster controller (`microcosm up --hosts`) through srun or Hydra's mpiexec, not\n"
        "by hand. Connects to the controller, receives its guests and the overlay plan,\n"
        "runs and reports them, and removes everything it made on this host when the\n"
        "cluster goes down, when the controller is silent for the heartbeat timeout, or\n"
        "(through a watchdog) when it is killed.\n"
        "  --controller EP  the cluster controller's endpoint for host daemons\n"
        "  --name HOST      this host's name (default: its network namespace's name under\n"
        "                   /run/netns, else the host name)\n"
        "  -v, --verbose    debug logging\n"
        "  -h, --help       this text\n"
        "Exit status: 0 the cluster went down, 1 an error.\n";

/* Forked first, before any thread: learns the daemon's namespace name and state directory
 * ("NETNS\tDIR\n" on rfd), waits for the daemon (our parent) to go (end of file), then
 * removes both if it left them (it was killed). Never returns. */
__attribute__((noreturn)) static void watchdog(int rfd)
{
	char buf[PATH_MAX + 160], *netns = buf, *dir = NULL, *nl;
	size_t len = 0;
	ssize_t got;

	setsid(); /* out of the launcher's process group: it outlives the daemon */
	prctl(PR_SET_NAME, "microcosmd-wd");
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	while (len < sizeof(buf) - 1 && ((got = read(rfd, buf + len, sizeof(buf) - 1 - len)) > 0 ||
	                                 (got < 0 && errno == EINTR)))
		len += got > 0 ? (size_t)got : 0;
	buf[len] = '\0';
	if (!(nl = strchr(buf, '\n')) || !(dir = strchr(buf, '\t')) || dir > nl)
		_exit(0); /* the daemon ended before it made anything */
	*dir++ = '\0';
	*nl = '\0';
	if (access(dir, F_OK) == 0) {
		fprintf(stderr, "microcosmd: the daemon is gone: removing %s and its namespace\n",
		        dir);
		mc_net_forget_ns(netns);
		mc_rm_rf(dir);
	}
	_exit(0);
}

/* The host part of "tcp://ADDR:PORT" as an address. */
static int endpoint_addr(const char *ep, uint32_t *addr)
{
	unsigned a, b, c, d, port;

	if (sscanf(ep, "tcp://%u.%u.%u.%u:%u", &a, &b, &c, &d, &port) != 5 || a > 255 || b > 255 ||
	    c > 255 || d > 255 || port == 0 || port > 65535)
		return -1;
	*addr = a << 24 | b << 16 | c << 8 | d;
	return 0;
}

static void send_ctl(void *up, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (!s)
		return;
	zmq_send(up, "", 0, ZMQ_SNDMORE);
	zmq_send(up, s, strlen(s), 0);
	free(s);
}

/* Waits for the start message: its JSON and the configuration frame. */
static int wait_start(void *up, int timeout_ms, json_t **msg, struct mc_ctl_config *cfg, char *err,
                      size_t errlen)
{
	int64_t end = mc_now_ms() + timeout_ms;

	while (mc_now_ms() < end) {
		zmq_pollitem_t it = {.socket = up, .events = ZMQ_POLLIN};
		char first[8], body[1 << 16];
		int n, m, more = 0, k;
		size_t ml = sizeof(more);
		json_t *j;
		const char *type;

		if (zmq_poll(&it, 1, 500) <= 0)
			continue;
		n = zmq_recv(up, first, sizeof(first), 0);
		m = zmq_recv(up, body, sizeof(body) - 1, 0);
		k = -1;
		if (zmq_getsockopt(up, ZMQ_RCVMORE, &more, &ml) == 0 && more)
			k = zmq_recv(up, cfg, sizeof(*cfg), 0);
		while (zmq_getsockopt(up, ZMQ_RCVMORE, &more, &ml) == 0 && more)
			zmq_recv(up, first, sizeof(first), 0);
		if (n != 0 || m < 0 || m >= (int)sizeof(body))
			continue;
		body[m] = '\0';
		j = json_loads(body, 0, NULL);
		type = json_string_value(json_object_get(j, "type"));
		if (type && strcmp(type, "down") == 0) {
			snprintf(err, errlen, "the cluster controller gave up before the start");
			json_decref(j);
			return -1;
		}
		if (type && strcmp(type, "start") == 0) {
			if (k != (int)sizeof(*cfg)) {
				snprintf(err, errlen,
				         "the start message's configuration has %d bytes, this "
				         "microcosm expects %zu: another version of microcosm?",
				         k, sizeof(*cfg));
				json_decref(j);
				return -1;
			}
			*msg = j;
			return 0;
		}
		json_decref(j);
	}
	snprintf(err, errlen, "no start message within %d s", timeout_ms / 1000);
	return -1;
}

int cmd_daemon(int argc, char **argv)
{
	static const struct option lo[] = {{"controller", required_argument, 0, 'c'},
	                                   {"name", required_argument, 0, 'n'},
	                                   {"verbose", no_argument, 0, 'v'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	char ep[256] = "", name[64] = "", err[600], id[128], ip[16];
	struct mc_ctl_config *cfg = calloc(1, sizeof(*cfg));
	struct mc_overlay *ov = calloc(1, sizeof(*ov));
	json_t *start = NULL;
	void *zctx = NULL, *up = NULL;
	uint32_t caddr, local;
	int opt, rc = 1, pfd[2] = {-1, -1}, zero = 0, verbose = 0;
	const char *state_root, *cluster;
	json_int_t hi, first, n;

	if (!cfg || !ov)
		return 1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			snprintf(ep, sizeof(ep), "%s", optarg);
			break;
		case 'n':
			snprintf(name, sizeof(name), "%s", optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			fputs(mc_daemon_usage, stdout);
			rc = 0;
			goto out;
		default:
			fputs(mc_daemon_usage, stderr);
			rc = 2;
			goto out;
		}
	}
	mc_log_setup(verbose ? MC_LOG_DEBUG : MC_LOG_INFO, stderr);
	mc_log_timestamps(1);
	if (!ep[0] || endpoint_addr(ep, &caddr) < 0) {
		fprintf(stderr, "microcosmd: --controller tcp://ADDR:PORT is required (got '%s')\n",
		        ep);
		rc = 2;
		goto out;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "microcosmd: must run as root (network namespace, taps, VXLAN)\n");
		goto out;
	}
	if (!name[0] && mc_net_ns_name(name, sizeof(name)) < 0 &&
	    gethostname(name, sizeof(name) - 1) < 0)
		snprintf(name, sizeof(name), "host");
	for (char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			*p = *p == '.' ? '\0' : '-'; /* a short host name, safe in paths */
	/* The watchdog before any thread (ZeroMQ's): a fork of a threaded process may not even
	 * allocate. It hears what to clean up once the daemon knows. */
	if (pipe2(pfd, O_CLOEXEC) == 0) {
		pid_t w = fork();

		if (w == 0) {
			close(pfd[1]);
			watchdog(pfd[0]);
		}
		close(pfd[0]); /* pfd[1] stays open until this process ends */
		if (w < 0) {
			close(pfd[1]);
			pfd[1] = -1;
		}
	}
	if (mc_net_source_for(caddr, &local) < 0) {
		fprintf(stderr, "microcosmd %s: no route to the cluster controller at %s\n", name,
		        ep);
		goto out;
	}
	/* The uplink's context starts its I/O threads here, in the host's own namespace: the
	 * controller's (made later inside the fleet namespace) cannot reach the underlay. */
	zctx = zmq_ctx_new();
	up = zctx ? zmq_socket(zctx, ZMQ_DEALER) : NULL;
	if (!up) {
		fprintf(stderr, "microcosmd %s: zmq: %s\n", name, zmq_strerror(zmq_errno()));
		goto out;
	}
	snprintf(id, sizeof(id), "%s/%d", name, (int)getpid());
	zmq_setsockopt(up, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(up, ZMQ_SNDHWM, &zero, sizeof(zero));
	zmq_setsockopt(up, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(up, ep) < 0) {
		fprintf(stderr, "microcosmd %s: connect %s: %s\n", name, ep,
		        zmq_strerror(zmq_errno()));
		goto out;
	}
	send_ctl(up, json_pack("{s:s, s:s, s:s, s:i, s:I, s:i, s:s}", "type", "hello", "host", name,
	                       "underlay", mc_net_ntoa(local, ip), "pid", (int)getpid(),
	                       "mem_avail_mib", (json_int_t)mc_host_mem_available_mib(), "cpus",
	                       mc_host_ncpus(), "version", MC_VERSION));
	mc_info("microcosmd %s: hello sent to %s (underlay %s)", name, ep, ip);
	if (wait_start(up, 300000, &start, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosmd %s: %s\n", name, err);
		goto out;
	}
	hi = json_integer_value(json_object_get(start, "host_index"));
	first = json_integer_value(json_object_get(start, "first"));
	n = json_integer_value(json_object_get(start, "n"));
	state_root = json_string_value(json_object_get(start, "state_root"));
	cluster = json_string_value(json_object_get(start, "cluster"));
	if (!state_root || !cluster || hi < 0 || hi >= MC_HOSTS_MAX || first < 0 || n < 0 ||
	    first + n > MC_NET_MAX_GUESTS ||
	    json_integer_value(json_object_get(start, "vni")) < 1 ||
	    json_integer_value(json_object_get(start, "vni")) > 0xffffff ||
	    mc_hosts_from_json(json_object_get(start, "hosts"), ov->hosts, &ov->nhosts) < 0 ||
	    endpoint_addr(ep, &ov->ctl_underlay) < 0) {
		send_ctl(up, json_pack("{s:s, s:s}", "type", "error", "error",
		                       "malformed start message"));
		fprintf(stderr, "microcosmd %s: malformed start message\n", name);
		goto out;
	}
	/* The configuration is the cluster controller's, made for this host. */
	cfg->host_index = (int)hi;
	cfg->first = (unsigned)first;
	cfg->cluster_n = cfg->n; /* the cluster controller's configuration: the whole cluster */
	cfg->n = (unsigned)n;
	cfg->uplink = up;
	cfg->up_timeout_ms = cfg->hb_timeout_ms > 10000 ? cfg->hb_timeout_ms : 10000;
	cfg->events[0] = '\0';
	snprintf(cfg->dir, sizeof(cfg->dir), "%s/%s/%s/%s", state_root, cluster, MC_HOSTS_SUBDIR,
	         name);
	snprintf(cfg->netns, sizeof(cfg->netns), "microcosm-%s-%s", cluster, name);
	ov->host_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ov->local = local;
	ov->self = mc_net_overlay_host((unsigned)hi);
	ov->self_host = (int)hi;
	ov->vni = (uint32_t)json_integer_value(json_object_get(start, "vni"));
	cfg->in_ns = mc_overlay_setup;
	cfg->in_ns_arg = ov;
	/* What the guests boot from must be here too (a shared or identical cache). */
	{
		const char *need[] = {cfg->kernel, cfg->initrd, cfg->base_image,
		                      cfg->clone ? cfg->tpl_memory : NULL,
		                      cfg->clone ? cfg->tpl_state : NULL};

		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
			if (need[i] && need[i][0] && access(need[i], R_OK) < 0) {
				snprintf(err, sizeof(err),
				         "%s: %s (every host needs the same guest assets: "
				         "MC_CACHE_DIR on a shared filesystem, or the same build)",
				         need[i], strerror(errno));
				send_ctl(up,
				         json_pack("{s:s, s:s}", "type", "error", "error", err));
				fprintf(stderr, "microcosmd %s: %s\n", name, err);
				goto out;
			}
	}
	mc_rm_rf(cfg->dir); /* a killed daemon's leftovers of the same cluster */
	mc_net_forget_ns(cfg->netns);
	if (ov->host_ns_fd < 0 || mc_mkdir_p(cfg->dir, 0700) < 0) {
		snprintf(err, sizeof(err), "state directory %s: %s", cfg->dir, strerror(errno));
		send_ctl(up, json_pack("{s:s, s:s}", "type", "error", "error", err));
		fprintf(stderr, "microcosmd %s: %s\n", name, err);
		goto out;
	}
	if (pfd[1] >= 0) {
		char line[PATH_MAX + 160];
		int l = snprintf(line, sizeof(line), "%s\t%s\n", cfg->netns, cfg->dir);

		if (write(pfd[1], line, (size_t)l) != l)
			mc_warn("microcosmd %s: the watchdog did not take its orders", name);
	}
	mc_info("microcosmd %s: host %d: guests %lld..%lld, state %s", name, (int)hi,
	        (long long)first, (long long)(first + n - 1), cfg->dir);
	rc = mc_controller_run(cfg, -1); /* removes cfg->dir */
	{ /* and the folders above it, when nothing else is in them (another host's host) */
		char parent[PATH_MAX];
		char *slash;

		snprintf(parent, sizeof(parent), "%s", cfg->dir);
		for (int up_levels = 0; up_levels < 2 && (slash = strrchr(parent, '/'));
		     up_levels++) {
			*slash = '\0';
			if (rmdir(parent) < 0)
				break;
		}
	}
	send_ctl(up, json_pack("{s:s, s:i}", "type", "bye", "status", rc));
	{
		int linger = 2000;

		zmq_setsockopt(up, ZMQ_LINGER, &linger, sizeof(linger));
	}
out:
	json_decref(start);
	if (up)
		zmq_close(up);
	if (zctx)
		zmq_ctx_term(zctx);
	if (ov->host_ns_fd > 0)
		close(ov->host_ns_fd);
	free(cfg);
	free(ov);
	return rc;
}
