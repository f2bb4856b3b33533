#!/usr/bin/env node
// minicontainerd --root DIR --address SOCKET: our containerd, which the real ctr can talk to.
require('./start.cjs').start('minicontainerd', 'minidocker/minicontainerd.ts')
