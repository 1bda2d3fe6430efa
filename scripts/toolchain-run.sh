#!/usr/bin/env bash
# Runs a command where the Swift toolchain is, from the repository root.
#   host mode: directly.
#   root mode (Debian 12): inside the Debian 13 root, in a private mount namespace that sees /proc, /dev, the
#   repository and the MLX SDK at their usual paths; the mounts vanish with the command.
# Usage: toolchain-run.sh COMMAND [ARGS...]     or     toolchain-run.sh --root-shell 'SHELL TEXT'
source "$(dirname "$0")/lib/common.sh"

if [ "${1:-}" = "--root-shell" ]; then
  shift
  mode=root
  shell_text="$1"
else
  mode=$(toolchain_mode)
  shell_text=$(printf '%q ' "$@")
fi

case "$mode" in
  host)
    cd "$REPO_ROOT"
    exec bash -c "$shell_text"
    ;;
  root)
    [ -d "$TOOLCHAIN_ROOT/usr" ] || fail "the Debian 13 toolchain root is missing: run npm run setup"
    # Every MLX SDK linked in .deps (.deps/mlx, and .deps/mlx-cuda for the device kit) lives in this folder.
    mlx_real=$(dirname "$(readlink -f "$DEPS_DIR/mlx" 2>/dev/null || echo /nonexistent/x)")
    [ -d "$mlx_real" ] || mlx_real=
    cp -L /etc/resolv.conf "$TOOLCHAIN_ROOT/etc/resolv.conf" 2>/dev/null || true
    mount_script='
      set -e
      root="$1"; repo="$2"; mlx="$3"; text="$4"
      mount -t proc proc "$root/proc"
      mount --bind /dev "$root/dev"
      mkdir -p "$root$repo"
      mount --bind "$repo" "$root$repo"
      if [ -n "$mlx" ]; then mkdir -p "$root$mlx"; mount --bind "$mlx" "$root$mlx"; fi
      exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd \"$repo\" && $text"
    '
    exec_args=(unshare --mount --propagation private /bin/bash -c "$mount_script" mount-root
      "$TOOLCHAIN_ROOT" "$REPO_ROOT" "$mlx_real" "$shell_text")
    if [ "$(id -u)" -eq 0 ]; then exec "${exec_args[@]}"; else as_root "${exec_args[@]}"; fi
    ;;
  *) fail "no toolchain recorded in .deps/toolchain-mode: run npm run setup" ;;
esac
