#!/usr/bin/env bash
# Smoke test of a running image-worker: warm a cover, sign a URL for it, fetch
# it and check the answer (status, type, the WebP's width, ETag, Cache-Control,
# nosniff, Surrogate-Key, a 304 on revalidation). Two modes:
#
# Compose (the default): the stack of deploy/compose.yaml, already up. The
# cover is fetched twice through the nginx edge: a MISS, then a HIT.
#
#   bash deploy/smoke.sh                          # imports testdata/photo-1600x2400-baseline.jpg
#   bash deploy/smoke.sh ./cover.jpg  B123        # a local file: `image-worker import` in image-worker-1
#   bash deploy/smoke.sh https://host/c.jpg B123  # a URL: POST /process, then poll GET /jobs/{id}
#
# One origin, no edge (SMOKE_EDGE set to empty): for instance the single
# container of the quick start in deploy/README.md,
#
#   SMOKE_EDGE= SMOKE_ORIGIN=http://127.0.0.1:8000 SMOKE_EXEC='docker exec -i covers' bash deploy/smoke.sh
#
# or the image's root filesystem in a chroot, as `make image-test` runs it
# (scripts/image-check.sh).
#
# Environment:
#   SMOKE_ORIGIN   a replica's public port   (default http://127.0.0.1:8001, image-worker-1)
#   SMOKE_EDGE     the nginx edge            (default http://127.0.0.1:8080); empty: no edge,
#                  the cover is fetched from SMOKE_ORIGIN and no cache status is expected
#   SMOKE_EXEC     the command, split on spaces, that runs its arguments inside the origin's
#                  container with stdin passed through (default: docker compose -f
#                  deploy/compose.yaml exec -T image-worker-1); `image-worker import` and
#                  `image-worker sign` run there
#   SMOKE_TIMEOUT  seconds to wait for health and for the job (default 90)
#   PROCESS_TOKENS the origin's tokens (as exported for docker compose); the first
#                  one is sent as Authorization: Bearer with POST /process
# Needs curl on the host, and docker (compose v2) unless SMOKE_EXEC is set.
# Exit status 0 only when every check passed. Every request has a time limit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${1:-$here/../testdata/photo-1600x2400-baseline.jpg}
book=${2:-smoke-1}
origin=${SMOKE_ORIGIN:-http://127.0.0.1:8001}
edge=${SMOKE_EDGE-http://127.0.0.1:8080}
timeout=${SMOKE_TIMEOUT:-90}

die() { echo "smoke: FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required on the host"; }
# json_field NAME < json: the first string value of "NAME" (flat JSON only).
json_field() { sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p' | head -n 1; }
# header NAME FILE: the value of a response header (first one, CR removed).
header() { tr -d '\r' <"$2" | sed -n "s/^$1: *//Ip" | head -n 1; }
# in_origin CMD...: runs CMD inside the origin's container.
if [[ -n ${SMOKE_EXEC:-} ]]; then
  read -r -a exec_cmd <<<"$SMOKE_EXEC"
  command -v "${exec_cmd[0]}" >/dev/null 2>&1 || die "SMOKE_EXEC=$SMOKE_EXEC: ${exec_cmd[0]} is not a command"
  in_origin() { "${exec_cmd[@]}" "$@"; }
else
  need docker
  in_origin() { docker compose -f "$here/compose.yaml" exec -T image-worker-1 "$@"; }
fi
curl_() { curl -sS --max-time 30 "$@"; }

need curl
[[ $book =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$ ]] || die "book id $book: 1-128 of [A-Za-z0-9._-], not starting with ."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 0. Health: the edge (Compose) or the origin itself, then the origin's readiness.
health=${edge:-$origin}
echo "== waiting for $health/health"
deadline=$((SECONDS + timeout))
until curl_ -f -o "$tmp/health" "$health/health" 2>/dev/null; do
  (( SECONDS < deadline )) || die "$health/health not answering 200 after ${timeout}s (Compose: docker compose -f deploy/compose.yaml ps)"
  sleep 2
done
grep -q '"status":"ok"' "$tmp/health" || die "GET $health/health: $(head -c 200 "$tmp/health"), want status ok"
ready=$(curl_ -o "$tmp/ready" -w '%{http_code}' "$origin/ready") || die "GET $origin/ready: no answer"
[[ $ready == 200 ]] || die "GET $origin/ready answered $ready: $(head -c 200 "$tmp/ready")"
echo "health ok; $origin/ready: $ready $(head -c 200 "$tmp/ready")"

# 1. Warm the cover and learn its version.
if [[ -f $src ]]; then
  echo "== importing $src as book $book (image-worker import in the origin's container)"
  # The root filesystem is read-only: the file goes through stdin into the
  # container's /tmp (tmpfs), is imported and removed.
  out=$(in_origin sh -ec '
    f=$(mktemp)
    cat >"$f"
    rc=0
    image-worker import --book "$1" "$f" || rc=$?
    rm -f "$f"
    exit "$rc"' sh "$book" <"$src") || die "import failed: $out"
  echo "$out"
  version=$(sed -n 's/.* version \([0-9a-f]\{1,\}\) .*/\1/p' <<<"$out" | head -n 1)
else
  case $src in
    http://* | https://*) ;;
    *) die "$src is neither a file nor an http(s) URL" ;;
  esac
  [[ $src != *'"'* && $src != *'\'* ]] || die "the URL must not contain quotes or backslashes"
  echo "== POST $origin/process (book $book)"
  body=$(printf '{"book_id":"%s","image_url":"%s"}' "$book" "$src")
  [[ -n ${PROCESS_TOKENS:-} ]] || die "PROCESS_TOKENS is not set (the stack needs it too)"
  # The token goes to curl through a header file, never on its command line (ps).
  printf 'Authorization: Bearer %s\n' "$(tr -d ' ' <<<"${PROCESS_TOKENS%%,*}")" >"$tmp/auth"
  resp=$(curl_ -X POST -H 'Content-Type: application/json' -H "@$tmp/auth" --data "$body" -w '\n%{http_code}' "$origin/process") ||
    die "POST /process: no answer from $origin"
  code=$(tail -n 1 <<<"$resp")
  [[ $code == 202 ]] || die "POST /process answered $code: $(sed '$d' <<<"$resp")"
  job=$(json_field job_id <<<"$resp")
  [[ -n $job ]] || die "no job_id in: $resp"
  echo "job $job accepted; polling $origin/jobs/$job"
  deadline=$((SECONDS + timeout))
  while :; do
    js=$(curl_ -f "$origin/jobs/$job") || die "GET /jobs/$job failed"
    state=$(json_field state <<<"$js")
    case $state in
      succeeded) break ;;
      failed) die "job $job failed: $js" ;;
    esac
    (( SECONDS < deadline )) || die "job $job still ${state:-unknown} after ${timeout}s"
    sleep 1
  done
  version=$(json_field version <<<"$js")
  echo "job $job succeeded"
fi
[[ $version =~ ^[0-9a-f]+$ ]] || die "could not read the cover version (got '$version')"
echo "cover version $version"

# 2. Sign a URL. A width picked at random, so the edge has not cached it yet
#    and the first fetch is a MISS even when this script ran before.
width=$((200 + RANDOM % 400))
path="/covers/$book/$width.webp?v=$version"
signed=$(in_origin image-worker sign "$path" | tr -d '\r') || die "sign failed"
[[ $signed == /covers/*sig=* ]] || die "unexpected signed path: $signed"
echo "== signed $path"

# 3. Fetch it (twice through the edge) and check the answer.
# webp_width FILE: the width in a WebP file's first chunk (VP8, VP8L or VP8X).
webp_width() {
  local -a b
  read -r -a b <<<"$(od -An -tu1 -N 30 "$1" | tr '\n' ' ')"
  case $(head -c 16 "$1" | tail -c 4) in
    'VP8 ') echo $(( (b[26] | b[27] << 8) & 0x3fff )) ;;
    VP8L) echo $(( 1 + (((b[22] & 0x3f) << 8) | b[21]) )) ;;
    VP8X) echo $(( 1 + (b[24] | b[25] << 8 | b[26] << 16) )) ;;
    *) echo 0 ;;
  esac
}
fetch() { # fetch BASE N: GET BASE$signed into headers-N and body-N; checks it; prints the cache status
  local h="$tmp/headers-$2" b="$tmp/body-$2" status ctype bytes
  curl_ -D "$h" -o "$b" "$1$signed" || die "GET $1$signed failed"
  status=$(head -n 1 "$h" | awk '{print $2}')
  ctype=$(header Content-Type "$h")
  bytes=$(wc -c <"$b")
  echo "fetch $2: HTTP $status  Content-Type: ${ctype:--}  $bytes bytes  X-Cache-Status: $(header X-Cache-Status "$h")" >&2
  [[ $status == 200 ]] || die "GET $1$signed: HTTP $status, want 200"
  [[ $ctype == image/webp* ]] || die "Content-Type $ctype, want image/webp"
  [[ $(head -c 4 "$b") == RIFF && $(head -c 12 "$b" | tail -c 4) == WEBP ]] || die "the body is not a WebP file"
  [[ $(webp_width "$b") == "$width" ]] || die "the WebP is $(webp_width "$b") px wide, want $width"
  [[ $(header Content-Length "$h") == "$bytes" ]] || die "Content-Length $(header Content-Length "$h"), body $bytes bytes"
  [[ $(header ETag "$h") == \"*\" ]] || die "ETag '$(header ETag "$h")', want a strong quoted tag"
  # v is the current version: cacheable for a year, never revalidated.
  [[ $(header Cache-Control "$h") == 'public, max-age=31536000, immutable' ]] ||
    die "Cache-Control '$(header Cache-Control "$h")', want 'public, max-age=31536000, immutable' (v= current version)"
  [[ $(header X-Content-Type-Options "$h") == nosniff ]] || die "X-Content-Type-Options '$(header X-Content-Type-Options "$h")', want nosniff"
  [[ $(header Surrogate-Key "$h") == "book-$book" ]] || die "Surrogate-Key '$(header Surrogate-Key "$h")', want book-$book"
  header X-Cache-Status "$h"
}
if [[ -n $edge ]]; then
  c1=$(fetch "$edge" 1)
  c2=$(fetch "$edge" 2)
  [[ $c1 == MISS ]] || die "want X-Cache-Status MISS on the first fetch through the edge, got '$c1'"
  [[ $c2 == HIT ]] || die "want X-Cache-Status HIT on the second fetch through the edge, got '$c2'"
  cmp -s "$tmp/body-1" "$tmp/body-2" || die "the edge's HIT differs from its MISS"
else
  fetch "$origin" 1 >/dev/null
fi
# Revalidation at the origin: the same ETag answers 304 with no body.
etag=$(header ETag "$tmp/headers-1")
code=$(curl_ -o "$tmp/body-304" -w '%{http_code}' -H "If-None-Match: $etag" "$origin$signed") || die "conditional GET failed"
[[ $code == 304 && ! -s $tmp/body-304 ]] || die "If-None-Match $etag answered $code with $(wc -c <"$tmp/body-304") bytes, want 304 and no body"
echo "revalidation: If-None-Match $etag -> 304"
if [[ -n $edge ]]; then
  echo "smoke: OK (a ${width}px WebP of $book, MISS then HIT through the edge, headers checked)"
else
  echo "smoke: OK (a ${width}px WebP of $book from the origin, headers checked)"
fi
