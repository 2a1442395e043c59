#!/usr/bin/env bash
# Installs what connectord needs, builds it (release) and runs it in the
# foreground on the embedded SQLite default. Extra arguments go to connectord
# (see: connectord --help). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product connectord
exec .build/release/connectord "$@"
