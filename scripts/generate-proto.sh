#!/usr/bin/env bash
# Regenerates the code generated from proto/:
#   Sources/CProto               protoc-c's C for every message
#   Sources/ConnectorAPI/Generated  the Swift value types of connectors.v1 and
#                                their protobuf-c mapping (scripts/protoc-gen-pbcswift.py)
#
#   scripts/generate-proto.sh          write the generated files
#   scripts/generate-proto.sh --check  fail if the committed files differ
# Needs protoc, protoc-c and python3 (Debian: protobuf-compiler,
# protobuf-c-compiler, python3; scripts/setup.sh --test installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
protos=(google/protobuf/any.proto google/rpc/status.proto ttrpc/ttrpc.proto connectors/v1/connectors.proto)
swift_protos=(connectors/v1/connectors.proto)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/c" "$out/swift"
(cd "$root/proto" && protoc-c --c_out="$out/c" -I . "${protos[@]}")
(cd "$root/proto" && protoc --plugin=protoc-gen-pbcswift="$root/scripts/protoc-gen-pbcswift.py" \
    --pbcswift_out="$out/swift" -I . "${swift_protos[@]}")

# $out/tree mirrors the repository. C headers go under include/ (the target's
# public headers), sources beside it, both keeping the proto's directory so the
# generated #include lines resolve.
tree="$out/tree"
for proto in "${protos[@]}"; do
    base=${proto%.proto}
    mkdir -p "$tree/Sources/CProto/include/$(dirname "$base")" "$tree/Sources/CProto/$(dirname "$base")"
    cp "$out/c/$base.pb-c.h" "$tree/Sources/CProto/include/$base.pb-c.h"
    cp "$out/c/$base.pb-c.c" "$tree/Sources/CProto/$base.pb-c.c"
done
mkdir -p "$tree/Sources/ConnectorAPI/Generated"
cp -R "$out/swift/." "$tree/Sources/ConnectorAPI/Generated/"

generated=$(cd "$tree" && find . -type f | sort)
if [[ "${1:-}" == "--check" ]]; then
    status=0
    for f in $generated; do
        if ! cmp -s "$tree/$f" "$root/$f"; then
            echo "generated code out of date: ${f#./} (run scripts/generate-proto.sh)" >&2
            status=1
        fi
    done
    # A generated Swift file whose proto is gone would still be compiled.
    for f in $(cd "$root" && find Sources/ConnectorAPI/Generated -type f 2>/dev/null | sort); do
        if [[ ! -e "$tree/$f" ]]; then
            echo "generated code out of date: $f has no proto any more" >&2
            status=1
        fi
    done
    [[ $status -eq 0 ]] && echo "generated code is current"
    exit $status
fi
rm -rf "$root/Sources/ConnectorAPI/Generated"
for f in $generated; do
    mkdir -p "$root/$(dirname "$f")"
    cp "$tree/$f" "$root/$f"
done
echo "regenerated Sources/CProto and Sources/ConnectorAPI/Generated from proto/"
