/* netem.c — link parameters, and netem/prio/u32 configuration over rtnetlink (libmnl). */
#include "netem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <math.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#define NETEM_BUF_SIZE 8192

/* Handles: the prio root, the flat netem root, the first band's netem. */
#define PRIO_HANDLE  0x00010000u /* 1: */
#define FLAT_HANDLE  0x00020000u /* 2: */
#define BAND_HANDLE0 0x00100000u /* 10: (band k: k+10:) */
#define FILTER_PREF  10u

/* Bounds of accepted values. */
#define MAX_TIME_US     60000000.0 /* 60 s */
#define MAX_RATE_BPS    1e14       /* 100 Tbit/s */
#define NOMINAL_RATE    1e9        /* bits/s assumed for the limit when no bandwidth is set */
#define LIMIT_PKT_BYTES 1500.0

struct mc_netem {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	double ticks_per_us; /* packet scheduler ticks per microsecond (15.625 on 64 ns ticks) */
	int match_dst;       /* classes match the destination address, not the source */
	uint32_t *scratch;   /* sorted addresses while building filters */
	size_t scratch_cap;
	char buf[NETEM_BUF_SIZE];
};

/* ---- Errors ---------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- Parsing and formatting ------------------------------------------------------------- */

static const struct {
	const char *key;
	unsigned field;
} link_keys[] = {
        {"latency", MC_LINK_F_DELAY},   {"delay", MC_LINK_F_DELAY},
        {"jitter", MC_LINK_F_JITTER},   {"loss", MC_LINK_F_LOSS},
        {"duplicate", MC_LINK_F_DUP},   {"corrupt", MC_LINK_F_CORRUPT},
        {"reorder", MC_LINK_F_REORDER}, {"bandwidth", MC_LINK_F_RATE},
        {"rate", MC_LINK_F_RATE},       {"limit", MC_LINK_F_LIMIT},
};

unsigned mc_link_key_field(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(link_keys) / sizeof(link_keys[0]); i++)
		if (!strcmp(key, link_keys[i].key))
			return link_keys[i].field;
	return 0;
}

void mc_link_merge(struct mc_link *dst, const struct mc_link *src, unsigned fields)
{
	if (fields & MC_LINK_F_DELAY)
		dst->delay_us = src->delay_us;
	if (fields & MC_LINK_F_JITTER)
		dst->jitter_us = src->jitter_us;
	if (fields & MC_LINK_F_LOSS)
		dst->loss_pct = src->loss_pct;
	if (fields & MC_LINK_F_DUP)
		dst->dup_pct = src->dup_pct;
	if (fields & MC_LINK_F_CORRUPT)
		dst->corrupt_pct = src->corrupt_pct;
	if (fields & MC_LINK_F_REORDER)
		dst->reorder_pct = src->reorder_pct;
	if (fields & MC_LINK_F_RATE)
		dst->rate_bps = src->rate_bps;
	if (fields & MC_LINK_F_LIMIT)
		dst->limit = src->limit;
}

int mc_link_is_off(const struct mc_link *l)
{
	return !l->delay_us && !l->jitter_us && l->loss_pct == 0 && l->dup_pct == 0 &&
	       l->corrupt_pct == 0 && l->reorder_pct == 0 && !l->rate_bps;
}

static int is_off_word(const char *v)
{
	return !strcmp(v, "0") || !strcasecmp(v, "off") || !strcasecmp(v, "none");
}

/* A plain non-negative decimal number (no sign, hex, inf or nan) followed by a unit. */
static int parse_number(const char *s, double *out, const char **unit)
{
	char *end;

	if (!isdigit((unsigned char)s[0]) && !(s[0] == '.' && isdigit((unsigned char)s[1])))
		return -EINVAL;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	if (errno || !isfinite(*out) || *out < 0)
		return -EINVAL;
	while (*end == ' ')
		end++;
	*unit = end;
	return 0;
}

static int parse_time_us(const char *key, const char *v, uint32_t *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		double us;
	} units[] = {{"ns", 1e-3},  {"nsec", 1e-3}, {"us", 1},    {"usec", 1},  {"ms", 1e3},
	             {"msec", 1e3}, {"s", 1e6},     {"sec", 1e6}, {"secs", 1e6}};
	const char *unit;
	double x;
	size_t i;

	if (is_off_word(v)) {
		*out = 0;
		return 0;
	}
	if (parse_number(v, &x, &unit)) {
		set_err(err, errlen, "%s \"%s\": not a time (e.g. 100us, 1.5ms, 2s)", key, v);
		return -EINVAL;
	}
	if (!*unit) {
		set_err(err, errlen, "%s \"%s\": missing unit (ns, us, ms or s)", key, v);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcasecmp(unit, units[i].name))
			break;
	if (i == sizeof(units) / sizeof(units[0])) {
		set_err(err, errlen, "%s \"%s\": unknown unit \"%s\" (ns, us, ms or s)", key, v,
		        unit);
		return -EINVAL;
	}
	x = round(x * units[i].us);
	if (x > MAX_TIME_US) {
		set_err(err, errlen, "%s \"%s\": too large (at most 60s)", key, v);
		return -EINVAL;
	}
	if (x < 1 && strtod(v, NULL) != 0) {
		set_err(err, errlen, "%s \"%s\": below the 1us resolution", key, v);
		return -EINVAL;
	}
	*out = (uint32_t)x;
	return 0;
}

static int parse_percent(const char *key, const char *v, double *out, char *err, size_t errlen)
{
	const char *unit;
	double x;

	if (is_off_word(v)) {
		*out = 0;
		return 0;
	}
	if (parse_number(v, &x, &unit)) {
		set_err(err, errlen, "%s \"%s\": not a percentage (e.g. 0.1%%, 10%%)", key, v);
		return -EINVAL;
	}
	if (strcmp(unit, "%")) {
		if (*unit)
			set_err(err, errlen,
			        "%s \"%s\": unknown unit \"%s\" (write a percentage: 10%%)", key, v,
			        unit);
		else
			set_err(err, errlen, "%s \"%s\": missing \"%%\" (write %s%%)", key, v, v);
		return -EINVAL;
	}
	if (x > 100) {
		set_err(err, errlen, "%s \"%s\": more than 100%%", key, v);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int parse_rate(const char *key, const char *v, uint64_t *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		double bps;
		int case_exact; /* byte units: "B" must be upper case */
	} units[] = {
	        {"bit", 1, 0},           {"kbit", 1e3, 0},           {"mbit", 1e6, 0},
	        {"gbit", 1e9, 0},        {"tbit", 1e12, 0},          {"kibit", 1024.0, 0},
	        {"mibit", 1048576.0, 0}, {"gibit", 1073741824.0, 0}, {"B/s", 8, 1},
	        {"kB/s", 8e3, 1},        {"KB/s", 8e3, 1},           {"MB/s", 8e6, 1},
	        {"GB/s", 8e9, 1},        {"TB/s", 8e12, 1},          {"bps", 8, 0},
	        {"kbps", 8e3, 0},        {"mbps", 8e6, 0},           {"gbps", 8e9, 0},
	        {"tbps", 8e12, 0},
	};
	const char *unit;
	double x;
	size_t i, n = sizeof(units) / sizeof(units[0]);

	if (is_off_word(v)) {
		*out = 0;
		return 0;
	}
	if (parse_number(v, &x, &unit)) {
		set_err(err, errlen, "%s \"%s\": not a bandwidth (e.g. 1Gbit, 100Mbit, 10MB/s)",
		        key, v);
		return -EINVAL;
	}
	if (!*unit) {
		set_err(err, errlen, "%s \"%s\": missing unit (bit, kbit, Mbit, Gbit or MB/s)", key,
		        v);
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		if (units[i].case_exact ? !strcmp(unit, units[i].name)
		                        : !strcasecmp(unit, units[i].name))
			break;
	if (i == n) {
		set_err(err, errlen,
		        "%s \"%s\": unknown unit \"%s\" (bits/s: bit, kbit, Mbit, Gbit, Tbit, "
		        "Kibit; "
		        "bytes/s: B/s, kB/s, MB/s, GB/s, or tc's bps, kbps, mbps, gbps)",
		        key, v, unit);
		return -EINVAL;
	}
	x = round(x * units[i].bps);
	if (x > MAX_RATE_BPS) {
		set_err(err, errlen, "%s \"%s\": too large (at most 100Tbit)", key, v);
		return -EINVAL;
	}
	if (x < 8 && strtod(v, NULL) != 0) {
		set_err(err, errlen, "%s \"%s\": below 8bit (1 byte per second)", key, v);
		return -EINVAL;
	}
	*out = (uint64_t)x;
	return 0;
}

static int parse_limit(const char *key, const char *v, uint32_t *out, char *err, size_t errlen)
{
	unsigned long long x;
	char *end;

	if (is_off_word(v)) {
		*out = 0;
		return 0;
	}
	errno = 0;
	x = isdigit((unsigned char)v[0]) ? strtoull(v, &end, 10) : 0;
	if (!isdigit((unsigned char)v[0]) || errno || *end || x == 0 || x > UINT32_MAX) {
		set_err(err, errlen, "%s \"%s\": not a packet count (1 to %u)", key, v, UINT32_MAX);
		return -EINVAL;
	}
	*out = (uint32_t)x;
	return 0;
}

int mc_link_parse_kv(struct mc_link *l, const char *key, const char *value, char *err,
                     size_t errlen)
{
	const char *v = value ? value : "";

	while (*v == ' ')
		v++;
	switch (mc_link_key_field(key)) {
	case MC_LINK_F_DELAY:
		return parse_time_us(key, v, &l->delay_us, err, errlen);
	case MC_LINK_F_JITTER:
		return parse_time_us(key, v, &l->jitter_us, err, errlen);
	case MC_LINK_F_LOSS:
		return parse_percent(key, v, &l->loss_pct, err, errlen);
	case MC_LINK_F_DUP:
		return parse_percent(key, v, &l->dup_pct, err, errlen);
	case MC_LINK_F_CORRUPT:
		return parse_percent(key, v, &l->corrupt_pct, err, errlen);
	case MC_LINK_F_REORDER:
		return parse_percent(key, v, &l->reorder_pct, err, errlen);
	case MC_LINK_F_RATE:
		return parse_rate(key, v, &l->rate_bps, err, errlen);
	case MC_LINK_F_LIMIT:
		return parse_limit(key, v, &l->limit, err, errlen);
	}
	set_err(err, errlen,
	        "unknown link key \"%s\" (latency, jitter, loss, duplicate, corrupt, reorder, "
	        "bandwidth, limit)",
	        key);
	return -ENOENT;
}

int mc_link_check(const struct mc_link *l, char *err, size_t errlen)
{
	if (l->jitter_us && !l->delay_us) {
		set_err(err, errlen, "jitter %uus without latency: set a latency too",
		        l->jitter_us);
		return -EINVAL;
	}
	if (l->reorder_pct > 0 && !l->delay_us) {
		set_err(err, errlen,
		        "reorder %g%% without latency: reordering sends some packets ahead of "
		        "delayed ones, set a latency too",
		        l->reorder_pct);
		return -EINVAL;
	}
	if (l->loss_pct < 0 || l->loss_pct > 100 || l->dup_pct < 0 || l->dup_pct > 100 ||
	    l->corrupt_pct < 0 || l->corrupt_pct > 100 || l->reorder_pct < 0 ||
	    l->reorder_pct > 100) {
		set_err(err, errlen, "a probability is outside [0%%, 100%%]");
		return -EINVAL;
	}
	if (l->rate_bps && l->rate_bps < 8) {
		set_err(err, errlen, "bandwidth %llubit below 8bit (1 byte per second)",
		        (unsigned long long)l->rate_bps);
		return -EINVAL;
	}
	return 0;
}

static void format_time(char *b, size_t n, uint32_t us)
{
	if (us >= 1000000)
		snprintf(b, n, "%.9gs", us / 1e6);
	else if (us >= 1000)
		snprintf(b, n, "%.9gms", us / 1e3);
	else
		snprintf(b, n, "%uus", us);
}

static void format_rate(char *b, size_t n, uint64_t bps)
{
	static const struct {
		const char *name;
		double scale;
	} units[] = {{"Tbit", 1e12}, {"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if ((double)bps >= units[i].scale) {
			snprintf(b, n, "%.12g%s", (double)bps / units[i].scale, units[i].name);
			return;
		}
	snprintf(b, n, "%llubit", (unsigned long long)bps);
}

char *mc_link_format(const struct mc_link *l, char *buf, size_t len)
{
	char t[32];
	size_t o = 0;

#define APPEND(...)                                                                                \
	do {                                                                                       \
		if (o < len)                                                                       \
			o += (size_t)snprintf(buf + o, len - o, __VA_ARGS__);                      \
	} while (0)

	if (!len)
		return buf;
	buf[0] = '\0';
	if (l->delay_us) {
		format_time(t, sizeof(t), l->delay_us);
		APPEND("%slatency %s", o ? " " : "", t);
	}
	if (l->jitter_us) {
		format_time(t, sizeof(t), l->jitter_us);
		APPEND("%sjitter %s", o ? " " : "", t);
	}
	if (l->loss_pct > 0)
		APPEND("%sloss %.9g%%", o ? " " : "", l->loss_pct);
	if (l->dup_pct > 0)
		APPEND("%sduplicate %.9g%%", o ? " " : "", l->dup_pct);
	if (l->corrupt_pct > 0)
		APPEND("%scorrupt %.9g%%", o ? " " : "", l->corrupt_pct);
	if (l->reorder_pct > 0)
		APPEND("%sreorder %.9g%%", o ? " " : "", l->reorder_pct);
	if (l->rate_bps) {
		format_rate(t, sizeof(t), l->rate_bps);
		APPEND("%sbandwidth %s", o ? " " : "", t);
	}
	if (l->limit)
		APPEND("%slimit %u", o ? " " : "", l->limit);
	if (!o)
		APPEND("none");
#undef APPEND
	return buf;
}

uint32_t mc_link_limit(const struct mc_link *l)
{
	double bps, pkts;

	if (l->limit)
		return l->limit;
	bps = l->rate_bps ? (double)l->rate_bps : NOMINAL_RATE;
	pkts = 1000 + ceil((double)(l->delay_us + (uint64_t)l->jitter_us) * 1e-6 * bps / 8 /
	                   LIMIT_PKT_BYTES);
	return pkts > UINT32_MAX ? UINT32_MAX : (uint32_t)pkts;
}

/* ---- The socket ------------------------------------------------------------------------- */

/* Ticks per microsecond of the packet scheduler, as iproute2's tc_core_init() computes. */
static int read_psched(double *ticks_per_us, char *err, size_t errlen)
{
	unsigned t2us, us2t, clock_res;
	FILE *fp = fopen("/proc/net/psched", "re");
	int n;

	if (!fp) {
		set_err(err, errlen, "netem: read /proc/net/psched: %s", strerror(errno));
		return -errno;
	}
	n = fscanf(fp, "%08x%08x%08x", &t2us, &us2t, &clock_res);
	fclose(fp);
	if (n != 3 || !us2t || !clock_res) {
		set_err(err, errlen, "netem: read /proc/net/psched: unexpected contents");
		return -EINVAL;
	}
	/* A nanosecond clock advertises a multiplier of 1000 for old binaries. */
	if (clock_res == 1000000000)
		t2us = us2t;
	*ticks_per_us = (double)t2us / us2t * ((double)clock_res / 1e6);
	return 0;
}

struct mc_netem *mc_netem_new(char *err, size_t errlen)
{
	struct mc_netem *nl = calloc(1, sizeof(*nl));
	struct timeval tv = {.tv_sec = 5};
	int one = 1;

	if (!nl) {
		set_err(err, errlen, "netem: out of memory");
		return NULL;
	}
	if (read_psched(&nl->ticks_per_us, err, errlen))
		goto fail;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock) {
		set_err(err, errlen, "netem: open rtnetlink socket: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		set_err(err, errlen, "netem: bind rtnetlink socket: %s", strerror(errno));
		goto fail;
	}
	/* The kernel's reason in error acks, without a copy of the request. Best effort. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	/* A kernel that never answers must not hang the controller. */
	setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	nl->portid = mnl_socket_get_portid(nl->sock);
	return nl;
fail:
	mc_netem_destroy(&nl);
	return NULL;
}

void mc_netem_destroy(struct mc_netem **nlp)
{
	struct mc_netem *nl;

	if (!nlp || !*nlp)
		return;
	nl = *nlp;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->scratch);
	free(nl);
	*nlp = NULL;
}

struct ack {
	char msg[160]; /* the kernel's extended-ack message, if any */
};

static int extack_attr(const struct nlattr *a, void *data)
{
	struct ack *ack = data;
	size_t n;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
		snprintf(ack->msg, sizeof(ack->msg), "%s", mnl_attr_get_str(a));
		/* Drop the kernel's trailing full stop: the caller's message goes on. */
		n = strlen(ack->msg);
		if (n && ack->msg[n - 1] == '.')
			ack->msg[n - 1] = '\0';
	}
	return MNL_CB_OK;
}

/* Sends the request in nl->buf and waits for its acknowledgement. Returns 0 or -errno. */
static int talk(struct mc_netem *nl, struct nlmsghdr *nlh, struct ack *ack)
{
	char rbuf[NETEM_BUF_SIZE];
	ssize_t n;

	ack->msg[0] = '\0';
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		const struct nlmsghdr *r;
		int len;

		n = mnl_socket_recvfrom(nl->sock, rbuf, sizeof(rbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		len = (int)n;
		for (r = (const struct nlmsghdr *)rbuf; mnl_nlmsg_ok(r, len);
		     r = mnl_nlmsg_next(r, &len)) {
			const struct nlmsgerr *e;
			size_t off;

			if (r->nlmsg_seq != nlh->nlmsg_seq || r->nlmsg_type != NLMSG_ERROR)
				continue; /* a stale answer */
			if (r->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			e = mnl_nlmsg_get_payload(r);
			if (r->nlmsg_flags & NLM_F_ACK_TLVS) {
				off = sizeof(*e);
				if (!(r->nlmsg_flags & NLM_F_CAPPED))
					off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
				if (NLMSG_LENGTH(off) <= r->nlmsg_len)
					mnl_attr_parse(r, (unsigned)off, extack_attr, ack);
			}
			return e->error <= 0 ? e->error : -e->error;
		}
	}
}

static struct nlmsghdr *tc_msg(struct mc_netem *nl, uint16_t type, uint16_t flags, int ifindex,
                               uint32_t parent, uint32_t handle, uint32_t info)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct tcmsg *tcm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	tcm->tcm_handle = handle;
	tcm->tcm_info = info;
	return nlh;
}

/* ---- Steps ------------------------------------------------------------------------------- */

struct step {
	struct mc_netem *nl;
	int ifindex;
	char *err;
	size_t errlen;
};

static void handle_str(char *b, size_t n, uint32_t h)
{
	if (h == TC_H_ROOT)
		snprintf(b, n, "root");
	else if (TC_H_MIN(h))
		snprintf(b, n, "%x:%x", TC_H_MAJ(h) >> 16, TC_H_MIN(h));
	else
		snprintf(b, n, "%x:", TC_H_MAJ(h) >> 16);
}

/* Reports a failed step: "mct3 (ifindex 7): set netem qdisc 10: at 1:1: <kernel message>
 * (<errno>)". */
static int step_fail(const struct step *s, int rc, const struct ack *ack, const char *what)
{
	char name[IF_NAMESIZE + 4] = "", why[256];

	if (if_indextoname((unsigned)s->ifindex, name))
		strcat(name, " ");
	if (ack->msg[0])
		snprintf(why, sizeof(why), "%s (%s)", ack->msg, strerror(-rc));
	else
		snprintf(why, sizeof(why), "%s", strerror(-rc));
	set_err(s->err, s->errlen, "%s%sifindex %d%s: %s: %s%s", name, name[0] ? "(" : "",
	        s->ifindex, name[0] ? ")" : "", what, why,
	        rc == -ENOENT && strstr(ack->msg, "qdisc kind is unknown")
	                ? "; does this kernel have sch_netem, sch_prio and cls_u32?"
	                : "");
	return rc;
}

static uint32_t percent_scaled(double pct)
{
	return (uint32_t)rint(pct / 100.0 * (double)UINT32_MAX);
}

/* Builds and sends one netem qdisc (create, or change in place when it already exists). */
static int put_netem(const struct step *s, uint32_t parent, uint32_t handle,
                     const struct mc_link *l)
{
	struct mc_netem *nl = s->nl;
	struct tc_netem_qopt q = {0};
	struct tc_netem_corr corr = {0};
	struct tc_netem_reorder reorder = {0};
	struct tc_netem_corrupt corrupt = {0};
	struct tc_netem_rate rate = {0};
	uint64_t rate_bytes = l->rate_bps / 8;
	double lat = (double)l->delay_us * nl->ticks_per_us;
	double jit = (double)l->jitter_us * nl->ticks_per_us;
	char what[96], hp[16], hh[16];
	struct nlmsghdr *nlh;
	struct nlattr *opt;
	struct ack ack;
	int rc;

	q.latency = (uint32_t)lat; /* truncated, as tc does */
	q.jitter = (uint32_t)jit;
	q.limit = mc_link_limit(l);
	q.loss = percent_scaled(l->loss_pct);
	q.duplicate = percent_scaled(l->dup_pct);
	reorder.probability = percent_scaled(l->reorder_pct);
	q.gap = reorder.probability ? 1 : 0;
	corrupt.probability = percent_scaled(l->corrupt_pct);

	nlh = tc_msg(nl, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, s->ifindex, parent, handle, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "netem");
	/* TCA_OPTIONS is the fixed struct followed by attributes (not a plain nest). */
	opt = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put(nlh, TCA_OPTIONS, sizeof(q), &q);
	/*
	 * netem keeps the old value of an attribute that is absent when it changes
	 * an existing qdisc: send every one, zero when off, so a re-apply that
	 * turns something off does turn it off.
	 */
	mnl_attr_put(nlh, TCA_NETEM_CORR, sizeof(corr), &corr);
	mnl_attr_put(nlh, TCA_NETEM_REORDER, sizeof(reorder), &reorder);
	mnl_attr_put(nlh, TCA_NETEM_CORRUPT, sizeof(corrupt), &corrupt);
	if (rate_bytes > UINT32_MAX) {
		mnl_attr_put_u64(nlh, TCA_NETEM_RATE64, rate_bytes);
		rate.rate = UINT32_MAX;
	} else {
		rate.rate = (uint32_t)rate_bytes;
	}
	mnl_attr_put(nlh, TCA_NETEM_RATE, sizeof(rate), &rate);
	opt->nla_len = (uint16_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)opt);
	rc = talk(nl, nlh, &ack);
	if (!rc)
		return 0;
	handle_str(hp, sizeof(hp), parent);
	handle_str(hh, sizeof(hh), handle);
	snprintf(what, sizeof(what), "set netem qdisc %s at %s", hh, hp);
	return step_fail(s, rc, &ack, what);
}

static int put_prio(const struct step *s, unsigned bands)
{
	struct tc_prio_qopt p = {0};
	struct nlmsghdr *nlh;
	struct ack ack;
	char what[64];
	int rc;

	p.bands = (int)bands;
	memset(p.priomap, (int)(bands - 1), sizeof(p.priomap));
	nlh = tc_msg(s->nl, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, s->ifindex, TC_H_ROOT,
	             PRIO_HANDLE, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "prio");
	mnl_attr_put(nlh, TCA_OPTIONS, sizeof(p), &p);
	rc = talk(s->nl, nlh, &ack);
	if (!rc)
		return 0;
	snprintf(what, sizeof(what), "set prio qdisc 1: (%u bands) at root", bands);
	return step_fail(s, rc, &ack, what);
}

/* Deletes every filter attached to the prio root (none is fine). */
static int flush_filters(const struct step *s)
{
	struct nlmsghdr *nlh = tc_msg(s->nl, RTM_DELTFILTER, 0, s->ifindex, PRIO_HANDLE, 0, 0);
	struct ack ack;
	int rc = talk(s->nl, nlh, &ack);

	if (rc == -ENOENT)
		return 0;
	return rc ? step_fail(s, rc, &ack, "flush filters at 1:") : 0;
}

/* One u32 filter: IPv4 source in addr/plen (host order) -> classid. */
static int put_filter(const struct step *s, uint32_t addr, unsigned plen, uint32_t classid)
{
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} m;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	struct ack ack;
	char what[96], a[INET_ADDRSTRLEN];
	uint32_t mask = plen ? 0xffffffffu << (32 - plen) : 0;
	struct in_addr ia = {.s_addr = htonl(addr)};
	int rc;

	memset(&m, 0, sizeof(m));
	m.sel.flags = TC_U32_TERMINAL;
	m.sel.nkeys = 1;
	m.key.mask = htonl(mask);
	m.key.val = htonl(addr & mask);
	m.key.off = s->nl->match_dst ? 16 : 12; /* the IPv4 destination or source address */
	nlh = tc_msg(s->nl, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, s->ifindex, PRIO_HANDLE, 0,
	             TC_H_MAKE(FILTER_PREF << 16, htons(ETH_P_IP)));
	mnl_attr_put_strz(nlh, TCA_KIND, "u32");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put_u32(nlh, TCA_U32_CLASSID, classid);
	mnl_attr_put(nlh, TCA_U32_SEL, sizeof(m), &m);
	mnl_attr_nest_end(nlh, nest);
	rc = talk(s->nl, nlh, &ack);
	if (!rc)
		return 0;
	inet_ntop(AF_INET, &ia, a, sizeof(a));
	snprintf(what, sizeof(what), "add u32 filter src %s/%u -> 1:%x", a, plen,
	         TC_H_MIN(classid));
	return step_fail(s, rc, &ack, what);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Filters covering exactly the addresses of one class (sorted, host order, deduplicated
 * by the caller): each run of consecutive addresses becomes the fewest CIDR prefixes. */
static int put_class_filters(const struct step *s, const uint32_t *a, size_t n, uint32_t classid)
{
	size_t i = 0;

	while (i < n) {
		uint64_t lo = a[i], hi = a[i];
		int rc;

		while (i + 1 < n && a[i + 1] == hi + 1)
			hi = a[++i];
		i++;
		while (lo <= hi) {
			unsigned plen = 32;

			/* Widest block aligned at lo that stays within [lo, hi]. */
			while (plen > 0) {
				uint64_t size = 1ull << (33 - plen);

				if ((lo & (size - 1)) || lo + size - 1 > hi)
					break;
				plen--;
			}
			rc = put_filter(s, (uint32_t)lo, plen, classid);
			if (rc)
				return rc;
			lo += 1ull << (32 - plen);
		}
	}
	return 0;
}

static int grow_scratch(struct mc_netem *nl, size_t n)
{
	uint32_t *p;

	if (n <= nl->scratch_cap)
		return 0;
	p = realloc(nl->scratch, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	nl->scratch = p;
	nl->scratch_cap = n;
	return 0;
}

/*
 * Copies each class's addresses into nl->scratch (host order, sorted, duplicates
 * within a class dropped), class after class, with counts[i] addresses for class
 * i. Refuses an address listed in two classes: the filters would contradict.
 */
static int collect_sources(struct mc_netem *nl, const struct mc_netem_class *classes,
                           size_t nclasses, size_t *counts, char *err, size_t errlen)
{
	size_t total = 0, i, j, k = 0;
	uint32_t *all;

	for (i = 0; i < nclasses; i++)
		total += classes[i].nsrc;
	all = malloc((total ? total : 1) * sizeof(*all));
	if (!all || grow_scratch(nl, total ? total : 1)) {
		free(all);
		set_err(err, errlen, "netem: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < nclasses; i++) {
		uint32_t *a = nl->scratch + k;
		size_t n = 0;

		for (j = 0; j < classes[i].nsrc; j++)
			a[j] = ntohl(classes[i].src[j]);
		qsort(a, classes[i].nsrc, sizeof(*a), cmp_u32);
		for (j = 0; j < classes[i].nsrc; j++)
			if (!n || a[j] != a[n - 1])
				a[n++] = a[j];
		counts[i] = n;
		k += n;
	}
	memcpy(all, nl->scratch, k * sizeof(*all));
	qsort(all, k, sizeof(*all), cmp_u32);
	for (j = 1; j < k; j++)
		if (all[j] == all[j - 1]) {
			struct in_addr ia = {.s_addr = htonl(all[j])};
			char a[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &ia, a, sizeof(a));
			set_err(err, errlen, "netem: source %s is listed in two classes", a);
			free(all);
			return -EINVAL;
		}
	free(all);
	return 0;
}

/* mc_link_check() plus what depends on this kernel's scheduler clock. */
static int validate(const struct mc_netem *nl, const struct mc_link *l, char *err, size_t errlen)
{
	int rc = mc_link_check(l, err, errlen);

	if (rc)
		return rc;
	if ((double)l->delay_us * nl->ticks_per_us > UINT32_MAX ||
	    (double)l->jitter_us * nl->ticks_per_us > UINT32_MAX) {
		set_err(err, errlen, "latency or jitter too large for the scheduler clock");
		return -EINVAL;
	}
	return 0;
}

/* ---- Public --------------------------------------------------------------------------- */

int mc_netem_clear(struct mc_netem *nl, int ifindex, char *err, size_t errlen)
{
	struct step s = {nl, ifindex, err, errlen};
	struct nlmsghdr *nlh;
	struct ack ack;
	int rc;

	if (!nl || ifindex <= 0) {
		set_err(err, errlen, "netem: clear: bad arguments (ifindex %d)", ifindex);
		return -EINVAL;
	}
	nlh = tc_msg(nl, RTM_DELQDISC, 0, ifindex, TC_H_ROOT, 0, 0);
	rc = talk(nl, nlh, &ack);
	/* The device's default qdisc (handle 0) cannot be deleted: nothing to remove. */
	if (rc == -ENOENT)
		return 0;
	return rc ? step_fail(&s, rc, &ack, "remove root qdisc") : 0;
}

int mc_netem_apply(struct mc_netem *nl, int ifindex, const struct mc_link *dflt,
                   const struct mc_netem_class *classes, size_t nclasses, char *err, size_t errlen)
{
	struct step s = {nl, ifindex, err, errlen};
	size_t counts[MC_NETEM_MAX_CLASSES];
	char lerr[160];
	size_t i, k;
	int rc, off;

	if (!nl || ifindex <= 0 || !dflt || (nclasses && !classes)) {
		set_err(err, errlen, "netem: apply: bad arguments (ifindex %d)", ifindex);
		return -EINVAL;
	}
	if (nclasses > MC_NETEM_MAX_CLASSES) {
		set_err(err, errlen, "netem: apply: %zu classes, at most %d", nclasses,
		        MC_NETEM_MAX_CLASSES);
		return -EINVAL;
	}
	if (validate(nl, dflt, lerr, sizeof(lerr))) {
		set_err(err, errlen, "netem: default link: %s", lerr);
		return -EINVAL;
	}
	off = mc_link_is_off(dflt);
	for (i = 0; i < nclasses; i++) {
		if (validate(nl, &classes[i].link, lerr, sizeof(lerr))) {
			set_err(err, errlen, "netem: class %zu: %s", i, lerr);
			return -EINVAL;
		}
		if (classes[i].nsrc && !classes[i].src) {
			set_err(err, errlen, "netem: class %zu: %zu sources but no array", i,
			        classes[i].nsrc);
			return -EINVAL;
		}
		off = off && mc_link_is_off(&classes[i].link);
	}
	if (off)
		return mc_netem_clear(nl, ifindex, err, errlen);

	if (!nclasses) {
		rc = put_netem(&s, TC_H_ROOT, FLAT_HANDLE, dflt);
		if (rc == -EINVAL) {
			/* A foreign root qdisc of the same handle: start from scratch. */
			if (mc_netem_clear(nl, ifindex, err, errlen) == 0)
				rc = put_netem(&s, TC_H_ROOT, FLAT_HANDLE, dflt);
		}
		return rc;
	}

	rc = collect_sources(nl, classes, nclasses, counts, err, errlen);
	if (rc)
		return rc;
	rc = put_prio(&s, (unsigned)nclasses + 1);
	if (rc == -EINVAL && mc_netem_clear(nl, ifindex, err, errlen) == 0)
		rc = put_prio(&s, (unsigned)nclasses + 1);
	if (rc)
		return rc;
	for (i = 0; i <= nclasses; i++) {
		const struct mc_link *l = i < nclasses ? &classes[i].link : dflt;

		rc = put_netem(&s, TC_H_MAKE(PRIO_HANDLE, i + 1),
		               BAND_HANDLE0 + ((uint32_t)i << 16), l);
		if (rc)
			return rc;
	}
	rc = flush_filters(&s);
	if (rc)
		return rc;
	for (i = 0, k = 0; i < nclasses; i++) {
		rc = put_class_filters(&s, nl->scratch + k, counts[i],
		                       TC_H_MAKE(PRIO_HANDLE, i + 1));
		if (rc)
			return rc;
		k += counts[i];
	}
	return 0;
}

void mc_netem_match_dst(struct mc_netem *nl, int on)
{
	nl->match_dst = on != 0;
}
