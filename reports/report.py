#!/usr/bin/python3
"""report.py — one self-contained HTML page of a microcosm run: what ran, how it went, in plots.

usage: report.py [-o FILE] RUN

Reads the run directory RUN (docs/results.md) and writes RUN/report.html, or FILE with
-o, whole to a temporary name and renamed. Prints the path of the page it wrote.

The page has no scripts and loads nothing: the plots are inline SVG.

  header       experiment, effective status, start and end, seeds, versions, host,
               timings (manifest.json); workloads and the metrics table (summary.json)
  ready        guests in state ready (and failed) over time, from events.jsonl
  boot-times   time from booting or restoring to ready per guest start (events.jsonl;
               guests.json boot_ms when there are no events)
  timeline     one row per guest, coloured by state; faults and detections
               (faults.jsonl) marked on the guest's row
  workloads    time per operation by message size, one series per workload, rank count
               and measured field (log-log); bars for the metrics of workloads that
               have no sizes
  mpi          time in each MPI call per rank, stacked, when RUN/trace exists, from
               summarize() of tracing/summary.py ($MC_TRACE_SCRIPTS overrides the folder)

A plot whose data the run did not record says "not recorded" instead. A manifest that
says "running" whose process is gone, or whose host boot is over, is an unfinished run.

Standard library only. The MPI plot needs python3-bt2 (Debian's /usr/bin/python3).
"""

import datetime
import html
import importlib.util
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

STATES = ("defined", "booting", "restoring", "ready", "paused", "stopping", "stopped", "failed")
STATE_COLORS = {
    "defined": "#d9d9d9",
    "booting": "#f2c14e",
    "restoring": "#7fb2e5",
    "ready": "#59a14f",
    "paused": "#b07aa1",
    "stopping": "#f28e2b",
    "stopped": "#8c8c8c",
    "failed": "#e15759",
}
OTHER_COLOR = "#bab0ac"
# Tableau 10: distinct, and still distinct to most colour-blind readers.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
STATUS_COLORS = {
    "finished": "#2e7d32",
    "running": "#1565c0",
    "failed": "#c62828",
    "interrupted": "#ef6c00",
    "unfinished": "#ef6c00",
}

# Result-record fields that describe a measurement rather than measure it (docs/results.md).
DESCRIPTIVE = {"bytes", "ranks", "iters", "rank", "size", "reps", "tasks", "workers", "seed"}
# Per record with bytes, the field plotted as "time per operation", first found wins.
TIME_FIELDS = ("time_us_median", "latency_us_median", "lap_us_median", "rtt_us_median")

WIDTH = 1000  # every plot's SVG width (viewBox units; the page scales it)
LEFT = 74  # left margin: room for tick labels and guest names
RIGHT = 24


# ---- Reading the run ----------------------------------------------------------------------


def load_json(path):
    """The parsed file, or None when it is missing or not JSON."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_jsonl(path):
    """The JSON objects of a file's lines; other lines (text, a torn last line) are skipped."""
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    out.append(obj)
    except OSError:
        return None
    return out


def natural_key(s):
    """Sorts g2 before g10 and rep 9 before rep 10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(s))]


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_iso_ms(s):
    """ms since the epoch of an ISO 8601 time (UTC when it names no zone), or None."""
    if not isinstance(s, str) or not s:
        return None
    try:
        d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp() * 1000.0


def effective_status(m):
    """(status, why, alive): the manifest's status, "unfinished" for a "running" one whose
    process is gone or whose host boot is over; alive when its process is known to run."""
    status = m.get("status") if isinstance(m.get("status"), str) else "unknown"
    if status != "running":
        return status, "", False
    boot_id = None
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot_id = f.read().strip()
    except OSError:
        pass
    run_boot = m.get("host_boot_id")
    if isinstance(run_boot, str) and run_boot and boot_id and run_boot != boot_id:
        return "unfinished", "the host has rebooted since the run started", False
    pid = m.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return "running", "the manifest records no pid: it may be unfinished", False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "unfinished", "its process %d is gone" % pid, False
    except PermissionError:
        pass
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if b"microcosm" not in f.read():
                return "unfinished", "its process %d is gone (the pid is reused)" % pid, False
    except OSError:
        pass
    return "running", "process %d is alive" % pid, True


class Run:
    """Everything the page shows, read once from the run directory."""

    def __init__(self, path):
        self.path = path
        self.manifest = load_json(os.path.join(path, "manifest.json"))
        if not isinstance(self.manifest, dict):
            raise ValueError("%s: no readable manifest.json: not a run directory" % path)
        self.status, self.status_why, self.alive = effective_status(self.manifest)
        self.events = self._events()
        self.guests = load_json(os.path.join(path, "guests.json"))
        if not isinstance(self.guests, list):
            self.guests = None
        self.faults = load_jsonl(os.path.join(path, "faults.jsonl"))
        summary = load_json(os.path.join(path, "summary.json"))
        self.summary = summary if isinstance(summary, dict) else {}
        self.reps = self._reps()
        metrics = self.summary.get("metrics")
        if isinstance(metrics, dict) and metrics:
            self.metrics, self.metrics_source = metrics, "summary.json"
        else:
            self.metrics = compute_metrics(self.reps)
            self.metrics_source = "computed from workloads/ (summary.json has no metrics)"
        self._times()

    def _events(self):
        """events.jsonl's well-formed lines in time order, or None when there is no file."""
        raw = load_jsonl(os.path.join(self.path, "events.jsonl"))
        if raw is None:
            return None
        ev = [e for e in raw if is_num(e.get("t_ms")) and isinstance(e.get("guest"), str)
              and isinstance(e.get("state"), str)]
        ev.sort(key=lambda e: e["t_ms"])  # stable: lines with equal times keep their order
        return ev

    def _reps(self):
        """One dict per workload repetition: workload, rep, ok, seconds, records."""
        reps = []
        wdir = os.path.join(self.path, "workloads")
        if os.path.isdir(wdir):
            for w in sorted(os.listdir(wdir), key=natural_key):
                if not os.path.isdir(os.path.join(wdir, w)):
                    continue
                for rep in sorted(os.listdir(os.path.join(wdir, w)), key=natural_key):
                    d = os.path.join(wdir, w, rep)
                    if not os.path.isdir(d):
                        continue
                    res = load_json(os.path.join(d, "result.json"))
                    res = res if isinstance(res, dict) else {}
                    recs = load_jsonl(os.path.join(d, "stdout.jsonl")) or []
                    if not recs and isinstance(res.get("results"), list):
                        recs = [r for r in res["results"] if isinstance(r, dict)]
                    reps.append({"workload": w, "rep": rep, "ok": res.get("ok") is True,
                                 "seconds": res.get("seconds"), "records": recs})
        if reps:
            return reps
        for wl in self.summary.get("workloads") or []:
            if not isinstance(wl, dict):
                continue
            for i, r in enumerate(wl.get("reps") or []):
                if isinstance(r, dict):
                    reps.append({"workload": str(wl.get("workload", "?")),
                                 "rep": str(r.get("rep", i)), "ok": r.get("ok") is True,
                                 "seconds": r.get("seconds"),
                                 "records": [x for x in r.get("results") or []
                                             if isinstance(x, dict)]})
        return reps

    def _times(self):
        """start_ms and end_ms (wall clock) of what the plots show; live when still running."""
        m = self.manifest
        stamps = [e["t_ms"] for e in self.events or []]
        for f in self.faults or []:
            stamps += [f[k] for k in ("at_ms", "detected_at_ms") if is_num(f.get(k))]
        self.start_ms = parse_iso_ms(m.get("started"))
        if self.start_ms is None and stamps:
            self.start_ms = min(stamps)
        self.end_ms = parse_iso_ms(m.get("ended"))
        if self.alive:
            self.end_ms = time.time() * 1000.0  # states last until now
        if self.end_ms is None and stamps:
            self.end_ms = max(stamps)
        if stamps:
            # Events a little before "started" (it has one-second resolution) still show.
            self.start_ms = min(self.start_ms, min(stamps))
            self.end_ms = max(self.end_ms, max(stamps))

    def rel_s(self, t_ms):
        return (t_ms - self.start_ms) / 1000.0

    def guest_names(self):
        """Every guest the run mentions, in natural order."""
        names = set()
        for e in self.events or []:
            names.add(e["guest"])
        for g in self.guests or []:
            if isinstance(g, dict) and isinstance(g.get("name"), str):
                names.add(g["name"])
        for f in self.faults or []:
            names.update(fault_guests(f))
        return sorted(names, key=natural_key)


def fault_guests(f):
    """The guests a fault or detection record names."""
    g = f.get("guest")
    if isinstance(g, str) and g:
        return [g]
    gs = f.get("guests")
    if isinstance(gs, list):
        return [x for x in gs if isinstance(x, str)]
    return []


# ---- Metrics (when summary.json has none: older runs) -------------------------------------


def metric_unit(field):
    """The unit of a metric's field, by the rules of harness/metrics.c."""
    if field.endswith("_us") or "_us_" in field:
        return "us"
    if field.endswith("_MBps"):
        return "MB/s"
    if field.endswith("_per_s"):
        return "/s"
    if field == "seconds" or field.endswith("_s"):
        return "s"
    return ""


def metric_better(field):
    rates = field.endswith("_MBps") or field.endswith("_per_s")
    return "higher" if rates or "bandwidth" in field or "throughput" in field else "lower"


def stats(values):
    """n, median, min, max and mad (median absolute deviation) of a non-empty list."""
    med = statistics.median(values)
    return {"values": values, "n": len(values), "median": med, "min": min(values),
            "max": max(values), "mad": statistics.median([abs(v - med) for v in values])}


def compute_metrics(reps):
    """docs/results.md's metrics from the repetitions' records, for runs without them."""
    per = {}  # name -> (workload, field, [value per ok rep])
    for rep in reps:
        if not rep["ok"]:
            continue
        w = rep["workload"]
        values = {}
        if is_num(rep["seconds"]):
            values["%s/seconds" % w] = ("seconds", rep["seconds"])
        for r in rep["records"]:
            if r.get("phase") not in (None, "result"):
                continue  # progress and per-rank lines
            for k, v in r.items():
                if k in DESCRIPTIVE or not is_num(v):
                    continue
                if is_num(r.get("bytes")):
                    name = "%s/%dB/%s" % (w, r["bytes"], k)
                else:
                    name = "%s/%s" % (w, k)
                values[name] = (k, float(v))
        for name, (field, v) in values.items():
            per.setdefault(name, (w, field, []))[2].append(v)
    out = {}
    for name, (w, field, vals) in per.items():
        m = {"workload": w, "unit": metric_unit(field), "better": metric_better(field)}
        m.update(stats(vals))
        out[name] = m
    return out


# ---- Formatting ---------------------------------------------------------------------------


def esc(s):
    return html.escape(str(s), quote=True)


def fmt_num(v):
    """A number for people: 4 significant digits, no exponent for everyday magnitudes."""
    if not is_num(v):
        return "–"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return "%.3g" % v
    if a >= 1000:
        return "%.0f" % v
    return "%.4g" % v


def fmt_bytes(n):
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size and n % size == 0:
            return "%d%s" % (n // size, unit)
    return "%d" % n


def fmt_duration(s):
    if not is_num(s):
        return "–"
    if s < 60:
        return "%.1f s" % s
    if s < 3600:
        return "%d min %02d s" % (s // 60, s % 60)
    return "%d h %02d min" % (s // 3600, (s % 3600) // 60)


def fmt_tick(v):
    v = round(v, 10)
    if v == int(v):
        return "%d" % v
    return "%g" % v


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def fmt_ms(v):
    return "%.0f ms" % v if v >= 10 else "%.3g ms" % v


# ---- SVG: scales, axes, legends -----------------------------------------------------------


def nice_step(span, n, at_least=True):
    """A 1, 2, 2.5 or 5 times a power of ten step giving about n intervals over span: at
    most n with at_least, else at least n."""
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    steps = [m * mag for m in (1, 2, 2.5, 5, 10)]
    if at_least:
        return next(s for s in steps if raw <= s * 1.0000001)
    return max(s for s in steps if s <= raw * 1.0000001)


def linear_ticks(lo, hi, n=6):
    """(lo', hi', ticks): the range widened to round steps, and the ticks on it."""
    if not (hi > lo):
        hi = lo + (abs(lo) if lo else 1)
    step = nice_step(hi - lo, n)
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    count = int(round((end - start) / step))
    return start, end, [round(start + i * step, 12) for i in range(count + 1)]


class Scale:
    """Maps data values to pixels, linearly or in log space (log: values > 0)."""

    def __init__(self, lo, hi, p0, p1, log=False):
        self.lo, self.hi, self.p0, self.p1, self.log = lo, hi, p0, p1, log
        self.f = math.log if log else (lambda v: v)
        self.a, self.b = self.f(lo), self.f(hi)

    def __call__(self, v):
        if self.log:
            v = max(v, self.lo * 1e-3)
        span = self.b - self.a
        return self.p0 + (self.f(v) - self.a) / span * (self.p1 - self.p0) if span else self.p0


def log2_ticks(lo, hi):
    """(lo', hi', ticks) at powers of two covering [lo, hi], at most about 10 ticks."""
    e0 = math.floor(math.log2(lo))
    e1 = math.ceil(math.log2(hi))
    if e1 <= e0:
        e0, e1 = e0 - 1, e1 + 1
    step = max(1, math.ceil((e1 - e0) / 10))
    e0 -= e0 % step
    return 2.0 ** e0, 2.0 ** e1, [2.0 ** e for e in range(e0, e1 + 1, step)]


def log10_ticks(lo, hi):
    """(lo', hi', ticks) at 1, (2, 5,) 10 times powers of ten covering [lo, hi]."""
    e0 = math.floor(math.log10(lo))
    e1 = math.ceil(math.log10(hi))
    if e1 <= e0:
        e1 = e0 + 1
    mults = (1, 2, 5) if e1 - e0 <= 3 else (1,)
    ticks = [m * 10.0 ** e for e in range(e0, e1 + 1) for m in mults]
    lo2 = max(t for t in ticks if t <= lo)
    hi2 = min(t for t in ticks if t >= hi)
    return lo2, hi2, [t for t in ticks if lo2 <= t <= hi2]


def text_width(s, size=11):
    """A rough width of a label in px (sans-serif averages about 0.58 em per character)."""
    return len(str(s)) * size * 0.58


def legend_rows(items, width):
    """Lays legend entries out left to right, wrapping; returns [[(x, item), ...], ...]."""
    rows, row, x = [], [], 0
    for it in items:
        w = 22 + text_width(it[0]) + 16
        if row and x + w > width:
            rows.append(row)
            row, x = [], 0
        row.append((x, it))
        x += w
    if row:
        rows.append(row)
    return rows


class Chart:
    """One SVG plot: a title, an optional legend band, a plot area and its axes.

    legend items are (label, colour, mark) with mark "box", "line", "fault" or "detection".
    The plot area is [x0, x1] x [y0, y1] in SVG units, y growing downwards.
    """

    def __init__(self, title, plot_height, legend=(), bottom=46, left=LEFT, right=RIGHT):
        self.parts = []
        self.title = title
        self.x0, self.x1 = left, WIDTH - right
        self.legend = legend_rows(list(legend), self.x1 - self.x0)
        self.y0 = 30 + 18 * len(self.legend) + (6 if self.legend else 0)
        self.y1 = self.y0 + plot_height
        self.height = self.y1 + bottom

    def add(self, s):
        self.parts.append(s)

    def frame(self):
        self.add('<rect class="area" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>'
                 % (self.x0, self.y0, self.x1 - self.x0, self.y1 - self.y0))

    def xaxis(self, scale, ticks, fmt, label, grid=True):
        for t in ticks:
            x = scale(t)
            if grid:
                self.add('<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                         % (x, self.y0, x, self.y1))
            self.add('<line class="tick" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                     % (x, self.y1, x, self.y1 + 4))
            self.add('<text class="xtick" x="%.1f" y="%.1f">%s</text>'
                     % (x, self.y1 + 16, esc(fmt(t))))
        self.add('<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                 % (self.x0, self.y1, self.x1, self.y1))
        self.add('<text class="xlabel" x="%.1f" y="%.1f">%s</text>'
                 % ((self.x0 + self.x1) / 2, self.y1 + 36, esc(label)))

    def yaxis(self, scale, ticks, fmt, label, grid=True):
        for t in ticks:
            y = scale(t)
            if grid:
                self.add('<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                         % (self.x0, y, self.x1, y))
            self.add('<line class="tick" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                     % (self.x0 - 4, y, self.x0, y))
            self.add('<text class="ytick" x="%.1f" y="%.1f">%s</text>'
                     % (self.x0 - 7, y + 4, esc(fmt(t))))
        self.add('<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                 % (self.x0, self.y0, self.x0, self.y1))
        ym = (self.y0 + self.y1) / 2
        self.add('<text class="ylabel" x="14" y="%.1f" transform="rotate(-90 14 %.1f)">%s</text>'
                 % (ym, ym, esc(label)))

    def svg(self, css_class=""):
        head = ['<svg xmlns="http://www.w3.org/2000/svg" class="chart %s" viewBox="0 0 %d %d" '
                'width="%d" height="%d" role="img" aria-label="%s">'
                % (css_class, WIDTH, self.height, WIDTH, self.height, esc(self.title)),
                '<text class="title" x="%.1f" y="20">%s</text>' % (self.x0, esc(self.title))]
        for r, row in enumerate(self.legend):
            y = 30 + 18 * r + 9
            for x, (label, color, mark) in row:
                x += self.x0
                head.append('<g class="legend-item">%s<text class="legend" x="%.1f" y="%.1f">'
                            '%s</text></g>' % (legend_mark(x, y, color, mark), x + 20, y + 4,
                                               esc(label)))
        return "\n".join(head + self.parts + ["</svg>"])


def legend_mark(x, y, color, mark):
    if mark == "line":
        return ('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2.5"/>'
                '<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>'
                % (x, y, x + 16, y, color, x + 8, y, color))
    if mark == "fault":
        return fault_path(x + 8, y + 4, 10, "fault-mark")
    if mark == "detection":
        return detection_path(x + 8, y, 10, "detection-mark")
    if mark == "dash":
        return ('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" '
                'stroke-dasharray="4 3"/>' % (x, y, x + 16, y, color))
    return ('<rect x="%.1f" y="%.1f" width="14" height="10" fill="%s" stroke="#555" '
            'stroke-width="0.5"/>' % (x + 1, y - 5, color))


def fault_path(x, y, s, cls, attrs="", title=""):
    """A downward triangle with its tip at (x, y): a fault injection."""
    return ('<path class="%s" %s d="M%.1f %.1fl%.1f %.1fh%.1fz">%s</path>'
            % (cls, attrs, x, y, s / 2, -s, -s, title))


def detection_path(x, y, s, cls, attrs="", title=""):
    """A diamond centred on (x, y): a detected failure."""
    h = s / 2
    return ('<path class="%s" %s d="M%.1f %.1fl%.1f %.1fl%.1f %.1fl%.1f %.1fz">%s</path>'
            % (cls, attrs, x, y - h, h, h, -h, h, -h, -h, title))


def tip(s):
    """An SVG <title>: the tooltip a browser shows on hover."""
    return "<title>%s</title>" % esc(s)


def not_recorded(title, why):
    """A placeholder plot saying the data is not recorded."""
    c = Chart(title, 70, bottom=12)
    c.frame()
    c.add('<text class="missing" x="%.1f" y="%.1f">not recorded</text>'
          % ((c.x0 + c.x1) / 2, c.y0 + 32))
    c.add('<text class="missing-why" x="%.1f" y="%.1f">%s</text>'
          % ((c.x0 + c.x1) / 2, c.y0 + 52, esc(why)))
    return c.svg("empty")


def figure(fid, svg, caption, extra=""):
    return ('<figure class="plot" id="%s">\n%s\n%s<figcaption>%s</figcaption>\n</figure>\n'
            % (fid, svg, extra, caption))


def time_axis(run):
    """(lo, hi, ticks) of the seconds-from-start axis that the ready curve and the
    timeline share, so that they line up."""
    end = run.rel_s(run.end_ms) if run.end_ms is not None else 1.0
    lo = min(0.0, min((run.rel_s(e["t_ms"]) for e in run.events or []), default=0.0))
    return linear_ticks(lo, max(end, lo + 1e-3), 8)


# ---- 1. Guests ready over time ------------------------------------------------------------


def plot_ready(run):
    title = "Guests ready over time"
    if not run.events:
        why = "no events.jsonl" if run.events is None else "events.jsonl is empty"
        return figure("ready", not_recorded(title, why),
                      "Guests in state <i>ready</i> over time: not recorded (%s)." % esc(why))
    state = {}
    ready = failed = 0
    steps = [(run.rel_s(run.events[0]["t_ms"]), 0, 0)]
    for e in run.events:
        old = state.get(e["guest"])
        new = e["state"]
        state[e["guest"]] = new
        ready += (new == "ready") - (old == "ready")
        failed += (new == "failed") - (old == "failed")
        t = run.rel_s(e["t_ms"])
        if steps[-1][0] == t:
            steps[-1] = (t, ready, failed)
        else:
            steps.append((t, ready, failed))
    end_s = max(run.rel_s(run.end_ms), steps[-1][0])
    total = len(run.guest_names())
    peak_failed = max(s[2] for s in steps)

    legend = [("ready", STATE_COLORS["ready"], "line")]
    if peak_failed:
        legend.append(("failed", STATE_COLORS["failed"], "line"))
    legend.append(("%d guests" % total, "#777", "dash"))
    c = Chart(title, 240, legend)
    x_lo, x_hi, xt = time_axis(run)
    y_lo, y_hi, yt = linear_ticks(0, max(total, 1), 5)
    yt = [t for t in yt if t == int(t)] or [0, 1]
    X = Scale(x_lo, x_hi, c.x0, c.x1)
    Y = Scale(y_lo, y_hi, c.y1, c.y0)
    c.frame()
    c.xaxis(X, xt, fmt_tick, "seconds from the run's start")
    c.yaxis(Y, yt, fmt_tick, "guests")
    c.add('<line class="total" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
          % (c.x0, Y(total), c.x1, Y(total)))

    def step_path(idx):
        d = ["M%.1f %.1f" % (X(steps[0][0]), Y(0))]
        for t, *counts in steps:
            d.append("H%.1fV%.1f" % (X(t), Y(counts[idx])))
        d.append("H%.1f" % X(end_s))
        return "".join(d)

    if peak_failed:
        c.add('<path class="failed-curve" d="%s" fill="none" stroke="%s" stroke-width="2"/>'
              % (step_path(1), STATE_COLORS["failed"]))
    c.add('<path class="ready-curve" data-final-count="%d" data-guests="%d" d="%s" fill="none" '
          'stroke="%s" stroke-width="2.5"/>'
          % (ready, total, step_path(0), STATE_COLORS["ready"]))
    c.add('<circle class="ready-end" cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>'
          % (X(end_s), Y(ready), STATE_COLORS["ready"]))
    label_y = Y(ready) + (16 if Y(ready) < c.y0 + 14 else -7)
    c.add('<text class="end-label" x="%.1f" y="%.1f">%d ready</text>'
          % (X(end_s) - 4, label_y, ready))

    first_all = next((t for t, r, _f in steps if r >= total > 0), None)
    cap = ("Guests in state <i>ready</i> (step curve) over seconds from the run's start, "
           "from events.jsonl (%s). %d of %d guests ready at the end"
           % (plural(len(run.events), "state change"), ready, total))
    if first_all is not None:
        cap += "; all ready first at %.1f s" % first_all
    if peak_failed:
        cap += "; at most %d failed at once" % peak_failed
    return figure("ready", c.svg(), cap + ".")


# ---- 2. Boot and clone times --------------------------------------------------------------


def boot_durations(run):
    """(kind, ms) per guest start that reached ready: kind "boot" or "restore"."""
    out = []
    pending = {}  # guest -> (t_ms, kind)
    for e in run.events or []:
        g, s = e["guest"], e["state"]
        if s in ("booting", "restoring"):
            pending[g] = (e["t_ms"], "boot" if s == "booting" else "restore")
        elif s == "ready":
            if g in pending:
                t0, kind = pending.pop(g)
                out.append((kind, e["t_ms"] - t0))
        else:
            pending.pop(g, None)
    return out


def plot_boot(run):
    title = "Boot and clone time per guest start"
    durations = boot_durations(run)
    source = "events.jsonl (booting or restoring → ready)"
    if not durations and run.guests:
        durations = [("boot", float(g["boot_ms"])) for g in run.guests
                     if isinstance(g, dict) and is_num(g.get("boot_ms")) and g["boot_ms"] > 0]
        source = "guests.json boot_ms (no ready transitions in events.jsonl)"
    if not durations:
        why = "no guest reached ready in events.jsonl, no boot_ms in guests.json"
        return figure("boot-times", not_recorded(title, why),
                      "Time from booting or restoring to ready: not recorded (%s)." % esc(why))
    kinds = [k for k in ("boot", "restore") if any(d[0] == k for d in durations)]
    colors = {"boot": STATE_COLORS["booting"], "restore": STATE_COLORS["restoring"]}
    names = {"boot": "boot (from booting)", "restore": "clone (from restoring a template)"}
    values = [d[1] for d in durations]
    lo, hi = min(values), max(values)
    nbins = max(8, min(50, int(2 * math.sqrt(len(values))) + 4))
    width = nice_step(max(hi - lo, 1.0), nbins, at_least=False)
    start = math.floor(lo / width) * width
    count = max(1, int(math.floor((hi - start) / width)) + 1)
    bins = {k: [0] * count for k in kinds}
    for kind, v in durations:
        bins[kind][min(count - 1, int((v - start) // width))] += 1
    tallest = max(sum(bins[k][i] for k in kinds) for i in range(count))

    c = Chart(title, 220, [(names[k], colors[k], "box") for k in kinds])
    x_lo, x_hi, xt = linear_ticks(start, start + count * width, 8)
    y_lo, y_hi, yt = linear_ticks(0, tallest, 5)
    yt = [t for t in yt if t == int(t)]
    X = Scale(x_lo, x_hi, c.x0, c.x1)
    Y = Scale(y_lo, y_hi, c.y1, c.y0)
    c.frame()
    c.yaxis(Y, yt, fmt_tick, "guest starts")
    for i in range(count):
        base = 0
        b0, b1 = start + i * width, start + (i + 1) * width
        for k in kinds:
            n = bins[k][i]
            if not n:
                continue
            c.add('<rect class="bar %s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                  '%s</rect>'
                  % (k, X(b0) + 0.5, Y(base + n), max(X(b1) - X(b0) - 1, 0.5),
                     Y(base) - Y(base + n), colors[k],
                     tip("%s: %d in [%s, %s) ms" % (k, n, fmt_tick(b0), fmt_tick(b1)))))
            base += n
    c.xaxis(X, xt, fmt_tick, "ms from booting/restoring to ready", grid=False)

    parts = []
    for k in kinds:
        v = sorted(d[1] for d in durations if d[0] == k)
        p90 = v[min(len(v) - 1, int(math.ceil(0.9 * len(v))) - 1)]
        parts.append("%s: %s, median %s, 90th percentile %s, max %s"
                     % (k, plural(len(v), "start"), fmt_ms(statistics.median(v)), fmt_ms(p90),
                        fmt_ms(v[-1])))
    cap = ("Histogram of the time from a guest's start to <i>ready</i>, one count per start "
           "(a rebooted guest counts again), from %s. %s."
           % (esc(source), esc("; ".join(parts))))
    return figure("boot-times", c.svg(), cap)


# ---- 3. Per-guest state timeline ----------------------------------------------------------


def plot_timeline(run):
    title = "Guest states over time, with faults"
    names = run.guest_names()
    faults = [f for f in run.faults or [] if f.get("type") != "detection" and is_num(f.get("at_ms"))]
    detections = [f for f in run.faults or []
                  if f.get("type") == "detection" and is_num(f.get("detected_at_ms"))]
    if not run.events and not faults and not detections:
        why = "no events.jsonl" if run.events is None else "events.jsonl is empty"
        return figure("timeline", not_recorded(title, why),
                      "Per-guest state timeline: not recorded (%s)." % esc(why))
    n = max(len(names), 1)
    row = max(1.0, min(20.0, 720.0 / n))
    gap = 0.2 * row if row >= 4 else 0.0
    every = 1
    for k in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        every = k
        if k * row >= 13:
            break

    present = [s for s in STATES if any(e["state"] == s for e in run.events or [])]
    present += sorted({e["state"] for e in run.events or []} - set(STATES))
    legend = [(s, STATE_COLORS.get(s, OTHER_COLOR), "box") for s in present]
    if faults:
        legend.append(("fault injected", "#000", "fault"))
    if detections:
        legend.append(("failure detected", "#000", "detection"))
    c = Chart(title, row * n, legend)
    x_lo, x_hi, xt = time_axis(run)
    X = Scale(x_lo, x_hi, c.x0, c.x1)
    c.frame()
    index = {g: i for i, g in enumerate(names)}
    end_x = X(run.rel_s(run.end_ms))

    spans = {g: [] for g in names}  # guest -> [(t_ms, state)]
    for e in run.events or []:
        spans[e["guest"]].append((e["t_ms"], e["state"]))
    for g in names:
        i = index[g]
        y = c.y0 + i * row
        out = ['<g class="guest-row" data-guest="%s">' % esc(g)]
        seq = spans[g]
        for j, (t, s) in enumerate(seq):
            x = X(run.rel_s(t))
            x2 = X(run.rel_s(seq[j + 1][0])) if j + 1 < len(seq) else end_x
            if x2 <= x and j + 1 < len(seq):
                continue  # left the state in the same instant
            out.append('<rect class="span %s" x="%.2f" y="%.2f" width="%.2f" height="%.2f" '
                       'fill="%s">%s</rect>'
                       % (esc(s), x, y + gap / 2, max(x2 - x, 0.6), row - gap,
                          STATE_COLORS.get(s, OTHER_COLOR),
                          tip("%s %s from %.2f s" % (g, s, run.rel_s(t)))))
        out.append("</g>")
        c.add("".join(out))
        if i % every == 0:
            c.add('<text class="ytick" x="%.1f" y="%.1f">%s</text>'
                  % (c.x0 - 7, y + row / 2 + 4, esc(g)))
            c.add('<line class="tick" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                  % (c.x0 - 4, y + row / 2, c.x0, y + row / 2))

    mark = max(7.0, min(11.0, row))
    for f in faults:
        x = X(run.rel_s(f["at_ms"]))
        what = "%s %s (%s)" % (f.get("name", "fault"), f.get("kind", ""), f.get("outcome", ""))
        hollow = f.get("outcome", "injected") != "injected"
        cls = "fault" + (" not-injected" if hollow else "")
        targets = [g for g in fault_guests(f) if g in index]
        if not targets:  # a fault on no one guest: a line across all rows
            c.add('<line class="fault fault-all" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f">%s'
                  '</line>' % (x, c.y0, x, c.y1, tip(what)))
            continue
        for g in targets:
            yc = c.y0 + (index[g] + 0.5) * row
            c.add(fault_path(x, yc, mark, cls, 'data-guest="%s"' % esc(g),
                             tip("%s into %s at %.2f s" % (what, g, run.rel_s(f["at_ms"])))))
    for d in detections:
        x = X(run.rel_s(d["detected_at_ms"]))
        for g in [g for g in fault_guests(d) if g in index]:
            yc = c.y0 + (index[g] + 0.5) * row
            c.add(detection_path(x, yc, mark, "detection", 'data-guest="%s"' % esc(g),
                                 tip("%s detected in %s after %s ms: %s"
                                     % (d.get("fault", "failure"), g, d.get("latency_ms", "?"),
                                        d.get("reason", "")))))
    c.xaxis(X, xt, fmt_tick, "seconds from the run's start", grid=False)
    c.yaxis(Scale(0, 1, c.y1, c.y0), [], fmt_tick,
            "guests" + (" (a label every %d)" % every if every > 1 else ""), grid=False)

    cap = ("One row per guest (%d), coloured by state from events.jsonl; ▼ marks a fault "
           "injection and ◆ a detected failure on the guest's row (faults.jsonl). "
           "Hover a span or mark for details." % len(names))
    if not run.events:
        cap += " State changes not recorded (no events.jsonl): faults only."
    if faults or detections:
        cap += " %s, %s." % (plural(len(faults), "fault"), plural(len(detections), "detection"))
    return figure("timeline", c.svg("timeline"), cap)


# ---- 4. Workload results ------------------------------------------------------------------


def time_field(rec):
    """The field of a sized result record that is its time per operation (us), or None."""
    for k in TIME_FIELDS:
        if is_num(rec.get(k)):
            return k
    for k, v in rec.items():
        if k.endswith("_us_median") and is_num(v):
            return k
    for k, v in rec.items():
        if (k.endswith("_us") or "_us_" in k) and is_num(v):
            return k
    return None


def sized_series(run):
    """(series, from_failed): {(workload, mode, ranks, field): {bytes: [us, ...]}} from the
    records of successful repetitions (of failed ones for a workload that has no other)."""
    ok_workloads = {r["workload"] for r in run.reps if r["ok"]}
    series, from_failed = {}, set()
    for rep in run.reps:
        w = rep["workload"]
        if not rep["ok"] and w in ok_workloads:
            continue
        for rec in rep["records"]:
            b = rec.get("bytes")
            field = time_field(rec)
            if not is_num(b) or b <= 0 or field is None or rec.get("phase") not in (None, "result"):
                continue
            key = (w, str(rec.get("mode", "")), rec.get("ranks") if is_num(rec.get("ranks"))
                   else None, field)
            series.setdefault(key, {}).setdefault(int(b), []).append(float(rec[field]))
            if not rep["ok"]:
                from_failed.add(w)
    return series, from_failed


def series_label(key):
    w, mode, ranks, field = key
    name = w if not mode or mode == w else "%s (%s)" % (w, mode)
    if ranks is not None:
        name += ", %d ranks" % ranks
    return "%s: %s" % (name, field)


def plot_sizes(run, series):
    title = "Time per operation by message size"
    keys = sorted(series, key=lambda k: (natural_key(k[0]), k[1], k[2] or 0, k[3]))
    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}
    xs = [b for s in series.values() for b in s]
    ys = [v for s in series.values() for vals in s.values() for v in vals if v > 0]
    c = Chart(title, 280, [(series_label(k), colors[k], "line") for k in keys])
    x_lo, x_hi, xt = log2_ticks(min(xs), max(xs))
    X = Scale(x_lo, x_hi, c.x0 + 10, c.x1 - 10, log=True)
    if ys:
        y_lo, y_hi, yt = log10_ticks(min(ys), max(ys))
    else:
        y_lo, y_hi, yt = 0.1, 1.0, [0.1, 1.0]
    Y = Scale(y_lo, y_hi, c.y1, c.y0, log=True)
    c.frame()
    c.xaxis(X, xt, lambda v: fmt_bytes(int(v)), "message size (bytes, log scale)")
    c.yaxis(Y, yt, fmt_tick, "time per operation (µs, log scale)")
    for k in keys:
        pts = []
        for b in sorted(series[k]):
            vals = [v for v in series[k][b] if v > 0]
            if vals:
                pts.append((b, statistics.median(vals), min(vals), max(vals), len(vals)))
        color = colors[k]
        out = ['<g class="series" data-series="%s">' % esc(series_label(k))]
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (color, " ".join("%.1f,%.1f" % (X(p[0]), Y(p[1])) for p in pts)))
        for b, med, lo, hi, n in pts:
            x = X(b)
            if hi > lo:
                out.append('<line class="whisker" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                           'stroke="%s"/>' % (x, Y(lo), x, Y(hi), color))
            out.append('<circle class="point" cx="%.1f" cy="%.1f" r="3.5" fill="%s">%s</circle>'
                       % (x, Y(med), color,
                          tip("%s at %s B: median %s µs (min %s, max %s, n=%d)"
                              % (series_label(k), fmt_bytes(b), fmt_num(med), fmt_num(lo),
                                 fmt_num(hi), n))))
        out.append("</g>")
        c.add("".join(out))
    return c.svg()


def plot_bars(metrics):
    """Horizontal bars (median, min–max whisker) per metric, one panel per unit."""
    by_unit = {}
    for name, m in metrics:
        by_unit.setdefault(m.get("unit") or "", []).append((name, m))
    svgs = []
    for unit in sorted(by_unit):
        rows = sorted(by_unit[unit], key=lambda nm: natural_key(nm[0]))
        left = min(360, max(120, max(text_width(n) for n, _m in rows) + 16))
        bar = 18
        unit_name = unit or "(no unit)"
        c = Chart("Workloads without message sizes: %s" % unit_name, bar * len(rows),
                  [("median (whisker: min–max over repetitions)", PALETTE[0], "box")],
                  left=left)
        hi = max(max(m["max"] if is_num(m.get("max")) else m["median"], 0) for _n, m in rows)
        lo = min(min(m["min"] if is_num(m.get("min")) else m["median"], 0) for _n, m in rows)
        x_lo, x_hi, xt = linear_ticks(lo, hi if hi > lo else lo + 1, 6)
        X = Scale(x_lo, x_hi, c.x0, c.x1)
        c.frame()
        c.xaxis(X, xt, fmt_tick, unit_name)
        for i, (name, m) in enumerate(rows):
            y = c.y0 + i * bar
            med = m["median"]
            x_a, x_b = sorted((X(0), X(med)))
            out = ['<g class="metric-bar" data-metric="%s">' % esc(name),
                   '<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                   '%s</rect>'
                   % (x_a, y + 3, max(x_b - x_a, 0.8), bar - 6, PALETTE[0],
                      tip("%s: median %s %s (n=%s, min %s, max %s)"
                          % (name, fmt_num(med), unit, m.get("n"), fmt_num(m.get("min")),
                             fmt_num(m.get("max")))))]
            if is_num(m.get("min")) and is_num(m.get("max")) and m["max"] > m["min"]:
                out.append('<line class="whisker" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                           % (X(m["min"]), y + bar / 2, X(m["max"]), y + bar / 2))
            out.append('</g><text class="ytick" x="%.1f" y="%.1f">%s</text>'
                       % (c.x0 - 7, y + bar / 2 + 4, esc(name)))
            c.add("".join(out))
        svgs.append(c.svg())
    return "\n".join(svgs)


def plot_workloads(run):
    title = "Workload results"
    series, from_failed = sized_series(run)
    sized = {k[0] for k in series}
    unsized = [(n, m) for n, m in sorted(run.metrics.items())
               if isinstance(m, dict) and is_num(m.get("median"))
               and str(m.get("workload", n.split("/")[0])) not in sized]
    if not series and not unsized:
        why = "no results: no workload repetition recorded result records or metrics"
        return figure("workloads", not_recorded(title, why),
                      "Workload results: not recorded (%s)." % esc(why))
    svgs, cap = [], []
    if series:
        svgs.append(plot_sizes(run, series))
        cap.append("Time per operation against message size (both log scale), the median of "
                   "the repetitions with a min–max whisker, one series per workload, rank "
                   "count and measured field, from the workloads' result records.")
        if from_failed:
            cap.append("%s: only failed repetitions recorded results; those are shown."
                       % esc(", ".join(sorted(from_failed))))
    if unsized:
        svgs.append(plot_bars(unsized))
        cap.append("Bars: the metrics of workloads without message sizes (%s), median over "
                   "successful repetitions, one panel per unit." % esc(run.metrics_source))
    return figure("workloads", "\n".join(svgs), " ".join(cap))


# ---- 5. MPI time per rank (traced runs) ---------------------------------------------------


def trace_summary(run):
    """(summary dict, None) from tracing/summary.py's summarize(), or (None, why not)."""
    if not os.path.isdir(os.path.join(run.path, "trace")):
        return None, "the run was not traced (no trace/ folder)"
    folder = os.environ.get("MC_TRACE_SCRIPTS") or os.path.join(HERE, "..", "tracing")
    script = os.path.join(folder, "summary.py")
    if not os.path.exists(script):
        return None, "traced, but %s is missing (set MC_TRACE_SCRIPTS)" % script
    try:
        spec = importlib.util.spec_from_file_location("mc_trace_summary", script)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except Exception as e:  # a broken script must not cost the rest of the page
        return None, "traced, but %s does not load: %s" % (script, e)
    if getattr(mod, "bt2", True) is None:
        return None, ("traced, but this python has no bt2 module (install python3-bt2, run "
                      "/usr/bin/python3)")
    try:
        return mod.summarize(run.path), None
    except Exception as e:  # unreadable traces: say so, draw the rest
        return None, "traced, but the trace summary failed: %s" % e


def sizes_table(sizes):
    """The message sizes per MPI call as a small HTML table."""
    if not sizes:
        return ""
    rows = []
    for call, bins in sorted(sizes.items()):
        cells = []
        for b in bins:
            if b.get("hi") == 0:
                label = "0 B"
            else:
                label = "%s–%s B" % (fmt_bytes(b["lo"]), fmt_bytes(b["hi"] + 1))
            cells.append("%s ×%d" % (label, b["count"]))
        rows.append("<tr><td>%s</td><td>%s</td></tr>" % (esc(call), esc(", ".join(cells))))
    return ('<table class="sizes"><caption>MPI message sizes per call (power-of-two bins)'
            '</caption><tr><th>call</th><th>messages by size</th></tr>%s</table>\n'
            % "".join(rows))


def plot_mpi(run):
    title = "MPI time per rank"
    result, why = trace_summary(run)
    if result is None:
        return figure("mpi", not_recorded(title, why), "MPI time breakdown: " + esc(why) + ".")
    ranks = sorted(result.get("mpi_ranks") or [],
                   key=lambda r: (r.get("rank", 0), natural_key(r.get("host", ""))))
    errors = [t for t in result.get("check", {}).get("traces", []) if t.get("error")]
    if not ranks:
        why = "traced, but the trace has no MPI calls"
        return figure("mpi", not_recorded(title, why), esc(why) + ".")
    totals = {}
    for r in ranks:
        for call, cs in (r.get("calls") or {}).items():
            totals[call] = totals.get(call, 0.0) + float(cs.get("total_ms") or 0)
    calls = sorted(totals, key=lambda k: -totals[k])
    shown = calls[:9]
    colors = {call: PALETTE[i] for i, call in enumerate(shown)}
    legend = [(call, colors[call], "box") for call in shown]
    if len(calls) > len(shown):
        legend.append(("other calls", "#777", "box"))
    legend.append(("outside MPI (rest of the rank's span)", "#ececec", "box"))

    n = len(ranks)
    c = Chart(title, 260, legend, bottom=70)
    tallest = max(max(float(r.get("span_ms") or 0), float(r.get("mpi_ms") or 0)) for r in ranks)
    y_lo, y_hi, yt = linear_ticks(0, tallest if tallest > 0 else 1, 5)
    Y = Scale(y_lo, y_hi, c.y1, c.y0)
    c.frame()
    c.yaxis(Y, yt, fmt_tick, "ms")
    slot = (c.x1 - c.x0) / n
    bw = max(min(slot * 0.75, 48), min(slot, 1.0))
    label_w = max(max(text_width("r%s" % r.get("rank")), text_width(r.get("host") or ""))
                  for r in ranks) + 6
    every = 1
    for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        every = k
        if k * slot >= label_w:
            break
    for i, r in enumerate(ranks):
        x = c.x0 + i * slot + (slot - bw) / 2
        base = 0.0
        segs = [(call, float(cs.get("total_ms") or 0)) for call, cs in
                sorted((r.get("calls") or {}).items(), key=lambda kv: calls.index(kv[0]))]
        other = sum(v for call, v in segs if call not in colors)
        segs = [(call, v) for call, v in segs if call in colors]
        if other:
            segs.append(("other calls", other))
        outside = max(0.0, float(r.get("span_ms") or 0) - float(r.get("mpi_ms") or 0))
        segs.append(("outside MPI", outside))
        who = "%s rank %s" % (r.get("host"), r.get("rank"))
        out = ['<g class="rank-bar" data-rank="%s" data-host="%s">'
               % (esc(r.get("rank")), esc(r.get("host")))]
        for call, v in segs:
            if v <= 0:
                continue
            color = colors.get(call, "#777" if call == "other calls" else "#ececec")
            out.append('<rect class="seg" x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                       'fill="%s">%s</rect>'
                       % (x, Y(base + v), bw, max(Y(base) - Y(base + v), 0.3), color,
                          tip("%s: %s %.3f ms" % (who, call, v))))
            base += v
        out.append("</g>")
        c.add("".join(out))
        if i % every == 0:
            xc = x + bw / 2
            c.add('<text class="xtick" x="%.1f" y="%.1f">%s</text>'
                  % (xc, c.y1 + 15, esc("r%s" % r.get("rank"))))
            c.add('<text class="xtick host" x="%.1f" y="%.1f">%s</text>'
                  % (xc, c.y1 + 28, esc(r.get("host") or "")))
    c.add('<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
          % (c.x0, c.y1, c.x1, c.y1))
    c.add('<text class="xlabel" x="%.1f" y="%.1f">rank (host)%s</text>'
          % ((c.x0 + c.x1) / 2, c.y1 + 52, " — a label every %d" % every if every > 1 else ""))
    in_mpi = sum(float(r.get("mpi_ms") or 0) for r in ranks)
    span = sum(float(r.get("span_ms") or 0) for r in ranks)
    cap = ("Time each rank spent in each MPI call (stacked, ms; grey: the rest of the rank's "
           "span from its first MPI call to its last), from the LTTng trace (trace/, "
           "tracing/summary.py). %s; %.1f%% of their time in MPI."
           % (plural(n, "rank"), 100.0 * in_mpi / span if span else 0.0))
    if errors:
        cap += " %s could not be read fully: %s." % (
            plural(len(errors), "trace"), esc("; ".join("%s: %s" % (t.get("path"), t["error"]) for t in errors)))
    return figure("mpi", c.svg(), cap, sizes_table(result.get("message_sizes")))


# ---- Header and tables --------------------------------------------------------------------


def kv_table(cls, rows):
    body = "".join("<tr><th>%s</th><td>%s</td></tr>" % (esc(k), v) for k, v in rows)
    return '<table class="kv %s">%s</table>' % (cls, body)


def header(run):
    m = run.manifest
    name = m.get("name") or os.path.basename(os.path.normpath(run.path))
    color = STATUS_COLORS.get(run.status, "#555")
    status = '<span class="status" style="background:%s">%s</span>' % (color, esc(run.status))
    if run.status != m.get("status"):
        status += ' <span class="why">(manifest says %s; %s)</span>' % (
            esc(m.get("status")), esc(run.status_why))
    elif run.status_why:
        status += ' <span class="why">(%s)</span>' % esc(run.status_why)

    start, end = parse_iso_ms(m.get("started")), parse_iso_ms(m.get("ended"))
    duration = fmt_duration((end - start) / 1000.0) if start and end else "–"
    n_guests = len(run.guest_names())
    faults = [f for f in run.faults or [] if f.get("type") != "detection"]
    dets = [f for f in run.faults or [] if f.get("type") == "detection"]
    wl = [w for w in run.summary.get("workloads") or [] if isinstance(w, dict)]
    run_rows = [
        ("status", status),
        ("started", esc(m.get("started", "–"))),
        ("ended", esc(m.get("ended", "–"))),
        ("duration", esc(duration)),
        ("cluster", esc(m.get("cluster", "–"))),
        ("spec file", esc(m.get("spec_file", "–"))),
        ("seed", esc(m.get("seed", "–"))),
        ("fault seed", esc(m.get("fault_seed", "–"))),
        ("guests", "%d" % n_guests),
        ("events", "%d" % len(run.events) if run.events is not None else "not recorded"),
        ("faults", "%s (%d injected), %s" % (
            plural(len(faults), "fault"), sum(f.get("outcome") == "injected" for f in faults),
            plural(len(dets), "detection")) if run.faults is not None else "no faults.jsonl"),
        ("traced", "yes (trace/)" if os.path.isdir(os.path.join(run.path, "trace")) else "no"),
        ("directory", esc(os.path.abspath(run.path))),
    ]
    versions = m.get("versions") if isinstance(m.get("versions"), dict) else {}
    host = m.get("host") if isinstance(m.get("host"), dict) else {}
    timings = m.get("timings") if isinstance(m.get("timings"), dict) else {}
    host_rows = [(k, esc(v)) for k, v in sorted(host.items())]
    if "mem_mib" in host:
        host_rows = [(k, v + " MiB" if k == "mem_mib" else v) for k, v in host_rows]
    timing_rows = [(k, esc(fmt_duration(v) if is_num(v) else v)) for k, v in sorted(timings.items())]
    boxes = [
        "<div><h3>Run</h3>%s</div>" % kv_table("run", run_rows),
        "<div><h3>Versions</h3>%s</div>" % kv_table(
            "versions", [(k, esc(v)) for k, v in sorted(versions.items())] or [("–", "")]),
        "<div><h3>Host</h3>%s<h3>Timings</h3>%s</div>" % (
            kv_table("host", host_rows or [("–", "not recorded")]),
            kv_table("timings", timing_rows or [("–", "not recorded")])),
    ]
    out = ['<header><h1>%s</h1><p class="sub">microcosm run %s</p></header>'
           % (esc(name), esc(os.path.basename(os.path.normpath(os.path.abspath(run.path))))),
           '<section class="facts">%s</section>' % "".join(boxes)]
    if wl:
        rows = "".join(
            "<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td>%s</td></tr>"
            % (esc(w.get("workload")), esc(w.get("kind", "")), esc(w.get("runs", "")),
               "bad" if w.get("ok") != w.get("runs") else "", esc(w.get("ok", "")),
               esc(fmt_num(w.get("median_s")))) for w in wl)
        out.append('<h2>Workloads</h2><table class="grid workloads"><tr><th>workload</th>'
                   '<th>kind</th><th>runs</th><th>ok</th><th>median s</th></tr>%s</table>' % rows)
    out.append(metrics_table(run))
    return "\n".join(out)


def metrics_table(run):
    if not run.metrics:
        return '<h2>Metrics</h2><p class="note">not recorded (no metrics in summary.json, no ' \
               'successful repetition with results)</p>'
    rows = []
    for name, m in sorted(run.metrics.items(), key=lambda kv: natural_key(kv[0])):
        if not isinstance(m, dict):
            continue
        better = {"lower": "↓", "higher": "↑"}.get(m.get("better"), "")
        rows.append("<tr><td>%s</td><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s"
                    "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s"
                    "</td></tr>"
                    % (esc(name), esc((m.get("unit") or "") + (" " + better if better else "")),
                       esc(m.get("n", "")), esc(fmt_num(m.get("median"))),
                       esc(fmt_num(m.get("min"))), esc(fmt_num(m.get("max"))),
                       esc(fmt_num(m.get("mad")))))
    return ('<h2>Metrics</h2><p class="note">From %s; ↓ lower is better, ↑ higher is better; '
            'mad: median absolute deviation.</p><table class="grid metrics"><tr><th>metric</th>'
            '<th>unit</th><th>n</th><th>median</th><th>min</th><th>max</th><th>mad</th></tr>%s'
            '</table>' % (esc(run.metrics_source), "".join(rows)))


CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       margin: 0 auto; padding: 16px 24px 48px; max-width: 1060px; background: #fff; }
h1 { margin: 0; font-size: 26px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 13px; margin: 8px 0 4px; color: #555; text-transform: uppercase; }
header .sub { margin: 2px 0 12px; color: #666; }
.facts { display: grid; grid-template-columns: 1.3fr 1fr 1fr; gap: 18px; }
table { border-collapse: collapse; font-size: 13px; }
.kv th { text-align: left; font-weight: normal; color: #666; padding: 1px 10px 1px 0;
         vertical-align: top; white-space: nowrap; }
.kv td { padding: 1px 0; word-break: break-word; }
.grid th, .grid td { border-bottom: 1px solid #e3e3e3; padding: 3px 10px; text-align: left; }
.grid th { background: #f5f5f5; } .num { text-align: right; font-variant-numeric: tabular-nums; }
.metrics td:first-child { font-family: ui-monospace, monospace; font-size: 12px; }
td.bad { color: #c62828; font-weight: bold; }
.status { color: #fff; padding: 1px 8px; border-radius: 9px; font-weight: bold; }
.why, .note { color: #666; }
figure.plot { margin: 26px 0; padding: 10px 0 6px; border-top: 1px solid #ddd; }
figcaption { color: #444; font-size: 13px; margin-top: 4px; max-width: 960px; }
svg.chart { display: block; width: 100%; height: auto; margin-top: 6px; }
svg text { font-family: system-ui, sans-serif; font-size: 11px; fill: #333; }
svg .title { font-size: 15px; font-weight: bold; fill: #222; }
svg .legend { font-size: 12px; }
svg .xtick { text-anchor: middle; } svg .ytick { text-anchor: end; }
svg .xlabel, svg .ylabel { text-anchor: middle; font-size: 12px; fill: #444; }
svg .area { fill: #fcfcfc; stroke: none; }
svg .grid { stroke: #e6e6e6; stroke-width: 1; }
svg .axis, svg .tick { stroke: #444; stroke-width: 1; }
svg .total { stroke: #777; stroke-width: 1.2; stroke-dasharray: 5 4; }
svg .end-label { text-anchor: end; font-weight: bold; fill: #2e6b35; }
svg .missing { text-anchor: middle; font-size: 16px; font-weight: bold; fill: #999; }
svg .missing-why { text-anchor: middle; font-size: 12px; fill: #999; }
svg .fault, svg .fault-mark { fill: #111; stroke: #fff; stroke-width: 0.8; }
svg .fault.not-injected { fill: #fff; stroke: #111; }
svg line.fault-all { stroke: #111; stroke-width: 1.5; stroke-dasharray: 3 2; }
svg .detection, svg .detection-mark { fill: #ffdd00; stroke: #111; stroke-width: 1; }
svg .whisker { stroke: #333; stroke-width: 1.2; }
svg.timeline rect.span { shape-rendering: crispEdges; }
svg .point { stroke: #fff; stroke-width: 1; }
.sizes { margin-top: 8px; }
.sizes caption { text-align: left; color: #555; font-size: 13px; white-space: nowrap; }
.sizes td, .sizes th { border-bottom: 1px solid #eee; padding: 2px 10px 2px 0; text-align: left; }
footer { margin-top: 30px; color: #888; font-size: 12px; }
"""


def render(run):
    """The whole page as a string."""
    name = run.manifest.get("name") or os.path.basename(os.path.normpath(run.path))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s — microcosm report</title>" % esc(name),
        "<style>%s</style></head><body>" % CSS,
        header(run),
        "<h2>Plots</h2>",
        plot_ready(run),
        plot_boot(run),
        plot_timeline(run),
        plot_workloads(run),
        plot_mpi(run),
        "<footer>Written by reports/report.py at %s UTC. Inline SVG, no scripts, no network."
        "</footer>" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def write_atomic(path, text):
    """Writes text to a temporary file beside path and renames it over path."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


USAGE = "usage: report.py [-o FILE] RUN\n"


def main(argv):
    args = argv[1:]
    out = run_dir = None
    options = True  # until "--"
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if options and a == "--":
            options = False
        elif options and a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        elif options and a in ("-o", "--output"):
            if i >= len(args) or not args[i]:
                sys.stderr.write("report.py: %s needs a FILE\n" % a)
                return 2
            out = args[i]
            i += 1
        elif options and a.startswith("-") and a != "-":
            sys.stderr.write("report.py: unknown option '%s'\n%s" % (a, USAGE))
            return 2
        elif run_dir is not None:
            sys.stderr.write("report.py: one RUN only ('%s' is extra)\n" % a)
            return 2
        else:
            run_dir = a
    if run_dir is None:
        sys.stderr.write(USAGE)
        return 2
    if not os.path.isdir(run_dir):
        sys.stderr.write("report.py: %s: not a directory\n" % run_dir)
        return 1
    try:
        run = Run(run_dir)
        page = render(run)
        out = out or os.path.join(run_dir, "report.html")
        write_atomic(out, page)
    except (OSError, ValueError) as e:
        sys.stderr.write("report.py: %s\n" % e)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
