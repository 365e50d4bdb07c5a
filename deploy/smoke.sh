#!/usr/bin/env bash
# Smoke test of the Compose stack (deploy/compose.yaml, already up): warm a
# cover, sign a URL for it, fetch it twice through the nginx edge and check
# that the first answer is a MISS and the second a HIT.
#
#   bash deploy/smoke.sh                          # imports testdata/photo-1600x2400-baseline.jpg
#   bash deploy/smoke.sh ./cover.jpg  B123        # a local file: `image-worker import` in image-worker-1
#   bash deploy/smoke.sh https://host/c.jpg B123  # a URL: POST /process, then poll GET /jobs/{id}
#
# Needs docker (compose v2) and curl on the host. Environment:
#   SMOKE_ORIGIN   a replica's public port   (default http://127.0.0.1:8001, image-worker-1)
#   SMOKE_EDGE     the nginx edge            (default http://127.0.0.1:8080)
#   SMOKE_TIMEOUT  seconds to wait for the edge and for the job (default 90)
#   PROCESS_TOKENS the stack's tokens (as exported for docker compose); the first
#                  one is sent as Authorization: Bearer with POST /process
# Exit status 0 only when every check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
compose=(docker compose -f "$here/compose.yaml")
src=${1:-$here/../testdata/photo-1600x2400-baseline.jpg}
book=${2:-smoke-1}
origin=${SMOKE_ORIGIN:-http://127.0.0.1:8001}
edge=${SMOKE_EDGE:-http://127.0.0.1:8080}
timeout=${SMOKE_TIMEOUT:-90}

die() { echo "smoke: FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required on the host"; }
# json_field NAME < json: the first string value of "NAME" (flat JSON only).
json_field() { sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p' | head -n 1; }

need docker
need curl
[[ $book =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$ ]] || die "book id $book: 1-128 of [A-Za-z0-9._-], not starting with ."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== waiting for the edge at $edge/health"
deadline=$((SECONDS + timeout))
until curl -fsS -o /dev/null "$edge/health"; do
  (( SECONDS < deadline )) || die "edge not healthy after ${timeout}s (docker compose -f deploy/compose.yaml ps)"
  sleep 2
done

# 1. Warm the cover and learn its version.
if [[ -f $src ]]; then
  echo "== importing $src as book $book (image-worker import inside image-worker-1)"
  # The root filesystem is read-only: the file goes through stdin into the
  # container's /tmp (tmpfs), is imported and removed.
  out=$("${compose[@]}" exec -T image-worker-1 sh -ec '
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
  resp=$(curl -sS -X POST -H 'Content-Type: application/json' -H "@$tmp/auth" --data "$body" -w '\n%{http_code}' "$origin/process") ||
    die "POST /process: no answer from $origin"
  code=$(tail -n 1 <<<"$resp")
  [[ $code == 202 ]] || die "POST /process answered $code: $(sed '$d' <<<"$resp")"
  job=$(json_field job_id <<<"$resp")
  [[ -n $job ]] || die "no job_id in: $resp"
  echo "job $job accepted; polling $origin/jobs/$job"
  deadline=$((SECONDS + timeout))
  while :; do
    js=$(curl -fsS "$origin/jobs/$job") || die "GET /jobs/$job failed"
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
signed=$("${compose[@]}" exec -T image-worker-1 image-worker sign "$path" | tr -d '\r') || die "sign failed"
[[ $signed == /covers/*sig=* ]] || die "unexpected signed path: $signed"
echo "== signed $path"

# 3. Fetch it twice through the edge.
fetch() { # fetch N: prints "status cache-status content-type"
  local h="$tmp/headers-$1" b="$tmp/body-$1"
  curl -sS -D "$h" -o "$b" "$edge$signed" || die "GET through the edge failed"
  local status cache ctype
  status=$(head -n 1 "$h" | awk '{print $2}')
  cache=$(tr -d '\r' <"$h" | sed -n 's/^[Xx]-[Cc]ache-[Ss]tatus: *//p' | head -n 1)
  ctype=$(tr -d '\r' <"$h" | sed -n 's/^[Cc]ontent-[Tt]ype: *//p' | head -n 1)
  echo "$status ${cache:--} ${ctype:--}"
}
f1=$(fetch 1)
read -r s1 c1 t1 <<<"$f1"
echo "first:  HTTP $s1  X-Cache-Status: $c1  Content-Type: $t1  $(wc -c <"$tmp/body-1") bytes"
f2=$(fetch 2)
read -r s2 c2 t2 <<<"$f2"
echo "second: HTTP $s2  X-Cache-Status: $c2  Content-Type: $t2  $(wc -c <"$tmp/body-2") bytes"

[[ $s1 == 200 && $s2 == 200 ]] || die "want HTTP 200 twice, got $s1 and $s2"
[[ $t2 == image/webp* ]] || die "want Content-Type image/webp, got $t2"
# A WebP file is RIFF....WEBP.
[[ $(head -c 4 "$tmp/body-2") == RIFF && $(head -c 12 "$tmp/body-2" | tail -c 4) == WEBP ]] ||
  die "the body is not a WebP file"
[[ $c1 == MISS ]] || die "want X-Cache-Status MISS on the first fetch, got $c1"
[[ $c2 == HIT ]] || die "want X-Cache-Status HIT on the second fetch, got $c2"
echo "smoke: OK (MISS then HIT through the edge)"
