# syntax=docker/dockerfile:1
# One image for every component, chosen by the argument (packages/embedded/src/launch.ts):
#   docker run IMAGE                 the embedded mode (all five services, PGlite in /data)
#   docker run IMAGE registry        one service (voting, consensus, rewards, distance likewise)
#   docker run IMAGE evaluator       the distance evaluator worker
# /app is assembled by scripts/image-layout.mjs, which the image-layout test runs too: built code and
# the runtime closure of production packages only, owned by root and read-only to the app's user.
# The base is pinned by digest (node 20, Debian 12 slim); bump it deliberately, both stages at once.
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY proto/ proto/
COPY packages/ packages/
COPY services/ services/
COPY scripts/image-layout.mjs scripts/
# Install scripts stay off, as on the development machines (npm 11 blocks them by default).
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm run build \
 && node scripts/image-layout.mjs /app

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    GRPC_HOST=0.0.0.0 \
    GRPC_PORT=50051 \
    GRPC_HEALTH_PORT=8081 \
    DASHBOARD_HOST=0.0.0.0 \
    DATA_DIR=/data/embedded
WORKDIR /app
COPY --from=build --chown=0:0 /app /app
# The only writable place for the app's user (the embedded mode's PGlite and keys); Kubernetes
# mounts a volume or an emptyDir here and at /tmp, with a read-only root filesystem.
RUN mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data
USER 10001:10001
VOLUME ["/data"]
# gRPC (TLS when GRPC_TLS_* are set), the plaintext health port for probes, and the read-only dashboard (HTTP).
EXPOSE 50051 8081 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "/app/packages/embedded/dist/launch.js", "healthcheck"]
ENTRYPOINT ["node", "/app/packages/embedded/dist/launch.js"]
CMD ["embedded"]
