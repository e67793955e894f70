/* topology.h — topology classes: which emulated link each pair of guests gets. */
#ifndef MC_TOPOLOGY_H
#define MC_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "netem.h"

/*
 * A topology says, for every ordered pair of guests, which struct mc_link a
 * packet between them crosses. Emulation sits on the egress of each guest's
 * tap (towards the guest, harness/netem.h), so the link of the pair A -> B is
 * chosen on B's tap by A's source address, and a packet crosses exactly one
 * netem: every latency here is the ONE-WAY latency between two guests, and a
 * ping between them shows RTT = 2 x latency (plus the guests' own time).
 *
 *   flat       every pair gets `link`.
 *   fat-tree   two levels: guests are grouped into racks of rack_size consecutive
 *              indices (guest i is in rack i / rack_size; the last rack may be
 *              smaller), or of explicit first indices (rack_starts "0,40,80").
 *   hosts      a fat-tree whose racks are the hosts of a cluster across hosts
 *              (docs/hosts.md): intra is within a host, inter across hosts. The
 *              harness fills rack_starts from the placement (mc_hosts_rack_starts). A pair in one
 * rack gets intra, a pair across racks gets inter. `link` is the base of both: a field set in intra
 * or inter overrides it. The inter-rack bandwidth is divided by the oversubscription factor o:
 * inter.bandwidth / o, or, when inter.bandwidth is not set, intra's bandwidth / o.
 *
 * Traffic from the controller (MC_NET_CTL_ADDR) is never emulated: the
 * harness's own control link (agent messages, heartbeats) must not suffer
 * the experiment's loss or delay.
 *
 * Limits of the model: bandwidth is enforced per destination and per class,
 * so intra- and inter-rack traffic into one guest each get their full share
 * (they do not compete for one downlink), and nothing limits a sender's
 * uplink or a rack's shared uplinks: o scales each inter-rack flow, it does
 * not model contention between racks.
 */

#define MC_TOPOLOGY_MAX_RACKS 64 /* explicit racks (rack_starts): one per host at most */

enum mc_topology_kind {
	MC_TOPOLOGY_FLAT = 0,
	MC_TOPOLOGY_FAT_TREE,
};

/* Embedded struct: mc_topology_init() before use; owns nothing (no _fini). */
struct mc_topology {
	enum mc_topology_kind kind;
	struct mc_link link;  /* every pair (flat); the base of intra and inter (fat-tree) */
	struct mc_link intra; /* fat-tree: inside a rack; only the fields in intra_set count */
	struct mc_link inter; /* fat-tree: across racks, before oversubscription; inter_set */
	unsigned intra_set;   /* MC_LINK_F_ bits given for intra */
	unsigned inter_set;   /* MC_LINK_F_ bits given for inter */
	unsigned rack_size;   /* fat-tree: guests per rack, >= 1; 0 = not set */
	double oversub;       /* fat-tree: oversubscription factor, >= 1 */
	int by_hosts;         /* kind "hosts": a fat-tree whose racks are the cluster's hosts */
	unsigned nracks;      /* explicit racks (rack_starts), 0 = none: rack_size applies */
	unsigned rack_start[MC_TOPOLOGY_MAX_RACKS]; /* first guest index of each, increasing */
};

/* Flat, no emulation, oversubscription 1, rack size not set. */
void mc_topology_init(struct mc_topology *t);

/*
 * Sets one field from a "key: value" pair, in any order (the experiment
 * parser's network settings and CLI options call it). Keys, each also
 * accepted with a "topology." prefix except the link keys:
 *   kind               flat | fat-tree | hosts
 *   rack_size          guests per rack, 1..65534
 *   rack_starts        explicit racks: their first guest indices, "0,40,80" (from 0,
 *                      increasing, at most 64)
 *   oversubscription   a number 1..1024, or "4:1"
 *   intra.KEY, inter.KEY
 *                      a link key of mc_link_parse_kv() for that level
 *   KEY, link.KEY      a link key for `link`
 * Returns 0; -ENOENT for an unknown key; -EINVAL for a bad value. On error
 * writes a one-line reason naming the key and the value into err.
 */
int mc_topology_set(struct mc_topology *t, const char *key, const char *value, char *err,
                    size_t errlen);

/* Checks the whole: fat-tree needs rack_size; intra/inter are for fat-tree only; each
 * resolved link passes mc_link_check(). Returns 0 or -EINVAL with a message in err. */
int mc_topology_check(const struct mc_topology *t, char *err, size_t errlen);

/* The links in force: for flat, both are `link`; for fat-tree, intra and inter
 * resolved as described above (base, overrides, oversubscription). */
void mc_topology_links(const struct mc_topology *t, struct mc_link *intra, struct mc_link *inter);

/* Formats the resolved topology for logs: "fat-tree rack_size 32 oversubscription 4
 * intra [latency 50us bandwidth 10Gbit] inter [latency 200us bandwidth 2.5Gbit]" or
 * "flat [latency 1ms]". Returns buf. */
char *mc_topology_format(const struct mc_topology *t, char *buf, size_t len);

/*
 * What to configure on one guest's tap: pass dflt and classes[0..nclasses)
 * to mc_netem_apply(). Embedded struct: _init, reuse across guests (the
 * address buffer grows to one rack and is kept), _fini. Owns src.
 */
struct mc_topology_plan {
	struct mc_link dflt;              /* traffic from guests of other racks (flat: all) */
	struct mc_netem_class classes[2]; /* [0] controller: off; [1] same rack: intra */
	size_t nclasses;                  /* 1 (flat, or a rack of one) or 2 */
	uint32_t *src;                    /* owned: addresses of classes, network order */
	size_t src_cap;                   /* entries allocated in src */
};

void mc_topology_plan_init(struct mc_topology_plan *p);
void mc_topology_plan_fini(struct mc_topology_plan *p);

/*
 * Fills p for the tap of guest i of n (0 <= i < n <= MC_NET_MAX_GUESTS): guest j
 * has address mc_net_guest_addr(j). The same-rack class lists every guest of
 * i's rack, i included (its own address never arrives on its tap; keeping the
 * range whole keeps the filters few), so at most rack_size addresses are
 * held however large n is. When the topology emulates nothing, every link in p
 * is off and mc_netem_apply() removes the tap's qdisc. p's class addresses stay
 * valid until the next call or _fini. Returns 0, -EINVAL (bad i, n or topology,
 * err says why) or -ENOMEM.
 */
int mc_topology_plan(const struct mc_topology *t, unsigned i, unsigned n,
                     struct mc_topology_plan *p, char *err, size_t errlen);

#endif
