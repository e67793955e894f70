/* topology.c — topology classes: flat and two-level fat-tree, as netem classes per guest tap. */
#include "topology.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#define MAX_RACK_SIZE 65534u
#define MAX_OVERSUB   1024.0

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void mc_topology_init(struct mc_topology *t)
{
	memset(t, 0, sizeof(*t));
	t->kind = MC_TOPOLOGY_FLAT;
	t->oversub = 1;
}

static int set_kind(struct mc_topology *t, const char *v, char *err, size_t errlen)
{
	if (!strcmp(v, "flat")) {
		t->kind = MC_TOPOLOGY_FLAT;
		return 0;
	}
	if (!strcmp(v, "fat-tree") || !strcmp(v, "fat_tree") || !strcmp(v, "fattree")) {
		t->kind = MC_TOPOLOGY_FAT_TREE;
		return 0;
	}
	if (!strcmp(v, "hosts")) {
		t->kind = MC_TOPOLOGY_FAT_TREE;
		t->by_hosts = 1;
		return 0;
	}
	set_err(err, errlen, "kind \"%s\": unknown topology kind (flat, fat-tree or hosts)", v);
	return -EINVAL;
}

static int set_rack_size(struct mc_topology *t, const char *v, char *err, size_t errlen)
{
	unsigned long x;
	char *end;

	errno = 0;
	x = isdigit((unsigned char)v[0]) ? strtoul(v, &end, 10) : 0;
	if (!isdigit((unsigned char)v[0]) || errno || *end || x < 1 || x > MAX_RACK_SIZE) {
		set_err(err, errlen, "rack_size \"%s\": expected an integer 1..%u", v,
		        MAX_RACK_SIZE);
		return -EINVAL;
	}
	t->rack_size = (unsigned)x;
	return 0;
}

static int set_rack_starts(struct mc_topology *t, const char *v, char *err, size_t errlen)
{
	unsigned n = 0;
	const char *p = v;

	while (*p) {
		unsigned long x;
		char *end;

		errno = 0;
		x = isdigit((unsigned char)*p) ? strtoul(p, &end, 10) : 0;
		if (!isdigit((unsigned char)*p) || errno || (*end && *end != ',') ||
		    x >= MC_NET_MAX_GUESTS || n >= MC_TOPOLOGY_MAX_RACKS || (n == 0 && x != 0) ||
		    (n > 0 && x <= t->rack_start[n - 1])) {
			set_err(err, errlen,
			        "rack_starts \"%s\": expected the racks' first guest indices, from "
			        "0 and increasing, at most %d (e.g. 0,40,80)",
			        v, MC_TOPOLOGY_MAX_RACKS);
			return -EINVAL;
		}
		t->rack_start[n++] = (unsigned)x;
		p = *end ? end + 1 : end;
	}
	if (!n) {
		set_err(err, errlen, "rack_starts: empty");
		return -EINVAL;
	}
	t->nracks = n;
	return 0;
}

static int set_oversub(struct mc_topology *t, const char *v, char *err, size_t errlen)
{
	char *end;
	double x;

	errno = 0;
	x = isdigit((unsigned char)v[0]) ? strtod(v, &end) : 0;
	if (isdigit((unsigned char)v[0]) && !errno && !strcmp(end, ":1"))
		end += 2;
	if (!isdigit((unsigned char)v[0]) || errno || *end || !isfinite(x) || x < 1 ||
	    x > MAX_OVERSUB) {
		set_err(err, errlen,
		        "oversubscription \"%s\": expected a number 1..1024 (4 or 4:1 means "
		        "inter-rack bandwidth / 4)",
		        v);
		return -EINVAL;
	}
	t->oversub = x;
	return 0;
}

int mc_topology_set(struct mc_topology *t, const char *key, const char *value, char *err,
                    size_t errlen)
{
	const char *k = key, *v = value ? value : "";
	int rc;

	if (!strncmp(k, "topology.", 9))
		k += 9;
	if (!strcmp(k, "kind"))
		return set_kind(t, v, err, errlen);
	if (!strcmp(k, "rack_size"))
		return set_rack_size(t, v, err, errlen);
	if (!strcmp(k, "rack_starts"))
		return set_rack_starts(t, v, err, errlen);
	if (!strcmp(k, "oversubscription"))
		return set_oversub(t, v, err, errlen);
	if (!strncmp(k, "intra.", 6)) {
		rc = mc_link_parse_kv(&t->intra, k + 6, v, err, errlen);
		if (!rc)
			t->intra_set |= mc_link_key_field(k + 6);
		return rc;
	}
	if (!strncmp(k, "inter.", 6)) {
		rc = mc_link_parse_kv(&t->inter, k + 6, v, err, errlen);
		if (!rc)
			t->inter_set |= mc_link_key_field(k + 6);
		return rc;
	}
	if (k == key) { /* link keys go without the "topology." prefix */
		if (!strncmp(k, "link.", 5))
			k += 5;
		if (mc_link_key_field(k))
			return mc_link_parse_kv(&t->link, k, v, err, errlen);
	}
	set_err(err, errlen,
	        "unknown topology key \"%s\" (kind, rack_size, rack_starts, oversubscription, "
	        "intra.*, inter.*, "
	        "or a link key: latency, jitter, loss, duplicate, corrupt, reorder, bandwidth, "
	        "limit)",
	        key);
	return -ENOENT;
}

void mc_topology_links(const struct mc_topology *t, struct mc_link *intra, struct mc_link *inter)
{
	uint64_t base;

	*intra = t->link;
	*inter = t->link;
	if (t->kind != MC_TOPOLOGY_FAT_TREE)
		return;
	mc_link_merge(intra, &t->intra, t->intra_set);
	mc_link_merge(inter, &t->inter, t->inter_set);
	base = (t->inter_set & MC_LINK_F_RATE) ? t->inter.rate_bps : intra->rate_bps;
	inter->rate_bps = 0;
	if (base) {
		double r = round((double)base / (t->oversub >= 1 ? t->oversub : 1));

		inter->rate_bps = r < 8 ? 8 : (uint64_t)r;
	}
}

int mc_topology_check(const struct mc_topology *t, char *err, size_t errlen)
{
	struct mc_link intra, inter;
	char why[192];

	if (t->kind == MC_TOPOLOGY_FLAT) {
		if (t->intra_set || t->inter_set) {
			set_err(err, errlen,
			        "intra.* and inter.* are for kind fat-tree (this topology is "
			        "flat)");
			return -EINVAL;
		}
		if (mc_link_check(&t->link, why, sizeof(why))) {
			set_err(err, errlen, "link: %s", why);
			return -EINVAL;
		}
		return 0;
	}
	if (t->kind != MC_TOPOLOGY_FAT_TREE) {
		set_err(err, errlen, "unknown topology kind %d", (int)t->kind);
		return -EINVAL;
	}
	if (!t->rack_size && !t->nracks && !t->by_hosts) {
		set_err(err, errlen, "fat-tree needs rack_size (guests per rack)");
		return -EINVAL;
	}
	if (!(t->oversub >= 1 && t->oversub <= MAX_OVERSUB)) {
		set_err(err, errlen, "oversubscription %g outside 1..1024", t->oversub);
		return -EINVAL;
	}
	mc_topology_links(t, &intra, &inter);
	if (mc_link_check(&intra, why, sizeof(why))) {
		set_err(err, errlen, "intra: %s", why);
		return -EINVAL;
	}
	if (mc_link_check(&inter, why, sizeof(why))) {
		set_err(err, errlen, "inter: %s", why);
		return -EINVAL;
	}
	return 0;
}

char *mc_topology_format(const struct mc_topology *t, char *buf, size_t len)
{
	struct mc_link intra, inter;
	char a[256], b[256];

	mc_topology_links(t, &intra, &inter);
	if (t->kind == MC_TOPOLOGY_FAT_TREE && (t->by_hosts || t->nracks))
		snprintf(buf, len, "%s (%u racks) oversubscription %g intra [%s] inter [%s]",
		         t->by_hosts ? "hosts" : "fat-tree", t->nracks ? t->nracks : 1, t->oversub,
		         mc_link_format(&intra, a, sizeof(a)),
		         mc_link_format(&inter, b, sizeof(b)));
	else if (t->kind == MC_TOPOLOGY_FAT_TREE)
		snprintf(buf, len,
		         "fat-tree rack_size %u oversubscription %g intra [%s] inter [%s]",
		         t->rack_size, t->oversub, mc_link_format(&intra, a, sizeof(a)),
		         mc_link_format(&inter, b, sizeof(b)));
	else
		snprintf(buf, len, "flat [%s]", mc_link_format(&intra, a, sizeof(a)));
	return buf;
}

void mc_topology_plan_init(struct mc_topology_plan *p)
{
	memset(p, 0, sizeof(*p));
}

void mc_topology_plan_fini(struct mc_topology_plan *p)
{
	free(p->src);
	memset(p, 0, sizeof(*p));
}

int mc_topology_plan(const struct mc_topology *t, unsigned i, unsigned n,
                     struct mc_topology_plan *p, char *err, size_t errlen)
{
	struct mc_link intra, inter;
	unsigned first, last, j;
	size_t need;
	int rc;

	if (n == 0 || n > MC_NET_MAX_GUESTS || i >= n) {
		set_err(err, errlen, "topology: guest %u of %u: out of range (at most %u guests)",
		        i, n, MC_NET_MAX_GUESTS);
		return -EINVAL;
	}
	rc = mc_topology_check(t, err, errlen);
	if (rc)
		return rc;
	mc_topology_links(t, &intra, &inter);
	if (t->kind == MC_TOPOLOGY_FAT_TREE && t->nracks) {
		unsigned k = 0;

		while (k + 1 < t->nracks && t->rack_start[k + 1] <= i)
			k++;
		first = t->rack_start[k];
		last = k + 1 < t->nracks && t->rack_start[k + 1] - 1 < n - 1
		               ? t->rack_start[k + 1] - 1
		               : n - 1;
	} else if (t->kind == MC_TOPOLOGY_FAT_TREE && t->by_hosts) {
		set_err(err, errlen,
		        "topology: kind hosts: its racks are the cluster's hosts, filled in as "
		        "rack_starts by microcosm net and run");
		return -EINVAL;
	} else if (t->kind == MC_TOPOLOGY_FAT_TREE) {
		first = i / t->rack_size * t->rack_size;
		last = first + t->rack_size - 1 < n - 1 ? first + t->rack_size - 1 : n - 1;
	} else {
		first = last = i; /* no same-rack class */
	}
	need = 2 + (last > first ? last - first + 1 : 0);
	if (need > p->src_cap) {
		uint32_t *s = realloc(p->src, need * sizeof(*s));

		if (!s) {
			set_err(err, errlen, "topology: out of memory");
			return -ENOMEM;
		}
		p->src = s;
		p->src_cap = need;
	}
	memset(p->classes, 0, sizeof(p->classes));
	p->dflt = t->kind == MC_TOPOLOGY_FAT_TREE ? inter : intra;
	/* Class 0: the controller, never emulated (a zero link): the host's own (10.77.0.1) and,
	 * across hosts, the cluster controller where mpiexec runs. */
	p->src[0] = htonl(MC_NET_CTL_ADDR);
	p->src[1] = htonl(MC_NET_OVERLAY_CTL);
	p->classes[0].src = p->src;
	p->classes[0].nsrc = 2;
	p->nclasses = 1;
	if (last > first) {
		for (j = first; j <= last; j++)
			p->src[2 + j - first] = htonl(mc_net_guest_addr(j));
		p->classes[1].link = intra;
		p->classes[1].src = p->src + 2;
		p->classes[1].nsrc = last - first + 1;
		p->nclasses = 2;
	}
	return 0;
}
