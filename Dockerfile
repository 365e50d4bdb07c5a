# syntax=docker/dockerfile:1
#
# image-worker: book-cover image origin (libvips via govips, so CGO).
#
#   docker build -t image-worker .
#   export IMAGE_SIGNING_KEYS=$(openssl rand -hex 32)
#   docker run -d --name covers -p 127.0.0.1:8000:8000 -v covers-data:/data \
#     -e KAFKA_BROKERS= -e IMAGE_SIGNING_KEYS image-worker
#
# (the quick start of deploy/README.md, "A single container": the embedded
# store on the /data volume; KAFKA_BROKERS= runs it without Kafka, whose
# default, kafka:9092, is the Compose service and never resolves in a single
# container. Port 8081 is the internal listener: /metrics and peers; never
# publish it. `make image-test` runs the image's files with these variables.)
#
# libvips is built here from Debian's own source package (the same 8.14.1
# with Debian's security patches), with only the codecs the service uses:
# JPEG, PNG, GIF (libnsgif, inside libvips), WebP, HEIF/AVIF (libheif) and TIFF
# in, WebP and AVIF out. Debian's libvips42 would bring ImageMagick, poppler,
# librsvg, OpenSlide, matio, cfitsio and more: decoders for formats we never
# accept, each one more attack surface for hostile originals. Both stages use
# the same Debian release, so the codec libraries the build links against are
# the ones the run stage installs. deploy/dockerfile_test.go checks the run
# stage's package list; `make image-test` (part of `make test`) builds the
# image and checks it.

# GO_VERSION must be at least the go line of go.mod: the official images set
# GOTOOLCHAIN=local, so an older toolchain fails instead of downloading one.
ARG GO_VERSION=1.27

FROM golang:${GO_VERSION}-bookworm AS build
# Build tools and the -dev packages of the codecs we use. Not libvips-dev: it
# depends on the -dev packages of every codec Debian enables.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates curl xz-utils patch dpkg-dev meson ninja-build pkg-config \
      libglib2.0-dev libexpat1-dev zlib1g-dev \
      libjpeg62-turbo-dev libpng-dev libwebp-dev libheif-dev libtiff-dev \
      liblcms2-dev libexif-dev liborc-0.4-dev \
 && rm -rf /var/lib/apt/lists/*

# The version apt has on bookworm (`apt-cache policy libvips42`). The sums are
# the ones Debian lists for these files in bookworm's main/source/Sources
# (reached from the signed InRelease) and in the .dsc. A new Debian revision
# means new sums here (deploy/dockerfile_test.go fails when apt knows a newer
# one).
ARG VIPS_VERSION=8.14.1
ARG VIPS_DEBIAN_REVISION=3+deb12u3
ARG VIPS_ORIG_SHA256=a4a6b282216f7522b42ebb5cd64cfd82a0d1a632033e9c0502f021e945fed641
ARG VIPS_DEBIAN_SHA256=f6fb005050217e14049a18e73ce7d5624a01046b2018408d1ad0c24e51c54b25
ARG DEBIAN_POOL=http://deb.debian.org/debian/pool/main/v/vips
WORKDIR /vips
# Download and verify, apply debian/patches/series (the security fixes) the
# way dpkg-source does (-p1, no fuzz), then configure with every optional
# feature off (--auto-features=disabled) and only ours on. The dangerous ones
# are also named, so a change of default cannot bring them back. Built like
# Debian's own package (buildtype plain, dpkg-buildflags with all hardening),
# stripped, into /usr/local. Modules off: libheif is linked in, and libvips
# loads no plugin at run time.
RUN set -eu; \
    orig="vips_${VIPS_VERSION}.orig.tar.gz"; \
    deb="vips_${VIPS_VERSION}-${VIPS_DEBIAN_REVISION}.debian.tar.xz"; \
    curl -fsSLO "${DEBIAN_POOL}/${orig}"; \
    curl -fsSLO "${DEBIAN_POOL}/${deb}"; \
    printf '%s  %s\n' "${VIPS_ORIG_SHA256}" "${orig}" "${VIPS_DEBIAN_SHA256}" "${deb}" | sha256sum -c -; \
    tar -xzf "${orig}"; \
    cd "libvips-${VIPS_VERSION}"; \
    tar -xJf "../${deb}"; \
    test -s debian/patches/series; \
    while read -r p _; do \
      case "$p" in ''|'#'*) continue ;; esac; \
      echo "applying $p"; \
      patch -p1 --fuzz=0 --forward --no-backup-if-mismatch --quiet < "debian/patches/$p"; \
    done < debian/patches/series; \
    export DEB_BUILD_MAINT_OPTIONS=hardening=+all; \
    eval "$(dpkg-buildflags --export=sh)"; \
    meson setup build --prefix=/usr/local --libdir=lib --buildtype=plain \
      --auto-features=disabled \
      -Djpeg=enabled -Dpng=enabled -Dwebp=enabled -Dheif=enabled -Dtiff=enabled \
      -Dlcms=enabled -Dexif=enabled -Dzlib=enabled -Dorc=enabled -Dnsgif=true \
      -Dmodules=disabled -Dheif-module=disabled \
      -Dmagick=disabled -Dmagick-module=disabled \
      -Dpoppler=disabled -Dpoppler-module=disabled -Dpdfium=disabled \
      -Drsvg=disabled -Dopenslide=disabled -Dopenslide-module=disabled \
      -Dmatio=disabled -Dcfitsio=disabled -Dnifti=disabled \
      -Dopenexr=disabled -Dopenjpeg=disabled -Djpeg-xl=disabled -Djpeg-xl-module=disabled \
      -Dpangocairo=disabled -Dfontconfig=disabled -Dfftw=disabled -Dgsf=disabled \
      -Dimagequant=disabled -Dquantizr=disabled -Dcgif=disabled -Dspng=disabled \
      -Dppm=false -Danalyze=false -Dradiance=false \
      -Ddeprecated=true -Dexamples=false -Dcplusplus=false -Dintrospection=false; \
    meson compile -C build; \
    meson install -C build --strip; \
    ldconfig; \
    vips --version; \
    vips -l foreign > /tmp/foreign.txt; \
    for op in jpegload_buffer pngload_buffer gifload_buffer webpload_buffer heifload_buffer \
              tiffload_buffer webpsave_buffer heifsave_buffer; do \
      grep -q "($op)" /tmp/foreign.txt || { echo "libvips lacks $op"; exit 1; }; \
    done; \
    if grep -Ei 'magick|pdf|svg|openslide|matload|fits|exr|jp2k|jxl|dzsave|gifsave|ppm|analyze|rad' /tmp/foreign.txt; then \
      echo "libvips has a loader or saver it should not"; exit 1; \
    fi; \
    cd /; rm -rf /vips /tmp/foreign.txt

WORKDIR /src
ENV CGO_ENABLED=1 \
    PKG_CONFIG_PATH=/usr/local/lib/pkgconfig
# Dependencies first, so source edits do not invalidate the module layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# The binary must link the libvips above, not any other; the run stage gets
# that libvips (its symlinks kept) from /out/lib.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/image-worker ./cmd/image-worker \
 && ldd /out/image-worker | grep -q '/usr/local/lib/libvips\.so\.42' \
 && mkdir -p /out/lib \
 && cp -a /usr/local/lib/libvips*.so.* /out/lib/

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="image-worker" \
      org.opencontainers.image.description="Book-cover image origin: safe fetch, S3/MinIO or local store, WebP/AVIF variants on signed URLs"
# Only what the slim libvips and the binary link to (ldd, mapped to Debian
# packages): glib/gio/gobject, expat, zlib, the codecs (libjpeg-turbo, libpng,
# libwebp with its mux/demux, libheif with aom/dav1d/libde265/x265 for AVIF,
# libtiff), lcms2 for ICC profiles, libexif, orc for libvips' vector paths.
# ca-certificates for HTTPS fetches and for TLS to S3. No ImageMagick,
# poppler, librsvg, OpenSlide, matio or cfitsio (deploy/dockerfile_test.go).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libglib2.0-0 libexpat1 zlib1g \
      libjpeg62-turbo libpng16-16 libwebp7 libwebpmux3 libwebpdemux2 \
      libheif1 libtiff6 liblcms2-2 libexif12 liborc-0.4-0 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app \
 && mkdir -p /app /data \
 && chown app:app /app /data
COPY --from=build /out/lib/ /usr/local/lib/
COPY --from=build /out/image-worker /usr/local/bin/image-worker
# Fails the build if a library the binary or libvips needs is not installed.
RUN ldconfig \
 && out="$(ldd /usr/local/bin/image-worker)" \
 && echo "$out" \
 && case "$out" in *"not found"*) exit 1 ;; esac
WORKDIR /app

# DATA_DIR: the embedded local store (and anything else on disk) lives on
# the /data volume.
# LISTEN_ADDR: the public listener, behind the CDN/edge.
# INTERNAL_ADDR: metrics, the groupcache peer pool and the write routes.
# Loopback by default, like the service: nothing outside the container
# reaches it until a deployment says which address to bind. The shipped
# ones bind the container's own address on the private network (Kubernetes:
# $(POD_IP):8081 from the downward API; Compose: the replica's service
# name), never 0.0.0.0. Do NOT publish 8081 (no -p 8081).
# MALLOC_ARENA_MAX: glibc's per-thread arenas fragment badly under libvips'
# many worker threads; 2 arenas keeps RSS flat (the imgproxy advice).
# VIPS_BLOCK_UNTRUSTED: libvips refuses its loaders marked untrusted (in this
# build: csv, raw, vips) from startup. The service blocks them itself too
# (vips_block_untrusted_set); this is defence in depth.
ENV DATA_DIR=/data \
    LISTEN_ADDR=:8000 \
    INTERNAL_ADDR=127.0.0.1:8081 \
    MALLOC_ARENA_MAX=2 \
    VIPS_BLOCK_UNTRUSTED=1

# Declared after the chown above: changes to a path made after its VOLUME
# line are discarded, and a fresh named volume copies this ownership.
VOLUME ["/data"]

# 8000: public HTTP. 8081: internal only (metrics, groupcache peers); it is
# listed for documentation and service discovery, never to be published.
EXPOSE 8000
EXPOSE 8081

USER 10001:10001

# `image-worker health` GETs /health (liveness, not readiness) on LISTEN_ADDR
# over loopback and exits non-zero when the process does not answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/image-worker", "health"]

ENTRYPOINT ["/usr/local/bin/image-worker"]
CMD ["serve"]
