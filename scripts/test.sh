#!/usr/bin/env bash
# Installs what the tests need, checks the generated protobuf-c code is
# current, builds everything (the end-to-end tests run the built binaries),
# and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
scripts/generate-proto.sh --check
swift build --build-tests
swift test --skip-build "$@"
