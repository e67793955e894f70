/* test_tf_wire.c — unit tests of the task-farm codec (tf_wire.c) and task maths (tf_task.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tf_task.h"
#include "tf_wire.h"

/* One valid message of every type. */
static int samples(struct mc_tf_msg *out)
{
	struct mc_tf_msg m;
	int n = 0;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_HELLO;
	m.u.hello.session = 0x1122334455667788ull;
	m.u.hello.slots = 4;
	strcpy(m.u.hello.name, "g0003.worker-1_x");
	out[n++] = m;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_WELCOME;
	m.u.welcome.session = 7;
	m.u.welcome.idx = 42;
	m.u.welcome.hb_ms = 500;
	m.u.welcome.run = UINT64_MAX;
	out[n++] = m;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_STATUS;
	m.u.status.session = 9;
	m.u.status.idx = 3;
	m.u.status.flags = MC_TF_STATUS_PING;
	m.u.status.free = 2;
	m.u.status.last_seq = 1000;
	m.u.status.nheld = 3;
	m.u.status.held[0] = 5;
	m.u.status.held[1] = 0xffffffffu;
	m.u.status.held[2] = 0;
	out[n++] = m;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_STATUS; /* the largest message */
	m.u.status.session = 1;
	m.u.status.nheld = MC_TF_WIRE_MAX_HELD;
	for (unsigned i = 0; i < MC_TF_WIRE_MAX_HELD; i++)
		m.u.status.held[i] = i * 7919u;
	out[n++] = m;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_TASK;
	m.u.task.seq = 1;
	m.u.task.task = 999;
	m.u.task.iters = MC_TF_WIRE_MAX_ITERS;
	m.u.task.modulus = 3;
	m.u.task.seed = 0;
	out[n++] = m;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_RESULT;
	m.u.result.session = 5;
	m.u.result.idx = 0;
	m.u.result.task = 17;
	m.u.result.value = 0xdeadbeefcafef00dull;
	out[n++] = m;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_PONG;
	m.u.session = 77;
	out[n++] = m;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_STOP;
	out[n++] = m;

	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_UNKNOWN;
	m.u.unknown.session = 78;
	m.u.unknown.run = 79;
	out[n++] = m;
	return n;
}

static void test_roundtrip(void **state)
{
	struct mc_tf_msg s[16], d;
	uint8_t buf[MC_TF_WIRE_MAX_MSG], again[MC_TF_WIRE_MAX_MSG];
	int n = samples(s);

	(void)state;
	for (int i = 0; i < n; i++) {
		int len = mc_tf_wire_encode(&s[i], buf, sizeof(buf));
		const char *why = NULL;

		assert_true(len >= MC_TF_WIRE_HDR_LEN);
		assert_int_equal(buf[0], 'T');
		assert_int_equal(buf[2], MC_TF_WIRE_VERSION);
		assert_int_equal(buf[3], s[i].type);
		assert_int_equal(mc_tf_wire_decode(buf, (size_t)len, &d, &why), 0);
		assert_int_equal(d.type, s[i].type);
		/* Decoded messages re-encode to the same bytes (one encoding per message). */
		assert_int_equal(mc_tf_wire_encode(&d, again, sizeof(again)), len);
		assert_memory_equal(buf, again, (size_t)len);
	}
	/* The largest message: STATUS with every held slot. */
	assert_int_equal(mc_tf_wire_encode(&s[3], buf, sizeof(buf)),
	                 MC_TF_WIRE_HDR_LEN + 25 + 4 * MC_TF_WIRE_MAX_HELD);
	assert_true(MC_TF_WIRE_HDR_LEN + 25 + 4 * MC_TF_WIRE_MAX_HELD <= MC_TF_WIRE_MAX_MSG);
	assert_int_equal(
	        mc_tf_wire_decode(buf, MC_TF_WIRE_HDR_LEN + 25 + 4 * MC_TF_WIRE_MAX_HELD, &d, NULL),
	        0);
	assert_memory_equal(d.u.status.held, s[3].u.status.held, sizeof(d.u.status.held));
}

static void test_fields(void **state)
{
	struct mc_tf_msg s[16], d;
	uint8_t buf[MC_TF_WIRE_MAX_MSG];
	int len;

	(void)state;
	samples(s);
	len = mc_tf_wire_encode(&s[0], buf, sizeof(buf));
	assert_int_equal(mc_tf_wire_decode(buf, (size_t)len, &d, NULL), 0);
	assert_string_equal(d.u.hello.name, "g0003.worker-1_x");
	assert_int_equal(d.u.hello.session, 0x1122334455667788ull);
	assert_int_equal(d.u.hello.slots, 4);

	len = mc_tf_wire_encode(&s[2], buf, sizeof(buf));
	assert_int_equal(mc_tf_wire_decode(buf, (size_t)len, &d, NULL), 0);
	assert_int_equal(d.u.status.nheld, 3);
	assert_int_equal(d.u.status.held[1], 0xffffffffu);
	assert_int_equal(d.u.status.last_seq, 1000);
	assert_int_equal(d.u.status.flags, MC_TF_STATUS_PING);

	len = mc_tf_wire_encode(&s[5], buf, sizeof(buf));
	assert_int_equal(mc_tf_wire_decode(buf, (size_t)len, &d, NULL), 0);
	assert_int_equal(d.u.result.value, 0xdeadbeefcafef00dull);
	assert_int_equal(d.u.result.task, 17);
}

static void test_truncated_and_extended(void **state)
{
	struct mc_tf_msg s[16], d;
	uint8_t buf[MC_TF_WIRE_MAX_MSG + 8];
	int n = samples(s);

	(void)state;
	for (int i = 0; i < n; i++) {
		int len = mc_tf_wire_encode(&s[i], buf, sizeof(buf));

		for (int cut = 0; cut < len; cut++)
			assert_int_equal(mc_tf_wire_decode(buf, (size_t)cut, &d, NULL),
			                 MC_TF_WIRE_EINVAL);
		buf[len] = 0;
		assert_int_equal(mc_tf_wire_decode(buf, (size_t)len + 1, &d, NULL),
		                 MC_TF_WIRE_EINVAL);
		/* Too small an output buffer. */
		assert_int_equal(mc_tf_wire_encode(&s[i], buf, (size_t)len - 1), MC_TF_WIRE_ENOSPC);
	}
	assert_int_equal(mc_tf_wire_decode(NULL, 10, &d, NULL), MC_TF_WIRE_EINVAL);
}

static void expect_reject(const uint8_t *buf, size_t len, const char *want)
{
	struct mc_tf_msg d;
	const char *why = NULL;

	assert_int_equal(mc_tf_wire_decode(buf, len, &d, &why), MC_TF_WIRE_EINVAL);
	assert_non_null(why);
	assert_string_equal(why, want);
}

static void test_header(void **state)
{
	struct mc_tf_msg s[16];
	uint8_t buf[MC_TF_WIRE_MAX_MSG + 8];
	int n = samples(s), len;

	(void)state;
	(void)n;
	len = mc_tf_wire_encode(&s[6], buf, sizeof(buf)); /* PONG */
	buf[0] = 'X';
	expect_reject(buf, (size_t)len, "bad magic");
	buf[0] = 'T';
	buf[2] = 0;
	expect_reject(buf, (size_t)len, "unsupported version");
	buf[2] = MC_TF_WIRE_VERSION + 1;
	expect_reject(buf, (size_t)len, "unsupported version");
	buf[2] = MC_TF_WIRE_VERSION;
	buf[3] = 0;
	expect_reject(buf, (size_t)len, "unknown type");
	buf[3] = MC_TF_MSG_TYPE_MAX + 1;
	expect_reject(buf, (size_t)len, "unknown type");
	buf[3] = 255;
	expect_reject(buf, (size_t)len, "unknown type");
	memset(buf, 0, sizeof(buf));
	expect_reject(buf, MC_TF_WIRE_MAX_MSG + 1, "longer than any message");
	expect_reject(buf, 3, "shorter than the header");
	expect_reject(buf, 0, "shorter than the header");
}

static void test_limits(void **state)
{
	struct mc_tf_msg s[16], m;
	uint8_t buf[MC_TF_WIRE_MAX_MSG];
	int len;

	(void)state;
	samples(s);

	m = s[0];
	m.u.hello.session = 0;
	assert_int_equal(mc_tf_wire_encode(&m, buf, sizeof(buf)), MC_TF_WIRE_EINVAL);
	m = s[0];
	m.u.hello.slots = 0;
	assert_int_equal(mc_tf_wire_encode(&m, buf, sizeof(buf)), MC_TF_WIRE_EINVAL);
	m.u.hello.slots = MC_TF_WIRE_MAX_SLOTS + 1;
	assert_int_equal(mc_tf_wire_encode(&m, buf, sizeof(buf)), MC_TF_WIRE_EINVAL);
	m = s[0];
	strcpy(m.u.hello.name, "bad name");
	assert_int_equal(mc_tf_wire_encode(&m, buf, sizeof(buf)), MC_TF_WIRE_EINVAL);

	/* Hand-made bodies the encoder refuses to produce. */
	len = mc_tf_wire_encode(&s[0], buf, sizeof(buf));
	buf[MC_TF_WIRE_HDR_LEN + 10] = MC_TF_WIRE_MAX_NAME + 1; /* name_len */
	expect_reject(buf, (size_t)len, "name too long");
	len = mc_tf_wire_encode(&s[0], buf, sizeof(buf));
	buf[MC_TF_WIRE_HDR_LEN + 12] = '\0'; /* a NUL inside the name */
	expect_reject(buf, (size_t)len, "NUL in name");
	len = mc_tf_wire_encode(&s[0], buf, sizeof(buf));
	buf[MC_TF_WIRE_HDR_LEN + 12] = '/';
	expect_reject(buf, (size_t)len, "bad worker name");
	len = mc_tf_wire_encode(&s[0], buf, sizeof(buf));
	buf[MC_TF_WIRE_HDR_LEN + 10] = 0; /* empty name, body now too long */
	expect_reject(buf, (size_t)len, "trailing bytes");
	expect_reject(buf, MC_TF_WIRE_HDR_LEN + 11, "bad worker name");

	len = mc_tf_wire_encode(&s[2], buf, sizeof(buf));       /* STATUS */
	buf[MC_TF_WIRE_HDR_LEN + 23] = MC_TF_WIRE_MAX_HELD + 1; /* nheld, low byte */
	expect_reject(buf, (size_t)len, "too many held tasks");
	buf[MC_TF_WIRE_HDR_LEN + 23] = 0xff;
	buf[MC_TF_WIRE_HDR_LEN + 24] = 0xff;
	expect_reject(buf, (size_t)len, "too many held tasks");
	len = mc_tf_wire_encode(&s[2], buf, sizeof(buf));
	buf[MC_TF_WIRE_HDR_LEN + 23] = 4; /* claims one more id than present */
	expect_reject(buf, (size_t)len, "truncated body");
	len = mc_tf_wire_encode(&s[2], buf, sizeof(buf));
	buf[MC_TF_WIRE_HDR_LEN + 12] = 0x80; /* flags */
	expect_reject(buf, (size_t)len, "unknown flags");
	len = mc_tf_wire_encode(&s[2], buf, sizeof(buf));
	buf[MC_TF_WIRE_HDR_LEN + 13] = MC_TF_WIRE_MAX_HELD + 1; /* free */
	expect_reject(buf, (size_t)len, "free slots out of range");

	m = s[4]; /* TASK */
	m.u.task.modulus = 2;
	assert_int_equal(mc_tf_wire_encode(&m, buf, sizeof(buf)), MC_TF_WIRE_EINVAL);
	len = mc_tf_wire_encode(&s[4], buf, sizeof(buf));
	memset(buf + MC_TF_WIRE_HDR_LEN + 20, 0, 8); /* modulus 0: a division by zero */
	expect_reject(buf, (size_t)len, "modulus below 3");
	len = mc_tf_wire_encode(&s[4], buf, sizeof(buf));
	memset(buf + MC_TF_WIRE_HDR_LEN + 12, 0xff, 8); /* iters */
	expect_reject(buf, (size_t)len, "iterations out of range");
	len = mc_tf_wire_encode(&s[4], buf, sizeof(buf));
	memset(buf + MC_TF_WIRE_HDR_LEN, 0, 8); /* seq */
	expect_reject(buf, (size_t)len, "zero seq");

	len = mc_tf_wire_encode(&s[1], buf, sizeof(buf)); /* WELCOME */
	memset(buf + MC_TF_WIRE_HDR_LEN + 12, 0, 4);      /* hb_ms */
	expect_reject(buf, (size_t)len, "heartbeat period out of range");
	len = mc_tf_wire_encode(&s[5], buf, sizeof(buf)); /* RESULT */
	memset(buf + MC_TF_WIRE_HDR_LEN, 0, 8);
	expect_reject(buf, (size_t)len, "zero session");
}

/* xorshift64*: deterministic noise for the fuzz loops. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void test_fuzz(void **state)
{
	struct mc_tf_msg s[16], d;
	uint8_t buf[MC_TF_WIRE_MAX_MSG + 64], again[MC_TF_WIRE_MAX_MSG];
	uint64_t r = 0x9e3779b97f4a7c15ull;
	int n = samples(s), accepted = 0;

	(void)state;
	/* Random bytes behind a valid header and random lengths. */
	for (int i = 0; i < 200000; i++) {
		size_t len = rnd(&r) % (MC_TF_WIRE_MAX_MSG + 64);

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rnd(&r);
		if (len >= 4 && (i & 1)) {
			buf[0] = 'T';
			buf[1] = 'F';
			buf[2] = MC_TF_WIRE_VERSION;
			buf[3] = (uint8_t)(1 + rnd(&r) % MC_TF_MSG_TYPE_MAX);
		}
		if (mc_tf_wire_decode(buf, len, &d, NULL) == 0) {
			accepted++;
			assert_int_equal(mc_tf_wire_encode(&d, again, sizeof(again)), (int)len);
			assert_memory_equal(buf, again, len);
		}
	}
	/* Every single-byte change of every sample: rejected, or a valid message that
	 * re-encodes to exactly the changed bytes. */
	for (int i = 0; i < n; i++) {
		int len = mc_tf_wire_encode(&s[i], buf, sizeof(buf));

		for (int pos = 0; pos < len; pos++) {
			for (int v = 0; v < 256; v += 17) {
				uint8_t old = buf[pos];

				buf[pos] = (uint8_t)v;
				if (mc_tf_wire_decode(buf, (size_t)len, &d, NULL) == 0) {
					accepted++;
					assert_int_equal(
					        mc_tf_wire_encode(&d, again, sizeof(again)), len);
					assert_memory_equal(buf, again, (size_t)len);
				}
				buf[pos] = old;
			}
		}
	}
	assert_true(accepted > 0);
}

static int is_prime(uint64_t n)
{
	if (n < 2)
		return 0;
	for (uint64_t d = 2; d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return 1;
}

static void test_task_params(void **state)
{
	(void)state;
	for (uint64_t seed = 0; seed < 4; seed++) {
		struct mc_tf_task_params tp, again;

		mc_tf_task_params_init(&tp, seed * 0x1234567ull, 100);
		mc_tf_task_params_init(&again, seed * 0x1234567ull, 100);
		assert_int_equal(tp.modulus, again.modulus);
		assert_true(is_prime(tp.p));
		assert_true(is_prime(tp.q));
		assert_int_not_equal(tp.p, tp.q);
		assert_int_equal(tp.modulus, tp.p * tp.q);
		assert_true(tp.modulus > (1ull << 63));
		assert_int_equal(tp.iters, 100);
	}
}

/* The coordinator's shortcut (CRT) agrees with the worker's long way. */
static void test_task_verify(void **state)
{
	static const uint64_t iters[] = {0, 1, 2, 3, 64, 1000, 25000};
	static const uint32_t tasks[] = {0, 1, 2, 77, 999, 0xffffffffu};

	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		for (size_t i = 0; i < sizeof(iters) / sizeof(iters[0]); i++) {
			struct mc_tf_task_params tp;

			mc_tf_task_params_init(&tp, seed * 0xabcdef12345ull, iters[i]);
			for (size_t t = 0; t < sizeof(tasks) / sizeof(tasks[0]); t++) {
				uint64_t x = mc_tf_task_start(tasks[t], tp.seed, tp.modulus);
				uint64_t y = mc_tf_task_step(x, tp.modulus, iters[i]);

				assert_true(x >= 2 && x < tp.modulus);
				assert_int_equal(y, mc_tf_task_expect(&tp, tasks[t]));
				/* Steps compose: the worker's chunking changes nothing. */
				assert_int_equal(y, mc_tf_task_step(mc_tf_task_step(x, tp.modulus,
				                                                    iters[i] / 3),
				                                    tp.modulus,
				                                    iters[i] - iters[i] / 3));
			}
		}
	}
	assert_true(mc_tf_task_calibrate(5) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_fields),
	        cmocka_unit_test(test_truncated_and_extended),
	        cmocka_unit_test(test_header),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_fuzz),
	        cmocka_unit_test(test_task_params),
	        cmocka_unit_test(test_task_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
