#!/usr/bin/env bash
# Regenerates the protoc-c code in Sources/CProto from proto/.
#   scripts/generate-proto.sh          write the generated files
#   scripts/generate-proto.sh --check  fail if the committed files differ
# Needs protoc and protoc-c (Debian: protobuf-compiler, protobuf-c-compiler).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
protos=(google/protobuf/any.proto google/rpc/status.proto ttrpc/ttrpc.proto connectors/v1/connectors.proto)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$root/proto" && protoc-c --c_out="$out" -I . "${protos[@]}")

# Headers go under include/ (the target's public headers), sources beside it,
# both keeping the proto's directory so the generated #include lines resolve.
staged=$(mktemp -d)
trap 'rm -rf "$out" "$staged"' EXIT
for proto in "${protos[@]}"; do
    base=${proto%.proto}
    mkdir -p "$staged/include/$(dirname "$base")" "$staged/$(dirname "$base")"
    cp "$out/$base.pb-c.h" "$staged/include/$base.pb-c.h"
    cp "$out/$base.pb-c.c" "$staged/$base.pb-c.c"
done

target="$root/Sources/CProto"
if [[ "${1:-}" == "--check" ]]; then
    status=0
    for f in $(cd "$staged" && find . -name '*.pb-c.*' | sort); do
        if ! cmp -s "$staged/$f" "$target/$f"; then
            echo "generated code out of date: Sources/CProto/${f#./}" >&2
            status=1
        fi
    done
    [[ $status -eq 0 ]] && echo "generated code is current"
    exit $status
fi
(cd "$staged" && find . -name '*.pb-c.*' -print0 | while IFS= read -r -d '' f; do
    mkdir -p "$target/$(dirname "$f")"
    cp "$f" "$target/$f"
done)
echo "regenerated Sources/CProto from proto/"
