#!/usr/bin/env python3
"""Quick figures for a running secure-echo, from one Python client process.

    scripts/quick-bench.py --pid PID --tls-port N --plain-port N

Prints a Markdown table. The client is single-threaded CPython, so message and handshake
rates are bound by the client, not the server; the server-CPU columns (read from
/proc/PID/stat) are the fairer figures. The project's own load generator is planned
(see the performance issue); until then this is what the README's table comes from.
"""
import argparse, os, socket, ssl, threading, time

TICK = os.sysconf("SC_CLK_TCK")

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx

def connect(port, tls, ctx):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(s, server_hostname="localhost") if tls else s

def recv_exact(s, n):
    got = bytearray()
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise RuntimeError("server closed")
        got += chunk
    return bytes(got)

def pingpong(pid, port, tls, ctx, seconds=3.0):
    s = connect(port, tls, ctx)
    line = b"x" * 63 + b"\n"
    count, cpu0, t0 = 0, cpu_seconds(pid), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s.sendall(line)
        if recv_exact(s, 64) != line:
            raise RuntimeError("echo mismatch")
        count += 1
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    s.close()
    return count / elapsed, cpu / count * 1e6

def flood(pid, port, tls, ctx, size=64 << 20):
    s = connect(port, tls, ctx)
    payload = os.urandom(size - 1) + b"\n"
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    writer = threading.Thread(target=s.sendall, args=(payload,))
    writer.start()
    got = bytearray()
    while len(got) < size:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += chunk
    writer.join()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    if bytes(got) != payload:
        raise RuntimeError("bulk echo mismatch")
    s.close()
    return size / elapsed / 1e6, size / cpu / 1e6 if cpu > 0 else float("inf")

def handshakes(pid, port, ctx, seconds=3.0):
    count, cpu0, t0 = 0, cpu_seconds(pid), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = connect(port, True, ctx)
        s.close()
        count += 1
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    return count / elapsed, cpu / count * 1e6

def hold(pid, port, tls, ctx, n=1000):
    before = rss_kib(pid)
    conns = [connect(port, tls, ctx) for _ in range(n)]
    time.sleep(0.5)
    per = (rss_kib(pid) - before) / n
    for c in conns:
        c.close()
    return per

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--tls-port", type=int, required=True)
    ap.add_argument("--plain-port", type=int, required=True)
    a = ap.parse_args()
    ctx = client_context()
    rows = []
    for name, port, tls in (("tls", a.tls_port, True), ("plain", a.plain_port, False)):
        rate, cpu = pingpong(a.pid, port, tls, ctx)
        rows.append((name, "1 conn × 64 B lines, echo/s", f"{rate:,.0f}", f"{cpu:.1f} µs per echo"))
        mbs, per_core = flood(a.pid, port, tls, ctx)
        rows.append((name, "1 conn bulk echo, 64 MiB, MB/s", f"{mbs:,.0f}", f"{per_core:,.0f} MB per server CPU-second"))
        kib = hold(a.pid, port, tls, ctx)
        rows.append((name, "1 000 idle connections, server KiB each", f"{kib:.1f}", "VmRSS delta"))
    rate, cpu = handshakes(a.pid, a.tls_port, ctx)
    rows.append(("tls", "full handshakes/s (1 in flight)", f"{rate:,.0f}", f"{cpu:.0f} µs server CPU each"))
    print("| port | workload | result | server cost |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")

if __name__ == "__main__":
    main()
