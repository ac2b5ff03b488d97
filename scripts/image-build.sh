#!/usr/bin/env bash
# Builds the real image from the Dockerfile with Debian's buildah (no daemon) and runs it as its
# USER until its HEALTHCHECK passes. Base images cannot be pulled here, so NODE_IMAGE is replaced by
# a stand-in made on this machine: a Debian 12 root filesystem from Debian's packages (debootstrap,
# cached in ~/.cache/ewx-image) plus this machine's node 20 and npm and its CA bundle (so npm ci reaches
# the registry as the host does). Running: podman/crun cannot set rlimits in this sandbox
# ("setrlimit RLIMIT_NPROC: Operation not permitted"), so the built image's filesystem is mounted
# and its ENTRYPOINT + CMD run under chroot as the image's USER, with the image's ENV and WORKDIR.
# Usage: bash scripts/image-build.sh   (as root; installs buildah, podman and debootstrap with apt-get)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.infra/image"
# The stand-in base's root filesystem is cached outside the checkout (CI clones afresh), like ~/.m2.
ROOTFS="${EWX_IMAGE_ROOTFS:-${XDG_CACHE_HOME:-$HOME/.cache}/ewx-image/rootfs}"
S=(--storage-driver vfs)
mkdir -p "$DIR"

need=()
for t in buildah podman debootstrap; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "image-build: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" > "$DIR/apt.log" 2>&1 || { apt-get update -q > /dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" > "$DIR/apt.log" 2>&1; }
fi

# 1. The stand-in base image (node 20 on Debian 12), cached.
if [ ! -x "$ROOTFS/usr/local/bin/node" ]; then
  echo "image-build: debootstrap bookworm (minbase) into $ROOTFS"
  rm -rf "$ROOTFS"
  mkdir -p "$(dirname "$ROOTFS")"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOTFS" http://deb.debian.org/debian > "$DIR/debootstrap.log" 2>&1
  node_bin="$(readlink -f "$(command -v node)")"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  install -m 0755 "$node_bin" "$ROOTFS/usr/local/bin/node"
  mkdir -p "$ROOTFS/usr/local/lib/node_modules" "$ROOTFS/usr/local/etc"
  cp -a "$npm_dir" "$ROOTFS/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  echo "cafile=/etc/ssl/certs/ca-certificates.crt" > "$ROOTFS/usr/local/etc/npmrc"
  rm -rf "$ROOTFS/var/cache/apt/archives/"*.deb
fi
tar -C "$ROOTFS" -c . | podman "${S[@]}" import - localhost/ewx-node-base:20 > /dev/null

# 2. The image, from the repository's Dockerfile (docker format keeps HEALTHCHECK).
echo "image-build: buildah bud"
buildah "${S[@]}" bud --isolation chroot --layers=false --format docker \
  --build-arg NODE_IMAGE=localhost/ewx-node-base:20 -t localhost/ewx:ci "$ROOT" > "$DIR/build.log" 2>&1 \
  || { tail -40 "$DIR/build.log" >&2; exit 1; }

# 3. Run it: ENTRYPOINT + CMD as USER, with ENV and WORKDIR, until HEALTHCHECK passes; then stop it.
cfg="$(buildah "${S[@]}" inspect --type image localhost/ewx:ci)"
field() { node -e "const c=JSON.parse(require('fs').readFileSync(0,'utf8')).Docker.config; const v=($1); process.stdout.write(Array.isArray(v)?v.join('\n'):String(v??''))" <<<"$cfg"; }
user="$(field c.User)"; workdir="$(field c.WorkingDir)"
mapfile -t envs < <(field c.Env)
mapfile -t argv < <(field '[...c.Entrypoint, ...c.Cmd]')
mapfile -t hc < <(field 'c.Healthcheck.Test.slice(1)')
[ "$user" != "" ] && [ "${user%%:*}" != "0" ] && [ "${user%%:*}" != "root" ] || { echo "image-build: USER is '$user'" >&2; exit 1; }
ctr="$(buildah "${S[@]}" from localhost/ewx:ci)"
mnt="$(buildah "${S[@]}" mount "$ctr")"
port=$((40000 + RANDOM % 10000)); hport=$((port + 1))
run_in() { # runs a command inside the image's filesystem as its USER, in its WORKDIR, with its ENV
  unshare --mount --pid --fork --kill-child --mount-proc="$mnt/proc" bash -c 'mount --rbind /dev "$0/dev" && exec chroot --userspec="$1" "$0" /usr/bin/env -i "${@:2}"' \
    "$mnt" "$user" "${envs[@]}" GRPC_PORT=$port GRPC_HEALTH_PORT=$hport BLOCK_TIME_MS=manual /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
}
cleanup() {
  # $pid is the subshell running run_in; its child is unshare, whose only child is the image's
  # process (every step in between execs). SIGTERM that process; unshare and the subshell follow.
  if [ -n "${pid:-}" ]; then
    for u in $(pgrep -P "$pid"); do pkill -TERM -P "$u" 2>/dev/null || true; done
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    for u in $(pgrep -P "$pid"); do kill -KILL "$u" 2>/dev/null || true; done   # --kill-child takes the rest
    wait "$pid" 2>/dev/null && echo "image-build: stopped cleanly by SIGTERM" || true
  fi
  buildah "${S[@]}" umount "$ctr" >/dev/null 2>&1 || true
  buildah "${S[@]}" rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT
run_in "${argv[@]}" > "$DIR/run.log" 2>&1 &
pid=$!
for i in $(seq 1 90); do
  if run_in "${hc[@]}" > /dev/null 2>&1; then
    echo "image-build: localhost/ewx:ci (${argv[*]}) as $user reached SERVING; HEALTHCHECK passed after ~$((i * 2))s"
    grep -q "listening on 0.0.0.0:$port" "$DIR/run.log" || { echo "image-build: not bound to 0.0.0.0" >&2; exit 1; }
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { echo "image-build: the image's command exited:" >&2; tail -20 "$DIR/run.log" >&2; exit 1; }
  sleep 2
done
echo "image-build: no SERVING within 180 s" >&2; tail -20 "$DIR/run.log" >&2; exit 1
