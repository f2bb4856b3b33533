#!/usr/bin/env bash
# Turns a fresh Debian (12 or 13) or Ubuntu machine into one where the workbook's commands
# work: the Debian packages the chapters and their tests use, then the project's own install
# (npm ci, which builds the native helper). Idempotent. Used by CI (.ci/run) and by the VM.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential       # cc and libc's static archive for native/ (helper and probe)
  util-linux            # unshare, nsenter, prlimit, findmnt: to look at what the chapters do
  iproute2              # ip: network namespaces, veth and bridges
  procps psmisc         # ps, pgrep, pstree
  busybox-static        # a static shell and tools for test images
  docker-registry       # a real registry (distribution v2) for the registry chapter
  skopeo                # the reference image copier, for the pull benchmark
  runc                  # the reference OCI runtime
  openssl               # certificates for the registry's token auth in tests
  chromium              # the book's browser test (headless)
  ca-certificates git
)

if [ "${SKIP_APT:-}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  command -v node >/dev/null || packages+=(nodejs npm)
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=19))')
if [ "$node_ok" != true ]; then
  echo "provision: Node.js $(node --version) is too old: the workbook needs 20.19 or newer (Debian 13 ships it)." >&2
  exit 1
fi

cd "$repo"
npm ci --no-audit --no-fund ${NPM_OFFLINE:+--offline}
echo "provision: ready. Next: npx workbook"
