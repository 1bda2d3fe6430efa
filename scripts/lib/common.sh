# Shared settings for the setup and build scripts. Source it; do not run it.
#
# Everything big (the MLX SDK, the Debian 13 toolchain root, the Python test environment, npm and pip caches)
# lives under one cache folder outside the repository:
#   $NUCLEUS_CACHE_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/nucleus-image

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NUCLEUS_CACHE_DIR="${NUCLEUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nucleus-image}"
MLX_VERSION="0.32.4"
TOOLCHAIN_ROOT="$NUCLEUS_CACHE_DIR/toolchain/debian13-root"
DEPS_DIR="$REPO_ROOT/.deps"
export NUCLEUS_CACHE_DIR

step_started=0
step() {
  step_started=$(date +%s)
  printf '\033[1m==> %s\033[0m\n' "$*"
}
info() { printf '    %s\n' "$*"; }
fail() {
  printf '\033[31merror:\033[0m %s\n' "$*" >&2
  exit 1
}

os_name() { uname -s; }
debian_major() {
  [ -r /etc/debian_version ] || { echo 0; return; }
  local v
  v=$(cut -d. -f1 </etc/debian_version)
  case "$v" in
    [0-9]*) echo "$v" ;;
    trixie*) echo 13 ;;
    bookworm*) echo 12 ;;
    *) echo 0 ;;
  esac
}

# Runs a command as root: directly when we are root, through sudo when it works without a password.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    fail "this step needs root to run: $*  (run setup as root or with passwordless sudo)"
  fi
}

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  info "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The MLX backend wheel for this machine: metal on macOS, cuda when asked for or when an NVIDIA GPU is present.
mlx_backend() {
  if [ -n "${NUCLEUS_BACKEND:-}" ]; then
    echo "$NUCLEUS_BACKEND"
  elif [ "$(os_name)" = "Darwin" ]; then
    echo metal
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo cuda
  else
    echo cpu
  fi
}

mlx_prefix() { echo "$NUCLEUS_CACHE_DIR/mlx/$MLX_VERSION-$(mlx_backend)"; }

# How the engine is built on this machine: "host" (a Swift >= 6.0 toolchain runs here) or "root" (Debian 12:
# inside the Debian 13 root). Written by install-toolchain.sh.
toolchain_mode() { cat "$DEPS_DIR/toolchain-mode" 2>/dev/null || echo unknown; }

# A Python virtual environment in the cache, kept up to date with a requirements file and linked into .deps.
# Usage: ensure_venv NAME REQUIREMENTS_FILE LINK_NAME
ensure_venv() {
  local name="$1" requirements="$2" link="$3"
  local python_version venv stamp wanted
  python_version=$(python3 -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')
  venv="$NUCLEUS_CACHE_DIR/python/$name-$python_version"
  stamp="$venv/.requirements.sha256"
  wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    info "present: $venv"
  else
    mkdir -p "$(dirname "$venv")"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    info "pip install -r ${requirements#"$REPO_ROOT"/}"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --cache-dir "$NUCLEUS_CACHE_DIR/pip" \
      -r "$requirements" 2>&1 | { grep -v "^WARNING: Location .* is ignored" || true; }
    echo "$wanted" >"$stamp"
  fi
  mkdir -p "$DEPS_DIR"
  ln -sfn "$venv" "$DEPS_DIR/$link"
}
