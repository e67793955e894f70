/* test_topology.c — topology settings, resolved links and the per-guest netem classes. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net.h"
#include "topology.h"

/* Sets key: value and asserts it is accepted (printing the reason if not). */
static void set_ok(struct mc_topology *t, const char *key, const char *value)
{
	char err[256] = "";
	int rc = mc_topology_set(t, key, value, err, sizeof(err));

	if (rc)
		fail_msg("set %s = %s: rc %d: %s", key, value, rc, err);
}

static void test_set_and_errors(void **state)
{
	struct mc_topology t;
	char err[256];

	(void)state;
	mc_topology_init(&t);
	assert_int_equal(t.kind, MC_TOPOLOGY_FLAT);
	assert_true(t.oversub == 1);
	set_ok(&t, "kind", "fat-tree");
	assert_int_equal(t.kind, MC_TOPOLOGY_FAT_TREE);
	set_ok(&t, "topology.kind", "flat");
	assert_int_equal(t.kind, MC_TOPOLOGY_FLAT);
	set_ok(&t, "topology.rack_size", "32");
	assert_int_equal(t.rack_size, 32);
	set_ok(&t, "oversubscription", "4:1");
	assert_true(t.oversub == 4);
	set_ok(&t, "topology.oversubscription", "2.5");
	assert_true(t.oversub == 2.5);
	set_ok(&t, "latency", "50us");
	assert_int_equal(t.link.delay_us, 50);
	set_ok(&t, "link.loss", "1%");
	assert_true(t.link.loss_pct == 1);
	set_ok(&t, "topology.intra.latency", "20us");
	assert_int_equal(t.intra.delay_us, 20);
	assert_int_equal(t.intra_set, MC_LINK_F_DELAY);
	set_ok(&t, "inter.bandwidth", "8Gbit");
	assert_int_equal(t.inter_set, MC_LINK_F_RATE);
	assert_int_equal(t.inter.rate_bps, 8000000000ull);

	assert_int_equal(mc_topology_set(&t, "kind", "torus", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "kind \"torus\": unknown topology kind (flat, fat-tree or hosts)");
	assert_int_equal(mc_topology_set(&t, "rack_size", "0", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rack_size \"0\""));
	assert_int_equal(mc_topology_set(&t, "rack_size", "12x", err, sizeof(err)), -EINVAL);
	assert_int_equal(mc_topology_set(&t, "oversubscription", "0.5", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "oversubscription \"0.5\""));
	assert_int_equal(mc_topology_set(&t, "oversubscription", "4:2", err, sizeof(err)), -EINVAL);
	/* A bad link value names the key and the value. */
	assert_int_equal(mc_topology_set(&t, "topology.inter.latency", "5xs", err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "latency \"5xs\""));
	assert_non_null(strstr(err, "unknown unit \"xs\""));
	assert_int_equal(mc_topology_set(&t, "intra.colour", "red", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "\"colour\""));
	assert_int_equal(mc_topology_set(&t, "racks", "4", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "unknown topology key \"racks\""));
	/* Link keys do not take the "topology." prefix (the experiment file never sends it). */
	assert_int_equal(mc_topology_set(&t, "topology.latency", "1ms", err, sizeof(err)), -ENOENT);
	/* A failed setting leaves the value as it was. */
	assert_int_equal(t.rack_size, 32);
	assert_int_equal(t.intra.delay_us, 20);
}

static void test_check(void **state)
{
	struct mc_topology t;
	char err[256];

	(void)state;
	mc_topology_init(&t);
	assert_int_equal(mc_topology_check(&t, err, sizeof(err)), 0);
	set_ok(&t, "intra.latency", "1ms");
	assert_int_equal(mc_topology_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fat-tree"));
	set_ok(&t, "kind", "fat-tree");
	assert_int_equal(mc_topology_check(&t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "fat-tree needs rack_size (guests per rack)");
	set_ok(&t, "rack_size", "8");
	assert_int_equal(mc_topology_check(&t, err, sizeof(err)), 0);
	/* Jitter on inter without any latency there (the base has none). */
	set_ok(&t, "inter.jitter", "1ms");
	assert_int_equal(mc_topology_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "inter: jitter"));
	/* A base latency makes it valid. */
	set_ok(&t, "latency", "5ms");
	assert_int_equal(mc_topology_check(&t, err, sizeof(err)), 0);
}

static void test_links_resolved(void **state)
{
	struct mc_topology t;
	struct mc_link intra, inter;
	char buf[512];

	(void)state;
	mc_topology_init(&t);
	set_ok(&t, "latency", "100us");
	set_ok(&t, "loss", "0.5%");
	mc_topology_links(&t, &intra, &inter);
	assert_int_equal(intra.delay_us, 100);
	assert_int_equal(inter.delay_us, 100);
	assert_string_equal(mc_topology_format(&t, buf, sizeof(buf)),
	                    "flat [latency 100us loss 0.5%]");

	/* Fat-tree: the base link, overridden per level; inter bandwidth = intra / o. */
	set_ok(&t, "kind", "fat-tree");
	set_ok(&t, "rack_size", "32");
	set_ok(&t, "oversubscription", "4");
	set_ok(&t, "intra.latency", "20us");
	set_ok(&t, "intra.bandwidth", "10Gbit");
	set_ok(&t, "inter.loss", "0%");
	mc_topology_links(&t, &intra, &inter);
	assert_int_equal(intra.delay_us, 20);
	assert_true(intra.loss_pct == 0.5);
	assert_int_equal(intra.rate_bps, 10000000000ull);
	assert_int_equal(inter.delay_us, 100);
	assert_true(inter.loss_pct == 0); /* explicitly 0% overrides the base */
	assert_int_equal(inter.rate_bps, 2500000000ull);
	assert_string_equal(
	        mc_topology_format(&t, buf, sizeof(buf)),
	        "fat-tree rack_size 32 oversubscription 4 intra [latency 20us loss 0.5% "
	        "bandwidth 10Gbit] inter [latency 100us bandwidth 2.5Gbit]");

	/* An explicit inter bandwidth is divided too. */
	set_ok(&t, "inter.bandwidth", "8Gbit");
	mc_topology_links(&t, &intra, &inter);
	assert_int_equal(inter.rate_bps, 2000000000ull);
	/* Oversubscription 3 rounds to the nearest bit/s. */
	set_ok(&t, "oversubscription", "3");
	mc_topology_links(&t, &intra, &inter);
	assert_int_equal(inter.rate_bps, 2666666667ull);
	/* No bandwidth anywhere: no bandwidth between racks either. */
	mc_topology_init(&t);
	set_ok(&t, "kind", "fat-tree");
	set_ok(&t, "rack_size", "4");
	set_ok(&t, "oversubscription", "4");
	set_ok(&t, "inter.latency", "1ms");
	mc_topology_links(&t, &intra, &inter);
	assert_int_equal(inter.rate_bps, 0);
	assert_true(mc_link_is_off(&intra));
}

static uint32_t addr_of(unsigned j)
{
	return htonl(mc_net_guest_addr(j));
}

static void test_plan_flat(void **state)
{
	struct mc_topology t;
	struct mc_topology_plan p;
	char err[256];

	(void)state;
	mc_topology_init(&t);
	set_ok(&t, "latency", "1ms");
	mc_topology_plan_init(&p);
	assert_int_equal(mc_topology_plan(&t, 2, 4, &p, err, sizeof(err)), 0);
	assert_int_equal(p.dflt.delay_us, 1000);
	assert_int_equal(p.nclasses, 1);
	/* Class 0: the controllers' traffic (the host's, the cluster's across hosts), not
	 * emulated. */
	assert_int_equal(p.classes[0].nsrc, 2);
	assert_int_equal(p.classes[0].src[0], htonl(MC_NET_CTL_ADDR));
	assert_int_equal(p.classes[0].src[1], htonl(MC_NET_OVERLAY_CTL));
	assert_true(mc_link_is_off(&p.classes[0].link));
	mc_topology_plan_fini(&p);
}

/* Racks as explicit first indices, and kind hosts (racks = the cluster's hosts). */
static void test_plan_rack_starts(void **state)
{
	struct mc_topology t;
	struct mc_topology_plan p;
	char err[256];

	(void)state;
	mc_topology_init(&t);
	set_ok(&t, "kind", "hosts");
	set_ok(&t, "intra.latency", "10us");
	set_ok(&t, "inter.latency", "300us");
	/* Before the harness fills in the hosts: fine to check, not to plan. */
	assert_int_equal(mc_topology_check(&t, err, sizeof(err)), 0);
	mc_topology_plan_init(&p);
	assert_int_equal(mc_topology_plan(&t, 0, 6, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kind hosts"));
	/* 7 guests on 3 hosts: 0-2, 3-4, 5-6. */
	set_ok(&t, "rack_starts", "0,3,5");
	assert_int_equal(t.nracks, 3);
	assert_int_equal(mc_topology_plan(&t, 4, 7, &p, err, sizeof(err)), 0);
	assert_int_equal(p.nclasses, 2);
	assert_int_equal(p.dflt.delay_us, 300);
	assert_int_equal(p.classes[1].link.delay_us, 10);
	assert_int_equal(p.classes[1].nsrc, 2);
	assert_int_equal(p.classes[1].src[0], addr_of(3));
	assert_int_equal(p.classes[1].src[1], addr_of(4));
	assert_int_equal(mc_topology_plan(&t, 2, 7, &p, err, sizeof(err)), 0);
	assert_int_equal(p.classes[1].nsrc, 3);
	assert_int_equal(p.classes[1].src[0], addr_of(0));
	assert_int_equal(mc_topology_plan(&t, 6, 7, &p, err, sizeof(err)), 0);
	assert_int_equal(p.classes[1].nsrc, 2);
	assert_int_equal(p.classes[1].src[1], addr_of(6));
	mc_topology_plan_fini(&p);
	/* Not from 0, not increasing, not numbers: refused. */
	assert_int_equal(mc_topology_set(&t, "rack_starts", "1,3", err, sizeof(err)), -EINVAL);
	assert_int_equal(mc_topology_set(&t, "rack_starts", "0,3,3", err, sizeof(err)), -EINVAL);
	assert_int_equal(mc_topology_set(&t, "rack_starts", "0,x", err, sizeof(err)), -EINVAL);
	assert_int_equal(mc_topology_set(&t, "rack_starts", "", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rack_starts"));
}

static void test_plan_fat_tree(void **state)
{
	struct mc_topology t;
	struct mc_topology_plan p;
	char err[256];
	unsigned i, j;

	(void)state;
	mc_topology_init(&t);
	set_ok(&t, "kind", "fat-tree");
	set_ok(&t, "rack_size", "32");
	set_ok(&t, "oversubscription", "2");
	set_ok(&t, "intra.latency", "50us");
	set_ok(&t, "intra.bandwidth", "10Gbit");
	set_ok(&t, "inter.latency", "200us");
	mc_topology_plan_init(&p);

	/* Guest 40 of 1000: rack 1 = guests 32..63, addresses 10.77.0.34..10.77.0.65. */
	assert_int_equal(mc_topology_plan(&t, 40, 1000, &p, err, sizeof(err)), 0);
	assert_int_equal(p.nclasses, 2);
	assert_int_equal(p.dflt.delay_us, 200);
	assert_int_equal(p.dflt.rate_bps, 5000000000ull);
	assert_int_equal(p.classes[1].link.delay_us, 50);
	assert_int_equal(p.classes[1].link.rate_bps, 10000000000ull);
	assert_int_equal(p.classes[1].nsrc, 32);
	assert_int_equal(p.classes[1].src[0], addr_of(32));
	assert_int_equal(p.classes[1].src[31], addr_of(63));
	assert_int_equal(ntohl(p.classes[1].src[0]), 0x0a4d0022); /* 10.77.0.34 */
	assert_int_equal(p.classes[0].src[0], htonl(MC_NET_CTL_ADDR));

	/* The last rack of 1000 is short: guests 992..999. */
	assert_int_equal(mc_topology_plan(&t, 999, 1000, &p, err, sizeof(err)), 0);
	assert_int_equal(p.classes[1].nsrc, 8);
	assert_int_equal(p.classes[1].src[0], addr_of(992));
	assert_int_equal(p.classes[1].src[7], addr_of(999));

	/* Every guest of 1000: its own rack only, and memory stays one rack's worth. */
	for (i = 0; i < 1000; i++) {
		assert_int_equal(mc_topology_plan(&t, i, 1000, &p, err, sizeof(err)), 0);
		assert_int_equal(p.nclasses, 2);
		for (j = 0; j < p.classes[1].nsrc; j++)
			assert_int_equal(ntohl(p.classes[1].src[j]) / 32,
			                 mc_net_guest_addr(i / 32 * 32 + j) / 32);
		assert_int_equal(ntohl(p.classes[1].src[0]), mc_net_guest_addr(i / 32 * 32));
	}
	assert_true(p.src_cap <= 34);

	/* A rack of one has no same-rack class. */
	set_ok(&t, "rack_size", "1");
	assert_int_equal(mc_topology_plan(&t, 5, 10, &p, err, sizeof(err)), 0);
	assert_int_equal(p.nclasses, 1);
	/* The last guest alone in a short rack: likewise. */
	set_ok(&t, "rack_size", "4");
	assert_int_equal(mc_topology_plan(&t, 8, 9, &p, err, sizeof(err)), 0);
	assert_int_equal(p.nclasses, 1);

	/* Out of range and invalid topologies. */
	assert_int_equal(mc_topology_plan(&t, 10, 10, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "guest 10 of 10"));
	assert_int_equal(mc_topology_plan(&t, 0, MC_NET_MAX_GUESTS + 1, &p, err, sizeof(err)),
	                 -EINVAL);
	t.rack_size = 0;
	assert_int_equal(mc_topology_plan(&t, 0, 10, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rack_size"));
	mc_topology_plan_fini(&p);
	mc_topology_plan_fini(&p); /* idempotent */
}

static void test_plan_nothing_emulated(void **state)
{
	struct mc_topology t;
	struct mc_topology_plan p;
	char err[256];
	size_t k;

	(void)state;
	mc_topology_init(&t);
	mc_topology_plan_init(&p);
	assert_int_equal(mc_topology_plan(&t, 0, 3, &p, err, sizeof(err)), 0);
	assert_true(mc_link_is_off(&p.dflt));
	for (k = 0; k < p.nclasses; k++)
		assert_true(mc_link_is_off(&p.classes[k].link));
	mc_topology_plan_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_set_and_errors),
	        cmocka_unit_test(test_check),
	        cmocka_unit_test(test_links_resolved),
	        cmocka_unit_test(test_plan_flat),
	        cmocka_unit_test(test_plan_fat_tree),
	        cmocka_unit_test(test_plan_rack_starts),
	        cmocka_unit_test(test_plan_nothing_emulated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
