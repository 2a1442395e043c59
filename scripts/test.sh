#!/usr/bin/env bash
# Installs what the tests need, checks the generated protobuf-c code is
# current, builds everything (the end-to-end tests run the built binaries),
# and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
scripts/generate-proto.sh --check
swift build --build-tests
if (($# > 0)); then
    exec swift test --skip-build "$@"
fi
# The reliability suites, the benchmark smoke test and the stream suites load
# the machine (1,000 connections, SIGKILL cycles, Go builds; streams of 10,000
# messages, a hundred streams at once, floods):
# they run after the rest, so timing-sensitive tests never share the CPUs with them.
heavy='CrashConsistencyTests|HostileClientTests|HostileSchemaServerTests|BenchmarkHarnessTests|StreamSuites'
swift test --skip-build --skip "$heavy"
swift test --skip-build --filter "$heavy"
