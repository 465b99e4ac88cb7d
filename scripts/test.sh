#!/usr/bin/env bash
# Installs what the tests drive (openssl, gnutls-cli, socat, ncat, telnet, expect, nc, sslscan, haproxy, chromium, systemd's tools) when missing, then runs
# `swift test`: unit tests and integration tests against the real binary; then builds the libFuzzer
# targets and runs each for a few seconds from its seeds, so a library change that breaks a
# harness fails here instead of at the next fuzzing session.
#   SANITIZE=address scripts/test.sh   runs the same suite under AddressSanitizer (thread: ThreadSanitizer);
#                                      a report from any process it starts fails the run.
#   FUZZ_SECONDS=N (default 5; 0 skips the fuzz targets)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v telnet  >/dev/null || need+=(telnet)
command -v expect  >/dev/null || need+=(expect)
command -v sslscan >/dev/null || need+=(sslscan)
command -v gnutls-cli >/dev/null || need+=(gnutls-bin)
command -v socat >/dev/null || need+=(socat)         # report port clients
command -v ncat >/dev/null || need+=(ncat)
command -v python3 >/dev/null || need+=(python3)   # a deliberately wrong echo server in the bench tests
[ -x /usr/sbin/haproxy ] || need+=(haproxy)         # in front of the server, with PROXY protocol
command -v chromium >/dev/null || need+=(chromium)  # renders the status page, headless
command -v systemd-socket-activate >/dev/null || need+=(systemd)  # socket activation without running systemd
# The tests run netcat-openbsd by its own name: its -N (shut down the write side at end of
# input) is what they need, whichever netcat `nc` points to here.
command -v nc.openbsd >/dev/null || need+=(netcat-openbsd)
pkg-config --exists openssl 2>/dev/null || need+=(libssl-dev pkg-config)
pkg-config --exists liburing 2>/dev/null || need+=(liburing-dev pkg-config)

if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends "${need[@]}" >/dev/null \
        || { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi

args=()
environment=()
if [ -n "${SANITIZE:-}" ]; then
    args+=(--sanitize="$SANITIZE")
    # LeakSanitizer also reports the test runner's own allocations; suppress only those.
    suppressions="$(mktemp)"
    printf 'leak:libXCTest.so\nleak:XCTMainMisc\n' > "$suppressions"
    # Every process of the suite (the test runner, each server it starts, the bench tool) writes
    # its reports here: a server's log is deleted with its test, and a report that neither
    # crashes the server nor fails an assertion (a leak at exit, a race) would go unseen.
    reports="$(mktemp -d)"
    environment+=(LSAN_OPTIONS="suppressions=$suppressions" SECURE_ECHO_SANITIZER="$SANITIZE"
                  ASAN_OPTIONS="log_path=$reports/asan" TSAN_OPTIONS="log_path=$reports/tsan")
fi

swift build --build-tests ${args[@]+"${args[@]}"}
status=0
env ${environment[@]+"${environment[@]}"} swift test --skip-build ${args[@]+"${args[@]}"} || status=$?
if [ -n "${SANITIZE:-}" ]; then
    found="$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$reports"/* 2>/dev/null || true)"
    if [ -n "$found" ]; then
        for report in $found; do echo "== sanitizer report from process ${report##*.}:"; head -60 "$report"; done
        echo "$(echo "$found" | wc -l) process(es) of the suite reported under $SANITIZE sanitizer (all reports in $reports)"
        status=1
    fi
fi
[ "$status" -eq 0 ] || exit "$status"
seconds="${FUZZ_SECONDS:-5}"
if [ "$seconds" != 0 ]; then
    scripts/fuzz.sh "$seconds"
fi
