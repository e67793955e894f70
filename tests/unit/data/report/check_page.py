#!/usr/bin/python3
"""check_page.py — checks a report page as Chromium rendered it, for tests/unit/test_report.sh.

usage: check_page.py probe REPORT.html PROBE.html
       check_page.py dom DOM.html EXPECT.json
       check_page.py png SCREENSHOT.png DOM.html
       check_page.py crop SCREENSHOT.png X Y W H OUT.png

probe  writes a copy of the page with a script appended that records, after layout,
       each figure's box (data-rect="x y w h", page pixels) and the page height
       (data-page-height on <body>): attributes only, so the layout stays the same.
dom    checks the DOM Chromium dumped (--dump-dom of the probe) against EXPECT.json:
         {"figures": ["ready", ...], "guests": 40, "ready_final": 40, "faults": 1,
          "detections": 1, "series": 3, "rank_bars": 8, "boot_bars_min": 2,
          "not_recorded": ["workloads"], "texts": ["finished"]}
       (keys are optional); prints the page height.
png    decodes the screenshot (zlib, no imaging library) and checks that every figure's
       box holds drawn pixels: enough non-white pixels and distinct colours.
crop   writes a part of a screenshot as a PNG, to look at one plot.

Exits 1 with the reasons when a check fails.
"""

import json
import struct
import sys
import zlib
from html.parser import HTMLParser

PROBE = """<script>
(function () {
  for (const f of document.querySelectorAll("figure.plot")) {
    const r = f.getBoundingClientRect();
    f.setAttribute("data-rect", [r.left + scrollX, r.top + scrollY, r.width, r.height]
                   .map(Math.round).join(" "));
  }
  document.body.setAttribute("data-page-height",
                             Math.ceil(document.body.getBoundingClientRect().bottom + scrollY));
})();
</script>"""


def fail(msgs):
    for m in msgs:
        sys.stderr.write("check_page.py: %s\n" % m)
    sys.exit(1)


# ---- DOM ----------------------------------------------------------------------------------


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def all_text(self):
        return "".join(t for n in self.walk() for t in n.text)


VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "wbr", "source"}


class Tree(HTMLParser):
    """A forgiving tree of the dumped DOM (Chromium's serialization is well formed)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def parse(path):
    t = Tree()
    with open(path, encoding="utf-8") as f:
        t.feed(f.read())
    return t.root


def figures(root):
    return {n.attrs.get("id"): n for n in root.walk()
            if n.tag == "figure" and "plot" in n.classes()}


def count(node, tag=None, cls=None):
    return sum(1 for n in node.walk()
               if (tag is None or n.tag == tag) and (cls is None or cls in n.classes()))


def check_dom(dom_path, expect_path):
    with open(expect_path) as f:
        want = json.load(f)
    root = parse(dom_path)
    figs = figures(root)
    errs = []
    for fid in want.get("figures", []):
        if fid not in figs:
            errs.append("figure #%s missing (have %s)" % (fid, sorted(figs)))
            continue
        f = figs[fid]
        if not any(n.tag == "figcaption" for n in f.children):
            errs.append("figure #%s has no figcaption" % fid)
        svg = [n for n in f.walk() if n.tag == "svg"]
        if not svg:
            errs.append("figure #%s has no svg" % fid)
        elif not any("title" in n.classes() and n.all_text().strip() for n in svg[0].walk()):
            errs.append("figure #%s: its plot has no title" % fid)
    for fid in want.get("not_recorded", []):
        if fid in figs and "not recorded" not in figs[fid].all_text():
            errs.append("figure #%s should say 'not recorded'" % fid)
    for fid in want.get("recorded", []):
        if fid in figs and "not recorded" in figs[fid].all_text():
            errs.append("figure #%s says 'not recorded'" % fid)

    if "guests" in want and "timeline" in figs:
        rows = [n for n in figs["timeline"].walk() if "guest-row" in n.classes()]
        names = {n.attrs.get("data-guest") for n in rows}
        if len(rows) != want["guests"] or len(names) != want["guests"]:
            errs.append("timeline: %d rows (%d guests), want one per guest: %d"
                        % (len(rows), len(names), want["guests"]))
        empty = [n.attrs.get("data-guest") for n in rows if not count(n, "rect", "span")]
        if want.get("every_row_spans") and empty:
            errs.append("timeline: rows without state spans: %s" % empty[:5])
        labels = [n for n in figs["timeline"].walk() if "ytick" in n.classes()]
        if not labels or len(labels) > 80:
            errs.append("timeline: %d guest labels: want between 1 and 80" % len(labels))
    for key, cls in (("faults", "fault"), ("detections", "detection")):
        if key in want and "timeline" in figs:
            marks = [n for n in figs["timeline"].walk()
                     if cls in n.classes() and n.tag == "path"]
            if len(marks) != want[key]:
                errs.append("timeline: %d %s markers, want %d" % (len(marks), cls, want[key]))
            guest = want.get("fault_guest")
            if guest and marks and not all(n.attrs.get("data-guest") == guest for n in marks):
                errs.append("timeline: %s markers not on %s's row" % (cls, guest))
    if "ready_final" in want and "ready" in figs:
        curves = [n for n in figs["ready"].walk() if "ready-curve" in n.classes()]
        if len(curves) != 1:
            errs.append("ready: %d ready curves, want 1" % len(curves))
        else:
            final = curves[0].attrs.get("data-final-count")
            d = curves[0].attrs.get("d", "")
            if final != str(want["ready_final"]):
                errs.append("ready: curve ends at %s guests, want %d"
                            % (final, want["ready_final"]))
            if not d.startswith("M") or "V" not in d:
                errs.append("ready: curve path is no step curve: %.80s" % d)
        if "%d ready" % want["ready_final"] not in figs["ready"].all_text():
            errs.append("ready: no '%d ready' end label" % want["ready_final"])
    if "boot_bars_min" in want and "boot-times" in figs:
        bars = count(figs["boot-times"], "rect", "bar")
        if bars < want["boot_bars_min"]:
            errs.append("boot-times: %d bars, want at least %d" % (bars, want["boot_bars_min"]))
    if "series" in want and "workloads" in figs:
        series = [n for n in figs["workloads"].walk() if "series" in n.classes()]
        if len(series) != want["series"]:
            errs.append("workloads: %d series, want %d: %s"
                        % (len(series), want["series"],
                           [n.attrs.get("data-series") for n in series]))
        for n in series:
            if count(n, "circle", "point") < 2:
                errs.append("workloads: series %s has fewer than 2 points"
                            % n.attrs.get("data-series"))
        if want.get("bars") and not count(figs["workloads"], "g", "metric-bar"):
            errs.append("workloads: no bars for the workloads without sizes")
        if "log scale" not in figs["workloads"].all_text():
            errs.append("workloads: no log-scale axis label")
    if "rank_bars" in want and "mpi" in figs:
        bars = [n for n in figs["mpi"].walk() if "rank-bar" in n.classes()]
        if len(bars) != want["rank_bars"]:
            errs.append("mpi: %d rank bars, want %d" % (len(bars), want["rank_bars"]))
        if bars and count(bars[0], "rect", "seg") < 3:
            errs.append("mpi: rank bars are not stacked (fewer than 3 segments)")
    if "mpi_note" in want and "mpi" in figs:
        if want["mpi_note"] not in figs["mpi"].all_text():
            errs.append("mpi: no note '%s'" % want["mpi_note"])
    page = root.all_text()
    for t in want.get("texts", []):
        if t not in page:
            errs.append("page: no text '%s'" % t)
    if count(root, "script") > 1:  # the probe's own
        errs.append("page: has scripts")
    body = [n for n in root.walk() if n.tag == "body"]
    if errs:
        fail(errs)
    print(body[0].attrs.get("data-page-height", "0") if body else "0")


# ---- PNG ----------------------------------------------------------------------------------


def read_png(path):
    """(width, height, rows): rows of (r, g, b) tuples; 8-bit RGB or RGBA, not interlaced."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _c, _f, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("%s: want 8-bit RGB(A), not interlaced (depth %d, type %d)"
                         % (path, depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ft == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ft == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def write_png(path, w, h, bpp, rows):
    ctype = 2 if bpp == 3 else 6
    raw = b"".join(b"\x00" + r for r in rows)

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype,
                                                                    0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def region_stats(w, h, bpp, rows, x, y, rw, rh):
    """(non-white share, distinct colours) in a box clipped to the image."""
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(w, x + rw), min(h, y + rh)
    if x1 <= x0 or y1 <= y0:
        return 0.0, 0, 0
    colours, ink, total = set(), 0, 0
    for yy in range(y0, y1):
        r = rows[yy]
        for xx in range(x0, x1):
            px = r[xx * bpp:xx * bpp + 3]
            total += 1
            colours.add(px)
            if px[0] < 235 or px[1] < 235 or px[2] < 235:
                ink += 1
    return ink / total, len(colours), total


def check_png(png_path, dom_path):
    w, h, bpp, rows = read_png(png_path)
    errs = []
    share, ncol, _t = region_stats(w, h, bpp, rows, 0, 0, w, h)
    print("screenshot %dx%d: %.1f%% non-white, %d colours" % (w, h, 100 * share, ncol))
    if share < 0.02 or ncol < 16:
        errs.append("the screenshot looks blank (%.2f%% non-white, %d colours)"
                    % (100 * share, ncol))
    for fid, f in sorted(figures(parse(dom_path)).items()):
        rect = f.attrs.get("data-rect")
        if not rect:
            errs.append("figure #%s: no data-rect (probe did not run?)" % fid)
            continue
        x, y, rw, rh = (int(v) for v in rect.split())
        if y >= h:
            errs.append("figure #%s at y=%d is below the screenshot (%d px)" % (fid, y, h))
            continue
        share, ncol, total = region_stats(w, h, bpp, rows, x, y, rw, rh)
        empty = "not recorded" in f.all_text()
        need_share, need_col = (0.005, 4) if empty else (0.02, 6)
        print("  #%-11s %4dx%-4d at y=%-5d %5.1f%% non-white, %4d colours%s"
              % (fid, rw, rh, y, 100 * share, ncol, " (not recorded)" if empty else ""))
        if share < need_share or ncol < need_col:
            errs.append("figure #%s looks blank: %.2f%% non-white, %d colours in %d px"
                        % (fid, 100 * share, ncol, total))
    if errs:
        fail(errs)


def main(argv):
    if len(argv) == 4 and argv[1] == "probe":
        with open(argv[2], encoding="utf-8") as f:
            page = f.read()
        if "</body>" not in page:
            fail(["%s: no </body>" % argv[2]])
        with open(argv[3], "w", encoding="utf-8") as f:
            f.write(page.replace("</body>", PROBE + "</body>", 1))
        return 0
    if len(argv) == 4 and argv[1] == "dom":
        check_dom(argv[2], argv[3])
        return 0
    if len(argv) == 4 and argv[1] == "png":
        check_png(argv[2], argv[3])
        return 0
    if len(argv) == 8 and argv[1] == "crop":
        w, h, bpp, rows = read_png(argv[2])
        x, y, cw, ch = (int(v) for v in argv[3:7])
        x1, y1 = min(w, x + cw), min(h, y + ch)
        write_png(argv[7], x1 - x, y1 - y, bpp, [r[x * bpp:x1 * bpp] for r in rows[y:y1]])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
