#!/usr/bin/env node
// minirunc [--root DIR] [--log FILE] COMMAND ...: the learner's OCI runtime, with runc's command line.
require('./start.cjs').start('minirunc', 'minidocker/minirunc.ts')
