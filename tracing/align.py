#!/usr/bin/python3
"""align.py — puts a run's guest traces on the host's clock by rewriting their CTF metadata.

usage: align.py RUN_OR_TRACE_DIR

For each trace under RUN/trace (any folder holding a `metadata` file) whose CTF env
`hostname` has an entry in RUN/trace/clock-offsets.json, rewrites the `offset` (and
`offset_s`, when present) of every `clock { ... }` block of its metadata so that the
clock's origin moves by -offset_ns: the guest's events then read as host time, and
babeltrace2 and Trace Compass show all traces on one timeline without options.
It also records the shift as env entry `microcosm_clock_shift_ns = "N";`, which
summary.py reads so that it does not apply the offset twice.

The first run keeps the untouched file as .metadata.orig beside it; every run derives
the new metadata from that copy, so running it again changes nothing (and picks up
an edited clock-offsets.json). The copy's name starts with a dot because babeltrace2
reads every other file of a trace folder but `metadata` as a data stream (and fails
on a metadata.orig there), and Trace Compass skips only hidden files too.
Traces without an offset are left alone. Run it after the run has ended: LTTng
appends to metadata while a session is still active.

LTTng 2.13 writes metadata as a packetized stream (packets of 4096 bytes: a 37-byte
header with magic 0x75d11d57, the trace UUID, content and packet sizes in bits,
then text). The text is decoded from all packets, edited, and packetized again with
the same header fields and packet size. Plain-text metadata stays plain text.

Standard library only.
"""

import os
import re
import shutil
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for summary.py
from summary import CLOCK_SHIFT_ENV, find_traces, load_offsets, trace_root  # noqa: E402

# The untouched metadata, kept in the trace folder (hidden: see above).
ORIG_NAME = ".metadata.orig"

MAGIC = 0x75D11D57
HEADER_LEN = 37  # magic, uuid[16], checksum, content_size, packet_size, 5 x uint8
HEADER_REST = "16sIIIBBBBB"  # after the magic

CLOCK_RE = re.compile(r"(\bclock\s*\{)(.*?)(\};)", re.S)
ENV_RE = re.compile(r"(\benv\s*\{)(.*?)(\};)", re.S)


class MetadataError(Exception):
    pass


# ---- Packetized metadata ------------------------------------------------------------------


def decode(data):
    """(text, layout): the metadata text, and how it was packetized (None for plain text)."""
    if len(data) < 4:
        raise MetadataError("metadata is %d bytes long" % len(data))
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", data, 0)[0] == MAGIC:
            break
    else:
        return data.decode("utf-8"), None

    chunks = []
    layout = None
    off = 0
    while off < len(data):
        if off + HEADER_LEN > len(data):
            raise MetadataError("truncated packet header at byte %d" % off)
        magic, = struct.unpack_from(order + "I", data, off)
        (uuid, _cksum, content_bits, packet_bits, compression, encryption, cksum_scheme,
         major, minor) = struct.unpack_from(order + HEADER_REST, data, off + 4)
        if magic != MAGIC:
            raise MetadataError("bad packet magic %#x at byte %d" % (magic, off))
        if compression or encryption or cksum_scheme:
            raise MetadataError("compressed, encrypted or checksummed packets are not supported")
        if (packet_bits % 8 or content_bits % 8 or packet_bits < content_bits
                or content_bits < HEADER_LEN * 8):
            raise MetadataError("bad packet sizes (content %d, packet %d bits) at byte %d"
                                % (content_bits, packet_bits, off))
        if off + packet_bits // 8 > len(data):
            raise MetadataError("truncated packet at byte %d" % off)
        if layout is None:
            layout = {"order": order, "uuid": uuid, "packet_len": packet_bits // 8,
                      "major": major, "minor": minor}
        chunks.append(data[off + HEADER_LEN:off + content_bits // 8])
        off += packet_bits // 8
    return b"".join(chunks).decode("utf-8"), layout


def encode(text, layout):
    """The metadata file's bytes for text, packetized as layout says (or plain text)."""
    raw = text.encode("utf-8")
    if layout is None:
        return raw
    packet_len = layout["packet_len"]
    room = packet_len - HEADER_LEN
    out = []
    for start in range(0, len(raw), room):
        chunk = raw[start:start + room]
        header = struct.pack(layout["order"] + "I" + HEADER_REST, MAGIC, layout["uuid"], 0,
                             (HEADER_LEN + len(chunk)) * 8, packet_len * 8, 0, 0, 0,
                             layout["major"], layout["minor"])
        out.append(header + chunk + b"\0" * (room - len(chunk)))
    return b"".join(out)


# ---- Metadata text ------------------------------------------------------------------------


def _int_attr(body, name):
    m = re.search(r"\b%s\s*=\s*(-?(?:0[xX][0-9a-fA-F]+|\d+))\s*;" % name, body)
    return int(m.group(1), 0) if m else None


def _set_attr(body, name, value):
    pat = re.compile(r"(\b%s\s*=\s*)(-?(?:0[xX][0-9a-fA-F]+|\d+))(\s*;)" % name)
    if pat.search(body):
        return pat.sub(lambda m: "%s%d%s" % (m.group(1), value, m.group(3)), body, count=1)
    return body.rstrip() + "\n\t%s = %d;\n" % (name, value)


def shift_clocks(text, shift_ns):
    """text with every clock block's origin moved by -shift_ns; and the clocks' names."""
    names = []

    def one(m):
        body = m.group(2)
        freq = _int_attr(body, "freq") or 1000000000
        offset_s = _int_attr(body, "offset_s")
        offset = _int_attr(body, "offset") or 0
        name = re.search(r"\bname\s*=\s*\"?([^\";]*)\"?\s*;", body)
        names.append(name.group(1) if name else "?")
        # Exact integer arithmetic: the shift in cycles of this clock, rounded.
        delta = (shift_ns * freq + 500000000) // 1000000000
        cycles = (offset_s or 0) * freq + offset - delta
        if offset_s is not None:
            new_s, new_off = divmod(cycles, freq)
            body = _set_attr(body, "offset_s", new_s)
            body = _set_attr(body, "offset", new_off)
        else:
            body = _set_attr(body, "offset", cycles)
        return m.group(1) + body + m.group(3)

    return CLOCK_RE.sub(one, text), names


def env_hostname(text):
    m = ENV_RE.search(text)
    if not m:
        return None
    h = re.search(r"\bhostname\s*=\s*\"([^\"]*)\"\s*;", m.group(2))
    return h.group(1) if h else None


def set_env_shift(text, shift_ns):
    """text with the env entry that records the applied shift (added or replaced)."""
    m = ENV_RE.search(text)
    if not m:
        raise MetadataError("no env block")
    body = re.sub(r"\n?[ \t]*%s\s*=\s*\"[^\"]*\"\s*;" % CLOCK_SHIFT_ENV, "", m.group(2))
    body = body.rstrip() + '\n\t%s = "%d";\n' % (CLOCK_SHIFT_ENV, shift_ns)
    return text[:m.start()] + m.group(1) + body + m.group(3) + text[m.end():]


# ---- Files --------------------------------------------------------------------------------


def _write_like(path, data, like):
    """Replaces path by data atomically, with the permissions of file like."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    shutil.copymode(like, tmp)
    os.replace(tmp, path)


def align_trace(tdir, offsets):
    """Aligns one trace; returns (hostname, message)."""
    meta = os.path.join(tdir, "metadata")
    orig = os.path.join(tdir, ORIG_NAME)
    source = orig if os.path.exists(orig) else meta
    with open(source, "rb") as f:
        data = f.read()
    text, layout = decode(data)
    host = env_hostname(text)
    entry = offsets.get(host) if host else None
    if entry is None and source == meta:
        return host, "unchanged (no clock offset for %s)" % (host or "a trace without hostname")
    shift = entry["offset_ns"] if entry else 0
    new_text, clocks = shift_clocks(text, shift)
    if not clocks:
        raise MetadataError("no clock block")
    new_data = encode(set_env_shift(new_text, shift), layout)
    with open(meta, "rb") as f:
        current = f.read()
    if current == new_data:
        return host, "already aligned (clock shifted by %+.6f ms)" % (-shift / 1e6)
    if source == meta:
        _write_like(orig, data, meta)
    _write_like(meta, new_data, orig)
    return host, "clock %s shifted by %+.6f ms (original kept as %s)" % (
        ", ".join(clocks), -shift / 1e6, ORIG_NAME)


def main(argv):
    args = argv[1:]
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0
    if len(args) != 1:
        sys.stderr.write("usage: align.py RUN_OR_TRACE_DIR\n")
        return 2
    if not os.path.isdir(args[0]):
        sys.stderr.write("align.py: %s: not a directory\n" % args[0])
        return 1
    root = trace_root(args[0])
    try:
        offsets = load_offsets(root)
    except (OSError, ValueError) as e:
        sys.stderr.write("align.py: %s\n" % e)
        return 1
    traces = find_traces(root)
    if not traces:
        sys.stderr.write("align.py: %s: no CTF trace (no metadata file) found\n" % root)
        return 1
    status = 0
    for tdir in traces:
        rel = os.path.relpath(tdir, root)
        try:
            host, what = align_trace(tdir, offsets)
            print("%-12s %s: %s" % (host or "?", rel, what))
        except (OSError, UnicodeDecodeError, MetadataError) as e:
            sys.stderr.write("align.py: trace %s: %s\n" % (rel, e))
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
