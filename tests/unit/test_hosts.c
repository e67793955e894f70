/* test_hosts.c — placing guests on hosts, the host list on the wire, the VXLAN number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hosts.h"

static void test_place_even(void **state)
{
	struct mc_host h[3] = {{.name = "a"}, {.name = "b"}, {.name = "c"}};
	unsigned cap[3] = {100, 100, 100};

	(void)state;
	assert_int_equal(mc_hosts_place(h, cap, 3, 7), 0);
	/* 7 over 3: the first host gets the one left over; names stay contiguous per host. */
	assert_int_equal(h[0].n, 3);
	assert_int_equal(h[1].n, 2);
	assert_int_equal(h[2].n, 2);
	assert_int_equal(h[0].first, 0);
	assert_int_equal(h[1].first, 3);
	assert_int_equal(h[2].first, 5);
}

static void test_place_capacity(void **state)
{
	struct mc_host h[3] = {{.name = "a"}, {.name = "b"}, {.name = "c"}};
	unsigned cap[3] = {1, 10, 4};

	(void)state;
	/* a is full after 1; the rest is spread over b and c, c up to its 4. */
	assert_int_equal(mc_hosts_place(h, cap, 3, 12), 0);
	assert_int_equal(h[0].n, 1);
	assert_int_equal(h[1].n, 7);
	assert_int_equal(h[2].n, 4);
	assert_int_equal(h[2].first, 8);
	/* Exactly the capacity, and one more. */
	assert_int_equal(mc_hosts_place(h, cap, 3, 15), 0);
	assert_int_equal(h[0].n + h[1].n + h[2].n, 15);
	assert_int_equal(mc_hosts_place(h, cap, 3, 16), -1);
}

static void test_place_one_host_zero(void **state)
{
	struct mc_host h[2] = {{.name = "a"}, {.name = "b"}};
	unsigned cap[2] = {0, 5};

	(void)state;
	assert_int_equal(mc_hosts_place(h, cap, 2, 5), 0);
	assert_int_equal(h[0].n, 0);
	assert_int_equal(h[1].n, 5);
	assert_int_equal(h[1].first, 0);
}

static void test_json_round_trip(void **state)
{
	struct mc_host h[2] = {{.name = "node1", .underlay = 0xc0a80a0bu, .first = 0, .n = 3},
	                       {.name = "node2", .underlay = 0xc0a80a0cu, .first = 3, .n = 2}};
	struct mc_host back[MC_HOSTS_MAX] = {0};
	unsigned n = 0;
	json_t *j = mc_hosts_json(h, 2);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "underlay")),
	                    "192.168.10.12");
	assert_int_equal(mc_hosts_from_json(j, back, &n), 0);
	assert_int_equal(n, 2);
	for (int k = 0; k < 2; k++) {
		assert_string_equal(back[k].name, h[k].name);
		assert_int_equal(back[k].underlay, h[k].underlay);
		assert_int_equal(back[k].first, h[k].first);
		assert_int_equal(back[k].n, h[k].n);
	}
	json_decref(j);
	/* A bad address, a negative count, guests past the address space: refused. */
	j = json_loads("[{\"name\":\"x\",\"underlay\":\"10.1.2\",\"first\":0,\"n\":1}]", 0, NULL);
	assert_int_equal(mc_hosts_from_json(j, back, &n), -1);
	json_decref(j);
	j = json_loads("[{\"name\":\"x\",\"underlay\":\"10.1.2.3\",\"first\":0,\"n\":-1}]", 0,
	               NULL);
	assert_int_equal(mc_hosts_from_json(j, back, &n), -1);
	json_decref(j);
	j = json_loads("[{\"name\":\"x\",\"underlay\":\"10.1.2.3\",\"first\":64999,\"n\":2}]", 0,
	               NULL);
	assert_int_equal(mc_hosts_from_json(j, back, &n), -1);
	json_decref(j);
}

static void test_vni(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++) {
		char key[16];
		uint32_t v;

		snprintf(key, sizeof(key), "c%d", i);
		v = mc_hosts_vni(key);
		assert_true(v >= 1 && v <= 0xffffffu);
	}
	assert_int_equal(mc_hosts_vni("same"), mc_hosts_vni("same"));
	assert_int_not_equal(mc_hosts_vni("a/1/2"), mc_hosts_vni("a/1/3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_place_even),
	        cmocka_unit_test(test_place_capacity),
	        cmocka_unit_test(test_place_one_host_zero),
	        cmocka_unit_test(test_json_round_trip),
	        cmocka_unit_test(test_vni),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
