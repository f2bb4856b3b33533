#!/usr/bin/env bash
# Runs inside the pristine guest (as root, from the share tagged "job": this folder), the way a learner's
# `vagrant up` and `vagrant ssh` would: copy the workbook in as Vagrant's rsync synced folder
# does, run vm/provision.sh with no network (SKIP_APT=1: the packages are in the image;
# NPM_OFFLINE=1: npm's cache comes from the host), then run the chapters' tests.
#
# Shares (see test/vm/run.sh): workbook (the checkout, read-only), npmcache (the host's npm
# cache, read-only), results (read-write: job.env in, stages, status and report.json out).
set -uo pipefail

results=/run/results
mount9p() { # TAG DIR [ro]
  mkdir -p "$2" && mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000${3:+,$3}" "$1" "$2"
}
mount9p results "$results" || { echo "vm-job: cannot mount the results share"; exit 1; }
# shellcheck source=/dev/null
. "$results/job.env"

uptime_s() { cut -d' ' -f1 /proc/uptime; }
last=$(uptime_s)
stage() { # NAME: the time since the previous stage ended
  local now; now=$(uptime_s)
  local took; took=$(awk -v a="$last" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  echo "$1 $took" >>"$results/stages"
  echo "vm-job: stage $1 took $took s"
  last=$now
}
fail() { echo "vm-job: $*"; echo 1 >"$results/status"; sync; exit 1; }

echo "boot $last" >"$results/stages"
echo "vm-job: up after $last s: $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r), $(nproc) CPUs"

# The checkout, as Vagrant's rsync synced folder copies it: without the host's node_modules,
# native build and learner state, which the guest makes for itself.
mount9p workbook /mnt/workbook ro || fail "cannot mount the workbook share"
mkdir -p /workbook
tar -C /mnt/workbook --exclude=./node_modules --exclude=./native/build --exclude=./.workbook \
    --exclude=./.git -cf - . | tar -C /workbook -xf - || fail "cannot copy the workbook in"
umount /mnt/workbook

# npm's cache from the host, read-only below a writable layer: npm may write, the host's stays as it was.
mount9p npmcache /mnt/npm-host ro || fail "cannot mount the npm cache share"
mkdir -p /var/tmp/npm/upper /var/tmp/npm/work /var/cache/npm
mount -t overlay overlay -o lowerdir=/mnt/npm-host,upperdir=/var/tmp/npm/upper,workdir=/var/tmp/npm/work \
  /var/cache/npm || fail "cannot mount the npm cache overlay"
stage copy

cd /workbook
SKIP_APT=1 NPM_OFFLINE=1 npm_config_cache=/var/cache/npm bash vm/provision.sh || fail "vm/provision.sh failed"
stage provision

# Pure cgroup v2: one cgroup2 hierarchy at /sys/fs/cgroup and no v1 hierarchy anywhere.
[ "$(findmnt -n -o FSTYPE /sys/fs/cgroup)" = cgroup2 ] || fail "/sys/fs/cgroup is not cgroup2: $(findmnt /sys/fs/cgroup)"
[ -z "$(findmnt -n -t cgroup)" ] || fail "cgroup v1 hierarchies are mounted: $(findmnt -t cgroup)"
echo "vm-job: cgroup v2 only; controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

echo "vm-job: tests against the reference: $TESTS"
# shellcheck disable=SC2086
CI=true NO_COLOR=1 WORKBOOK_IMPL=solutions WORKBOOK_REFERENCE_BELOW=0 \
  node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json="$results/report.json" $TESTS
code=$?
stage tests

# Nothing the tests made may be left: no mount below /workbook or /tmp, no cgroup of theirs.
leftover=$(findmnt -rn -o TARGET | grep -E '^/(tmp|workbook)/' || true)
[ -z "$leftover" ] || { echo "vm-job: mounts left behind: $leftover"; code=1; }

echo "$code" >"$results/status"
sync
exit "$code"
