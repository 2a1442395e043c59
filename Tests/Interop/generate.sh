#!/bin/sh
# Regenerates the committed Go code for proto/connectors/v1/*.proto: gogo
# protobuf messages plus the ttrpc service (client and server) of
# connectors.v1.ConnectorRegistry, as containerd/ttrpc 1.1.1 expects them.
#
# Needs only Debian packages: protobuf-compiler (protoc) and gogottrpc
# (protoc-gen-gogottrpc, built from github.com/containerd/ttrpc/cmd/protoc-gen-gogottrpc:
# a gogo "vanity" generator with marshal/unmarshal/size/stringer turned on).
# That generator runs gogo plugins only when asked, hence plugins=ttrpc.
#
# Output: go/src/connectord/interop/connectors/v1/*.pb.go (Go package
# connectors_v1, import path "connectord/interop/connectors/v1" in the GOPATH
# rooted at Tests/Interop/go).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$here/go/src/connectord/interop"
importpath=connectord/interop/connectors/v1

for tool in protoc protoc-gen-gogottrpc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "generate.sh: $tool not found; install the Debian packages protobuf-compiler and gogottrpc" >&2
        exit 1
    fi
done

# --check: generate into a scratch copy and fail if the committed files differ.
if [ "${1:-}" = "--check" ]; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    protoc -I "$root/proto" \
        --gogottrpc_out="plugins=ttrpc,Mconnectors/v1/connectors.proto=$importpath,Mconnectors/v1/registry_service.proto=$importpath:$scratch" \
        "$root/proto/connectors/v1/connectors.proto" \
        "$root/proto/connectors/v1/registry_service.proto"
    status=0
    for file in "$scratch/connectors/v1/"*.pb.go; do
        if ! cmp -s "$file" "$out/connectors/v1/$(basename "$file")"; then
            echo "generated Go code out of date: Tests/Interop/go/src/connectord/interop/connectors/v1/$(basename "$file") (run Tests/Interop/generate.sh)" >&2
            status=1
        fi
    done
    exit $status
fi

mkdir -p "$out"
rm -f "$out/connectors/v1/"*.pb.go
# The .proto files have no go_package option: M maps each file to its Go
# import path (used for the cross-file reference of registry_service.proto).
protoc -I "$root/proto" \
    --gogottrpc_out="plugins=ttrpc,Mconnectors/v1/connectors.proto=$importpath,Mconnectors/v1/registry_service.proto=$importpath:$out" \
    "$root/proto/connectors/v1/connectors.proto" \
    "$root/proto/connectors/v1/registry_service.proto"

ls "$out/connectors/v1/"*.pb.go
