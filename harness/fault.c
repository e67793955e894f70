/* fault.c — the table of fault kinds and the checks of their parameters. */
#include "fault.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netem.h"
#include "util.h"

/* clang-format off */
const struct mc_fault_kind mc_fault_kinds[] = {
	{"crash", MC_FAULT_HOST, 0, 1, "SIGKILL of the guest's QEMU", {{NULL}}},
	{"hang", MC_FAULT_HOST, 1, 0,
	 "stop the guest's vCPUs (QMP stop) without telling the failure detector; "
	 "continued after the duration", {{NULL}}},
	{"reboot", MC_FAULT_HOST, 0, 0,
	 "power-cycle: the guest cold-boots again with its own disk and identity", {{NULL}}},
	{"slow-cpu", MC_FAULT_HOST, 1, 0, "cap the guest's QEMU to a share of one core (cgroup)",
	 {{"quota", MC_FP_PERCENT, 1, NULL, "share of one core, e.g. 20%"}, {NULL}}},
	{"link-down", MC_FAULT_HOST, 1, 0, "unplug the guest's network link (QMP set_link)",
	 {{NULL}}},
	{"partition", MC_FAULT_HOST, 1, 0,
	 "the target guests and all the others stop reaching each other (the controller still "
	 "reaches both sides)", {{NULL}}},
	{"degrade", MC_FAULT_HOST, 0, 0,
	 "a health warning: the guest's error counter (microcosm ls --json: health_errors) "
	 "rises; the guest runs on. A prediction section makes these ahead of failures",
	 {{"errors", MC_FP_INT, 0, NULL, "added to the counter, 1 or more (default 1)"}, {NULL}}},
	{"netem", MC_FAULT_GUEST, 1, 0, "a burst of delay, loss, duplication or corruption on "
	 "the guest's egress",
	 {{"delay", MC_FP_DURATION, 0, NULL, "added one-way latency, e.g. 50ms"},
	  {"loss", MC_FP_PERCENT, 0, NULL, "packets dropped, e.g. 10%"},
	  {"duplicate", MC_FP_PERCENT, 0, NULL, "packets duplicated"},
	  {"corrupt", MC_FP_PERCENT, 0, NULL, "packets with a flipped bit"}}},
	{"bandwidth", MC_FAULT_GUEST, 1, 0, "cut the guest's egress bandwidth",
	 {{"rate", MC_FP_RATE, 1, NULL, "e.g. 1Mbit"}, {NULL}}},
	{"disk-error", MC_FAULT_HOST, 1, 0,
	 "reads and/or writes of the guest's disk fail with EIO (QEMU blkdebug)",
	 {{"iotype", MC_FP_CHOICE, 0, "read|write|both", "which requests fail (default both)"},
	  {NULL}}},
	{"disk-full", MC_FAULT_GUEST, 1, 0, "fill the guest's /data until no space is left",
	 {{NULL}}},
	{"kill", MC_FAULT_GUEST, 0, 0, "kill processes by name in the guest (e.g. one MPI rank)",
	 {{"process", MC_FP_WORD, 1, NULL, "process name, e.g. mc-ring"},
	  {"signal", MC_FP_WORD, 0, NULL, "signal name or number (default KILL)"},
	  {NULL}}},
	{"clock-jump", MC_FAULT_GUEST, 0, 0, "step the guest's wall clock",
	 {{"offset", MC_FP_SIGNED_DURATION, 1, NULL, "e.g. -30s, 2h"}, {NULL}}},
	{"clock-drift", MC_FAULT_GUEST, 1, 0, "make the guest's clock run fast or slow",
	 {{"ppm", MC_FP_INT, 1, NULL, "parts per million, -100000..100000"}, {NULL}}},
	{"bitflip", MC_FAULT_GUEST, 0, 0, "flip one bit in a process's memory (/proc/PID/mem)",
	 {{"process", MC_FP_WORD, 1, NULL, "process name"},
	  {"region", MC_FP_CHOICE, 0, "heap|stack|anon", "where (default heap)"},
	  {NULL}}},
	{"fill-memory", MC_FAULT_GUEST, 1, 0, "allocate and touch guest memory",
	 {{"size", MC_FP_SIZE, 1, NULL, "e.g. 64M"}, {NULL}}},
	{NULL, 0, 0, 0, NULL, {{NULL}}},
};
/* clang-format on */

const struct mc_fault_kind *mc_fault_kind_find(const char *name)
{
	for (const struct mc_fault_kind *k = mc_fault_kinds; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

const struct mc_fault_param *mc_fault_param_find(const struct mc_fault_kind *k, const char *key)
{
	for (int i = 0; i < MC_FAULT_MAX_PARAMS && k->params[i].key; i++)
		if (strcmp(k->params[i].key, key) == 0)
			return &k->params[i];
	return NULL;
}

const char *mc_fault_kind_names(void)
{
	static char buf[512];

	if (!buf[0])
		for (const struct mc_fault_kind *k = mc_fault_kinds; k->name; k++) {
			if (buf[0])
				strcat(buf, ", ");
			strcat(buf, k->name);
		}
	return buf;
}

static int word_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._+-", s[i]))
			return 0;
	return 1;
}

static int choice_ok(const char *choices, const char *s)
{
	size_t n = strlen(s);

	for (const char *c = choices; c && *c;) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);

		if (len == n && strncmp(c, s, n) == 0)
			return 1;
		c = bar ? bar + 1 : NULL;
	}
	return 0;
}

int mc_fault_param_check(const struct mc_fault_param *p, const char *v, char *err, size_t errlen)
{
	uint64_t u;
	struct mc_link l;
	char *end;
	long long ll;
	double d;

	switch (p->type) {
	case MC_FP_DURATION:
		if (mc_parse_duration_ms(v, &u) == 0)
			return 0;
		snprintf(err, errlen, "a duration, e.g. 500ms, 10s, 2m");
		break;
	case MC_FP_SIGNED_DURATION:
		if (mc_parse_duration_ms(v + (v[0] == '-' || v[0] == '+'), &u) == 0 && u > 0)
			return 0;
		snprintf(err, errlen, "a non-zero duration with an optional sign, e.g. -30s, 2h");
		break;
	case MC_FP_PERCENT:
		errno = 0;
		d = strtod(v, &end);
		if (!errno && end != v && strcmp(end, "%") == 0 && d > 0 && d <= 100)
			return 0;
		snprintf(err, errlen, "a percentage above 0 and at most 100%%, e.g. 20%%");
		break;
	case MC_FP_SIZE:
		if (mc_parse_mib(v, &u) == 0 && u > 0 && u <= 1024 * 1024)
			return 0;
		snprintf(err, errlen, "a size, e.g. 64M or 1G");
		break;
	case MC_FP_RATE:
		memset(&l, 0, sizeof(l));
		if (mc_link_parse_kv(&l, "rate", v, NULL, 0) == 0 && !mc_link_is_off(&l))
			return 0;
		snprintf(err, errlen, "a rate, e.g. 1Mbit, 100kbit, 10MB/s");
		break;
	case MC_FP_INT:
		errno = 0;
		ll = strtoll(v, &end, 10);
		if (!errno && end != v && !*end && ll >= -100000 && ll <= 100000)
			return 0;
		snprintf(err, errlen, "an integer -100000..100000");
		break;
	case MC_FP_WORD:
		if (word_ok(v))
			return 0;
		snprintf(err, errlen, "a name of letters, digits and ._+- (at most 63)");
		break;
	case MC_FP_CHOICE:
		if (choice_ok(p->choices, v))
			return 0;
		snprintf(err, errlen, "one of %s", p->choices);
		break;
	}
	return -EINVAL;
}
