/* mc_proto.c — encoder and strict decoder for the controller <-> agent wire protocol. */
#include "mc_proto.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Encoding conventions beyond the header: a NULL string pointer encodes as
 * the empty string where an empty string is allowed (kernel, cwd, error
 * text), and a NULL data pointer is allowed for a zero-length OUTPUT. The
 * decoder NUL-terminates every string, terminates argv and env with a NULL
 * element (argv[argc] == NULL, env[envc] == NULL) so that they can be
 * handed to execve() directly, and NUL-terminates OUTPUT data one byte past
 * len (never part of the message).
 */

/* ---- limits shared by encoder and decoder ---- */

static bool type_valid(uint8_t type)
{
	return type >= MC_MSG_HELLO && type <= MC_MSG_TYPE_MAX;
}

/* Messages that are about one exec carry its id; the rest carry 0. */
static bool type_has_id(uint8_t type)
{
	return type == MC_MSG_EXEC || type == MC_MSG_OUTPUT || type == MC_MSG_EXIT ||
	       type == MC_MSG_ERROR || type == MC_MSG_SIGNAL;
}

/* "K=V" with a non-empty key. */
static bool env_ok(const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);

	return eq != NULL && eq != s;
}

static bool exit_ok(const struct mc_msg_exit *e)
{
	if (e->timed_out > 1 || e->signal < 0 || e->signal > 127)
		return false;
	if (e->signal != 0)
		return e->status == -1;
	return e->status >= 0 && e->status <= 255;
}

/* ---- encoder ---- */

struct wbuf {
	uint8_t *p;
};

static void put_u8(struct wbuf *w, uint8_t v)
{
	*w->p++ = v;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*w->p++ = (uint8_t)(v >> (8 * i));
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*w->p++ = (uint8_t)(v >> (8 * i));
}

static void put_bytes(struct wbuf *w, const void *b, uint32_t n)
{
	put_u32(w, n);
	if (n > 0)
		memcpy(w->p, b, n);
	w->p += n;
}

static void put_str(struct wbuf *w, const char *s)
{
	put_bytes(w, s ? s : "", s ? (uint32_t)strlen(s) : 0);
}

/*
 * Validates one string for encoding and adds its wire size to *size.
 * Returns false if it breaks a limit.
 */
static bool size_str(const char *s, bool allow_null, size_t *size)
{
	size_t n;

	if (s == NULL) {
		*size += 4;
		return allow_null;
	}
	n = strnlen(s, MC_PROTO_MAX_STR + 1);
	if (n > MC_PROTO_MAX_STR)
		return false;
	*size += 4 + n;
	return true;
}

/* Computes the encoded body size of m, or returns MC_PROTO_EINVAL. */
static int body_size(const struct mc_msg *m, size_t *size)
{
	size_t n = 0;

	switch (m->type) {
	case MC_MSG_HELLO:
		if (m->u.hello.name == NULL || m->u.hello.name[0] == '\0')
			return MC_PROTO_EINVAL;
		if (!size_str(m->u.hello.name, false, &n) || !size_str(m->u.hello.kernel, true, &n))
			return MC_PROTO_EINVAL;
		n += 4 + 8 + 4;
		break;
	case MC_MSG_HEARTBEAT:
		n = 8 + 8 + 4;
		break;
	case MC_MSG_EXEC: {
		const struct mc_msg_exec *e = &m->u.exec;

		if (e->argc < 1 || e->argc > MC_PROTO_MAX_ARGV || e->argv == NULL)
			return MC_PROTO_EINVAL;
		if (e->envc > MC_PROTO_MAX_ENV || (e->envc > 0 && e->env == NULL))
			return MC_PROTO_EINVAL;
		n += 4;
		for (uint32_t i = 0; i < e->argc; i++)
			if (!size_str(e->argv[i], false, &n))
				return MC_PROTO_EINVAL;
		if (e->argv[0][0] == '\0')
			return MC_PROTO_EINVAL;
		n += 4;
		for (uint32_t i = 0; i < e->envc; i++) {
			if (!size_str(e->env[i], false, &n))
				return MC_PROTO_EINVAL;
			if (!env_ok(e->env[i], strlen(e->env[i])))
				return MC_PROTO_EINVAL;
		}
		if (!size_str(e->cwd, true, &n))
			return MC_PROTO_EINVAL;
		n += 4;
		break;
	}
	case MC_MSG_OUTPUT:
		if (m->u.output.stream != MC_STREAM_STDOUT &&
		    m->u.output.stream != MC_STREAM_STDERR)
			return MC_PROTO_EINVAL;
		if (m->u.output.len > MC_PROTO_MAX_DATA)
			return MC_PROTO_EINVAL;
		if (m->u.output.len > 0 && m->u.output.data == NULL)
			return MC_PROTO_EINVAL;
		n = 1 + 4 + (size_t)m->u.output.len;
		break;
	case MC_MSG_EXIT:
		if (!exit_ok(&m->u.exit))
			return MC_PROTO_EINVAL;
		n = 4 + 4 + 1 + 8;
		break;
	case MC_MSG_SHUTDOWN:
		n = 0;
		break;
	case MC_MSG_SIGNAL:
		if (m->u.signal.signal < 1 || m->u.signal.signal > 64)
			return MC_PROTO_EINVAL;
		n = 4;
		break;
	case MC_MSG_ERROR:
		if (m->u.error.code <= 0)
			return MC_PROTO_EINVAL;
		n = 4;
		if (!size_str(m->u.error.text, true, &n))
			return MC_PROTO_EINVAL;
		break;
	default:
		return MC_PROTO_EINVAL;
	}
	*size = n;
	return 0;
}

int mc_proto_encode(const struct mc_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct wbuf w;
	size_t body = 0;
	int rc;

	if (m == NULL || len == NULL || !type_valid(m->type))
		return MC_PROTO_EINVAL;
	if (!type_has_id(m->type) && m->id != 0)
		return MC_PROTO_EINVAL;
	rc = body_size(m, &body);
	if (rc < 0)
		return rc;
	if (body > MC_PROTO_MAX_MSG - MC_PROTO_HDR_LEN)
		return MC_PROTO_EINVAL;
	if (buf == NULL || cap < MC_PROTO_HDR_LEN + body)
		return MC_PROTO_ENOSPC;

	w.p = buf;
	put_u8(&w, 'M');
	put_u8(&w, 'C');
	put_u8(&w, MC_PROTO_VERSION);
	put_u8(&w, m->type);
	put_u32(&w, m->id);
	put_u32(&w, (uint32_t)body);

	switch (m->type) {
	case MC_MSG_HELLO:
		put_str(&w, m->u.hello.name);
		put_u32(&w, m->u.hello.index);
		put_str(&w, m->u.hello.kernel);
		put_u64(&w, m->u.hello.uptime_ms);
		put_u32(&w, m->u.hello.boot_id);
		break;
	case MC_MSG_HEARTBEAT:
		put_u64(&w, m->u.hb.seq);
		put_u64(&w, m->u.hb.uptime_ms);
		put_u32(&w, m->u.hb.running);
		break;
	case MC_MSG_EXEC:
		put_u32(&w, m->u.exec.argc);
		for (uint32_t i = 0; i < m->u.exec.argc; i++)
			put_str(&w, m->u.exec.argv[i]);
		put_u32(&w, m->u.exec.envc);
		for (uint32_t i = 0; i < m->u.exec.envc; i++)
			put_str(&w, m->u.exec.env[i]);
		put_str(&w, m->u.exec.cwd);
		put_u32(&w, m->u.exec.timeout_ms);
		break;
	case MC_MSG_OUTPUT:
		put_u8(&w, m->u.output.stream);
		put_bytes(&w, m->u.output.data, m->u.output.len);
		break;
	case MC_MSG_EXIT:
		put_u32(&w, (uint32_t)m->u.exit.status);
		put_u32(&w, (uint32_t)m->u.exit.signal);
		put_u8(&w, m->u.exit.timed_out);
		put_u64(&w, m->u.exit.duration_ms);
		break;
	case MC_MSG_SHUTDOWN:
		break;
	case MC_MSG_SIGNAL:
		put_u32(&w, m->u.signal.signal);
		break;
	case MC_MSG_ERROR:
		put_u32(&w, (uint32_t)m->u.error.code);
		put_str(&w, m->u.error.text);
		break;
	}
	*len = (size_t)(w.p - buf);
	return 0;
}

/* ---- decoder ---- */

/* A read cursor: every get_* checks the bytes left before touching them. */
struct rbuf {
	const uint8_t *p;
	size_t left;
};

static bool get_u8(struct rbuf *r, uint8_t *v)
{
	if (r->left < 1)
		return false;
	*v = *r->p++;
	r->left--;
	return true;
}

static bool get_u32(struct rbuf *r, uint32_t *v)
{
	uint32_t x = 0;

	if (r->left < 4)
		return false;
	for (int i = 0; i < 4; i++)
		x |= (uint32_t)r->p[i] << (8 * i);
	r->p += 4;
	r->left -= 4;
	*v = x;
	return true;
}

static bool get_i32(struct rbuf *r, int32_t *v)
{
	uint32_t x;

	if (!get_u32(r, &x))
		return false;
	memcpy(v, &x, sizeof(*v));
	return true;
}

static bool get_u64(struct rbuf *r, uint64_t *v)
{
	uint64_t x = 0;

	if (r->left < 8)
		return false;
	for (int i = 0; i < 8; i++)
		x |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	r->left -= 8;
	*v = x;
	return true;
}

/*
 * Reads a u32 length + bytes of at most max bytes into a fresh buffer with
 * one extra NUL byte. When is_str, the bytes may not contain NUL. Returns 0,
 * MC_PROTO_EINVAL or MC_PROTO_ENOMEM; on failure *out is untouched.
 */
static int get_blob(struct rbuf *r, uint32_t max, bool is_str, uint8_t **out, uint32_t *outlen)
{
	uint32_t n;
	uint8_t *b;

	if (!get_u32(r, &n) || n > max || n > r->left)
		return MC_PROTO_EINVAL;
	if (is_str && n > 0 && memchr(r->p, '\0', n) != NULL)
		return MC_PROTO_EINVAL;
	b = malloc((size_t)n + 1);
	if (b == NULL)
		return MC_PROTO_ENOMEM;
	if (n > 0)
		memcpy(b, r->p, n);
	b[n] = '\0';
	r->p += n;
	r->left -= n;
	*out = b;
	if (outlen != NULL)
		*outlen = n;
	return 0;
}

static int get_str(struct rbuf *r, char **out)
{
	return get_blob(r, MC_PROTO_MAX_STR, true, (uint8_t **)out, NULL);
}

/*
 * Reads count strings into a fresh NULL-terminated array. check_env
 * requires "K=V". On failure frees what it allocated.
 */
static int get_strv(struct rbuf *r, uint32_t count, bool check_env, char ***out)
{
	char **v;
	uint32_t i;
	int rc = 0;

	/* Each string needs at least its 4-byte length: reject absurd counts
	 * before allocating. */
	if ((size_t)count * 4 > r->left)
		return MC_PROTO_EINVAL;
	v = calloc((size_t)count + 1, sizeof(*v));
	if (v == NULL)
		return MC_PROTO_ENOMEM;
	for (i = 0; i < count; i++) {
		rc = get_str(r, &v[i]);
		if (rc < 0)
			break;
		if (check_env && !env_ok(v[i], strlen(v[i]))) {
			rc = MC_PROTO_EINVAL;
			i++;
			break;
		}
	}
	if (rc < 0) {
		for (uint32_t j = 0; j < i; j++)
			free(v[j]);
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

static int decode_body(struct rbuf *r, struct mc_msg *m)
{
	int rc;

	switch (m->type) {
	case MC_MSG_HELLO: {
		struct mc_msg_hello *h = &m->u.hello;

		rc = get_str(r, &h->name);
		if (rc < 0)
			return rc;
		if (h->name[0] == '\0')
			return MC_PROTO_EINVAL;
		if (!get_u32(r, &h->index))
			return MC_PROTO_EINVAL;
		rc = get_str(r, &h->kernel);
		if (rc < 0)
			return rc;
		if (!get_u64(r, &h->uptime_ms) || !get_u32(r, &h->boot_id))
			return MC_PROTO_EINVAL;
		return 0;
	}
	case MC_MSG_HEARTBEAT:
		if (!get_u64(r, &m->u.hb.seq) || !get_u64(r, &m->u.hb.uptime_ms) ||
		    !get_u32(r, &m->u.hb.running))
			return MC_PROTO_EINVAL;
		return 0;
	case MC_MSG_EXEC: {
		struct mc_msg_exec *e = &m->u.exec;
		uint32_t argc, envc;

		if (!get_u32(r, &argc) || argc < 1 || argc > MC_PROTO_MAX_ARGV)
			return MC_PROTO_EINVAL;
		rc = get_strv(r, argc, false, &e->argv);
		if (rc < 0)
			return rc;
		e->argc = argc;
		if (e->argv[0][0] == '\0')
			return MC_PROTO_EINVAL;
		if (!get_u32(r, &envc) || envc > MC_PROTO_MAX_ENV)
			return MC_PROTO_EINVAL;
		rc = get_strv(r, envc, true, &e->env);
		if (rc < 0)
			return rc;
		e->envc = envc;
		rc = get_str(r, &e->cwd);
		if (rc < 0)
			return rc;
		if (!get_u32(r, &e->timeout_ms))
			return MC_PROTO_EINVAL;
		return 0;
	}
	case MC_MSG_OUTPUT: {
		struct mc_msg_output *o = &m->u.output;

		if (!get_u8(r, &o->stream))
			return MC_PROTO_EINVAL;
		if (o->stream != MC_STREAM_STDOUT && o->stream != MC_STREAM_STDERR)
			return MC_PROTO_EINVAL;
		return get_blob(r, MC_PROTO_MAX_DATA, false, &o->data, &o->len);
	}
	case MC_MSG_EXIT: {
		struct mc_msg_exit *x = &m->u.exit;

		if (!get_i32(r, &x->status) || !get_i32(r, &x->signal) ||
		    !get_u8(r, &x->timed_out) || !get_u64(r, &x->duration_ms))
			return MC_PROTO_EINVAL;
		return exit_ok(x) ? 0 : MC_PROTO_EINVAL;
	}
	case MC_MSG_SHUTDOWN:
		return 0;
	case MC_MSG_SIGNAL:
		if (!get_u32(r, &m->u.signal.signal) || m->u.signal.signal < 1 ||
		    m->u.signal.signal > 64)
			return MC_PROTO_EINVAL;
		return 0;
	case MC_MSG_ERROR:
		if (!get_i32(r, &m->u.error.code) || m->u.error.code <= 0)
			return MC_PROTO_EINVAL;
		return get_str(r, &m->u.error.text);
	}
	return MC_PROTO_EINVAL;
}

int mc_proto_decode(const uint8_t *buf, size_t len, struct mc_msg *m)
{
	struct rbuf r;
	uint8_t version, type;
	uint32_t id, body_len;
	int rc;

	if (m == NULL)
		return MC_PROTO_EINVAL;
	memset(m, 0, sizeof(*m));
	if (buf == NULL || len < MC_PROTO_HDR_LEN || len > MC_PROTO_MAX_MSG)
		return MC_PROTO_EINVAL;

	r.p = buf;
	r.left = len;
	if (buf[0] != 'M' || buf[1] != 'C')
		return MC_PROTO_EINVAL;
	r.p += 2;
	r.left -= 2;
	if (!get_u8(&r, &version) || !get_u8(&r, &type) || !get_u32(&r, &id) ||
	    !get_u32(&r, &body_len))
		return MC_PROTO_EINVAL;
	if (version != MC_PROTO_VERSION || !type_valid(type))
		return MC_PROTO_EINVAL;
	if (!type_has_id(type) && id != 0)
		return MC_PROTO_EINVAL;
	if (body_len != r.left)
		return MC_PROTO_EINVAL;

	m->type = type;
	m->id = id;
	rc = decode_body(&r, m);
	if (rc == 0 && r.left != 0)
		rc = MC_PROTO_EINVAL;
	if (rc < 0) {
		mc_msg_fini(m);
		return rc;
	}
	return 0;
}

static void free_strv(char **v, uint32_t n)
{
	if (v == NULL)
		return;
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void mc_msg_fini(struct mc_msg *m)
{
	if (m == NULL)
		return;
	switch (m->type) {
	case MC_MSG_HELLO:
		free(m->u.hello.name);
		free(m->u.hello.kernel);
		break;
	case MC_MSG_EXEC:
		free_strv(m->u.exec.argv, m->u.exec.argc);
		free_strv(m->u.exec.env, m->u.exec.envc);
		free(m->u.exec.cwd);
		break;
	case MC_MSG_OUTPUT:
		free(m->u.output.data);
		break;
	case MC_MSG_ERROR:
		free(m->u.error.text);
		break;
	default:
		break;
	}
	memset(m, 0, sizeof(*m));
}

const char *mc_proto_type_name(uint8_t type)
{
	static const char *const names[] = {
	        [MC_MSG_HELLO] = "HELLO", [MC_MSG_HEARTBEAT] = "HEARTBEAT",
	        [MC_MSG_EXEC] = "EXEC",   [MC_MSG_OUTPUT] = "OUTPUT",
	        [MC_MSG_EXIT] = "EXIT",   [MC_MSG_SHUTDOWN] = "SHUTDOWN",
	        [MC_MSG_ERROR] = "ERROR", [MC_MSG_SIGNAL] = "SIGNAL",
	};

	if (!type_valid(type))
		return "?";
	return names[type];
}
