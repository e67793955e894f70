/* test_tf_peer.c — a hostile peer for the task-farm tests: junk for a coordinator or a worker. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "tf_task.h"
#include "tf_util.h"
#include "tf_wire.h"

#define PEER_WAIT_MS 10000 /* ms, longest wait for one reply */

/* Messages of `attack` that reach the coordinator as malformed. */
#define ATTACK_MALFORMED 12

static int failf(const char *what)
{
	fprintf(stderr, "test_tf_peer: FAIL: %s\n", what);
	return 1;
}

/* Sends frames[0..n) as one multi-frame message (first is the routing id for a ROUTER). */
static void send_frames(void *s, const void *const *data, const size_t *len, int n)
{
	for (int i = 0; i < n; i++)
		zmq_send(s, data[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0);
}

static void send_raw(void *s, const void *rid, size_t rid_len, const void *data, size_t len)
{
	const void *d[2] = {rid, data};
	size_t l[2] = {rid_len, len};

	if (rid)
		send_frames(s, d, l, 2);
	else
		send_frames(s, &data, &len, 1);
}

static size_t enc(const struct mc_tf_msg *m, uint8_t *buf)
{
	int n = mc_tf_wire_encode(m, buf, MC_TF_WIRE_MAX_MSG);

	if (n < 0) {
		fprintf(stderr, "test_tf_peer: encode %s failed\n", mc_tf_wire_type_name(m->type));
		exit(1);
	}
	return (size_t)n;
}

static void send_msg(void *s, const void *rid, size_t rid_len, const struct mc_tf_msg *m)
{
	uint8_t buf[MC_TF_WIRE_MAX_MSG];

	send_raw(s, rid, rid_len, buf, enc(m, buf));
}

/* Waits for a message of type want (others are skipped). With a ROUTER the routing
 * id is stored in rid/rid_len. Returns 0 or -1 on timeout. */
static int wait_for(void *s, int router, uint8_t want, struct mc_tf_msg *m, uint8_t *rid,
                    size_t *rid_len)
{
	int64_t until = mc_tf_now_ms() + PEER_WAIT_MS;

	while (mc_tf_now_ms() < until) {
		zmq_pollitem_t pi = {.socket = s, .events = ZMQ_POLLIN};
		uint8_t buf[MC_TF_WIRE_MAX_MSG];
		int n;

		if (zmq_poll(&pi, 1, 100) <= 0)
			continue;
		if (router) {
			n = zmq_recv(s, rid, 255, 0);
			if (n < 0)
				continue;
			*rid_len = (size_t)n;
		}
		n = zmq_recv(s, buf, sizeof(buf), 0);
		if (n < 0 || n > (int)sizeof(buf))
			continue;
		if (mc_tf_wire_decode(buf, (size_t)n, m, NULL) == 0 && m->type == want)
			return 0;
	}
	return -1;
}

static void *dealer(void *ctx, const char *ep)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 1000;

	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(s, ep) < 0) {
		fprintf(stderr, "test_tf_peer: connect %s: %s\n", ep, zmq_strerror(errno));
		exit(1);
	}
	return s;
}

/* Plain TCP bytes that are not ZMTP at all. */
static void raw_tcp_garbage(const char *ep)
{
	const char *colon = strrchr(ep, ':');
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char junk[512];
	int fd;

	if (strncmp(ep, "tcp://127.0.0.1:", 16) || !colon)
		return;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		memset(junk, 0xff, sizeof(junk));
		memcpy(junk, "GET / HTTP/1.0\r\n\r\n", 18);
		if (write(fd, junk, sizeof(junk)) < 0)
			perror("test_tf_peer: write");
		usleep(100000);
	}
	close(fd);
}

/* Junk and lies towards a coordinator at ep; returns 0 if it answered as it should. */
static int attack(const char *ep)
{
	void *ctx = zmq_ctx_new(), *a, *b, *big;
	uint8_t buf[MC_TF_WIRE_MAX_MSG], huge[8192];
	struct mc_tf_msg m = {0}, r;
	uint64_t session = mc_tf_random_u64();
	uint32_t idx, task;
	size_t n;

	/* 1. Malformed frames from an anonymous peer. */
	a = dealer(ctx, ep);
	send_raw(a, NULL, 0, "", 0);
	send_raw(a, NULL, 0, "x", 1);
	send_raw(a, NULL, 0, "TF", 2);
	send_raw(a, NULL, 0, "XF\001\006\001\000\000\000\000\000\000\000", 12);
	send_raw(a, NULL, 0, "TF\002\006\001\000\000\000\000\000\000\000", 12);
	send_raw(a, NULL, 0, "TF\001\011\001\000\000\000\000\000\000\000", 12);
	m.type = MC_TF_MSG_HELLO;
	m.u.hello.session = session;
	m.u.hello.slots = 1;
	strcpy(m.u.hello.name, "hostile");
	n = enc(&m, buf);
	send_raw(a, NULL, 0, buf, n - 3); /* truncated HELLO */
	buf[n - 1] = ' ';
	send_raw(a, NULL, 0, buf, n); /* HELLO with a bad name */
	{
		const void *d[2] = {buf, buf};
		size_t l[2] = {n, n};

		send_frames(a, d, l, 2); /* two frames */
	}
	m.type = MC_TF_MSG_WELCOME; /* wrong direction */
	m.u.welcome.session = 1;
	m.u.welcome.hb_ms = 100;
	send_msg(a, NULL, 0, &m);
	m.type = MC_TF_MSG_STATUS; /* well-formed, unknown session: UNKNOWN back */
	memset(&m.u, 0, sizeof(m.u));
	m.u.status.session = 12345;
	m.u.status.idx = 99999;
	send_msg(a, NULL, 0, &m);
	if (wait_for(a, 0, MC_TF_MSG_UNKNOWN, &r, NULL, NULL) < 0 || r.u.unknown.session != 12345)
		return failf("no UNKNOWN for a stray STATUS");

	/* 2. An oversized message: the coordinator's ZMQ_MAXMSGSIZE drops the link. */
	big = dealer(ctx, ep);
	memset(huge, 'T', sizeof(huge));
	send_raw(big, NULL, 0, huge, sizeof(huge));

	/* 3. Plain TCP garbage. */
	raw_tcp_garbage(ep);

	/* 4. A registered worker that lies. */
	b = dealer(ctx, ep);
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_HELLO;
	m.u.hello.session = session;
	m.u.hello.slots = 1;
	strcpy(m.u.hello.name, "hostile");
	send_msg(b, NULL, 0, &m);
	if (wait_for(b, 0, MC_TF_MSG_WELCOME, &r, NULL, NULL) < 0 || r.u.welcome.session != session)
		return failf("no WELCOME");
	idx = r.u.welcome.idx;
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_STATUS;
	m.u.status.session = session;
	m.u.status.idx = idx;
	m.u.status.free = 1;
	send_msg(b, NULL, 0, &m);
	if (wait_for(b, 0, MC_TF_MSG_TASK, &r, NULL, NULL) < 0)
		return failf("no TASK");
	task = r.u.task.task;
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_RESULT; /* a wrong value: rejected, task re-issued */
	m.u.result.session = session;
	m.u.result.idx = idx;
	m.u.result.task = task;
	m.u.result.value = 1;
	send_msg(b, NULL, 0, &m);
	m.u.result.task = 0xffffffffu; /* no such task */
	send_msg(b, NULL, 0, &m);
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_STATUS; /* acknowledges tasks never sent */
	m.u.status.session = session;
	m.u.status.idx = idx;
	m.u.status.last_seq = 1000;
	send_msg(b, NULL, 0, &m);
	m.u.status.last_seq = 1;
	m.u.status.flags = MC_TF_STATUS_PING;
	send_msg(b, NULL, 0, &m);
	if (wait_for(b, 0, MC_TF_MSG_PONG, &r, NULL, NULL) < 0)
		return failf("no PONG");
	printf("attack: %d malformed messages, 1 wrong result (task %u); coordinator answered\n",
	       ATTACK_MALFORMED, task);
	zmq_close(a);
	zmq_close(b);
	zmq_close(big);
	zmq_ctx_term(ctx);
	return 0;
}

/* A fake coordinator that feeds the worker junk, then one real task, then STOP. */
static int fake_coordinator(const char *bind_ep)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_ROUTER);
	uint8_t rid[256], buf[MC_TF_WIRE_MAX_MSG], r2[256];
	size_t rid_len = 0, r2_len, n;
	struct mc_tf_msg m = {0}, r;
	struct mc_tf_task_params tp;
	char ep[256];
	size_t eplen = sizeof(ep);
	uint64_t session;
	int linger = 1000;

	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(s, bind_ep) < 0)
		return failf("bind");
	zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen);
	printf("endpoint %s\n", ep);
	fflush(stdout);
	if (wait_for(s, 1, MC_TF_MSG_HELLO, &r, rid, &rid_len) < 0)
		return failf("no HELLO");
	session = r.u.hello.session;

	/* Junk before WELCOME. */
	send_raw(s, rid, rid_len, "", 0);
	send_raw(s, rid, rid_len, "junk", 4);
	send_raw(s, rid, rid_len, "TF\007\007", 4);  /* version 7 */
	send_raw(s, rid, rid_len, "TF\001\007x", 5); /* STOP with a body */
	{
		const void *d[3] = {rid, "TF\001\007", "TF\001\007"};
		size_t l[3] = {rid_len, 4, 4};

		send_frames(s, d, l, 3); /* two frames: not a STOP */
	}
	send_msg(s, rid, rid_len, &r); /* its own HELLO back: wrong direction */
	m.type = MC_TF_MSG_TASK;
	m.u.task.seq = 1;
	m.u.task.modulus = 1000003;
	send_msg(s, rid, rid_len, &m); /* TASK before WELCOME */
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_WELCOME;
	m.u.welcome.session = session + 1; /* someone else's */
	m.u.welcome.idx = 5;
	m.u.welcome.hb_ms = 100;
	send_msg(s, rid, rid_len, &m);
	m.u.welcome.session = session;
	m.u.welcome.run = 0x5eed;
	send_msg(s, rid, rid_len, &m);
	if (wait_for(s, 1, MC_TF_MSG_STATUS, &r, rid, &rid_len) < 0)
		return failf("no STATUS after WELCOME");

	/* Tasks that would hurt if believed. */
	mc_tf_task_params_init(&tp, 42, 50000);
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_TASK;
	m.u.task.seq = 2;
	m.u.task.task = 7;
	m.u.task.iters = 10;
	m.u.task.modulus = 1000003;
	m.u.task.seed = 42;
	n = enc(&m, buf);
	memset(buf + MC_TF_WIRE_HDR_LEN + 20, 0, 8); /* modulus 0 */
	send_raw(s, rid, rid_len, buf, n);
	n = enc(&m, buf);
	memset(buf + MC_TF_WIRE_HDR_LEN + 12, 0xff, 8); /* 2^64 - 1 squarings */
	send_raw(s, rid, rid_len, buf, n);
	m.u.task.iters = tp.iters; /* the real one */
	m.u.task.modulus = tp.modulus;
	send_msg(s, rid, rid_len, &m);
	m.u.task.seq = 1; /* replayed seq */
	m.u.task.task = 8;
	send_msg(s, rid, rid_len, &m);
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_PONG;
	m.u.session = session + 1;
	send_msg(s, rid, rid_len, &m);
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_UNKNOWN; /* not ours: must not make it rejoin */
	m.u.unknown.session = session + 1;
	m.u.unknown.run = 1;
	send_msg(s, rid, rid_len, &m);
	m.u.unknown.session = session; /* from the run that welcomed it: stale */
	m.u.unknown.run = 0x5eed;
	send_msg(s, rid, rid_len, &m);

	if (wait_for(s, 1, MC_TF_MSG_RESULT, &r, r2, &r2_len) < 0)
		return failf("no RESULT");
	if (r.u.result.task != 7 || r.u.result.value != mc_tf_task_expect(&tp, 7)) {
		fprintf(stderr,
		        "test_tf_peer: FAIL: result task %u value %016" PRIx64
		        " (want task 7 value %016" PRIx64 ")\n",
		        r.u.result.task, r.u.result.value, mc_tf_task_expect(&tp, 7));
		return 1;
	}
	if (wait_for(s, 1, MC_TF_MSG_STATUS, &r, r2, &r2_len) < 0 ||
	    wait_for(s, 1, MC_TF_MSG_STATUS, &r, r2, &r2_len) < 0)
		return failf("no heartbeat after the result");
	memset(&m, 0, sizeof(m));
	m.type = MC_TF_MSG_STOP;
	send_msg(s, r2, r2_len, &m);
	printf("fake coordinator: worker survived the junk, result correct, STOP sent\n");
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "attack"))
		return attack(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "fake-coordinator"))
		return fake_coordinator(argv[2]);
	fprintf(stderr, "usage: test_tf_peer attack EP | fake-coordinator BIND_EP\n");
	return 2;
}
