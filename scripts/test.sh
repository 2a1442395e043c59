#!/usr/bin/env bash
# Installs what the tests need, checks the generated protobuf-c code is
# current, builds everything (the end-to-end tests run the built binaries),
# and runs the whole test suite in two steps:
#   1. the main step: every suite but the heavy ones, in parallel. No test in
#      it depends on the machine being idle or fast: it waits for events, not
#      for a clock.
#   2. the heavy step, after it: the suites that load the machine (1,000
#      connections, SIGKILL cycles, Go builds) and those that measure a time
#      the product promises (a deadline, a stall close) with generous bounds.
#
#   scripts/test.sh [--under-load] [SWIFT TEST ARGUMENTS...]
#     --under-load   runs the main step with one busy process per CPU beside
#                    it (what scripts/test-under-load.sh and CI do), so that a
#                    test that needs an idle machine fails here, not on a
#                    user's machine.
#     arguments      run `swift test --skip-build ARGUMENTS` instead of the steps.
set -euo pipefail
cd "$(dirname "$0")/.."

under_load=false
if [[ "${1:-}" == "--under-load" ]]; then
    under_load=true
    shift
fi

scripts/setup.sh --test
scripts/generate-proto.sh --check
sh Tests/Interop/generate.sh --check
swift build --build-tests
if (($# > 0)); then
    exec swift test --skip-build "$@"
fi

# The stream suites load the machine too (streams of 10,000 messages, a
# hundred at once, floods) and run one test at a time.
heavy='CrashConsistencyTests|HostileClientTests|HostileSchemaServerTests|BenchmarkHarnessTests|TimingTests|StreamSuites'

load_pids=()
stop_load() {
    if ((${#load_pids[@]} > 0)); then
        kill "${load_pids[@]}" 2>/dev/null || true
        wait "${load_pids[@]}" 2>/dev/null || true
        load_pids=()
    fi
}
trap stop_load EXIT
if $under_load; then
    cpus=$(nproc)
    echo "test.sh: main step with $cpus busy processes beside it" >&2
    for ((i = 0; i < cpus; i++)); do
        (trap 'exit 0' TERM; while :; do :; done) &
        load_pids+=($!)
    done
fi

started=$SECONDS
swift test --skip-build --skip "$heavy"
echo "test.sh: main step passed in $((SECONDS - started)) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
stop_load

started=$SECONDS
swift test --skip-build --filter "$heavy"
echo "test.sh: heavy step passed in $((SECONDS - started)) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
