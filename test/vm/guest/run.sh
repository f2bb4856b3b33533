#!/usr/bin/env bash
# Runs inside the pristine guest as root (from the share tagged "job": this folder), the way
# a learner's `vagrant up` and `vagrant ssh` would: copy the workbook in as Vagrant's rsync synced folder
# does, run vm/provision.sh with no network (SKIP_APT=1: the packages are in the image;
# NPM_OFFLINE=1: npm's cache comes from the host), then run the chapters' tests.
#
# Shares (see test/vm/run.sh): workbook (the checkout, read-only), npmcache (the host's npm
# cache, read-only), results (read-write: job.env in, status and report.json out), and when
# the host has one, nmcache (read-only): a tarball of the node_modules an earlier guest
# installed from the same package-lock.json, so this one skips npm ci (job.env names it).
set -uo pipefail

results=/run/results
mount9p() { # TAG DIR [ro]
  mkdir -p "$2" && mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000${3:+,$3}" "$1" "$2"
}
mount9p results "$results" || { echo "vm-job: cannot mount the results share"; exit 1; }
# Every line of the job's output carries the guest's uptime, to see where the time goes.
exec > >(while IFS= read -r line; do read -r up _ </proc/uptime; printf '(%7s) %s\n' "$up" "$line"; done) 2>&1
logger=$!
finish() { # CODE: record it, let the last lines reach the console, and power off at once
  echo "$1" >"$results/status"
  sync
  exec >&- 2>&-
  # A process left behind with our stdout would keep the logger waiting for ever.
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$logger" 2>/dev/null || break; sleep 0.5; done
  # The disk is a throw-away snapshot and the results are synced: an orderly shutdown of
  # every unit would only cost minutes of emulated CPU.
  systemctl poweroff --force --force
  exit "$1"
}
# shellcheck source=/dev/null
. "$results/job.env"

# Stage markers: the host times each stage by its own clock when the line reaches the console,
# so the times add up to QEMU's whole run.
stage() { echo "vm-job: stage $1 done"; }
fail() { echo "vm-job: $*"; finish 1; }

echo "vm-job: stage boot done: $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r), $(nproc) CPUs"

# The checkout, as vm/Vagrantfile's rsync synced folder copies it (the same exclusions): without
# the host's node_modules, native build and learner state, which the guest makes for itself.
mount9p workbook /mnt/workbook ro || fail "cannot mount the workbook share"
mkdir -p /workbook
excludes=(.git node_modules native/build .workbook book/site reports scratch)
tar -C /mnt/workbook "${excludes[@]/#/--exclude=./}" --exclude=.vagrant -cf - . |
  tar -C /workbook -xf - || fail "cannot copy the workbook in"
umount /mnt/workbook

# npm's cache from the host, read-only below a writable layer: npm may write, the host's stays as it was.
mount9p npmcache /mnt/npm-host ro || fail "cannot mount the npm cache share"
mkdir -p /var/tmp/npm/upper /var/tmp/npm/work /var/cache/npm
mount -t overlay overlay -o lowerdir=/mnt/npm-host,upperdir=/var/tmp/npm/upper,workdir=/var/tmp/npm/work \
  /var/cache/npm || fail "cannot mount the npm cache overlay"
stage copy

cd /workbook
if [ -n "${NODE_MODULES_TAR:-}" ]; then
  # node_modules as an earlier guest installed it; provision.sh sees that it is current.
  mount9p nmcache /mnt/nm-host ro || fail "cannot mount the node_modules cache share"
  tar -C /workbook -xf "/mnt/nm-host/$NODE_MODULES_TAR" || fail "cannot unpack the cached node_modules"
  umount /mnt/nm-host
fi
SKIP_APT=1 NPM_OFFLINE=1 npm_config_cache=/var/cache/npm bash vm/provision.sh || fail "vm/provision.sh failed"
# The tests look at the whole mount table (an overlay left mounted is a failure of theirs).
umount /var/cache/npm /mnt/npm-host
# For the host's cache: the next guest with the same package-lock.json unpacks this instead.
if [ -z "${NODE_MODULES_TAR:-}" ]; then
  tar -C /workbook -cf "$results/node_modules.tar.part" node_modules && mv "$results/node_modules.tar.part" "$results/node_modules.tar" ||
    fail "cannot pack node_modules for the cache"
fi
stage provision

# Pure cgroup v2: one cgroup2 hierarchy at /sys/fs/cgroup and no v1 hierarchy anywhere.
[ "$(findmnt -n -o FSTYPE /sys/fs/cgroup)" = cgroup2 ] || fail "/sys/fs/cgroup is not cgroup2: $(findmnt /sys/fs/cgroup)"
[ -z "$(findmnt -n -t cgroup)" ] || fail "cgroup v1 hierarchies are mounted: $(findmnt -t cgroup)"
echo "vm-job: cgroup v2 only; controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

cgroups_before=$(find /sys/fs/cgroup -mindepth 1 -type d | sort)
# Emulated CPUs are several times slower than the host's: the same tests, longer time-outs.
# One test file at a time: both vCPUs run on one host thread, so a second worker only makes
# each start slower, and vitest gives a worker 60 s to start (not configurable).
echo "vm-job: tests against the reference: $TESTS"
# shellcheck disable=SC2086
CI=true NO_COLOR=1 WORKBOOK_IMPL=solutions WORKBOOK_REFERENCE_BELOW=0 \
  node_modules/.bin/vitest run --maxWorkers=1 --testTimeout=120000 --hookTimeout=180000 --reporter=default --reporter=json --outputFile.json="$results/report.json" $TESTS
code=$?
stage tests

# Nothing the tests made may be left: no mount below /workbook or /tmp, no cgroup, no process.
leftover=$(findmnt -rn -o TARGET | grep -E '^/(tmp|workbook)/' || true)
[ -z "$leftover" ] || { echo "vm-job: mounts left behind: $leftover"; code=1; }
cgroups_after=$(find /sys/fs/cgroup -mindepth 1 -type d | sort)
leftover=$(comm -13 <(echo "$cgroups_before") <(echo "$cgroups_after"))
[ -z "$leftover" ] || { echo "vm-job: cgroups left behind: $leftover"; code=1; }
# Processes: every one left in this job's cgroup but this script and its logger (builtins only
# here, so that no process of the check itself is counted).
mapfile -t procs <"/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/cgroup.procs"
for pid in "${procs[@]}"; do
  [ "$pid" = $$ ] || [ "$pid" = "$logger" ] || [ "$pid" = "$BASHPID" ] && continue
  read -r comm <"/proc/$pid/comm" 2>/dev/null && { echo "vm-job: process left behind: $pid $comm"; code=1; }
done

finish "$code"
