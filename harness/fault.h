/* fault.h — fault kinds: one table that plans, the CLI and the injectors share. */
#ifndef MC_FAULT_H
#define MC_FAULT_H

#include <stddef.h>

/* Where a kind is carried out. */
enum mc_fault_where {
	MC_FAULT_HOST,  /* by the controller: the guest's QEMU, QMP, cgroup, the fleet network */
	MC_FAULT_GUEST, /* inside the guest, through its agent (guest tools mc-fault, mc-netem) */
};

/* How a parameter's value is checked. */
enum mc_fault_ptype {
	MC_FP_DURATION,        /* "10s", "250ms", "2m" (>= 0) */
	MC_FP_SIGNED_DURATION, /* "-30s", "+2h", "5s" */
	MC_FP_PERCENT,         /* "10%", "0.5%" (0..100) */
	MC_FP_SIZE,            /* "64M", "1G" (MiB units as --memory) */
	MC_FP_RATE,            /* "1Mbit", "100kbit" (as mc-netem's bandwidth) */
	MC_FP_INT,             /* signed decimal integer */
	MC_FP_WORD,            /* [A-Za-z0-9._+-]{1,63}: a process name, a signal name, ... */
	MC_FP_CHOICE,          /* one of the words in choices ("a|b|c") */
};

struct mc_fault_param {
	const char *key;
	enum mc_fault_ptype type;
	int required;
	const char *choices; /* MC_FP_CHOICE: "read|write|both" */
	const char *help;
};

#define MC_FAULT_MAX_PARAMS 4

struct mc_fault_kind {
	const char *name; /* as written in plans and on the CLI: "crash", "slow-cpu" */
	enum mc_fault_where where;
	int duration; /* 1: takes an optional duration, after which it is reverted */
	int fatal;    /* 1: the guest does not come back (plans draw one failure per guest) */
	const char *help;
	struct mc_fault_param params[MC_FAULT_MAX_PARAMS]; /* key NULL ends the list */
};

/* Every kind, in documentation order; NULL-name terminated. */
extern const struct mc_fault_kind mc_fault_kinds[];

/* The kind called name, or NULL. */
const struct mc_fault_kind *mc_fault_kind_find(const char *name);

/* The parameter key of kind k, or NULL. */
const struct mc_fault_param *mc_fault_param_find(const struct mc_fault_kind *k, const char *key);

/*
 * Checks one parameter value against its type. Returns 0, or -EINVAL with
 * "what was expected" in err (e.g. "a percentage 0..100%, e.g. 20%").
 */
int mc_fault_param_check(const struct mc_fault_param *p, const char *value, char *err,
                         size_t errlen);

/* "crash, hang, reboot, ..." (for error messages). */
const char *mc_fault_kind_names(void);

#endif
