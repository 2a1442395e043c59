#!/bin/sh
# Builds the Go interop peers into Tests/Interop/bin/:
#   interop-client  the reference containerd/ttrpc 1.1.1 client, scenario runner
#   interop-server  the reference containerd/ttrpc 1.1.1 server of ConnectorRegistry
#
# Offline and in GOPATH mode only: GO111MODULE=off, with Tests/Interop/go (our
# code and the committed generated code) and /usr/share/gocode (Debian's Go
# packages) on GOPATH. Needs the Debian packages golang-go,
# golang-github-containerd-ttrpc-dev (which brings gogo protobuf, grpc status,
# genproto, logrus and x/sys). Regenerating the .pb.go files (generate.sh) is
# not needed to build.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode
bin="$here/bin"

missing() {
    echo "build.sh: $1" >&2
    echo "build.sh: install the Debian packages golang-go and golang-github-containerd-ttrpc-dev" >&2
    exit 1
}

command -v go >/dev/null 2>&1 || missing "go not found on PATH"
for pkg in github.com/containerd/ttrpc github.com/gogo/protobuf/proto \
           google.golang.org/grpc/status google.golang.org/genproto/googleapis/rpc/status \
           github.com/sirupsen/logrus golang.org/x/sys/unix; do
    [ -d "$gocode/src/$pkg" ] || missing "Go package $pkg not found under $gocode/src"
done

export GO111MODULE=off
export GOPATH="$here/go:$gocode"
export GOFLAGS=
export GOPROXY=off
export CGO_ENABLED=0
# Use the usual build cache if it is writable, else a private one in /tmp.
cache=$(go env GOCACHE 2>/dev/null || true)
if [ -z "$cache" ] || [ "$cache" = off ] || ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
    export GOCACHE="${TMPDIR:-/tmp}/connectord-interop-gocache-$(id -u)"
fi

mkdir -p "$bin"
for prog in interop-client interop-server; do
    go build -o "$bin/$prog" "connectord/interop/cmd/$prog"
done
echo "built $bin/interop-client $bin/interop-server"
