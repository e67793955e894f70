#!/usr/bin/env bash
# it_byo.sh — a researcher's own MPI program, built on the host against the system's MPICH and a
# library of its own, runs across the guests two ways: from a new base image made with
# `image add` (libguestfs), and from a host directory shared read-only (`up --share`). Bad
# input changes nothing; the image and the cluster are gone afterwards.
. "$(dirname "$0")/lib.sh"

DATA=$(cd "$(dirname "$0")/data/byo" && pwd)
WORK=$(mktemp -d /tmp/mc-it-byo.XXXXXX)
IMAGE="it-byo-$$"
byo_cleanup() {
	local rc=$?
	"$MC" image rm "$IMAGE" >/dev/null 2>&1 || true
	rm -rf "$WORK"
	(exit $rc)
	cleanup
}
trap byo_cleanup EXIT

command -v mpicc >/dev/null || fail "mpicc not found (libmpich-dev)"

log "build the program twice: for the image, and for the shared directory"
mkdir -p "$WORK/img" "$WORK/share/bin" "$WORK/share/lib"
gcc -shared -fPIC -DTAG='"image"' -o "$WORK/img/libbyo-img.so" "$DATA/libbyo.c"
mpicc -o "$WORK/img/byo-img" "$DATA/byo.c" -L"$WORK/img" -lbyo-img
gcc -shared -fPIC -DTAG='"share"' -o "$WORK/share/lib/libbyo-shr.so" "$DATA/libbyo.c"
mpicc -o "$WORK/share/bin/byo-shr" "$DATA/byo.c" -L"$WORK/share/lib" -lbyo-shr
echo "token-$$" >"$WORK/share/token"

images_before=$("$MC" image ls | wc -l)

log "bad input is refused and leaves no image"
set +e
"$MC" image add --name "$IMAGE" "$WORK/img/nosuch" 2>"$WORK/err1"
rc1=$?
"$MC" image add --name "$IMAGE" "$WORK/img/byo-img" 2>"$WORK/err2" # libbyo-img.so not found
rc2=$?
"$MC" image add --name ".bad" "$WORK/img/byo-img" 2>"$WORK/err3"
rc3=$?
"$MC" up -n 1 --share "$WORK/nosuch" 2>"$WORK/err4"
rc4=$?
"$MC" up -n 1 --image "no-such-image-$$" 2>"$WORK/err5"
rc5=$?
set -e
[ $rc1 -ne 0 ] && grep -q "nosuch" "$WORK/err1" || fail "missing file: rc $rc1, $(cat "$WORK/err1")"
[ $rc2 -ne 0 ] && grep -q "needs libbyo-img.so, which is not found" "$WORK/err2" ||
	fail "missing library not named: rc $rc2, $(cat "$WORK/err2")"
[ $rc3 -eq 2 ] && grep -q -- "--name '.bad'" "$WORK/err3" || fail "bad name: rc $rc3, $(cat "$WORK/err3")"
[ $rc4 -eq 2 ] && grep -q -- "--share" "$WORK/err4" || fail "bad share: rc $rc4, $(cat "$WORK/err4")"
[ $rc5 -ne 0 ] && grep -q "image 'no-such-image-$$' not found" "$WORK/err5" ||
	fail "bad image: rc $rc5, $(cat "$WORK/err5")"
[ "$("$MC" image ls | wc -l)" -eq "$images_before" ] || fail "a refused image add left an image"
[ ! -e "$MC_STATE_DIR/$MC_CLUSTER" ] || fail "a refused up left a state dir"

log "image add: the program and its library closure into a new base image"
LD_LIBRARY_PATH="$WORK/img" "$MC" image add --name "$IMAGE" "$WORK/img/byo-img" ||
	fail "image add failed"
"$MC" image ls | grep -q "^$IMAGE " || fail "image ls does not list $IMAGE"
python3 - "${MC_CACHE_DIR:-/var/cache/microcosm}/images/$IMAGE/image.json" <<'PY' ||
import json, sys
j = json.load(open(sys.argv[1]))
guests = [f["guest"] for f in j["files"]] + [l["guest"] for l in j["libraries"]]
assert "/data/opt/microcosm/bin/byo-img" in guests, guests
assert "/data/opt/microcosm/lib/libbyo-img.so" in guests, guests
assert "/data/opt/microcosm/lib/libmpich.so.12" in guests, guests
PY
	fail "image.json does not record the program and its libraries"

up 3 --image "$IMAGE" --share "$WORK/share"

# check_run FILE TAG: three ranks, each summed 3 and loaded the TAG copy of the library.
check_run() {
	python3 - "$1" "$2" <<'PY' || fail "$2 run output wrong: $(cat "$1")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert sorted(r["rank"] for r in rows) == [0, 1, 2], rows
assert all(r["size"] == 3 and r["sum"] == 3 and r["tag"] == sys.argv[2] for r in rows), rows
assert sorted(r["host"] for r in rows) == ["g0000", "g0001", "g0002"], rows
PY
}

log "mpirun the program from the image"
"$MC" mpirun -t 300s -n 3 -- byo-img >"$WORK/img.out" || fail "mpirun byo-img failed"
check_run "$WORK/img.out" image

log "mpirun the program from the shared directory"
"$MC" mpirun -t 300s -n 3 -- byo-shr >"$WORK/shr.out" || fail "mpirun byo-shr failed"
check_run "$WORK/shr.out" share

log "every guest reads the share; none can write it"
"$MC" exec all -- cat /share/token >"$WORK/token.out" || fail "cat /share/token failed"
[ "$(grep -c "token-$$" "$WORK/token.out")" -eq 3 ] || fail "token: $(cat "$WORK/token.out")"
set +e
"$MC" exec g0001 -- sh -c 'echo x >/share/written' >"$WORK/w.out" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "a guest wrote into the read-only share"
[ ! -e "$WORK/share/written" ] || fail "the host directory was changed by a guest"

log "down; then image rm"
"$MC" down >/dev/null || fail "down failed"
leftovers || fail "down left something behind"
"$MC" image rm "$IMAGE" >/dev/null || fail "image rm failed"
! "$MC" image ls | grep -q "^$IMAGE " || fail "image still listed after rm"
log "ok"
