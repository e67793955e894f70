/* net.h — the fleet's network: a private network namespace, one routed tap per guest. */
#ifndef MC_NET_H
#define MC_NET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Design: every cluster lives in its own network namespace (nothing reaches
 * the host's own network). Inside it the controller owns MC_NET_CTL_ADDR on
 * lo; each guest has a tap "mct<index>" with proxy ARP and a /32 route to
 * its address, so guests reach the controller and each other through the
 * namespace's routing table (no bridge, so no 1,024-port limit). A tap
 * vanishes when the last descriptor to it closes; the namespace when its
 * last process exits.
 */

#define MC_NET_PREFIX     16
#define MC_NET_CTL_PORT   7070
#define MC_NET_MAX_GUESTS 65000

/* The subnet base (10.77.0.0) in host byte order. */
#define MC_NET_BASE 0x0a4d0000u
/* The controller's address inside the namespace (10.77.0.1). */
#define MC_NET_CTL_ADDR (MC_NET_BASE + 1)

/* Guest index -> its IPv4 address (host byte order). */
static inline uint32_t mc_net_guest_addr(unsigned index)
{
	return MC_NET_BASE + 2 + index;
}

/* Formats a host-order IPv4 address into buf (16 bytes). Returns buf. */
char *mc_net_ntoa(uint32_t addr, char buf[16]);

/* Formats the MAC of guest index into buf (18 bytes). Returns buf. */
char *mc_net_guest_mac(unsigned index, char buf[18]);

/*
 * Moves the calling process into a new network namespace, makes it visible
 * as /run/netns/<name> (best effort: `ip netns exec <name> …` then works),
 * brings lo up with MC_NET_CTL_ADDR and turns on forwarding. Call before
 * any thread is created (ZeroMQ's I/O threads must start inside it).
 * Returns 0 or -errno.
 */
int mc_net_enter_ns(const char *name);

/* Removes /run/netns/<name> (the namespace itself ends with its last
 * process). Safe to call when it does not exist. */
void mc_net_forget_ns(const char *name);

/* Creates tap ifname and brings it up, nothing else (a template's NIC needs
 * a back end but never carries traffic). *fd as for mc_net_tap_open. */
int mc_net_tap_create(const char *ifname, int *fd);

/*
 * Creates tap ifname with the host-side MAC of guest_addr (the same for every
 * tap to that guest), brings it up, turns on proxy ARP and, when route is
 * set, points the /32 route to guest_addr through it. On success *fd is the
 * open tap (caller owns; closing it removes the tap and its route). Returns 0
 * or -errno.
 */
int mc_net_tap_open(const char *ifname, uint32_t guest_addr, int route, int *fd);

/* Points the /32 route to guest_addr at tap ifname (replacing the old one: a
 * migrated guest's traffic follows it). Returns 0 or -errno. */
int mc_net_route_to(const char *ifname, uint32_t guest_addr);

/*
 * Partitions the fleet: traffic between any guest of side a and any guest of
 * side b (host-order addresses) is dropped silently in the fleet namespace
 * (source policy rules to tables of blackhole routes); the controller still
 * reaches both sides. on = 0 removes it. Must run in the fleet namespace.
 * Returns 0 or the first negative errno.
 */
int mc_net_partition(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, int on);

/*
 * Many hosts (a cluster of host daemons, docs/hosts.md): every host's fleet namespace, and the
 * controller's, has a VXLAN device MC_NET_OVERLAY_IF on one overlay subnet (10.76.0.0/16: the
 * controller 10.76.0.1, host k 10.76.0.(k+2)) whose UDP socket stays in the host's own network
 * namespace; a guest on another host is a /32 route via that host's overlay address. Guests
 * keep 10.77.0.1 as their own host's daemon; they reach the controller (mpiexec) at
 * MC_NET_OVERLAY_CTL through their default route.
 */
#define MC_NET_OVERLAY_IF     "mcvx0"
#define MC_NET_OVERLAY_BASE   0x0a4c0000u /* 10.76.0.0 */
#define MC_NET_OVERLAY_PREFIX 16
#define MC_NET_OVERLAY_CTL    (MC_NET_OVERLAY_BASE + 1)
#define MC_NET_VXLAN_PORT     4789 /* host daemons' VXLAN devices */
/* The cluster controller's: a batch job's first node runs both the controller and a host
 * daemon in one namespace, where two devices of one VXLAN number need two ports. */
#define MC_NET_VXLAN_CTL_PORT 4790
#define MC_NET_VXLAN_VNI      7677

/* Host k's overlay address. */
static inline uint32_t mc_net_overlay_host(unsigned k)
{
	return MC_NET_OVERLAY_BASE + 2 + k;
}

/* Creates VXLAN device ifname (network identifier vni, UDP socket on port in the calling
 * thread's namespace, sending from local; its MAC fixed by its overlay address self, no
 * learning) inside the namespace open at fleet_fd. Returns 0 or -errno. */
int mc_net_vxlan_create(const char *ifname, uint32_t vni, uint32_t local, uint16_t port,
                        uint32_t self, int fleet_fd);
/* Gives ifname its overlay address (/16) and brings it up. Returns 0 or -errno. */
int mc_net_overlay_up(const char *ifname, uint32_t addr);
/* Sends ifname's broadcasts (ARP) also to underlay address peer, UDP port port, and frames
 * to the device with overlay address peer_overlay to it. Returns 0 or -errno. */
int mc_net_fdb_peer(const char *ifname, uint32_t peer, uint16_t port, uint32_t peer_overlay);
/* A /32 route to dst via gw on ifname (replacing one there). Returns 0 or -errno. */
int mc_net_route_via(const char *ifname, uint32_t dst, uint32_t gw);
/* The local address the calling thread's namespace would send to dst from. */
int mc_net_source_for(uint32_t dst, uint32_t *src);
/* The name under /run/netns of the calling thread's namespace; -ENOENT when it has none. */
int mc_net_ns_name(char *buf, size_t cap);

#endif
