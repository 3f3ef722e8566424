# Shared set-up for scripts/start and scripts/test: installs what is missing, every time from nothing.
# Sourced, not executed. Prints progress to stderr.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO_DIR
export ANTREA_EDGE_HOME="${ANTREA_EDGE_HOME:-$REPO_DIR/.run}"

DEBIAN_PACKAGES=(openvswitch-switch openvswitch-common iproute2 ethtool busybox socat tcpdump iputils-ping
  iperf3 procps python3 make g++ valgrind iptables chromium systemd)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ensure_debian_packages() {
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_node() {
  command -v node >/dev/null || die "Node.js 20 is required (node not found)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" = "20" ] || say "warning: Node.js 20 is the supported runtime; this is $(node -v)"
}

ensure_npm_packages() {
  cd "$REPO_DIR"
  local stamp="node_modules/.antrea-edge-lock"
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then return 0; fi
  say "installing npm packages (npm ci; better-sqlite3 builds from source, ~80 s)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$stamp"
}

build_firmware() {
  cd "$REPO_DIR"
  say "building the firmware (tsc)"
  npx tsc -p tsconfig.build.json
  # Node-RED loads the palette as a module directory: compiled nodes, their editor .html, package.json, examples.
  npx tsx scripts/lib/build-palette.ts >/dev/null
  chmod +x dist/firmware/cni/plugin.js dist/firmware/cli/antctl.js 2>/dev/null || true
  # The CNI plugin runtimes exec per pod operation: native, so that a call does not pay Node.js start-up.
  command -v cc >/dev/null ||
    die "no C compiler (cc) to build the CNI shim; install gcc (apt-get install -y gcc), or use dist/firmware/cni/plugin.js"
  say "building the CNI shim (cc)"
  mkdir -p dist/bin
  cc -std=c99 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L \
    -o dist/bin/antrea-edge-cni firmware/cni/shim/antrea-edge-cni.c
}

setup_all() {
  ensure_node
  ensure_debian_packages
  ensure_npm_packages
  build_firmware
}
