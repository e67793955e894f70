/* test_vm.c — the guest state machine's allowed and refused transitions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vm.h"

static enum mc_vm_state step(enum mc_vm_state s, enum mc_vm_event ev)
{
	enum mc_vm_state n;

	assert_int_equal(mc_vm_next(s, ev, &n), 0);
	return n;
}

static void test_happy_path(void **state)
{
	enum mc_vm_state s = MC_VM_DEFINED;

	(void)state;
	s = step(s, MC_VM_EV_START);
	assert_int_equal(s, MC_VM_BOOTING);
	s = step(s, MC_VM_EV_HELLO);
	assert_int_equal(s, MC_VM_READY);
	s = step(s, MC_VM_EV_EXEC);
	assert_int_equal(s, MC_VM_BUSY);
	s = step(s, MC_VM_EV_IDLE);
	assert_int_equal(s, MC_VM_READY);
	s = step(s, MC_VM_EV_PAUSE);
	assert_int_equal(s, MC_VM_PAUSED);
	s = step(s, MC_VM_EV_RESUME);
	assert_int_equal(s, MC_VM_READY);
	s = step(s, MC_VM_EV_STOP);
	assert_int_equal(s, MC_VM_STOPPING);
	s = step(s, MC_VM_EV_EXITED);
	assert_int_equal(s, MC_VM_STOPPED);
}

static void test_failures(void **state)
{
	(void)state;
	assert_int_equal(step(MC_VM_BOOTING, MC_VM_EV_TIMEOUT), MC_VM_FAILED);
	assert_int_equal(step(MC_VM_BOOTING, MC_VM_EV_EXITED), MC_VM_FAILED);
	assert_int_equal(step(MC_VM_READY, MC_VM_EV_EXITED), MC_VM_FAILED);
	assert_int_equal(step(MC_VM_BUSY, MC_VM_EV_TIMEOUT), MC_VM_FAILED);
	assert_int_equal(step(MC_VM_PAUSED, MC_VM_EV_EXITED), MC_VM_FAILED);
	assert_int_equal(step(MC_VM_STOPPING, MC_VM_EV_TIMEOUT), MC_VM_FAILED);
	assert_int_equal(step(MC_VM_DEFINED, MC_VM_EV_ERROR), MC_VM_FAILED);
}

static void test_refused(void **state)
{
	enum mc_vm_state n = MC_VM_READY;

	(void)state;
	/* A paused guest sends no heartbeats: silence must not fail it. */
	assert_int_equal(mc_vm_next(MC_VM_PAUSED, MC_VM_EV_TIMEOUT, &n), -EINVAL);
	assert_int_equal(mc_vm_next(MC_VM_DEFINED, MC_VM_EV_HELLO, &n), -EINVAL);
	assert_int_equal(mc_vm_next(MC_VM_STOPPED, MC_VM_EV_START, &n), -EINVAL);
	assert_int_equal(mc_vm_next(MC_VM_FAILED, MC_VM_EV_HELLO, &n), -EINVAL);
	assert_int_equal(mc_vm_next(MC_VM_BOOTING, MC_VM_EV_EXEC, &n), -EINVAL);
	assert_int_equal(mc_vm_next(MC_VM_NSTATES, MC_VM_EV_START, &n), -EINVAL);
	assert_int_equal(mc_vm_next(MC_VM_READY, MC_VM_NEVENTS, &n), -EINVAL);
	assert_int_equal(n, MC_VM_READY); /* untouched on refusal */
}

static void test_terminal_states_are_not_live(void **state)
{
	(void)state;
	assert_false(mc_vm_state_live(MC_VM_STOPPED));
	assert_false(mc_vm_state_live(MC_VM_FAILED));
	assert_false(mc_vm_state_live(MC_VM_DEFINED));
	assert_true(mc_vm_state_live(MC_VM_PAUSED));
	for (int s = 0; s < MC_VM_NSTATES; s++)
		assert_int_equal(mc_vm_state_parse(mc_vm_state_name(s)), s);
	assert_int_equal(mc_vm_state_parse("nonsense"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_happy_path),
	        cmocka_unit_test(test_failures),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_terminal_states_are_not_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
