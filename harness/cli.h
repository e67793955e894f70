/* cli.h — command-line parsing into plain option structs (no actions), and guest target sets. */
#ifndef MC_CLI_H
#define MC_CLI_H

#include <limits.h>
#include <stdint.h>

/* Options every verb takes. */
struct mc_common_opts {
	char cluster[64];         /* cluster name (--cluster/-c, $MC_CLUSTER, "default") */
	char state_dir[PATH_MAX]; /* root of state dirs (--state-dir, $MC_STATE_DIR, /run/microcosm)
	                           */
	int verbose;              /* -v count */
};

struct mc_up_opts {
	struct mc_common_opts c;
	unsigned n;                   /* guests */
	uint64_t mem_mib;             /* RAM per guest, MiB */
	unsigned vcpus;               /* vCPUs per guest */
	char accel[8];                /* auto | kvm | tcg */
	char kernel[PATH_MAX];        /* project | cloud | a kernel image path (contains '/') */
	unsigned parallel;            /* guests booting at once; 0 = 2 x host CPUs */
	uint64_t boot_timeout_ms;     /* per guest, from QEMU start to HELLO */
	uint64_t hb_ms;               /* agent heartbeat period */
	uint64_t hb_timeout_ms;       /* silence after which a guest is failed; 0 = 3 x hb */
	unsigned tb_mib;              /* TCG translation buffer per guest */
	int foreground;               /* keep the controller in this process */
	int clone;                    /* spawn: 1 = clone from a booted template, 0 = cold boot */
	int density;                  /* ASLR off + KSM for the emulators (weaker isolation) */
	int quiet;                    /* no progress line */
	char share[PATH_MAX];         /* host directory shared read-only at /share ("" = none) */
	char image[PATH_MAX];         /* base disk: image name or qcow2 path ("" = the built one) */
	char events[PATH_MAX];        /* guest state changes, one JSON line each ("" = state dir) */
	char hosts[PATH_MAX];         /* "slurm" or a Hydra host file: many hosts ("" = this one) */
	char launcher_exec[PATH_MAX]; /* Hydra's -launcher-exec for the host daemons */
	char listen[64];              /* this host's address for the host daemons ("" = found) */
};

/* A set of guests: "all", names ("g0003"), name ranges ("g0001-g0004"),
 * indices and index ranges ("3", "0-7"), comma-separated. */
#define MC_TARGET_MAX_ITEMS 64
struct mc_target_item {
	int kind;        /* 0 all, 1 exact name, 2 name range, 3 index range */
	char name[64];   /* exact name, or the prefix of a name range */
	unsigned lo, hi; /* inclusive bounds */
};
struct mc_target {
	int n;
	struct mc_target_item items[MC_TARGET_MAX_ITEMS];
};

struct mc_exec_opts {
	struct mc_common_opts c;
	char target[1024];   /* unparsed target set */
	int argc;            /* command after "--" */
	char **argv;         /* borrowed from main's argv */
	int envc;            /* --env K=V count */
	char *env[256];      /* borrowed */
	char cwd[1024];      /* --cwd, "" = agent default */
	uint64_t timeout_ms; /* --timeout, 0 = none */
	int table;           /* --table: one summary row per guest */
	int json;            /* --json: one JSON object per event on stdout */
};

struct mc_rsh_opts {
	struct mc_common_opts c;
	char host[64]; /* guest name, index or address */
	int argc;      /* shell command words (joined with spaces, run by sh -c) */
	char **argv;   /* borrowed from main's argv */
};

struct mc_mpirun_opts {
	struct mc_common_opts c;
	unsigned ranks;      /* -n; 0 = every selected guest x ppn */
	unsigned ppn;        /* --ppn, ranks per guest (default 1) */
	char hosts[1024];    /* --hosts target set; "" = all ready guests */
	uint64_t timeout_ms; /* --timeout; 0 = none */
	char wdir[1024];     /* --wdir: ranks' working directory in the guests */
	int envc;            /* --env K=V */
	char *env[256];      /* borrowed */
	int xargc;           /* --mpiexec-arg */
	char *xargv[64];     /* borrowed */
	int argc;            /* program and its arguments after "--" */
	char **argv;         /* borrowed */
};

struct mc_target_opts { /* pause, resume, migrate */
	struct mc_common_opts c;
	char target[1024];
	char to[256];       /* migrate --to */
	int json;           /* migrate, checkpoint, restore --json */
	int stop;           /* migrate: 0 auto, 1 --stop, 2 --live */
	char dir[PATH_MAX]; /* checkpoint, restore --dir (absolute) */
};

struct mc_simple_opts { /* ls, down */
	struct mc_common_opts c;
	int json;  /* ls --json */
	int force; /* down --force: clean up a stale state dir without asking the controller */
};

/*
 * Each parser fills *o from argv (argv[0] is the verb) and performs no
 * action. Returns 0, 1 when --help was asked (usage printed to stdout), or
 * -EINVAL with a message on stderr naming the bad argument.
 */
int mc_cli_parse_up(int argc, char **argv, struct mc_up_opts *o);
/* Common options, for verbs that parse their own (run, net): $MC_CLUSTER /
 * $MC_STATE_DIR or the built-in defaults; checked setters that print the
 * error naming verb and return 0 or -EINVAL. */
void mc_cli_common_defaults(struct mc_common_opts *c);
int mc_cli_set_cluster(struct mc_common_opts *c, const char *arg, const char *verb);
int mc_cli_set_state_dir(struct mc_common_opts *c, const char *arg, const char *verb);

int mc_cli_parse_exec(int argc, char **argv, struct mc_exec_opts *o);
int mc_cli_parse_rsh(int argc, char **argv, struct mc_rsh_opts *o);
int mc_cli_parse_mpirun(int argc, char **argv, struct mc_mpirun_opts *o);
int mc_cli_parse_target(int argc, char **argv, struct mc_target_opts *o, const char *usage);
int mc_cli_parse_simple(int argc, char **argv, struct mc_simple_opts *o, const char *usage);

extern const char mc_rsh_usage[], mc_mpirun_usage[];
extern const char mc_up_usage[], mc_exec_usage[], mc_ls_usage[], mc_down_usage[], mc_pause_usage[],
        mc_resume_usage[], mc_migrate_usage[], mc_checkpoint_usage[], mc_restore_usage[];

/* Parses a target set. Returns 0 or -EINVAL. */
int mc_target_parse(const char *s, struct mc_target *t);

/* Whether guest (name, index) is in the set. */
int mc_target_match(const struct mc_target *t, const char *name, unsigned index);

#endif
