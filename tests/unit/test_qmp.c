/* test_qmp.c — the QMP client against a fake QEMU monitor on a socketpair. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "qmp.h"

struct fixture {
	int peer; /* the fake QEMU end */
	struct mc_qmp *q;
	int replies, errors;
	char last_class[64];
	long last_status_running;
	char events[8][32];
	int nevents;
};

static void on_event(void *arg, const char *event, json_t *data)
{
	struct fixture *f = arg;

	(void)data;
	if (f->nevents < 8)
		snprintf(f->events[f->nevents++], 32, "%s", event);
}

static void on_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct fixture *f = arg;

	(void)desc;
	if (ret) {
		json_t *r = json_object_get(ret, "running");

		f->replies++;
		if (r)
			f->last_status_running = json_is_true(r);
	} else {
		f->errors++;
		snprintf(f->last_class, sizeof(f->last_class), "%s", cls ? cls : "");
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->peer = sv[1];
	f->q = mc_qmp_new(sv[0], on_event, f);
	assert_non_null(f->q);
	f->last_status_running = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mc_qmp_destroy(&f->q);
	assert_null(f->q);
	close(f->peer);
	free(f);
	return 0;
}

static void peer_write(struct fixture *f, const char *s)
{
	assert_int_equal(write(f->peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads one line the client sent; returns it parsed. */
static json_t *peer_read(struct fixture *f)
{
	char buf[4096];
	size_t n = 0;

	while (n < sizeof(buf) - 1) {
		ssize_t r = read(f->peer, buf + n, 1);

		assert_true(r == 1);
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	json_t *j = json_loads(buf, 0, NULL);
	assert_non_null(j);
	return j;
}

static const char greeting[] =
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}}, "
        "\"capabilities\": [\"oob\"]}}\r\n";

static void negotiate(struct fixture *f)
{
	json_t *j;

	peer_write(f, greeting);
	assert_int_equal(mc_qmp_on_readable(f->q), 0);
	j = peer_read(f);
	assert_string_equal(json_string_value(json_object_get(j, "execute")), "qmp_capabilities");
	char reply[128];
	snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": %lld}\r\n",
	         (long long)json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	peer_write(f, reply);
	assert_int_equal(mc_qmp_on_readable(f->q), 0);
	assert_true(mc_qmp_ready(f->q));
}

static void test_negotiation_and_queued_command(void **state)
{
	struct fixture *f = *state;
	json_t *j;
	char reply[160];

	/* A command sent before the greeting waits for negotiation. */
	assert_int_equal(mc_qmp_send(f->q, "query-status", NULL, on_reply, f), 0);
	assert_false(mc_qmp_ready(f->q));
	negotiate(f);
	j = peer_read(f);
	assert_string_equal(json_string_value(json_object_get(j, "execute")), "query-status");
	snprintf(reply, sizeof(reply),
	         "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %lld}\r\n",
	         (long long)json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	peer_write(f, reply);
	assert_int_equal(mc_qmp_on_readable(f->q), 0);
	assert_int_equal(f->replies, 1);
	assert_int_equal(f->last_status_running, 1);
}

static void test_error_reply_and_event(void **state)
{
	struct fixture *f = *state;
	json_t *j;
	char reply[256];

	negotiate(f);
	assert_int_equal(mc_qmp_send(f->q, "cont", NULL, on_reply, f), 0);
	j = peer_read(f);
	snprintf(reply, sizeof(reply),
	         "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n"
	         "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}, \"id\": %lld}\r\n",
	         (long long)json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	peer_write(f, reply);
	assert_int_equal(mc_qmp_on_readable(f->q), 0);
	assert_int_equal(f->nevents, 1);
	assert_string_equal(f->events[0], "STOP");
	assert_int_equal(f->errors, 1);
	assert_string_equal(f->last_class, "GenericError");
}

static void test_split_lines_and_garbage(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	/* An event split across two reads, and an unparsable line in between. */
	peer_write(f, "{\"event\": \"RES");
	assert_int_equal(mc_qmp_on_readable(f->q), 0);
	assert_int_equal(f->nevents, 0);
	peer_write(f, "UME\"}\r\nthis is not json\r\n{\"id\": 999, \"return\": {}}\r\n");
	assert_int_equal(mc_qmp_on_readable(f->q), 0);
	assert_int_equal(f->nevents, 1);
	assert_string_equal(f->events[0], "RESUME");
	assert_int_equal(f->replies, 0); /* unknown id dropped */
}

static void test_bad_greeting_fails(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mc_qmp_send(f->q, "stop", NULL, on_reply, f), 0);
	peer_write(f, "{\"hello\": 1}\r\n");
	assert_int_equal(mc_qmp_on_readable(f->q), -EPROTO);
	assert_int_equal(f->errors, 1);
	assert_string_equal(f->last_class, "Disconnected");
}

static void test_eof_fails_pending(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	assert_int_equal(mc_qmp_send(f->q, "stop", NULL, on_reply, f), 0);
	json_decref(peer_read(f));
	close(f->peer);
	f->peer = open("/dev/null", 0);
	assert_int_equal(mc_qmp_on_readable(f->q), -EPIPE);
	assert_int_equal(f->errors, 1);
	assert_string_equal(f->last_class, "Disconnected");
	assert_int_equal(mc_qmp_send(f->q, "cont", NULL, on_reply, f), -EPIPE);
}

static void test_overlong_line_rejected(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(64 * 1024);
	int rc = 0;

	negotiate(f);
	memset(big, 'x', 64 * 1024 - 1);
	big[64 * 1024 - 1] = '\0';
	/* Feed more than MC_QMP_MAX_LINE bytes with no newline. */
	for (int i = 0; i < 20 && rc == 0; i++) {
		peer_write(f, big);
		rc = mc_qmp_on_readable(f->q);
	}
	free(big);
	assert_int_equal(rc, -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_negotiation_and_queued_command, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_error_reply_and_event, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_split_lines_and_garbage, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_greeting_fails, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_eof_fails_pending, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_overlong_line_rejected, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
