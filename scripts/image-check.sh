#!/usr/bin/env bash
# Checks a built image-worker image without a container runtime (podman run
# does not start containers on machines without a usable cgroup/rlimit setup,
# so the image's root filesystem is mounted with `podman image mount` and the
# binary run in a chroot of it):
#
#   1. the image's Env holds VIPS_BLOCK_UNTRUSTED=1 and it runs as 10001;
#   2. `dpkg -l` inside it lists none of ImageMagick, poppler, librsvg,
#      OpenSlide, matio, cfitsio, OpenEXR, libjxl or Debian's libvips;
#   3. `ldd` inside it resolves every library of the binary and of libvips;
#   4. the binary, started in a chroot of the image as uid 10001 with the
#      image's Env (loopback ports, no Kafka, a throw-away key and data dir),
#      answers GET /health with 200, passes its own HEALTHCHECK command,
#      imports originals of each accepted format, serves WebP and AVIF
#      variants of them, and refuses an SVG; then it is stopped.
#
# Usage: image-check.sh IMAGE   (root; called by scripts/image-build.sh)
# Everything listens on 127.0.0.1 only. Bind mounts are made in a private mount
# namespace, so they vanish with it whatever happens; every step has a timeout.
set -euo pipefail
IMAGE="${1:?usage: image-check.sh IMAGE}"
PORT="${IMAGE_CHECK_PORT:-18000}"
INTERNAL_PORT="${IMAGE_CHECK_INTERNAL_PORT:-18081}"
FORBIDDEN='^(libmagick|imagemagick|libpoppler|librsvg|libopenslide|libmatio|libcfitsio|libopenexr|libjxl|libvips)'
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "image-check: FAIL: $*" >&2; exit 1; }

# ---- inside the private mount namespace (see the end of this file) ----------
if [ "${2:-}" = "--inside" ]; then
  mnt="$3" data="$4" envfile="$5" testdata="$6" corpus="$7"
  # As in the Kubernetes manifests: /tmp is a writable scratch space, the
  # rest of the image is read-only (podman image mount is read-only).
  mount -t proc proc "$mnt/proc"
  mount --bind "$data" "$mnt/data"
  mount -t tmpfs -o mode=1777,size=256m tmpfs "$mnt/tmp"
  mapfile -t envs <"$envfile"
  # run CMD...: a command of the image, as the image's user with its Env.
  run() { timeout 120 chroot --userspec=10001:10001 "$mnt" /usr/bin/env -i "${envs[@]}" "$@"; }
  base="http://127.0.0.1:$PORT"
  pid=""
  stop() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  }
  trap stop EXIT

  # serve, bounded by timeout in case this script is killed before stop runs.
  timeout 600 chroot --userspec=10001:10001 "$mnt" /usr/bin/env -i "${envs[@]}" \
    /usr/local/bin/image-worker serve >"$data/serve.log" 2>&1 &
  pid=$!
  code=""
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { cat "$data/serve.log" >&2; die "image-worker serve exited before answering /health"; }
    code="$(curl -sS -o "$data/health.body" -w '%{http_code}' --max-time 2 "$base/health" 2>/dev/null || true)"
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ] || { tail -n 20 "$data/serve.log" >&2; die "GET /health answered '${code}', want 200"; }
  echo "GET $base/health: 200 $(head -c 200 "$data/health.body")"
  echo "GET $base/ready: $(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$base/ready" || true)"
  run /usr/local/bin/image-worker health >/dev/null || die "the image's HEALTHCHECK command (image-worker health) failed"
  echo "HEALTHCHECK image-worker health: exit 0"

  # Every format the service accepts decodes in the image, and both output
  # formats encode; an SVG is refused at import. Originals come from
  # testdata/ (there is no TIFF there: that format is reported as not
  # checked; the transform tests render a generated one).
  mkdir -p "$data/in"
  failed=0
  find_original() {
    local d
    for d in "$testdata" "$corpus"; do
      [ -f "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
  }
  for f in photo-1600x2400-baseline.jpg cover-800x1200-alpha.png cover-240x360-animated-6frames.gif \
           cover-1200x1800-lossy.webp cover-1200x1800.heic cover-1200x1800.avif cover-800x1200.tiff; do
    src="$(find_original "$f")" || { echo "render $f: not checked (no such original in testdata/ or $corpus)"; continue; }
    install -o 10001 -g 10001 -m 0644 "$src" "$data/in/$f"
    book="img-$(tr -c 'A-Za-z0-9\n' '-' <<<"$f")"
    out="$(run /usr/local/bin/image-worker import --book "$book" "/data/in/$f" 2>&1)" \
      || { echo "import $f: FAILED: $out"; failed=1; continue; }
    version="$(sed -n 's/.* version \([0-9a-f]\{1,\}\) .*/\1/p' <<<"$out" | head -n 1)"
    line="render $f:"
    for fmt in webp avif; do
      signed="$(run /usr/local/bin/image-worker sign "/covers/$book/240.$fmt?v=$version")" || die "sign failed"
      got="$(curl -sS -o "$data/out.$fmt" -w '%{http_code} %{content_type}' --max-time 60 "$base$signed" || true)"
      magic="$(head -c 12 "$data/out.$fmt" | tail -c 4 | tr -dc 'A-Za-z0-9')"
      case "$fmt:$got:$magic" in
        "webp:200 image/webp:WEBP" | "avif:200 image/avif:avif") ;;
        *) echo "$line $fmt: got '$got', bytes 8-11 '$magic'"; failed=1; continue ;;
      esac
      line="$line $fmt 200 $(wc -c <"$data/out.$fmt") bytes,"
    done
    echo "${line%,}"
  done
  if svg="$(find_original cover-400x600.svg)"; then
    install -o 10001 -g 10001 -m 0644 "$svg" "$data/in/cover-400x600.svg"
    if out="$(run /usr/local/bin/image-worker import --book img-svg /data/in/cover-400x600.svg 2>&1)"; then
      echo "import SVG: ACCEPTED ($out), want it refused"; failed=1
    else
      echo "import SVG: refused ($(tail -n 1 <<<"$out" | head -c 200))"
    fi
  fi
  [ "$failed" = 0 ] || { tail -n 20 "$data/serve.log" >&2; die "a render check failed"; }

  stop
  pid=""
  echo "image-worker serve stopped"
  exit 0
fi

# ---- outside: inspect, mount, package list, ldd, then the run checks --------
[ "$(id -u)" -eq 0 ] || die "needs root (podman image mount, chroot)"
command -v curl >/dev/null || die "curl is required"
for p in "$PORT" "$INTERNAL_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "127.0.0.1:$p is already in use (set IMAGE_CHECK_PORT / IMAGE_CHECK_INTERNAL_PORT)"
  fi
done

tmp="$(mktemp -d /tmp/image-check.XXXXXX)"
mnt=""
cleanup() {
  if [ -n "$mnt" ]; then podman image unmount "$IMAGE" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

podman image exists "$IMAGE" || die "no image $IMAGE"
size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
echo "image $IMAGE: $((size / 1000000)) MB ($size bytes)"
user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
[ "$user" = "10001:10001" ] || die "image USER is '$user', want 10001:10001"
podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d' >"$tmp/image.env"
grep -qx 'VIPS_BLOCK_UNTRUSTED=1' "$tmp/image.env" || die "image Env lacks VIPS_BLOCK_UNTRUSTED=1: $(tr '\n' ' ' <"$tmp/image.env")"
echo "image Env: $(tr '\n' ' ' <"$tmp/image.env")"
{
  cat "$tmp/image.env"
  echo "LISTEN_ADDR=127.0.0.1:$PORT"
  echo "INTERNAL_ADDR=127.0.0.1:$INTERNAL_PORT"
  echo "KAFKA_BROKERS="
  echo "SHUTDOWN_DELAY=0s"
  echo "IMAGE_SIGNING_KEYS=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
} >"$tmp/run.env"

mnt="$(podman image mount "$IMAGE")"
[ -d "$mnt/usr/local/bin" ] || die "podman image mount gave '$mnt'"

# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
chroot "$mnt" dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' >"$tmp/dpkg.txt"
installed="$(awk '$1 == "ii" {print $2}' "$tmp/dpkg.txt" | sed 's/:.*//')"
echo "dpkg -l: $(wc -l <<<"$installed") packages installed"
bad="$(grep -E "$FORBIDDEN" <<<"$installed" || true)"
[ -z "$bad" ] || die "forbidden packages in the image: $(tr '\n' ' ' <<<"$bad")"
echo "forbidden packages (${FORBIDDEN}): none"

for f in /usr/local/bin/image-worker /usr/local/lib/libvips.so.42; do
  chroot "$mnt" ldd "$f" >"$tmp/ldd.txt" || die "ldd $f failed in the image"
  if grep 'not found' "$tmp/ldd.txt"; then die "ldd $f: unresolved libraries in the image"; fi
  echo "ldd $f: $(grep -c '=>' "$tmp/ldd.txt") libraries, all resolved"
done
grep -q '/usr/local/lib/libvips.so.42' <(chroot "$mnt" ldd /usr/local/bin/image-worker) \
  || die "the binary does not link /usr/local/lib/libvips.so.42"
echo "libvips in the image: $(find "$mnt/usr/local/lib" -maxdepth 1 -name 'libvips*' \( -type l -printf '%f -> %l, ' -o -printf '%f %s bytes, ' \) | sed 's/, $//')"

data="$tmp/data"
mkdir -p "$data"
chown 10001:10001 "$data"
chmod 755 "$tmp"
timeout 900 unshare --mount --propagation private -- \
  env IMAGE_CHECK_PORT="$PORT" IMAGE_CHECK_INTERNAL_PORT="$INTERNAL_PORT" \
  bash "$here/image-check.sh" "$IMAGE" --inside "$mnt" "$data" "$tmp/run.env" "$here/../testdata" "$here/../testdata" \
  || die "run checks failed"
echo "image-check: OK"
