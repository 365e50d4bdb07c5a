# syntax=docker/dockerfile:1
#
# image-worker: book-cover image origin (libvips via govips, so CGO).
#
#   docker build -t image-worker .
#   docker run --rm -p 8000:8000 -v covers:/data \
#     -e IMAGE_SIGNING_KEYS=$(openssl rand -hex 32) image-worker
#
# The build and run stages use the same Debian release so the libvips the
# binary links against at build time (libvips-dev, 8.14 on bookworm) is the
# one installed at run time (libvips42).

# GO_VERSION must be at least the go line of go.mod: the official images set
# GOTOOLCHAIN=local, so an older toolchain fails instead of downloading one.
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
ENV CGO_ENABLED=1
# Dependencies first, so source edits do not invalidate the module layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/image-worker ./cmd/image-worker

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="image-worker" \
      org.opencontainers.image.description="Book-cover image origin: safe fetch, S3/MinIO or local store, WebP/AVIF variants on signed URLs"
# libvips42 brings the codecs (libwebp, libheif for AVIF, libjpeg, libpng,
# libgif via libnsgif in vips itself); ca-certificates for HTTPS fetches and
# for TLS to S3.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips42 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app \
 && mkdir -p /app /data \
 && chown app:app /app /data
COPY --from=build /out/image-worker /usr/local/bin/image-worker
WORKDIR /app

# DATA_DIR: the embedded local store (and anything else on disk) lives on
# the /data volume.
# LISTEN_ADDR: the public listener, behind the CDN/edge.
# INTERNAL_ADDR: metrics and the groupcache peer pool. The
# service defaults to 127.0.0.1:8081, which nothing outside the container
# could reach; in a container the metrics scraper and the groupcache peers
# must reach it, so the image binds all interfaces. Do NOT publish 8081 to
# the internet: keep it on the private/cluster network only (no -p 8081).
# MALLOC_ARENA_MAX: glibc's per-thread arenas fragment badly under libvips'
# many worker threads; 2 arenas keeps RSS flat (the imgproxy advice).
ENV DATA_DIR=/data \
    LISTEN_ADDR=:8000 \
    INTERNAL_ADDR=0.0.0.0:8081 \
    MALLOC_ARENA_MAX=2

# Declared after the chown above: changes to a path made after its VOLUME
# line are discarded, and a fresh named volume copies this ownership.
VOLUME ["/data"]

# 8000: public HTTP. 8081: internal only (metrics, groupcache peers); it is
# listed for documentation and service discovery, never to be published.
EXPOSE 8000
EXPOSE 8081

USER 10001:10001

# `image-worker health` GETs /health on LISTEN_ADDR over loopback and exits
# non-zero when it is not ready.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/image-worker", "health"]

ENTRYPOINT ["/usr/local/bin/image-worker"]
CMD ["serve"]
