/* client.h — the CLI side of the controller link: find a cluster, send requests, read replies. */
#ifndef MC_CLIENT_H
#define MC_CLIENT_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>

#include "cli.h"

struct mc_client;

/* <state_dir>/<cluster> into buf (PATH_MAX). */
void mc_cluster_dir(const struct mc_common_opts *c, char *buf, size_t cap);

/* "microcosm-<cluster>" into buf. */
void mc_cluster_netns(const struct mc_common_opts *c, char *buf, size_t cap);

/* The controller pid recorded in dir, or 0 when absent/unreadable. */
int mc_cluster_pid(const char *dir);

/* Removes what a dead controller left: the state dir and the namespace name. */
void mc_cluster_cleanup_stale(const struct mc_common_opts *c);

/*
 * Connects to the controller of cluster c. Fails (NULL) with a message in
 * err when no such cluster is up or its controller died. Caller owns
 * result; free with mc_client_destroy().
 */
struct mc_client *mc_client_connect(const struct mc_common_opts *c, char *err, size_t errlen);

/* Sends req (takes ownership). Returns 0 or -EIO. */
int mc_client_send(struct mc_client *cl, json_t *req);

/*
 * Waits up to timeout_ms for one reply. On success returns 0 with *msg
 * (caller owns; json_decref) and, when the reply carries a data frame,
 * *data and *len (caller owns data; free). -ETIMEDOUT when nothing came, -ESRCH when
 * the controller process is gone.
 */
int mc_client_recv(struct mc_client *cl, int timeout_ms, json_t **msg, char **data, size_t *len);

/*
 * Reads the replies of a per-guest request (pause, migrate, checkpoint, ...) until "done":
 * each successful "result" goes to print(ctx, result); a failed one is printed as
 * "GUEST: OP: ERROR" on stderr; an "error" reply or timeout_ms of silence ends it (with a
 * message). Returns the number of failures.
 */
int mc_client_results(struct mc_client *cl, const char *op, int timeout_ms,
                      void (*print)(void *ctx, json_t *result), void *ctx);

/* One request, one reply. Returns 0 or negative as above. */
int mc_client_call(struct mc_client *cl, json_t *req, int timeout_ms, json_t **reply);

/*
 * The guests of cluster c as its controller lists them (the "guests" array of an ls
 * reply: name, state, ip, pid, hb_seq, failed_at_ms, ...), over a connection of its own.
 * Returns NULL with err set when the cluster is not up or did not answer. Caller owns.
 */
json_t *mc_cluster_guests(const struct mc_common_opts *c, int timeout_ms, char *err, size_t errlen);

/* Controller pid. */
int mc_client_pid(const struct mc_client *cl);

void mc_client_destroy(struct mc_client **cl);

#endif
