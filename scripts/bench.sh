#!/usr/bin/env bash
# Benchmarks secure-echo side by side with the TLS echo servers people use instead, all driven
# by the same load generator (secure-echo-bench, release build) on OS-chosen ports, and writes
# a Markdown table with ratios to the best peer to bench/results/latest.md, a chart of the same
# figures to bench/results/latest.svg and .png (gnuplot), and libssl's own floor
# (secure-echo-bench floor).
#
#   scripts/bench.sh                      # every server found or buildable here
#   BENCH_SERVERS="secure-echo nio" BENCH_DURATION=10 BENCH_RUNS=3 scripts/bench.sh
#
# With BENCH_RUNS=N every timed workload runs N times; the table shows each figure's median with
# its min–max. A second table has tail latency (p50, p99, p99.9) with every server on one loop
# pinned to CPU 0 and the load generator on CPU 1. secure-echo also runs 100 × 1 KiB ping-pong alone and then again while 19 000 idle
# TLS connections are held (opened 64 handshakes at a time): cost must not grow with connections.
# BENCH_REPORT_ONLY=1 measures nothing: it redraws the table and chart from the last results
# (bench/results/latest.jsonl.txt).
#
# Servers: secure-echo; secure-echo-io_uring (the same with --poller io_uring) and secure-echo-1loop
# (the same with --threads 1), variants shown beside it and never counted as peers; nio (SwiftNIO + NIOSSL, bench/peers/nio-echo, first release build ~3 min);
# node (Node.js tls); python (asyncio ssl); socat (OPENSSL-LISTEN fork PIPE). socat and nodejs are
# installed with apt-get when missing, and gnuplot for the chart. Every server gets the same
# ECDSA P-256 certificate.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${BENCH_DURATION:-5}"
runs="${BENCH_RUNS:-1}"
servers="${BENCH_SERVERS:-secure-echo secure-echo-io_uring secure-echo-1loop nio node python socat}"
results=bench/results
mkdir -p "$results"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

report_only="${BENCH_REPORT_ONLY:-0}"
need=()
if [ "$report_only" != 1 ]; then
    [[ " $servers " == *" socat "* ]] && ! command -v socat >/dev/null && need+=(socat)
    [[ " $servers " == *" node "* ]] && ! command -v node >/dev/null && need+=(nodejs)
fi
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if ((${#need[@]})); then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y --no-install-recommends "${need[@]}" >/dev/null || true
fi

measure() {
echo "building release binaries" >&2
swift build -c release >/dev/null
bench=.build/release/secure-echo-bench
if [[ " $servers " == *" nio "* ]]; then
    echo "building the SwiftNIO peer (bench/peers/nio-echo)" >&2
    swift build -c release --package-path bench/peers/nio-echo >/dev/null
fi
scripts/gen-certs.sh --out "$work/certs" >/dev/null
cert="$work/certs/server.pem"; key="$work/certs/server.key"

# start NAME COMMAND...: runs a server whose first stdout line carries its port; sets $port, $pid.
start() {
    local name="$1"; shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!; pids+=("$pid")
    for _ in $(seq 1 300); do
        port="$(head -n1 "$work/$name.out" 2>/dev/null | grep -oE '[0-9]+$' || true)"
        [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start: $(cat "$work/$name.err")" >&2
    return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_server NAME [pinned]: pinned runs the server with one loop (thread) on CPU 0 only.
run_server() {
    local name="$1" pin=() loops=()
    if [ "${2:-}" = pinned ]; then pin=(taskset -c 0); fi
    case "$name" in
        secure-echo|secure-echo-io_uring|secure-echo-1loop)
            # Pinned, every server has one loop: secure-echo-1loop would repeat secure-echo.
            ((${#pin[@]})) && { [ "$name" = secure-echo-1loop ] && return 1; loops=(--threads 1); }
            [ "$name" = secure-echo-io_uring ] && loops+=(--poller io_uring)
            [ "$name" = secure-echo-1loop ] && loops+=(--threads 1)
            start "$name" ${pin[@]+"${pin[@]}"} .build/release/secure-echo --tls-port 0 --no-plain --cert "$cert" --key "$key" \
                --log-level error --max-connections 19500 ${loops[@]+"${loops[@]}"} ;;
        nio)
            ((${#pin[@]})) && loops=(1)
            start "$name" ${pin[@]+"${pin[@]}"} "$(swift build -c release --package-path bench/peers/nio-echo --show-bin-path)/nio-echo" \
                "$cert" "$key" ${loops[@]+"${loops[@]}"} ;;
        # Node and asyncio serve from one thread already.
        node) command -v node >/dev/null || return 1; start "$name" ${pin[@]+"${pin[@]}"} node bench/peers/node-echo.js "$cert" "$key" ;;
        python) start "$name" ${pin[@]+"${pin[@]}"} python3 bench/peers/python-echo.py "$cert" "$key" ;;
        socat)
            # A process per connection: there is no one-thread socat to pin.
            ((${#pin[@]})) && return 1
            command -v socat >/dev/null || return 1
            local p; p="$(free_port)"
            start "$name" sh -c "echo $p; exec socat OPENSSL-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork,backlog=1024,cert=$cert,key=$key,verify=0 PIPE"
            for _ in $(seq 1 50); do nc.openbsd -z 127.0.0.1 "$p" 2>/dev/null && break; sleep 0.1; done ;;
        *) echo "unknown server $name" >&2; return 1 ;;
    esac
}

# libssl alone, in-process: the floor under every OpenSSL-based server here.
echo "== libssl floor" >&2
"$bench" floor --duration "$duration" --connections 2000 --json | sed "s/^/libssl floor /" >>"$work/results.txt"

stop_server() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }

# timed WORKLOAD NAME PORT PID [PREFIX...]: one run of a timed workload, its JSON line prefixed
# by server and workload name.
timed() {
    local workload="$1" name="$2" port="$3" pid="$4"; shift 4
    local common=(--port "$port" --pid "$pid" --json)
    case "$workload" in
        pingpong1|pinned1) "$@" "$bench" pingpong --connections 1 --size 64 --duration "$duration" "${common[@]}" ;;
        pingpong100|pinned100) "$@" "$bench" pingpong --connections 100 --size 1024 --duration "$duration" "${common[@]}" ;;
        pingpong16k|pinned16k) "$@" "$bench" pingpong --connections 10 --size 16384 --duration "$duration" "${common[@]}" ;;
        handshake) "$@" "$bench" handshake --connections 8 --duration "$duration" "${common[@]}" ;;
        flood) "$@" "$bench" flood --bytes $((256 << 20)) "${common[@]}" ;;
    esac | sed "s/^/$name $workload /"
}

# interleave [pinned] WORKLOAD...: every server up at once (an idle one sleeps in its poller and
# costs the others nothing), and each run goes through every workload on every server in turn.
# The machine drifts over the minutes of a run; measured this way, a drift touches every server
# alike instead of whichever happened to run last.
interleave() {
    local mode="" prefix=() up=() name run workload
    if [ "$1" = pinned ]; then mode=pinned; prefix=(taskset -c 1); shift; fi
    declare -A ports=() server_pids=()
    for name in $servers; do
        if ! run_server "$name" $mode; then echo "skipping $name${mode:+ ($mode)}" >&2; continue; fi
        ports[$name]=$port; server_pids[$name]=$pid; up+=("$name")
    done
    echo "== ${mode:-default configuration}: ${up[*]}" >&2
    for run in $(seq 1 "$runs"); do
        for workload in "$@"; do
            for name in "${up[@]}"; do
                timed "$workload" "$name" "${ports[$name]}" "${server_pids[$name]}" ${prefix[@]+"${prefix[@]}"} >>"$work/results.txt" \
                    || echo "$name: $workload failed (run $run)" >&2
            done
        done
    done
    # An idle server must use no CPU at all: its loops sleep in the poller.
    for name in "${up[@]}"; do
        [ -z "$mode" ] && [[ "$name" == secure-echo* ]] && idle_cpu "$name" "${server_pids[$name]}" >>"$work/results.txt"
        kill "${server_pids[$name]}" 2>/dev/null || true; wait "${server_pids[$name]}" 2>/dev/null || true
    done
}

# idle_cpu NAME PID: the server's CPU time over 3 s with no client, in clock ticks.
idle_cpu() {
    local before after
    before=$(awk '{print $14 + $15}' "/proc/$2/stat"); sleep 3; after=$(awk '{print $14 + $15}' "/proc/$2/stat")
    echo "$1 idle {\"seconds\":3,\"serverCPUTicks\":$((after - before))}"
}

for name in $servers; do
    # The memory workloads each get a fresh server: memory that earlier workloads grew and freed
    # would be reused and hide the real cost.
    if ! run_server "$name"; then echo "skipping $name" >&2; continue; fi
    echo "== $name memory (pid $pid, port $port)" >&2
    "$bench" flood --port "$port" --bytes $((64 << 20)) --no-read --pid "$pid" --json | sed "s/^/$name noread /" >>"$work/results.txt" \
        || echo "$name: the backpressure workload failed" >&2
    stop_server
    run_server "$name" || continue
    "$bench" hold --port "$port" --connections 5000 --duration 2 --pid "$pid" --json | sed "s/^/$name hold /" >>"$work/results.txt" \
        || echo "$name: the hold workload failed" >&2
    stop_server
done

interleave pingpong1 pingpong100 pingpong16k handshake flood

# Tail latency where it is stable here: each server with one loop (thread) on CPU 0, the load
# generator on CPU 1, so that neither waits for the other's core.
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    interleave pinned pinned1 pinned100 pinned16k
fi

# Flat cost with open connections: the same ping-pong alone and beside 19 000 idle TLS
# connections (the per-process descriptor limit here is 20 000), on one fresh server. It runs
# alone both before the idle connections open and after they close, so a machine that drifts
# over the minutes of the workload does not pass for a cost of holding them.
if [[ " $servers " == *" secure-echo "* ]]; then
    idle=19000
    # busy LABEL: $runs runs of 100 × 1 KiB ping-pong, recorded as secure-echo LABEL.
    busy() {
        for _ in $(seq 1 "$runs"); do
            "$bench" pingpong --port "$port" --connections 100 --size 1024 --duration "$duration" --pid "$pid" --json | sed "s/^/secure-echo $1 /"
        done >>"$work/results.txt"
    }
    run_server secure-echo && {
        echo "== secure-echo, 100 × 1 KiB alone and beside $idle idle TLS connections (pid $pid)" >&2
        busy busyalone
        "$bench" hold --port "$port" --connections "$idle" --in-flight 64 --duration $((runs * (${duration%.*} + 3) + 10)) \
            --pid "$pid" --json >"$work/hold-idle.json" &
        holder=$!
        for _ in $(seq 1 1800); do
            [ "$(ls /proc/"$pid"/fd | wc -l)" -ge $((idle + 8)) ] && break
            kill -0 "$holder" 2>/dev/null || break
            sleep 0.1
        done
        sleep 2
        busy busyidle
        wait "$holder" && sed "s/^/secure-echo holdidle /" "$work/hold-idle.json" >>"$work/results.txt" || echo "holding $idle connections failed" >&2
        for _ in $(seq 1 600); do
            [ "$(ls /proc/"$pid"/fd | wc -l)" -lt 100 ] && break
            sleep 0.1
        done
        busy busyalone
        stop_server
    } || echo "secure-echo: the idle-connections workload failed" >&2
fi

cp "$work/results.txt" "$results/latest.jsonl.txt"   # one JSON result per line, prefixed by server and workload
}

if [ "$report_only" = 1 ]; then
    cp -p "$results/latest.jsonl.txt" "$work/results.txt"
else
    measure
fi
python3 - "$work/results.txt" "$results/latest.md" "$duration" "$runs" "$work/chart.dat" <<'PYTHON'
import json, sys, platform, os, datetime, subprocess
rows = {}
floor = None
for line in open(sys.argv[1]):
    name, workload, payload = line.split(" ", 2)
    if name == "libssl":
        floor = json.loads(payload)
        continue
    rows.setdefault(name, {}).setdefault(workload, []).append(json.loads(payload))
columns = [
    ("1 conn × 64 B msg/s", "pingpong1", lambda r: r["messagesPerSecond"], True),
    ("1 conn × 64 B p99 µs", "pingpong1", lambda r: r.get("latencyP99Microseconds"), False),
    ("100 conns × 1 KiB msg/s", "pingpong100", lambda r: r["messagesPerSecond"], True),
    ("100 conns × 1 KiB p99 µs", "pingpong100", lambda r: r.get("latencyP99Microseconds"), False),
    ("server µs per 1 KiB echo", "pingpong100", lambda r: r.get("serverCPUMicrosecondsPerOperation"), False),
    ("10 conns × 16 KiB MB/s", "pingpong16k", lambda r: r["megabytesPerSecond"], True),
    ("10 conns × 16 KiB p99 µs", "pingpong16k", lambda r: r.get("latencyP99Microseconds"), False),
    ("handshakes/s (8 in flight)", "handshake", lambda r: r["handshakesPerSecond"], True),
    ("server µs per handshake", "handshake", lambda r: r.get("serverCPUMicrosecondsPerOperation"), False),
    ("1 conn flood MB/s", "flood", lambda r: r["megabytesPerSecond"], True),
    ("flood MB per server CPU-s", "flood", lambda r: 1e6 / r["serverCPUMicrosecondsPerOperation"] if r.get("serverCPUMicrosecondsPerOperation") else None, True),
    ("KiB per idle TLS conn (5 000)", "hold", lambda r: r.get("serverKiBPerConnection"), False),
    ("RSS peak growth KiB, client writing 64 MiB unread", "noread", lambda r: r.get("serverPeakGrowthKiB"), False),
]
def samples(name, key, get):
    values = [get(r) for r in rows.get(name, {}).get(key, []) if not r.get("mismatches") and not r.get("failures")]
    return sorted(v for v in values if v is not None)
def value(name, key, get, higher=True):
    """The median over the runs; None when every run failed or mismatched."""
    values = samples(name, key, get)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
names = list(rows)
# Read back from the results, so a redraw (BENCH_REPORT_ONLY=1) describes the run it shows.
runs_done = max((len(r.get("pingpong1", [])) for r in rows.values()), default=0)
timed_seconds = next((round(r["pingpong1"][0]["seconds"]) for r in rows.values() if r.get("pingpong1")), sys.argv[3])
# secure-echo-io_uring and secure-echo-1loop are secure-echo configured otherwise, not peers.
peers = [n for n in names if not n.startswith("secure-echo")]
out = []
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
out.append(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
           f"{subprocess.run(['openssl','version'],capture_output=True,text=True).stdout.strip()}; "
           f"{datetime.date.fromtimestamp(os.path.getmtime(sys.argv[1]))}; {timed_seconds} s per timed workload, "
           f"median of {runs_done} run(s) (min–max below it); load generator on the same machine.\n")
out.append("| server | " + " | ".join(c[0] for c in columns) + " |")
out.append("|---|" + "---|" * len(columns))
def fmt(v):
    if v is None: return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"
def cell(n, c):
    values = samples(n, c[1], c[2])
    shown = fmt(value(n, c[1], c[2], c[3]))
    return shown + (f"<br>({fmt(values[0])}–{fmt(values[-1])})" if len(values) > 1 else "")
for n in names:
    out.append(f"| {n} | " + " | ".join(cell(n, c) for c in columns) + " |")
def best_peer_of(among, column):
    """The best median among the servers `among` for one column; None when none has one."""
    _, key, get, higher = column
    theirs = [v for v in (value(p, key, get, higher) for p in among) if v is not None]
    return (max(theirs) if higher else min(theirs)) if theirs else None
def ratio_row(ours_name, table_columns, peers, mark_lower):
    """secure-echo's (or a variant's) figures against the best peer's, one cell per column."""
    cells = []
    for column in table_columns:
        _, key, get, higher = column
        ours, best = value(ours_name, key, get, higher), best_peer_of(peers, column)
        if ours is None or best is None:
            cells.append("–"); continue
        if higher:
            cells.append(f"{ours / best:.2f}×")
        else:
            note = " (lower is better)" if mark_lower else ""
            cells.append(f"best{note}" if ours == 0 else f"{best / ours:.2f}×{note}")
    return f"| **{ours_name} vs best peer** | " + " | ".join(cells) + " |"
if peers:
    out.extend(ratio_row(n, columns, peers, True) for n in names if n.startswith("secure-echo"))
out.append("\nRatios: above 1 means secure-echo is better (for lower-is-better columns, best peer ÷ secure-echo). "
           "Every echoed byte is verified; a run with a mismatch or failure shows –.")
if floor and not floor.get("failures") and floor.get("heapKiBPerIdleSession") is not None:
    ours_hs = value("secure-echo", "handshake", lambda r: r.get("serverCPUMicrosecondsPerOperation"), False)
    ours_kib = value("secure-echo", "hold", lambda r: r.get("serverKiBPerConnection"), False)
    line = (f"\nlibssl alone, in-process (`secure-echo-bench floor`, {floor['negotiated']}): "
            f"{floor['serverMicrosecondsPerHandshake']:.0f} µs of server CPU per full handshake over a BIO pair, "
            f"{floor['heapKiBPerIdleSession']:.1f} KiB of heap per idle server SSL.")
    if ours_hs is not None and ours_kib is not None:
        line += (f" secure-echo adds {ours_hs - floor['serverMicrosecondsPerHandshake']:.0f} µs per handshake "
                 f"(TCP accept and teardown, system calls, the event loop) and "
                 f"{ours_kib - floor['heapKiBPerIdleSession']:.1f} KiB per idle connection.")
    out.append(line)
# The performance issue's targets (#5), counted for each secure-echo row: against the best peer
# in this run, and against the C server of the same design measured on this kind of machine
# (9.4 µs per 1 KiB echo, 360 µs per handshake, 835 MB of flood per CPU-second; targets within
# 15 % of those).
def best_peer(key, get, higher):
    return best_peer_of(peers, (None, key, get, higher))
def targets(n):
    rate = lambda r: r["messagesPerSecond"]
    mbs = lambda r: r["megabytesPerSecond"]
    cpu = lambda r: r.get("serverCPUMicrosecondsPerOperation")
    per_cpu = columns[10][2]
    idle = (rows.get(n, {}).get("idle") or [{}])[0].get("serverCPUTicks")
    checks = []
    def relative(title, key, get, higher, factor):
        ours, best = value(n, key, get, higher), best_peer(key, get, higher)
        if ours is None or best is None:
            return checks.append((title, "–", False))
        met = ours >= factor * best if higher else ours <= best / factor
        shown = f"{ours / best:.2f}× the best peer" if higher else f"{ours:,.1f} against the best peer's {best:,.1f}"
        checks.append((title, shown, met))
    def absolute(title, key, get, higher, limit, unit):
        ours = value(n, key, get, higher)
        if ours is None:
            return checks.append((title, "–", False))
        checks.append((title, f"{ours:,.1f} {unit}", ours >= limit if higher else ours <= limit))
    relative("100 conns × 1 KiB msg/s ≥ 1.1× the best peer", "pingpong100", rate, True, 1.1)
    relative("10 conns × 16 KiB MB/s ≥ 1.0× the best peer", "pingpong16k", mbs, True, 1.0)
    relative("1 conn flood MB/s ≥ 1.2× the best peer", "flood", mbs, True, 1.2)
    relative("server µs per 1 KiB echo ≤ the best peer's ÷ 1.1", "pingpong100", cpu, False, 1.1)
    relative("handshakes/s ≥ 0.95× the best peer", "handshake", lambda r: r["handshakesPerSecond"], True, 0.95)
    absolute("server µs per 1 KiB echo ≤ 10.8", "pingpong100", cpu, False, 10.8, "µs")
    absolute("server µs per full handshake ≤ 410", "handshake", cpu, False, 410, "µs")
    absolute("flood MB per server CPU-s ≥ 710", "flood", per_cpu, True, 710, "MB")
    absolute("KiB per idle TLS connection ≤ 16", "hold", lambda r: r.get("serverKiBPerConnection"), False, 16, "KiB")
    relative("RSS growth under a client not reading ≤ the best peer's", "noread", lambda r: r.get("serverPeakGrowthKiB"), False, 1.0)
    checks.append(("an idle server uses no CPU", "–" if idle is None else f"{idle} clock ticks in 3 s", idle == 0))
    return checks
for n in (n for n in names if n.startswith("secure-echo") and peers):
    checks = targets(n)
    out.append(f"\n{n}: {sum(met for _, _, met in checks)} of {len(checks)} targets of the performance issue met in this run:\n")
    out.extend(f"- {'met' if met else '**not met**'}: {title} ({shown})" for title, shown, met in checks)
if rows.get("secure-echo", {}).get("busyidle"):
    def figure(key, get):
        values = samples("secure-echo", key, get)
        return (value("secure-echo", key, get), values[0], values[-1]) if values else (None, None, None)
    def shown(triple, digits=0):
        v, lo, hi = triple
        return "–" if v is None else f"{v:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f})"
    rate = lambda r: r["messagesPerSecond"]
    p99 = lambda r: r.get("latencyP99Microseconds")
    cpu = lambda r: r.get("serverCPUMicrosecondsPerOperation")
    alone, beside = figure("busyalone", rate), figure("busyidle", rate)
    tail_alone, tail_beside = figure("busyalone", p99), figure("busyidle", p99)
    cpu_alone, cpu_beside = figure("busyalone", cpu), figure("busyidle", cpu)
    hold = (rows["secure-echo"].get("holdidle") or [{}])[0]
    steady = value("secure-echo", "handshake", lambda r: r.get("serverCPUMicrosecondsPerOperation"), False)
    out.append(f"\nsecure-echo, 100 conns × 1 KiB ping-pong alone and beside {hold.get('connections', 19000):,} idle TLS connections "
               "(opened with full handshakes, 64 in flight; alone both before they open and after they close), medians (min–max):\n")
    out.append("| | alone | beside the idle connections | ratio |\n|---|---|---|---|")
    if alone[0] and beside[0]:
        out.append(f"| msg/s | {shown(alone)} | {shown(beside)} | {beside[0] / alone[0]:.2f}× (target ≥ 0.9×) |")
    if tail_alone[0] and tail_beside[0]:
        out.append(f"| p99 µs | {shown(tail_alone)} | {shown(tail_beside)} | {tail_beside[0] / tail_alone[0]:.2f}× (target ≤ 1.2×) |")
    if cpu_alone[0] and cpu_beside[0]:
        out.append(f"| server CPU µs per echo | {shown(cpu_alone, 1)} | {shown(cpu_beside, 1)} | {cpu_beside[0] / cpu_alone[0]:.2f}× |")
    opened = hold.get("serverCPUMicrosecondsPerConnectionOpened")
    kib = hold.get("serverKiBPerConnection")
    failures = "; ".join(hold.get("failures") or []) or "none"
    out.append(f"\nHolding them: {kib:.1f} KiB of server memory per idle TLS connection (target ≤ 16); "
               f"opening them cost the server {opened:.0f} µs of CPU each"
               + (f", against {steady:.0f} µs per steady handshake ({opened / steady:.2f}×, target ≤ 1.1×)" if steady and opened else "")
               + f"; failures: {failures}." if kib is not None and opened is not None else "\nHolding them failed: " + failures)
pinned = [("1 conn × 64 B", "pinned1"), ("100 conns × 1 KiB", "pinned100"), ("10 conns × 16 KiB", "pinned16k")]
pinned_names = [n for n in names if rows[n].get("pinned1")]
if pinned_names:
    quantiles = [("p50", "latencyP50Microseconds"), ("p99", "latencyP99Microseconds"), ("p99.9", "latencyP999Microseconds")]
    pin_columns = [(f"{label} msg/s", key, lambda r: r["messagesPerSecond"], True) for label, key in pinned]
    pin_columns += [(f"{label} {q} µs", key, (lambda field: lambda r: r.get(field))(field), False)
                    for label, key in pinned for q, field in quantiles]
    out.append("\nTail latency with one loop (thread) per server, pinned to CPU 0, and the load generator on CPU 1 "
               "(socat, a process per connection, has no such configuration), medians (min–max):\n")
    out.append("| server | " + " | ".join(c[0] for c in pin_columns) + " |")
    out.append("|---|" + "---|" * len(pin_columns))
    for n in pinned_names:
        out.append(f"| {n} | " + " | ".join(cell(n, c) for c in pin_columns) + " |")
    pin_peers = [n for n in pinned_names if not n.startswith("secure-echo")]
    if pin_peers:
        out.extend(ratio_row(n, pin_columns, pin_peers, False) for n in pinned_names if n.startswith("secure-echo"))
        # The tail target (#12): p99 and p99.9 at every size no worse than the best peer's.
        tails = [c for c in pin_columns if c[0].endswith(("p99 µs", "p99.9 µs"))]
        for n in (n for n in pinned_names if n.startswith("secure-echo")):
            behind = [c[0] for c in tails
                      if value(n, c[1], c[2], False) is None or best_peer_of(pin_peers, c) is None
                      or value(n, c[1], c[2], False) > best_peer_of(pin_peers, c)]
            out.append(f"\n{n}: p99 and p99.9 no worse than the best peer's at {len(tails) - len(behind)} of {len(tails)} points"
                       + (f"; behind at {', '.join(behind)}." if behind else "."))
text = "\n".join(out)
open(sys.argv[2], "w").write(text + "\n")
print(text)

# Chart data: per workload, each server's figure relative to the best (1 = best).
short = dict(zip([c[0] for c in columns], ["1×64 B msg/s", "1×64 B p99", "100×1 KiB msg/s", "100×1 KiB p99", "CPU per 1 KiB echo",
    "10×16 KiB MB/s", "10×16 KiB p99", "handshakes/s", "CPU per handshake", "flood MB/s", "flood MB per CPU-s",
    "KiB per idle conn", "RSS growth, unread"]))
with open(sys.argv[5], "w") as chart:
    chart.write("workload " + " ".join(f'"{n}"' for n in names) + "\n")
    for title, key, get, higher in columns:
        values = [value(n, key, get, higher) for n in names]
        known = [v for v in values if v is not None]
        if not known:
            continue
        best = max(known) if higher else min(known)
        def relative(v):
            if v is None: return "NaN"
            if higher: return f"{v / best:.3f}" if best else "NaN"
            return f"{best / v:.3f}" if v else "1"
        chart.write(f'"{short[title]}" ' + " ".join(relative(v) for v in values) + "\n")
PYTHON
echo "written to $results/latest.md" >&2

if command -v gnuplot >/dev/null; then
    columns=$(($(head -n1 "$work/chart.dat" | wc -w)))
    gnuplot <<GNUPLOT
set terminal svg size 1200,560 dynamic font "sans,12"
set output "$results/latest.svg"
set title "TLS echo servers, each figure relative to the best server's (1 = best; costs inverted, so higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:1.15]
set ylabel "fraction of the best server's figure"
set grid ytics
set key top center horizontal noenhanced  # server names have underscores
set xtics rotate by 20 right scale 0 font "sans,10"
set bmargin 6
set rmargin 4
plot for [i=2:$columns] "$work/chart.dat" using i:xtic(1) title columnheader(i)
set terminal pngcairo size 1200,560 font "sans,11"
set output "$results/latest.png"
replot
GNUPLOT
    echo "chart written to $results/latest.svg and latest.png" >&2
fi
