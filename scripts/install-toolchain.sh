#!/usr/bin/env bash
# Makes a Swift >= 6.0 toolchain available, with the native libraries the engine links (gRPC C core,
# protobuf-c), and records how builds run here in .deps/toolchain-mode:
#   host  swift runs on this machine (Swift on PATH, or Debian 13's swiftlang package)
#   root  Debian 12: builds run inside a Debian 13 root made with debootstrap, cached outside the repository
source "$(dirname "$0")/lib/common.sh"

ROOT_PACKAGES=(swiftlang libc6-dev libstdc++-14-dev libgrpc-dev libprotobuf-c-dev protobuf-c-compiler pkg-config
  libopenblas0-pthread)
HOST_DEBIAN13_PACKAGES=(swiftlang libc6-dev libstdc++-14-dev libgrpc-dev libprotobuf-c-dev protobuf-c-compiler
  pkg-config protobuf-compiler libopenblas0-pthread)

swift_is_recent() {
  command -v swift >/dev/null 2>&1 || return 1
  local version
  version=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\)\.\([0-9]*\).*/\1/p' | head -1)
  [ -n "$version" ] && [ "$version" -ge 6 ]
}

record_mode() {
  mkdir -p "$DEPS_DIR"
  echo "$1" >"$DEPS_DIR/toolchain-mode"
}

make_debian13_root() {
  if [ -f "$TOOLCHAIN_ROOT/.nucleus-packages" ] &&
    [ "$(cat "$TOOLCHAIN_ROOT/.nucleus-packages")" = "${ROOT_PACKAGES[*]}" ]; then
    info "present: $TOOLCHAIN_ROOT"
    return
  fi
  apt_install debootstrap
  if [ -d "$TOOLCHAIN_ROOT/usr/libexec/swift" ]; then
    info "adding packages to the existing root: ${ROOT_PACKAGES[*]}"
    "$REPO_ROOT/scripts/toolchain-run.sh" --root-shell \
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${ROOT_PACKAGES[*]} >/dev/null"
  else
    local partial="$TOOLCHAIN_ROOT.partial"
    as_root rm -rf "$partial"
    mkdir -p "$(dirname "$TOOLCHAIN_ROOT")"
    info "debootstrap trixie into $TOOLCHAIN_ROOT (about a minute; 3.2 GB)"
    local include
    include=$(IFS=,; echo "${ROOT_PACKAGES[*]}")
    as_root debootstrap --variant=minbase --include="$include" trixie "$partial" http://deb.debian.org/debian \
      >"$NUCLEUS_CACHE_DIR/toolchain/debootstrap.log" 2>&1 ||
      fail "debootstrap failed; see $NUCLEUS_CACHE_DIR/toolchain/debootstrap.log"
    as_root rm -rf "$TOOLCHAIN_ROOT"
    as_root mv "$partial" "$TOOLCHAIN_ROOT"
  fi
  echo "${ROOT_PACKAGES[*]}" | as_root tee "$TOOLCHAIN_ROOT/.nucleus-packages" >/dev/null
}

step "Swift toolchain"
case "$(os_name)" in
  Darwin)
    swift_is_recent || fail "Swift 6 or newer is needed: install Xcode 16 (or the Command Line Tools) and re-run"
    command -v brew >/dev/null 2>&1 || fail "Homebrew is needed for grpc and protobuf-c: https://brew.sh"
    for formula in grpc protobuf-c protobuf; do
      brew list --versions "$formula" >/dev/null 2>&1 || { info "brew install $formula"; brew install "$formula"; }
    done
    record_mode host
    ;;
  Linux)
    major=$(debian_major)
    if [ "$major" -ge 13 ]; then
      apt_install "${HOST_DEBIAN13_PACKAGES[@]}"
      record_mode host
    elif [ "$major" -eq 12 ]; then
      command -v unshare >/dev/null 2>&1 || fail "util-linux's unshare is needed to build in the Debian 13 root"
      make_debian13_root
      apt_install protobuf-compiler
      record_mode root
    elif swift_is_recent; then
      info "not Debian; using swift on PATH and expecting grpc, protobuf-c and protoc to be installed"
      record_mode host
    else
      fail "unsupported Linux: setup supports Debian 12 and 13 (or any system with Swift >= 6 on PATH plus the grpc, protobuf-c and protoc development packages)"
    fi
    ;;
  *) fail "unsupported operating system $(os_name): use Debian 12/13 or macOS on Apple Silicon" ;;
esac
info "engine builds run: $(toolchain_mode)$( [ "$(toolchain_mode)" = root ] && echo " ($TOOLCHAIN_ROOT)")"
