# syntax=docker/dockerfile:1
#
# infermesh control plane image.
#   docker build -t ghcr.io/infermesh/infermesh:0.1.0 .
#   docker run --rm ghcr.io/infermesh/infermesh:0.1.0 --help
#
# There is no compile step: Node 24 runs the TypeScript sources directly (type stripping, on by default
# since Node 23.6 / 22.18). It replaces type annotations with whitespace, so the image runs exactly the
# code that was tested, and stack traces point at the real lines of src/*.ts without source maps. This is
# also why src/ is restricted to erasable TypeScript (tsconfig `erasableSyntaxOnly`: no enums, no
# namespaces, no parameter properties).
#
# For reproducible builds pin both base images by digest (FROM image:tag@sha256:...) and let Renovate or
# Dependabot bump them. Both are Debian 12 (bookworm), so the dependencies installed in the first stage
# run unchanged on the second (there are no native addons today, but this keeps it true if one appears).

# --- Stage 1: production dependencies only ------------------------------------------------------------
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: no typescript, vitest or @types; the `node` devDependency (which pins Node 24 for tests by
# downloading it in an install script) is left out with them.
# --ignore-scripts: package.json `allowScripts` lists the only install scripts in the tree, `node` (a dev
# dependency, not installed here) and protobufjs, whose postinstall only prints a warning about version
# ranges. Nothing needs to run at install time, and nothing from the registry gets to.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- Stage 2: runtime -----------------------------------------------------------------------------------
# Distroless: Node 24 and glibc, no shell, no package manager. The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/nodejs24-debian12:nonroot

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="infermesh" \
      org.opencontainers.image.description="Model-aware Envoy xDS control plane for TensorFlow Serving and Triton on Kubernetes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/infermesh/infermesh" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs24-debian12:nonroot"

ENV NODE_ENV=production
WORKDIR /app

# Files stay owned by root and read-only to the process user: the server cannot modify its own code, and
# it runs with readOnlyRootFilesystem in manifests/base.
COPY --from=deps /app/node_modules ./node_modules
# package.json is needed at run time: its "type": "module" makes Node load bin/*.js and src/**/*.ts as ES modules.
COPY package.json ./
COPY bin ./bin
# Read at start-up: envoy-roots.json (which of Envoy's API protos to load; the .proto files themselves
# ship in node_modules/@grpc/grpc-js-xds) and the project's own .proto files.
COPY protos ./protos
# The Envoy sidecar bootstrap template that `infermesh inject` fills in, so the image can also inject:
#   docker run --rm -i ghcr.io/infermesh/infermesh:0.1.0 inject -f - < app.yaml > app.injected.yaml
COPY envoy ./envoy
COPY src ./src

# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532

# 18000: xDS (ADS gRPC) for sidecars and proxyless gRPC clients. 9090: /metrics, /healthz, /readyz, /status.
EXPOSE 18000 9090

# Node itself is PID 1 (no shell wrapper), so it receives SIGTERM directly and `serve` shuts down cleanly.
# No HEALTHCHECK: there is no shell or curl in the image, and Kubernetes uses the probes in the manifests.
ENTRYPOINT ["/nodejs/bin/node", "bin/infermesh.js"]
# With neither --config-dir nor --kubeconfig, serve uses in-cluster config (the pod's ServiceAccount).
CMD ["serve", "--xds-address=0.0.0.0:18000", "--admin-address=0.0.0.0:9090"]
