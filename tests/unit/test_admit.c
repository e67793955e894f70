/* test_admit.c — admission decisions and the persisted, measured guest cost. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "admit.h"
#include "util.h"

static void test_admit_memory(void **state)
{
	struct mc_cost c = {.mem_mib = 20.0, .cpu_pct = 0.01, .samples = 10};
	char msg[512];

	(void)state;
	/* 1000 x 20 MiB x 1.1 margin + 1024 reserve = 23024 MiB. */
	assert_int_equal(mc_admit(1000, &c, 23100, 2, msg, sizeof(msg)), 0);
	assert_int_equal(mc_admit(1000, &c, 23000, 2, msg, sizeof(msg)), -ENOMEM);
	assert_non_null(strstr(msg, "not enough memory for 1000 guests"));
	assert_non_null(strstr(msg, "measured"));
	assert_non_null(strstr(msg, "at most 998 guests fit"));
	/* Unknown MemAvailable (0) does not refuse on memory. */
	assert_int_equal(mc_admit(1000, &c, 0, 2, msg, sizeof(msg)), 0);
}

static void test_admit_cpu(void **state)
{
	struct mc_cost c = {.mem_mib = 1.0, .cpu_pct = 0.3, .samples = 0};
	char msg[512];

	(void)state;
	/* 2 cores x 75 % = 150 % of a core: 500 guests at 0.3 % fit, 501 do not. */
	assert_int_equal(mc_admit(500, &c, 100000, 2, msg, sizeof(msg)), 0);
	assert_int_equal(mc_admit(501, &c, 100000, 2, msg, sizeof(msg)), -EBUSY);
	assert_non_null(strstr(msg, "not enough CPU"));
	assert_non_null(strstr(msg, "estimated"));
}

static void test_cost_persisted_and_measured(void **state)
{
	char dir[] = "/tmp/mc-test-admit-XXXXXX", key[96];
	struct mc_cost c;

	(void)state;
	assert_non_null(mkdtemp(dir));
	mc_cost_key(key, sizeof(key), 1, "tcg", 8, 0, 128);
	assert_string_equal(key, "clone-tcg-tb8-m128");
	/* No measurement yet: the built-in estimate, marked as such. */
	assert_int_equal(mc_cost_load(dir, key, 1, "tcg", 8, 128, &c), 0);
	assert_int_equal(c.samples, 0);
	assert_true(c.mem_mib > 0);
	/* A measurement replaces the estimate; a second one is averaged in. */
	assert_int_equal(mc_cost_update(dir, key, &c, 20.0, 0.2, 64), 0);
	assert_int_equal(mc_cost_load(dir, key, 1, "tcg", 8, 128, &c), 0);
	assert_int_equal(c.samples, 64);
	assert_true(c.mem_mib > 19.99 && c.mem_mib < 20.01);
	assert_int_equal(mc_cost_update(dir, key, &c, 10.0, 0.1, 32), 0);
	assert_int_equal(mc_cost_load(dir, key, 1, "tcg", 8, 128, &c), 0);
	assert_int_equal(c.samples, 96);
	assert_true(c.mem_mib > 14.99 && c.mem_mib < 15.01);
	/* Another kind of guest has its own record. */
	mc_cost_key(key, sizeof(key), 0, "tcg", 16, 1, 128);
	assert_int_equal(mc_cost_load(dir, key, 0, "tcg", 16, 128, &c), 0);
	assert_int_equal(c.samples, 0);
	assert_int_equal(mc_rm_rf(dir), 0);
}

static void test_proc_readers(void **state)
{
	(void)state;
	assert_true(mc_proc_pss_kib(getpid()) > 0);
	assert_true(mc_proc_cpu_ticks(getpid()) >= 0);
	assert_true(mc_proc_pss_kib(0x7ffffff0) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_admit_memory),
	        cmocka_unit_test(test_admit_cpu),
	        cmocka_unit_test(test_cost_persisted_and_measured),
	        cmocka_unit_test(test_proc_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
