/* tf_wire.h — the task-farm wire protocol (version 1) between coordinator and workers. */
#ifndef MC_TF_WIRE_H
#define MC_TF_WIRE_H

#include <stddef.h>
#include <stdint.h>

/*
 * One message is one ZeroMQ frame (the coordinator's ROUTER adds and strips the
 * routing-id frame). Encoding is little-endian binary:
 *
 *   header (4 bytes): magic "TF" | version u8 | type u8
 *   body: the type's fixed fields in the order of the structs below; HELLO ends
 *         with name_len u8 + name, STATUS with nheld u16 + nheld task ids (u32).
 *
 * The decoder checks everything: magic, version, type, exact length, every
 * count against the limits below, zero sessions, names outside [A-Za-z0-9._-],
 * a modulus that could divide by zero. Anything else is MC_TF_WIRE_EINVAL and
 * the receiver drops the message (and counts it). README.md has the exchange.
 */

#define MC_TF_WIRE_VERSION   1
#define MC_TF_WIRE_HDR_LEN   4
#define MC_TF_WIRE_MAX_MSG   1024         /* bytes, largest valid message; ZMQ_MAXMSGSIZE */
#define MC_TF_WIRE_MAX_NAME  64           /* bytes, worker name */
#define MC_TF_WIRE_MAX_SLOTS 64           /* tasks one worker asks for at once */
#define MC_TF_WIRE_MAX_HELD  128          /* task ids one STATUS can list */
#define MC_TF_WIRE_MAX_ITERS (1ull << 40) /* squarings of one task (hours of CPU) */
#define MC_TF_WIRE_HB_MIN_MS 10           /* ms, WELCOME heartbeat period bounds */
#define MC_TF_WIRE_HB_MAX_MS 600000

#define MC_TF_WIRE_EINVAL (-22) /* malformed or over a limit */
#define MC_TF_WIRE_ENOSPC (-28) /* encode buffer too small */

enum mc_tf_msg_type {
	MC_TF_MSG_HELLO = 1,   /* worker -> coord: join (resent until WELCOME) */
	MC_TF_MSG_WELCOME = 2, /* coord -> worker: your index and heartbeat period */
	MC_TF_MSG_STATUS = 3,  /* worker -> coord: heartbeat + credit + tasks held */
	MC_TF_MSG_TASK = 4,    /* coord -> worker: compute one task */
	MC_TF_MSG_RESULT = 5,  /* worker -> coord: a task's value */
	MC_TF_MSG_PONG = 6,    /* coord -> worker: answer to a STATUS with PING */
	MC_TF_MSG_STOP = 7,    /* coord -> worker: all done, exit 0 */
	MC_TF_MSG_UNKNOWN = 8, /* coord -> worker: no such session in this run, HELLO again */
	MC_TF_MSG_TYPE_MAX = 8,
};

#define MC_TF_STATUS_PING 0x01 /* STATUS flag: a heartbeat; answer with PONG */

struct mc_tf_hello {
	uint64_t session;                   /* random, non-zero, one per worker process */
	uint16_t slots;                     /* 1..MC_TF_WIRE_MAX_SLOTS tasks at once */
	char name[MC_TF_WIRE_MAX_NAME + 1]; /* NUL-terminated; 1..64 of [A-Za-z0-9._-] */
};

struct mc_tf_welcome {
	uint64_t session; /* echoes HELLO's, so a stale WELCOME is recognisable */
	uint32_t idx;     /* the worker's index at the coordinator; quoted back */
	uint32_t hb_ms;   /* ms, STATUS period the coordinator expects */
	uint64_t run;     /* random per coordinator run (for logs) */
};

struct mc_tf_status {
	uint64_t session;
	uint32_t idx;
	uint8_t flags;                      /* MC_TF_STATUS_* */
	uint16_t free;                      /* slots without a task, 0..MAX_HELD */
	uint64_t last_seq;                  /* highest TASK seq received, 0 = none */
	uint16_t nheld;                     /* 0..MC_TF_WIRE_MAX_HELD */
	uint32_t held[MC_TF_WIRE_MAX_HELD]; /* ids of tasks queued or computing */
};

struct mc_tf_task {
	uint64_t seq;     /* per worker, from 1, increasing by one per TASK sent */
	uint32_t task;    /* task id */
	uint64_t iters;   /* squarings, 0..MC_TF_WIRE_MAX_ITERS */
	uint64_t modulus; /* >= 3 */
	uint64_t seed;    /* run seed; the start value derives from (task, seed) */
};

struct mc_tf_unknown {
	uint64_t session; /* the session the coordinator does not know */
	uint64_t run;     /* the coordinator's run id: a worker welcomed by this very
	                   * run ignores it (a reply to a message queued before) */
};

struct mc_tf_result {
	uint64_t session;
	uint32_t idx;
	uint32_t task;
	uint64_t value; /* the task's final value */
};

/* A decoded message. The union member is the one named by type; STOP has none,
 * PONG uses session only. */
struct mc_tf_msg {
	uint8_t type; /* enum mc_tf_msg_type */
	union {
		struct mc_tf_hello hello;
		struct mc_tf_welcome welcome;
		struct mc_tf_status status;
		struct mc_tf_task task;
		struct mc_tf_result result;
		struct mc_tf_unknown unknown;
		uint64_t session; /* PONG */
	} u;
};

/* Encodes m into buf (cap bytes). Returns the encoded length, MC_TF_WIRE_EINVAL if
 * m would not pass mc_tf_wire_decode(), or MC_TF_WIRE_ENOSPC. */
int mc_tf_wire_encode(const struct mc_tf_msg *m, void *buf, size_t cap);

/* Decodes len bytes at buf (untrusted; any length, any content) into *m. Returns
 * 0, or MC_TF_WIRE_EINVAL with *m unspecified and *why (if why is non-NULL) set
 * to a static string naming the first problem found. */
int mc_tf_wire_decode(const void *buf, size_t len, struct mc_tf_msg *m, const char **why);

/* The type's name ("HELLO"), or "?" for a value outside the enum. */
const char *mc_tf_wire_type_name(unsigned type);

#endif
