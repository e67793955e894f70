/* mc_proto.h — the controller <-> guest agent wire protocol (version 1). */
#ifndef MC_PROTO_H
#define MC_PROTO_H

#include <stddef.h>
#include <stdint.h>

/*
 * One protocol message travels as one ZeroMQ frame (the controller's ROUTER
 * adds and strips the routing-id frame). Encoding is little-endian binary:
 *
 *   header (12 bytes): magic "MC" | version u8 | type u8 | id u32 | body_len u32
 *   body: type-specific fields; strings and blobs are u32 length + bytes
 *         (strings carry no NUL on the wire; they may not contain NUL).
 *
 * Both sides validate everything: unknown version or type, a body that is
 * shorter or longer than its fields, a count or length above the limits
 * below -> the decoder returns MC_PROTO_EINVAL and the message is dropped.
 * docs/protocol.md describes every message.
 */

#define MC_PROTO_VERSION  1
#define MC_PROTO_HDR_LEN  12
#define MC_PROTO_MAX_MSG  (1u << 20)  /* bytes, whole encoded message */
#define MC_PROTO_MAX_ARGV 256         /* argv elements of one EXEC */
#define MC_PROTO_MAX_ENV  256         /* env elements of one EXEC */
#define MC_PROTO_MAX_STR  4096        /* bytes, one argv/env/cwd/name string */
#define MC_PROTO_MAX_DATA (64 * 1024) /* bytes, one OUTPUT chunk */

#define MC_PROTO_EINVAL (-22) /* malformed or over a limit */
#define MC_PROTO_ENOSPC (-28) /* encode buffer too small */
#define MC_PROTO_ENOMEM (-12)

enum mc_msg_type {
	MC_MSG_HELLO = 1,     /* agent -> ctl: I am up (after identity + network) */
	MC_MSG_HEARTBEAT = 2, /* agent -> ctl: periodic liveness */
	MC_MSG_EXEC = 3,      /* ctl -> agent: run a command (id = exec id) */
	MC_MSG_OUTPUT = 4,    /* agent -> ctl: a chunk of stdout/stderr of exec id */
	MC_MSG_EXIT = 5,      /* agent -> ctl: exec id finished */
	MC_MSG_SHUTDOWN = 6,  /* ctl -> agent: power the guest off */
	MC_MSG_ERROR = 7,     /* either way: request id failed before running */
	MC_MSG_SIGNAL = 8,    /* ctl -> agent: send a signal to exec id's process group */
	MC_MSG_TYPE_MAX = 8,
};

enum mc_stream { MC_STREAM_STDOUT = 1, MC_STREAM_STDERR = 2 };

struct mc_msg_hello {
	char *name;         /* guest name as the agent learnt it, e.g. "g0003" */
	uint32_t index;     /* guest index */
	char *kernel;       /* uname -r of the guest */
	uint64_t uptime_ms; /* guest uptime when HELLO was sent */
	uint32_t boot_id;   /* random per boot/clone; lets ctl spot a restarted agent */
};

struct mc_msg_heartbeat {
	uint64_t seq;       /* increments by one per heartbeat, from 1 */
	uint64_t uptime_ms; /* guest uptime */
	uint32_t running;   /* number of commands currently running */
};

struct mc_msg_exec {
	uint32_t argc;       /* 1..MC_PROTO_MAX_ARGV */
	char **argv;         /* argc strings; argv[0] is looked up in PATH */
	uint32_t envc;       /* 0..MC_PROTO_MAX_ENV extra "K=V" strings */
	char **env;          /* added to the agent's default environment */
	char *cwd;           /* working directory; "" = agent default (/) */
	uint32_t timeout_ms; /* 0 = none; past it the process group is SIGKILLed */
};

struct mc_msg_output {
	uint8_t stream; /* enum mc_stream */
	uint32_t len;   /* 0..MC_PROTO_MAX_DATA */
	uint8_t *data;  /* len bytes */
};

struct mc_msg_exit {
	int32_t status;    /* exit code if signal == 0, else -1 */
	int32_t signal;    /* terminating signal or 0 */
	uint8_t timed_out; /* 1 if the agent killed it for its timeout */
	uint64_t duration_ms;
};

struct mc_msg_signal {
	uint32_t signal; /* 1..64 */
};

struct mc_msg_error {
	int32_t code; /* errno-style positive code */
	char *text;   /* human-readable reason */
};

struct mc_msg {
	uint8_t type; /* enum mc_msg_type */
	uint32_t id;  /* exec id for EXEC/OUTPUT/EXIT/ERROR, else 0 */
	union {
		struct mc_msg_hello hello;
		struct mc_msg_heartbeat hb;
		struct mc_msg_exec exec;
		struct mc_msg_output output;
		struct mc_msg_exit exit;
		struct mc_msg_error error;
		struct mc_msg_signal signal;
	} u;
};

/*
 * Encodes m into buf (capacity cap). On success stores the encoded length
 * in *len and returns 0; MC_PROTO_ENOSPC if cap is too small,
 * MC_PROTO_EINVAL if m breaks a limit (the same limits the decoder checks).
 * Borrows m.
 */
int mc_proto_encode(const struct mc_msg *m, uint8_t *buf, size_t cap, size_t *len);

/*
 * Decodes len bytes of buf into *m. On success returns 0 and *m owns
 * freshly allocated strings/blobs: release them with mc_msg_fini().
 * On failure returns MC_PROTO_EINVAL or MC_PROTO_ENOMEM and *m holds
 * nothing that needs freeing.
 */
int mc_proto_decode(const uint8_t *buf, size_t len, struct mc_msg *m);

/* Frees what mc_proto_decode() allocated in *m and zeroes it. Accepts a
 * zeroed message. */
void mc_msg_fini(struct mc_msg *m);

/* Name of a message type for logs ("HELLO"), "?" if unknown. */
const char *mc_proto_type_name(uint8_t type);

#endif
