#!/usr/bin/env bash
# Boots a guest built by vm/guest/build-image.sh with QEMU, runs one job in it and waits until
# it powers off. The image stays pristine: the guest writes to a throw-away snapshot.
#
# usage: vm/guest/boot.sh IMAGE_DIR SERIAL_LOG TAG=HOST_DIR[:rw]...
#   Each TAG=HOST_DIR is shared into the guest over 9p (virtio), read-only unless it ends in :rw.
#   The share tagged "job" must hold run.sh: the guest runs it as root once it is up, with
#   its output on the serial console (written to SERIAL_LOG), then powers off.
#
# The guest runs under software emulation (TCG: KVM is not assumed), 2 vCPUs and 2 GiB, with
# no network device at all, and boots its own kernel and initrd with cgroup v2 only.
# One host thread runs both vCPUs (thread=single): with a thread each, a guest kernel that
# patches its own code while the other vCPU runs it (static keys, e.g. when a cgroup first
# gets a cpu.max) can execute a stale breakpoint and panic ("Oops: int3" in update_curr).
#
# Environment: VM_TIMEOUT  seconds before the guest is stopped (default 3600): exit code 124.
# (test/vm/run.sh also limits each stage of the job, and names the one that ran out.)
set -euo pipefail

image=${1:?usage: boot.sh IMAGE_DIR SERIAL_LOG TAG=HOST_DIR[:rw]...}
serial=${2:?usage: boot.sh IMAGE_DIR SERIAL_LOG TAG=HOST_DIR[:rw]...}
shift 2

shares=()
for share in "$@"; do
  tag=${share%%=*} dir=${share#*=} readonly=on
  case "$dir" in *:rw) dir=${dir%:rw} readonly=off ;; esac
  [ -d "$dir" ] || { echo "boot: no folder $dir to share as $tag" >&2; exit 1; }
  shares+=(-virtfs "local,path=$dir,mount_tag=$tag,security_model=none,readonly=$readonly")
done

cmdline=(
  root=/dev/vda rw console=ttyS0 panic=-1
  systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all   # pure cgroup v2
  systemd.show_status=false minidocker.job
)

qemu-system-x86_64 \
  -accel tcg,thread=single -cpu max -smp 2 -m 2048 \
  -display none -monitor none -serial "file:$serial" -no-reboot -nic none \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "${cmdline[*]}" \
  -drive "file=$image/rootfs.img,if=virtio,format=raw,snapshot=on" \
  "${shares[@]}" &
qemu=$!
# Whatever stops this script stops the guest: no QEMU is left behind.
trap 'kill "$qemu" 2>/dev/null || true; wait "$qemu" 2>/dev/null || true' EXIT INT TERM

timeout=${VM_TIMEOUT:-3600}
for ((waited = 0; waited < timeout; waited++)); do
  if ! kill -0 "$qemu" 2>/dev/null; then
    trap - EXIT INT TERM
    wait "$qemu"
    exit $?
  fi
  sleep 1
done
echo "boot: the guest did not power off within $timeout s: stopped it" >&2
exit 124
