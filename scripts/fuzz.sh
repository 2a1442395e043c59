#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ with AddressSanitizer and runs each for
# SECONDS (default 30) on a copy of its seed corpus (Fuzz/corpus/TARGET).
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: FrameDecoderFuzzer RequestFuzzer
# Prints executions, coverage and findings per target; exits non-zero if a
# target crashed, timed out, ran out of memory or leaked, or did not build.
# Work files (grown corpus, crashing inputs, logs) go to .build-fuzz/runs/TARGET/.
# FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS=-seed=1).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
if (($# > 0)); then shift; fi
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(FrameDecoderFuzzer RequestFuzzer); fi
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2; }

scratch=.build-fuzz
# SwiftPM's sanitizers reach the C targets too; FUZZING selects the libFuzzer
# entry point (without it the targets build as replay executables).
build=(swift build -c debug --scratch-path "$scratch" --sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING)

started=$SECONDS
for target in "${targets[@]}"; do
    echo "== building $target (sanitizers: fuzzer, address)"
    mkdir -p "$scratch"
    if ! "${build[@]}" --product "$target" >"$scratch/build-$target.log" 2>&1; then
        grep -E "error:" "$scratch/build-$target.log" | sort -u | head -20 >&2
        tail -5 "$scratch/build-$target.log" >&2
        echo "fuzz: $target does not build; log: $scratch/build-$target.log" >&2
        exit 1
    fi
    grep -E "^Build .*complete" "$scratch/build-$target.log" || true
done
echo "== built in $((SECONDS - started)) s"
bin=$("${build[@]}" --show-bin-path)

failed=0
summary=()
for target in "${targets[@]}"; do
    work=$scratch/runs/$target
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp Fuzz/corpus/"$target"/* "$work/corpus/"
    echo "== fuzzing $target for $seconds s"
    status=0
    # -timeout: one input running 10 s is a finding. Leak checking stays on.
    # Swift's own crash backtracer is off: it reads the crashed process's
    # memory in ways AddressSanitizer reports as a heap-buffer-overflow, which
    # would hide the real finding; libFuzzer and ASan print the stack instead.
    # Fuzz/lsan.supp: SwiftNIO's boxed Unix socket addresses, which
    # LeakSanitizer cannot see referenced (the file says why).
    # shellcheck disable=SC2086
    LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/Fuzz/lsan.supp} \
    SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no} "$bin/$target" "$work/corpus" \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$work/artifacts/" ${FUZZ_ARGS:-} >"$work/fuzz.log" 2>&1 || status=$?

    executions=$(grep -h "^stat::number_of_executed_units:" "$work/fuzz.log" | awk '{s += $2} END {print s + 0}')
    rate=$(grep -h "^stat::average_exec_per_sec:" "$work/fuzz.log" | awk '{s += $2} END {print s + 0}')
    peak=$(grep -h "^stat::peak_rss_mb:" "$work/fuzz.log" | awk '{if ($2 > m) m = $2} END {print m + 0}')
    last=$(grep -h -E "^#[0-9]+.*cov: " "$work/fuzz.log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corpus=$(find "$work/corpus" -type f | wc -l)
    findings=$(find "$work/artifacts" -type f | wc -l)
    line="$target: $executions executions ($rate/s), coverage ${cov:-?} edges, ${ft:-?} features, corpus $corpus inputs, peak RSS ${peak} MB, findings $findings"
    summary+=("$line")
    if ((status != 0 || findings > 0)); then
        failed=1
        echo "fuzz: $target FAILED (exit $status); log: $work/fuzz.log" >&2
        grep -h -E "^(==[0-9]+==ERROR|SUMMARY|.*Fatal error|.*Precondition failed|artifact_prefix)" "$work/fuzz.log" | head -20 >&2 || true
        find "$work/artifacts" -type f -exec sh -c 'echo "  $1: $(od -An -tx1 -v "$1" | tr -d " \n" | head -c 512)"' _ {} \; >&2
    fi
done

echo "== fuzz summary ($seconds s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
