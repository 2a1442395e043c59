#!/usr/bin/env bash
# The test command (scripts/test.sh) with one busy process per CPU beside its
# main step: a test that passes only on an idle machine fails here. CI runs it.
set -euo pipefail
exec "$(dirname "$0")/test.sh" --under-load "$@"
