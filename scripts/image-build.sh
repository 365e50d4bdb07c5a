#!/usr/bin/env bash
# make image and make image-test: builds the repository's Dockerfile for real
# with podman (`podman build --isolation=chroot --pull=never`, on base images
# made locally by scripts/image-bases.sh: for machines without a Docker engine
# or a registry), then checks the image (scripts/image-check.sh): its size and
# package list (no ImageMagick, poppler, librsvg, OpenSlide, matio,
# cfitsio...), every library resolved, and the binary answering /health,
# rendering every accepted format and passing deploy/smoke.sh (alone and
# behind the nginx edge) in a chroot of the image, on loopback.
#
# Time on 2 cores (make test runs it as its image step; it prints its
# phases' times at the end; measurements in deploy/README.md, "The image"):
# from nothing (debootstrap of the base images, apt in the build stage,
# libvips compiled from Debian's source, every Go module downloaded and
# compiled) 6.3 to 14 minutes on a machine shared with other builds, about
# 350 CPU-seconds; again with the same podman store, 7-30 seconds: podman's
# layer cache reuses every step whose inputs did not change (the base images
# are kept by tag; libvips' layer depends only on the Dockerfile lines above
# it; the Go module and build caches are cache mounts, so a source change
# recompiles only what changed), and the checks take 4-20 seconds.
#
# Usage: image-build.sh [test]   (test: make image-test, whose default tag is
# localhost/image-worker:test, so make test never moves make image's tag)
# Env: IMAGE (tag, default localhost/image-worker:slim), IMAGE_SRC (build
# context, default this checkout; point it at a clean `git worktree` to build
# HEAD without work in progress), IMAGE_BUILD_TIMEOUT (seconds, default 3600),
# and image-check.sh's IMAGE_CHECK_* / IMAGE_MAX_* settings.
# Needs root (podman storage under /var/lib/containers, chroot, mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
if [ "${1:-}" = test ]; then
  IMAGE="${IMAGE:-localhost/image-worker:test}"
else
  IMAGE="${IMAGE:-localhost/image-worker:slim}"
fi
SRC="${IMAGE_SRC:-$repo}"
BUILD_TIMEOUT="${IMAGE_BUILD_TIMEOUT:-3600}"

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=IMAGE,IMAGE_SRC,IMAGE_BUILD_TIMEOUT,IMAGE_CHECK_PORT,IMAGE_CHECK_INTERNAL_PORT,IMAGE_CHECK_EDGE_PORT,IMAGE_MAX_MB,IMAGE_MAX_PACKAGES,GO,PATH bash "$0" "$@"
fi
start=$SECONDS
# nginx-light: deploy/smoke.sh's Compose mode runs behind deploy/nginx/cdn.conf.
timeout 1200 bash scripts/apt-install.sh podman debootstrap curl nginx-light

go_version="$(sed -n 's/^ARG GO_VERSION=\([0-9.]*\)$/\1/p' "$SRC/Dockerfile")"
[ -n "$go_version" ] || { echo "no ARG GO_VERSION=X.Y in $SRC/Dockerfile"; exit 1; }
t=$SECONDS
timeout 3600 bash scripts/image-bases.sh "$go_version"
bases=$((SECONDS - t))

tmp="$(mktemp -d /tmp/image-build.XXXXXX)"
log="$tmp/build.log"
keep_log=0
cleanup() { if [ "$keep_log" = 1 ]; then echo ">> build log kept: $log"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
echo ">> podman build $IMAGE from $SRC"
t=$SECONDS
# --jobs 2: the run stage (apt-get of the runtime libraries) goes on while the
# build stage compiles, up to its COPY --from=build. Each line of the log
# gets the second it was written, so the slow steps can be named.
if ! timeout "$BUILD_TIMEOUT" podman build --isolation=chroot --pull=never --format docker \
     --jobs 2 --iidfile "$tmp/iid" -f "$SRC/Dockerfile" -t "$IMAGE" "$SRC" 2>&1 |
     while IFS= read -r line; do printf '%s %s\n' "$SECONDS" "$line"; done >"$log"; then
  tail -n 60 "$log"
  keep_log=1
  echo ">> podman build failed or timed out after $((SECONDS - t))s"
  exit 1
fi
build=$((SECONDS - t))
cut -d' ' -f2- "$log" | grep -E '^(\[[0-9]+/[0-9]+\] )?STEP|^(applying|VIPS|vips-|Successfully)|^  *(JPEG|PNG|GIF|WebP|TIFF|HEIC|Magick|PDF|SVG|OpenSlide|Matlab|FITS)' || true
# The steps that took 10 s or more: from a step's line to the next step of
# its stage (the stages may run side by side), a stage's last step to the end.
awk '{ last = $1 }
     / STEP [0-9]+\/[0-9]+:/ {
       stage = ($2 ~ /^\[/) ? $2 : "-"
       if (stage in name && $1 - at[stage] >= 10) printf ">>   %4ds  %s\n", $1 - at[stage], name[stage]
       at[stage] = $1; name[stage] = substr($0, index($0, " ") + 1, 110) }
     END { for (s in name) if (last - at[s] >= 10) printf ">>   %4ds  %s\n", last - at[s], name[s] }' "$log"
cached="$(grep -c 'Using cache' "$log" || true)"
id="$(cat "$tmp/iid")"
id="${id#sha256:}"
echo ">> built $IMAGE (${id:0:12}) in ${build}s, ${cached} steps from podman's layer cache"

echo ">> checking $IMAGE"
t=$SECONDS
timeout 1800 bash scripts/image-check.sh "$id"
check=$((SECONDS - t))
echo ">> image timings: base images ${bases}s, podman build ${build}s, checks ${check}s, total $((SECONDS - start))s"
