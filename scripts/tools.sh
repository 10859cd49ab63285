#!/usr/bin/env bash
# Installs every external tool the tests run, pinned, into the project-local cache .cache/ (git-ignored):
# the Envoys (scripts/envoy.sh), kustomize, and the gRPC clients (scripts/grpc-clients.sh). Debian packages
# (python3-grpcio, gRPC C-core 1.51) are installed with apt-get when running as root, as in CI.
# Idempotent: what is already there at the pinned version is not touched. .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${INFERMESH_TOOLS_CACHE:-$PWD/.cache}"

# Debian's gRPC C-core 1.51 for the interop tests (test/interop).
if ! /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-grpcio >/dev/null
  else
    echo "scripts/tools.sh: python3-grpcio is missing and this is not root: run  sudo apt-get install python3-grpcio" >&2
  fi
fi

bash scripts/envoy.sh

# kustomize for test/manifests (Debian's kubectl 1.20 embeds a kustomize too old for the manifests).
KUSTOMIZE_VERSION=v5.7.1
if ! "$CACHE/tools/bin/kustomize" version 2>/dev/null | grep -qx "$KUSTOMIZE_VERSION"; then
  echo "installing kustomize $KUSTOMIZE_VERSION into $CACHE/tools/bin" >&2
  GOBIN="$CACHE/tools/bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi
echo "kustomize $CACHE/tools/bin/kustomize"

if [ -f scripts/grpc-clients.sh ]; then bash scripts/grpc-clients.sh; fi
