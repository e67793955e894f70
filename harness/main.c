/* main.c — the `microcosm` command: a table of verbs, one cmd_<verb>.c each. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "run.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
	const char *summary;
} verbs[] = {
        {"up", cmd_up, mc_up_usage, "start a cluster of N guests"},
        {"ls", cmd_ls, mc_ls_usage, "list the guests of a cluster"},
        {"exec", cmd_exec, mc_exec_usage, "run a command on guests"},
        {"pause", cmd_pause, mc_pause_usage, "stop guests' vCPUs"},
        {"resume", cmd_resume, mc_resume_usage, "continue paused guests"},
        {"migrate", cmd_migrate, mc_migrate_usage,
         "live-migrate guests to new QEMU processes (downtime, total time)"},
        {"checkpoint", cmd_checkpoint, mc_checkpoint_usage,
         "save guests' whole state (memory, devices, disk) to files"},
        {"restore", cmd_restore, mc_restore_usage, "bring guests back to their checkpoint"},
        {"down", cmd_down, mc_down_usage, "stop a cluster and remove everything it created"},
        {"template", cmd_template, mc_template_usage, "list, build or remove booted templates"},
        {"run", cmd_run, mc_run_usage, "run an experiment file, write a results directory"},
        {"net", cmd_net, mc_net_usage, "emulate link latency, bandwidth, loss, topology"},
        {"mpirun", cmd_mpirun, mc_mpirun_usage, "run an MPI program across the guests"},
        {"rsh", cmd_rsh, mc_rsh_usage, "run a shell command on one guest, ssh-style"},
        {"fault", cmd_fault, mc_fault_usage, "inject a fault now (crash, hang, netem, kill, ...)"},
        {"image", cmd_image, mc_image_usage, "base disks with your own programs (libguestfs)"},
        {"trace", cmd_trace, mc_trace_usage, "summaries of a run's LTTng trace"},
        {"report", cmd_report, mc_report_usage,
         "an HTML report of a run (plots, no network needed)"},
        {"results", cmd_results, mc_results_usage, "the catalog of runs: ls, show, reindex"},
        {"compare", cmd_compare, mc_compare_usage,
         "compare two runs' metrics; exit 1 on a regression (CI)"},
        {"simulate", cmd_simulate, mc_simulate_usage,
         "predict policies' outcomes at any size (discrete-event)"},
        {"daemon", cmd_daemon, mc_daemon_usage,
         "a host daemon of a cluster across hosts (microcosmd; started by up --hosts)"},
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: microcosm VERB [options]   (microcosm VERB --help for each)\n\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(fp, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(fp, "\nEnvironment: MC_CLUSTER, MC_STATE_DIR (/run/microcosm), MC_CACHE_DIR "
	            "(/var/cache/microcosm)\n");
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	/* Hydra's launcher: `mc-rsh HOST COMMAND…` is `microcosm rsh HOST COMMAND…`. */
	if (strcmp(base, "mc-rsh") == 0) {
		mc_log_setup(MC_LOG_INFO, NULL);
		return cmd_rsh(argc, argv);
	}
	/* The host daemon: `microcosmd …` is `microcosm daemon …`. */
	if (strcmp(base, "microcosmd") == 0)
		return cmd_daemon(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("microcosm %s\n", MC_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) == 0) {
			int verbose = 0;

			for (int k = 2; k < argc && strcmp(argv[k], "--"); k++)
				verbose += !strcmp(argv[k], "-v") || !strcmp(argv[k], "--verbose");
			mc_log_setup(verbose ? MC_LOG_DEBUG : MC_LOG_INFO, NULL);
			return verbs[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "microcosm: unknown verb '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
