/* test_netem.c — link parsing and formatting; netem/prio/u32 as the kernel holds them (root). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "netem.h"

/*
 * The kernel tests need root and a kernel with sch_netem, sch_prio, cls_u32
 * and veth. Without root they skip. Without those kernel parts they fail,
 * saying what is missing, unless MC_TEST_MAY_SKIP=1 allows a skip.
 */

/* ---- Parsing and formatting (no root) ------------------------------------------------------ */

static void parse_ok(struct mc_link *l, const char *key, const char *value)
{
	char err[256] = "";
	int rc = mc_link_parse_kv(l, key, value, err, sizeof(err));

	if (rc)
		fail_msg("parse %s = %s: rc %d: %s", key, value, rc, err);
}

/* Asserts key = value is refused with rc and a message containing want. */
static void parse_bad(const char *key, const char *value, int rc, const char *want)
{
	struct mc_link l = {0};
	char err[256] = "";
	int got = mc_link_parse_kv(&l, key, value, err, sizeof(err));

	if (got != rc || !strstr(err, want))
		fail_msg("parse %s = %s: rc %d (want %d), message \"%s\" (want \"%s\")", key, value,
		         got, rc, err, want);
}

static void test_parse_values(void **state)
{
	struct mc_link l = {0};

	(void)state;
	parse_ok(&l, "latency", "100us");
	assert_int_equal(l.delay_us, 100);
	parse_ok(&l, "delay", "1.5ms");
	assert_int_equal(l.delay_us, 1500);
	parse_ok(&l, "latency", "2s");
	assert_int_equal(l.delay_us, 2000000);
	parse_ok(&l, "latency", "1500ns");
	assert_int_equal(l.delay_us, 2); /* rounded to the microsecond */
	parse_ok(&l, "latency", "0.25ms");
	assert_int_equal(l.delay_us, 250);
	parse_ok(&l, "jitter", "10usec");
	assert_int_equal(l.jitter_us, 10);
	parse_ok(&l, "loss", "10%");
	assert_true(l.loss_pct == 10);
	parse_ok(&l, "loss", "0.1%");
	assert_true(l.loss_pct == 0.1);
	parse_ok(&l, "duplicate", "100%");
	assert_true(l.dup_pct == 100);
	parse_ok(&l, "corrupt", "0.5%");
	assert_true(l.corrupt_pct == 0.5);
	parse_ok(&l, "reorder", "25%");
	assert_true(l.reorder_pct == 25);
	parse_ok(&l, "bandwidth", "1Gbit");
	assert_int_equal(l.rate_bps, 1000000000ull);
	parse_ok(&l, "rate", "100Mbit");
	assert_int_equal(l.rate_bps, 100000000ull);
	parse_ok(&l, "bandwidth", "500kbit");
	assert_int_equal(l.rate_bps, 500000ull);
	parse_ok(&l, "bandwidth", "2.5gbit");
	assert_int_equal(l.rate_bps, 2500000000ull);
	parse_ok(&l, "bandwidth", "64Kibit");
	assert_int_equal(l.rate_bps, 65536ull);
	parse_ok(&l, "bandwidth", "10MB/s");
	assert_int_equal(l.rate_bps, 80000000ull);
	/* tc's convention: "mbps" is megabytes per second. */
	parse_ok(&l, "bandwidth", "10mbps");
	assert_int_equal(l.rate_bps, 80000000ull);
	parse_ok(&l, "bandwidth", "100Tbit");
	assert_int_equal(l.rate_bps, 100000000000000ull);
	parse_ok(&l, "limit", "5000");
	assert_int_equal(l.limit, 5000);
	/* Off words. */
	parse_ok(&l, "limit", "0");
	assert_int_equal(l.limit, 0);
	parse_ok(&l, "bandwidth", "off");
	assert_int_equal(l.rate_bps, 0);
	parse_ok(&l, "loss", "none");
	assert_true(l.loss_pct == 0);
	parse_ok(&l, "latency", "0ms");
	assert_int_equal(l.delay_us, 0);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_bad("latency", "10", -EINVAL, "latency \"10\": missing unit (ns, us, ms or s)");
	parse_bad("latency", "5xs", -EINVAL, "latency \"5xs\": unknown unit \"xs\"");
	parse_bad("latency", "-1ms", -EINVAL, "latency \"-1ms\": not a time");
	parse_bad("latency", "fast", -EINVAL, "latency \"fast\": not a time");
	parse_bad("latency", "nan", -EINVAL, "latency \"nan\": not a time");
	parse_bad("jitter", "61s", -EINVAL, "jitter \"61s\": too large (at most 60s)");
	parse_bad("delay", "100ns", -EINVAL, "delay \"100ns\": below the 1us resolution");
	parse_bad("loss", "0.1", -EINVAL, "loss \"0.1\": missing \"%\" (write 0.1%)");
	parse_bad("loss", "101%", -EINVAL, "loss \"101%\": more than 100%");
	parse_bad("duplicate", "5 percent", -EINVAL, "duplicate \"5 percent\": unknown unit");
	parse_bad("corrupt", "", -EINVAL, "corrupt \"\": not a percentage");
	parse_bad("bandwidth", "5", -EINVAL, "bandwidth \"5\": missing unit");
	parse_bad("bandwidth", "5furlongs", -EINVAL, "bandwidth \"5furlongs\": unknown unit");
	parse_bad("rate", "1bit", -EINVAL, "rate \"1bit\": below 8bit");
	parse_bad("rate", "1Pbit", -EINVAL, "rate \"1Pbit\": unknown unit \"Pbit\"");
	parse_bad("bandwidth", "200Tbit", -EINVAL, "too large");
	parse_bad("bandwidth", "0x10Mbit", -EINVAL, "not a bandwidth");
	parse_bad("bandwidth", "10mB/s", -EINVAL, "unknown unit \"mB/s\"");
	parse_bad("limit", "-3", -EINVAL, "limit \"-3\": not a packet count");
	parse_bad("limit", "12k", -EINVAL, "limit \"12k\"");
	parse_bad("latencies", "1ms", -ENOENT, "unknown link key \"latencies\"");
}

static void test_check(void **state)
{
	struct mc_link l = {0};
	char err[256];

	(void)state;
	assert_int_equal(mc_link_check(&l, err, sizeof(err)), 0);
	assert_true(mc_link_is_off(&l));
	l.limit = 10;
	assert_true(mc_link_is_off(&l)); /* a limit alone emulates nothing */
	l.jitter_us = 100;
	assert_false(mc_link_is_off(&l));
	assert_int_equal(mc_link_check(&l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "jitter 100us without latency"));
	l.jitter_us = 0;
	l.reorder_pct = 5;
	assert_int_equal(mc_link_check(&l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "reorder 5% without latency"));
	l.delay_us = 1000;
	assert_int_equal(mc_link_check(&l, err, sizeof(err)), 0);
	l.loss_pct = 150;
	assert_int_equal(mc_link_check(&l, err, sizeof(err)), -EINVAL);
}

static void test_format_round_trip(void **state)
{
	struct mc_link l = {0}, back = {0};
	char buf[256], copy[256], *tok, *save = NULL;

	(void)state;
	assert_string_equal(mc_link_format(&l, buf, sizeof(buf)), "none");
	parse_ok(&l, "latency", "1.5ms");
	parse_ok(&l, "jitter", "100us");
	parse_ok(&l, "loss", "0.1%");
	parse_ok(&l, "duplicate", "1%");
	parse_ok(&l, "corrupt", "0.5%");
	parse_ok(&l, "reorder", "25%");
	parse_ok(&l, "bandwidth", "2.5Gbit");
	parse_ok(&l, "limit", "5000");
	assert_string_equal(mc_link_format(&l, buf, sizeof(buf)),
	                    "latency 1.5ms jitter 100us loss 0.1% duplicate 1% corrupt 0.5% "
	                    "reorder 25% bandwidth 2.5Gbit limit 5000");
	/* The text parses back, pair by pair, to the same link. */
	snprintf(copy, sizeof(copy), "%s", buf);
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *value = strtok_r(NULL, " ", &save);

		assert_non_null(value);
		parse_ok(&back, tok, value);
	}
	assert_memory_equal(&l, &back, sizeof(l));
	/* Other magnitudes. */
	l = (struct mc_link){.delay_us = 2000000, .jitter_us = 1250, .rate_bps = 999};
	assert_string_equal(mc_link_format(&l, buf, sizeof(buf)),
	                    "latency 2s jitter 1.25ms bandwidth 999bit");
	l = (struct mc_link){.delay_us = 1234567, .rate_bps = 80000000};
	assert_string_equal(mc_link_format(&l, buf, sizeof(buf)),
	                    "latency 1.234567s bandwidth 80Mbit");
	/* A short buffer is cut, not overrun. */
	assert_int_equal(strlen(mc_link_format(&l, buf, 8)), 7);
}

static void test_limit(void **state)
{
	struct mc_link l = {0};

	(void)state;
	assert_int_equal(mc_link_limit(&l), 1000);
	l.delay_us = 20000;
	l.rate_bps = 10000000000ull;
	/* 20 ms at 10 Gbit/s = 25 MB in flight = 16667 packets of 1500 B, + 1000. */
	assert_int_equal(mc_link_limit(&l), 17667);
	l.rate_bps = 0; /* 1 Gbit/s assumed: 2.5 MB = 1667 packets */
	assert_int_equal(mc_link_limit(&l), 2667);
	l.limit = 42;
	assert_int_equal(mc_link_limit(&l), 42);
}

static void test_merge_and_fields(void **state)
{
	struct mc_link a = {.delay_us = 1, .loss_pct = 2, .rate_bps = 3}, b = {0};

	(void)state;
	assert_int_equal(mc_link_key_field("delay"), MC_LINK_F_DELAY);
	assert_int_equal(mc_link_key_field("rate"), MC_LINK_F_RATE);
	assert_int_equal(mc_link_key_field("speed"), 0);
	mc_link_merge(&b, &a, MC_LINK_F_DELAY | MC_LINK_F_RATE);
	assert_int_equal(b.delay_us, 1);
	assert_true(b.loss_pct == 0);
	assert_int_equal(b.rate_bps, 3);
}

/* ---- Kernel tests (root) ----------------------------------------------------------------------
 */

struct kstate {
	int root;      /* running as root */
	int ready;     /* fresh namespace, netem works */
	char why[512]; /* why not ready */
	struct mc_netem *nl;
};

static struct kstate ks;

/* Runs a shell command; returns its exit status (or -1). Output goes to stderr. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* Runs a command and parses its standard output as JSON. Caller owns the result. */
static json_t *sh_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *sh_json(const char *fmt, ...)
{
	char cmd[512];
	json_error_t je;
	json_t *j;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		fail_msg("run %s: %s", cmd, strerror(errno));
	j = json_loadf(p, 0, &je);
	pclose(p);
	if (!j)
		fail_msg("%s: output is not JSON: %s", cmd, je.text);
	return j;
}

/* Runs a command and keeps the first len - 1 bytes of its standard output in buf. */
static void sh_out(char *buf, size_t len, const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	if (!p)
		fail_msg("run %s: %s", cmd, strerror(errno));
	n = fread(buf, 1, len - 1, p);
	buf[n] = '\0';
	pclose(p);
}

/* The qdisc with this handle in a `tc -j qdisc show` array. */
static json_t *qdisc(json_t *q, const char *handle)
{
	for (size_t i = 0; i < json_array_size(q); i++) {
		json_t *o = json_array_get(q, i);

		if (!strcmp(json_string_value(json_object_get(o, "handle")), handle))
			return o;
	}
	fail_msg("no qdisc %s", handle);
	return NULL;
}

static int group_setup(void **state)
{
	char err[256];
	struct mc_link probe = {.delay_us = 1000};
	int rc;

	(void)state;
	ks.root = geteuid() == 0;
	if (!ks.root)
		return 0;
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(ks.why, sizeof(ks.why), "unshare(CLONE_NEWNET): %s", strerror(errno));
		return 0;
	}
	if (sh("ip link set lo up && ip link add mcn0 type veth peer name mcn1 && "
	       "ip link set mcn0 up && ip link set mcn1 up")) {
		snprintf(ks.why, sizeof(ks.why), "cannot create a veth pair (CONFIG_VETH?)");
		return 0;
	}
	ks.nl = mc_netem_new(err, sizeof(err));
	if (!ks.nl) {
		snprintf(ks.why, sizeof(ks.why), "mc_netem_new: %s", err);
		return 0;
	}
	rc = mc_netem_apply(ks.nl, (int)if_nametoindex("mcn0"), &probe, NULL, 0, err, sizeof(err));
	if (rc) {
		snprintf(ks.why, sizeof(ks.why), "this kernel cannot run netem: %s", err);
		return 0;
	}
	mc_netem_clear(ks.nl, (int)if_nametoindex("mcn0"), err, sizeof(err));
	ks.ready = 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mc_netem_destroy(&ks.nl);
	return 0;
}

/* Skips (not root, or allowed) or fails when the kernel tests cannot run. */
static void need_kernel(void)
{
	const char *may = getenv("MC_TEST_MAY_SKIP");

	if (!ks.root) {
		fprintf(stderr, "test_netem: skip: not root (kernel tests need CAP_NET_ADMIN)\n");
		skip();
	}
	if (ks.ready)
		return;
	if (may && !strcmp(may, "1")) {
		fprintf(stderr, "test_netem: skip (MC_TEST_MAY_SKIP=1): %s\n", ks.why);
		skip();
	}
	fail_msg("cannot run: %s (set MC_TEST_MAY_SKIP=1 to allow a skip)", ks.why);
}

static int ifx(const char *name)
{
	int i = (int)if_nametoindex(name);

	if (!i)
		fail_msg("no interface %s", name);
	return i;
}

static void apply_ok(const char *dev, const struct mc_link *dflt,
                     const struct mc_netem_class *classes, size_t n)
{
	char err[512] = "";
	int rc = mc_netem_apply(ks.nl, ifx(dev), dflt, classes, n, err, sizeof(err));

	if (rc)
		fail_msg("apply on %s: rc %d: %s", dev, rc, err);
}

/* Asserts two JSON values are equal, printing both otherwise. */
static void assert_json_equal(json_t *got, json_t *want, const char *what)
{
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);

		fprintf(stderr, "%s differ:\n  ours: %s\n  tc's: %s\n", what, g, w);
		free(g);
		free(w);
		fail_msg("%s: ours and tc's differ", what);
	}
}

static double jnum(json_t *o, const char *path)
{
	char buf[128], *save = NULL, *part;
	json_t *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part && v; part = strtok_r(NULL, ".", &save))
		v = json_object_get(v, part);
	if (!v || !json_is_number(v))
		fail_msg("no number at %s", path);
	return json_number_value(v);
}

static void assert_near(double got, double want, double tol, const char *what)
{
	if (fabs(got - want) > tol)
		fail_msg("%s: got %.9g, want %.9g +- %.3g", what, got, want, tol);
}

static void test_apply_flat(void **state)
{
	struct mc_link l = {0};
	json_t *q, *o, *t;
	char err[256], ours[512], theirs[512];

	(void)state;
	need_kernel();
	parse_ok(&l, "latency", "1.5ms");
	parse_ok(&l, "jitter", "100us");
	parse_ok(&l, "loss", "0.1%");
	parse_ok(&l, "duplicate", "1%");
	parse_ok(&l, "corrupt", "0.5%");
	parse_ok(&l, "bandwidth", "10Gbit");
	parse_ok(&l, "limit", "5000");
	apply_ok("mcn0", &l, NULL, 0);

	q = sh_json("tc -j qdisc show dev mcn0");
	assert_int_equal(json_array_size(q), 1);
	o = json_array_get(q, 0);
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "netem");
	assert_string_equal(json_string_value(json_object_get(o, "handle")), "2:");
	assert_true(json_is_true(json_object_get(o, "root")));
	o = json_object_get(o, "options");
	assert_near(jnum(o, "limit"), 5000, 0, "limit");
	assert_near(jnum(o, "delay.delay"), 0.0015, 2e-6, "delay");
	assert_near(jnum(o, "delay.jitter"), 0.0001, 2e-6, "jitter");
	assert_near(jnum(o, "loss-random.loss"), 0.001, 1e-9, "loss");
	assert_near(jnum(o, "duplicate.duplicate"), 0.01, 1e-9, "duplicate");
	assert_near(jnum(o, "corrupt.corrupt"), 0.005, 1e-9, "corrupt");
	assert_near(jnum(o, "rate.rate"), 1250000000, 0, "rate (bytes/s)");
	/* Exactly what tc configures for the same settings. */
	assert_int_equal(sh("tc qdisc replace dev mcn1 root handle 2: netem delay 1.5ms 100us "
	                    "loss 0.1%% duplicate 1%% corrupt 0.5%% rate 10gbit limit 5000"),
	                 0);
	t = sh_json("tc -j qdisc show dev mcn1");
	assert_json_equal(q, t, "netem qdiscs");
	json_decref(t);
	json_decref(q);
	/* And the text tc prints. */
	sh_out(ours, sizeof(ours), "tc qdisc show dev mcn0");
	sh_out(theirs, sizeof(theirs), "tc qdisc show dev mcn1");
	fprintf(stderr, "ours: %stc's: %s", ours, theirs);
	assert_string_equal(ours, theirs);
	assert_non_null(strstr(ours, "qdisc netem 2: root refcnt 2 limit 5000 delay 1.5ms"));

	/* Replace: a 64-bit rate, automatic limit, and what is no longer set is gone. */
	l = (struct mc_link){0};
	parse_ok(&l, "latency", "20ms");
	parse_ok(&l, "bandwidth", "80Gbit");
	apply_ok("mcn0", &l, NULL, 0);
	q = sh_json("tc -j qdisc show dev mcn0");
	assert_int_equal(json_array_size(q), 1);
	o = json_object_get(json_array_get(q, 0), "options");
	assert_near(jnum(o, "limit"), mc_link_limit(&l), 0, "limit");
	assert_near(jnum(o, "limit"), 134334, 0, "limit");
	assert_near(jnum(o, "delay.delay"), 0.02, 2e-6, "delay");
	assert_near(jnum(o, "delay.jitter"), 0, 0, "jitter");
	assert_near(jnum(o, "rate.rate"), 10000000000.0, 0, "rate (bytes/s)");
	assert_null(json_object_get(o, "loss-random"));
	assert_null(json_object_get(o, "duplicate"));
	assert_null(json_object_get(o, "corrupt"));
	/* tc from scratch (its replace would keep the old corrupt: netem keeps absent fields). */
	assert_int_equal(sh("tc qdisc del dev mcn1 root && tc qdisc add dev mcn1 root handle 2: "
	                    "netem delay 20ms rate 80gbit limit 134334"),
	                 0);
	t = sh_json("tc -j qdisc show dev mcn1");
	assert_json_equal(q, t, "netem qdiscs after replace");
	json_decref(t);
	json_decref(q);

	assert_int_equal(mc_netem_clear(ks.nl, ifx("mcn0"), err, sizeof(err)), 0);
	assert_int_equal(sh("tc qdisc del dev mcn1 root"), 0);
}

/* Addresses 10.77.0.(first+2) .. 10.77.0.(first+count+1), network order. */
static void guests(uint32_t *a, unsigned first, unsigned count)
{
	for (unsigned j = 0; j < count; j++)
		a[j] = htonl(0x0a4d0000u + first + j + 2);
}

static size_t count_filters(json_t *f, const char *flowid)
{
	size_t i, n = 0;

	for (i = 0; i < json_array_size(f); i++) {
		json_t *o = json_object_get(json_array_get(f, i), "options");
		const char *fl = json_string_value(json_object_get(o, "flowid"));

		if (fl && (!flowid || !strcmp(fl, flowid)))
			n++;
	}
	return n;
}

static void test_apply_classes(void **state)
{
	uint32_t ctl = htonl(0x0a4d0001), rack[32], other[3];
	struct mc_link intra = {0}, inter = {0}, off = {0};
	struct mc_netem_class c[2];
	json_t *q, *f, *t;
	char err[256];

	(void)state;
	need_kernel();
	parse_ok(&intra, "latency", "50us");
	parse_ok(&intra, "bandwidth", "10Gbit");
	parse_ok(&inter, "latency", "200us");
	parse_ok(&inter, "bandwidth", "2.5Gbit");
	guests(rack, 0, 32); /* 10.77.0.2 .. 10.77.0.33 */
	c[0] = (struct mc_netem_class){.link = off, .src = &ctl, .nsrc = 1};
	c[1] = (struct mc_netem_class){.link = intra, .src = rack, .nsrc = 32};
	apply_ok("mcn0", &inter, c, 2);
	apply_ok("mcn0", &inter, c, 2); /* twice: changes in place, same result */

	q = sh_json("tc -j qdisc show dev mcn0");
	f = sh_json("tc -j filter show dev mcn0");
	assert_int_equal(json_array_size(q), 4);
	assert_string_equal(json_string_value(json_object_get(qdisc(q, "1:"), "kind")), "prio");
	assert_near(jnum(qdisc(q, "1:"), "options.bands"), 3, 0, "bands");
	/* The controller's band: a netem that delays nothing (tc prints no delay). */
	assert_null(json_object_get(json_object_get(qdisc(q, "10:"), "options"), "delay"));
	assert_near(jnum(qdisc(q, "11:"), "options.delay.delay"), 50e-6, 2e-6, "intra delay");
	assert_near(jnum(qdisc(q, "11:"), "options.rate.rate"), 1250000000, 0, "intra rate");
	assert_near(jnum(qdisc(q, "12:"), "options.delay.delay"), 200e-6, 2e-6, "inter delay");
	assert_near(jnum(qdisc(q, "12:"), "options.rate.rate"), 312500000, 0, "inter rate");
	assert_string_equal(json_string_value(json_object_get(qdisc(q, "12:"), "parent")), "1:3");
	/* 10.77.0.2-33 as 5 prefixes: /31 /30 /29 /28 /31; the controller as one /32. */
	assert_int_equal(count_filters(f, "1:1"), 1);
	assert_int_equal(count_filters(f, "1:2"), 5);
	assert_int_equal(count_filters(f, NULL), 6);

	/* Exactly what the same tc commands configure. */
	assert_int_equal(
	        sh("tc qdisc add dev mcn1 root handle 1: prio bands 3 priomap 2 2 2 2 2 2 2 2 2 2 "
	           "2 2 2 2 2 2 && "
	           "tc qdisc add dev mcn1 parent 1:1 handle 10: netem && "
	           "tc qdisc add dev mcn1 parent 1:2 handle 11: netem delay 50us rate 10gbit limit "
	           "%u && "
	           "tc qdisc add dev mcn1 parent 1:3 handle 12: netem delay 200us rate 2.5gbit "
	           "limit "
	           "%u && "
	           "for m in 10.77.0.1/32:1 10.77.0.2/31:2 10.77.0.4/30:2 10.77.0.8/29:2 "
	           "10.77.0.16/28:2 10.77.0.32/31:2; do tc filter add dev mcn1 parent 1: protocol "
	           "ip prio 10 u32 match ip src ${m%%:*} flowid 1:${m##*:} || exit 1; done",
	           mc_link_limit(&intra), mc_link_limit(&inter)),
	        0);
	t = sh_json("tc -j qdisc show dev mcn1");
	assert_json_equal(q, t, "prio tree");
	json_decref(t);
	t = sh_json("tc -j filter show dev mcn1");
	assert_json_equal(f, t, "filters");
	json_decref(t);
	json_decref(q);
	json_decref(f);

	/* Replace with one class: two bands, the old filters gone. */
	guests(other, 100, 3); /* 10.77.0.102 .. 10.77.0.104 */
	c[0] = (struct mc_netem_class){.link = intra, .src = other, .nsrc = 3};
	apply_ok("mcn0", &inter, c, 1);
	q = sh_json("tc -j qdisc show dev mcn0");
	f = sh_json("tc -j filter show dev mcn0");
	assert_int_equal(json_array_size(q), 3);
	assert_near(jnum(qdisc(q, "1:"), "options.bands"), 2, 0, "bands");
	assert_near(jnum(qdisc(q, "10:"), "options.delay.delay"), 50e-6, 2e-6, "class delay");
	assert_near(jnum(qdisc(q, "11:"), "options.delay.delay"), 200e-6, 2e-6, "default");
	assert_int_equal(count_filters(f, "1:1"), 2); /* .102/31, .104/32 */
	assert_int_equal(count_filters(f, NULL), 2);
	json_decref(q);
	json_decref(f);

	/* Back to flat: no prio, no filters; then classes again over the flat netem. */
	apply_ok("mcn0", &inter, NULL, 0);
	q = sh_json("tc -j qdisc show dev mcn0");
	f = sh_json("tc -j filter show dev mcn0");
	assert_int_equal(json_array_size(q), 1);
	assert_string_equal(json_string_value(json_object_get(qdisc(q, "2:"), "kind")), "netem");
	assert_int_equal(json_array_size(f), 0);
	json_decref(q);
	json_decref(f);
	apply_ok("mcn0", &inter, c, 1);
	q = sh_json("tc -j qdisc show dev mcn0");
	assert_int_equal(json_array_size(q), 3);
	json_decref(q);

	assert_int_equal(mc_netem_clear(ks.nl, ifx("mcn0"), err, sizeof(err)), 0);
	assert_int_equal(sh("tc qdisc del dev mcn1 root"), 0);
}

static void test_clear_and_errors(void **state)
{
	struct mc_link l = {.delay_us = 1000}, off = {0};
	struct mc_netem_class c[MC_NETEM_MAX_CLASSES + 1];
	uint32_t a = htonl(0x0a4d0005);
	char err[512];
	json_t *q;
	int rc;

	(void)state;
	need_kernel();
	apply_ok("mcn0", &l, NULL, 0);
	assert_int_equal(mc_netem_clear(ks.nl, ifx("mcn0"), err, sizeof(err)), 0);
	q = sh_json("tc -j qdisc show dev mcn0");
	assert_string_equal(json_string_value(json_object_get(json_array_get(q, 0), "handle")),
	                    "0:");
	json_decref(q);
	/* Nothing left to remove is fine. */
	assert_int_equal(mc_netem_clear(ks.nl, ifx("mcn0"), err, sizeof(err)), 0);
	/* Everything off = clear. */
	apply_ok("mcn0", &l, NULL, 0);
	apply_ok("mcn0", &off, NULL, 0);
	q = sh_json("tc -j qdisc show dev mcn0");
	assert_string_equal(json_string_value(json_object_get(json_array_get(q, 0), "kind")),
	                    "noqueue");
	json_decref(q);

	/* A missing interface: the kernel's error, with the step and the ifindex. */
	rc = mc_netem_apply(ks.nl, 99999, &l, NULL, 0, err, sizeof(err));
	assert_int_equal(rc, -ENODEV);
	fprintf(stderr, "expected error: %s\n", err);
	assert_non_null(strstr(err, "ifindex 99999: "));
	assert_non_null(strstr(err, "set netem qdisc 2: at root"));
	assert_int_equal(mc_netem_clear(ks.nl, 99999, err, sizeof(err)), -ENODEV);
	/* Bad arguments are refused before anything changes. */
	memset(c, 0, sizeof(c));
	for (size_t i = 0; i < MC_NETEM_MAX_CLASSES + 1; i++)
		c[i].link = l;
	assert_int_equal(mc_netem_apply(ks.nl, ifx("mcn0"), &l, c, MC_NETEM_MAX_CLASSES + 1, err,
	                                sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "at most 15"));
	c[0].src = &a;
	c[0].nsrc = 1;
	c[1].src = &a;
	c[1].nsrc = 1;
	assert_int_equal(mc_netem_apply(ks.nl, ifx("mcn0"), &l, c, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "netem: source 10.77.0.5 is listed in two classes");
	c[1].nsrc = 0;
	c[1].link.jitter_us = 5;
	c[1].link.delay_us = 0;
	assert_int_equal(mc_netem_apply(ks.nl, ifx("mcn0"), &l, c, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "class 1: jitter 5us without latency"));
	q = sh_json("tc -j qdisc show dev mcn0");
	assert_string_equal(json_string_value(json_object_get(json_array_get(q, 0), "kind")),
	                    "noqueue");
	json_decref(q);
	/* A foreign root qdisc, even with our handles, is replaced. */
	assert_int_equal(sh("tc qdisc add dev mcn0 root handle 2: pfifo"), 0);
	apply_ok("mcn0", &l, NULL, 0);
	q = sh_json("tc -j qdisc show dev mcn0");
	assert_string_equal(json_string_value(json_object_get(qdisc(q, "2:"), "kind")), "netem");
	json_decref(q);
	assert_int_equal(sh("tc qdisc replace dev mcn0 root handle 1: pfifo"), 0);
	apply_ok("mcn0", &l, c, 1);
	q = sh_json("tc -j qdisc show dev mcn0");
	assert_string_equal(json_string_value(json_object_get(qdisc(q, "1:"), "kind")), "prio");
	json_decref(q);

	/* All 15 classes fit (16 bands). */
	c[1].link = l;
	apply_ok("mcn0", &l, c, MC_NETEM_MAX_CLASSES);
	q = sh_json("tc -j qdisc show dev mcn0");
	assert_int_equal(json_array_size(q), 17);
	json_decref(q);
	assert_int_equal(mc_netem_clear(ks.nl, ifx("mcn0"), err, sizeof(err)), 0);
}

/* ---- End to end: RTT through two namespaces ----------------------------------------------- */

#define E2E_PORT   7777
#define E2E_PROBES 25

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The peer: its own namespace with veth end mce1 (10.99.0.2, 10 ms netem), a UDP echo
 * server; ends when the parent closes the pipe or after 60 s. */
static void peer(int ready_w, int go_r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(E2E_PORT)};
	struct mc_link l = {.delay_us = 10000};
	struct mc_netem *nl;
	char err[512], c, buf[256];
	int s;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(60);
	if (unshare(CLONE_NEWNET) < 0)
		_exit(10);
	if (write(ready_w, "u", 1) != 1)
		_exit(11);
	if (read(go_r, &c, 1) != 1) /* the parent moved mce1 in here */
		_exit(12);
	if (sh("ip link set lo up && ip addr add 10.99.0.2/24 dev mce1 && ip link set mce1 up"))
		_exit(13);
	nl = mc_netem_new(err, sizeof(err));
	if (!nl || mc_netem_apply(nl, (int)if_nametoindex("mce1"), &l, NULL, 0, err, sizeof(err))) {
		fprintf(stderr, "peer: %s\n", err);
		_exit(14);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "10.99.0.2", &sa.sin_addr);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(15);
	if (write(ready_w, "r", 1) != 1)
		_exit(16);
	for (;;) {
		struct pollfd p[2] = {{.fd = s, .events = POLLIN}, {.fd = go_r, .events = POLLIN}};
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break; /* the parent is done */
		n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	mc_netem_destroy(&nl);
	_exit(0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median RTT of E2E_PROBES UDP echoes from local address src to the peer, in ms. */
static double median_rtt(const char *src, double *lo, double *hi)
{
	struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
	double rtt[E2E_PROBES];
	int s, i, got = 0;

	inet_pton(AF_INET, src, &me.sin_addr);
	inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
	to.sin_port = htons(E2E_PORT);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&me, sizeof(me)), 0);
	for (i = 0; i < E2E_PROBES; i++) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		char msg[32], back[32];
		double t0;
		ssize_t n;

		snprintf(msg, sizeof(msg), "probe %d", i);
		t0 = now_ms();
		assert_true(sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof(to)) > 0);
		for (;;) {
			if (poll(&p, 1, 1000) <= 0)
				break; /* lost (the first probe waits for ARP): not counted */
			n = recv(s, back, sizeof(back) - 1, 0);
			if (n > 0) {
				back[n] = '\0';
				if (!strcmp(back, msg)) {
					rtt[got++] = now_ms() - t0;
					break;
				}
			}
		}
		usleep(20000);
	}
	close(s);
	assert_true(got >= E2E_PROBES - 2);
	qsort(rtt, (size_t)got, sizeof(double), cmp_double);
	*lo = rtt[0];
	*hi = rtt[got - 1];
	return got % 2 ? rtt[got / 2] : (rtt[got / 2 - 1] + rtt[got / 2]) / 2;
}

static void test_rtt_end_to_end(void **state)
{
	struct mc_link l = {.delay_us = 10000}, slow = {.delay_us = 30000};
	uint32_t src3 = htonl(0x0a630003); /* 10.99.0.3 */
	struct mc_netem_class c = {.src = &src3, .nsrc = 1};
	int ready[2], go[2], st;
	double med, lo, hi;
	char ch;
	pid_t pid;

	(void)state;
	need_kernel();
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		peer(ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &ch, 1), 1); /* the peer is in its namespace */
	assert_int_equal(sh("ip link add mce0 type veth peer name mce1 netns %d && "
	                    "ip addr add 10.99.0.1/24 dev mce0 && "
	                    "ip addr add 10.99.0.3/24 dev mce0 && ip link set mce0 up",
	                    (int)pid),
	                 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	if (read(ready[0], &ch, 1) != 1) {
		waitpid(pid, &st, 0);
		fail_msg("peer failed (exit %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}

	/* 10 ms on each egress: one way 10 ms, RTT 20 ms. */
	apply_ok("mce0", &l, NULL, 0);
	med = median_rtt("10.99.0.1", &lo, &hi);
	fprintf(stderr,
	        "e2e: 10 ms each way: RTT median %.3f ms (min %.3f, max %.3f), "
	        "expected 20 ms +- 10%%\n",
	        med, lo, hi);
	assert_near(med, 20.0, 2.0, "median RTT, ms (10 ms each way)");

	/* Per source: 10.99.0.3 takes a 30 ms class on the way out, 10.99.0.1 the default. */
	c.link = slow;
	apply_ok("mce0", &l, &c, 1);
	med = median_rtt("10.99.0.3", &lo, &hi);
	fprintf(stderr,
	        "e2e: class 30 ms + 10 ms back: RTT median %.3f ms (min %.3f, max %.3f), "
	        "expected 40 ms +- 10%%\n",
	        med, lo, hi);
	assert_near(med, 40.0, 4.0, "median RTT, ms (source class)");
	med = median_rtt("10.99.0.1", &lo, &hi);
	fprintf(stderr,
	        "e2e: default 10 ms + 10 ms back: RTT median %.3f ms (min %.3f, max "
	        "%.3f), expected 20 ms +- 10%%\n",
	        med, lo, hi);
	assert_near(med, 20.0, 2.0, "median RTT, ms (default class)");

	close(go[1]); /* the peer ends */
	close(ready[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The pair goes with the peer's namespace (asynchronously): make sure. */
	sh("ip link del mce0 2>/dev/null");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_values),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_check),
	        cmocka_unit_test(test_format_round_trip),
	        cmocka_unit_test(test_limit),
	        cmocka_unit_test(test_merge_and_fields),
	        cmocka_unit_test(test_apply_flat),
	        cmocka_unit_test(test_apply_classes),
	        cmocka_unit_test(test_clear_and_errors),
	        cmocka_unit_test(test_rtt_end_to_end),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
