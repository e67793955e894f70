/* test_agent_local.c — the real mc-agent on the host against a fake controller (ROUTER). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "mc_proto.h"

#ifndef MC_AGENT_PATH
#error "MC_AGENT_PATH must name the mc-agent binary"
#endif

#define HB_MS      200  /* heartbeat period given to the agent */
#define WAIT_MS    5000 /* default wait for one message */
#define MAX_OUTPUT (1u << 20)

/* One agent under test and the fake controller it talks to. */
struct fixture {
	void *ctx;
	void *router;       /* the fake controller */
	char endpoint[128]; /* ipc:///tmp/… */
	char sock_path[108];
	char id_path[108]; /* identity file */
	char name[64];     /* guest name */
	char rid[80];      /* the agent's routing id, "<name>.<boot id>" (from its messages) */
	size_t rid_len;
	pid_t pid;        /* agent, 0 once reaped */
	uint32_t next_id; /* next exec id */
};

/* What one EXEC produced. */
struct result {
	char out[MAX_OUTPUT + 1];
	size_t out_len;
	char err[MAX_OUTPUT + 1];
	size_t err_len;
	size_t max_chunk; /* largest OUTPUT chunk seen */
	struct mc_msg_exit exit;
	uint64_t wall_ms; /* EXEC sent -> EXIT received */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Receives one message from the agent within timeout_ms; returns 0 or -1 on timeout. */
static int recv_msg(struct fixture *f, int timeout_ms, struct mc_msg *m)
{
	zmq_pollitem_t item = {.socket = f->router, .events = ZMQ_POLLIN};
	zmq_msg_t rid, body;
	int rc;

	rc = zmq_poll(&item, 1, timeout_ms);
	assert_true(rc >= 0);
	if (rc == 0)
		return -1;
	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	assert_true(zmq_msg_recv(&rid, f->router, 0) >= 0);
	assert_true(zmq_msg_more(&rid));
	assert_true(zmq_msg_recv(&body, f->router, 0) >= 0);
	assert_false(zmq_msg_more(&body));
	/* "<name>.<8 hex digits of the boot id>" */
	assert_int_equal(zmq_msg_size(&rid), strlen(f->name) + 9);
	assert_memory_equal(zmq_msg_data(&rid), f->name, strlen(f->name));
	assert_int_equal(((char *)zmq_msg_data(&rid))[strlen(f->name)], '.');
	f->rid_len = zmq_msg_size(&rid);
	memcpy(f->rid, zmq_msg_data(&rid), f->rid_len);
	rc = mc_proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), m);
	assert_int_equal(rc, 0);
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
	return 0;
}

/* Waits for the next message of type (skipping heartbeats unless asked for). */
static void expect_msg(struct fixture *f, uint8_t type, int timeout_ms, struct mc_msg *m)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = now_ms();

		assert_true(now < deadline);
		assert_int_equal(recv_msg(f, (int)(deadline - now), m), 0);
		if (m->type == type)
			return;
		if (m->type != MC_MSG_HEARTBEAT)
			fail_msg("expected %s, got %s", mc_proto_type_name(type),
			         mc_proto_type_name(m->type));
		mc_msg_fini(m);
	}
}

static void send_raw(struct fixture *f, const void *buf, size_t len)
{
	assert_int_equal(zmq_send(f->router, f->rid, f->rid_len, ZMQ_SNDMORE), (int)f->rid_len);
	assert_int_equal(zmq_send(f->router, buf, len, 0), (int)len);
}

static void send_msg(struct fixture *f, const struct mc_msg *m)
{
	static uint8_t buf[MC_PROTO_MAX_MSG];
	size_t len;

	assert_int_equal(mc_proto_encode(m, buf, sizeof(buf), &len), 0);
	send_raw(f, buf, len);
}

static uint32_t send_exec(struct fixture *f, char **argv, uint32_t argc, char **env, uint32_t envc,
                          const char *cwd, uint32_t timeout_ms)
{
	struct mc_msg m = {.type = MC_MSG_EXEC, .id = ++f->next_id};

	m.u.exec.argc = argc;
	m.u.exec.argv = argv;
	m.u.exec.envc = envc;
	m.u.exec.env = env;
	m.u.exec.cwd = (char *)cwd;
	m.u.exec.timeout_ms = timeout_ms;
	send_msg(f, &m);
	return m.id;
}

/* Collects OUTPUT for id until its EXIT. */
static void collect(struct fixture *f, uint32_t id, int timeout_ms, struct result *r)
{
	uint64_t start = now_ms();

	for (;;) {
		struct mc_msg m;
		int left = timeout_ms - (int)(now_ms() - start);

		assert_true(left > 0);
		assert_int_equal(recv_msg(f, left, &m), 0);
		if (m.type == MC_MSG_HEARTBEAT) {
			mc_msg_fini(&m);
			continue;
		}
		if (m.type == MC_MSG_ERROR)
			fail_msg("exec %u: ERROR %d %s", id, m.u.error.code, m.u.error.text);
		assert_int_equal(m.id, id);
		if (m.type == MC_MSG_OUTPUT) {
			bool out = m.u.output.stream == MC_STREAM_STDOUT;
			char *dst = out ? r->out : r->err;
			size_t *len = out ? &r->out_len : &r->err_len;

			assert_true(*len + m.u.output.len <= MAX_OUTPUT);
			memcpy(dst + *len, m.u.output.data, m.u.output.len);
			*len += m.u.output.len;
			dst[*len] = '\0';
			if (m.u.output.len > r->max_chunk)
				r->max_chunk = m.u.output.len;
			mc_msg_fini(&m);
			continue;
		}
		assert_int_equal(m.type, MC_MSG_EXIT);
		r->exit = m.u.exit;
		r->wall_ms = now_ms() - start;
		mc_msg_fini(&m);
		return;
	}
}

static struct result *run(struct fixture *f, char **argv, uint32_t argc, uint32_t timeout_ms)
{
	struct result *r = calloc(1, sizeof(*r));
	uint32_t id;

	assert_non_null(r);
	id = send_exec(f, argv, argc, NULL, 0, "", timeout_ms);
	collect(f, id, 10000, r);
	return r;
}

/* Waits up to timeout_ms for the agent to exit; returns its wait status or -1. */
static int wait_agent(struct fixture *f, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int st;

	while (f->pid > 0) {
		pid_t w = waitpid(f->pid, &st, WNOHANG);

		if (w == f->pid) {
			f->pid = 0;
			return st;
		}
		if (w < 0 || now_ms() >= deadline)
			return -1;
		usleep(10 * 1000);
	}
	return -1;
}

/* ---- fixture ---- */

static int teardown(void **state);

/*
 * Prepares the fake controller and the identity file. Makes no assertions:
 * cmocka skips teardown when setup fails, so setup cleans up after itself
 * and the agent is started by each test (start_agent()), whose failures do
 * reach teardown.
 */
static int setup(void **state)
{
	static int counter;
	struct fixture *f = calloc(1, sizeof(*f));
	int one = 1, zero = 0;
	FILE *fp;

	*state = f;
	if (f == NULL)
		return -1;
	counter++;
	snprintf(f->name, sizeof(f->name), "t%d-%d", (int)getpid(), counter);
	snprintf(f->sock_path, sizeof(f->sock_path), "/tmp/mc-agent-test-%d-%d.sock", (int)getpid(),
	         counter);
	snprintf(f->id_path, sizeof(f->id_path), "/tmp/mc-agent-test-%d-%d.id", (int)getpid(),
	         counter);
	snprintf(f->endpoint, sizeof(f->endpoint), "ipc://%s", f->sock_path);

	f->ctx = zmq_ctx_new();
	if (f->ctx == NULL)
		goto fail;
	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	if (f->router == NULL ||
	    zmq_setsockopt(f->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) < 0 ||
	    zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_bind(f->router, f->endpoint) < 0) {
		fprintf(stderr, "setup: router %s: %s\n", f->endpoint, zmq_strerror(errno));
		goto fail;
	}
	fp = fopen(f->id_path, "w");
	if (fp == NULL)
		goto fail;
	/* Comments, blank lines, CRLF and blanks around a line are allowed. */
	fprintf(fp,
	        "# test identity\nversion=1\r\nname=%s\n\nindex=7\nip=10.77.0.9\n  prefix=24\n"
	        "gateway=10.77.0.1\ncontroller=%s\nheartbeat_ms=%d\n",
	        f->name, f->endpoint, HB_MS);
	if (fclose(fp) != 0)
		goto fail;
	return 0;
fail:
	teardown(state);
	return -1;
}

/* Starts mc-agent as a child (not PID 1) and waits for its HELLO. */
static void start_agent(struct fixture *f)
{
	struct mc_msg m;

	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("MC_AGENT_IDENTITY", f->id_path, 1);
		unsetenv("MC_AGENT_SETUP");
		execl(MC_AGENT_PATH, "mc-agent", (char *)NULL);
		_exit(126);
	}
	expect_msg(f, MC_MSG_HELLO, WAIT_MS, &m);
	assert_string_equal(m.u.hello.name, f->name);
	assert_int_equal(m.u.hello.index, 7);
	assert_true(strlen(m.u.hello.kernel) > 0);
	assert_true(m.u.hello.uptime_ms > 0);
	mc_msg_fini(&m);
}

/* Always stops and reaps the agent, even after a failed assertion. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = 0;

	if (f == NULL)
		return 0;
	if (f->pid > 0) {
		/* SIGTERM must make the agent exit 0 (sanitizer reports would not). */
		int st;

		kill(f->pid, SIGTERM);
		st = wait_agent(f, 3000);
		if (st == -1 && f->pid > 0) {
			fprintf(stderr, "teardown: agent %d ignored SIGTERM: killed\n",
			        (int)f->pid);
			kill(f->pid, SIGKILL);
			waitpid(f->pid, NULL, 0);
			f->pid = 0;
			rc = -1;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "teardown: agent ended with status 0x%x after SIGTERM\n",
			        (unsigned)st);
			rc = -1;
		}
	}
	if (f->router != NULL)
		zmq_close(f->router);
	if (f->ctx != NULL)
		zmq_ctx_term(f->ctx);
	unlink(f->sock_path);
	unlink(f->id_path);
	free(f);
	*state = NULL;
	return rc;
}

/* ---- tests ---- */

static void test_hello_and_heartbeats(void **state)
{
	struct fixture *f = *state;
	uint64_t first = 0, last = 0;
	struct mc_msg m;

	start_agent(f);
	for (uint64_t seq = 1; seq <= 5; seq++) {
		expect_msg(f, MC_MSG_HEARTBEAT, 4 * HB_MS, &m);
		assert_int_equal(m.u.hb.seq, seq);
		assert_int_equal(m.u.hb.running, 0);
		assert_true(m.u.hb.uptime_ms > 0);
		if (seq == 1)
			first = now_ms();
		last = now_ms();
		mc_msg_fini(&m);
	}
	/* Four periods between the first and the fifth heartbeat. */
	assert_in_range(last - first, 4 * HB_MS * 3 / 4, 4 * HB_MS * 3 / 2);
}

static void test_hello_again_on_enotconn(void **state)
{
	struct fixture *f = *state;
	struct mc_msg m = {.type = MC_MSG_ERROR}, h;

	start_agent(f);
	m.u.error.code = ENOTCONN;
	m.u.error.text = "who are you?";
	send_msg(f, &m);
	expect_msg(f, MC_MSG_HELLO, WAIT_MS, &h);
	assert_string_equal(h.u.hello.name, f->name);
	assert_int_equal(h.u.hello.index, 7);
	mc_msg_fini(&h);
}

static void test_exec_outputs_and_status(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3"};
	struct result *r;

	start_agent(f);
	r = run(f, argv, 3, 0);
	assert_string_equal(r->out, "out\n");
	assert_string_equal(r->err, "err\n");
	assert_int_equal(r->exit.status, 3);
	assert_int_equal(r->exit.signal, 0);
	assert_int_equal(r->exit.timed_out, 0);
	free(r);
}

static void test_exec_env_cwd_stdin(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"sh", "-c", "pwd; echo \"$FOO $TERM $HOME\"; cat; echo done"};
	char *env[] = {"FOO=bar", "HOME=/nowhere"};
	struct result *r = calloc(1, sizeof(*r));
	uint32_t id;

	start_agent(f);
	assert_non_null(r);
	id = send_exec(f, argv, 3, env, 2, "/tmp", 0);
	collect(f, id, 10000, r);
	assert_string_equal(r->out, "/tmp\nbar dumb /nowhere\ndone\n");
	assert_int_equal(r->exit.status, 0);
	free(r);
}

static void test_exec_signal(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"sh", "-c", "kill -TERM $$"};
	struct result *r;

	start_agent(f);
	r = run(f, argv, 3, 0);
	assert_int_equal(r->exit.signal, SIGTERM);
	assert_int_equal(r->exit.status, -1);
	assert_int_equal(r->exit.timed_out, 0);
	free(r);
}

static void test_exec_timeout(void **state)
{
	struct fixture *f = *state;
	/* A shell with a child: the whole process group must die. */
	char *argv[] = {"sh", "-c", "sleep 30; echo never"};
	const uint32_t timeout = 500;
	struct result *r;

	start_agent(f);
	r = run(f, argv, 3, timeout);
	assert_int_equal(r->exit.timed_out, 1);
	assert_int_equal(r->exit.signal, SIGKILL);
	assert_true(r->exit.duration_ms >= timeout);
	assert_in_range(r->wall_ms, timeout, timeout + 1000);
	assert_int_equal(r->out_len, 0);
	free(r);
}

static void test_exec_missing_program(void **state)
{
	struct fixture *f = *state;
	char *argv1[] = {"mc-no-such-program"};
	char *argv2[] = {"/nonexistent/mc-prog"};
	struct result *r;

	start_agent(f);
	r = run(f, argv1, 1, 0);
	assert_int_equal(r->exit.status, 127);
	assert_int_equal(r->exit.signal, 0);
	assert_non_null(strstr(r->err, "mc-no-such-program"));
	free(r);
	r = run(f, argv2, 1, 0);
	assert_int_equal(r->exit.status, 127);
	assert_non_null(strstr(r->err, "/nonexistent/mc-prog"));
	free(r);
}

static void test_exec_large_output(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"head", "-c", "300000", "/dev/zero"};
	struct result *r;

	start_agent(f);
	r = run(f, argv, 4, 0);
	assert_int_equal(r->exit.status, 0);
	assert_int_equal(r->out_len, 300000);
	assert_true(r->max_chunk <= MC_PROTO_MAX_DATA);
	free(r);
}

static void test_malformed_ignored(void **state)
{
	struct fixture *f = *state;
	struct mc_msg m = {.type = MC_MSG_EXEC, .id = 99};
	char *argv[] = {"true"};
	uint8_t buf[256];
	size_t len;
	struct result *r;

	start_agent(f);
	send_raw(f, "garbage", 7);
	send_raw(f, "", 0);
	/* A valid EXEC cut short by one byte. */
	m.u.exec.argc = 1;
	m.u.exec.argv = argv;
	assert_int_equal(mc_proto_encode(&m, buf, sizeof(buf), &len), 0);
	send_raw(f, buf, len - 1);
	/* A message the agent should never receive. */
	m = (struct mc_msg){.type = MC_MSG_HEARTBEAT};
	assert_int_equal(mc_proto_encode(&m, buf, sizeof(buf), &len), 0);
	send_raw(f, buf, len);
	/* A multi-part message. */
	assert_int_equal(zmq_send(f->router, f->rid, f->rid_len, ZMQ_SNDMORE), (int)f->rid_len);
	assert_int_equal(zmq_send(f->router, "a", 1, ZMQ_SNDMORE), 1);
	assert_int_equal(zmq_send(f->router, "b", 1, 0), 1);

	r = run(f, argv, 1, 0);
	assert_int_equal(r->exit.status, 0);
	assert_int_equal(r->exit.signal, 0);
	free(r);
}

static void test_busy(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"sleep", "30"};
	struct mc_msg m;
	uint32_t id = 0;

	start_agent(f);
	for (int i = 0; i < 64; i++)
		send_exec(f, argv, 2, NULL, 0, "", 0);
	id = send_exec(f, argv, 2, NULL, 0, "", 0);
	expect_msg(f, MC_MSG_ERROR, WAIT_MS, &m);
	assert_int_equal(m.id, id);
	assert_int_equal(m.u.error.code, EBUSY);
	mc_msg_fini(&m);
	expect_msg(f, MC_MSG_HEARTBEAT, 4 * HB_MS, &m);
	assert_int_equal(m.u.hb.running, 64);
	mc_msg_fini(&m);
}

static void test_shutdown(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"sleep", "30"};
	struct mc_msg m = {.type = MC_MSG_SHUTDOWN};
	int st;

	start_agent(f);
	send_exec(f, argv, 2, NULL, 0, "", 0);
	send_msg(f, &m);
	st = wait_agent(f, 5000);
	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Runs the agent on identity text; returns its wait status (it must end within 5 s). */
static int run_with_identity(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	uint64_t deadline = now_ms() + 5000;
	pid_t pid;
	int st = -1;

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(devnull, STDERR_FILENO);
		setenv("MC_AGENT_IDENTITY", path, 1);
		execl(MC_AGENT_PATH, "mc-agent", (char *)NULL);
		_exit(126);
	}
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("agent still running on identity:\n%s", text);
		}
		usleep(10 * 1000);
	}
	return st;
}

#define GOOD_TAIL "index=1\nip=10.0.0.2\nprefix=24\ncontroller=tcp://10.0.0.1:7070\n"

static void test_bad_identity(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
	        "",
	        "name=g1\n" GOOD_TAIL,
	        "version=2\nname=g1\n" GOOD_TAIL,
	        "version=1\nname=bad name\n" GOOD_TAIL,
	        "version=1\nname=g/1\n" GOOD_TAIL,
	        "version=1\nname=\n" GOOD_TAIL,
	        "version=1\nname="
	        "a234567890123456789012345678901234567890123456789012345678901234\n" GOOD_TAIL,
	        "version=1\nname=g1\nindex=-1\nip=10.0.0.2\nprefix=24\ncontroller=tcp://h:1\n",
	        "version=1\nname=g1\nindex=4294967296\nip=10.0.0.2\nprefix=24\ncontroller=tcp://"
	        "h:1\n",
	        "version=1\nname=g1\nindex=1\nip=10.0.0.256\nprefix=24\ncontroller=tcp://h:1\n",
	        "version=1\nname=g1\nindex=1\nip=10.0.2\nprefix=24\ncontroller=tcp://h:1\n",
	        "version=1\nname=g1\nindex=1\nip=10.0.0.2\nprefix=0\ncontroller=tcp://h:1\n",
	        "version=1\nname=g1\nindex=1\nip=10.0.0.2\nprefix=33\ncontroller=tcp://h:1\n",
	        "version=1\nname=g1\ngateway=x\n" GOOD_TAIL,
	        "version=1\nname=g1\nindex=1\nip=10.0.0.2\nprefix=24\ncontroller=udp://h:1\n",
	        "version=1\nname=g1\nindex=1\nip=10.0.0.2\nprefix=24\n",
	        "version=1\nname=g1\nindex=1\nprefix=24\ncontroller=tcp://h:1\n",
	        "version=1\nname=g1\nheartbeat_ms=49\n" GOOD_TAIL,
	        "version=1\nname=g1\nheartbeat_ms=600001\n" GOOD_TAIL,
	        "version=1\nname=g1\nprobe=2\n" GOOD_TAIL,
	        "version=1\nname=g1\nname=g2\n" GOOD_TAIL,
	        "version=1\nname=g1\ncolor=red\n" GOOD_TAIL,
	        "version=1\nname=g1\njunk\n" GOOD_TAIL,
	};
	int st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = run_with_identity(f->id_path, bad[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
			fail_msg("identity %zu accepted (status 0x%x):\n%s", i, (unsigned)st,
			         bad[i]);
	}
	/* Valid edges; probe=1 ends after the ready line without a controller. */
	st = run_with_identity(f->id_path, "version=1\nname=a.b_c-D9\nprobe=1\n");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = run_with_identity(f->id_path,
	                       "version=1\nname=a23456789012345678901234567890123456789012"
	                       "345678901234567890123\nindex=4294967295\nip=10.0.0.2\n"
	                       "prefix=32\ncontroller=tcp://h:1\nheartbeat_ms=600000\n"
	                       "gateway=10.0.0.1\nprobe=1\n");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_hello_and_heartbeats, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hello_again_on_enotconn, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exec_outputs_and_status, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exec_env_cwd_stdin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exec_signal, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exec_timeout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exec_missing_program, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exec_large_output, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_malformed_ignored, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_identity, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
