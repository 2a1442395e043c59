#!/usr/bin/env bash
# Installs the Debian packages connectord needs that this machine lacks.
#   scripts/setup.sh          what building and running the daemon needs
#   scripts/setup.sh --test   also what the tests need (generated-code check: protoc,
#                             protoc-c, python3 for the Swift generator; Go ttrpc peer)
# Runs apt-get through sudo when not root. Installs nothing already present.
set -euo pipefail

packages=(libprotobuf-c-dev libsqlite3-dev pkg-config)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(protobuf-c-compiler protobuf-compiler python3 golang-go golang-github-containerd-ttrpc-dev gogottrpc util-linux sqlite3)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
