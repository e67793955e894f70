/* tf_wire.c — encoder and bounds-checked decoder of the task-farm protocol. */
#include "tf_wire.h"
#include "tf_util.h"

#include <string.h>

/* Cursor over an output buffer; ovf is set once a write would not fit. */
struct wbuf {
	uint8_t *p;
	size_t cap, off;
	int ovf;
};

/* Cursor over an untrusted input buffer; short is set once a read runs past the end. */
struct rbuf {
	const uint8_t *p;
	size_t len, off;
	int short_read;
};

static void put(struct wbuf *w, uint64_t v, unsigned bytes)
{
	if (w->ovf || w->cap - w->off < bytes) {
		w->ovf = 1;
		return;
	}
	for (unsigned i = 0; i < bytes; i++)
		w->p[w->off++] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(struct rbuf *r, unsigned bytes)
{
	uint64_t v = 0;

	if (r->short_read || r->len - r->off < bytes) {
		r->short_read = 1;
		return 0;
	}
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[r->off++] << (8 * i);
	return v;
}

const char *mc_tf_wire_type_name(unsigned type)
{
	static const char *const names[] = {"?",      "HELLO", "WELCOME", "STATUS", "TASK",
	                                    "RESULT", "PONG",  "STOP",    "UNKNOWN"};

	return type <= MC_TF_MSG_TYPE_MAX ? names[type] : "?";
}

/* The checks shared by encoder and decoder; NULL if m is valid. */
static const char *check(const struct mc_tf_msg *m)
{
	switch (m->type) {
	case MC_TF_MSG_HELLO:
		if (!m->u.hello.session)
			return "zero session";
		if (m->u.hello.slots < 1 || m->u.hello.slots > MC_TF_WIRE_MAX_SLOTS)
			return "slots out of range";
		if (!mc_tf_valid_name(m->u.hello.name,
		                      strnlen(m->u.hello.name, sizeof(m->u.hello.name))))
			return "bad worker name";
		return NULL;
	case MC_TF_MSG_WELCOME:
		if (!m->u.welcome.session)
			return "zero session";
		if (m->u.welcome.hb_ms < MC_TF_WIRE_HB_MIN_MS ||
		    m->u.welcome.hb_ms > MC_TF_WIRE_HB_MAX_MS)
			return "heartbeat period out of range";
		return NULL;
	case MC_TF_MSG_STATUS:
		if (!m->u.status.session)
			return "zero session";
		if (m->u.status.flags & ~MC_TF_STATUS_PING)
			return "unknown flags";
		if (m->u.status.free > MC_TF_WIRE_MAX_HELD)
			return "free slots out of range";
		if (m->u.status.nheld > MC_TF_WIRE_MAX_HELD)
			return "too many held tasks";
		return NULL;
	case MC_TF_MSG_TASK:
		if (!m->u.task.seq)
			return "zero seq";
		if (m->u.task.iters > MC_TF_WIRE_MAX_ITERS)
			return "iterations out of range";
		if (m->u.task.modulus < 3)
			return "modulus below 3";
		return NULL;
	case MC_TF_MSG_RESULT:
		return m->u.result.session ? NULL : "zero session";
	case MC_TF_MSG_PONG:
		return m->u.session ? NULL : "zero session";
	case MC_TF_MSG_UNKNOWN:
		return m->u.unknown.session ? NULL : "zero session";
	case MC_TF_MSG_STOP:
		return NULL;
	}
	return "unknown type";
}

int mc_tf_wire_encode(const struct mc_tf_msg *m, void *buf, size_t cap)
{
	struct wbuf w = {buf, cap, 0, 0};

	if (check(m))
		return MC_TF_WIRE_EINVAL;
	put(&w, 'T', 1);
	put(&w, 'F', 1);
	put(&w, MC_TF_WIRE_VERSION, 1);
	put(&w, m->type, 1);
	switch (m->type) {
	case MC_TF_MSG_HELLO: {
		size_t n = strnlen(m->u.hello.name, sizeof(m->u.hello.name));

		put(&w, m->u.hello.session, 8);
		put(&w, m->u.hello.slots, 2);
		put(&w, n, 1);
		for (size_t i = 0; i < n; i++)
			put(&w, (uint8_t)m->u.hello.name[i], 1);
		break;
	}
	case MC_TF_MSG_WELCOME:
		put(&w, m->u.welcome.session, 8);
		put(&w, m->u.welcome.idx, 4);
		put(&w, m->u.welcome.hb_ms, 4);
		put(&w, m->u.welcome.run, 8);
		break;
	case MC_TF_MSG_STATUS:
		put(&w, m->u.status.session, 8);
		put(&w, m->u.status.idx, 4);
		put(&w, m->u.status.flags, 1);
		put(&w, m->u.status.free, 2);
		put(&w, m->u.status.last_seq, 8);
		put(&w, m->u.status.nheld, 2);
		for (unsigned i = 0; i < m->u.status.nheld; i++)
			put(&w, m->u.status.held[i], 4);
		break;
	case MC_TF_MSG_TASK:
		put(&w, m->u.task.seq, 8);
		put(&w, m->u.task.task, 4);
		put(&w, m->u.task.iters, 8);
		put(&w, m->u.task.modulus, 8);
		put(&w, m->u.task.seed, 8);
		break;
	case MC_TF_MSG_RESULT:
		put(&w, m->u.result.session, 8);
		put(&w, m->u.result.idx, 4);
		put(&w, m->u.result.task, 4);
		put(&w, m->u.result.value, 8);
		break;
	case MC_TF_MSG_PONG:
		put(&w, m->u.session, 8);
		break;
	case MC_TF_MSG_UNKNOWN:
		put(&w, m->u.unknown.session, 8);
		put(&w, m->u.unknown.run, 8);
		break;
	case MC_TF_MSG_STOP:
		break;
	}
	return w.ovf ? MC_TF_WIRE_ENOSPC : (int)w.off;
}

static int fail(const char **why, const char *what)
{
	if (why)
		*why = what;
	return MC_TF_WIRE_EINVAL;
}

int mc_tf_wire_decode(const void *buf, size_t len, struct mc_tf_msg *m, const char **why)
{
	struct rbuf r = {buf, len, 0, 0};
	const char *bad;

	if (!buf || len < MC_TF_WIRE_HDR_LEN)
		return fail(why, "shorter than the header");
	if (len > MC_TF_WIRE_MAX_MSG)
		return fail(why, "longer than any message");
	if (get(&r, 1) != 'T' || get(&r, 1) != 'F')
		return fail(why, "bad magic");
	if (get(&r, 1) != MC_TF_WIRE_VERSION)
		return fail(why, "unsupported version");
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)get(&r, 1);
	switch (m->type) {
	case MC_TF_MSG_HELLO: {
		size_t n;

		m->u.hello.session = get(&r, 8);
		m->u.hello.slots = (uint16_t)get(&r, 2);
		n = (size_t)get(&r, 1);
		if (n > MC_TF_WIRE_MAX_NAME)
			return fail(why, "name too long");
		for (size_t i = 0; i < n; i++)
			m->u.hello.name[i] = (char)get(&r, 1);
		m->u.hello.name[n] = '\0';
		if (!r.short_read && strlen(m->u.hello.name) != n)
			return fail(why, "NUL in name");
		break;
	}
	case MC_TF_MSG_WELCOME:
		m->u.welcome.session = get(&r, 8);
		m->u.welcome.idx = (uint32_t)get(&r, 4);
		m->u.welcome.hb_ms = (uint32_t)get(&r, 4);
		m->u.welcome.run = get(&r, 8);
		break;
	case MC_TF_MSG_STATUS:
		m->u.status.session = get(&r, 8);
		m->u.status.idx = (uint32_t)get(&r, 4);
		m->u.status.flags = (uint8_t)get(&r, 1);
		m->u.status.free = (uint16_t)get(&r, 2);
		m->u.status.last_seq = get(&r, 8);
		m->u.status.nheld = (uint16_t)get(&r, 2);
		if (m->u.status.nheld > MC_TF_WIRE_MAX_HELD)
			return fail(why, "too many held tasks");
		for (unsigned i = 0; i < m->u.status.nheld; i++)
			m->u.status.held[i] = (uint32_t)get(&r, 4);
		break;
	case MC_TF_MSG_TASK:
		m->u.task.seq = get(&r, 8);
		m->u.task.task = (uint32_t)get(&r, 4);
		m->u.task.iters = get(&r, 8);
		m->u.task.modulus = get(&r, 8);
		m->u.task.seed = get(&r, 8);
		break;
	case MC_TF_MSG_RESULT:
		m->u.result.session = get(&r, 8);
		m->u.result.idx = (uint32_t)get(&r, 4);
		m->u.result.task = (uint32_t)get(&r, 4);
		m->u.result.value = get(&r, 8);
		break;
	case MC_TF_MSG_PONG:
		m->u.session = get(&r, 8);
		break;
	case MC_TF_MSG_UNKNOWN:
		m->u.unknown.session = get(&r, 8);
		m->u.unknown.run = get(&r, 8);
		break;
	case MC_TF_MSG_STOP:
		break;
	default:
		return fail(why, "unknown type");
	}
	if (r.short_read)
		return fail(why, "truncated body");
	if (r.off != len)
		return fail(why, "trailing bytes");
	bad = check(m);
	if (bad)
		return fail(why, bad);
	return 0;
}
