/* client.c — DEALER-side link from a CLI process to a cluster's controller. */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "controller.h"
#include "log.h"
#include "net.h"
#include "util.h"

struct mc_client {
	void *ctx, *sock;
	int pid;
};

void mc_cluster_dir(const struct mc_common_opts *c, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", c->state_dir, c->cluster);
}

void mc_cluster_netns(const struct mc_common_opts *c, char *buf, size_t cap)
{
	snprintf(buf, cap, "microcosm-%s", c->cluster);
}

int mc_cluster_pid(const char *dir)
{
	char path[PATH_MAX + 32], *text = NULL;
	int pid;

	snprintf(path, sizeof(path), "%s/%s", dir, MC_CTL_PID);
	if (mc_read_file(path, 64, &text, NULL) < 0)
		return 0;
	pid = atoi(text);
	free(text);
	return pid > 0 ? pid : 0;
}

void mc_cluster_cleanup_stale(const struct mc_common_opts *c)
{
	char dir[PATH_MAX], ns[128];

	mc_cluster_dir(c, dir, sizeof(dir));
	mc_cluster_netns(c, ns, sizeof(ns));
	mc_rm_rf(dir);
	mc_net_forget_ns(ns);
}

struct mc_client *mc_client_connect(const struct mc_common_opts *c, char *err, size_t errlen)
{
	char dir[PATH_MAX], ep[PATH_MAX + 32];
	struct mc_client *cl;
	struct stat st;
	int pid, zero = 0;

	mc_cluster_dir(c, dir, sizeof(dir));
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "no cluster '%s' is up (%s: %s)", c->cluster, dir,
		         strerror(errno));
		return NULL;
	}
	pid = mc_cluster_pid(dir);
	if (!mc_pid_alive(pid)) {
		snprintf(err, errlen,
		         "cluster '%s': its controller is not running (stale state in %s); run "
		         "'microcosm down -c %s' to clean up",
		         c->cluster, dir, c->cluster);
		return NULL;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->pid = pid;
	cl->ctx = zmq_ctx_new();
	cl->sock = cl->ctx ? zmq_socket(cl->ctx, ZMQ_DEALER) : NULL;
	snprintf(ep, sizeof(ep), "ipc://%s/%s", dir, MC_CTL_SOCK);
	if (!cl->sock || zmq_setsockopt(cl->sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_setsockopt(cl->sock, ZMQ_RCVHWM, &zero, sizeof(zero)) < 0 ||
	    zmq_connect(cl->sock, ep) < 0) {
		snprintf(err, errlen, "connect %s: %s", ep, zmq_strerror(zmq_errno()));
		mc_client_destroy(&cl);
		return NULL;
	}
	return cl;
}

int mc_client_pid(const struct mc_client *cl)
{
	return cl->pid;
}

int mc_client_send(struct mc_client *cl, json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT);
	int rc;

	json_decref(req);
	if (!s)
		return -ENOMEM;
	rc = zmq_send(cl->sock, s, strlen(s), 0) < 0 ? -EIO : 0;
	free(s);
	return rc;
}

int mc_client_recv(struct mc_client *cl, int timeout_ms, json_t **msg, char **data, size_t *len)
{
	int64_t deadline = mc_now_ms() + timeout_ms;

	*msg = NULL;
	if (data)
		*data = NULL;
	if (len)
		*len = 0;
	for (;;) {
		zmq_pollitem_t it = {cl->sock, 0, ZMQ_POLLIN, 0};
		int64_t left = deadline - mc_now_ms();
		int rc;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = zmq_poll(&it, 1, left > 500 ? 500 : (long)left);
		if (rc < 0 && zmq_errno() != EINTR)
			return -EIO;
		if (rc > 0 && (it.revents & ZMQ_POLLIN)) {
			zmq_msg_t m;
			int more = 0;
			size_t ml = sizeof(more);

			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, cl->sock, 0) < 0) {
				zmq_msg_close(&m);
				return -EIO;
			}
			*msg = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
			zmq_msg_close(&m);
			zmq_getsockopt(cl->sock, ZMQ_RCVMORE, &more, &ml);
			while (more) {
				zmq_msg_init(&m);
				zmq_msg_recv(&m, cl->sock, 0);
				if (data && !*data) {
					*len = zmq_msg_size(&m);
					*data = malloc(*len + 1);
					if (*data) {
						memcpy(*data, zmq_msg_data(&m), *len);
						(*data)[*len] = '\0';
					}
				}
				zmq_msg_close(&m);
				zmq_getsockopt(cl->sock, ZMQ_RCVMORE, &more, &ml);
			}
			if (!*msg)
				continue; /* unparsable: skip */
			return 0;
		}
		if (!mc_pid_alive(cl->pid))
			return -ESRCH;
	}
}

int mc_client_call(struct mc_client *cl, json_t *req, int timeout_ms, json_t **reply)
{
	int err = mc_client_send(cl, req);

	if (err)
		return err;
	return mc_client_recv(cl, timeout_ms, reply, NULL, NULL);
}

void mc_client_destroy(struct mc_client **clp)
{
	struct mc_client *cl;

	if (!clp || !*clp)
		return;
	cl = *clp;
	*clp = NULL;
	if (cl->sock)
		zmq_close(cl->sock);
	if (cl->ctx)
		zmq_ctx_term(cl->ctx);
	free(cl);
}

json_t *mc_cluster_guests(const struct mc_common_opts *c, int timeout_ms, char *err, size_t errlen)
{
	struct mc_client *cl = mc_client_connect(c, err, errlen);
	json_t *reply = NULL, *g = NULL;

	if (!cl)
		return NULL;
	if (mc_client_call(cl, json_pack("{s:s}", "op", "ls"), timeout_ms, &reply) == 0 && reply)
		g = json_incref(json_object_get(reply, "guests"));
	else
		snprintf(err, errlen, "the controller did not answer");
	mc_client_destroy(&cl);
	json_decref(reply);
	return g;
}

int mc_client_results(struct mc_client *cl, const char *op, int timeout_ms,
                      void (*print)(void *ctx, json_t *result), void *ctx)
{
	int failures = 0;

	for (;;) {
		json_t *m = NULL;
		const char *type;

		if (mc_client_recv(cl, timeout_ms, &m, NULL, NULL) < 0) {
			fprintf(stderr, "microcosm %s: controller did not answer\n", op);
			return failures + 1;
		}
		type = json_string_value(json_object_get(m, "type"));
		if (type && strcmp(type, "result") == 0) {
			const char *e = json_string_value(json_object_get(m, "error"));

			if (e) {
				failures++;
				fprintf(stderr, "%s: %s: %s\n",
				        json_string_value(json_object_get(m, "guest")), op, e);
			} else {
				print(ctx, m);
				fflush(stdout);
			}
		} else if (type && (strcmp(type, "error") == 0 || strcmp(type, "done") == 0)) {
			int err = strcmp(type, "error") == 0;

			if (err)
				fprintf(stderr, "microcosm %s: %s\n", op,
				        json_string_value(json_object_get(m, "error")));
			json_decref(m);
			return failures + err;
		}
		json_decref(m);
	}
}
