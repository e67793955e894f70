#!/usr/bin/env bash
# guests/rootfs/build.sh — build (or reuse) the guest root: initramfs + base disk.
#
# Usage: guests/rootfs/build.sh [--print-info] [--force] [--payload DIR] AGENT_BINARY
#
#   Writes, under ${MC_CACHE_DIR:-/var/cache/microcosm}/rootfs/<hash>/:
#     initramfs.cpio.gz  newc+gzip: busybox, the agent as /init (PID 1), the
#                        agent's shared libraries, /etc, and the modules
#                        Debian's cloud kernel needs (loaded by init.sh)
#     base.qcow2         read-only (0444) ext4 base disk, 2 GiB virtual, with
#                        /MICROCOSM_BASE and the guest runtime under
#                        /opt/microcosm/: bin/ (the payload's programs and
#                        MPICH's hydra_pmi_proxy) and lib/ (every shared
#                        library they need). Guests mount it on /data; the
#                        agent puts /data/opt/microcosm/{bin,lib} on PATH and
#                        LD_LIBRARY_PATH.
#     rootfs.info        key=value description of the above
#   <hash> covers this script, the files under guests/rootfs/, the agent and
#   its libraries, busybox and the cloud kernel modules; a run whose inputs
#   did not change does nothing.
#
#   --print-info  print the path of rootfs.info on stdout
#   --force       rebuild even if cached
#   --payload DIR executables to install in the base disk's bin/ (the
#                 workloads: mc-ring, mc-allreduce, …) and *.so libraries for
#                 its lib/ (libmc-mpi-preload.so)
#
# Runs unprivileged (no mounts, no mknod). Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
skel=$here/skel
cache_root=${MC_CACHE_DIR:-/var/cache/microcosm}/rootfs
busybox=${MC_BUSYBOX:-/bin/busybox}
base_version=1                   # bump when the base disk layout changes
base_size=2G                     # virtual size of base.qcow2 (sparse)
# Drivers (and what they need) that Debian's cloud kernel builds as modules.
# virtio_mmio binds the devices, fw_cfg carries the identity; the rest match
# what the project kernel has built in. Missing ones are skipped with a note.
cloud_modules=(virtio_mmio virtio_net virtio_blk virtio_console virtio_rng
	qemu_fw_cfg overlay erofs sch_netem sch_tbf sch_htb sch_ingress
	9pnet_virtio 9p)

export PATH=$PATH:/usr/sbin:/sbin

print_info=0
force=0
agent=
payload=
while (($#)); do
	arg=$1
	shift
	case $arg in
	--print-info) print_info=1 ;;
	--force) force=1 ;;
	--payload)
		(($#)) || { echo "rootfs: --payload needs a directory" >&2; exit 2; }
		payload=$1
		shift
		;;
	-h | --help)
		sed -n '2,30s/^# \{0,1\}//p' "$self"
		exit 0
		;;
	-*)
		echo "rootfs: unknown option: $arg (try --help)" >&2
		exit 2
		;;
	*)
		[[ -z $agent ]] || { echo "rootfs: one AGENT_BINARY only" >&2; exit 2; }
		agent=$arg
		;;
	esac
done

log() { printf 'rootfs: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ -n $agent ]] || die "usage: $0 [--print-info] [--force] AGENT_BINARY"
[[ -f $agent && -x $agent ]] || die "agent binary $agent: not an executable file"
agent=$(readlink -f -- "$agent")
[[ $(head -c4 "$agent" | od -An -c | tr -d ' ') == 177ELF ]] || die "agent binary $agent: not an ELF file"
[[ -x $busybox ]] || die "$busybox missing (install busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamically linked (install busybox-static)"
for tool in cpio gzip mkfs.ext4 debugfs qemu-img; do
	command -v "$tool" >/dev/null || die "$tool not found (packages: cpio gzip e2fsprogs qemu-utils)"
done

# --- Inputs ---------------------------------------------------------------------

# Shared libraries of the agent (its ldd closure, dynamic loader included),
# as absolute paths. A static agent has none.
agent_libs() {
	local out
	out=$(LC_ALL=C ldd "$agent" 2>&1) || {
		[[ $out == *"not a dynamic executable"* || $out == *"statically linked"* ]] && return 0
		die "ldd $agent failed: $out"
	}
	[[ $out != *"not found"* ]] || die "agent libraries missing: $(grep 'not found' <<<"$out" | tr -s '\t ' ' ')"
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out" | sort -u
}
mapfile -t libs < <(agent_libs)

# The guest runtime for the base disk: the payload's executables, MPICH's
# proxy (what Hydra starts on each node) and the shared libraries of all of
# them, the dynamic loader excepted (the initramfs has it).
hydra_proxy=${MC_HYDRA_PROXY:-/usr/bin/hydra_pmi_proxy}
[[ -x $hydra_proxy ]] || die "$hydra_proxy missing (install mpich)"
runtime_bins=("$hydra_proxy")
payload_libs=()
if [[ -n $payload ]]; then
	[[ -d $payload ]] || die "payload $payload: not a directory"
	for f in "$payload"/*; do
		case $f in
		*.so) payload_libs+=("$(readlink -f -- "$f")") ;;
		*) [[ -f $f && -x $f ]] && runtime_bins+=("$(readlink -f -- "$f")") ;;
		esac
	done
fi
runtime_libs() {
	local out f
	for f in "${runtime_bins[@]}" ${payload_libs[@]+"${payload_libs[@]}"}; do
		out=$(LC_ALL=C ldd "$f" 2>&1) || {
			[[ $out == *"not a dynamic executable"* || $out == *"statically linked"* ]] && continue
			die "ldd $f failed: $out"
		}
		[[ $out != *"not found"* ]] || die "libraries of $f missing: $(grep 'not found' <<<"$out" | tr -s '\t ' ' ')"
		awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$out"
	done | sort -u
}
mapfile -t rlibs < <(runtime_libs)
rlibs+=(${payload_libs[@]+"${payload_libs[@]}"})

# Modular cloud kernels present on this host: each /boot/vmlinuz-*-cloud-amd64
# with its /lib/modules tree.
cloud_kernels=()
for img in /boot/vmlinuz-*-cloud-amd64; do
	[[ -e $img ]] || continue
	kver=${img#/boot/vmlinuz-}
	[[ -f /lib/modules/$kver/modules.dep ]] && cloud_kernels+=("$kver")
done

busybox_version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
[[ -n $busybox_version ]] || busybox_version=$("$busybox" 2>&1 | head -n1 | awk '{print $2}')

hash=$({
	printf 'script '
	sha256sum <"$self"
	(cd "$here" && find . -path ./build.sh -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
	(cd "$here" && find . -print0 | LC_ALL=C sort -z | xargs -0r stat -c '%n %a')
	printf 'agent '
	sha256sum <"$agent"
	((${#libs[@]} == 0)) || sha256sum "${libs[@]}"
	printf 'busybox %s ' "$busybox_version"
	sha256sum <"$busybox"
	for kver in ${cloud_kernels[@]+"${cloud_kernels[@]}"}; do
		printf 'kernel %s ' "$kver"
		sha256sum <"/lib/modules/$kver/modules.dep"
	done
	printf 'cloud_modules %s\n' "${cloud_modules[*]}"
	printf 'runtime\n'
	for f in "${runtime_bins[@]}" "${rlibs[@]}"; do
		printf '%s ' "$(basename "$f")"
		sha256sum <"$f"
	done
} | sha256sum | cut -c1-16)
out=$cache_root/$hash

emit() {
	((print_info)) && printf '%s\n' "$out/rootfs.info"
	return 0
}

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
	log "another build holds $cache_root/.lock; waiting…"
	flock 9
fi

if ((!force)) && [[ -f $out/rootfs.info && -f $out/initramfs.cpio.gz && -f $out/base.qcow2 ]]; then
	log "cached $out"
	emit
	exit 0
fi

tmp=
cleanup() {
	local rc=$?
	[[ -n $tmp && -d $tmp ]] && { chmod -R u+w -- "$tmp" 2>/dev/null || true; rm -rf -- "$tmp"; }
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

tmp=$(mktemp -d "$cache_root/.build-$hash.XXXXXX")
stage=$tmp/initramfs
mkdir -p "$tmp/out" "$stage"
t0=$(date +%s)

# --- Initramfs tree ---------------------------------------------------------------

log "staging initramfs (agent $(basename "$agent"), busybox $busybox_version)…"
for d in bin sbin usr/bin usr/sbin etc/microcosm lib data proc sys dev tmp run root var opt; do
	mkdir -p "$stage/$d"
done
chmod 1777 "$stage/tmp"
chmod 0700 "$stage/root"

install -m 0755 "$busybox" "$stage/bin/busybox"
install -m 0755 "$agent" "$stage/sbin/mc-agent"
ln -s /sbin/mc-agent "$stage/init"
# Hydra starts its proxy by the absolute path it has on the launching host.
mkdir -p "$stage$(dirname "$hydra_proxy")"
ln -s "/data/opt/microcosm/bin/$(basename "$hydra_proxy")" "$stage$hydra_proxy"
cp -R --preserve=mode "$skel/." "$stage/"

# busybox applets: one absolute symlink each, never over a file we installed.
while IFS= read -r applet; do
	[[ -n $applet && ! -e $stage/$applet && ! -L $stage/$applet ]] || continue
	mkdir -p "$stage/$(dirname "$applet")"
	ln -s /bin/busybox "$stage/$applet"
done < <("$busybox" --list-full)

# The agent's shared libraries, each at the path the loader looks for it.
for lib in ${libs[@]+"${libs[@]}"}; do
	mkdir -p "$stage$(dirname "$lib")"
	cp -L "$lib" "$stage$lib"
done
((${#libs[@]} == 0)) || log "  ${#libs[@]} shared libraries for the agent"

# Cloud kernel modules, in load order (modprobe --show-depends lists a module's
# dependencies first), decompressed so busybox insmod can load them.
modcount=0
for kver in ${cloud_kernels[@]+"${cloud_kernels[@]}"}; do
	if ! command -v modprobe >/dev/null; then
		log "warning: modprobe (kmod) missing: no modules for $kver"
		break
	fi
	mdir=$stage/lib/modules/$kver
	mkdir -p "$mdir"
	: >"$mdir/microcosm.order"
	declare -A seen=()
	for m in "${cloud_modules[@]}"; do
		if ! deps=$(modprobe -S "$kver" --show-depends "$m" 2>/dev/null); then
			log "  note: $kver has no module $m (not built in either?)"
			continue
		fi
		while read -r verb path _; do
			[[ $verb == insmod ]] || continue
			rel=${path#/lib/modules/"$kver"/}
			name=$(basename "$rel")
			name=${name%%.ko*}
			name=${name//-/_}
			[[ -z ${seen[$name]:-} ]] || continue
			seen[$name]=1
			dst=${rel%.ko*}.ko
			mkdir -p "$mdir/$(dirname "$dst")"
			case $path in
			*.ko) cp "$path" "$mdir/$dst" ;;
			*.ko.xz) xz -dc "$path" >"$mdir/$dst" ;;
			*.ko.zst) zstd -qdc "$path" >"$mdir/$dst" ;;
			*.ko.gz) gzip -dc "$path" >"$mdir/$dst" ;;
			*) die "unknown module format: $path" ;;
			esac
			printf '%s %s\n' "$name" "$dst" >>"$mdir/microcosm.order"
			modcount=$((modcount + 1))
		done <<<"$deps"
	done
	unset seen
	log "  $(wc -l <"$mdir/microcosm.order") modules for kernel $kver"
done

# --- Archive ----------------------------------------------------------------------

# One newc record (header, name, data) for a character device node: an
# unprivileged builder cannot mknod, but the kernel needs /dev/console in the
# initramfs to give /init a console before devtmpfs is mounted.
newc_record() { # name mode(octal) rdevmajor rdevminor
	local name=$1 namesize=$((${#1} + 1)) pad
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 "$((8#$2))" 0 0 1 1 0 0 0 "$3" "$4" "$namesize" 0
	printf '%s\0' "$name"
	pad=$(((4 - (110 + namesize) % 4) % 4))
	head -c "$pad" /dev/zero
}
newc_trailer() {
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 0 0 0 1 0 0 0 0 0 0 11 0
	printf 'TRAILER!!!\0'
	head -c 3 /dev/zero
}

log "writing initramfs.cpio.gz…"
# Fixed timestamps: the same inputs give the same archive.
find "$stage" -exec touch -h -d @1 {} +
(
	cd "$stage"
	find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible
	newc_record dev/console 020600 5 1
	newc_record dev/null 020666 1 3
	newc_trailer
) | gzip -n -9 >"$tmp/out/initramfs.cpio.gz"
initramfs_bytes=$(stat -c %s "$tmp/out/initramfs.cpio.gz")
log "  initramfs.cpio.gz: $((initramfs_bytes / 1024)) KiB ($(du -sk "$stage" | cut -f1) KiB unpacked)"

# --- Base disk --------------------------------------------------------------------

log "writing base.qcow2 (ext4, $base_size virtual)…"
base=$tmp/base
mkdir -p "$base/opt/microcosm/bin" "$base/opt/microcosm/lib" "$base/opt/microcosm/share"
printf 'microcosm-base %s rootfs=%s\n' "$base_version" "$hash" >"$base/MICROCOSM_BASE"
cat >"$base/opt/microcosm/README" <<'EOF'
Runtime files shared by all guests (read-only base; each guest writes to its
own qcow2 overlay): bin/ holds MPICH's hydra_pmi_proxy and the workloads,
lib/ every shared library they need (the agent sets PATH and LD_LIBRARY_PATH).
EOF
for f in "${runtime_bins[@]}"; do
	install -m 0755 "$f" "$base/opt/microcosm/bin/$(basename "$f")"
done
for f in "${rlibs[@]}"; do
	cp -L "$f" "$base/opt/microcosm/lib/$(basename "$f")"
done
log "  runtime: ${#runtime_bins[@]} programs, ${#rlibs[@]} libraries ($(du -sk "$base/opt/microcosm" | cut -f1) KiB)"
find "$base" -exec touch -h -d @1 {} +
uuid=$(printf '%s' "$hash" | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
truncate -s "$base_size" "$tmp/base.raw"
E2FSPROGS_FAKE_TIME=1 mkfs.ext4 -q -F -L mc-base -U "$uuid" -m 0 \
	-E root_owner=0:0,lazy_itable_init=1,lazy_journal_init=1,hash_seed="$uuid" \
	-d "$base" "$tmp/base.raw"
{
	# mkfs.ext4 -d copies the builder's uid/gid and the real ctime: make
	# everything root's, with fixed times, whoever builds.
	(cd "$base" && find . -mindepth 1 -printf '%P\n') |
		awk '{ printf "sif \"/%s\" uid 0\nsif \"/%s\" gid 0\nsif \"/%s\" ctime @1\n", $0, $0, $0 }' >"$tmp/owners.debugfs"
	E2FSPROGS_FAKE_TIME=1 debugfs -w -f "$tmp/owners.debugfs" "$tmp/base.raw" >/dev/null 2>"$tmp/debugfs.log" ||
		die "debugfs (setting owners in base image) failed: $(tail -n3 "$tmp/debugfs.log")"
	! grep -qi 'error\|not found' "$tmp/debugfs.log" ||
		die "debugfs (setting owners in base image): $(grep -i 'error\|not found' "$tmp/debugfs.log" | head -n3)"
}
qemu-img convert -q -f raw -O qcow2 "$tmp/base.raw" "$tmp/out/base.qcow2"
rm -f "$tmp/base.raw"
chmod 0444 "$tmp/out/base.qcow2"
log "  base.qcow2: $(($(stat -c %s "$tmp/out/base.qcow2") / 1024)) KiB on disk"

t1=$(date +%s)
{
	printf 'rootfs_hash=%s\n' "$hash"
	printf 'initramfs=%s\n' "$out/initramfs.cpio.gz"
	printf 'initramfs_bytes=%s\n' "$initramfs_bytes"
	printf 'base_image=%s\n' "$out/base.qcow2"
	printf 'base_version=%s\n' "$base_version"
	printf 'base_uuid=%s\n' "$uuid"
	printf 'agent=%s\n' "$agent"
	printf 'agent_sha256=%s\n' "$(sha256sum <"$agent" | cut -d' ' -f1)"
	printf 'agent_libs=%s\n' "${#libs[@]}"
	printf 'runtime_programs=%s\n' "$(for f in "${runtime_bins[@]}"; do basename "$f"; done | tr '\n' ' ')"
	printf 'runtime_libs=%s\n' "${#rlibs[@]}"
	printf 'busybox_version=%s\n' "$busybox_version"
	printf 'cloud_kernels=%s\n' "${cloud_kernels[*]+${cloud_kernels[*]}}"
	printf 'cloud_modules=%s\n' "$modcount"
	printf 'build_seconds=%s\n' "$((t1 - t0))"
} >"$tmp/out/rootfs.info"

if [[ -e $out ]]; then
	rm -rf -- "$out.old"
	chmod -R u+w -- "$out"
	mv -- "$out" "$out.old"
fi
mv -- "$tmp/out" "$out"
rm -rf -- "$out.old"
log "built $out in $((t1 - t0)) s"
emit
