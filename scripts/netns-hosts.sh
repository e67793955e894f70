#!/usr/bin/env bash
# scripts/netns-hosts.sh — emulated hosts on one machine for a cluster across many hosts
# (docs/hosts.md): each host is a network namespace with its own address on a veth link to
# a bridge in this namespace, where the cluster controller runs. Run as root.
#   scripts/netns-hosts.sh up NAME N [SUBNET] [--slurm]
#                     hosts NAME-1 .. NAME-N on SUBNET.0/24 (default 192.168.150); prints a
#                     Hydra host file's path and the address to --listen on. --slurm also
#                     starts a real Slurm: munged and slurmctld here, one slurmd per host
#                     (node NAME-k, inside its namespace); prints a third word, the
#                     SLURM_CONF to export for salloc/srun
#   scripts/netns-hosts.sh down NAME
#                     stops its Slurm and removes the hosts (and what a killed host daemon
#                     left: its fleet namespaces)
#   scripts/netns-hosts.sh exec HOST CMD...
#                     CMD in HOST's network namespace (Hydra's -launcher-exec)
# Then: microcosm up -n 6 --hosts FILE --launcher-exec scripts/netns-hosts.sh --listen ADDR,
# or: SLURM_CONF=… salloc -N 3 microcosm run FILE.yaml
# (Hydra calls the launcher as `netns-hosts.sh HOST COMMAND...`, so exec is implied).
set -euo pipefail

state=/run/microcosm-netns-hosts
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }

# Slurm for hosts NAME-1..N: config, key, state and logs under $state/NAME/slurm.
slurm_up() {
	local name=$1 n=$2 subnet=$3 d="$state/$1/slurm" i
	mkdir -p "$d"/{etc,state,log,run,munge} "$d"/spool
	chmod 700 "$d/munge"
	chmod 755 "$d/run"
	mungekey --create --keyfile="$d/munge/munge.key" 2>/dev/null ||
		dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
	chmod 400 "$d/munge/munge.key"
	local port=$((16800 + ${subnet##*.} % 100 * 10))
	cat >"$d/etc/slurm.conf" <<CONF
ClusterName=$name
SlurmctldHost=localhost($subnet.1)
SlurmctldPort=$port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/run/munge.socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
PropagatePrioProcess=1
MailProg=/bin/true
PartitionName=hosts Nodes=$name-[1-$n] Default=YES MaxTime=INFINITE State=UP
CONF
	for i in $(seq 1 "$n"); do
		echo "NodeName=$name-$i NodeHostname=localhost NodeAddr=$subnet.$((10 + i)) Port=$((port + 3)) CPUs=1 RealMemory=100 State=UNKNOWN" >>"$d/etc/slurm.conf"
		mkdir -p "$d/spool/$name-$i"
	done
	munged --key-file="$d/munge/munge.key" --socket="$d/run/munge.socket" \
		--pid-file="$d/run/munged.pid" --log-file="$d/log/munged.log" \
		--seed-file="$d/munge/munged.seed"
	export SLURM_CONF="$d/etc/slurm.conf"
	slurmctld -f "$SLURM_CONF"
	for i in $(seq 1 "$n"); do # each node daemon inside its host: jobs run there
		nsenter --net="/run/netns/$name-$i" slurmd -f "$SLURM_CONF" -N "$name-$i"
	done
	for i in $(seq 100); do
		[ "$(sinfo -h -o '%T %D' 2>/dev/null)" = "idle $n" ] && return 0
		sleep 0.1
	done
	echo "netns-hosts: slurm: the $n nodes are not idle after 10 s:" >&2
	sinfo >&2 || true
	return 1
}

slurm_down() {
	local d="$state/$1/slurm" f p
	[ -d "$d/run" ] || return 0
	for f in "$d"/run/slurmd-*.pid "$d/run/slurmctld.pid" "$d/run/munged.pid"; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		kill "$p" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
}

case "${1:-}" in
up)
	name="${2:?usage: up NAME N [SUBNET] [--slurm]}" n="${3:?usage: up NAME N [SUBNET] [--slurm]}"
	subnet=192.168.150 slurm=0
	for a in "${@:4}"; do
		case "$a" in
		--slurm) slurm=1 ;;
		*) subnet="$a" ;;
		esac
	done
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
	if [ "$slurm" = 1 ]; then
		slurm_up "$name" "$n" "$subnet" || { slurm_down "$name"; exit 1; }
		echo "$state/$name/hosts $subnet.1 $state/$name/slurm/etc/slurm.conf"
	else
		echo "$state/$name/hosts $subnet.1"
	fi
	;;
down)
	name="${2:?usage: down NAME}"
	slurm_down "$name"
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
	[ "$h" = localhost ] && exec sh -c "$*" # this machine itself, as a host too
	exec nsenter --net="/run/netns/$h" sh -c "$*"
	;;
esac
