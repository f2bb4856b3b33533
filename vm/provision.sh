#!/usr/bin/env bash
# Turns a fresh Debian (12 or 13) or Ubuntu machine into one where the workbook's commands
# work: the Debian packages the chapters and their tests use, then the project's own install
# (npm ci, which builds the native helper). Idempotent: a second run installs nothing new, and
# runs npm ci again only when package.json, package-lock.json, node or npm changed.
#
# One script for every machine that runs the workbook:
#   CI             .ci/run runs it as root on the CI machine
#   the VM         vm/Vagrantfile runs it as root inside the Debian 13 guest
#   the VM test    test/vm/run.sh boots a pristine guest with these packages already in its
#                  image and runs it there with SKIP_APT=1 NPM_OFFLINE=1 (the guest has no network)
#   a Linux host   a learner runs it as root once
#
# Environment:
#   SKIP_APT=1     install no Debian packages (they are already there); missing ones are listed
#   NPM_OFFLINE=1  npm ci --offline: every package must already be in npm's cache
#                  (npm_config_cache=DIR points npm at another cache folder)
# `provision.sh --packages` prints the Debian packages it installs, one a line, and exits.
# `provision.sh --npm-key` prints a key of what npm ci installs (dependencies and lock file, not
# the project's own scripts or bin entries), which node_modules is stamped with, and exits.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential       # cc and libc's static archive for native/ (helper and probe)
  util-linux            # unshare, nsenter, prlimit, findmnt: to look at what the chapters do
  libcap2-bin           # setcap, getcap, capsh: file capabilities for chapter 13's shift
  iproute2 iptables     # ip and iptables: network namespaces, veths, bridges, published ports
  procps psmisc         # ps, pgrep, pstree
  busybox-static        # a static shell and tools for test images
  docker-registry       # a real registry (distribution v2) for the registry chapter
  skopeo                # the reference image copier, for the pull benchmark
  runc crun             # the reference OCI runtimes
  containerd docker.io  # the real stack the runtime, shim, daemon and client chapters are tested against
  docker-cli            # the docker command (Debian 13 ships it apart from docker.io; 12 has it inside)
  time                  # GNU time: the benchmark's peak memory
  openssl               # certificates for the registry's token auth in tests
  chromium              # the book's browser test (headless)
  ca-certificates git
)
# Node.js and npm come from Debian unless a node is already there (nodesource, nvm, ...).
command -v node >/dev/null || packages+=(nodejs npm)

npm_key() {
  (cd "$repo" && node -e '
    const pkg = require("./package.json"), lock = require("./package-lock.json")
    delete lock.packages[""]
    process.stdout.write(JSON.stringify([pkg.dependencies, pkg.devDependencies, pkg.allowScripts, pkg.scripts.postinstall, lock.packages]))' |
    sha256sum | cut -c1-16)
}
if [ "${1:-}" = --npm-key ]; then npm_key; exit 0; fi

if [ "${1:-}" = --packages ]; then
  # Listed whether or not a node is installed: an image built from this list needs both.
  printf '%s\n' "${packages[@]}" nodejs npm | awk '!seen[$0]++'
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] && continue
  # docker-cli is a package of its own from Debian 13 on; before, docker.io holds the command
  [ "$p" = docker-cli ] && command -v docker >/dev/null && continue
  missing+=("$p")
done

if [ ${#missing[@]} = 0 ]; then
  echo "provision: all ${#packages[@]} Debian packages are installed"
elif [ "${SKIP_APT:-}" = 1 ]; then
  echo "provision: SKIP_APT=1, so not installing: ${missing[*]}"
else
  if [ "$(id -u)" != 0 ]; then
    echo "provision: run me as root (sudo bash vm/provision.sh): apt-get must install ${missing[*]}" >&2
    exit 1
  fi
  echo "provision: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Installed, never started: policy-rc.d keeps the packages' scripts from starting containerd
  # or dockerd; the tests start their own from temp directories, on their own sockets.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable docker.service docker.socket containerd.service >/dev/null 2>&1 || true
  fi
fi

if ! command -v node >/dev/null; then
  echo "provision: there is no node: install Node.js 20.19 or newer (Debian 13's nodejs package)" >&2
  exit 1
fi
node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=19))')
if [ "$node_ok" != true ]; then
  echo "provision: Node.js $(node --version) is too old: the workbook needs 20.19 or newer (Debian 13 ships it)." >&2
  exit 1
fi

cd "$repo"
# What node_modules was installed from; kept in it, so a copy of node_modules carries it.
stamp=node_modules/.provisioned
want="$(npm_key) node $(node --version) npm $(npm --version)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "provision: node_modules is current ($want): building the native helper only"
  make -s -C native
else
  offline=()
  [ "${NPM_OFFLINE:-}" = 1 ] && offline=(--offline)
  # --loglevel=warn: a warning still shows, npm's progress and notices do not.
  npm ci --no-audit --no-fund --loglevel=warn "${offline[@]}"
  echo "$want" >"$stamp"
fi
echo "provision: ready (node $(node --version), npm $(npm --version)). Next: npx workbook"
