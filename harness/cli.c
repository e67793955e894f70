/* cli.c — option parsing for every verb, usage texts, and guest target sets. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

const char mc_up_usage[] =
        "usage: microcosm up -n N [options]\n"
        "Starts a cluster of N guests and returns when every guest is ready.\n"
        "  -n, --guests N         number of guests (required, 1..65000)\n"
        "  -m, --memory SIZE      RAM per guest, e.g. 128M, 1G (default 128M)\n"
        "      --vcpus K          vCPUs per guest (default 1)\n"
        "      --accel A          auto | kvm | tcg (default auto: KVM only if a probe boot works)\n"
        "      --kernel K         project | cloud | PATH: the project kernel, Debian's cloud "
        "kernel,\n"
        "                         or a kernel image of your own (booted like the project's)\n"
        "      --spawn MODE       clone (default: from a booted template) | boot (cold boot each)\n"
        "      --image IMAGE      base disk: a name from 'microcosm image ls' or a qcow2 path\n"
        "                         (default: the built base disk)\n"
        "      --share DIR        host directory shared read-only into every guest at /share\n"
        "                         (virtio-9p; /share/bin on PATH, /share/lib on the library path)\n"
        "      --events FILE      append every guest state change to FILE, one JSON line each\n"
        "                         (default: events.jsonl in the cluster's state directory)\n"
        "      --density          QEMU without ASLR and with KSM merging: less memory per guest,\n"
        "                         weaker isolation between guests (see docs/density.md)\n"
        "      --parallel P       guests starting at once (default 2 x CPUs boot, 8 x CPUs clone)\n"
        "      --boot-timeout T   per-guest boot deadline, e.g. 120s (default 180s)\n"
        "      --heartbeat T      agent heartbeat period (default 1s up to 100 guests, then\n"
        "                         10 ms per guest, at most 30s)\n"
        "      --hb-timeout T     silence that marks a guest failed (default 3 x heartbeat,\n"
        "                         at least 10s; held while the host CPU is saturated)\n"
        "      --tb-size MIB      TCG translation buffer per guest (default 8 clone, 16 boot)\n"
        "      --foreground       keep the controller in this process (Ctrl-C tears down)\n"
        "      --hosts FILE|slurm spread the guests over many hosts, one host daemon each\n"
        "                         (docs/hosts.md): FILE is a Hydra host file (mpiexec -f);\n"
        "                         slurm: the nodes of this Slurm allocation (srun). Default:\n"
        "                         slurm inside a Slurm allocation of 2 or more nodes, else\n"
        "                         this host alone\n"
        "      --launcher-exec P  with a host FILE: Hydra's -launcher-exec (an rsh-like\n"
        "                         program: P HOST COMMAND...), e.g. for namespace hosts\n"
        "      --listen ADDR      this host's address the host daemons connect to (default:\n"
        "                         the host name's address, else the default route's source)\n"
        "  -q, --quiet            no progress line\n"
        "  -c, --cluster NAME     cluster name (default $MC_CLUSTER or 'default')\n"
        "      --state-dir DIR    state root (default $MC_STATE_DIR or /run/microcosm)\n"
        "  -h, --help             this text\n";

const char mc_exec_usage[] =
        "usage: microcosm exec [options] TARGET -- COMMAND [ARG...]\n"
        "Runs COMMAND on every guest of TARGET and prints each guest's output.\n"
        "TARGET: all | NAME | NAME-NAME | INDEX | INDEX-INDEX, comma-separated (g0001-g0004,7)\n"
        "  -t, --timeout T        kill the command after T (e.g. 30s, 500ms; default none)\n"
        "  -e, --env K=V          extra environment variable (repeatable)\n"
        "  -C, --cwd DIR          working directory in the guest (default /)\n"
        "      --table            print one row per guest: guest, state, boot ms, exit, output\n"
        "      --json             print one JSON object per output chunk and exit\n"
        "  -c, --cluster NAME     cluster name\n"
        "      --state-dir DIR    state root\n"
        "  -h, --help             this text\n"
        "Exit status: 0 when every guest's command exited 0, 1 otherwise.\n";

const char mc_rsh_usage[] =
        "usage: microcosm rsh [-c NAME] [--state-dir DIR] HOST COMMAND [ARG...]\n"
        "Runs a shell command on one guest, the way ssh does: the words are joined with\n"
        "spaces and run by sh -c, output passes through unchanged, the exit status is the\n"
        "command's (255 when it could not run). HOST: guest name, index or address.\n"
        "MPI launchers use it (mpirun runs it as Hydra's launcher, named mc-rsh);\n"
        "SIGINT/SIGTERM/SIGHUP are forwarded to the command.\n";

const char mc_mpirun_usage[] =
        "usage: microcosm mpirun [options] -- PROGRAM [ARG...]\n"
        "Runs an MPI program across the ready guests with MPICH's Hydra (mpiexec on the\n"
        "host, guests reached through the agent instead of ssh). PROGRAM is looked up on\n"
        "the guests' PATH (the workloads: mc-ring, mc-allreduce, mc-halo, mc-io) or is a\n"
        "path in the guest.\n"
        "  -n, --ranks N          MPI ranks (default: selected guests x ppn)\n"
        "      --ppn K            ranks per guest (default 1)\n"
        "      --hosts TARGET     guests to use, in index order (default: all ready)\n"
        "  -t, --timeout T        kill the job after T (e.g. 10m; default none)\n"
        "  -C, --wdir DIR         ranks' working directory in the guests (default /data,\n"
        "                         each guest's own disk)\n"
        "  -e, --env K=V          environment variable for every rank (repeatable)\n"
        "      --mpiexec-arg A    extra argument for mpiexec (repeatable)\n"
        "  -c, --cluster NAME     cluster name\n"
        "      --state-dir DIR    state root\n"
        "  -h, --help             this text\n"
        "Exit status: mpiexec's (0 when every rank exited 0). A failed rank or guest is\n"
        "named on stderr.\n";

const char mc_ls_usage[] = "usage: microcosm ls [--json] [-c NAME] [--state-dir DIR]\n"
                           "Lists the guests of a running cluster with their state.\n";

const char mc_down_usage[] =
        "usage: microcosm down [--force] [-c NAME] [--state-dir DIR]\n"
        "Stops every guest and removes everything the cluster created (processes, taps,\n"
        "overlays, sockets, state files). --force cleans up after a controller that died.\n";

const char mc_pause_usage[] = "usage: microcosm pause TARGET [-c NAME] [--state-dir DIR]\n"
                              "Stops the vCPUs of the guests in TARGET (QMP stop).\n";

const char mc_migrate_usage[] =
        "usage: microcosm migrate TARGET [--live | --stop] [--to HOST] [--json] [-c NAME]\n"
        "                        [--state-dir DIR]\n"
        "Live-migrates each guest in TARGET to a new QEMU process with QEMU's own migration:\n"
        "the guest keeps running, its name, disk overlay, address and agent link; its\n"
        "commands (an MPI job) go on. Prints per guest the total migration time, the\n"
        "downtime (vCPUs stopped) and what was sent.\n"
        "  --to HOST   destination host (a name from `microcosm ls` on a cluster across\n"
        "              hosts): the guest moves to a new QEMU there, its disk overlay\n"
        "              mirrored over NBD and its RAM sent over TCP; on one host only this\n"
        "              host (its name, localhost), as without --to\n"
        "  --live      pre-copy: memory is sent while the guest runs, then what it changed\n"
        "              (downtime: the last pass only). The default under KVM.\n"
        "  --stop      stop-and-copy: stop the guest first, then send its memory once\n"
        "              (downtime: the whole transfer). The default under TCG: there, busy\n"
        "              guests migrated with pre-copy sometimes lost writes (a kernel oops\n"
        "              after 4 of ~58 such migrations in bench/migrate.sh; none of 50 with\n"
        "              stop-and-copy); idle guests were never affected.\n"
        "  --json      one JSON object per guest instead of the table\n"
        "Refused for guests that are not ready or busy, have a fault in force or are\n"
        "already migrating, and in clusters started with --share (QEMU cannot migrate a\n"
        "mounted virtio-9p export). Exit status: 0 all migrated, 1 any failed, 2 bad usage.\n";

const char mc_checkpoint_usage[] =
        "usage: microcosm checkpoint TARGET [--dir DIR] [--json] [-c NAME] [--state-dir DIR]\n"
        "Saves each guest in TARGET whole: its vCPUs stop, QEMU writes the machine state to\n"
        "DIR/<guest>/state, the disk overlay is copied to DIR/<guest>/disk.qcow2, and the\n"
        "guest runs on. The reactive baseline to live migration (microcosm migrate).\n"
        "  --dir DIR   where checkpoints go (default <state>/<cluster>/checkpoints, removed\n"
        "              by down); a later checkpoint of a guest replaces its earlier one\n"
        "  --json      one JSON object per guest instead of the table\n"
        "Exit status: 0 all saved, 1 any failed, 2 bad usage.\n";

const char mc_restore_usage[] =
        "usage: microcosm restore TARGET [--dir DIR] [--json] [-c NAME] [--state-dir DIR]\n"
        "Brings each guest in TARGET back to its checkpoint (microcosm checkpoint): its QEMU,\n"
        "if it still runs, is killed; a new one starts with the checkpoint's disk and loads\n"
        "its state; the guest is ready again once its agent has reconnected (a few\n"
        "seconds). Works on failed guests too. Commands running on it end.\n"
        "  --dir DIR   where the checkpoints are (default as for checkpoint)\n"
        "  --json      one JSON object per guest instead of the table\n"
        "Exit status: 0 all restored, 1 any failed, 2 bad usage.\n";

const char mc_resume_usage[] = "usage: microcosm resume TARGET [-c NAME] [--state-dir DIR]\n"
                               "Continues paused guests in TARGET (QMP cont).\n";

enum {
	OPT_STATE_DIR = 1000,
	OPT_VCPUS,
	OPT_ACCEL,
	OPT_KERNEL,
	OPT_PARALLEL,
	OPT_BOOT_TIMEOUT,
	OPT_HEARTBEAT,
	OPT_HB_TIMEOUT,
	OPT_TB,
	OPT_FOREGROUND,
	OPT_TABLE,
	OPT_JSON,
	OPT_TO,
	OPT_DIR,
	OPT_STOP,
	OPT_LIVE,
	OPT_FORCE,
	OPT_SPAWN,
	OPT_DENSITY,
	OPT_SHARE,
	OPT_IMAGE,
	OPT_EVENTS,
	OPT_UP_HOSTS,
	OPT_LAUNCHER_EXEC,
	OPT_LISTEN,
};

void mc_cli_common_defaults(struct mc_common_opts *c)
{
	const char *s;

	memset(c, 0, sizeof(*c));
	s = getenv("MC_CLUSTER");
	snprintf(c->cluster, sizeof(c->cluster), "%s", s && *s ? s : "default");
	s = getenv("MC_STATE_DIR");
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", s && *s ? s : "/run/microcosm");
}

static int valid_cluster(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

int mc_cli_set_cluster(struct mc_common_opts *c, const char *arg, const char *verb)
{
	if (!valid_cluster(arg)) {
		fprintf(stderr,
		        "microcosm %s: --cluster '%s': use 1-32 letters, digits, '-' or '_'\n",
		        verb, arg);
		return -EINVAL;
	}
	snprintf(c->cluster, sizeof(c->cluster), "%s", arg);
	return 0;
}

int mc_cli_set_state_dir(struct mc_common_opts *c, const char *arg, const char *verb)
{
	if (arg[0] != '/') {
		fprintf(stderr, "microcosm %s: --state-dir '%s': must be an absolute path\n", verb,
		        arg);
		return -EINVAL;
	}
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", arg);
	return 0;
}

/* Handles options common to every verb; returns 1 if handled, -EINVAL on error. */
static int common_opt(struct mc_common_opts *c, int opt, const char *arg, const char *verb)
{
	switch (opt) {
	case 'c':
		return mc_cli_set_cluster(c, arg, verb) < 0 ? -EINVAL : 1;
	case OPT_STATE_DIR:
		return mc_cli_set_state_dir(c, arg, verb) < 0 ? -EINVAL : 1;
	case 'v':
		c->verbose++;
		return 1;
	}
	return 0;
}

/*
 * The index of the "--" that ends a verb's options (everything after it is a
 * command, never options). Without one: 1 after printing usage when -h/--help
 * is there, else -EINVAL with a message naming what the "--" must precede.
 */
static int find_dashdash(int argc, char **argv, const char *verb, const char *usage,
                         const char *what)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return -1;
		}
	fprintf(stderr, "microcosm %s: missing '--' before the %s (see microcosm %s --help)\n",
	        verb, what, verb);
	return -EINVAL;
}

static int bad(const char *verb, const char *opt, const char *arg, const char *want)
{
	fprintf(stderr, "microcosm %s: %s '%s': %s\n", verb, opt, arg, want);
	return -EINVAL;
}

#define COMMON_LONGOPTS                                                                            \
	{"cluster", required_argument, NULL, 'c'},                                                 \
	        {"state-dir", required_argument, NULL, OPT_STATE_DIR},                             \
	        {"verbose", no_argument, NULL, 'v'},                                               \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

int mc_cli_parse_up(int argc, char **argv, struct mc_up_opts *o)
{
	static const struct option lo[] = {
	        {"guests", required_argument, NULL, 'n'},
	        {"memory", required_argument, NULL, 'm'},
	        {"vcpus", required_argument, NULL, OPT_VCPUS},
	        {"accel", required_argument, NULL, OPT_ACCEL},
	        {"kernel", required_argument, NULL, OPT_KERNEL},
	        {"parallel", required_argument, NULL, OPT_PARALLEL},
	        {"boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT},
	        {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
	        {"hb-timeout", required_argument, NULL, OPT_HB_TIMEOUT},
	        {"tb-size", required_argument, NULL, OPT_TB},
	        {"foreground", no_argument, NULL, OPT_FOREGROUND},
	        {"spawn", required_argument, NULL, OPT_SPAWN},
	        {"density", no_argument, NULL, OPT_DENSITY},
	        {"share", required_argument, NULL, OPT_SHARE},
	        {"image", required_argument, NULL, OPT_IMAGE},
	        {"events", required_argument, NULL, OPT_EVENTS},
	        {"hosts", required_argument, NULL, OPT_UP_HOSTS},
	        {"launcher-exec", required_argument, NULL, OPT_LAUNCHER_EXEC},
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"quiet", no_argument, NULL, 'q'},
	        COMMON_LONGOPTS,
	        {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int opt, r, have_n = 0;

	memset(o, 0, sizeof(*o));
	mc_cli_common_defaults(&o->c);
	o->mem_mib = 128;
	o->vcpus = 1;
	snprintf(o->accel, sizeof(o->accel), "auto");
	snprintf(o->kernel, sizeof(o->kernel), "project");
	o->boot_timeout_ms = 180000;
	o->hb_ms = 0; /* chosen from N after parsing */
	o->clone = 1;
	o->tb_mib = 0; /* chosen by spawn mode after parsing */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:m:c:vqh", lo, NULL)) != -1) {
		if ((r = common_opt(&o->c, opt, optarg, "up")) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		switch (opt) {
		case 'h':
			fputs(mc_up_usage, stdout);
			return 1;
		case 'n':
			if (mc_parse_u64(optarg, 1, 65000, &v))
				return bad("up", "-n", optarg, "want a number of guests, 1..65000");
			o->n = (unsigned)v;
			have_n = 1;
			break;
		case 'm':
			if (mc_parse_mib(optarg, &v) || v < 32 || v > 65536)
				return bad("up", "--memory", optarg,
				           "want a size 32M..64G, e.g. 128M");
			o->mem_mib = v;
			break;
		case OPT_VCPUS:
			if (mc_parse_u64(optarg, 1, 64, &v))
				return bad("up", "--vcpus", optarg, "want 1..64");
			o->vcpus = (unsigned)v;
			break;
		case OPT_ACCEL:
			if (strcmp(optarg, "auto") && strcmp(optarg, "kvm") &&
			    strcmp(optarg, "tcg"))
				return bad("up", "--accel", optarg, "want auto, kvm or tcg");
			snprintf(o->accel, sizeof(o->accel), "%s", optarg);
			break;
		case OPT_KERNEL:
			if (strchr(optarg, '/')) {
				if (!realpath(optarg, o->kernel) || access(o->kernel, R_OK) < 0)
					return bad("up", "--kernel", optarg, strerror(errno));
				break;
			}
			if (strcmp(optarg, "project") && strcmp(optarg, "cloud"))
				return bad("up", "--kernel", optarg,
				           "want project, cloud or a kernel image path");
			snprintf(o->kernel, sizeof(o->kernel), "%s", optarg);
			break;
		case OPT_PARALLEL:
			if (mc_parse_u64(optarg, 1, 4096, &v))
				return bad("up", "--parallel", optarg, "want 1..4096");
			o->parallel = (unsigned)v;
			break;
		case OPT_BOOT_TIMEOUT:
			if (mc_parse_duration_ms(optarg, &v) || v < 1000)
				return bad("up", "--boot-timeout", optarg, "want a duration >= 1s");
			o->boot_timeout_ms = v;
			break;
		case OPT_HEARTBEAT:
			if (mc_parse_duration_ms(optarg, &v) || v < 50 || v > 600000)
				return bad("up", "--heartbeat", optarg, "want 50ms..10m");
			o->hb_ms = v;
			break;
		case OPT_HB_TIMEOUT:
			if (mc_parse_duration_ms(optarg, &v) || v < 100)
				return bad("up", "--hb-timeout", optarg,
				           "want a duration >= 100ms");
			o->hb_timeout_ms = v;
			break;
		case OPT_TB:
			if (mc_parse_u64(optarg, 4, 2048, &v))
				return bad("up", "--tb-size", optarg, "want 4..2048 (MiB)");
			o->tb_mib = (unsigned)v;
			break;
		case OPT_FOREGROUND:
			o->foreground = 1;
			break;
		case OPT_SPAWN:
			if (strcmp(optarg, "clone") && strcmp(optarg, "boot"))
				return bad("up", "--spawn", optarg, "want clone or boot");
			o->clone = strcmp(optarg, "clone") == 0;
			break;
		case OPT_DENSITY:
			o->density = 1;
			break;
		case OPT_SHARE: {
			struct stat st;

			if (!realpath(optarg, o->share) || stat(o->share, &st) < 0)
				return bad("up", "--share", optarg, strerror(errno));
			if (!S_ISDIR(st.st_mode))
				return bad("up", "--share", optarg, "not a directory");
			if (access(o->share, R_OK | X_OK) < 0)
				return bad("up", "--share", optarg, "not readable");
			break;
		}
		case OPT_IMAGE:
			if (!optarg[0] || strlen(optarg) >= sizeof(o->image))
				return bad("up", "--image", optarg, "want an image name or a path");
			snprintf(o->image, sizeof(o->image), "%s", optarg);
			break;
		case OPT_EVENTS: {
			/* Made absolute: the controller runs from another directory. */
			const char *base = strrchr(optarg, '/') ? strrchr(optarg, '/') + 1 : optarg;
			char dir[PATH_MAX];

			snprintf(dir, sizeof(dir), "%.*s", (int)(base - optarg), optarg);
			if (!dir[0])
				snprintf(dir, sizeof(dir), ".");
			if (!base[0] || !strcmp(base, ".") || !strcmp(base, "..") ||
			    !realpath(dir, o->events))
				return bad("up", "--events", optarg,
				           "want a file in an existing folder");
			if (strlen(o->events) + strlen(base) + 2 > sizeof(o->events))
				return bad("up", "--events", optarg, "path too long");
			strcat(o->events, strcmp(o->events, "/") ? "/" : "");
			strcat(o->events, base);
			break;
		}
		case OPT_UP_HOSTS:
			if (strcmp(optarg, "slurm") == 0) {
				snprintf(o->hosts, sizeof(o->hosts), "slurm");
			} else if (!realpath(optarg, o->hosts) || access(o->hosts, R_OK) < 0) {
				return bad("up", "--hosts", optarg,
				           "want 'slurm' or a readable host file");
			}
			break;
		case OPT_LAUNCHER_EXEC:
			if (!realpath(optarg, o->launcher_exec) ||
			    access(o->launcher_exec, X_OK) < 0)
				return bad("up", "--launcher-exec", optarg, "want an executable");
			break;
		case OPT_LISTEN: {
			unsigned a, b, c, d;
			char extra;

			if (sscanf(optarg, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4 ||
			    a > 255 || b > 255 || c > 255 || d > 255)
				return bad("up", "--listen", optarg, "want an IPv4 address");
			snprintf(o->listen, sizeof(o->listen), "%s", optarg);
			break;
		}
		case 'q':
			o->quiet = 1;
			break;
		case ':':
			fprintf(stderr, "microcosm up: %s needs a value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr,
			        "microcosm up: unknown option '%s' (see microcosm up --help)\n",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "microcosm up: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!have_n) {
		fprintf(stderr, "microcosm up: -n N is required (see microcosm up --help)\n");
		return -EINVAL;
	}
	/* Inside a Slurm allocation of several nodes the cluster spreads over them. */
	if (!o->hosts[0] && getenv("SLURM_JOB_ID") &&
	    atoi(getenv("SLURM_JOB_NUM_NODES") ? getenv("SLURM_JOB_NUM_NODES") : "1") > 1)
		snprintf(o->hosts, sizeof(o->hosts), "slurm");
	if ((o->launcher_exec[0] || o->listen[0]) && !o->hosts[0])
		return bad("up", o->launcher_exec[0] ? "--launcher-exec" : "--listen",
		           o->launcher_exec[0] ? o->launcher_exec : o->listen, "needs --hosts");
	if (o->launcher_exec[0] && strcmp(o->hosts, "slurm") == 0)
		return bad("up", "--launcher-exec", o->launcher_exec, "is for a Hydra host file");
	if (o->hosts[0] && o->foreground)
		return bad("up", "--foreground", "", "not with --hosts");
	/* A clone's translation buffer holds little more than its start-up code: a
	 * smaller one costs a few retranslations and saves memory per guest. */
	if (o->tb_mib == 0)
		o->tb_mib = o->clone ? 8 : 16;
	/* Heartbeats grow with the fleet: about 100 per second reach the controller. */
	if (o->hb_ms == 0)
		o->hb_ms = o->n <= 100 ? 1000 : (o->n * 10 > 30000 ? 30000 : o->n * 10);
	if (o->hb_timeout_ms == 0)
		o->hb_timeout_ms = 3 * o->hb_ms > 10000 ? 3 * o->hb_ms : 10000;
	if (o->hb_timeout_ms <= o->hb_ms)
		return bad("up", "--hb-timeout", "", "must be longer than the heartbeat period");
	return 0;
}

int mc_cli_parse_exec(int argc, char **argv, struct mc_exec_opts *o)
{
	static const struct option lo[] = {
	        {"timeout", required_argument, NULL, 't'},
	        {"env", required_argument, NULL, 'e'},
	        {"cwd", required_argument, NULL, 'C'},
	        {"table", no_argument, NULL, OPT_TABLE},
	        {"json", no_argument, NULL, OPT_JSON},
	        COMMON_LONGOPTS,
	        {NULL, 0, NULL, 0},
	};
	struct mc_target t;
	int opt, r, dashdash = -1;

	memset(o, 0, sizeof(*o));
	mc_cli_common_defaults(&o->c);
	dashdash = find_dashdash(argc, argv, "exec", mc_exec_usage, "command");
	if (dashdash < 0)
		return dashdash == -1 ? 1 : dashdash;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(dashdash, argv, ":t:e:C:c:vh", lo, NULL)) != -1) {
		if ((r = common_opt(&o->c, opt, optarg, "exec")) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		switch (opt) {
		case 'h':
			fputs(mc_exec_usage, stdout);
			return 1;
		case 't':
			if (mc_parse_duration_ms(optarg, &o->timeout_ms) || o->timeout_ms == 0 ||
			    o->timeout_ms > UINT32_MAX)
				return bad("exec", "--timeout", optarg,
				           "want a duration, e.g. 30s");
			break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return bad("exec", "--env", optarg, "want NAME=VALUE");
			if (o->envc >= 256)
				return bad("exec", "--env", optarg, "at most 256 variables");
			o->env[o->envc++] = optarg;
			break;
		case 'C':
			if (strlen(optarg) >= sizeof(o->cwd))
				return bad("exec", "--cwd", optarg, "too long");
			snprintf(o->cwd, sizeof(o->cwd), "%s", optarg);
			break;
		case OPT_TABLE:
			o->table = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case ':':
			fprintf(stderr, "microcosm exec: %s needs a value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr,
			        "microcosm exec: unknown option '%s' (see microcosm exec --help)\n",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind != dashdash - 1) {
		fprintf(stderr, "microcosm exec: want exactly one TARGET before '--'\n");
		return -EINVAL;
	}
	if (strlen(argv[optind]) >= sizeof(o->target) || mc_target_parse(argv[optind], &t))
		return bad("exec", "TARGET", argv[optind],
		           "want all, NAME, NAME-NAME, INDEX or INDEX-INDEX, comma-separated");
	snprintf(o->target, sizeof(o->target), "%s", argv[optind]);
	o->argc = argc - dashdash - 1;
	o->argv = argv + dashdash + 1;
	if (o->argc < 1) {
		fprintf(stderr, "microcosm exec: no command after '--'\n");
		return -EINVAL;
	}
	if (o->argc > 256) {
		fprintf(stderr, "microcosm exec: at most 256 command arguments\n");
		return -EINVAL;
	}
	if (o->table && o->json) {
		fprintf(stderr, "microcosm exec: --table and --json exclude each other\n");
		return -EINVAL;
	}
	return 0;
}

int mc_cli_parse_target(int argc, char **argv, struct mc_target_opts *o, const char *usage)
{
	static const struct option lo[] = {COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
	static const struct option lo_migrate[] = {{"to", required_argument, NULL, OPT_TO},
	                                           {"stop", no_argument, NULL, OPT_STOP},
	                                           {"live", no_argument, NULL, OPT_LIVE},
	                                           {"json", no_argument, NULL, OPT_JSON},
	                                           COMMON_LONGOPTS,
	                                           {NULL, 0, NULL, 0}};
	static const struct option lo_ckpt[] = {{"dir", required_argument, NULL, OPT_DIR},
	                                        {"json", no_argument, NULL, OPT_JSON},
	                                        COMMON_LONGOPTS,
	                                        {NULL, 0, NULL, 0}};
	int migrate = usage == mc_migrate_usage;
	int ckpt = usage == mc_checkpoint_usage || usage == mc_restore_usage;
	struct mc_target t;
	int opt, r;

	memset(o, 0, sizeof(*o));
	mc_cli_common_defaults(&o->c);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:vh",
	                          migrate ? lo_migrate
	                          : ckpt  ? lo_ckpt
	                                  : lo,
	                          NULL)) != -1) {
		if ((r = common_opt(&o->c, opt, optarg, argv[0])) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		if (opt == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (opt == OPT_JSON) {
			o->json = 1;
			continue;
		}
		if (opt == OPT_STOP || opt == OPT_LIVE) {
			if (o->stop && o->stop != (opt == OPT_STOP ? 1 : 2)) {
				fprintf(stderr,
				        "microcosm %s: --stop and --live exclude each other\n",
				        argv[0]);
				return -EINVAL;
			}
			o->stop = opt == OPT_STOP ? 1 : 2;
			continue;
		}
		if (opt == OPT_DIR) {
			char cwd[PATH_MAX];

			/* Absolute, for the controller (it creates it). */
			if (optarg[0] == '/')
				r = snprintf(o->dir, sizeof(o->dir), "%s", optarg);
			else if (getcwd(cwd, sizeof(cwd)))
				r = snprintf(o->dir, sizeof(o->dir), "%s/%s", cwd, optarg);
			else
				return bad(argv[0], "--dir", optarg, strerror(errno));
			if (r < 0 || (size_t)r >= sizeof(o->dir) - 64)
				return bad(argv[0], "--dir", optarg, "too long");
			continue;
		}
		if (opt == OPT_TO) {
			if (strlen(optarg) >= sizeof(o->to) || !optarg[0])
				return bad(argv[0], "--to", optarg, "want a host name");
			snprintf(o->to, sizeof(o->to), "%s", optarg);
			continue;
		}
		if (opt == ':') {
			fprintf(stderr, "microcosm %s: option '%s' needs a value\n", argv[0],
			        argv[optind - 1]);
			return -EINVAL;
		}
		fprintf(stderr, "microcosm %s: bad option '%s'\n", argv[0], argv[optind - 1]);
		return -EINVAL;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "microcosm %s: want exactly one TARGET\n%s", argv[0], usage);
		return -EINVAL;
	}
	if (strlen(argv[optind]) >= sizeof(o->target) || mc_target_parse(argv[optind], &t))
		return bad(argv[0], "TARGET", argv[optind],
		           "want all, NAME, NAME-NAME, INDEX or INDEX-INDEX, comma-separated");
	snprintf(o->target, sizeof(o->target), "%s", argv[optind]);
	return 0;
}

int mc_cli_parse_simple(int argc, char **argv, struct mc_simple_opts *o, const char *usage)
{
	static const struct option lo[] = {
	        {"json", no_argument, NULL, OPT_JSON},
	        {"force", no_argument, NULL, OPT_FORCE},
	        COMMON_LONGOPTS,
	        {NULL, 0, NULL, 0},
	};
	int opt, r;

	memset(o, 0, sizeof(*o));
	mc_cli_common_defaults(&o->c);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:vh", lo, NULL)) != -1) {
		if ((r = common_opt(&o->c, opt, optarg, argv[0])) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		switch (opt) {
		case 'h':
			fputs(usage, stdout);
			return 1;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_FORCE:
			o->force = 1;
			break;
		default:
			fprintf(stderr, "microcosm %s: bad option '%s'\n", argv[0],
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "microcosm %s: unexpected argument '%s'\n", argv[0], argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Splits "g0012" into prefix "g" and number 12. Returns 0 or -EINVAL. */
static int split_name(const char *s, size_t len, char *prefix, size_t cap, unsigned *num)
{
	size_t i = len;
	uint64_t v;
	char digits[16];

	while (i > 0 && isdigit((unsigned char)s[i - 1]))
		i--;
	if (i == len || len - i >= sizeof(digits) || i >= cap)
		return -EINVAL;
	memcpy(prefix, s, i);
	prefix[i] = '\0';
	memcpy(digits, s + i, len - i);
	digits[len - i] = '\0';
	if (mc_parse_u64(digits, 0, UINT32_MAX, &v))
		return -EINVAL;
	*num = (unsigned)v;
	return 0;
}

static int valid_name_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.')
			return 0;
	return len > 0;
}

static int parse_item(const char *s, size_t len, struct mc_target_item *it)
{
	const char *dash = memchr(s, '-', len);

	memset(it, 0, sizeof(*it));
	if (len == 3 && memcmp(s, "all", 3) == 0) {
		it->kind = 0;
		return 0;
	}
	if (dash) {
		size_t l1 = (size_t)(dash - s), l2 = len - l1 - 1;
		char p1[64], p2[64];

		if (!valid_name_chars(s, l1) || !valid_name_chars(dash + 1, l2))
			return -EINVAL;
		if (split_name(s, l1, p1, sizeof(p1), &it->lo) ||
		    split_name(dash + 1, l2, p2, sizeof(p2), &it->hi) || strcmp(p1, p2) ||
		    it->lo > it->hi)
			return -EINVAL;
		it->kind = p1[0] ? 2 : 3;
		snprintf(it->name, sizeof(it->name), "%s", p1);
		return 0;
	}
	if (!valid_name_chars(s, len) || len >= sizeof(it->name))
		return -EINVAL;
	if (isdigit((unsigned char)s[0])) {
		char p[64];

		if (split_name(s, len, p, sizeof(p), &it->lo) || p[0])
			return -EINVAL;
		it->hi = it->lo;
		it->kind = 3;
		return 0;
	}
	it->kind = 1;
	memcpy(it->name, s, len);
	it->name[len] = '\0';
	return 0;
}

int mc_target_parse(const char *s, struct mc_target *t)
{
	memset(t, 0, sizeof(*t));
	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);

		if (len == 0 || t->n >= MC_TARGET_MAX_ITEMS || parse_item(s, len, &t->items[t->n]))
			return -EINVAL;
		t->n++;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

int mc_target_match(const struct mc_target *t, const char *name, unsigned index)
{
	for (int i = 0; i < t->n; i++) {
		const struct mc_target_item *it = &t->items[i];
		char prefix[64];
		unsigned num;

		switch (it->kind) {
		case 0:
			return 1;
		case 1:
			if (strcmp(it->name, name) == 0)
				return 1;
			break;
		case 2:
			if (split_name(name, strlen(name), prefix, sizeof(prefix), &num) == 0 &&
			    strcmp(prefix, it->name) == 0 && num >= it->lo && num <= it->hi)
				return 1;
			break;
		case 3:
			if (index >= it->lo && index <= it->hi)
				return 1;
			break;
		}
	}
	return 0;
}

int mc_cli_parse_rsh(int argc, char **argv, struct mc_rsh_opts *o)
{
	static const struct option lo[] = {
	        COMMON_LONGOPTS,
	        {NULL, 0, NULL, 0},
	};
	int opt, r;

	memset(o, 0, sizeof(*o));
	mc_cli_common_defaults(&o->c);
	optind = 0;
	opterr = 0;
	/* "+": options end at HOST; what follows is the command, as for ssh. */
	while ((opt = getopt_long(argc, argv, "+:c:vh", lo, NULL)) != -1) {
		if ((r = common_opt(&o->c, opt, optarg, "rsh")) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		switch (opt) {
		case 'h':
			fputs(mc_rsh_usage, stdout);
			return 1;
		case ':':
			fprintf(stderr, "microcosm rsh: %s needs a value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "microcosm rsh: unknown option '%s' (see --help)\n",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "microcosm rsh: need HOST and COMMAND (see --help)\n");
		return -EINVAL;
	}
	if (strlen(argv[optind]) >= sizeof(o->host))
		return bad("rsh", "HOST", argv[optind], "too long");
	snprintf(o->host, sizeof(o->host), "%s", argv[optind]);
	o->argc = argc - optind - 1;
	o->argv = argv + optind + 1;
	return 0;
}

int mc_cli_parse_mpirun(int argc, char **argv, struct mc_mpirun_opts *o)
{
	enum { OPT_PPN = 300, OPT_HOSTS, OPT_XARG };
	static const struct option lo[] = {
	        {"ranks", required_argument, NULL, 'n'},
	        {"ppn", required_argument, NULL, OPT_PPN},
	        {"hosts", required_argument, NULL, OPT_HOSTS},
	        {"timeout", required_argument, NULL, 't'},
	        {"env", required_argument, NULL, 'e'},
	        {"mpiexec-arg", required_argument, NULL, OPT_XARG},
	        {"wdir", required_argument, NULL, 'C'},
	        COMMON_LONGOPTS,
	        {NULL, 0, NULL, 0},
	};
	struct mc_target t;
	uint64_t v;
	int opt, r, dashdash = -1;

	memset(o, 0, sizeof(*o));
	mc_cli_common_defaults(&o->c);
	o->ppn = 1;
	snprintf(o->wdir, sizeof(o->wdir), "/data");
	dashdash = find_dashdash(argc, argv, "mpirun", mc_mpirun_usage, "program");
	if (dashdash < 0)
		return dashdash == -1 ? 1 : dashdash;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(dashdash, argv, ":n:t:e:C:c:vh", lo, NULL)) != -1) {
		if ((r = common_opt(&o->c, opt, optarg, "mpirun")) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		switch (opt) {
		case 'h':
			fputs(mc_mpirun_usage, stdout);
			return 1;
		case 'n':
			if (mc_parse_u64(optarg, 1, 1000000, &v))
				return bad("mpirun", "--ranks", optarg, "want 1..1000000");
			o->ranks = (unsigned)v;
			break;
		case OPT_PPN:
			if (mc_parse_u64(optarg, 1, 1024, &v))
				return bad("mpirun", "--ppn", optarg, "want 1..1024");
			o->ppn = (unsigned)v;
			break;
		case OPT_HOSTS:
			if (strlen(optarg) >= sizeof(o->hosts) || mc_target_parse(optarg, &t))
				return bad("mpirun", "--hosts", optarg,
				           "want a target set, e.g. all, g0000-g0007, 0-7");
			snprintf(o->hosts, sizeof(o->hosts), "%s", optarg);
			break;
		case 't':
			if (mc_parse_duration_ms(optarg, &o->timeout_ms) || o->timeout_ms == 0)
				return bad("mpirun", "--timeout", optarg,
				           "want a duration, e.g. 10m");
			break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return bad("mpirun", "--env", optarg, "want NAME=VALUE");
			if (o->envc >= 256)
				return bad("mpirun", "--env", optarg, "at most 256 variables");
			o->env[o->envc++] = optarg;
			break;
		case 'C':
			if (optarg[0] != '/' || strlen(optarg) >= sizeof(o->wdir))
				return bad("mpirun", "--wdir", optarg, "want an absolute path");
			snprintf(o->wdir, sizeof(o->wdir), "%s", optarg);
			break;
		case OPT_XARG:
			if (o->xargc >= 64)
				return bad("mpirun", "--mpiexec-arg", optarg, "at most 64");
			o->xargv[o->xargc++] = optarg;
			break;
		case ':':
			fprintf(stderr, "microcosm mpirun: %s needs a value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "microcosm mpirun: unknown option '%s' (see --help)\n",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < dashdash) {
		fprintf(stderr, "microcosm mpirun: unexpected '%s' before '--'\n", argv[optind]);
		return -EINVAL;
	}
	if (dashdash + 1 >= argc || argv[dashdash + 1][0] == '\0') {
		fprintf(stderr, "microcosm mpirun: no program after '--'\n");
		return -EINVAL;
	}
	o->argc = argc - dashdash - 1;
	o->argv = argv + dashdash + 1;
	return 0;
}
