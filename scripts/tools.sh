#!/usr/bin/env bash
# Installs every external tool the tests run, pinned, into the project-local cache .cache/ (git-ignored):
# the Envoys (scripts/envoy.sh), kustomize, and the gRPC clients (scripts/grpc-clients.sh). Debian packages
# (python3-grpcio, gRPC C-core 1.51; prometheus with promtool) are installed with apt-get when running as
# root, as in CI.
# Idempotent: what is already there at the pinned version is not touched (a second run takes about a
# second). `npm test` and .ci/run call this. With INFERMESH_SKIP_MISSING_TOOLS=1 a tool that cannot be
# installed is reported and skipped (its tests then show as skipped); otherwise it stops with an error.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${INFERMESH_TOOLS_CACHE:-$PWD/.cache}"

step() {
  if ! "$@"; then
    if [ "${INFERMESH_SKIP_MISSING_TOOLS:-}" = 1 ]; then
      echo "scripts/tools.sh: '$*' failed; INFERMESH_SKIP_MISSING_TOOLS=1, so the tests that need it will be skipped" >&2
    else
      echo "scripts/tools.sh: '$*' failed (set INFERMESH_SKIP_MISSING_TOOLS=1 to run the other tests without it)" >&2
      exit 1
    fi
  fi
}

install_kustomize() {
  if ! "$CACHE/tools/bin/kustomize" version 2>/dev/null | grep -qx "$KUSTOMIZE_VERSION"; then
    echo "installing kustomize $KUSTOMIZE_VERSION into $CACHE/tools/bin" >&2
    GOBIN="$CACHE/tools/bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" || return 1
  fi
  echo "kustomize $CACHE/tools/bin/kustomize"
}

# Debian's gRPC C-core 1.51 for the interop tests (test/interop).
if ! /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-grpcio >/dev/null
  else
    echo "scripts/tools.sh: python3-grpcio is missing and this is not root: run  sudo apt-get install python3-grpcio" >&2
  fi
fi

# openssl makes the throwaway CA and certificates of the mTLS tests (test/support/test-certs.ts).
if ! [ -x /usr/bin/openssl ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
  else
    echo "scripts/tools.sh: openssl is missing and this is not root: run  sudo apt-get install openssl" >&2
  fi
fi

# Prometheus and promtool for test/monitoring (the rules' unit tests and the end-to-end query test):
# Debian's package (2.42 on Debian 12). Its postinst may try to start a service; there is no init in CI,
# and tests start their own Prometheus on loopback.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  else
    echo "scripts/tools.sh: prometheus/promtool are missing and this is not root: run  sudo apt-get install prometheus" >&2
  fi
fi

# LuaJIT runs the body-routing filter's JSON scanner in unit tests (test/envoy/model-from-body-scanner.test.ts;
# Envoy's Lua is LuaJIT 2.1 too); wrk drives `npm run bench`'s data-plane and body-routing rows.
if ! command -v luajit >/dev/null || ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq luajit wrk >/dev/null
  else
    echo "scripts/tools.sh: luajit or wrk is missing and this is not root: run  sudo apt-get install luajit wrk" >&2
  fi
fi

step bash scripts/envoy.sh

# kustomize for test/manifests (Debian's kubectl 1.20 embeds a kustomize too old for the manifests).
KUSTOMIZE_VERSION=v5.7.1
step install_kustomize

if [ -f scripts/grpc-clients.sh ]; then step bash scripts/grpc-clients.sh; fi
