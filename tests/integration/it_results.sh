#!/usr/bin/env bash
# it_results.sh — results a person reads and CI gates on, end to end on real guests:
#  - a small experiment (data/it_results.yaml, repeat: 3) run twice compares as a pass;
#    against a run whose ring is slower on purpose (80 ms links instead of 20 ms) it fails,
#    exit 1, and the JUnit file names the metric;
#  - every run directory is complete: manifest (finished, pid, versions), events.jsonl
#    (each guest booting → ready), summary metrics with median and spread of 3 samples,
#    files collected from every guest's disk; the catalog lists the runs and filters them;
#  - files written by guests that then crash or hang for good are collected too
#    (data/it_results_faults.yaml);
#  - a run killed with SIGKILL halfway leaves a directory `results show` reads, marked
#    unfinished, with every JSON file complete;
#  - `microcosm report` renders in headless Chromium with its plots (screenshot kept in
#    $MC_IT_ARTIFACTS, default /tmp).
. "$(dirname "$0")/lib.sh"

DATA="$(cd "$(dirname "$0")/data" && pwd)"
ROOT="$MC_STATE_DIR/results"
ART="${MC_IT_ARTIFACTS:-/tmp}"
RUN_PGID=""
# The run killed on purpose (and its children) end with the test, whatever happens; then
# lib.sh's cleanup, with the test's exit status.
trap 'rc=$?; set +e; [ -z "$RUN_PGID" ] || kill -9 -- "-$RUN_PGID" 2>/dev/null; (exit $rc); cleanup' EXIT

run_exp() { # run_exp FILE LABEL: runs an experiment on this test's cluster name; prints its dir
	local file=$1 label=$2
	log "run $label ($(basename "$file"))"
	"$MC" run -c "$MC_CLUSTER" -r "$ROOT" "$file" >"$MC_STATE_DIR/$label.out" \
		2>"$MC_STATE_DIR/$label.err" || true
	local d
	d=$(tail -1 "$MC_STATE_DIR/$label.out")
	[ -d "$d" ] || fail "$label: no run directory: $(tail -5 "$MC_STATE_DIR/$label.err")"
	echo "$d"
}

A=$(run_exp "$DATA/it_results.yaml" base1)
grep -q '^status: finished' "$MC_STATE_DIR/base1.out" || fail "base1 did not finish: $(tail -5 "$MC_STATE_DIR/base1.err")"
B=$(run_exp "$DATA/it_results.yaml" base2)
sed 's/latency: 20ms/latency: 80ms/; s/^name: it-results$/name: it-results-slow/' \
	"$DATA/it_results.yaml" >"$MC_STATE_DIR/slow.yaml"
C=$(run_exp "$MC_STATE_DIR/slow.yaml" slow)

log "the run directory: manifest, events, metrics, collected files"
/usr/bin/python3 - "$A" <<'PY' || fail "run directory $A is incomplete (above)"
import glob, json, os, sys
d = sys.argv[1]
for p in glob.glob(f"{d}/**/*.json", recursive=True):
    json.load(open(p))  # every JSON file complete
m = json.load(open(f"{d}/manifest.json"))
assert m["status"] == "finished", m["status"]
for k in ("pid", "host_boot_id", "ended", "seed"):
    assert k in m, f"manifest has no {k}"
for k in ("microcosm", "qemu", "mpich", "guest_kernel"):
    assert m["versions"].get(k), f"manifest.versions.{k} is empty"
for k in ("up_s", "collect_s", "down_s"):
    assert k in m["timings"], f"manifest.timings has no {k}"
ev = [json.loads(l) for l in open(f"{d}/events.jsonl")]
for g in ("g0000", "g0001", "g0002"):
    states = [e["state"] for e in ev if e["guest"] == g]
    assert "ready" in states and states.index("ready") > 0, f"{g}: events {states}"
    assert states[-1] == "stopped", f"{g}: last state {states[-1]}"
assert all(ev[i]["t_ms"] <= ev[i + 1]["t_ms"] for i in range(len(ev) - 1)), "events out of order"
s = json.load(open(f"{d}/summary.json"))
met = s["metrics"]
lap = met["ring/8B/lap_us_median"]
assert lap["n"] == 3 and len(lap["values"]) == 3, lap
assert lap["min"] <= lap["median"] <= lap["max"] and lap["mad"] >= 0, lap
assert lap["unit"] == "us" and lap["better"] == "lower", lap
assert met["ring/seconds"]["n"] == 3 and met["files/seconds"]["n"] == 3
reps = s["workloads"][1]["reps"]
assert len(reps) == 3 and all(r["started_ms"] <= r["ended_ms"] for r in reps), reps
for g in ("g0000", "g0001", "g0002"):
    f = f"{d}/guests/{g}/files/data/out/{g}.txt"
    assert open(f).read().strip() == g, f"{f}: wrong content"
col = json.load(open(f"{d}/collected.json"))
assert col["files"] == 3, col
assert any("nothing there" in e for e in col["guests"]["g0000"]["errors"]), col
print(f"ring lap median {lap['median']:.0f} us over {lap['n']} reps (min {lap['min']:.0f}, max {lap['max']:.0f})")
PY

log "compare: two runs of the same experiment pass"
"$MC" compare --threshold 50% --metric 'ring/8B/lap_us_median' --junit "$MC_STATE_DIR/pass.xml" "$A" "$B" \
	>"$MC_STATE_DIR/cmp1.out" 2>&1 || { cat "$MC_STATE_DIR/cmp1.out" >&2; fail "same experiment: compare failed"; }
cat "$MC_STATE_DIR/cmp1.out" >&2
grep -q 'failures="0"' "$MC_STATE_DIR/pass.xml" || fail "pass.xml reports failures"

log "compare: the slower run fails, and the JUnit file names the metric"
set +e
"$MC" compare --threshold 50% --metric 'ring/8B/lap_us_median' --junit "$MC_STATE_DIR/fail.xml" "$A" "$C" \
	>"$MC_STATE_DIR/cmp2.out" 2>&1
rc=$?
set -e
cat "$MC_STATE_DIR/cmp2.out" >&2
[ "$rc" = 1 ] || fail "slower run: compare exited $rc, want 1"
grep -q 'REGRESSION' "$MC_STATE_DIR/cmp2.out" || fail "no REGRESSION row in the table"
/usr/bin/python3 - "$MC_STATE_DIR/fail.xml" <<'PY' || fail "fail.xml does not name the regressed metric"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
failed = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None]
assert "ring/8B/lap_us_median" in failed, failed
print("JUnit failures:", failed)
PY
set +e
"$MC" compare "$A" "$MC_STATE_DIR/nowhere" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "compare against a missing run exited $rc, want 2"

E=$(run_exp "$DATA/it_results_faults.yaml" faults)
log "files from guests that crashed (g0001) and hung (g0002) were collected"
/usr/bin/python3 - "$E" <<'PY' || fail "collection from failed guests (above)"
import json, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(f"{d}/events.jsonl")]
for g in ("g0001", "g0002"):
    assert any(e["guest"] == g and e["state"] == "failed" for e in ev), f"{g} never failed"
for g in ("g0000", "g0001", "g0002"):
    f = f"{d}/guests/{g}/files/data/out/deep/er/{g}.txt"
    assert open(f).read().strip() == g, f
print("collected:", json.load(open(f"{d}/collected.json"))["files"], "files")
PY

log "a run killed with SIGKILL halfway"
setsid "$MC" run -c "$MC_CLUSTER" -r "$ROOT" "$DATA/it_results.yaml" \
	>"$MC_STATE_DIR/killed.out" 2>"$MC_STATE_DIR/killed.err" &
RUN_PID=$!
RUN_PGID=$RUN_PID
D=""
for _ in $(seq 1 300); do
	D=$(ls -d "$ROOT"/it-results-2* 2>/dev/null | grep -v -e "$A" -e "$B" | tail -1 || true)
	[ -n "$D" ] && [ -s "$D/workloads/ring/0/stdout.jsonl" ] && break
	sleep 0.5
done
[ -n "$D" ] && [ -s "$D/workloads/ring/0/stdout.jsonl" ] || fail "the run to kill never reached its ring"
kill -9 "$RUN_PID"
wait "$RUN_PID" 2>/dev/null || true
kill -9 -- "-$RUN_PGID" 2>/dev/null || true # its children (mpirun) too: they are ours
RUN_PGID=""
"$MC" down >/dev/null 2>&1 || true
"$MC" results show -r "$ROOT" "$D" >"$MC_STATE_DIR/show.out" 2>&1 || { cat "$MC_STATE_DIR/show.out" >&2; fail "results show failed on the killed run"; }
cat "$MC_STATE_DIR/show.out" >&2
grep -qi 'unfinished' "$MC_STATE_DIR/show.out" || fail "the killed run is not marked unfinished"
/usr/bin/python3 - "$D" <<'PY' || fail "the killed run left a broken file"
import glob, json, sys
d = sys.argv[1]
files = glob.glob(f"{d}/**/*.json", recursive=True)
for p in files:
    json.load(open(p))
assert json.load(open(f"{d}/manifest.json"))["status"] == "running"
assert json.load(open(f"{d}/workloads/files/0/result.json"))["ok"] is True
for l in open(f"{d}/events.jsonl"):
    json.loads(l)
print(len(files), "JSON files, all complete")
PY

log "the catalog"
"$MC" results ls -r "$ROOT" >"$MC_STATE_DIR/ls.out" 2>&1 || fail "results ls failed"
cat "$MC_STATE_DIR/ls.out" >&2
for d in "$A" "$B" "$C" "$E" "$D"; do
	grep -q "$(basename "$d")" "$MC_STATE_DIR/ls.out" || fail "results ls does not list $(basename "$d")"
done
"$MC" results ls -r "$ROOT" --filter status=unfinished >"$MC_STATE_DIR/ls2.out" 2>&1
grep -q "$(basename "$D")" "$MC_STATE_DIR/ls2.out" || fail "status=unfinished does not list the killed run"
! grep -q "$(basename "$A")" "$MC_STATE_DIR/ls2.out" || fail "status=unfinished lists a finished run"
"$MC" results ls -r "$ROOT" --filter 'metric:ring/8B/lap_us_median>150000' >"$MC_STATE_DIR/ls3.out" 2>&1
grep -q "$(basename "$C")" "$MC_STATE_DIR/ls3.out" || fail "the metric filter misses the slow run"
! grep -q "$(basename "$A")" "$MC_STATE_DIR/ls3.out" || fail "the metric filter keeps a fast run"
rm -f "$ROOT/catalog.sqlite"
"$MC" results reindex "$ROOT" >"$MC_STATE_DIR/reindex.out" 2>&1 || fail "reindex failed"
"$MC" results ls -r "$ROOT" >"$MC_STATE_DIR/ls4.out" 2>&1
[ "$(grep -c it-results "$MC_STATE_DIR/ls4.out")" = 5 ] || fail "after reindex: $(cat "$MC_STATE_DIR/ls4.out")"

log "the report renders in headless Chromium"
"$MC" report "$A" >"$MC_STATE_DIR/report.out" 2>&1 || { cat "$MC_STATE_DIR/report.out" >&2; fail "report failed"; }
[ -s "$A/report.html" ] || fail "no report.html"
! grep -Eq '(src|href)="(https?:)?//' "$A/report.html" || fail "the report loads something from the network"
shot="$ART/it_results-report.png"
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
	--window-size=1280,4000 --screenshot="$shot" "file://$A/report.html" >/dev/null 2>&1 ||
	fail "chromium could not render the report"
timeout 120 chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$A/report.html" \
	>"$MC_STATE_DIR/dom.html" 2>/dev/null || fail "chromium --dump-dom failed"
/usr/bin/python3 - "$MC_STATE_DIR/dom.html" "$shot" <<'PY' || fail "the report lacks its plots (above)"
import re, struct, sys, zlib
dom = open(sys.argv[1]).read()
figs = re.findall(r'<figure[^>]*class="plot"[^>]*>(.*?)</figure>', dom, re.S)
assert len(figs) >= 5, f"{len(figs)} plots"
drawn = [f for f in figs if "<svg" in f and len(re.findall(r"<(rect|path|line|circle|polyline)", f)) >= 5]
assert len(drawn) >= 4, f"only {len(drawn)} plots have marks"
png = open(sys.argv[2], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(png):
    n, t = struct.unpack(">I4s", png[pos:pos + 8])
    if t == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", png[pos + 8:pos + 18])
    if t == b"IDAT":
        idat += png[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
bpp = 4 if ctype == 6 else 3
stride = w * bpp
rows, prev, pos = [], bytearray(stride), 0
for _ in range(h):  # undo the PNG row filters
    f, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
    pos += 1 + stride
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
colours = set(r[i:i + 3] for r in rows[::5] for i in range(0, stride, bpp * 3))
assert len(colours) > 20, f"screenshot has {len(colours)} colours: blank?"
print(f"{len(figs)} plots, {len(drawn)} with marks; screenshot {w}x{h}, {len(colours)} colours sampled")
PY
log "screenshot: $shot"
leftovers || fail "the runs left something behind"
log "ok"
