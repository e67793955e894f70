/* test_proto.c — unit tests for guests/agent/mc_proto.c: round trips, limits, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mc_proto.h"

/* ---- helpers ---- */

/* A growable raw byte builder for hand-made (possibly malformed) messages. */
struct raw {
	uint8_t *b;
	size_t n, cap;
};

static void raw_bytes(struct raw *r, const void *p, size_t n)
{
	if (r->n + n > r->cap) {
		r->cap = (r->n + n) * 2 + 64;
		r->b = realloc(r->b, r->cap);
		assert_non_null(r->b);
	}
	if (n > 0)
		memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void raw_u8(struct raw *r, uint8_t v)
{
	raw_bytes(r, &v, 1);
}

static void raw_u32(struct raw *r, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	raw_bytes(r, b, 4);
}

static void raw_u64(struct raw *r, uint64_t v)
{
	raw_u32(r, (uint32_t)v);
	raw_u32(r, (uint32_t)(v >> 32));
}

static void raw_blob(struct raw *r, const void *p, uint32_t n)
{
	raw_u32(r, n);
	raw_bytes(r, p, n);
}

static void raw_str(struct raw *r, const char *s)
{
	raw_blob(r, s, (uint32_t)strlen(s));
}

/* Starts a message: header with body_len to be fixed by raw_end(). */
static void raw_begin(struct raw *r, uint8_t type, uint32_t id)
{
	r->n = 0;
	raw_u8(r, 'M');
	raw_u8(r, 'C');
	raw_u8(r, MC_PROTO_VERSION);
	raw_u8(r, type);
	raw_u32(r, id);
	raw_u32(r, 0);
}

static void raw_end(struct raw *r)
{
	uint32_t body = (uint32_t)(r->n - MC_PROTO_HDR_LEN);

	r->b[8] = (uint8_t)body;
	r->b[9] = (uint8_t)(body >> 8);
	r->b[10] = (uint8_t)(body >> 16);
	r->b[11] = (uint8_t)(body >> 24);
}

static void raw_free(struct raw *r)
{
	free(r->b);
	memset(r, 0, sizeof(*r));
}

/* Decodes an exact-size heap copy (so ASan sees any over-read). */
static int decode_copy(const uint8_t *buf, size_t len, struct mc_msg *m)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	rc = mc_proto_decode(copy, len, m);
	free(copy);
	return rc;
}

static void assert_zeroed(const struct mc_msg *m)
{
	static const struct mc_msg zero;

	assert_memory_equal(m, &zero, sizeof(zero));
}

/* Expects the decoder to reject buf and leave *m zeroed. */
static void expect_reject(const uint8_t *buf, size_t len)
{
	struct mc_msg m;

	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(decode_copy(buf, len, &m), MC_PROTO_EINVAL);
	assert_zeroed(&m);
}

static uint8_t *encode_alloc(const struct mc_msg *m, size_t *len)
{
	uint8_t *buf = malloc(MC_PROTO_MAX_MSG);

	assert_non_null(buf);
	assert_int_equal(mc_proto_encode(m, buf, MC_PROTO_MAX_MSG, len), 0);
	return buf;
}

/* Encodes m, decodes it back into *out (caller finis). */
static void round_trip(const struct mc_msg *m, struct mc_msg *out)
{
	size_t len = 0;
	uint8_t *buf = encode_alloc(m, &len);

	assert_true(len >= MC_PROTO_HDR_LEN);
	assert_int_equal(decode_copy(buf, len, out), 0);
	assert_int_equal(out->type, m->type);
	assert_int_equal(out->id, m->id);
	free(buf);
}

/* ---- sample messages, one per type ---- */

static char *exec_argv[] = {"sh", "-c", "echo hi", NULL};
static char *exec_env[] = {"A=1", "EMPTY=", "X=y=z", NULL};

static struct mc_msg sample(uint8_t type)
{
	static uint8_t data[] = {0, 1, 2, 'x', 0xff};
	struct mc_msg m = {.type = type};

	switch (type) {
	case MC_MSG_HELLO:
		m.u.hello.name = "g0003";
		m.u.hello.index = 3;
		m.u.hello.kernel = "6.1.0-mc";
		m.u.hello.uptime_ms = 0x123456789aULL;
		m.u.hello.boot_id = 0xdeadbeef;
		break;
	case MC_MSG_HEARTBEAT:
		m.u.hb.seq = 42;
		m.u.hb.uptime_ms = UINT64_MAX;
		m.u.hb.running = 7;
		break;
	case MC_MSG_EXEC:
		m.id = 0xfffffffe;
		m.u.exec.argc = 3;
		m.u.exec.argv = exec_argv;
		m.u.exec.envc = 3;
		m.u.exec.env = exec_env;
		m.u.exec.cwd = "/tmp";
		m.u.exec.timeout_ms = 1500;
		break;
	case MC_MSG_OUTPUT:
		m.id = 9;
		m.u.output.stream = MC_STREAM_STDERR;
		m.u.output.len = sizeof(data);
		m.u.output.data = data;
		break;
	case MC_MSG_EXIT:
		m.id = 9;
		m.u.exit.status = -1;
		m.u.exit.signal = 9;
		m.u.exit.timed_out = 1;
		m.u.exit.duration_ms = 1001;
		break;
	case MC_MSG_SHUTDOWN:
		break;
	case MC_MSG_ERROR:
		m.id = 5;
		m.u.error.code = 16;
		m.u.error.text = "too many running commands";
		break;
	case MC_MSG_SIGNAL:
		m.id = 11;
		m.u.signal.signal = 15;
		break;
	}
	return m;
}

/* ---- round trips ---- */

static void test_round_trip_hello(void **state)
{
	struct mc_msg m = sample(MC_MSG_HELLO), d;

	(void)state;
	round_trip(&m, &d);
	assert_string_equal(d.u.hello.name, "g0003");
	assert_int_equal(d.u.hello.index, 3);
	assert_string_equal(d.u.hello.kernel, "6.1.0-mc");
	assert_true(d.u.hello.uptime_ms == 0x123456789aULL);
	assert_int_equal(d.u.hello.boot_id, 0xdeadbeef);
	mc_msg_fini(&d);
	assert_zeroed(&d);
}

static void test_round_trip_heartbeat(void **state)
{
	struct mc_msg m = sample(MC_MSG_HEARTBEAT), d;

	(void)state;
	round_trip(&m, &d);
	assert_int_equal(d.u.hb.seq, 42);
	assert_true(d.u.hb.uptime_ms == UINT64_MAX);
	assert_int_equal(d.u.hb.running, 7);
	mc_msg_fini(&d);
}

static void test_round_trip_exec(void **state)
{
	struct mc_msg m = sample(MC_MSG_EXEC), d;

	(void)state;
	round_trip(&m, &d);
	assert_int_equal(d.u.exec.argc, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(d.u.exec.argv[i], exec_argv[i]);
	assert_null(d.u.exec.argv[3]);
	assert_int_equal(d.u.exec.envc, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(d.u.exec.env[i], exec_env[i]);
	assert_null(d.u.exec.env[3]);
	assert_string_equal(d.u.exec.cwd, "/tmp");
	assert_int_equal(d.u.exec.timeout_ms, 1500);
	mc_msg_fini(&d);

	/* No env, default cwd (NULL encodes as ""). */
	m.u.exec.envc = 0;
	m.u.exec.env = NULL;
	m.u.exec.cwd = NULL;
	round_trip(&m, &d);
	assert_int_equal(d.u.exec.envc, 0);
	assert_non_null(d.u.exec.env);
	assert_null(d.u.exec.env[0]);
	assert_string_equal(d.u.exec.cwd, "");
	mc_msg_fini(&d);
}

static void test_round_trip_output(void **state)
{
	struct mc_msg m = sample(MC_MSG_OUTPUT), d;

	(void)state;
	round_trip(&m, &d);
	assert_int_equal(d.u.output.stream, MC_STREAM_STDERR);
	assert_int_equal(d.u.output.len, m.u.output.len);
	assert_memory_equal(d.u.output.data, m.u.output.data, m.u.output.len);
	mc_msg_fini(&d);

	/* Empty chunk on stdout. */
	m.u.output.stream = MC_STREAM_STDOUT;
	m.u.output.len = 0;
	m.u.output.data = NULL;
	round_trip(&m, &d);
	assert_int_equal(d.u.output.stream, MC_STREAM_STDOUT);
	assert_int_equal(d.u.output.len, 0);
	mc_msg_fini(&d);
}

static void test_round_trip_exit(void **state)
{
	struct mc_msg m = sample(MC_MSG_EXIT), d;

	(void)state;
	round_trip(&m, &d);
	assert_int_equal(d.u.exit.status, -1);
	assert_int_equal(d.u.exit.signal, 9);
	assert_int_equal(d.u.exit.timed_out, 1);
	assert_int_equal(d.u.exit.duration_ms, 1001);
	mc_msg_fini(&d);

	m.u.exit.status = 255;
	m.u.exit.signal = 0;
	m.u.exit.timed_out = 0;
	round_trip(&m, &d);
	assert_int_equal(d.u.exit.status, 255);
	assert_int_equal(d.u.exit.signal, 0);
	mc_msg_fini(&d);
}

static void test_round_trip_shutdown(void **state)
{
	struct mc_msg m = sample(MC_MSG_SHUTDOWN), d;
	size_t len;
	uint8_t buf[MC_PROTO_HDR_LEN];

	(void)state;
	assert_int_equal(mc_proto_encode(&m, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, MC_PROTO_HDR_LEN);
	round_trip(&m, &d);
	mc_msg_fini(&d);
}

static void test_round_trip_signal(void **state)
{
	struct mc_msg m = sample(MC_MSG_SIGNAL), d;
	size_t len;
	uint8_t buf[64];

	(void)state;
	round_trip(&m, &d);
	assert_int_equal(d.id, 11);
	assert_int_equal(d.u.signal.signal, 15);
	mc_msg_fini(&d);
	/* signal numbers outside 1..64 and a missing exec id are refused */
	m.u.signal.signal = 0;
	assert_int_equal(mc_proto_encode(&m, buf, sizeof(buf), &len), MC_PROTO_EINVAL);
	m.u.signal.signal = 65;
	assert_int_equal(mc_proto_encode(&m, buf, sizeof(buf), &len), MC_PROTO_EINVAL);
	m.u.signal.signal = 9;
	assert_int_equal(mc_proto_encode(&m, buf, sizeof(buf), &len), 0);
	buf[MC_PROTO_HDR_LEN + 3] = 99; /* body u32, little or big end: not 1..64 */
	buf[MC_PROTO_HDR_LEN] = 99;
	expect_reject(buf, len);
}

static void test_round_trip_error(void **state)
{
	struct mc_msg m = sample(MC_MSG_ERROR), d;

	(void)state;
	round_trip(&m, &d);
	assert_int_equal(d.u.error.code, 16);
	assert_string_equal(d.u.error.text, "too many running commands");
	mc_msg_fini(&d);

	m.id = 0; /* ENOTCONN "who are you?" carries no exec id */
	m.u.error.code = 107;
	m.u.error.text = NULL;
	round_trip(&m, &d);
	assert_string_equal(d.u.error.text, "");
	mc_msg_fini(&d);
}

/* ---- truncation and extension at every length ---- */

static void check_every_length(const struct mc_msg *m)
{
	size_t len = 0;
	uint8_t *buf = encode_alloc(m, &len);
	uint8_t *ext = calloc(1, len + 32);

	assert_non_null(ext);
	memcpy(ext, buf, len);
	for (size_t l = 0; l <= len + 32; l++) {
		struct mc_msg d;
		int rc = decode_copy(ext, l, &d);

		if (l == len) {
			assert_int_equal(rc, 0);
			mc_msg_fini(&d);
		} else {
			assert_int_equal(rc, MC_PROTO_EINVAL);
			assert_zeroed(&d);
		}
		/* Same, with a header whose body_len agrees with l: the body
		 * fields themselves must then catch the mismatch. */
		if (l >= MC_PROTO_HDR_LEN) {
			uint32_t body = (uint32_t)(l - MC_PROTO_HDR_LEN);

			ext[8] = (uint8_t)body;
			ext[9] = (uint8_t)(body >> 8);
			ext[10] = (uint8_t)(body >> 16);
			ext[11] = (uint8_t)(body >> 24);
			rc = decode_copy(ext, l, &d);
			if (l == len) {
				assert_int_equal(rc, 0);
				mc_msg_fini(&d);
			} else {
				assert_int_equal(rc, MC_PROTO_EINVAL);
				assert_zeroed(&d);
			}
			memcpy(ext + 8, buf + 8, 4);
		}
	}
	/* The encoder refuses every buffer that is one byte too small or smaller. */
	for (size_t cap = 0; cap < len; cap++) {
		size_t out = 12345;

		assert_int_equal(mc_proto_encode(m, ext, cap, &out), MC_PROTO_ENOSPC);
		assert_int_equal(out, 12345);
	}
	free(ext);
	free(buf);
}

static void test_every_length(void **state)
{
	(void)state;
	for (uint8_t t = MC_MSG_HELLO; t <= MC_MSG_TYPE_MAX; t++) {
		struct mc_msg m = sample(t);

		check_every_length(&m);
	}
}

/* ---- header checks ---- */

static void test_bad_header(void **state)
{
	struct mc_msg m = sample(MC_MSG_HEARTBEAT);
	size_t len;
	uint8_t *buf = encode_alloc(&m, &len);
	uint8_t save;

	(void)state;
	for (int i = 0; i < 2; i++) {
		save = buf[i];
		buf[i] ^= 0x20;
		expect_reject(buf, len);
		buf[i] = save;
	}
	save = buf[2];
	buf[2] = 0;
	expect_reject(buf, len);
	buf[2] = 2;
	expect_reject(buf, len);
	buf[2] = save;
	save = buf[3];
	buf[3] = 0;
	expect_reject(buf, len);
	buf[3] = MC_MSG_TYPE_MAX + 1;
	expect_reject(buf, len);
	buf[3] = 255;
	expect_reject(buf, len);
	buf[3] = save;
	/* HEARTBEAT carries id 0. */
	buf[4] = 1;
	expect_reject(buf, len);
	buf[4] = 0;
	/* body_len far too large (would overflow naive arithmetic). */
	memset(buf + 8, 0xff, 4);
	expect_reject(buf, len);
	free(buf);

	expect_reject(NULL, 0);
	assert_int_equal(mc_proto_decode((const uint8_t *)"MC", 2, NULL), MC_PROTO_EINVAL);

	/* The encoder refuses what the decoder would. */
	m.type = 0;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
	m.type = MC_MSG_TYPE_MAX + 1;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
	m = sample(MC_MSG_SHUTDOWN);
	m.id = 1;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
}

/* ---- body checks on hand-made messages ---- */

static void build_hello(struct raw *r, const char *name, uint32_t name_len)
{
	raw_begin(r, MC_MSG_HELLO, 0);
	raw_blob(r, name, name_len);
	raw_u32(r, 1);
	raw_str(r, "6.1");
	raw_u64(r, 10);
	raw_u32(r, 99);
	raw_end(r);
}

/* EXEC with argc/envc given explicitly (they may disagree with the strings). */
static void build_exec(struct raw *r, uint32_t argc, char *const *argv, uint32_t nargv,
                       uint32_t envc, char *const *env, uint32_t nenv, const char *cwd)
{
	raw_begin(r, MC_MSG_EXEC, 1);
	raw_u32(r, argc);
	for (uint32_t i = 0; i < nargv; i++)
		raw_str(r, argv[i]);
	raw_u32(r, envc);
	for (uint32_t i = 0; i < nenv; i++)
		raw_str(r, env[i]);
	raw_str(r, cwd);
	raw_u32(r, 0);
	raw_end(r);
}

static void test_nul_in_strings(void **state)
{
	struct raw r = {0};
	struct mc_msg m;

	(void)state;
	build_hello(&r, "g\0x", 3);
	expect_reject(r.b, r.n);
	build_hello(&r, "", 0); /* HELLO needs a name */
	expect_reject(r.b, r.n);
	build_hello(&r, "gx", 2);
	assert_int_equal(decode_copy(r.b, r.n, &m), 0);
	mc_msg_fini(&m);

	/* NUL in an argv element, an env element, cwd, error text. */
	{
		char *argv[] = {"sh", "-c"};
		char *env[] = {"A=1"};

		build_exec(&r, 2, argv, 2, 1, env, 1, "/");
		assert_int_equal(decode_copy(r.b, r.n, &m), 0);
		mc_msg_fini(&m);
		r.b[MC_PROTO_HDR_LEN + 4 + 4 + 1] = '\0'; /* "s\0" */
		expect_reject(r.b, r.n);
		build_exec(&r, 2, argv, 2, 1, env, 1, "/");
		r.b[r.n - 4 - 1 - 4 - 1] = '\0'; /* last byte of "A=1" */
		expect_reject(r.b, r.n);
		build_exec(&r, 2, argv, 2, 1, env, 1, "/");
		r.b[r.n - 4 - 1] = '\0'; /* cwd "/" */
		expect_reject(r.b, r.n);
	}
	raw_begin(&r, MC_MSG_ERROR, 0);
	raw_u32(&r, 107);
	raw_blob(&r, "who\0", 4);
	raw_end(&r);
	expect_reject(r.b, r.n);

	/* OUTPUT data is a blob: NUL is fine there. */
	raw_begin(&r, MC_MSG_OUTPUT, 1);
	raw_u8(&r, MC_STREAM_STDOUT);
	raw_blob(&r, "\0\0", 2);
	raw_end(&r);
	assert_int_equal(decode_copy(r.b, r.n, &m), 0);
	assert_int_equal(m.u.output.len, 2);
	mc_msg_fini(&m);
	raw_free(&r);
}

static void test_exec_argc_env(void **state)
{
	struct raw r = {0};
	struct mc_msg m = sample(MC_MSG_EXEC);
	size_t len;
	char *argv[] = {"true"};
	char *empty[] = {""};
	char *bad_env[] = {"NOEQUALS"};
	char *bad_env2[] = {"=v"};

	(void)state;
	build_exec(&r, 0, NULL, 0, 0, NULL, 0, "");
	expect_reject(r.b, r.n);
	build_exec(&r, 1, empty, 1, 0, NULL, 0, ""); /* argv[0] must not be empty */
	expect_reject(r.b, r.n);
	build_exec(&r, 1, argv, 1, 1, bad_env, 1, "");
	expect_reject(r.b, r.n);
	build_exec(&r, 1, argv, 1, 1, bad_env2, 1, "");
	expect_reject(r.b, r.n);
	/* Counts that promise more strings than there are. */
	build_exec(&r, 2, argv, 1, 0, NULL, 0, "");
	expect_reject(r.b, r.n);
	build_exec(&r, 0xffffffff, argv, 1, 0, NULL, 0, "");
	expect_reject(r.b, r.n);
	build_exec(&r, 1, argv, 1, 0xffffffff, NULL, 0, "");
	expect_reject(r.b, r.n);
	raw_free(&r);

	m.u.exec.argc = 0;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
	m = sample(MC_MSG_EXEC);
	m.u.exec.env = bad_env;
	m.u.exec.envc = 1;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
	m = sample(MC_MSG_EXEC);
	m.u.exec.argv = empty;
	m.u.exec.argc = 1;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
}

static void test_output_stream(void **state)
{
	struct mc_msg m = sample(MC_MSG_OUTPUT);
	struct raw r = {0};
	size_t len;

	(void)state;
	for (int s = 0; s < 256; s++) {
		struct mc_msg d;
		int rc;

		raw_begin(&r, MC_MSG_OUTPUT, 1);
		raw_u8(&r, (uint8_t)s);
		raw_blob(&r, "x", 1);
		raw_end(&r);
		rc = decode_copy(r.b, r.n, &d);
		if (s == MC_STREAM_STDOUT || s == MC_STREAM_STDERR) {
			assert_int_equal(rc, 0);
			mc_msg_fini(&d);
		} else {
			assert_int_equal(rc, MC_PROTO_EINVAL);
		}
	}
	raw_free(&r);
	m.u.output.stream = 0;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
	m.u.output.stream = 3;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
}

static void test_exit_and_error_values(void **state)
{
	struct mc_msg m = sample(MC_MSG_EXIT);
	struct raw r = {0};
	size_t len;
	static const struct {
		int32_t status, signal;
		uint8_t timed_out;
		int ok;
	} cases[] = {
	        {0, 0, 0, 1},  {255, 0, 1, 1}, {-1, 9, 0, 1},  {-1, 64, 1, 1},  {256, 0, 0, 0},
	        {-1, 0, 0, 0}, {0, 9, 0, 0},   {-1, -1, 0, 0}, {-1, 128, 0, 0}, {0, 0, 2, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mc_msg d;

		raw_begin(&r, MC_MSG_EXIT, 1);
		raw_u32(&r, (uint32_t)cases[i].status);
		raw_u32(&r, (uint32_t)cases[i].signal);
		raw_u8(&r, cases[i].timed_out);
		raw_u64(&r, 5);
		raw_end(&r);
		assert_int_equal(decode_copy(r.b, r.n, &d), cases[i].ok ? 0 : MC_PROTO_EINVAL);
		mc_msg_fini(&d);
		m.u.exit.status = cases[i].status;
		m.u.exit.signal = cases[i].signal;
		m.u.exit.timed_out = cases[i].timed_out;
		assert_int_equal(mc_proto_encode(&m, r.b, r.cap, &len),
		                 cases[i].ok ? 0 : MC_PROTO_EINVAL);
	}
	for (int32_t code = -1; code <= 1; code++) {
		struct mc_msg d;

		raw_begin(&r, MC_MSG_ERROR, 0);
		raw_u32(&r, (uint32_t)code);
		raw_str(&r, "x");
		raw_end(&r);
		assert_int_equal(decode_copy(r.b, r.n, &d), code > 0 ? 0 : MC_PROTO_EINVAL);
		mc_msg_fini(&d);
	}
	raw_free(&r);
}

/* ---- limits at the edge and one past ---- */

static void test_limit_str(void **state)
{
	char *s = malloc(MC_PROTO_MAX_STR + 2);
	struct mc_msg m = sample(MC_MSG_EXEC), d;
	char *argv[2] = {"sh", NULL};
	struct raw r = {0};
	size_t len;

	(void)state;
	assert_non_null(s);
	memset(s, 'a', MC_PROTO_MAX_STR + 1);
	s[MC_PROTO_MAX_STR] = '\0';
	argv[1] = s;
	m.u.exec.argv = argv;
	m.u.exec.argc = 2;
	round_trip(&m, &d);
	assert_int_equal(strlen(d.u.exec.argv[1]), MC_PROTO_MAX_STR);
	mc_msg_fini(&d);

	s[MC_PROTO_MAX_STR] = 'a';
	s[MC_PROTO_MAX_STR + 1] = '\0';
	assert_int_equal(mc_proto_encode(&m, r.b, 0, &len), MC_PROTO_EINVAL);
	build_exec(&r, 2, argv, 2, 0, NULL, 0, "");
	expect_reject(r.b, r.n);

	/* The same edge for cwd, HELLO name and ERROR text. */
	build_exec(&r, 1, argv, 1, 0, NULL, 0, s);
	expect_reject(r.b, r.n);
	s[MC_PROTO_MAX_STR] = '\0';
	build_exec(&r, 1, argv, 1, 0, NULL, 0, s);
	assert_int_equal(decode_copy(r.b, r.n, &d), 0);
	mc_msg_fini(&d);
	build_hello(&r, s, MC_PROTO_MAX_STR);
	assert_int_equal(decode_copy(r.b, r.n, &d), 0);
	mc_msg_fini(&d);
	memset(s, 'a', MC_PROTO_MAX_STR + 1);
	build_hello(&r, s, MC_PROTO_MAX_STR + 1);
	expect_reject(r.b, r.n);
	raw_begin(&r, MC_MSG_ERROR, 0);
	raw_u32(&r, 1);
	raw_blob(&r, s, MC_PROTO_MAX_STR + 1);
	raw_end(&r);
	expect_reject(r.b, r.n);
	raw_free(&r);
	free(s);
}

static void check_count_limit(bool env)
{
	const uint32_t max = env ? MC_PROTO_MAX_ENV : MC_PROTO_MAX_ARGV;
	char **v = calloc(max + 2, sizeof(*v));
	char *one[] = {"true"};
	struct mc_msg m = sample(MC_MSG_EXEC), d;
	struct raw r = {0};
	size_t len;

	assert_non_null(v);
	for (uint32_t i = 0; i < max + 1; i++)
		v[i] = env ? "K=V" : "a";
	if (env) {
		m.u.exec.argc = 1;
		m.u.exec.argv = one;
		m.u.exec.env = v;
		m.u.exec.envc = max;
	} else {
		m.u.exec.argv = v;
		m.u.exec.argc = max;
	}
	round_trip(&m, &d);
	assert_int_equal(env ? d.u.exec.envc : d.u.exec.argc, max);
	mc_msg_fini(&d);

	if (env)
		m.u.exec.envc = max + 1;
	else
		m.u.exec.argc = max + 1;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
	if (env)
		build_exec(&r, 1, one, 1, max + 1, v, max + 1, "");
	else
		build_exec(&r, max + 1, v, max + 1, 0, NULL, 0, "");
	expect_reject(r.b, r.n);
	raw_free(&r);
	free(v);
}

static void test_limit_argv(void **state)
{
	(void)state;
	check_count_limit(false);
}

static void test_limit_env(void **state)
{
	(void)state;
	check_count_limit(true);
}

static void test_limit_data(void **state)
{
	uint8_t *data = calloc(1, MC_PROTO_MAX_DATA + 1);
	struct mc_msg m = sample(MC_MSG_OUTPUT), d;
	struct raw r = {0};
	size_t len;

	(void)state;
	assert_non_null(data);
	memset(data, 0x5a, MC_PROTO_MAX_DATA + 1);
	m.u.output.data = data;
	m.u.output.len = MC_PROTO_MAX_DATA;
	round_trip(&m, &d);
	assert_int_equal(d.u.output.len, MC_PROTO_MAX_DATA);
	assert_memory_equal(d.u.output.data, data, MC_PROTO_MAX_DATA);
	mc_msg_fini(&d);

	m.u.output.len = MC_PROTO_MAX_DATA + 1;
	assert_int_equal(mc_proto_encode(&m, NULL, 0, &len), MC_PROTO_EINVAL);
	raw_begin(&r, MC_MSG_OUTPUT, 1);
	raw_u8(&r, MC_STREAM_STDOUT);
	raw_blob(&r, data, MC_PROTO_MAX_DATA + 1);
	raw_end(&r);
	expect_reject(r.b, r.n);
	raw_free(&r);
	free(data);
}

/* An EXEC whose encoding is exactly total bytes long (256 argv strings). */
static void fill_exec_total(struct mc_msg *m, char **argv, char *pool, size_t total)
{
	const uint32_t k = MC_PROTO_MAX_ARGV;
	size_t fixed = MC_PROTO_HDR_LEN + 4 + 4 + 4 + 4 + 4 * (size_t)k;
	size_t rest = total - fixed, off = 0;

	for (uint32_t i = 0; i < k; i++) {
		size_t l = rest / (k - i);

		assert_true(l <= MC_PROTO_MAX_STR);
		memset(pool + off, 'a', l);
		pool[off + l] = '\0';
		argv[i] = pool + off;
		off += l + 1;
		rest -= l;
	}
	*m = (struct mc_msg){.type = MC_MSG_EXEC, .id = 1};
	m->u.exec.argc = k;
	m->u.exec.argv = argv;
	m->u.exec.cwd = "";
}

static void test_limit_msg(void **state)
{
	char **argv = calloc(MC_PROTO_MAX_ARGV, sizeof(*argv));
	char *pool = malloc(MC_PROTO_MAX_MSG + MC_PROTO_MAX_ARGV);
	uint8_t *buf = malloc(MC_PROTO_MAX_MSG + 16);
	struct mc_msg m, d;
	size_t len = 0;

	(void)state;
	assert_non_null(argv);
	assert_non_null(pool);
	assert_non_null(buf);
	fill_exec_total(&m, argv, pool, MC_PROTO_MAX_MSG);
	assert_int_equal(mc_proto_encode(&m, buf, MC_PROTO_MAX_MSG, &len), 0);
	assert_int_equal(len, MC_PROTO_MAX_MSG);
	assert_int_equal(decode_copy(buf, len, &d), 0);
	assert_int_equal(d.u.exec.argc, MC_PROTO_MAX_ARGV);
	mc_msg_fini(&d);

	fill_exec_total(&m, argv, pool, MC_PROTO_MAX_MSG + 1);
	assert_int_equal(mc_proto_encode(&m, buf, MC_PROTO_MAX_MSG + 16, &len), MC_PROTO_EINVAL);
	/* A well-formed message one byte over the limit, built by hand. */
	{
		struct raw r = {0};

		build_exec(&r, MC_PROTO_MAX_ARGV, argv, MC_PROTO_MAX_ARGV, 0, NULL, 0, "");
		assert_int_equal(r.n, MC_PROTO_MAX_MSG + 1);
		expect_reject(r.b, r.n);
		raw_free(&r);
	}
	free(buf);
	free(pool);
	free(argv);
}

static void test_misc(void **state)
{
	struct mc_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	mc_msg_fini(&m);
	mc_msg_fini(NULL);
	assert_string_equal(mc_proto_type_name(MC_MSG_HELLO), "HELLO");
	assert_string_equal(mc_proto_type_name(MC_MSG_HEARTBEAT), "HEARTBEAT");
	assert_string_equal(mc_proto_type_name(MC_MSG_EXEC), "EXEC");
	assert_string_equal(mc_proto_type_name(MC_MSG_OUTPUT), "OUTPUT");
	assert_string_equal(mc_proto_type_name(MC_MSG_EXIT), "EXIT");
	assert_string_equal(mc_proto_type_name(MC_MSG_SHUTDOWN), "SHUTDOWN");
	assert_string_equal(mc_proto_type_name(MC_MSG_ERROR), "ERROR");
	assert_string_equal(mc_proto_type_name(0), "?");
	assert_string_equal(mc_proto_type_name(MC_MSG_SIGNAL), "SIGNAL");
	assert_string_equal(mc_proto_type_name(9), "?");
	assert_string_equal(mc_proto_type_name(255), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_hello),
	        cmocka_unit_test(test_round_trip_heartbeat),
	        cmocka_unit_test(test_round_trip_exec),
	        cmocka_unit_test(test_round_trip_output),
	        cmocka_unit_test(test_round_trip_exit),
	        cmocka_unit_test(test_round_trip_shutdown),
	        cmocka_unit_test(test_round_trip_signal),
	        cmocka_unit_test(test_round_trip_error),
	        cmocka_unit_test(test_every_length),
	        cmocka_unit_test(test_bad_header),
	        cmocka_unit_test(test_nul_in_strings),
	        cmocka_unit_test(test_exec_argc_env),
	        cmocka_unit_test(test_output_stream),
	        cmocka_unit_test(test_exit_and_error_values),
	        cmocka_unit_test(test_limit_str),
	        cmocka_unit_test(test_limit_argv),
	        cmocka_unit_test(test_limit_env),
	        cmocka_unit_test(test_limit_data),
	        cmocka_unit_test(test_limit_msg),
	        cmocka_unit_test(test_misc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
