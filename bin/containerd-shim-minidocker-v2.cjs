#!/usr/bin/env node
// containerd-shim-minidocker-v2 FLAGS start|delete: the shim containerd runs for the runtime io.containerd.minidocker.v2.
require('./start.cjs').start('containerd-shim-minidocker-v2', 'minidocker/shim.ts')
