#!/usr/bin/env bash
# Instructions the server executes per echoed message, counted by valgrind's callgrind: stable
# on a noisy machine (instructions, not seconds), so it tells small hot-path changes apart.
#
#   scripts/callgrind-echo.sh [BUILD_DIR ...]     (default: .build/release)
#
# For each build directory: starts its secure-echo (one loop) under callgrind, runs its
# secure-echo-bench pingpong (10 connections x 1 KiB over TLS, or CALLGRIND_PLAIN=1 for plain
# TCP), counting only the bench window (callgrind_control zeroes before and dumps after), and
# prints instructions per echo for the whole process and for libssl+libcrypto alone.
# CALLGRIND_MODE=handshake counts per full TLS handshake instead (4 in flight, no echo).
# Several build directories are measured in one run, side by side, with the same settings.
# CALLGRIND_SERVER_ARGS adds flags to the server's command line (e.g. "--poller io_uring").
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

dirs=("$@")
((${#dirs[@]})) || dirs=(.build/release)
seconds="${CALLGRIND_SECONDS:-4}"
transport=(); port_field=tls
[ "${CALLGRIND_PLAIN:-0}" = 1 ] && { transport=(--plain); port_field=plain; }
mode="${CALLGRIND_MODE:-pingpong}"
workload=(pingpong --connections 10 --size 1024); unit=echo
[ "$mode" = handshake ] && { workload=(handshake --connections 4); unit=handshake; transport=(); port_field=tls; }
work="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

printf '%-40s %12s %14s %14s\n' "build" "${unit}s" "instr/$unit" "libssl+crypto"
for dir in "${dirs[@]}"; do
    out="$work/callgrind.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" --instr-atstart=no \
        "$dir/secure-echo" --threads 1 --tls-port 0 --plain-port 0 --log-level error ${CALLGRIND_SERVER_ARGS:-} \
        >"$work/ready" 2>"$work/valgrind.log" &
    server_pid=$!
    for _ in $(seq 1 600); do grep -q '^ready' "$work/ready" 2>/dev/null && break; sleep 0.1; done
    port="$(grep -o "$port_field=[^ ]*" "$work/ready" | sed 's/.*://')"
    [ -n "$port" ] || { cat "$work/valgrind.log" >&2; exit 1; }
    callgrind_control --zero "$server_pid" >/dev/null 2>&1
    callgrind_control --instr=on "$server_pid" >/dev/null 2>&1
    result="$("$dir/secure-echo-bench" "${workload[@]}" --port "$port" ${transport[@]+"${transport[@]}"} \
        --duration "$seconds" --json)"
    callgrind_control --instr=off "$server_pid" >/dev/null 2>&1
    callgrind_control --dump "$server_pid" >/dev/null 2>&1
    kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
    messages="$(python3 -c 'import json,sys; r = json.loads(sys.argv[1]); print(r["messages"] or round(r["handshakesPerSecond"] * r["seconds"]))' "$result")"
    # The dump written by --dump carries a suffix; the exit dump (instrumentation off) is empty.
    dump="$(ls -S "$out".* 2>/dev/null | head -1)"
    [ -n "$dump" ] || dump="$out"
    callgrind_annotate --threshold=100 "$dump" >"$work/annotated" 2>/dev/null
    total="$(awk '/PROGRAM TOTALS/ && !t {gsub(",", "", $1); t = $1} END {print t + 0}' "$work/annotated")"
    tls="$(awk '/libssl|libcrypto/ {gsub(",", "", $1); s += $1} END {print s + 0}' "$work/annotated")"
    awk -v d="$dir" -v m="$messages" -v t="$total" -v s="$tls" \
        'BEGIN { printf "%-40s %12d %14.0f %14.0f\n", d, m, t / m, s / m }'
    rm -f "$out" "$out".*
done
