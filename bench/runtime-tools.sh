#!/bin/sh
# bench/runtime-tools.sh SRC_DIR [RUNTIME...]: the OCI runtime-tools validation suite against
# minirunc (the reference chapters) and runc, one table row per validation executable.
#
# SRC_DIR is a checkout of opencontainers/runtime-tools (commit 260e151 builds with Go 1.19,
# offline: its Go modules are vendored); it is built there if it has not been. Each executable
# runs from SRC_DIR with RUNTIME set, as the suite expects, and a time limit. A row says how
# many results it printed, how many were "not ok", its exit status, and the verdict: pass when
# it exits 0 and prints no "not ok" and, if it prints no result, no `error:` diagnostic either.
# The tests of a config the runtime must refuse (process_capabilities_fail, prestart_fail...)
# print no result when it does, and exit 1 (or print `error:`) when it runs the container anyway.
# Run as root. Some executables leave things behind whatever the runtime: a container the suite
# did not delete, and with runc, linux_ns_itype's mounts (a container without a mount namespace
# of its own, set up in the host's). After each executable, the mounts that appeared under the
# temp directory are unmounted and the containers left in the runtime's default root deleted.
set -eu
src=${1:?usage: bench/runtime-tools.sh RUNTIME_TOOLS_SRC_DIR [RUNTIME...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -x "$src/validation/state/state.t" ] || [ ! -x "$src/runtimetest" ]; then
  (cd "$src" && GOFLAGS=-mod=vendor make runtimetest validation-executables >/dev/null)
fi

# One path per runtime, as the suite wants: minirunc with the reference chapters.
cat > "$work/minirunc" <<EOF
#!/bin/sh
exec env WORKBOOK_IMPL=solutions '$(command -v node)' '$here/bin/minirunc.cjs' "\$@"
EOF
chmod +x "$work/minirunc"
[ $# -gt 0 ] || set -- "$work/minirunc" runc

tmp=${TMPDIR:-/tmp}
mounts() { findmnt -rn -o TARGET | grep "^$tmp/ocitest" | sort || true; }

# What an executable left: new mounts under the temp directory (deepest first), the
# containers whose bundle is one of the suite's (nobody else's), and the empty parents of the
# suite's relative cgroups path (testdir/cgrouptest/container), which runtimes leave behind.
cleanup() {
  mounts | comm -13 "$work/mounts" - | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  # A relative path is below the caller's own cgroup in each hierarchy, which may nest deep.
  find /sys/fs/cgroup -maxdepth 6 -type d -name testdir 2>/dev/null | while read -r d; do
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  for id in $("$1" list --format json 2>/dev/null | node -e "
    const list = JSON.parse(require('fs').readFileSync(0, 'utf8') || '[]') || []
    for (const c of list) if (c.bundle.startsWith('$tmp/ocitest')) console.log(c.id)"); do
    "$1" delete --force "$id" >/dev/null 2>&1 || true
  done
}

for runtime in "$@"; do
  name=$(basename "$runtime")
  passed=0
  total=0
  printf '%s\n%-45s %5s %7s %6s  %s\n' "== $name" test results 'not ok' status verdict
  for t in "$src"/validation/*/*.t; do
    test=$(basename "$t" .t)
    mounts > "$work/mounts"
    status=0
    out=$(cd "$src" && RUNTIME=$runtime timeout 120 "$t" 2>&1) || status=$?
    cleanup "$runtime"
    results=$(printf '%s\n' "$out" | grep -cE '^(not )?ok [0-9]' || true)
    failed=$(printf '%s\n' "$out" | grep -cE '^not ok [0-9]' || true)
    errors=$(printf '%s\n' "$out" | grep -c '^ *"error":' || true)
    verdict=fail
    if [ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && { [ "$results" -gt 0 ] || [ "$errors" -eq 0 ]; }; then
      verdict=pass
      passed=$((passed + 1))
    fi
    total=$((total + 1))
    printf '%-45s %5s %7s %6s  %s\n' "$test" "$results" "$failed" "$status" "$verdict"
  done
  printf '%s: %d of %d pass\n\n' "$name" "$passed" "$total"
done
