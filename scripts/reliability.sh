#!/usr/bin/env bash
# The long reliability runs, with their figures (see RELIABILITY.md):
#   - crash consistency: connectord SIGKILLed KILL_CYCLES times (default 20) while
#     connectorctl workers register, activate, change modes and delete;
#   - hostile clients: CONNECTIONS idle connections held (default 4000), clients
#     that never read (4 at once, 3 rounds, waiting for the 30 s write-stall close),
#     stalled frames, garbage, oversized frames, disconnects mid-call.
# Usage: scripts/reliability.sh [extra swift test arguments]
#   KILL_CYCLES=50 CONNECTIONS=8000 scripts/reliability.sh
# The full output goes to .build/reliability/<time>.log; the [reliability] lines
# (the figures) are printed at the end. Exit status: non-zero if a test failed.
set -euo pipefail
cd "$(dirname "$0")/.."

kill_cycles=${KILL_CYCLES:-20}
connections=${CONNECTIONS:-4000}

scripts/setup.sh --test
if ! command -v sqlite3 >/dev/null; then  # integrity_check runs through the sqlite3 shell
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends sqlite3 >/dev/null
fi
swift build --build-tests

mkdir -p .build/reliability
log=.build/reliability/$(date -u +%Y%m%dT%H%M%SZ).log
echo "reliability run: $kill_cycles kill cycles, $connections connections; log: $log"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) cores, $(swift --version 2>&1 | head -1)"
    echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified)')"
} >"$log"

status=0
started=$SECONDS
CONNECTORD_KILL_CYCLES=$kill_cycles \
    swift test --skip-build --filter 'EndToEndTests.CrashConsistencyTests' "$@" >>"$log" 2>&1 || status=1
crash_time=$((SECONDS - started))

started=$SECONDS
CONNECTORD_HOSTILE_LONG=1 CONNECTORD_HOSTILE_CONNECTIONS=$connections \
    swift test --skip-build --filter 'EndToEndTests.HostileClientTests' "$@" >>"$log" 2>&1 || status=1
hostile_time=$((SECONDS - started))

started=$SECONDS
swift test --skip-build --filter 'EndToEndTests.HostileSchemaServerTests' "$@" >>"$log" 2>&1 || status=1
schema_time=$((SECONDS - started))

echo
grep -F '[reliability]' "$log" | sed 's/^\[reliability\] //'
echo
grep -E '^(✔|✘|━) Test (run|[a-zA-Z]+\(\))' "$log" || true
echo "crash consistency: ${crash_time} s; hostile clients: ${hostile_time} s; hostile schema servers: ${schema_time} s; full log: $log"
if ((status != 0)); then
    echo "FAILED: see $log" >&2
fi
exit $status
