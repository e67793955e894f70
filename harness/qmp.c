/* qmp.c — asynchronous QMP client: line framing, capability negotiation, id-matched replies. */
#include "qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct qmp_pending {
	struct qmp_pending *next;
	long id;
	mc_qmp_reply_cb cb;
	void *arg;
};

struct qmp_cmd {
	struct qmp_cmd *next;
	char *line; /* serialized command + "\n" */
};

struct mc_qmp {
	int fd;
	int state; /* 0 = awaiting greeting, 1 = capabilities sent, 2 = ready, 3 = dead */
	long next_id;
	mc_qmp_event_cb on_event;
	void *arg;
	char *in; /* partial input line */
	size_t in_len, in_cap;
	char *out; /* bytes accepted for writing, not yet written */
	size_t out_len, out_cap;
	struct qmp_cmd *queued, **queued_tail; /* held until negotiation ends */
	struct qmp_pending *pending;
};

struct mc_qmp *mc_qmp_new(int fd, mc_qmp_event_cb on_event, void *arg)
{
	struct mc_qmp *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->fd = fd;
	q->next_id = 1;
	q->on_event = on_event;
	q->arg = arg;
	q->queued_tail = &q->queued;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return q;
}

int mc_qmp_fd(const struct mc_qmp *q)
{
	return q->fd;
}

int mc_qmp_ready(const struct mc_qmp *q)
{
	return q->state == 2;
}

int mc_qmp_want_write(const struct mc_qmp *q)
{
	return q->out_len > 0;
}

int mc_qmp_flush(struct mc_qmp *q)
{
	while (q->out_len > 0) {
		ssize_t n = write(q->fd, q->out, q->out_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -EPIPE;
		}
		memmove(q->out, q->out + n, q->out_len - (size_t)n);
		q->out_len -= (size_t)n;
	}
	return 0;
}

static int out_append(struct mc_qmp *q, const char *s)
{
	size_t n = strlen(s);

	if (q->out_len + n > q->out_cap) {
		size_t cap = q->out_cap ? q->out_cap : 1024;
		char *nb;

		while (cap < q->out_len + n)
			cap *= 2;
		nb = realloc(q->out, cap);
		if (!nb)
			return -ENOMEM;
		q->out = nb;
		q->out_cap = cap;
	}
	memcpy(q->out + q->out_len, s, n);
	q->out_len += n;
	return mc_qmp_flush(q);
}

/* Serializes {"execute":cmd,"arguments":args,"id":id}; takes args. */
static char *build_line(const char *cmd, json_t *args, long id)
{
	json_t *o = json_object();
	char *s, *line;
	size_t n;

	if (!o) {
		json_decref(args);
		return NULL;
	}
	json_object_set_new(o, "execute", json_string(cmd));
	if (args)
		json_object_set_new(o, "arguments", args);
	json_object_set_new(o, "id", json_integer(id));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return NULL;
	n = strlen(s);
	line = malloc(n + 2);
	if (line) {
		memcpy(line, s, n);
		line[n] = '\n';
		line[n + 1] = '\0';
	}
	free(s);
	return line;
}

static int add_pending(struct mc_qmp *q, long id, mc_qmp_reply_cb cb, void *cbarg)
{
	struct qmp_pending *p = calloc(1, sizeof(*p)), **tail;

	if (!p)
		return -ENOMEM;
	p->id = id;
	p->cb = cb;
	p->arg = cbarg;
	for (tail = &q->pending; *tail; tail = &(*tail)->next)
		;
	*tail = p;
	return 0;
}

int mc_qmp_send(struct mc_qmp *q, const char *cmd, json_t *args, mc_qmp_reply_cb cb, void *cbarg)
{
	long id;
	char *line;
	int err;

	if (q->state == 3) {
		json_decref(args);
		return -EPIPE;
	}
	id = q->next_id++;
	line = build_line(cmd, args, id);
	if (!line)
		return -ENOMEM;
	err = add_pending(q, id, cb, cbarg);
	if (err) {
		free(line);
		return err;
	}
	if (q->state != 2) {
		struct qmp_cmd *c = calloc(1, sizeof(*c));

		if (!c) {
			free(line);
			return -ENOMEM;
		}
		c->line = line;
		*q->queued_tail = c;
		q->queued_tail = &c->next;
		return 0;
	}
	err = out_append(q, line);
	free(line);
	return err;
}

static void fail_all(struct mc_qmp *q)
{
	struct qmp_pending *p;

	q->state = 3;
	while ((p = q->pending)) {
		q->pending = p->next;
		if (p->cb)
			p->cb(p->arg, NULL, "Disconnected", "qmp connection closed");
		free(p);
	}
	while (q->queued) {
		struct qmp_cmd *c = q->queued;

		q->queued = c->next;
		free(c->line);
		free(c);
	}
	q->queued_tail = &q->queued;
}

static void on_caps_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct mc_qmp *q = arg;

	if (!ret) {
		mc_warn("qmp: qmp_capabilities refused: %s: %s", cls, desc);
		return;
	}
	q->state = 2;
	while (q->queued) {
		struct qmp_cmd *c = q->queued;

		q->queued = c->next;
		out_append(q, c->line);
		free(c->line);
		free(c);
	}
	q->queued_tail = &q->queued;
}

static int handle_line(struct mc_qmp *q, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb(line, len, 0, &jerr), *v;
	int err = 0;

	if (!msg || !json_is_object(msg)) {
		mc_warn("qmp: dropping unparsable line: %s", jerr.text);
		json_decref(msg);
		return q->state == 0 ? -EPROTO : 0;
	}
	if (q->state == 0) {
		long id;
		char *caps;

		if (!json_object_get(msg, "QMP")) {
			json_decref(msg);
			return -EPROTO;
		}
		q->state = 1;
		id = q->next_id++;
		caps = build_line("qmp_capabilities", NULL, id);
		/* The capabilities reply goes ahead of every queued command. */
		if (!caps || add_pending(q, id, on_caps_reply, q) < 0) {
			free(caps);
			json_decref(msg);
			return -ENOMEM;
		}
		/* Move this pending entry to the front: it is answered first. */
		{
			struct qmp_pending **pp = &q->pending, *p;

			while ((*pp)->id != id)
				pp = &(*pp)->next;
			p = *pp;
			*pp = p->next;
			p->next = q->pending;
			q->pending = p;
		}
		err = out_append(q, caps);
		free(caps);
	} else if ((v = json_object_get(msg, "event")) && json_is_string(v)) {
		if (q->on_event)
			q->on_event(q->arg, json_string_value(v), json_object_get(msg, "data"));
	} else if ((v = json_object_get(msg, "id")) && json_is_integer(v)) {
		long id = (long)json_integer_value(v);
		struct qmp_pending **pp = &q->pending, *p;

		while (*pp && (*pp)->id != id)
			pp = &(*pp)->next;
		if (!*pp) {
			mc_warn("qmp: reply with unknown id %ld dropped", id);
		} else {
			json_t *ret = json_object_get(msg, "return");
			json_t *e = json_object_get(msg, "error");

			p = *pp;
			*pp = p->next;
			if (p->cb) {
				if (ret)
					p->cb(p->arg, ret, NULL, NULL);
				else
					p->cb(p->arg, NULL,
					      e ? json_string_value(json_object_get(e, "class"))
					        : "GenericError",
					      e ? json_string_value(json_object_get(e, "desc"))
					        : "reply without return or error");
			}
			free(p);
		}
	} else {
		mc_warn("qmp: message without event or known id dropped");
	}
	json_decref(msg);
	return err;
}

int mc_qmp_on_readable(struct mc_qmp *q)
{
	for (;;) {
		ssize_t n;
		size_t start = 0;

		if (q->state == 3)
			return -EPIPE;
		if (q->in_cap - q->in_len < 4096) {
			size_t cap = q->in_cap ? q->in_cap * 2 : 8192;
			char *nb;

			if (cap > MC_QMP_MAX_LINE + 8192) {
				fail_all(q);
				return -EPROTO;
			}
			nb = realloc(q->in, cap);
			if (!nb)
				return -ENOMEM;
			q->in = nb;
			q->in_cap = cap;
		}
		n = read(q->fd, q->in + q->in_len, q->in_cap - q->in_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			fail_all(q);
			return -EPIPE;
		}
		if (n == 0) {
			fail_all(q);
			return -EPIPE;
		}
		q->in_len += (size_t)n;
		for (size_t i = 0; i < q->in_len; i++) {
			int err;

			if (q->in[i] != '\n')
				continue;
			err = handle_line(q, q->in + start, i - start);
			start = i + 1;
			if (err < 0) {
				fail_all(q);
				return err;
			}
		}
		memmove(q->in, q->in + start, q->in_len - start);
		q->in_len -= start;
		if (q->in_len > MC_QMP_MAX_LINE) {
			fail_all(q);
			return -EPROTO;
		}
	}
}

void mc_qmp_destroy(struct mc_qmp **qp)
{
	struct mc_qmp *q;

	if (!qp || !*qp)
		return;
	q = *qp;
	*qp = NULL;
	fail_all(q);
	if (q->fd >= 0)
		close(q->fd);
	free(q->in);
	free(q->out);
	free(q);
}
