#!/usr/bin/env bash
# make image: builds the repository's Dockerfile for real with podman
# (`podman build --isolation=chroot --pull=never`, on base images made locally
# by scripts/image-bases.sh: for machines without a Docker engine or a
# registry), then checks the image (scripts/image-check.sh): no ImageMagick,
# poppler, librsvg, OpenSlide, matio, cfitsio... in its package list, every
# library resolved, and the binary answering /health and rendering in a chroot
# of the image, on loopback.
#
# Slow (debootstrap of the base images the first time, then libvips compiled
# from Debian's source package: 5.5 minutes end to end on 2 cores, 3.5 once
# the base images exist), so it is not part of `make test`;
# deploy/dockerfile_test.go is the fast check that is.
#
# Env: IMAGE (tag, default localhost/image-worker:slim), IMAGE_SRC (build
# context, default this checkout; point it at a clean `git worktree` to build
# HEAD without work in progress), IMAGE_BUILD_TIMEOUT (seconds, default 3600).
# Needs root (podman storage under /var/lib/containers, chroot, mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
IMAGE="${IMAGE:-localhost/image-worker:slim}"
SRC="${IMAGE_SRC:-$repo}"
BUILD_TIMEOUT="${IMAGE_BUILD_TIMEOUT:-3600}"

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=IMAGE,IMAGE_SRC,IMAGE_BUILD_TIMEOUT,GO,PATH bash "$0" "$@"
fi
bash scripts/apt-install.sh podman debootstrap curl

go_version="$(sed -n 's/^ARG GO_VERSION=\([0-9.]*\)$/\1/p' "$SRC/Dockerfile")"
[ -n "$go_version" ] || { echo "no ARG GO_VERSION=X.Y in $SRC/Dockerfile"; exit 1; }
bash scripts/image-bases.sh "$go_version"

log="$(mktemp /tmp/image-build.XXXXXX.log)"
echo ">> podman build $IMAGE from $SRC (log: $log)"
start=$SECONDS
if ! timeout "$BUILD_TIMEOUT" podman build --isolation=chroot --pull=never --format docker \
     -f "$SRC/Dockerfile" -t "$IMAGE" "$SRC" >"$log" 2>&1; then
  tail -n 60 "$log"
  echo ">> podman build failed or timed out after $((SECONDS - start))s (full log: $log)"
  exit 1
fi
grep -E '^(STEP|applying|VIPS|vips-|Successfully)|^  *(JPEG|PNG|GIF|WebP|TIFF|HEIC|Magick|PDF|SVG|OpenSlide|Matlab|FITS)' "$log" || true
echo ">> built $IMAGE in $((SECONDS - start))s"

echo ">> checking $IMAGE"
bash scripts/image-check.sh "$IMAGE"
rm -f "$log"
