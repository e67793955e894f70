/* qmp.h — asynchronous QMP (QEMU Machine Protocol) client over one connected socket. */
#ifndef MC_QMP_H
#define MC_QMP_H

#include <jansson.h>

struct mc_qmp;

/*
 * Reply callback: exactly one of ret (the "return" member; borrowed, valid
 * during the call) or err_class/err_desc (the "error" member, or class
 * "Disconnected" when the connection ended first) is set.
 */
typedef void (*mc_qmp_reply_cb)(void *arg, json_t *ret, const char *err_class,
                                const char *err_desc);

/* Event callback: event name and its "data" (borrowed; may be NULL). */
typedef void (*mc_qmp_event_cb)(void *arg, const char *event, json_t *data);

#define MC_QMP_MAX_LINE (1 << 20) /* bytes; a longer line is a protocol error */

/*
 * Creates a client on fd, a connected stream socket whose peer is QEMU's
 * monitor in control mode. Takes ownership of fd (made non-blocking; closed
 * by mc_qmp_destroy). The client answers the greeting with qmp_capabilities
 * by itself; commands sent before that are queued. Does no I/O.
 * Caller owns result; free with mc_qmp_destroy(). NULL on allocation failure.
 */
struct mc_qmp *mc_qmp_new(int fd, mc_qmp_event_cb on_event, void *arg);

/* The socket to poll for readability (and writability when
 * mc_qmp_want_write() says so). */
int mc_qmp_fd(const struct mc_qmp *q);

/* 1 once the greeting was seen and capabilities negotiated. */
int mc_qmp_ready(const struct mc_qmp *q);

/*
 * Queues command cmd with arguments args (takes ownership of args; may be
 * NULL) and writes what the socket accepts. cb (may be NULL) is called once
 * with the reply. Returns 0, -ENOMEM, or -EPIPE after the peer went away.
 */
int mc_qmp_send(struct mc_qmp *q, const char *cmd, json_t *args, mc_qmp_reply_cb cb, void *cbarg);

/* Reads what is available and dispatches complete lines. Returns 0, or a
 * negative code when the connection is over (-EPIPE on EOF, -EPROTO on a
 * malformed greeting or an over-long line); then every pending callback has
 * been called with class "Disconnected". */
int mc_qmp_on_readable(struct mc_qmp *q);

/* Whether queued output waits for the socket to become writable. */
int mc_qmp_want_write(const struct mc_qmp *q);

/* Writes queued output. Returns 0 or a negative code (-EPIPE). */
int mc_qmp_flush(struct mc_qmp *q);

/* Closes the socket; calls every pending reply callback with class
 * "Disconnected". Accepts NULL; nulls *q. */
void mc_qmp_destroy(struct mc_qmp **q);

#endif
