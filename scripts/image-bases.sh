#!/usr/bin/env bash
# Makes the two base images the Dockerfile names, for machines with podman but
# no registry (no image can be pulled), when the local tags are missing:
#
#   docker.io/library/debian:bookworm-slim     debootstrap --variant=minbase, made
#                                              slim like the official image
#   docker.io/library/golang:<GO>-bookworm     that, plus build-essential,
#                                              ca-certificates, this machine's
#                                              Go toolchain and its extra CAs
#
# The extra CAs (/usr/local/share/ca-certificates: this network re-signs HTTPS)
# go into the golang base only, where `go mod download` needs them. The runtime
# base does not get them, so the shipped image trusts only Debian's
# ca-certificates.
#
# Usage: image-bases.sh GO_VERSION   (e.g. 1.27; must be the host go's X.Y)
# Env:   DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR (default: what apt here uses)
set -euo pipefail
GO_VERSION="${1:?usage: image-bases.sh GO_VERSION}"
GO="${GO:-go}"
SLIM=docker.io/library/debian:bookworm-slim
GOLANG="docker.io/library/golang:${GO_VERSION}-bookworm"

# The first URI of apt's own sources whose path ends in $1 (debian or
# debian-security), in deb822 or one-line format.
apt_uri() {
  local want="$1" uri
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}'
         cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '/^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}')"
  uri="$(printf '%s\n' "$uri" | grep -E "/${want}/?\$" | head -n1 || true)"
  printf '%s\n' "${uri%/}"
}
MIRROR="${DEBIAN_MIRROR:-$(apt_uri debian)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY="${DEBIAN_SECURITY_MIRROR:-$(apt_uri debian-security)}"
SECURITY="${SECURITY:-http://deb.debian.org/debian-security}"

tmp="$(mktemp -d /tmp/image-bases.XXXXXX)"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

if ! podman image exists "$SLIM"; then
  echo ">> debootstrap bookworm from $MIRROR (a few minutes)"
  rootfs="$tmp/rootfs"
  timeout 1800 debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 \
    || { tail -n 40 "$tmp/debootstrap.log"; echo "debootstrap failed"; exit 1; }
  # Like the official image: point releases and security updates too.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Like the official -slim image (debuerreotype): apt keeps no .deb files
  # or caches, and dpkg installs no documentation, manual pages or
  # translations. Without this, a Dockerfile's apt-get install leaves ~90 MB
  # of .deb files in its layer that the real base would not keep.
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs/usr/share/man/"* "$rootfs/usr/share/groff/"* "$rootfs/usr/share/info/"* \
         "$rootfs/usr/share/lintian/"* "$rootfs/usr/share/linda/"*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/cache/apt/"*.bin "$rootfs/var/lib/apt/lists/"*
  echo ">> podman import $SLIM"
  tar -C "$rootfs" -c . | timeout 600 podman import --change 'CMD ["/bin/bash"]' - "$SLIM" >/dev/null
  rm -rf "$rootfs"
fi

if ! podman image exists "$GOLANG"; then
  goroot="$("$GO" env GOROOT)"
  have="$("$GO" env GOVERSION)"
  case "$have" in
    "go${GO_VERSION}" | "go${GO_VERSION}."*) ;;
    *) echo "host Go is $have, not $GO_VERSION: cannot make $GOLANG from it"; exit 1 ;;
  esac
  echo ">> building $GOLANG from $SLIM, $have and the host's extra CAs"
  ctx="$tmp/golang"
  mkdir -p "$ctx/ca"
  cp -a "$goroot" "$ctx/go"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
  cat >"$ctx/Containerfile" <<'EOF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential ca-certificates curl git pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY go/ /usr/local/go/
ENV GOPATH=/go \
    GOTOOLCHAIN=local \
    PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/src /go/bin && go version
WORKDIR /go
EOF
  timeout 1800 podman build --isolation=chroot --pull=never --format docker -t "$GOLANG" "$ctx" >"$tmp/golang.log" 2>&1 \
    || { tail -n 40 "$tmp/golang.log"; echo "building $GOLANG failed"; exit 1; }
fi
podman image exists "$SLIM" && podman image exists "$GOLANG"
