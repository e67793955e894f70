#!/bin/bash
# test_report.sh — `microcosm report` on fake run directories, rendered by headless Chromium.
#
# usage: test_report.sh MICROCOSM [SCREENSHOT.png]
#
# Writes fake runs with data/report/make_run.py (nothing is started): a finished, "traced"
# run of 40 guests (a crash fault on g0007 with its detection, ring and allreduce with
# message sizes, halo without), the same with 1,000 guests and an unfinished one (a
# "running" manifest whose process is gone, three guests' events). report.py loads
# data/report/trace_stub/summary.py for the MPI plot ($MC_TRACE_SCRIPTS): no bt2, no trace.
#
# Checks the command's errors and output, then renders each page in headless Chromium:
# the DOM (--dump-dom, with a probe script that records each figure's box) has the five
# figures with their marks (data/report/check_page.py dom), and the screenshot has drawn
# pixels in every figure's box (check_page.py png). The 40-guest screenshot stays at
# SCREENSHOT.png (default ./report-screenshot.png) for people to look at.
#
# Without Chromium (/usr/bin/chromium, or $MC_CHROMIUM) it fails, or exits 77 (skipped)
# when MC_TEST_MAY_SKIP=1.
set -u

MC=${1:?usage: test_report.sh MICROCOSM [SCREENSHOT.png]}
SHOT=${2:-$PWD/report-screenshot.png}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$HERE/data/report
PY=/usr/bin/python3
CHROMIUM=${MC_CHROMIUM:-/usr/bin/chromium}
FIGURES='"ready", "boot-times", "timeline", "workloads", "mpi"'

fail() {
	echo "test_report: FAIL: $*" >&2
	exit 1
}

if [ ! -x "$CHROMIUM" ]; then
	if [ "${MC_TEST_MAY_SKIP:-}" = 1 ]; then
		echo "test_report: skipped: no $CHROMIUM"
		exit 77
	fi
	fail "no $CHROMIUM to render the page (apt-get install chromium; MC_TEST_MAY_SKIP=1 lets the test skip)"
fi
[ -x "$PY" ] || fail "no $PY"
[ -x "$MC" ] || fail "no microcosm binary at $MC"

tmp=$(mktemp -d /tmp/test_report.XXXXXX) || fail "mktemp"
browser=  # pid of the running `timeout chromium` (leader of its own process group)
cleanup() {
	if [ -n "$browser" ]; then
		kill -TERM -- "-$browser" 2>/dev/null
		wait "$browser" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# chromium MODE PAGE HEIGHT [OUT]: MODE dom prints the DOM to OUT, shot writes OUT.png.
# timeout puts Chromium and its helpers in one process group and ends them all.
chromium() {
	local mode=$1 page=$2 height=$3 out=$4 what
	if [ "$mode" = dom ]; then
		what=(--dump-dom)
	else
		what=(--screenshot="$out")
	fi
	timeout -k 10 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--force-device-scale-factor=1 --no-first-run --disable-extensions \
		--disable-dev-shm-usage --user-data-dir="$tmp/profile" \
		--window-size=1280,"$height" "${what[@]}" "file://$page" \
		>"$tmp/chromium.out" 2>"$tmp/chromium.log" &
	browser=$!
	wait "$browser"
	local rc=$?
	browser=
	if [ $rc -ne 0 ]; then
		tail -20 "$tmp/chromium.log" >&2
		fail "chromium $mode $page: exit status $rc"
	fi
	if [ "$mode" = dom ]; then
		mv "$tmp/chromium.out" "$out"
	fi
}

# render RUN EXPECT.json SHOT.png: the DOM checks, then a screenshot of the whole page and
# its pixel checks.
render() {
	local run=$1 expect=$2 shot=$3 height
	$PY "$DATA/check_page.py" probe "$run/report.html" "$run/probe.html" || fail "probe"
	chromium dom "$run/probe.html" 4000 "$run/dom.html"
	height=$($PY "$DATA/check_page.py" dom "$run/dom.html" "$expect") ||
		fail "$run: the rendered page is not as expected"
	[ "$height" -gt 200 ] 2>/dev/null || fail "$run: page height '$height'"
	[ "$height" -le 16000 ] || height=16000
	chromium shot "$run/report.html" "$height" "$shot"
	$PY "$DATA/check_page.py" png "$shot" "$run/dom.html" ||
		fail "$run: the screenshot $shot looks blank"
}

# The page references nothing outside itself.
self_contained() {
	if grep -Eo '(src|href)=[^ >]*|url\([^)]*\)|<script|<link|<img' "$1"; then
		fail "$1 loads something or runs a script"
	fi
}

export MC_TRACE_SCRIPTS=$DATA/trace_stub
gen() { $PY "$DATA/make_run.py" "$@" || fail "make_run.py $*"; }

echo "== the command line"
"$MC" report --help | grep -q 'usage: microcosm report' || fail "report --help"
"$MC" report >/dev/null 2>&1 && fail "report without RUN succeeded"
err=$("$MC" report "$tmp/nonexistent" 2>&1) && fail "report on a missing directory succeeded"
echo "$err" | grep -q 'No such file' || fail "missing directory: '$err'"
mkdir "$tmp/not-a-run"
err=$("$MC" report "$tmp/not-a-run" 2>&1) && fail "report on a directory without manifest.json succeeded"
echo "$err" | grep -q 'not a run directory' || fail "no manifest: '$err'"
"$MC" report --bogus "$tmp/not-a-run" >/dev/null 2>&1
[ $? -eq 2 ] || fail "an unknown option is not a usage error (2)"

echo "== a finished run of 40 guests"
gen --traced "$tmp/run40"
out=$("$MC" report "$tmp/run40") || fail "microcosm report $tmp/run40"
[ "$out" = "$tmp/run40/report.html" ] || fail "printed '$out', want $tmp/run40/report.html"
[ -s "$tmp/run40/report.html" ] || fail "no $tmp/run40/report.html"
ls -a "$tmp/run40" | grep -q '\.tmp$' && fail "a temporary file is left in $tmp/run40"
self_contained "$tmp/run40/report.html"
out=$("$MC" report -o "$tmp/elsewhere.html" "$tmp/run40") || fail "report -o"
[ "$out" = "$tmp/elsewhere.html" ] && [ -s "$tmp/elsewhere.html" ] || fail "report -o wrote '$out'"
cat >"$tmp/run40.json" <<EOF
{"figures": [$FIGURES], "recorded": [$FIGURES], "guests": 40, "every_row_spans": true,
 "ready_final": 40, "faults": 1, "detections": 1, "fault_guest": "g0007",
 "boot_bars_min": 4, "series": 3, "bars": true, "rank_bars": 8,
 "texts": ["report-fixture", "finished", "ring/8B/lap_us_median", "halo/iters_per_s",
           "MPI message sizes", "4.0.2", "fixture-host", "qemu killed by signal 9"]}
EOF
mkdir -p "$(dirname "$SHOT")"
render "$tmp/run40" "$tmp/run40.json" "$SHOT"
echo "screenshot: $SHOT"

echo "== an unfinished run"
sleep 0 &
dead=$!
wait $dead
gen --unfinished "$dead" "$tmp/unfinished"
"$MC" report "$tmp/unfinished" >/dev/null || fail "microcosm report $tmp/unfinished"
self_contained "$tmp/unfinished/report.html"
cat >"$tmp/unfinished.json" <<EOF
{"figures": [$FIGURES], "recorded": ["ready", "boot-times", "timeline"],
 "not_recorded": ["workloads", "mpi"], "guests": 3, "ready_final": 2,
 "mpi_note": "not traced", "texts": ["unfinished", "process $dead is gone", "not recorded"]}
EOF
render "$tmp/unfinished" "$tmp/unfinished.json" "$tmp/unfinished.png"

echo "== a run left by an earlier boot of the host, with only a manifest"
gen --unfinished $$ --boot-id 00000000-0000-0000-0000-000000000000 "$tmp/old-boot"
rm "$tmp/old-boot/events.jsonl"
"$MC" report "$tmp/old-boot" >/dev/null || fail "microcosm report $tmp/old-boot"
cat >"$tmp/old-boot.json" <<EOF
{"figures": [$FIGURES], "not_recorded": [$FIGURES],
 "texts": ["unfinished", "rebooted", "not recorded"]}
EOF
$PY "$DATA/check_page.py" probe "$tmp/old-boot/report.html" "$tmp/old-boot/probe.html"
chromium dom "$tmp/old-boot/probe.html" 4000 "$tmp/old-boot/dom.html"
$PY "$DATA/check_page.py" dom "$tmp/old-boot/dom.html" "$tmp/old-boot.json" >/dev/null ||
	fail "$tmp/old-boot: the rendered page is not as expected"

echo "== 1,000 guests"
gen --guests 1000 --traced "$tmp/run1000"
start=$(date +%s)
"$MC" report "$tmp/run1000" >/dev/null || fail "microcosm report $tmp/run1000"
echo "report of 1,000 guests: $(($(date +%s) - start)) s, $(stat -c %s "$tmp/run1000/report.html") bytes"
cat >"$tmp/run1000.json" <<EOF
{"figures": [$FIGURES], "recorded": [$FIGURES], "guests": 1000, "every_row_spans": true,
 "ready_final": 1000, "faults": 1, "detections": 1, "fault_guest": "g0007",
 "series": 3, "rank_bars": 8}
EOF
render "$tmp/run1000" "$tmp/run1000.json" "$tmp/run1000.png"

echo "test_report: ok"
