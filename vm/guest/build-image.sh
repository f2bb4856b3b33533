#!/usr/bin/env bash
# Builds a pristine Debian guest for the VM test, or finds it in the cache, and prints the
# folder that holds it: rootfs.img (ext4), vmlinuz and initrd.img (taken from the image, so
# QEMU boots the guest's own kernel without a bootloader).
#
# The guest is what a fresh `vagrant up` starts from: Debian with the packages that
# `vm/provision.sh --packages` lists already installed (the guest has no network to fetch
# them), and nothing of the workbook. On boot it runs one job the host shares in (see
# vm/guest/boot.sh) and powers off.
#
# The image is cached under $VM_CACHE (default /var/cache/minidocker-vm), keyed by what built
# it: the release, the package list and this script. The downloaded .deb files are kept in
# $VM_CACHE/debs, so a rebuild after a change downloads only what is new.
#
# Environment:
#   VM_SUITE   the Debian release (default trixie: Debian 13, whose nodejs is 20.19)
#   VM_CACHE   the cache folder
#   VM_MIRROR  the Debian mirror (default: the one apt on this machine uses, from apt-cache policy)
# Needs root, debootstrap and e2fsprogs (mkfs.ext4 -d).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=${VM_SUITE:-trixie}
cache=${VM_CACHE:-/var/cache/minidocker-vm}

log() { echo "vm-image: $*" >&2; }

# What a bootable guest needs (debootstrap lays it down), and the workbook's packages (apt in
# the new root installs them: it resolves dependencies that debootstrap's --include does not).
base=(systemd-sysv udev dbus kmod e2fsprogs)
# chromium serves only the book's browser test, which the guest does not run; with its
# dependencies it is the largest part of the image, and the guest's provision.sh says it is missing.
mapfile -t packages < <(bash "$here/../provision.sh" --packages | grep -vx chromium)
packages+=(linux-image-amd64)

# build OUT MIRROR: run in a private mount namespace, so that every mount made here (the
# tmpfs the root is built on, /proc, /sys, /dev and the .deb cache inside it) goes away with
# it, however the build ends. Leaves rootfs.img, vmlinuz and initrd.img in OUT.
build() {
  local out=$1 mirror=$2 root=$1/root start
  mkdir "$root"
  mount -t tmpfs -o size=8g,mode=755 minidocker-vm "$root"

  log "debootstrap $suite from the Debian mirror apt uses here"
  start=$SECONDS
  if ! debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$(IFS=,; echo "${base[*]}")" \
       "$suite" "$root" "$mirror" >"$out/debootstrap.log" 2>&1; then
    tail -n 30 "$out/debootstrap.log" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    log "debootstrap failed"
    return 1
  fi
  log "debootstrap took $((SECONDS - start)) s"

  log "apt-get install ${packages[*]}"
  start=$SECONDS
  # No service may start in the chroot; no fsync per file on a throw-away tmpfs.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/build-unsafe-io"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount --bind "$cache/debs" "$root/var/cache/apt/archives"
  if ! { DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 chroot "$root" apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 chroot "$root" \
           apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$out/apt.log" 2>&1; then
    tail -n 40 "$out/apt.log" >&2
    log "apt-get install in the guest failed"
    return 1
  fi
  umount "$root/var/cache/apt/archives"
  umount -R "$root/dev" "$root/sys" "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/dpkg/dpkg.cfg.d/build-unsafe-io" "$root/etc/resolv.conf"
  rm -rf "$root"/var/lib/apt/lists/*
  log "apt-get install took $((SECONDS - start)) s"

  # The guest: root on the first virtio disk, no getty on the serial console (it would cut the
  # job's output off), no timers that would start apt or man-db in the middle of a test, and
  # no Docker or containerd of the system's own (the tests start theirs from temp directories).
  echo minidocker >"$root/etc/hostname"
  echo '/dev/vda / ext4 defaults 0 1' >"$root/etc/fstab"
  local unit
  for unit in serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
              man-db.timer fstrim.timer e2scrub_all.timer systemd-tmpfiles-clean.timer \
              docker.service docker.socket containerd.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done

  # The job: the host shares a folder tagged "job" (read-only) whose run.sh is run as root once
  # the system is up; its output goes to the serial console, then the guest powers off.
  cat >"$root/etc/systemd/system/minidocker-job.service" <<'EOF'
[Unit]
Description=Run the job the host shared in
ConditionKernelCommandLine=minidocker.job
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStartPre=/usr/sbin/modprobe 9pnet_virtio
ExecStartPre=/usr/bin/mkdir -p /run/job
ExecStartPre=/usr/bin/mount -t 9p -o trans=virtio,version=9p2000.L,ro job /run/job
ExecStart=/usr/bin/bash /run/job/run.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
  ln -sf /etc/systemd/system/minidocker-job.service "$root/etc/systemd/system/multi-user.target.wants/"

  cp "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)" "$out/vmlinuz"
  cp "$(ls "$root"/boot/initrd.img-* | sort -V | tail -n 1)" "$out/initrd.img"

  start=$SECONDS
  # 6 GiB, sparse: room for node_modules, the native build and the tests' temp files.
  mkfs.ext4 -q -F -L root -d "$root" "$out/rootfs.img" 6G >&2
  log "mkfs.ext4 took $((SECONDS - start)) s ($(du -sh "$root" | cut -f1) in the image)"
  umount "$root"
  rmdir "$root"
}

if [ "${1:-}" = --build ]; then
  build "$2" "$3"
  exit
fi

key=$( { echo "$suite"; printf '%s\n' "${base[@]}" "${packages[@]}"; cat "$0"; } | sha256sum | cut -c1-16)
image="$cache/$suite-$key"
if [ -f "$image/rootfs.img" ]; then
  log "cached: $image"
  echo "$image"
  exit 0
fi

# The mirror apt here already uses: the first Debian main archive in apt-cache policy.
mirror=${VM_MIRROR:-$(apt-cache policy | awk '
  $1 ~ /^[0-9]+$/ && $2 ~ /:\/\// { uri = $2; next }
  /release / && /l=Debian,/ && /c=main/ && uri { print uri; exit }')}
if [ -z "$mirror" ]; then
  log "apt on this machine has no Debian archive configured: set VM_MIRROR to a Debian mirror URL"
  exit 1
fi

[ "$(id -u)" = 0 ] || { log "needs root (debootstrap, mount)"; exit 1; }
mkdir -p "$cache/debs"
exec 9>"$cache/lock"
flock 9
tmp=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
unshare --mount --propagation private bash "$0" --build "$tmp" "$mirror"

# Only one image is kept: the one this script and package list build.
for old in "$cache/$suite"-*; do [ -d "$old" ] && rm -rf "$old"; done
rm -f "$tmp"/*.log
mv "$tmp" "$image"
trap - EXIT
log "built: $image"
echo "$image"
