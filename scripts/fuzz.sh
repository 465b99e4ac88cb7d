#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (with AddressSanitizer) and runs each for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]     (default: 60 s, every target)
# Targets: FuzzLineEcho (echo applications vs. a model), FuzzConnection (state machine vs. scripted I/O),
# FuzzProxyHeader (the PROXY v1/v2 parser against arbitrary bytes), FuzzClientHello (the ClientHello
# parser and record reassembly behind the fingerprints), FuzzHTTPRequest (the request-head reader of
# the metrics and report ports, over arbitrary chunkings).
# Corpora persist in Fuzz/.build/corpus/TARGET, so later runs start where earlier ones ended;
# a crash leaves its input in Fuzz/.build/crashes/.
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"

seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(FuzzLineEcho FuzzConnection FuzzProxyHeader FuzzClientHello FuzzHTTPRequest)

# SwiftPM's --sanitize=fuzzer links libFuzzer's main; -Xswiftc puts coverage into every module,
# the library included; dead stripping would drop the coverage counters' sections.
swift build --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address --disable-dead-strip

bin="$(swift build --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address --disable-dead-strip --show-bin-path)"
mkdir -p .build/crashes
for target in "${targets[@]}"; do
    mkdir -p ".build/corpus/$target"
    echo "== $target for ${seconds}s"
    log=".build/$target.log"
    status=0
    # Seeds/TARGET (tracked) starts a fresh corpus with valid inputs; new units go to .build/corpus.
    seeds=()
    [ -d "Seeds/$target" ] && seeds=("Seeds/$target")
    "$bin/$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=.build/crashes/ \
        ".build/corpus/$target" ${seeds[@]+"${seeds[@]}"} >"$log" 2>&1 || status=$?
    grep -E 'DONE|number_of_executed_units|new_units_added' "$log" || true
    if [ "$status" -ne 0 ]; then
        grep -E 'ERROR|Fatal error|Precondition|failed|artifact' "$log" | head -20
        echo "$target found a failure (exit $status): input saved under Fuzz/.build/crashes/, log in Fuzz/$log"
        exit 1
    fi
done
