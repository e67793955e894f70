/* experiment.h — experiment files: the YAML spec of a cluster, its network and its workloads. */
#ifndef MC_EXPERIMENT_H
#define MC_EXPERIMENT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fault.h"

/*
 * The experiment file: one YAML document, at most 1 MiB, a mapping at the top. Only
 * name is required; every other field has the default shown (workloads/experiments/
 * default.yaml spells them all out). Anchors and aliases are not accepted.
 *
 * Value syntax:
 *   integer   decimal digits only: no sign, no fraction, no trailing text.
 *   size      an integer of MiB, or with a suffix M or G (128M, 1G).
 *   duration  an integer and a unit: us, ms, s, m or h (500ms, 2s, 10m). The unit is
 *             required. Durations kept in milliseconds must be whole milliseconds.
 *   name      1-48 characters of [A-Za-z0-9._-], the first a letter or digit (names
 *             become file names).
 *   null      an empty value, ~ or null: accepted only for the sections (cluster,
 *             network, topology, intra, inter, workloads, env, results, faults, plan,
 *             params, prediction, policy, simulate), meaning "empty" (for prediction,
 *             policy and simulate: "not given").
 *
 *   name: ring-64            required; a name
 *   seed: auto               0..2^63-1, or auto: the run derives one from the clock and
 *                            prints it (stored as seed_set = 0)
 *   cluster:
 *     guests: 4              1..65534
 *     spawn: clone           clone (from a booted memory template) | boot (cold boot each)
 *     memory: 128M           RAM per guest, a size 32M..64G
 *     vcpus: 1               vCPUs per guest, 1..64
 *     kernel: project        project | cloud | a path (any value containing '/'; relative
 *                            paths are relative to the working directory of the run)
 *     density: false         true | false: QEMU without ASLR and with KSM (docs/density.md)
 *     heartbeat: auto        50ms..10m, or auto: microcosm up's rule from the guest count
 *                            (stored as heartbeat_ms = 0)
 *     heartbeat_timeout: auto  the failure detector's timeout: silence that marks a guest
 *                            failed, 100ms..1h, or auto: 3 x heartbeat, at least 10s
 *                            (stored as heartbeat_timeout_ms = 0)
 *     tb_size: auto          TCG translation buffer per guest, 4..2048 (MiB), or auto
 *                            (microcosm up's default; stored as tb_mib = 0)
 *     image: NAME|PATH       base disk (microcosm image add); default: the built one
 *     share: DIR             host directory shared read-only at /share in every guest
 *   network:                 shaping of every guest's link; default: no shaping. Only the
 *                            keys given are stored; their defaults belong to harness/netem.c
 *                            and harness/topology.c (see mc_experiment_network_each()).
 *     latency: 50us          a delay: a number (decimals allowed) and us, ms or s
 *     jitter: 5us            a delay, as latency
 *     bandwidth: 1Gbit       a rate > 0: a number and bit, kbit, mbit, gbit, tbit, bps, kbps,
 *                            mbps, gbps or tbps (any case)
 *     loss: 0%               a percentage 0..100 (decimals allowed, % required)
 *     duplicate: 0%          a percentage, as loss
 *     corrupt: 0%            a percentage, as loss
 *     topology:
 *       kind: flat           flat | fat-tree
 *       rack_size: 16        guests per rack, 1..65534
 *       oversubscription: 4  1..1024
 *       intra: {...}         link keys as above, for links inside a rack
 *       inter: {...}         link keys as above, for links between racks
 *   workloads:               a sequence of at most 64, run in order; default: none (the
 *                            run brings the cluster up, checks it and takes it down)
 *     - name: ring           required; a name, unique within the file
 *       kind: mpi            required: mpi | taskfarm | exec
 *       repeat: 1            runs of this workload, 1..10000
 *       timeout: 10m         per run, 1s..24h
 *       env: {}              NAME: value for the program, at most 256; NAME is
 *                            [A-Za-z_][A-Za-z0-9_]*, a value at most 4096 bytes
 *       # kind mpi:
 *       program: mc-ring     required; program name or path in the guest
 *       args: []             at most 256 scalars, each at most 4096 bytes
 *       ppn: 1               ranks per guest, 1..256
 *       ranks: guests x ppn  1..guests x ppn
 *       # kind taskfarm (a built-in farm: one master, workers on the other guests):
 *       tasks: 1000          1..10000000
 *       task_ms: 10          work per task, integer milliseconds 0..3600000
 *       workers: guests - 1  1..65534 (default at least 1)
 *       kill_workers: 0      workers killed mid-run (a fault for the test), 0..workers-1
 *       kill_after: 1s       when the kill happens after the farm starts, 1ms..24h
 *       # kind exec:
 *       target: all          a target set as in microcosm exec (all, g0000-g0003, 0,2,5)
 *       program: uname       required; program name or path in the guest
 *       args: []             as for mpi
 *   faults:                  a fault plan (harness/faultplan.h turns it into a schedule);
 *                            default: none
 *     seed: 7                0..2^63-1; default: the experiment's seed
 *     plan:                  a sequence of at most 256 entries
 *       - name: crash-0      a name, unique within the plan; default KIND-INDEX
 *         kind: crash        required: a kind of harness/fault.c (crash, hang, slow-cpu, ...)
 *         target: all        all | gNNNN | gNNNN-gMMMM | I | I-J, comma-separated;
 *                            or random(K): K distinct guests picked with the seed;
 *                            fraction(F): round(F x guests) of them, 0 < F <= 1;
 *                            rank(R): the guest of MPI rank R (R / ppn; mpi workloads only)
 *         workload: ring     the workload whose start the times count from; default the
 *                            first (a plan needs at least one workload)
 *         # exactly one of:
 *         at: 30s            a fixed time from the start of the workload, 0ms..24h
 *         after: {event: output, match: "epoch 3"}      when a line of the workload's
 *                            output contains match (1-128 bytes), or
 *         after: {event: heartbeat, guest: g0003, count: 5}   at the count-th heartbeat
 *                            (1..1000000, default 1) of a guest after the workload starts;
 *           delay: 0ms       with after: from the event to the injection, 0ms..24h
 *         distribution: {kind: exponential, mtbf: 10m}       failure times drawn per guest:
 *         distribution: {kind: weibull, shape: 0.8, scale: 20s}   shape a number 0..100
 *                            (above 0); mtbf and scale 1ms..8760h
 *           horizon: 60s     required with distribution: failures at or after it are
 *                            dropped, 1ms..24h
 *         duration: 5s       1ms..24h, only for kinds that are reverted (hang, slow-cpu,
 *                            netem, ...); default: not reverted
 *         params: {quota: 20%}   the kind's parameters (fault.c), required ones included
 *   repeat: 1                default repeat of every workload that does not set its own
 *   results:
 *     dir: runs              where run directories go; relative to the working directory
 *     collect: [/data/out]   files the workloads leave on each guest's disk (mounted at
 *                            /data in the guest), copied into the run directory's
 *                            guests/<guest>/files/ after the run, also from guests that
 *                            crashed or hung; absolute paths under /data, shell globs
 *                            allowed (a * in the last part), at most 16
 *   tracing:                 LTTng traces of the run, in its trace/ (also: run --trace)
 *     enabled: false         true | false
 *     events: [microcosm_mpi:*]  UST event patterns; default: microcosm_* (harness, MPI
 *                            calls, workload phases)
 *     flush: 500ms           how often a guest's partly filled buffers go to the host:
 *                            what a guest that crashes loses at most (10ms..60s), or off
 *                            (full buffers only: less work in the guests, but a crash
 *                            loses the buffer being filled). Measured at 64 guests on 2
 *                            cores (bench/trace_overhead.sh): 500ms made allreduce of
 *                            64 KiB 3.1x slower, off 1.03x (8 B and 1 KiB within noise
 *                            both ways): off for overhead figures, a flush for crashes
 *   prediction:              failure prediction (harness/predict.h; docs/policies.md): every
 *                            failure of the plan (entries of kind crash or reboot) is
 *                            preceded by a health warning; default: no predictor
 *     lead: 30s              required; warning to failure, 1ms..24h
 *     recall: 1              share of failures warned about, a number 0..1
 *     precision: 1           share of warnings followed by a failure, above 0 and at most 1;
 *                            false alarms at random nodes and times make up the rest
 *   policy:                  the fault-tolerance policy (docs/policies.md); real runs do not
 *                            carry it out yet, microcosm simulate does
 *     name: none             required: none | checkpoint-restart | proactive-migrate | a
 *                            path to a shared library (contains '/' or ends in .so; loaded
 *                            when used, not when the file is read)
 *     params: {interval: auto}   at most 16 KEY: scalar (keys 1-31 bytes, values at most
 *                            63); a built-in's params are checked here
 *   simulate:                the job model of microcosm simulate; default: none
 *     work: 24h              required; failure-free time to solution, 1s..87600h (the
 *                            launch not included when launch_cost is given)
 *     checkpoint_cost: 0s    each a duration 0ms..24h, or measured: the median of the
 *     restart_cost: 0s       metric ft/checkpoint_s, ft/restart_s, ft/migrate_downtime_s
 *     migrate_cost: 0s       or ft/launch_s in the results catalog (resolved by microcosm
 *     launch_cost: 0s        simulate); restart: from a failure to progress again (the
 *                            relaunch included); launch: starting the job's processes
 *                            before its work first begins
 *     nodes: guests          nodes of the simulated job, 1..10000000; default cluster.guests
 *     spares: unlimited      spares migrations may take, 0..10000000 or unlimited
 *     failures: renewal      renewal (a failed node is replaced by a fresh one that fails
 *                            again; horizons ignored) | plan (exactly the plan's failures)
 *     limit: auto            give up (did not finish) at this simulated time, 1s..876000h,
 *                            or auto: 100 x work
 *
 * Errors read "FILE:LINE: FIELD.PATH: what is wrong", for example
 *   ring.yaml:7: cluster.guests: expected an integer 1..65534, got "lots"
 *   ring.yaml:12: workloads[1].kind: unknown kind "mpii" (expected mpi, taskfarm, exec)
 * with 1-based lines and 0-based sequence indices. A missing required field is reported
 * at the line of the mapping that lacks it.
 */

#define MC_EXP_MAX_BYTES        (1024 * 1024) /* largest experiment file, bytes */
#define MC_EXP_MAX_DEPTH        16            /* deepest nesting of YAML collections */
#define MC_EXP_MAX_NODES        65536         /* most YAML nodes (scalars + collections) */
#define MC_EXP_MAX_WORKLOADS    64
#define MC_EXP_MAX_ARGS         256  /* per workload */
#define MC_EXP_MAX_ARG_BYTES    4096 /* per argument, and per env value */
#define MC_EXP_MAX_ENV          256  /* variables per workload */
#define MC_EXP_NAME_MAX         48   /* experiment and workload names, characters */
#define MC_EXP_MAX_NETWORK      32   /* network settings (more than the allowed keys) */
#define MC_EXP_MAX_FAULTS       256  /* entries in faults.plan */
#define MC_EXP_TARGET_MAX       255  /* bytes of a fault target as written */
#define MC_EXP_MATCH_MAX        128  /* bytes of after.match */
#define MC_EXP_PARAM_MAX        63   /* bytes of a fault parameter value */
#define MC_EXP_MAX_TRACE_EVENTS 16   /* tracing.events patterns */
#define MC_TRACE_FLUSH_MS       500  /* tracing.flush default */
#define MC_EXP_MAX_COLLECT      16   /* results.collect paths */

enum mc_exp_kind {
	MC_EXP_MPI = 0,  /* an MPI program over the guests */
	MC_EXP_TASKFARM, /* the built-in task farm */
	MC_EXP_EXEC,     /* a command on a target set, as microcosm exec */
};

/* One network setting, as written: the path below "network" and the scalar. */
struct mc_exp_setting {
	char key[40];   /* "latency", "topology.kind", "topology.intra.latency" */
	char value[64]; /* validated scalar as written: "50us", "fat-tree", "16" */
	int line;       /* 1-based line of the value */
};

struct mc_exp_env {
	char *name;  /* owned; [A-Za-z_][A-Za-z0-9_]* */
	char *value; /* owned; at most MC_EXP_MAX_ARG_BYTES bytes */
};

struct mc_exp_cluster {
	unsigned guests;               /* 1..65534 */
	int clone;                     /* spawn: 1 = clone from a booted template, 0 = cold boot */
	uint64_t mem_mib;              /* RAM per guest, MiB */
	unsigned vcpus;                /* vCPUs per guest */
	char kernel[PATH_MAX];         /* "project", "cloud" or a path (contains '/') */
	int density;                   /* ASLR off + KSM for the emulators */
	uint64_t heartbeat_ms;         /* agent heartbeat period; 0 = auto (microcosm up's rule) */
	uint64_t heartbeat_timeout_ms; /* failure detector timeout; 0 = auto (up's rule) */
	unsigned tb_mib;               /* TCG translation buffer, MiB; 0 = auto */
	char image[PATH_MAX];          /* base disk: image name or qcow2 path; "" = the built one */
	char share[PATH_MAX];          /* host directory shared read-only at /share; "" = none */
};

struct mc_exp_workload {
	char name[MC_EXP_NAME_MAX + 1]; /* unique within the experiment */
	enum mc_exp_kind kind;          /* which of the field groups below apply */
	int line;                       /* 1-based line of the workload's mapping */
	unsigned repeat;                /* runs, >= 1 */
	uint64_t timeout_ms;            /* per run */
	unsigned envc;                  /* entries in env */
	struct mc_exp_env *env;         /* owned; envc entries in file order; NULL when envc = 0 */
	/* mpi and exec */
	char *program; /* owned; NULL for taskfarm */
	unsigned argc; /* entries in argv, program not included */
	char **argv;   /* owned; argc strings then NULL; NULL for taskfarm */
	/* mpi */
	unsigned ppn;   /* ranks per guest */
	unsigned ranks; /* total ranks, resolved: guests x ppn by default */
	/* taskfarm */
	unsigned tasks;         /* tasks in the farm */
	unsigned task_ms;       /* work per task, ms */
	unsigned workers;       /* resolved: guests - 1 (at least 1) by default */
	unsigned kill_workers;  /* workers killed mid-run; 0 = none */
	uint64_t kill_after_ms; /* delay from the start of the farm to the kill */
	/* exec */
	char *target; /* owned; a set mc_target_parse() accepts; NULL unless exec */
};

/* When a fault plan entry fires. */
enum mc_exp_when {
	MC_EXP_AT = 0,       /* at_ms from the start of the workload */
	MC_EXP_AFTER,        /* delay_ms after an event */
	MC_EXP_DISTRIBUTION, /* failure times drawn per guest until horizon_ms */
};

enum mc_exp_event {
	MC_EXP_EVENT_OUTPUT = 0, /* a line of the workload's output contains match */
	MC_EXP_EVENT_HEARTBEAT,  /* the count-th heartbeat of guest after the workload starts */
};

enum mc_exp_dist {
	MC_EXP_EXPONENTIAL = 0, /* mean mtbf_ms */
	MC_EXP_WEIBULL,         /* shape, scale_ms */
};

/* One parameter of a fault, as written (checked with mc_fault_param_check()). */
struct mc_exp_param {
	char key[32];
	char value[MC_EXP_PARAM_MAX + 1];
};

/* One entry of faults.plan, defaults filled in. Only the fields of its when apply. */
struct mc_exp_fault {
	char name[MC_EXP_NAME_MAX + 1];     /* unique within the plan */
	const struct mc_fault_kind *kind;   /* borrowed from mc_fault_kinds */
	int line;                           /* 1-based line of the entry's mapping */
	char target[MC_EXP_TARGET_MAX + 1]; /* as written; syntax checked, not bounds */
	int target_line;                    /* 1-based line of target (line if defaulted) */
	unsigned workload;                  /* index into workloads */
	enum mc_exp_when when;              /* which of the field groups below apply */
	uint64_t at_ms;                     /* MC_EXP_AT: from the workload's start */
	enum mc_exp_event event;            /* MC_EXP_AFTER */
	char match[MC_EXP_MATCH_MAX + 1];   /* MC_EXP_EVENT_OUTPUT: a substring of a line */
	char guest[16];                     /* MC_EXP_EVENT_HEARTBEAT: "g0003" */
	unsigned guest_index;               /* MC_EXP_EVENT_HEARTBEAT: 3 for "g0003" */
	int guest_line;                     /* 1-based line of after.guest */
	unsigned count;                     /* MC_EXP_EVENT_HEARTBEAT: >= 1 */
	uint64_t delay_ms;                  /* MC_EXP_AFTER: event to injection */
	enum mc_exp_dist dist;              /* MC_EXP_DISTRIBUTION */
	uint64_t mtbf_ms;                   /* MC_EXP_EXPONENTIAL: mean time between failures */
	double shape;                       /* MC_EXP_WEIBULL: k > 0 */
	uint64_t scale_ms;                  /* MC_EXP_WEIBULL: lambda */
	uint64_t horizon_ms;                /* MC_EXP_DISTRIBUTION: failures before it only */
	uint64_t duration_ms;               /* until reverted; 0 = not reverted */
	unsigned n_params;                  /* entries in params */
	struct mc_exp_param params[MC_FAULT_MAX_PARAMS]; /* in file order */
};

#define MC_EXP_MAX_POLICY_PARAMS 16 /* policy.params entries */

/* The prediction section: health warnings ahead of the plan's failures (predict.h). */
struct mc_exp_prediction {
	int set;          /* the file has a prediction section */
	int line;         /* 1-based line of the section */
	uint64_t lead_ms; /* warning to failure */
	double recall;    /* share of failures warned about, 0..1 */
	double precision; /* share of warnings followed by a failure, (0, 1] */
};

/* The policy section (harness/policies/policy.h). */
struct mc_exp_policy {
	int set;             /* the file has a policy section */
	int line;            /* 1-based line of policy.name */
	char name[PATH_MAX]; /* a built-in's name or a path to a shared library */
	unsigned n_params;   /* entries in params */
	struct mc_exp_param params[MC_EXP_MAX_POLICY_PARAMS]; /* in file order, keys distinct */
};

/* One cost of the simulate section. */
struct mc_exp_cost {
	uint64_t ms;  /* the cost; 0 while measured is unresolved */
	int measured; /* "measured": the median from the results catalog */
	int line;     /* 1-based line of the value (of the section when defaulted) */
};

/* The simulate section: the job model of microcosm simulate (simulate.h). */
struct mc_exp_simulate {
	int set;                       /* the file has a simulate section */
	int line;                      /* 1-based line of the section */
	uint64_t work_ms;              /* failure-free time to solution */
	struct mc_exp_cost checkpoint; /* one checkpoint: no progress meanwhile */
	struct mc_exp_cost restart;    /* one restart after a failure */
	struct mc_exp_cost migrate;    /* downtime of one live migration */
	struct mc_exp_cost launch;     /* starting the job's processes: before any progress
	                                  (a relaunch is part of restart) */
	unsigned nodes;                /* 0 = cluster.guests */
	int spares_limited;            /* 0 = unlimited spares */
	unsigned spares;               /* when spares_limited */
	int plan_failures;             /* failures: plan (1) or renewal (0) */
	uint64_t limit_ms;             /* give up at this simulated time; 0 = auto */
};

/* A parsed experiment: a plain config struct with every default filled in. */
struct mc_experiment {
	char *source;                   /* owned; the name used in messages (the path for _load) */
	char *text;                     /* owned; the file's bytes as given, NUL-terminated */
	size_t text_len;                /* bytes in text, the NUL not counted */
	char name[MC_EXP_NAME_MAX + 1]; /* the experiment's name */
	uint64_t seed;                  /* valid when seed_set */
	int seed_set;                   /* 0: auto, the run picks a seed (it may then set both) */
	struct mc_exp_cluster cluster;  /* the guests */
	unsigned n_network;             /* entries in network */
	struct mc_exp_setting network[MC_EXP_MAX_NETWORK]; /* in file order */
	unsigned n_workloads;                              /* entries in workloads */
	struct mc_exp_workload *workloads;                 /* owned; in run order; NULL when none */
	char results_dir[PATH_MAX];                        /* results.dir */
	unsigned n_collect;                                /* entries in collect */
	char collect[MC_EXP_MAX_COLLECT][256];             /* results.collect: guest paths */
	unsigned repeat;                                   /* top-level repeat; 0 = not given */
	int tracing;                                       /* tracing.enabled */
	unsigned n_trace_events;                           /* entries in trace_events */
	char trace_events[MC_EXP_MAX_TRACE_EVENTS][64];    /* tracing.events; none = microcosm_* */
	uint64_t trace_flush_ms;                           /* tracing.flush; 0 = off */
	unsigned n_faults;                                 /* entries in faults */
	struct mc_exp_fault *faults;         /* owned; faults.plan in file order; NULL when none */
	int fault_seed_set;                  /* faults.seed was given */
	uint64_t fault_seed;                 /* valid when fault_seed_set */
	struct mc_exp_prediction prediction; /* prediction: (set = 0 when absent) */
	struct mc_exp_policy policy;         /* policy: (set = 0 when absent) */
	struct mc_exp_simulate simulate;     /* simulate: (set = 0 when absent) */
};

/*
 * Parses the experiment in text[0..len) (need not be NUL-terminated; at most
 * MC_EXP_MAX_BYTES). name_for_errors starts every message ("ring.yaml"); NULL means
 * "<input>". Does no I/O. Returns the experiment, or NULL with the first problem in
 * err ("FILE:LINE: FIELD.PATH: what is wrong"). Caller owns the result; free with
 * mc_experiment_destroy().
 */
struct mc_experiment *mc_experiment_parse(const char *text, size_t len, const char *name_for_errors,
                                          char *err, size_t errlen);

/*
 * Reads the file at path (at most MC_EXP_MAX_BYTES) and parses it as
 * mc_experiment_parse() does, with path in messages. Returns NULL with err set when the
 * file cannot be read ("PATH: cannot read: No such file or directory") or is invalid.
 * Caller owns the result; free with mc_experiment_destroy().
 */
struct mc_experiment *mc_experiment_load(const char *path, char *err, size_t errlen);

/* Frees *e and everything it owns, and sets *e to NULL. Accepts NULL and *e == NULL. */
void mc_experiment_destroy(struct mc_experiment **e);

/*
 * Calls fn(ctx, key, value, ...) for every network setting in file order, key being the
 * path below "network" ("latency", "topology.kind", "topology.intra.bandwidth"). fn
 * returns 0 or a negative code and, on failure, may write a reason to its err. Stops at
 * the first failure and returns its code with err set to
 * "FILE:LINE: network.KEY: <fn's reason>" (or "invalid value "V"" when fn wrote none).
 * Returns 0 when fn accepted every setting. fn's arguments are borrowed for the call.
 */
int mc_experiment_network_each(const struct mc_experiment *e,
                               int (*fn)(void *ctx, const char *key, const char *value, char *err,
                                         size_t errlen),
                               void *ctx, char *err, size_t errlen);

/*
 * The resolved experiment as JSON, with every default filled in and the same keys and
 * value syntax as the file (so the text of the result parses back to the same
 * experiment). seed and cluster.heartbeat are "auto" while unset; network holds only
 * the keys given; faults is present when the file has a plan or faults.seed; prediction,
 * policy and simulate when the file has them (simulate with every default). Returns
 * NULL when out of memory. Caller owns the result; free with json_decref().
 */
json_t *mc_experiment_to_json(const struct mc_experiment *e);

#endif
