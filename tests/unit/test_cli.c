/* test_cli.c — argument parsing of every verb and guest target sets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "vmm.h"

#define ARGV(...)         ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...)         ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define PARSE(fn, o, ...) fn(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o)

static void test_up_defaults_and_values(void **state)
{
	struct mc_up_opts o;

	(void)state;
	unsetenv("MC_CLUSTER");
	unsetenv("MC_STATE_DIR");
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "32"), 0);
	assert_int_equal(o.n, 32);
	assert_int_equal(o.mem_mib, 128);
	assert_string_equal(o.accel, "auto");
	assert_string_equal(o.c.cluster, "default");
	assert_string_equal(o.c.state_dir, "/run/microcosm");
	assert_int_equal(o.hb_timeout_ms, 10000); /* 3 x 1 s, but at least 10 s */
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "4", "--memory", "1G", "--accel",
	                       "tcg", "-c", "ci-1", "--heartbeat", "250ms", "--boot-timeout", "2m"),
	                 0);
	assert_int_equal(o.mem_mib, 1024);
	assert_string_equal(o.accel, "tcg");
	assert_string_equal(o.c.cluster, "ci-1");
	assert_int_equal(o.hb_ms, 250);
	assert_int_equal(o.hb_timeout_ms, 10000);
	assert_int_equal(o.boot_timeout_ms, 120000);
}

static void test_up_rejects_bad_input(void **state)
{
	struct mc_up_opts o;

	(void)state;
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "0"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "abc"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "70000"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "2", "--accel", "xen"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "2", "-m", "12X"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "2", "-c", "bad/name"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "2", "--bogus"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "2", "--state-dir", "rel"),
	                 -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "2", "--heartbeat", "1s",
	                       "--hb-timeout", "500ms"),
	                 -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n", "2", "extra"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_up, &o, "up", "-n"), -EINVAL);
}

static void test_exec(void **state)
{
	struct mc_exec_opts o;

	(void)state;
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "-t", "5s", "-e", "A=1", "--cwd",
	                       "/tmp", "all", "--", "sh", "-c", "echo -t"),
	                 0);
	assert_string_equal(o.target, "all");
	assert_int_equal(o.timeout_ms, 5000);
	assert_int_equal(o.envc, 1);
	assert_string_equal(o.env[0], "A=1");
	assert_string_equal(o.cwd, "/tmp");
	assert_int_equal(o.argc, 3);
	assert_string_equal(o.argv[2], "echo -t"); /* options after -- belong to the command */
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "g0001", "--", "uname", "--help"), 0);
	assert_int_equal(o.argc, 2);
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "all", "uname"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "all", "--"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "--", "uname"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "a", "b", "--", "uname"), -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "-e", "NOVALUE", "all", "--", "x"),
	                 -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "-t", "soon", "all", "--", "x"),
	                 -EINVAL);
	assert_int_equal(PARSE(mc_cli_parse_exec, &o, "exec", "g5-g2", "--", "x"), -EINVAL);
}

static void test_targets(void **state)
{
	struct mc_target t;

	(void)state;
	assert_int_equal(mc_target_parse("all", &t), 0);
	assert_true(mc_target_match(&t, "g0007", 7));
	assert_int_equal(mc_target_parse("g0003", &t), 0);
	assert_true(mc_target_match(&t, "g0003", 3));
	assert_false(mc_target_match(&t, "g0004", 4));
	assert_int_equal(mc_target_parse("g0001-g0004,9", &t), 0);
	assert_false(mc_target_match(&t, "g0000", 0));
	assert_true(mc_target_match(&t, "g0001", 1));
	assert_true(mc_target_match(&t, "g0004", 4));
	assert_false(mc_target_match(&t, "g0005", 5));
	assert_true(mc_target_match(&t, "g0009", 9));
	assert_int_equal(mc_target_parse("0-2", &t), 0);
	assert_true(mc_target_match(&t, "g0002", 2));
	assert_false(mc_target_match(&t, "g0003", 3));
	assert_int_equal(mc_target_parse("", &t), -EINVAL);
	assert_int_equal(mc_target_parse("g1,", &t), -EINVAL);
	assert_int_equal(mc_target_parse("g1-h3", &t), -EINVAL);
	assert_int_equal(mc_target_parse("g3-g1", &t), -EINVAL);
	assert_int_equal(mc_target_parse("g1;rm", &t), -EINVAL);
	assert_int_equal(mc_target_parse("-3", &t), -EINVAL);
}

static void test_simple_and_target_verbs(void **state)
{
	struct mc_simple_opts s;
	struct mc_target_opts t;

	(void)state;
	assert_int_equal(mc_cli_parse_simple(2, ARGV("ls", "--json"), &s, mc_ls_usage), 0);
	assert_true(s.json);
	assert_int_equal(mc_cli_parse_simple(2, ARGV("down", "now"), &s, mc_down_usage), -EINVAL);
	assert_int_equal(mc_cli_parse_target(2, ARGV("pause", "g0001"), &t, mc_pause_usage), 0);
	assert_string_equal(t.target, "g0001");
	assert_int_equal(mc_cli_parse_target(1, ARGV("pause"), &t, mc_pause_usage), -EINVAL);
}

static void test_qemu_argv_per_accel(void **state)
{
	struct mc_vm_spec s = {.name = "g0001",
	                       .qemu = "/usr/bin/qemu-system-x86_64",
	                       .accel = "tcg",
	                       .vcpus = 1,
	                       .mem_mib = 128,
	                       .tb_size_mib = 16,
	                       .kernel = "/k",
	                       .initrd = "/i",
	                       .cmdline = "console=ttyS0",
	                       .disk = "/d.qcow2",
	                       .identity = "/id",
	                       .console_log = "/c",
	                       .log = "/l",
	                       .tap_fd = 4,
	                       .mac = "52:54:00:00:00:01"};
	char *argv[64], buf[8192];
	int n, has_tcg = 0, has_cpu_max = 0, has_kvm = 0, has_host = 0, has_tap = 0;

	(void)state;
	n = mc_vmm_qemu_argv(&s, 3, 4, argv, 64, buf, sizeof(buf));
	assert_true(n > 10);
	for (int i = 0; i < n; i++) {
		has_tcg |= !strcmp(argv[i], "tcg,tb-size=16");
		has_cpu_max |= !strcmp(argv[i], "max");
		has_tap |= !strcmp(argv[i], "tap,id=n0,fd=4");
	}
	assert_true(has_tcg && has_cpu_max && has_tap);
	s.accel = "kvm";
	n = mc_vmm_qemu_argv(&s, 3, 4, argv, 64, buf, sizeof(buf));
	for (int i = 0; i < n; i++) {
		has_kvm |= !strcmp(argv[i], "kvm");
		has_host |= !strcmp(argv[i], "host");
	}
	assert_true(has_kvm && has_host);
	assert_int_equal(mc_vmm_qemu_argv(&s, 3, 4, argv, 8, buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(mc_vmm_qemu_argv(&s, 3, 4, argv, 64, buf, 64), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_up_defaults_and_values),
	        cmocka_unit_test(test_up_rejects_bad_input),
	        cmocka_unit_test(test_exec),
	        cmocka_unit_test(test_targets),
	        cmocka_unit_test(test_simple_and_target_verbs),
	        cmocka_unit_test(test_qemu_argv_per_accel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
