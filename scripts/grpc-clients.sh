#!/usr/bin/env bash
# Installs the independent proxyless gRPC clients the interop tests (test/interop) run, next to
# @grpc/grpc-js-xds (package-lock) and Debian's python3-grpcio 1.51 (apt-get, see scripts/tools.sh):
#   - grpcio (current gRPC C-core) from PyPI, pinned, into the virtualenv .cache/grpcio-venv
#   - grpc-go's xDS client: test/interop/go (modules pinned in its go.mod/go.sum, from the Go module proxy),
#     built with the machine's Go toolchain into .cache/grpc-go-client/grpc-go-client
# Prints "NAME VERSION PATH" per client. Idempotent: a client already there at the pinned version (for Go:
# built from the same sources with the same toolchain) is not touched again. Nothing is committed.
#
#   scripts/grpc-clients.sh          install (or find) both clients
#   scripts/grpc-clients.sh --list   print "NAME VERSION" of the pinned clients and stop
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep README's "Supported data planes" in step with these two.
GRPCIO_VERSION=1.85.1
GO_SOURCES=test/interop/go
GRPC_GO_VERSION="$(awk '$1 == "google.golang.org/grpc" { print $2 }' "$GO_SOURCES/go.mod")"
CACHE="${INFERMESH_TOOLS_CACHE:-$PWD/.cache}"

if [ "${1:-}" = "--list" ]; then
  echo "grpcio $GRPCIO_VERSION"
  echo "grpc-go $GRPC_GO_VERSION"
  exit 0
fi

# grpcio from PyPI. Debian's python3 with venv; the venv does not see Debian's own grpcio (no system site-packages).
PYTHON="${PYTHON:-/usr/bin/python3}"
venv="$CACHE/grpcio-venv"
if ! [ -x "$venv/bin/python" ] || [ "$("$venv/bin/python" -c 'import grpc; print(grpc.__version__)' 2>/dev/null)" != "$GRPCIO_VERSION" ]; then
  if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "scripts/grpc-clients.sh: needs Python 3 with the venv module ($PYTHON); on Debian: apt-get install python3-venv" >&2
    exit 1
  fi
  echo "installing grpcio==$GRPCIO_VERSION into $venv" >&2
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "grpcio==$GRPCIO_VERSION" >&2
  [ "$("$venv/bin/python" -c 'import grpc; print(grpc.__version__)')" = "$GRPCIO_VERSION" ] \
    || { echo "scripts/grpc-clients.sh: $venv has no grpcio $GRPCIO_VERSION" >&2; exit 1; }
fi
echo "grpcio $GRPCIO_VERSION $venv/bin/python"

# grpc-go: rebuilt only when its sources, its pins or the Go toolchain changed (a stamp beside the binary).
if ! command -v go >/dev/null; then
  echo "scripts/grpc-clients.sh: needs the Go toolchain (go) to build $GO_SOURCES" >&2
  exit 1
fi
out="$CACHE/grpc-go-client"
binary="$out/grpc-go-client"
stamp="$( { go version; cat "$GO_SOURCES/go.mod" "$GO_SOURCES/go.sum" "$GO_SOURCES"/*.go; } | sha256sum | cut -d' ' -f1)"
if ! [ -x "$binary" ] || [ "$(cat "$out/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "building grpc-go $GRPC_GO_VERSION client into $binary (modules from the Go module proxy)" >&2
  mkdir -p "$out"
  (cd "$GO_SOURCES" && GOFLAGS=-mod=readonly go build -trimpath -buildvcs=false -o "$binary" .)
  echo "$stamp" > "$out/stamp"
fi
echo "grpc-go $GRPC_GO_VERSION $binary"
