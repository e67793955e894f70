/* hosts.c — what the cluster controller and the host daemons share: the overlay's setup in a
 * fleet namespace, the host list on the wire and the placement of guests on hosts. */
#include "hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

uint32_t mc_hosts_vni(const char *cluster)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = cluster; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return 1 + h % 0xfffffeu; /* 24 bits, never 0 */
}

int mc_overlay_setup(void *arg, char *why, size_t whylen)
{
	const struct mc_overlay *o = arg;
	char a[16], b[16];
	int fleet = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), err;

	if (fleet < 0) {
		snprintf(why, whylen, "overlay: fleet namespace: %s", strerror(errno));
		return -1;
	}
	/* The VXLAN device's UDP socket belongs to the namespace it is created from: the
	 * host's own, where the underlay address is. */
	if (setns(o->host_ns_fd, CLONE_NEWNET) < 0) {
		snprintf(why, whylen, "overlay: back to the host's namespace: %s", strerror(errno));
		close(fleet);
		return -1;
	}
	err = mc_net_vxlan_create(MC_NET_OVERLAY_IF, o->vni, o->local,
	                          o->self_host < 0 ? MC_NET_VXLAN_CTL_PORT : MC_NET_VXLAN_PORT,
	                          o->self, fleet);
	if (setns(fleet, CLONE_NEWNET) < 0 && !err)
		err = -errno;
	close(fleet);
	if (err) {
		snprintf(why, whylen, "overlay: vxlan %s (vni %u, local %s): %s", MC_NET_OVERLAY_IF,
		         o->vni, mc_net_ntoa(o->local, a), strerror(-err));
		return -1;
	}
	if ((err = mc_net_overlay_up(MC_NET_OVERLAY_IF, o->self)) < 0) {
		snprintf(why, whylen, "overlay: address %s: %s", mc_net_ntoa(o->self, a),
		         strerror(-err));
		return -1;
	}
	if (o->self_host >= 0 &&
	    (err = mc_net_fdb_peer(MC_NET_OVERLAY_IF, o->ctl_underlay, MC_NET_VXLAN_CTL_PORT,
	                           MC_NET_OVERLAY_CTL)) < 0) {
		snprintf(why, whylen, "overlay: flood to %s: %s", mc_net_ntoa(o->ctl_underlay, a),
		         strerror(-err));
		return -1;
	}
	for (unsigned k = 0; k < o->nhosts; k++) {
		const struct mc_host *h = &o->hosts[k];

		if ((int)k == o->self_host)
			continue;
		if ((err = mc_net_fdb_peer(MC_NET_OVERLAY_IF, h->underlay, MC_NET_VXLAN_PORT,
		                           mc_net_overlay_host(k))) < 0) {
			snprintf(why, whylen, "overlay: flood to host %s (%s): %s", h->name,
			         mc_net_ntoa(h->underlay, a), strerror(-err));
			return -1;
		}
		for (unsigned i = 0; i < h->n; i++) {
			uint32_t dst = mc_net_guest_addr(h->first + i);

			if ((err = mc_net_route_via(MC_NET_OVERLAY_IF, dst,
			                            mc_net_overlay_host(k))) < 0) {
				snprintf(why, whylen, "overlay: route to %s via %s: %s",
				         mc_net_ntoa(dst, a),
				         mc_net_ntoa(mc_net_overlay_host(k), b), strerror(-err));
				return -1;
			}
		}
	}
	return 0;
}

json_t *mc_hosts_json(const struct mc_host *h, unsigned n)
{
	json_t *a = json_array();
	char ip[16];

	for (unsigned k = 0; k < n; k++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i}", "name", h[k].name,
		                                   "underlay", mc_net_ntoa(h[k].underlay, ip),
		                                   "first", (int)h[k].first, "n", (int)h[k].n));
	return a;
}

static int parse_ip(const char *s, uint32_t *out)
{
	unsigned a, b, c, d;
	char extra;

	if (!s || sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4 || a > 255 || b > 255 ||
	    c > 255 || d > 255)
		return -1;
	*out = a << 24 | b << 16 | c << 8 | d;
	return 0;
}

int mc_hosts_from_json(json_t *a, struct mc_host *h, unsigned *n)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) > MC_HOSTS_MAX)
		return -1;
	json_array_foreach(a, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		json_int_t first = json_integer_value(json_object_get(v, "first"));
		json_int_t cnt = json_integer_value(json_object_get(v, "n"));

		if (!name || strlen(name) >= sizeof(h[i].name) ||
		    parse_ip(json_string_value(json_object_get(v, "underlay")), &h[i].underlay) ||
		    first < 0 || cnt < 0 || first + cnt > MC_NET_MAX_GUESTS)
			return -1;
		snprintf(h[i].name, sizeof(h[i].name), "%s", name);
		h[i].first = (unsigned)first;
		h[i].n = (unsigned)cnt;
	}
	*n = (unsigned)json_array_size(a);
	return 0;
}

int mc_hosts_place(struct mc_host *h, const unsigned *cap, unsigned nhosts, unsigned n)
{
	unsigned left = n, open = 0, first = 0;
	unsigned long long total = 0;

	for (unsigned k = 0; k < nhosts; k++) {
		total += cap[k];
		h[k].n = 0;
	}
	if (total < n)
		return -1;
	/* Water-filling: every round gives each host with room an equal share of what is left
	 * (the first ones one more), no host past its capacity. */
	while (left > 0) {
		unsigned share, extra, given = 0;

		open = 0;
		for (unsigned k = 0; k < nhosts; k++)
			open += h[k].n < cap[k];
		share = left / open;
		extra = left % open;
		for (unsigned k = 0; k < nhosts && left > 0; k++) {
			unsigned want, room = cap[k] - h[k].n;

			if (room == 0)
				continue;
			want = share + (extra > 0);
			if (extra > 0)
				extra--;
			if (want > room)
				want = room;
			h[k].n += want;
			left -= want;
			given += want;
		}
		if (!given)
			return -1;
	}
	for (unsigned k = 0; k < nhosts; k++) {
		h[k].first = first;
		first += h[k].n;
	}
	return 0;
}

int mc_hosts_rack_starts(json_t *guests, char *buf, size_t cap)
{
	const char *prev = NULL;
	size_t i, len;
	json_t *g;
	int racks = 0;

	len = (size_t)snprintf(buf, cap, "topology.rack_starts=");
	json_array_foreach(guests, i, g)
	{
		const char *h = json_string_value(json_object_get(g, "host"));
		json_int_t idx = json_integer_value(json_object_get(g, "index"));

		if (i == 0 || (h && (!prev || strcmp(h, prev) != 0))) {
			if (racks == MC_HOSTS_MAX || len >= cap)
				return -1;
			len += (size_t)snprintf(buf + len, cap - len, "%s%lld", racks ? "," : "",
			                        (long long)(i == 0 ? 0 : idx));
			racks++;
		}
		prev = h;
	}
	return len < cap && racks ? racks : -1;
}
