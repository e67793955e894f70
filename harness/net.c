/* net.c — network namespace, routed taps and their netlink configuration (libmnl). */
#include "net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

char *mc_net_ntoa(uint32_t addr, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
	         addr & 255);
	return buf;
}

char *mc_net_guest_mac(unsigned index, char buf[18])
{
	snprintf(buf, 18, "52:54:00:%02x:%02x:%02x", (index >> 16) & 255, (index >> 8) & 255,
	         index & 255);
	return buf;
}

/* Sends one request and waits for its acknowledgement. */
static int nl_talk(struct nlmsghdr *nlh)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned portid;
	int ret;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	ret = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	ret = mnl_cb_run(buf, (size_t)ret, nlh->nlmsg_seq, portid, NULL, NULL);
	ret = ret < 0 ? -errno : 0;
out:
	mnl_socket_close(nl);
	return ret;
}

static int link_up(unsigned ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	return nl_talk(nlh);
}

static int addr_add(unsigned ifindex, uint32_t addr, int prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	uint32_t a = htonl(addr);

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, a);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, a);
	return nl_talk(nlh);
}

static int route_add(unsigned ifindex, uint32_t dst, int prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = (unsigned char)prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_DST, htonl(dst));
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return nl_talk(nlh);
}

int mc_net_enter_ns(const char *name)
{
	char path[256];
	int fd, err;

	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	/* Best effort: name the namespace like `ip netns add` does. */
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if (mc_mkdir_p("/run/netns", 0755) == 0) {
		fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		if (fd >= 0) {
			close(fd);
			if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0) {
				mc_debug("net: name namespace %s: %s", path, strerror(errno));
				unlink(path);
			}
		}
	}
	err = link_up(1 /* lo */);
	if (!err)
		err = addr_add(1, MC_NET_CTL_ADDR, 32);
	if (!err)
		err = mc_write_string("/proc/sys/net/ipv4/ip_forward", "1");
	return err;
}

void mc_net_forget_ns(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	umount2(path, MNT_DETACH);
	unlink(path);
}

int mc_net_tap_create(const char *ifname, int *out)
{
	struct ifreq ifr;
	unsigned ifindex;
	int fd, err;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		goto fail;
	}
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		err = -errno;
		goto fail;
	}
	err = link_up(ifindex);
	if (err)
		goto fail;
	*out = fd;
	return 0;
fail:
	close(fd);
	return err;
}

/* The host side of every tap to guest_addr has one MAC, derived from the
 * address: a guest's neighbour entries stay right when its tap is replaced
 * (migration). Locally administered, never a guest's 52:54:00 prefix. */
static int tap_set_mac(int fd, uint32_t guest_addr)
{
	struct ifreq ifr;
	unsigned char *a;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	a = (unsigned char *)ifr.ifr_hwaddr.sa_data;
	a[0] = 0x02;
	a[1] = 0x6d;
	a[2] = (unsigned char)(guest_addr >> 24);
	a[3] = (unsigned char)(guest_addr >> 16);
	a[4] = (unsigned char)(guest_addr >> 8);
	a[5] = (unsigned char)guest_addr;
	return ioctl(fd, SIOCSIFHWADDR, &ifr) < 0 ? -errno : 0;
}

int mc_net_tap_open(const char *ifname, uint32_t guest_addr, int route, int *out)
{
	char path[128];
	int fd, err;

	err = mc_net_tap_create(ifname, &fd);
	if (err)
		return err;
	err = tap_set_mac(fd, guest_addr);
	if (err)
		goto fail;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/proxy_arp", ifname);
	err = mc_write_string(path, "1");
	if (err)
		goto fail;
	/* Strict reverse-path filtering: a guest cannot speak for another's address. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", ifname);
	mc_write_string(path, "1");
	if (route && (err = mc_net_route_to(ifname, guest_addr)) < 0)
		goto fail;
	*out = fd;
	return 0;
fail:
	close(fd);
	return err;
}

int mc_net_route_to(const char *ifname, uint32_t guest_addr)
{
	unsigned ifindex = if_nametoindex(ifname);

	if (!ifindex)
		return -errno;
	return route_add(ifindex, guest_addr, 32);
}

/* ---- partitions: policy rules + blackhole routes in the fleet namespace ---- */

#define PART_TABLE_A 201 /* blackholes for side b, looked up for traffic from side a */
#define PART_TABLE_B 202 /* and the other way */
#define PART_PRIO    100 /* before the main table's rule (32766) */

static int part_rule(uint32_t src, unsigned table, int add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET;
	frh->src_len = 32;
	frh->table = (unsigned char)table;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_SRC, htonl(src));
	mnl_attr_put_u32(nlh, FRA_PRIORITY, PART_PRIO);
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	return nl_talk(nlh);
}

static int part_route(uint32_t dst, unsigned table, int add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	rtm->rtm_table = (unsigned char)table;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_BLACKHOLE;
	mnl_attr_put_u32(nlh, RTA_DST, htonl(dst));
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	return nl_talk(nlh);
}

int mc_net_partition(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, int on)
{
	int err = 0, r;

	/* Removal goes on past errors (a rule already gone is fine). */
	for (size_t i = 0; i < nb; i++)
		if ((r = part_route(b[i], PART_TABLE_A, on)) < 0 && (on || r != -ESRCH) && !err)
			err = r;
	for (size_t i = 0; i < na; i++)
		if ((r = part_route(a[i], PART_TABLE_B, on)) < 0 && (on || r != -ESRCH) && !err)
			err = r;
	for (size_t i = 0; i < na; i++)
		if ((r = part_rule(a[i], PART_TABLE_A, on)) < 0 && (on || r != -ENOENT) && !err)
			err = r;
	for (size_t i = 0; i < nb; i++)
		if ((r = part_rule(b[i], PART_TABLE_B, on)) < 0 && (on || r != -ENOENT) && !err)
			err = r;
	return err;
}

/* ---- the overlay between hosts: a VXLAN device in the fleet namespace ---- */

static void overlay_mac(uint32_t a, unsigned char mac[6]);

#define MC_IFLA_VXLAN_LOCALBYPASS 31 /* IFLA_VXLAN_LOCALBYPASS, newer than Debian 12's headers */

int mc_net_vxlan_create(const char *ifname, uint32_t vni, uint32_t local, uint16_t port,
                        uint32_t self, int fleet_fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;
	struct nlattr *info, *data;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	{
		unsigned char mac[6];

		overlay_mac(self, mac);
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	}
	/* The guests' 1500 bytes cross whole: the underlay fragments the outer packets. */
	mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)fleet_fd);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, vni);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_LOCAL, htonl(local));
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(port));
	/* No learning: a learned entry would take this device's port, and the controller's
	 * device has another; every peer's MAC is known instead (mc_net_fdb_peer). */
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
	/* Frames to a device of this host (the controller's and a host daemon's share a
	 * namespace on a batch job's first node) go through the UDP socket like any other:
	 * the kernel's shortcut for them (6.8 and later) delivers none. Older kernels ignore
	 * the attribute. */
	mnl_attr_put_u8(nlh, MC_IFLA_VXLAN_LOCALBYPASS, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_talk(nlh);
}

int mc_net_overlay_up(const char *ifname, uint32_t addr)
{
	unsigned ifindex = if_nametoindex(ifname);
	int err;

	if (!ifindex)
		return -errno;
	if ((err = addr_add(ifindex, addr, MC_NET_OVERLAY_PREFIX)) < 0)
		return err;
	return link_up(ifindex);
}

/* The MAC of the VXLAN device with overlay address a: fixed, so every host can name it. */
static void overlay_mac(uint32_t a, unsigned char mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x76;
	mac[2] = (unsigned char)(a >> 24);
	mac[3] = (unsigned char)(a >> 16);
	mac[4] = (unsigned char)(a >> 8);
	mac[5] = (unsigned char)a;
}

static int fdb_add(unsigned ifindex, const unsigned char mac[6], uint32_t dst, uint16_t port,
                   int append)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *ndm;

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | (append ? NLM_F_APPEND : NLM_F_REPLACE);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_BRIDGE;
	ndm->ndm_ifindex = (int)ifindex;
	ndm->ndm_state = NUD_PERMANENT | NUD_NOARP;
	ndm->ndm_flags = NTF_SELF;
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	mnl_attr_put_u32(nlh, NDA_DST, htonl(dst));
	mnl_attr_put_u16(nlh, NDA_PORT, htons(port));
	return nl_talk(nlh);
}

int mc_net_fdb_peer(const char *ifname, uint32_t peer, uint16_t port, uint32_t peer_overlay)
{
	static const unsigned char zero[6];
	unsigned char mac[6];
	unsigned ifindex = if_nametoindex(ifname);
	int err;

	if (!ifindex)
		return -errno;
	/* Broadcasts (ARP) go to every peer; frames to the peer's own device go to it alone. */
	if ((err = fdb_add(ifindex, zero, peer, port, 1)) < 0)
		return err;
	overlay_mac(peer_overlay, mac);
	return fdb_add(ifindex, mac, peer, port, 0);
}

int mc_net_route_via(const char *ifname, uint32_t dst, uint32_t gw)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	unsigned ifindex = if_nametoindex(ifname);
	struct rtmsg *rtm;

	if (!ifindex)
		return -errno;
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_DST, htonl(dst));
	mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gw));
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return nl_talk(nlh);
}

int mc_net_source_for(uint32_t dst, uint32_t *src)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(dst);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		err = -errno;
	else
		*src = ntohl(a.sin_addr.s_addr);
	close(fd);
	return err;
}

int mc_net_ns_name(char *buf, size_t cap)
{
	struct stat self, st;
	char path[300];
	struct dirent *de;
	DIR *d;
	int found = -ENOENT;

	if (stat("/proc/self/ns/net", &self) < 0)
		return -errno;
	if (!(d = opendir("/run/netns")))
		return -ENOENT;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (stat(path, &st) == 0 && st.st_ino == self.st_ino && st.st_dev == self.st_dev) {
			snprintf(buf, cap, "%s", de->d_name);
			found = 0;
			break;
		}
	}
	closedir(d);
	return found;
}
