#!/usr/bin/env -S node --
// minidocker [--reference | --reference-below N] COMMAND ...: the learner's container tool.
// The "--" ends node's own options: Node 20 reads an --env-file anywhere on its command line,
// even after the script, so `minidocker run --env-file F` would be node's flag otherwise.
require('./start.cjs').start('minidocker', 'minidocker/cli.ts', { implFlags: true })
