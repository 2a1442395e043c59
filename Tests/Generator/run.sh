#!/usr/bin/env bash
# Tests scripts/protoc-gen-pbcswift.py on everything.proto, which has every
# kind of field it supports (connectors.v1 uses only some so far): generates
# the C (protoc-c) and the Swift, builds them in a scratch package with
# ProtobufCKit and ConnectorAPI's hand-written glue, and runs
# EverythingTests.swift. Takes a minute or two; run it after changing the
# generator. Needs what scripts/setup.sh --test installs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/proto/generator_test/v1" "$work/Sources/CProto/include/generator_test/v1" \
    "$work/Sources/GeneratedAPI" "$work/Tests/GeneratedAPITests"
cp "$here/everything.proto" "$work/proto/generator_test/v1/"
cp -R "$root/Sources/CProtobufC" "$root/Sources/ProtobufCKit" "$work/Sources/"
cp "$root/Sources/CProto/helpers.c" "$work/Sources/CProto/"
cp "$root/Sources/ConnectorAPI/ProtoMessage.swift" "$root/Sources/ConnectorAPI/Internal/ProtobufCBacked.swift" \
    "$work/Sources/GeneratedAPI/"
cp "$here/EverythingTests.swift" "$work/Tests/GeneratedAPITests/"

cd "$work/proto"
protoc-c --c_out="$work/Sources/CProto" -I . generator_test/v1/everything.proto
mv "$work/Sources/CProto/generator_test/v1/everything.pb-c.h" "$work/Sources/CProto/include/generator_test/v1/"
protoc --plugin=protoc-gen-pbcswift="$root/scripts/protoc-gen-pbcswift.py" \
    --pbcswift_out="$work/Sources/GeneratedAPI" -I . generator_test/v1/everything.proto

# What it does not support it refuses, with a reason.
printf 'syntax = "proto3";\npackage bad.v1;\nmessage M {\n  oneof o { int32 a = 1; string b = 2; }\n}\n' > bad.proto
if protoc --plugin=protoc-gen-pbcswift="$root/scripts/protoc-gen-pbcswift.py" --pbcswift_out="$work" -I . bad.proto \
    2>"$work/bad.log"; then
    echo "the generator accepted a oneof of two fields" >&2
    exit 1
fi
grep -q "only one-field oneofs are supported" "$work/bad.log" || { cat "$work/bad.log" >&2; exit 1; }
echo "✔ a oneof of two fields is refused"

# CProto.h as in the repository, with the test proto's header instead.
grep -v '\.pb-c\.h"' "$root/Sources/CProto/include/CProto.h" \
    | sed 's|#include <protobuf-c/protobuf-c.h>|&\n#include "generator_test/v1/everything.pb-c.h"|' \
    > "$work/Sources/CProto/include/CProto.h"
cp "$root/Sources/CProto/include/module.modulemap" "$work/Sources/CProto/include/"
printf '/// The test proto'"'"'s namespace.\npublic enum GeneratorTestV1 {}\n' > "$work/Sources/GeneratedAPI/GeneratorTestV1.swift"
cat > "$work/Package.swift" <<'SWIFT'
// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]
let package = Package(
    name: "generator-test",
    targets: [
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c"),
        .target(name: "CProto", dependencies: ["CProtobufC"]),
        .target(name: "ProtobufCKit", dependencies: ["CProto"], swiftSettings: swiftSettings),
        .target(name: "GeneratedAPI", dependencies: ["CProto", "ProtobufCKit"], swiftSettings: swiftSettings),
        .testTarget(name: "GeneratedAPITests", dependencies: ["GeneratedAPI", "ProtobufCKit"], swiftSettings: swiftSettings),
    ]
)
SWIFT
cd "$work"
if ! swift build --build-tests >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    exit 1
fi
swift test --skip-build 2>&1 | grep -E "✔|✘|error"
