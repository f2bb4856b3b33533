#!/usr/bin/env bash
# `vagrant validate` on vm/Vagrantfile for both of its providers, without booting anything.
# Vagrant checks a provider's block only when that provider is usable: libvirt is (Debian's
# vagrant-libvirt); VirtualBox is not in Debian, so a stand-in VBoxManage that only answers
# `--version` makes Vagrant's own VirtualBox provider check its block too.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v vagrant >/dev/null || { echo "vagrant-validate: vagrant is missing: apt-get install -y vagrant vagrant-libvirt" >&2; exit 1; }

scratch=$(mktemp -d /tmp/minidocker-vagrant.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/bin"
printf '#!/bin/sh\n[ "$1" = --version ] && echo 7.0.20r163906\n' >"$scratch/bin/VBoxManage"
chmod +x "$scratch/bin/VBoxManage"

cd "$repo/vm"
for provider in libvirt virtualbox; do
  # Vagrant's state goes to the scratch folder, not into vm/.vagrant.
  if ! out=$(PATH="$scratch/bin:$PATH" VAGRANT_DEFAULT_PROVIDER=$provider VAGRANT_DOTFILE_PATH="$scratch/dot" \
             VAGRANT_CHECKPOINT_DISABLE=1 vagrant validate --no-tty 2>&1); then
    echo "$out" >&2
    echo "vagrant-validate: vm/Vagrantfile is not valid for $provider" >&2
    exit 1
  fi
  echo "vagrant-validate: vm/Vagrantfile is valid for $provider ($(vagrant --version))"
done
