/* policy.h — fault-tolerance policies: one interface for the simulator and for real runs. */
#ifndef MC_POLICY_H
#define MC_POLICY_H

#include <stddef.h>
#include <stdint.h>

/*
 * A policy decides, from what it is told about a tightly coupled job (time, progress, the
 * last checkpoint, health warnings, failures), when to checkpoint the job and which nodes to
 * vacate by live migration. The same policy code serves the simulator (harness/simulate.c)
 * and, later, real runs: whoever runs the job (the executor) calls the policy on every
 * event, carries out the actions it returns, and tells it the outcome through later events
 * (MC_POLICY_EV_CHECKPOINTED, MC_POLICY_EV_MIGRATED, ...). docs/policies.md has the model.
 *
 * A policy is one `const struct mc_policy_ops`. Built-ins (none, checkpoint-restart,
 * proactive-migrate) are listed in policy.c's registry; a researcher's policy is a shared
 * library that defines
 *
 *     const struct mc_policy_ops mc_policy = {.abi = MC_POLICY_ABI,
 *                                             .size = sizeof(struct mc_policy_ops), ...};
 *
 * and is named by its path (anything containing '/' or ending in ".so"). The library is
 * loaded with dlopen() and must have been compiled against this header: abi must equal
 * MC_POLICY_ABI and size must be at least the size this microcosm knows, else loading fails
 * with a message that says so. Everything a policy is given is plain data (no harness
 * functions are needed), so an external policy needs only this header and libc/libm.
 *
 * Times are seconds since the job started (double); progress is seconds of failure-free
 * work. Nodes are indices 0..N-1 for the nodes the job started on and N, N+1, ... for the
 * spares it migrated to, in the order taken.
 *
 * Call order, per job: init (once) → decide (for MC_POLICY_EV_START, then one call per
 * event, in time order) → fini (once, also after a failed init it is not called). A policy
 * keeps all of its state in what init returns: several instances run at once.
 */

#define MC_POLICY_ABI         1           /* version of the structures below */
#define MC_POLICY_MAX_ACTIONS 16          /* actions one decide call may return */
#define MC_POLICY_MAX_PARAMS  16          /* params given to init */
#define MC_POLICY_REASON_MAX  96          /* bytes of a reason, with its NUL */
#define MC_POLICY_SYMBOL      "mc_policy" /* what dlsym() looks up in an external policy */

/* What happened. */
enum mc_policy_event_kind {
	MC_POLICY_EV_START = 0,    /* the job starts; now = 0 */
	MC_POLICY_EV_TIMER,        /* the wake-up time the policy asked for has come */
	MC_POLICY_EV_WARNING,      /* a health warning about a node that holds work */
	MC_POLICY_EV_FAILURE,      /* a node that held work failed: the job restarts from its
	                              last checkpoint (or from the start) */
	MC_POLICY_EV_RESUMED,      /* a restart (or the first launch, with a launch cost) is
	                              over; the job makes progress again */
	MC_POLICY_EV_CHECKPOINTED, /* a checkpoint completed: saved = done */
	MC_POLICY_EV_MIGRATED,     /* a migration completed: node's work is now on spare */
};

/* One event; only the fields its kind names are set, the others are 0. */
struct mc_policy_event {
	enum mc_policy_event_kind kind;
	double now_s;       /* when, s since the job started */
	unsigned node;      /* WARNING, FAILURE, MIGRATED: the node concerned */
	unsigned spare;     /* MIGRATED: the node that holds node's work now */
	double predicted_s; /* WARNING: when the node is predicted to fail, s since the start */
	double signal;      /* WARNING: how much to believe it, 0..1 (the predictor's precision
	                       in the simulator; a health score in real runs) */
	double lost_s;      /* FAILURE: progress lost, s of work */
};

/* The job as it stands at the event. */
struct mc_policy_job {
	double now_s;             /* s since the job started */
	double work_s;            /* failure-free time to solution, s */
	double done_s;            /* progress, s of work (falls back to saved_s on a failure) */
	double saved_s;           /* progress held by the last checkpoint; 0 = none yet */
	double last_checkpoint_s; /* when the last checkpoint completed or the job last
	                             (re)started, s since the start */
	unsigned nodes;           /* nodes that hold work */
	uint64_t spares_left; /* spares that migrations may still take; UINT64_MAX = unlimited */
	int checkpointing;    /* a checkpoint is under way */
	int restarting;       /* a restart is under way */
	unsigned migrating;   /* migrations under way */
};

/* What the policy asks for. */
enum mc_policy_act {
	MC_POLICY_NOTHING = 0, /* recorded, nothing done (a decision not to act) */
	MC_POLICY_CHECKPOINT,  /* checkpoint the whole job now */
	MC_POLICY_MIGRATE,     /* move node's work to a spare now */
};

struct mc_policy_action {
	enum mc_policy_act act;
	unsigned node;                     /* MIGRATE: the node to vacate */
	char reason[MC_POLICY_REASON_MAX]; /* for people: "warned, 28.0s lead > 5.0s migration" */
};

/* decide()'s answer. The caller zeroes it and sets wake_s before each call. */
struct mc_policy_out {
	unsigned n;                                          /* actions, 0..MC_POLICY_MAX_ACTIONS */
	struct mc_policy_action acts[MC_POLICY_MAX_ACTIONS]; /* carried out in this order */
	double wake_s; /* on entry the armed wake-up (-1: none); the policy may set a new time
	                  (>= now; earlier values mean now) or -1 to disarm. One timer only. */
};

/* One parameter as written in the experiment file (policy.params) or on the command line. */
struct mc_policy_param {
	const char *key;   /* borrowed */
	const char *value; /* borrowed */
};

/* What a policy knows about the job when it starts. Borrowed for the init call. */
struct mc_policy_env {
	unsigned nodes;       /* nodes the job runs on */
	double work_s;        /* failure-free time to solution, s */
	double checkpoint_s;  /* cost of one checkpoint (no progress meanwhile), s */
	double restart_s;     /* cost of a restart after a failure, s */
	double migrate_s;     /* downtime of one migration, s */
	double node_mtbf_s;   /* mean time between failures of one node, s; 0 = no failures */
	double system_mtbf_s; /* of the whole job: node_mtbf_s / nodes; 0 = no failures */
	double lead_s;        /* the predictor's lead; 0 = no predictor */
	double recall;        /* share of failures that are warned about, 0..1 */
	double precision;     /* share of warnings that are followed by a failure, 0..1 */
	unsigned n_params;    /* entries in params */
	const struct mc_policy_param *params; /* borrowed; keys are distinct */
};

/* A policy. */
struct mc_policy_ops {
	uint32_t abi;     /* MC_POLICY_ABI */
	uint32_t size;    /* sizeof(struct mc_policy_ops) where it was compiled */
	const char *name; /* "checkpoint-restart" */
	const char *help; /* one line, with its params: "interval: DURATION | auto | daly" */
	/* Checks env->params (unknown keys and bad values are errors) and creates the state.
	 * Does no I/O. Returns 0 with *state set (may be NULL), or a negative code with
	 * "KEY: expected ..., got "V"" in err. Required. */
	int (*init)(const struct mc_policy_env *env, void **state, char *err, size_t errlen);
	/* Decides what to do about ev. out is zeroed but for wake_s. Returns 0, or a negative
	 * code to stop the job (the executor reports it). Required. */
	int (*decide)(void *state, const struct mc_policy_event *ev,
	              const struct mc_policy_job *job, struct mc_policy_out *out);
	/* Frees state. May be NULL. */
	void (*fini)(void *state);
};

/* ---- the registry and instances (policy.c) ---- */

/* The built-ins, NULL-terminated: none, checkpoint-restart, proactive-migrate. */
extern const struct mc_policy_ops *const mc_policy_builtins[];

/* The built-in called name, or NULL. */
const struct mc_policy_ops *mc_policy_builtin(const char *name);

/* Whether name is a path to an external policy (contains '/' or ends in ".so"). */
int mc_policy_is_path(const char *name);

/* "none, checkpoint-restart, proactive-migrate" (static). */
const char *mc_policy_builtin_names(void);

/* One decision (or refusal) as it was made: what the executor writes down. */
struct mc_policy_record {
	const char *policy;              /* the policy's name; borrowed */
	double time_s;                   /* when */
	enum mc_policy_event_kind event; /* what the policy was answering */
	unsigned event_node;             /* the event's node (WARNING, FAILURE, MIGRATED) */
	struct mc_policy_action action;  /* what it asked for */
	int refused;                     /* 1: the executor did not carry it out */
	char why[MC_POLICY_REASON_MAX];  /* refused: why ("no spares left") */
};

/* Called for every record; ctx is the one given to mc_policy_set_recorder(). The record
 * is borrowed for the call. */
typedef void (*mc_policy_record_fn)(void *ctx, const struct mc_policy_record *r);

struct mc_policy; /* an instance: ops + state (+ the library it came from) */

/*
 * Creates an instance of the policy called name: a built-in, or the shared library at the
 * path name (dlopen, then dlsym(MC_POLICY_SYMBOL)), initialised with env. Returns NULL with
 * err set: "unknown policy "x" (expected none, ..., or a PATH.so)", "PATH: cannot load:
 * <dlerror>", "PATH: no symbol mc_policy (...)", "PATH: policy ABI 7, microcosm expects 1
 * (...)", or init's own message prefixed with the policy's name. Caller owns the result;
 * free with mc_policy_destroy().
 */
struct mc_policy *mc_policy_new(const char *name, const struct mc_policy_env *env, char *err,
                                size_t errlen);

/* Frees *p (fini, then dlclose for an external one) and sets *p to NULL. Accepts NULL. */
void mc_policy_destroy(struct mc_policy **p);

/* The instance's ops (borrowed, valid until mc_policy_destroy()). */
const struct mc_policy_ops *mc_policy_ops_of(const struct mc_policy *p);

/* Sets the function every record goes to (NULL: none). */
void mc_policy_set_recorder(struct mc_policy *p, mc_policy_record_fn fn, void *ctx);

/*
 * Calls the policy's decide for ev, checks the actions (a known act; MIGRATE of a node
 * below job->nodes + the spares taken is up to the executor) and records each action
 * (also NOTHING). out->wake_s must be set by the caller to the armed wake-up (-1: none);
 * on return it holds the policy's choice, clamped to >= ev->now_s or -1. Returns 0, or a
 * negative code with err set when the policy failed or returned garbage (then out->n = 0).
 */
int mc_policy_decide(struct mc_policy *p, const struct mc_policy_event *ev,
                     const struct mc_policy_job *job, struct mc_policy_out *out, char *err,
                     size_t errlen);

/* Records that the executor did not carry out action a at time now (why: "no spares
 * left"). */
void mc_policy_refused(struct mc_policy *p, double now_s, const struct mc_policy_event *ev,
                       const struct mc_policy_action *a, const char *why);

/* Names for records and logs: "warning", "checkpoint", ... (static strings). */
const char *mc_policy_event_name(enum mc_policy_event_kind k);
const char *mc_policy_act_name(enum mc_policy_act a);

/*
 * Checks a built-in's params without running it (init with a stand-in job of 1 node, 1h of
 * work and a 1-day MTBF): what experiment.c calls so that a bad file fails before anything
 * starts. Returns 0; -ENOENT when name is not a built-in (nothing is checked then);
 * -EINVAL with init's message in err.
 */
int mc_policy_check_builtin(const char *name, const struct mc_policy_param *params, unsigned n,
                            char *err, size_t errlen);

/* ---- helpers for policies ---- */

/* Young's interval between checkpoints: sqrt(2 C M), C the checkpoint cost and M the system
 * MTBF, both in s. 0 when M or C is 0. */
double mc_policy_young(double checkpoint_s, double system_mtbf_s);

/* Daly's higher-order interval (2006): for C < 2M,
 *   sqrt(2 C M) (1 + sqrt(C / (2M)) / 3 + (C / (2M)) / 9) - C,
 * else M. 0 when M or C is 0. */
double mc_policy_daly(double checkpoint_s, double system_mtbf_s);

/*
 * A checkpoint interval as written in params: "none" (0), "auto" (Young), "daly", or a
 * duration ("10m", "90s", "500ms"). mtbf is the MTBF the formulas use. *interval_s gets 0
 * for none, or when the formula has nothing to work with (no failures, C = 0). Returns 0
 * or -EINVAL.
 */
int mc_policy_parse_interval(const char *value, double checkpoint_s, double mtbf_s,
                             double *interval_s);

/* The value of params[key] in env, or NULL. */
const char *mc_policy_param_get(const struct mc_policy_env *env, const char *key);

/* Fails (-EINVAL, "KEY: unknown parameter (expected a, b)" in err) when env has a param not
 * in allowed (NULL-terminated); "takes no parameters" when allowed is empty. */
int mc_policy_params_only(const struct mc_policy_env *env, const char *const *allowed,
                          const char *policy, char *err, size_t errlen);

#endif
