#!/usr/bin/env node
// minidockerd [-H unix://SOCKET] [--data-root DIR] ...: the workbook's dockerd (chapter 11).
require('./start.cjs').start('minidockerd', 'minidocker/dockerd.ts', { implFlags: true })
