#!/usr/bin/env bash
# `npm run test:vm`: proves the VM a learner gets. It checks vm/Vagrantfile with
# `vagrant validate` (test/vm/validate-vagrantfile.sh), builds (or takes from the cache) a
# pristine Debian guest with vm/guest/build-image.sh, boots it with QEMU (vm/guest/boot.sh),
# and inside it (test/vm/guest/run.sh) provisions the workbook with vm/provision.sh, as
# `vagrant up` would, and runs the written chapters' tests against the reference on a
# pure cgroup v2 kernel. Fails if anything in the guest fails; prints each stage's time.
#
# Environment:
#   VM_CHAPTERS  the chapters to test: "01 04", or "all" written ones (default: 01 02 03 04)
#   VM_SUITE, VM_CACHE, VM_MIRROR  see vm/guest/build-image.sh;  VM_TIMEOUT  see vm/guest/boot.sh
# Needs root, qemu-system-x86, debootstrap (.ci/run installs them).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

for tool in qemu-system-x86_64 debootstrap mkfs.ext4; do
  command -v "$tool" >/dev/null || { echo "vm-test: $tool is missing: apt-get install -y qemu-system-x86 debootstrap e2fsprogs" >&2; exit 1; }
done

stages=()
started=$SECONDS
clock=$SECONDS
stage() { stages+=("$(printf '%-18s %6s s' "$1" "$2")"); }

# The tests the guest runs: the written chapters (chapters.json) among those whose code meets
# the kernel's differences head-on (01-04: process, namespaces, rootfs, cgroups v1 or v2),
# or the ones VM_CHAPTERS names ("all": every written chapter); and the native helper's own.
tests=$(VM_CHAPTERS=${VM_CHAPTERS:-01 02 03 04} node -e '
  const written = require("./workbook/chapters.json").filter((c) => !c.planned)
  const wanted = process.env.VM_CHAPTERS.trim() === "all" ? written.map((c) => c.id)
    : process.env.VM_CHAPTERS.split(/\s+/).filter(Boolean).map((id) => id.padStart(2, "0"))
  const chosen = written.filter((c) => wanted.includes(c.id))
  if (!chosen.length) { console.error(`vm-test: none of the chapters ${wanted.join(" ")} is written`); process.exit(1) }
  console.log([...chosen.map((c) => c.tests), "test/native"].join(" "))')

npm_cache=$(npm config get cache 2>/dev/null)
[ -d "$npm_cache/_cacache" ] || { echo "vm-test: npm's cache $npm_cache is empty: run npm ci first (vm/provision.sh does)" >&2; exit 1; }

bash test/vm/validate-vagrantfile.sh
stage vagrant-validate $((SECONDS - clock))

clock=$SECONDS
image=$(bash vm/guest/build-image.sh)
stage image $((SECONDS - clock))

results=$(mktemp -d /tmp/minidocker-vm.XXXXXX)
trap 'rm -rf "$results"' EXIT
echo "TESTS='$tests'" >"$results/job.env"

echo "vm-test: booting the guest (QEMU, software emulation, 2 vCPUs, 2 GiB, no network): $tests"
guest=$SECONDS
clock=$SECONDS
bash vm/guest/boot.sh "$image" "$results/serial.log" \
  job="$repo/test/vm/guest" workbook="$repo" npmcache="$npm_cache" results="$results:rw" &
qemu=$!
trap 'kill "$qemu" 2>/dev/null; wait "$qemu" 2>/dev/null; rm -rf "$results"' EXIT
inside=()
# Each stage ends when the guest's marker for it reaches the console: timed by the host's clock.
for name in boot copy provision tests; do
  while kill -0 "$qemu" 2>/dev/null && ! grep -aq "vm-job: stage $name done" "$results/serial.log" 2>/dev/null; do sleep 1; done
  grep -aq "vm-job: stage $name done" "$results/serial.log" 2>/dev/null || break
  inside+=("$name" $((SECONDS - clock)))
  clock=$SECONDS
done
boot=0
wait "$qemu" || boot=$?
trap 'rm -rf "$results"' EXIT
inside+=(poweroff $((SECONDS - clock)))
stage guest $((SECONDS - guest))
for ((i = 0; i < ${#inside[@]}; i += 2)); do stage "  ${inside[i]}" "${inside[i + 1]}"; done
# The last run's console stays in the cache folder, to read after the fact.
cp "$results/serial.log" "${VM_CACHE:-/var/cache/minidocker-vm}/last-serial.log" 2>/dev/null || true

status=$(cat "$results/status" 2>/dev/null || echo none)
if [ "$boot" != 0 ] || [ "$status" != 0 ]; then
  echo "vm-test: the guest failed (QEMU exit $boot, job status $status). Its serial console:"
  cat "$results/serial.log" || true
else
  # The guest's own report of the tests, without the kernel's boot messages.
  grep -v '^\[ *[0-9.]*\]' "$results/serial.log" | sed -n '/vm-job: tests against/,$p' | tail -n 40
fi

stage total $((SECONDS - started))
echo "vm-test: stage times"
printf '  %s\n' "${stages[@]}"

counts=$(node -e '
  try {
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
    console.log(`${r.numPassedTests} ${r.numFailedTests + r.numPendingTests}`)
  } catch { console.log("0 1") }' "$results/report.json")
read -r passed failed <<<"$counts"
echo "vm-test: $passed passed, $failed failed"
[ "$boot" = 0 ] && [ "$status" = 0 ] && [ "$failed" = 0 ]
