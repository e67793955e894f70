#!/usr/bin/env bash
# scripts/netns-hosts.sh — emulated hosts on one machine for a cluster across many hosts
# (docs/hosts.md): each host is a network namespace with its own address on a veth link to
# a bridge in this namespace, where the cluster controller runs. Run as root.
#   scripts/netns-hosts.sh up NAME N [SUBNET]   hosts NAME-1 .. NAME-N on SUBNET.0/24
#                                              (default 192.168.150); prints a Hydra host
#                                              file's path and the address to --listen on
#   scripts/netns-hosts.sh down NAME           removes them (and what a killed host daemon
#                                              left: its fleet namespaces)
#   scripts/netns-hosts.sh exec HOST CMD...    Hydra's -launcher-exec: CMD in HOST's namespace
# Then: microcosm up -n 6 --hosts FILE --launcher-exec scripts/netns-hosts.sh --listen ADDR
# (the launcher is called as `netns-hosts.sh HOST COMMAND...`, so exec is implied).
set -euo pipefail

state=/run/microcosm-netns-hosts
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
up)
	name="${2:?usage: up NAME N [SUBNET]}" n="${3:?usage: up NAME N [SUBNET]}"
	subnet="${4:-192.168.150}"
	[[ "$name" =~ ^[a-z][a-z0-9]{0,8}$ ]] || { echo "netns-hosts: NAME: 1-9 of a-z0-9" >&2; exit 2; }
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 32 ] ||
		{ echo "netns-hosts: N: 1 to 32" >&2; exit 2; }
	[ -e "$state/$name" ] && { echo "netns-hosts: $name exists (down it first)" >&2; exit 1; }
	mkdir -p "$state/$name"
	br="${name}br"
	ip link add "$br" type bridge
	ip addr add "$subnet.1/24" dev "$br"
	ip link set "$br" up
	: >"$state/$name/hosts"
	for i in $(seq 1 "$n"); do
		h="$name-$i"
		ip netns add "$h"
		ip link add "${name}v$i" type veth peer name eth0 netns "$h"
		ip link set "${name}v$i" master "$br" up
		ip -n "$h" addr add "$subnet.$((10 + i))/24" dev eth0
		ip -n "$h" link set eth0 up
		ip -n "$h" link set lo up
		ip -n "$h" route add default via "$subnet.1"
		echo "$h" >>"$state/$name/hosts"
	done
	echo "$subnet.1" >"$state/$name/listen"
	echo "$state/$name/hosts $subnet.1"
	;;
down)
	name="${2:?usage: down NAME}"
	for f in /run/netns/microcosm-*-"$name"-*; do # fleets of killed host daemons
		[ -e "$f" ] && ip netns del "$(basename "$f")" 2>/dev/null || true
	done
	if [ -f "$state/$name/hosts" ]; then
		while read -r h; do ip netns del "$h" 2>/dev/null || true; done <"$state/$name/hosts"
	fi
	ip link del "${name}br" 2>/dev/null || true
	rm -rf "${state:?}/$name"
	;;
exec)
	shift
	h="$1"
	shift
	exec nsenter --net="/run/netns/$h" sh -c "$*"
	;;
-h | --help | "")
	usage
	;;
*)
	# Called by Hydra as its remote shell: HOST COMMAND... Only the network namespace is
	# entered (not `ip netns exec`'s private mount namespace): the namespaces the host
	# daemon names under /run/netns stay visible to the rest of the machine.
	h="$1"
	shift
	exec nsenter --net="/run/netns/$h" sh -c "$*"
	;;
esac
