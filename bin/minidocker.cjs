#!/usr/bin/env node
// minidocker [--reference | --reference-below N] COMMAND ...: the learner's container tool.
require('./start.cjs').start('minidocker', 'minidocker/cli.ts', { implFlags: true })
