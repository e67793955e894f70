/* netem.h — network emulation on an interface: netem qdiscs by source address, over rtnetlink. */
#ifndef MC_NETEM_H
#define MC_NETEM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Design: emulation is applied on the egress of an interface only (for a
 * guest's tap: towards the guest), so a packet from guest A to guest B
 * crosses exactly one netem, the one on B's tap. A link's latency is
 * therefore one-way: a ping between two guests shows 2 x latency.
 *
 * Without classes the interface's root qdisc is one netem. With classes it is
 *
 *   prio 1: (nclasses + 1 bands, priomap: everything to the last band)
 *     band k, class 1:k+1    netem 1k: (hex, 10: 11: ...)   class k's link
 *     band nclasses          netem 1n:                      the default link
 *   u32 filters at 1: (protocol ip, pref 10) match the IPv4 source address
 *   (offset 12) of each class's addresses and steer them to class 1:k+1.
 *
 * Without classes the root is a netem with handle 2:. These handles are
 * fixed, so applying again changes the existing qdiscs in place.
 *
 * A class's address list is merged into as few CIDR prefixes as cover it
 * exactly (a rack of 32 consecutive guests needs at most 10 filters, often
 * 5). Everything that matches no filter (other sources, ARP, IPv6) takes
 * the default link. Lower bands are dequeued first (prio's strict order);
 * a netem whose head packet is not due yet yields to the next band.
 *
 * Limits of the model: each band shapes its own traffic, so bandwidths of
 * different classes on one interface add up; nothing is emulated on the
 * sender's side (its uplink).
 */

/* The parameters of one emulated link. Every field 0 means "off". */
struct mc_link {
	uint32_t delay_us;  /* added one-way latency, microseconds */
	uint32_t jitter_us; /* uniform random +- variation of the latency, microseconds;
	                       netem sorts by send time, so jitter reorders packets */
	double loss_pct;    /* probability a packet is dropped, percent [0, 100] */
	double dup_pct;     /* probability a packet is duplicated, percent [0, 100] */
	double corrupt_pct; /* probability of a single-bit error in a packet, percent [0, 100] */
	double reorder_pct; /* percent of packets sent at once, ahead of delayed ones (needs
	                       delay_us) */
	uint64_t rate_bps;  /* bandwidth, bits per second (netem's own rate) */
	uint32_t limit;     /* queue length, packets; 0 = automatic (mc_link_limit()) */
};

/* The fields of struct mc_link, as bits (which fields a setting touched). */
#define MC_LINK_F_DELAY   (1u << 0)
#define MC_LINK_F_JITTER  (1u << 1)
#define MC_LINK_F_LOSS    (1u << 2)
#define MC_LINK_F_DUP     (1u << 3)
#define MC_LINK_F_CORRUPT (1u << 4)
#define MC_LINK_F_REORDER (1u << 5)
#define MC_LINK_F_RATE    (1u << 6)
#define MC_LINK_F_LIMIT   (1u << 7)
#define MC_LINK_F_ALL     0xffu

/* The MC_LINK_F_ bit that key (as for mc_link_parse_kv) sets; 0 for an unknown key. */
unsigned mc_link_key_field(const char *key);

/* Copies the fields of src named by the MC_LINK_F_ bits in fields into dst. */
void mc_link_merge(struct mc_link *dst, const struct mc_link *src, unsigned fields);

/* Whether every impairment of l is off (limit alone does not count). */
int mc_link_is_off(const struct mc_link *l);

/*
 * Sets one field of l from a "key: value" pair, as written in an
 * experiment file or on the command line. Keys and values:
 *   latency, delay     time: "100us", "1.5ms", "2s", "250ns" (rounded to 1 us), <= 60s
 *   jitter             time, as latency
 *   loss, duplicate, corrupt, reorder
 *                      percent: "10%", "0.1%", in [0%, 100%]
 *   bandwidth, rate    bits per second: "1Gbit", "100Mbit", "500kbit", "2.5gbit",
 *                      "64Kibit" (1024-based); or BYTES per second: "10MB/s",
 *                      "1.25GB/s", and tc's "bps", "kbps", "mbps", "gbps", "tbps"
 *                      (any case: "10Mbps" is 10 megabytes/s = 80Mbit, as in tc)
 *   limit              packets (a positive integer)
 * "0", "off" and "none" turn any field off. Returns 0; -ENOENT for an unknown
 * key; -EINVAL for a bad value. On error writes a one-line message naming the
 * key and the value into err (errlen bytes, may be 0).
 */
int mc_link_parse_kv(struct mc_link *l, const char *key, const char *value, char *err,
                     size_t errlen);

/* Checks combinations parse_kv cannot see (jitter or reorder without
 * latency). Returns 0 or -EINVAL with a message in err. */
int mc_link_check(const struct mc_link *l, char *err, size_t errlen);

/*
 * Formats l as "latency 1.5ms jitter 100us loss 0.1% duplicate 1% corrupt
 * 0.5% reorder 25% bandwidth 10Gbit limit 5000" (fields that are off are
 * left out; all off gives "none"). The output parses back with
 * mc_link_parse_kv, pair by pair. Returns buf.
 */
char *mc_link_format(const struct mc_link *l, char *buf, size_t len);

/*
 * The queue limit applied for l, in packets: l->limit if set, otherwise
 * 1000 plus the packets in flight at the link's bandwidth (1 Gbit/s when
 * unset) during latency + jitter, counted at 1500 bytes, so a delayed pipe
 * running at full rate does not drop (20 ms at 10 Gbit/s: 17667).
 */
uint32_t mc_link_limit(const struct mc_link *l);

/* One class of traffic: packets whose IPv4 source is one of src get link. */
struct mc_netem_class {
	struct mc_link link;
	const uint32_t *src; /* IPv4 addresses, network byte order; borrowed for the call */
	size_t nsrc;
};

/* At most this many classes (prio has 16 bands, one is the default). */
#define MC_NETEM_MAX_CLASSES 15

/* An rtnetlink socket for traffic control (opaque). Not thread-safe. */
struct mc_netem;

/*
 * Opens the NETLINK_ROUTE socket used by every later call and reads the
 * packet scheduler's clock (/proc/net/psched). The socket stays bound to
 * the network namespace the caller is in now: call after entering the
 * cluster's namespace. Returns the object (caller owns; free with
 * mc_netem_destroy()) or NULL with a message in err.
 */
struct mc_netem *mc_netem_new(char *err, size_t errlen);

/*
 * Whether classes match the packets' destination address instead of their
 * source (the default). Emulation applied inside a guest, on its own egress,
 * classifies by destination: the packet A -> B still crosses one netem, A's.
 */
void mc_netem_match_dst(struct mc_netem *nl, int on);

/* Closes the socket and frees *nl; accepts NULL and nulls the caller's pointer. */
void mc_netem_destroy(struct mc_netem **nl);

/*
 * Makes the egress emulation of interface ifindex (in nl's namespace)
 * exactly dflt plus classes, replacing whatever the root qdisc was:
 * nclasses == 0 gives a root netem (handle 2:), otherwise the prio tree
 * described at the top of this file. Applying over an existing
 * configuration changes the qdiscs in place (queued packets are kept); only
 * the filters are rebuilt, during which a few packets may take the default
 * link. If dflt and every class are off, the root qdisc is removed instead
 * (mc_netem_clear()). classes may be NULL when nclasses is 0; an address may
 * appear in one class only. Latency and jitter are converted to scheduler
 * ticks (/proc/net/psched: 64 ns) and truncated, exactly as tc does, so `tc
 * qdisc show` prints what tc itself would have set. Arguments are checked
 * before anything changes; a step the kernel refuses leaves the interface
 * half-configured (mc_netem_clear() resets it). Returns 0; -EINVAL for bad
 * arguments; or the kernel's -errno. On error err says which step failed and
 * why, with the kernel's own message when it gives one ("mct3 (ifindex 7):
 * set netem qdisc 2: at root: Specified qdisc kind is unknown (No such file or
 * directory); ..."). Blocks until the kernel answers (at most 5 s a step).
 */
int mc_netem_apply(struct mc_netem *nl, int ifindex, const struct mc_link *dflt,
                   const struct mc_netem_class *classes, size_t nclasses, char *err, size_t errlen);

/* Removes the root qdisc of ifindex (and with it every netem and filter
 * below), restoring the device's default. Nothing to remove is not an
 * error. Returns 0 or -errno with a message in err. */
int mc_netem_clear(struct mc_netem *nl, int ifindex, char *err, size_t errlen);

#endif
