#!/usr/bin/env bash
# `npm run test:vm`: proves the VM a learner gets. It checks vm/Vagrantfile with
# `vagrant validate` (test/vm/validate-vagrantfile.sh), builds (or takes from the cache) a
# pristine Debian guest with vm/guest/build-image.sh, boots it with QEMU (vm/guest/boot.sh),
# and inside it (test/vm/guest/run.sh) provisions the workbook with vm/provision.sh, as
# `vagrant up` would, and runs the written chapters' tests against the reference on a
# pure cgroup v2 kernel. Fails if anything in the guest fails; prints each stage's time.
#
# Each stage of the guest has its own time limit, several times what it takes on a quiet
# machine, so a machine twice as slow and busy still passes; one that runs out stops the guest
# and says which stage it was. The node_modules the guest installs is cached on the host
# ($VM_CACHE/node_modules/), keyed by what npm installs (vm/provision.sh --npm-key) and the guest image,
# so only the first run with a new lock file pays the guest's npm ci.
#
# Environment:
#   VM_CHAPTERS  the chapters to test: "01 04", test files ("test/08-network/publish.test.ts"),
#                or "all" written chapters (default: test/01-process/process.test.ts 02 03 04
#                test/08-network/publish.test.ts)
#   VM_LIMIT_BOOT, VM_LIMIT_COPY, VM_LIMIT_PROVISION, VM_LIMIT_TESTS, VM_LIMIT_POWEROFF
#                each stage's limit in seconds (defaults below)
#   VM_SUITE, VM_CACHE, VM_MIRROR  see vm/guest/build-image.sh
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
# the kernel's differences head-on (01-04: process, namespaces, rootfs, cgroups v1 or v2), and of
# chapter 08 the file whose runs cross a bridge, a veth, iptables' nat table and the proxy (the
# rest of chapter 08 repeats those steps, at minutes each in the emulated guest); or what
# VM_CHAPTERS names ("all": every written chapter); and the native helper's own tests. Of chapter
# 01 the file whose processes meet the kernel: its cli.test.ts compares flag parsing with the
# docker CLI, a docker run per case, which takes three minutes in the guest and meets no kernel.
tests=$(VM_CHAPTERS=${VM_CHAPTERS:-test/01-process/process.test.ts 02 03 04 test/08-network/publish.test.ts} node -e '
  const written = require("./workbook/chapters.json").filter((c) => !c.planned)
  const words = process.env.VM_CHAPTERS.trim() === "all" ? written.map((c) => c.id) : process.env.VM_CHAPTERS.split(/\s+/).filter(Boolean)
  const files = words.filter((w) => w.includes("/"))
  const missing = files.filter((f) => !require("fs").existsSync(f))
  if (missing.length) { console.error(`vm-test: no such test file: ${missing.join(" ")}`); process.exit(1) }
  const wanted = words.filter((w) => !w.includes("/")).map((id) => id.padStart(2, "0"))
  const chosen = written.filter((c) => wanted.includes(c.id)).map((c) => c.tests)
  if (!chosen.length && !files.length) { console.error(`vm-test: none of the chapters ${wanted.join(" ")} is written`); process.exit(1) }
  console.log([...chosen, ...files, "test/native"].join(" "))')

npm_cache=$(npm config get cache 2>/dev/null)
[ -d "$npm_cache/_cacache" ] || { echo "vm-test: npm's cache $npm_cache is empty: run npm ci first (vm/provision.sh does)" >&2; exit 1; }

bash test/vm/validate-vagrantfile.sh
stage vagrant-validate $((SECONDS - clock))

clock=$SECONDS
image_limit=${VM_LIMIT_IMAGE:-2400}
if ! image=$(timeout -k 30 "$image_limit" bash vm/guest/build-image.sh); then
  echo "vm-test: building the guest image failed or ran out of its $image_limit s (stage image)" >&2
  exit 1
fi
stage image $((SECONDS - clock))

# Each guest stage's limit in seconds. Measured on a busy machine: boot 2 min, copy 30 s,
# provision 11 min when npm ci runs (about 1 when node_modules comes from the cache), tests
# 6 min or more, poweroff seconds.
declare -A limit=(
  [boot]=${VM_LIMIT_BOOT:-600} [copy]=${VM_LIMIT_COPY:-300} [provision]=${VM_LIMIT_PROVISION:-1800}
  [tests]=${VM_LIMIT_TESTS:-2400} [poweroff]=${VM_LIMIT_POWEROFF:-300}
)

results=$(mktemp -d /tmp/minidocker-vm.XXXXXX)
trap 'rm -rf "$results"' EXIT
echo "TESTS='$tests'" >"$results/job.env"

# node_modules as the guest installed it, for this lock file and this guest image.
nm_cache="${VM_CACHE:-/var/cache/minidocker-vm}/node_modules"
nm_tar="$( { bash vm/provision.sh --npm-key; echo "$image"; } | sha256sum | cut -c1-16).tar"
shares=(job="$repo/test/vm/guest" workbook="$repo" npmcache="$npm_cache" results="$results:rw")
if [ -f "$nm_cache/$nm_tar" ]; then
  echo "NODE_MODULES_TAR='$nm_tar'" >>"$results/job.env"
  shares+=(nmcache="$nm_cache")
  echo "vm-test: the guest's node_modules comes from the cache ($nm_cache/$nm_tar)"
fi

echo "vm-test: booting the guest (QEMU, software emulation, 2 vCPUs, 2 GiB, no network): $tests"
guest=$SECONDS
clock=$SECONDS
total_limit=0
for name in "${!limit[@]}"; do total_limit=$((total_limit + limit[$name])); done
VM_TIMEOUT=$((total_limit + 60)) bash vm/guest/boot.sh "$image" "$results/serial.log" "${shares[@]}" &
qemu=$!
trap 'kill "$qemu" 2>/dev/null; wait "$qemu" 2>/dev/null; rm -rf "$results"' EXIT
inside=()
ran_out=
# Each stage ends when the guest's marker for it reaches the console (poweroff: when QEMU
# exits), timed by the host's clock, and must end within its limit.
for name in boot copy provision tests poweroff; do
  done_yet() { if [ "$name" = poweroff ]; then ! kill -0 "$qemu" 2>/dev/null; else grep -aq "vm-job: stage $name done" "$results/serial.log" 2>/dev/null; fi; }
  while kill -0 "$qemu" 2>/dev/null && ! done_yet && [ $((SECONDS - clock)) -lt "${limit[$name]}" ]; do sleep 1; done
  if ! done_yet && kill -0 "$qemu" 2>/dev/null; then
    ran_out=$name
    echo "vm-test: the guest's stage $name did not finish within its ${limit[$name]} s (VM_LIMIT_${name^^}): stopping the guest"
    kill "$qemu" 2>/dev/null
  fi
  done_yet || break
  inside+=("$name" $((SECONDS - clock)))
  clock=$SECONDS
done
boot=0
wait "$qemu" || boot=$?
trap 'rm -rf "$results"' EXIT
[ -n "$ran_out" ] && inside+=("$ran_out (ran out)" $((SECONDS - clock)))
stage guest $((SECONDS - guest))
for ((i = 0; i < ${#inside[@]}; i += 2)); do stage "  ${inside[i]}" "${inside[i + 1]}"; done
# The last run's console stays in the cache folder, to read after the fact.
cp "$results/serial.log" "${VM_CACHE:-/var/cache/minidocker-vm}/last-serial.log" 2>/dev/null || true

status=$(cat "$results/status" 2>/dev/null || echo none)
# A guest that installed node_modules leaves it for the next run (one tarball is kept), even
# when its tests failed: it writes the tarball only once provision.sh has succeeded.
if [ -f "$results/node_modules.tar" ]; then
  mkdir -p "$nm_cache"
  rm -f "$nm_cache"/*.tar
  mv "$results/node_modules.tar" "$nm_cache/$nm_tar"
fi
if [ -n "$ran_out" ]; then
  echo "vm-test: the guest ran out of time in stage $ran_out. Its serial console:"
  cat "$results/serial.log" || true
elif [ "$boot" != 0 ] || [ "$status" != 0 ]; then
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
[ -z "$ran_out" ] && [ "$boot" = 0 ] && [ "$status" = 0 ] && [ "$failed" = 0 ]
