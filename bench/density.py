#!/usr/bin/env python3
"""bench/density.py — how many guests one host holds, cloned from a booted template.

For N = 100, 250, 500, 1000, 1500, 2000, ... (until admission control refuses) it brings
N clones up, and measures time to all ready, spawn rate, PSS per guest (smaps_rollup of
each guest's QEMU, summed), host MemAvailable, idle CPU per guest over a window, and that
`exec all -- true` answers N times. In the same run it cold-boots a smaller N
(--spawn boot) and prints the clone/boot spawn-rate ratio. Writes JSON and an SVG plot.

Run by hand as root (not in CI):  bench/density.py [--sizes 100,250,...] [-- UP-OPTIONS]
"""
import argparse, json, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def ticks(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            v = f.read().rsplit(')', 1)[1].split()
        return int(v[11]) + int(v[12])
    except OSError:
        return None


def pss_kib(pid):
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mem_available_mib():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) // 1024
    return 0


def host_busy():
    with open('/proc/stat') as f:
        v = list(map(int, f.readline().split()[1:]))
    return sum(v) - v[3] - v[4], sum(v)


def run_size(mc, cluster, n, up_opts, window, spawn):
    t0 = time.time()
    up = sh([mc, 'up', '-q', '-c', cluster, '-n', str(n), '--spawn', spawn] + up_opts)
    t_up = time.time() - t0
    if up.returncode != 0 and 'not enough' in up.stderr:
        return {'guests': n, 'refused': up.stderr.strip().splitlines()[-1]}
    ls = json.loads(sh([mc, 'ls', '-c', cluster, '--json']).stdout or '{}')
    guests = ls.get('guests', [])
    ready = [g for g in guests if g['state'] == 'ready']
    boots = sorted(g['boot_ms'] for g in ready if g['boot_ms'] >= 0)
    pids = [g['pid'] for g in ready if g['pid'] > 0]
    r = {'guests': n, 'spawn': spawn, 'ready': len(ready), 'up_rc': up.returncode,
         'time_to_ready_s': round(t_up, 2), 'spawn_rate_per_s': round(len(ready) / t_up, 2),
         'boot_ms_median': statistics.median(boots) if boots else None,
         'boot_ms_max': boots[-1] if boots else None,
         'all_ready_ms': ls.get('all_ready_ms')}
    time.sleep(10)  # let the last guests settle into idle
    hz = os.sysconf('SC_CLK_TCK')
    t_a = {p: ticks(p) for p in pids}
    b0, a0 = host_busy()
    time.sleep(window)
    b1, a1 = host_busy()
    cpu = sorted((ticks(p) - t_a[p]) / hz / window * 100.0 for p in pids
                 if t_a[p] is not None and ticks(p) is not None)
    pss = sum(pss_kib(p) for p in pids) / 1024.0
    r.update({'pss_mib_per_guest': round(pss / max(len(pids), 1), 2),
              'pss_mib_total': round(pss, 1),
              'idle_cpu_pct_core_per_guest_median': round(statistics.median(cpu), 4) if cpu else None,
              'idle_cpu_pct_core_per_guest_mean': round(sum(cpu) / len(cpu), 4) if cpu else None,
              'host_cpu_pct_all_cores': round((b1 - b0) / max(a1 - a0, 1) * 100.0, 2),
              'host_mem_available_mib': mem_available_mib()})
    ex = sh([mc, 'exec', '-c', cluster, '--table', '--timeout', '60s', 'all', '--', 'true'])
    r['exec_answers'] = sum(1 for line in ex.stdout.splitlines()[1:] if line.split()[3:4] == ['0'])
    r['exec_ok'] = ex.returncode == 0
    t0 = time.time()
    sh([mc, 'down', '-c', cluster])
    r['down_s'] = round(time.time() - t0, 2)
    left = sh(['pgrep', '-f', f'/{cluster}/guests/']).stdout.split()
    r['left_behind_processes'] = len(left)
    return r


def svg_plot(rows, path):
    """Two panels over the guest count: time to all ready; memory per guest and host."""
    rows = [r for r in rows if 'ready' in r and r.get('spawn') == 'clone']
    if not rows:
        return
    W, PH, L = 720, 230, 70
    xs = [r['guests'] for r in rows]
    xmax = max(xs) * 1.05
    X = lambda v: L + (W - L - 20) * v / xmax
    panels = [('time to all ready (s)', [('time to all ready (s)', lambda r: r['time_to_ready_s'], '#1f77b4')]),
              ('memory', [('PSS per guest (MiB)', lambda r: r['pss_mib_per_guest'], '#d62728'),
                          ('host MemAvailable (GiB)', lambda r: r['host_mem_available_mib'] / 1024, '#2ca02c')])]
    H = 30 + PH * len(panels)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">microcosm density: clones on one host</text>']
    for k, (title, series) in enumerate(panels):
        top, bottom = 30 + k * PH + 10, 30 + (k + 1) * PH - 30
        ymax = max(f(r) for _, f, _ in series for r in rows) * 1.15 or 1
        Y = lambda v: bottom - (bottom - top) * v / ymax
        out.append(f'<line x1="{L}" y1="{bottom}" x2="{W-20}" y2="{bottom}" stroke="black"/>')
        out.append(f'<line x1="{L}" y1="{bottom}" x2="{L}" y2="{top}" stroke="black"/>')
        for t in range(5):
            v = ymax * t / 4
            out.append(f'<text x="{L-6}" y="{Y(v)+4}" text-anchor="end">{v:.0f}</text>')
            out.append(f'<line x1="{L}" y1="{Y(v)}" x2="{W-20}" y2="{Y(v)}" stroke="#ddd"/>')
        for x in xs:
            out.append(f'<text x="{X(x)}" y="{bottom+16}" text-anchor="middle">{x} guests</text>')
        for n, (label, f, color) in enumerate(series):
            pts = [(X(r['guests']), Y(f(r))) for r in rows]
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
                color, ' '.join(f'{a:.1f},{b:.1f}' for a, b in pts)))
            for (a, b), r in zip(pts, rows):
                out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>')
                out.append(f'<text x="{a+5:.1f}" y="{b-5:.1f}" fill="{color}">{f(r):.1f}</text>')
            out.append(f'<rect x="{L+10}" y="{top+4+n*16}" width="12" height="3" fill="{color}"/>')
            out.append(f'<text x="{L+28}" y="{top+9+n*16}">{label}</text>')
    out.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mc', default=os.path.join(HERE, '..', 'build', 'harness', 'microcosm'))
    ap.add_argument('--sizes', default='100,250,500,1000,1500,2000,3000,4000')
    ap.add_argument('--boot-n', type=int, default=16, help='guests for the cold-boot baseline')
    ap.add_argument('--window', type=float, default=30.0, help='idle CPU window, s')
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'bench-results'))
    ap.add_argument('up_opts', nargs='*', help='extra options for `microcosm up` (after --)')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    os.environ.setdefault('MC_STATE_DIR', '/run/microcosm-bench')
    cluster = 'bench-density'
    sh([a.mc, 'down', '-c', cluster])
    # Warm-up: the template is built once, outside the measured spawns.
    b = sh([a.mc, 'template', 'build'] + [o for o in a.up_opts if o != '--density'])
    if b.returncode != 0:
        print(b.stderr, file=sys.stderr)
        return 1
    rows = []
    print('%-6s %-5s %6s %9s %9s %10s %10s %10s %11s %8s' % (
        'spawn', 'N', 'ready', 'ready_s', 'rate/s', 'boot_med', 'pss_mib', 'cpu%core', 'avail_mib', 'exec'))
    for n in [a.boot_n] + [int(s) for s in a.sizes.split(',')]:
        spawn = 'boot' if not rows else 'clone'
        opts = a.up_opts
        if spawn == 'boot':
            # The baseline boots with the default translation buffer: a small one is a
            # clone setting and would only slow the cold boots down.
            opts = [o for i, o in enumerate(a.up_opts)
                    if o != '--tb-size' and (i == 0 or a.up_opts[i - 1] != '--tb-size')]
        r = run_size(a.mc, cluster, n, opts, a.window, spawn)
        rows.append(r)
        if 'refused' in r:
            print(f'{spawn:6} {n:<5} refused by admission control: {r["refused"]}')
            break
        print('%-6s %-5d %6d %9.1f %9.2f %10s %10.2f %10s %11d %8s' % (
            spawn, n, r['ready'], r['time_to_ready_s'], r['spawn_rate_per_s'], r['boot_ms_median'],
            r['pss_mib_per_guest'], r['idle_cpu_pct_core_per_guest_median'],
            r['host_mem_available_mib'], r['exec_answers']), flush=True)
        if r['ready'] < n:
            print(f'       only {r["ready"]} of {n} ready: stopping', flush=True)
            break
    boot = rows[0]
    clones = [r for r in rows[1:] if r.get('ready')]
    if clones and boot.get('spawn_rate_per_s'):
        med = statistics.median(r['spawn_rate_per_s'] for r in clones)
        ratio = med / boot['spawn_rate_per_s']
        print(f'clone/boot spawn rate: {med:.2f} / {boot["spawn_rate_per_s"]:.2f} guests/s = {ratio:.1f}x '
              f'(median clone rate over {len(clones)} sizes)')
    else:
        ratio = None
    stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
    doc = {'when': stamp, 'up_options': a.up_opts, 'rows': rows, 'clone_boot_rate_ratio': ratio,
           'host': {'cpus': os.cpu_count(), 'mem_available_mib_start': mem_available_mib()}}
    jpath = os.path.join(a.out, f'density-{stamp}.json')
    with open(jpath, 'w') as f:
        json.dump(doc, f, indent=2)
    spath = os.path.join(a.out, f'density-{stamp}.svg')
    svg_plot(rows, spath)
    print(f'wrote {jpath} and {spath}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
