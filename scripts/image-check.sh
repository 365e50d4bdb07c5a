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
#   4. the image is at most IMAGE_MAX_MB (default 180) and holds at most
#      IMAGE_MAX_PACKAGES Debian packages (default 125; measured: 145 MB and
#      111 packages, where Debian's libvips42 gave 259 MB and 186);
#   5. the binary, started in a chroot of the image as uid 10001 with the
#      image's Env plus what the single-container quick start sets
#      (KAFKA_BROKERS= and a signing key: the embedded store, no Kafka; see
#      deploy/README.md) and loopback ports, answers GET /health with 200,
#      passes its own HEALTHCHECK command, imports originals of each accepted
#      format, serves WebP and AVIF variants of them, and refuses an SVG;
#   6. deploy/smoke.sh passes against it twice: with no edge (SMOKE_EDGE=,
#      the quick start's shape: health and readiness, a local file imported
#      through the container, a signed cover fetched and its headers
#      checked), then in its Compose mode, through Debian's nginx running
#      deploy/nginx/cdn.conf (rewritten only where it says "per deployment")
#      with a stand-in `docker` that runs `docker compose -f
#      deploy/compose.yaml exec -T image-worker-1 CMD` as CMD in the image
#      (MISS, then HIT at the edge); then both are stopped.
#
# Usage: image-check.sh IMAGE   (root; called by scripts/image-build.sh).
# IMAGE is a name or an ID; it is resolved to its ID once, so a tag that a
# concurrent build moves is not checked in its place.
# Env: IMAGE_CHECK_PORT, IMAGE_CHECK_INTERNAL_PORT, IMAGE_CHECK_EDGE_PORT
# (default: free ports in 18000-19999), IMAGE_MAX_MB, IMAGE_MAX_PACKAGES.
# Everything listens on 127.0.0.1 only. Bind mounts are made in a private mount
# namespace, so they vanish with it whatever happens; every step has a timeout.
set -euo pipefail
IMAGE="${1:?usage: image-check.sh IMAGE}"
MAX_MB="${IMAGE_MAX_MB:-180}"
MAX_PACKAGES="${IMAGE_MAX_PACKAGES:-125}"
FORBIDDEN='^(libmagick|imagemagick|libpoppler|librsvg|libopenslide|libmatio|libcfitsio|libopenexr|libjxl|libvips)'
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

die() { echo "image-check: FAIL: $*" >&2; exit 1; }

# ---- inside the private mount namespace (see the end of this file) ----------
if [ "${2:-}" = "--inside" ]; then
  mnt="$3" work="$4" testdata="$5" corpus="$6"
  data="$work/data"
  # As in the Kubernetes manifests: /tmp is a writable scratch space, the
  # rest of the image is read-only (podman image mount is read-only).
  mount -t proc proc "$mnt/proc"
  mount --bind "$data" "$mnt/data"
  mount -t tmpfs -o mode=1777,size=256m tmpfs "$mnt/tmp"
  # in-image CMD...: a command of the image, as the image's user with its
  # Env, as `docker exec` runs it (deploy/smoke.sh gets it as SMOKE_EXEC).
  cat >"$work/in-image" <<EOF
#!/usr/bin/env bash
mapfile -t envs <"$work/run.env"
exec timeout 120 chroot --userspec=10001:10001 "$mnt" /usr/bin/env -i "\${envs[@]}" "\$@"
EOF
  chmod 755 "$work/in-image"
  run() { "$work/in-image" "$@"; }
  base="http://127.0.0.1:$PORT"
  pid=""
  edge_pid=""
  stop() {
    local p
    for p in "$edge_pid" "$pid"; do
      if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
  }
  trap stop EXIT

  # serve, bounded by timeout in case this script is killed before stop runs.
  mapfile -t envs <"$work/run.env"
  timeout 840 chroot --userspec=10001:10001 "$mnt" /usr/bin/env -i "${envs[@]}" \
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

  # deploy/smoke.sh with no edge: the origin alone, as in the quick start.
  echo "== deploy/smoke.sh, one origin (SMOKE_EDGE=)"
  SMOKE_EDGE='' SMOKE_ORIGIN="$base" SMOKE_EXEC="$work/in-image" SMOKE_TIMEOUT=60 \
    timeout 300 bash "$repo/deploy/smoke.sh" "$testdata/photo-1600x2400-baseline.jpg" smoke-image \
    || { tail -n 20 "$data/serve.log" >&2; die "deploy/smoke.sh against the image failed"; }

  # deploy/smoke.sh in its Compose mode: the edge of deploy/nginx/cdn.conf in
  # front of the origin (rewritten only where it says "per deployment": the
  # replicas become the origin, the cache goes to $edge/cache, it listens on
  # loopback), and a stand-in for `docker compose exec`.
  edge="$work/edge"
  mkdir -p "$edge/bin" "$edge/cache" "$edge/tmp"
  chown nobody:nogroup "$edge/cache" "$edge/tmp"
  awk -v origin="127.0.0.1:$PORT" '
    /^[ \t]*server image-worker-1:8000[ ;]/ { sub(/image-worker-1:8000/, origin); print; next }
    /^[ \t]*server image-worker-[0-9]+:8000[ ;]/ { next }
    { print }' "$repo/deploy/nginx/cdn.conf" |
    sed -e "s|^proxy_cache_path /var/cache/nginx/covers |proxy_cache_path $edge/cache |" \
        -e "s|^    listen 8080;|    listen 127.0.0.1:$EDGE_PORT;|" >"$edge/cdn.conf"
  if ! grep -q "server 127.0.0.1:$PORT " "$edge/cdn.conf" || ! grep -q "proxy_cache_path $edge/cache " "$edge/cdn.conf" ||
     ! grep -q "listen 127.0.0.1:$EDGE_PORT;" "$edge/cdn.conf" || grep -q 'image-worker-' "$edge/cdn.conf"; then
    die "deploy/nginx/cdn.conf: its per-deployment lines (server image-worker-N:8000, proxy_cache_path, listen 8080) changed"
  fi
  cat >"$edge/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $edge/nginx.pid;
error_log $edge/error.log warn;
events { worker_connections 256; }
http {
    client_body_temp_path $edge/tmp/body;
    proxy_temp_path $edge/tmp/proxy;
    fastcgi_temp_path $edge/tmp/fastcgi;
    uwsgi_temp_path $edge/tmp/uwsgi;
    scgi_temp_path $edge/tmp/scgi;
    include $edge/cdn.conf;
}
EOF
  nginx="$(command -v nginx || echo /usr/sbin/nginx)"
  timeout 600 "$nginx" -c "$edge/nginx.conf" -e "$edge/error.log" >"$edge/access.log" 2>&1 &
  edge_pid=$!
  for _ in $(seq 1 40); do
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$EDGE_PORT/health" 2>/dev/null && break
    kill -0 "$edge_pid" 2>/dev/null || { cat "$edge/error.log" >&2; die "nginx exited before answering"; }
    sleep 0.25
  done
  cat >"$edge/bin/docker" <<EOF
#!/usr/bin/env bash
# Stands in for: docker compose -f <repo>/deploy/compose.yaml exec -T image-worker-1 CMD...
if [ "\$1 \$2 \$4 \$5 \$6" != "compose -f exec -T image-worker-1" ] || [ ! "\$3" -ef "$repo/deploy/compose.yaml" ]; then
  echo "stand-in docker: unexpected arguments: \$*" >&2
  exit 2
fi
shift 6
exec "$work/in-image" "\$@"
EOF
  chmod 755 "$edge/bin/docker"
  echo "== deploy/smoke.sh, Compose mode (nginx edge on 127.0.0.1:$EDGE_PORT, stand-in docker)"
  PATH="$edge/bin:$PATH" SMOKE_EDGE="http://127.0.0.1:$EDGE_PORT" SMOKE_ORIGIN="$base" SMOKE_TIMEOUT=60 \
    timeout 300 bash "$repo/deploy/smoke.sh" \
    || { tail -n 20 "$data/serve.log" "$edge/error.log" >&2; die "deploy/smoke.sh in Compose mode failed"; }

  stop
  pid="" edge_pid=""
  echo "image-worker serve and nginx stopped"
  exit 0
fi

# ---- outside: inspect, mount, package list, ldd, then the run checks --------
[ "$(id -u)" -eq 0 ] || die "needs root (podman image mount, chroot)"
command -v curl >/dev/null || die "curl is required"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx is required (scripts/image-build.sh installs nginx-light)"
# Ports: as given, else free ones in 18000-19999 (below the ephemeral range).
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { # pick_port TAKEN...: a port not listening and not among TAKEN
  local p
  for _ in $(seq 1 200); do
    p=$((18000 + RANDOM % 2000))
    case " $* " in *" $p "*) continue ;; esac
    in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port in 18000-19999"
}
PORT="${IMAGE_CHECK_PORT:-$(pick_port)}"
INTERNAL_PORT="${IMAGE_CHECK_INTERNAL_PORT:-$(pick_port "$PORT")}"
EDGE_PORT="${IMAGE_CHECK_EDGE_PORT:-$(pick_port "$PORT" "$INTERNAL_PORT")}"
for p in "$PORT" "$INTERNAL_PORT" "$EDGE_PORT"; do
  if in_use "$p"; then
    die "127.0.0.1:$p is already in use (set IMAGE_CHECK_PORT, IMAGE_CHECK_INTERNAL_PORT, IMAGE_CHECK_EDGE_PORT)"
  fi
done

tmp="$(mktemp -d /tmp/image-check.XXXXXX)"
id=""
mnt=""
cleanup() {
  if [ -n "$mnt" ]; then timeout 120 podman image unmount "$id" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

podman image exists "$IMAGE" || die "no image $IMAGE"
id="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
size="$(podman image inspect --format '{{.Size}}' "$id")"
echo "image $IMAGE (${id:0:12}): $((size / 1000000)) MB ($size bytes; at most $MAX_MB MB)"
[ "$((size / 1000000))" -le "$MAX_MB" ] || die "the image is $((size / 1000000)) MB, more than IMAGE_MAX_MB=$MAX_MB"
user="$(podman image inspect --format '{{.Config.User}}' "$id")"
[ "$user" = "10001:10001" ] || die "image USER is '$user', want 10001:10001"
podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$id" | sed '/^$/d' >"$tmp/image.env"
grep -qx 'VIPS_BLOCK_UNTRUSTED=1' "$tmp/image.env" || die "image Env lacks VIPS_BLOCK_UNTRUSTED=1: $(tr '\n' ' ' <"$tmp/image.env")"
echo "image Env: $(tr '\n' ' ' <"$tmp/image.env")"
# The image's Env, then the quick start's variables (deploy/README.md: the
# embedded store under /data, no Kafka, a signing key), then loopback
# listeners in place of the container's own network, and no shutdown delay.
{
  cat "$tmp/image.env"
  echo "KAFKA_BROKERS="
  echo "IMAGE_SIGNING_KEYS=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  echo "LISTEN_ADDR=127.0.0.1:$PORT"
  echo "INTERNAL_ADDR=127.0.0.1:$INTERNAL_PORT"
  echo "SHUTDOWN_DELAY=0s"
} >"$tmp/run.env"

mnt="$(timeout 120 podman image mount "$id")"
[ -d "$mnt/usr/local/bin" ] || die "podman image mount gave '$mnt'"

# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
timeout 60 chroot "$mnt" dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' >"$tmp/dpkg.txt"
installed="$(awk '$1 == "ii" {print $2}' "$tmp/dpkg.txt" | sed 's/:.*//')"
count="$(wc -l <<<"$installed")"
echo "dpkg -l: $count packages installed (at most $MAX_PACKAGES): $(tr '\n' ' ' <<<"$installed")"
[ "$count" -le "$MAX_PACKAGES" ] || die "$count packages in the image, more than IMAGE_MAX_PACKAGES=$MAX_PACKAGES"
bad="$(grep -E "$FORBIDDEN" <<<"$installed" || true)"
[ -z "$bad" ] || die "forbidden packages in the image: $(tr '\n' ' ' <<<"$bad")"
echo "forbidden packages (${FORBIDDEN}): none"

for f in /usr/local/bin/image-worker /usr/local/lib/libvips.so.42; do
  timeout 60 chroot "$mnt" ldd "$f" >"$tmp/ldd.txt" || die "ldd $f failed in the image"
  if grep 'not found' "$tmp/ldd.txt"; then die "ldd $f: unresolved libraries in the image"; fi
  echo "ldd $f: $(grep -c '=>' "$tmp/ldd.txt") libraries, all resolved"
done
grep -q '/usr/local/lib/libvips.so.42' <(timeout 60 chroot "$mnt" ldd /usr/local/bin/image-worker) \
  || die "the binary does not link /usr/local/lib/libvips.so.42"
echo "libvips in the image: $(find "$mnt/usr/local/lib" -maxdepth 1 -name 'libvips*' \( -type l -printf '%f -> %l, ' -o -printf '%f %s bytes, ' \) | sed 's/, $//')"

mkdir -p "$tmp/data"
chown 10001:10001 "$tmp/data"
chmod 755 "$tmp"
timeout 900 unshare --mount --propagation private -- \
  env PORT="$PORT" EDGE_PORT="$EDGE_PORT" \
  bash "$here/image-check.sh" "$id" --inside "$mnt" "$tmp" "$repo/testdata" "$repo/testdata" \
  || die "run checks failed"
echo "image-check: OK"
