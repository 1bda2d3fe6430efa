#!/usr/bin/env bash
# nginx for the load-balancer test (two `serve` instances behind one nginx, gRPC and HTTP). Debian's own build is
# unpacked into the cache (apt-get download + dpkg-deb -x), not installed: no system service is started or
# enabled, and no root is needed. Elsewhere an nginx on PATH is used. Linked as .deps/nginx.
source "$(dirname "$0")/lib/common.sh"

step "nginx (load-balancer test)"
mkdir -p "$DEPS_DIR"
link="$DEPS_DIR/nginx"
if [ -x "$link" ] && "$link" -v >/dev/null 2>&1; then
  info "present: $(readlink -f "$link")"
  exit 0
fi

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
  version=$(apt-cache policy nginx 2>/dev/null | sed -n 's/^ *Candidate: //p')
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    version=$(apt-cache policy nginx 2>/dev/null | sed -n 's/^ *Candidate: //p')
  fi
  if [ -n "$version" ] && [ "$version" != "(none)" ]; then
    target="$NUCLEUS_CACHE_DIR/nginx/$version"
    if [ ! -x "$target/usr/sbin/nginx" ]; then
      work=$(mktemp -d)
      chmod 755 "$work" # apt's download sandbox user must be able to write here
      (cd "$work" && apt-get download -q "nginx=$version" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
      deb=$(ls "$work"/nginx_*.deb 2>/dev/null | head -1)
      if [ -n "$deb" ]; then
        rm -rf "$target.partial"
        mkdir -p "$target.partial"
        dpkg-deb -x "$deb" "$target.partial"
        rm -rf "$target"
        mv "$target.partial" "$target"
      fi
      rm -rf "$work"
    fi
    if [ -x "$target/usr/sbin/nginx" ] && "$target/usr/sbin/nginx" -v >/dev/null 2>&1; then
      ln -sfn "$target/usr/sbin/nginx" "$link"
      info "Debian's nginx $version unpacked in $target"
      exit 0
    fi
  fi
fi
if command -v nginx >/dev/null 2>&1; then
  ln -sfn "$(command -v nginx)" "$link"
  info "using $(command -v nginx)"
else
  info "nginx is not available here: the load-balancer test will be skipped (install nginx to run it)"
fi
