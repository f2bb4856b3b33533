#!/usr/bin/env node
// minidocker [--reference] COMMAND ...: the learner's container tool (minidocker/cli.ts).
import { launch } from './launch.mjs'

const args = process.argv.slice(2)
const env = { ...process.env }
if (args[0] === '--reference') {
  args.shift()
  env.WORKBOOK_IMPL = 'solutions'
}
launch('../minidocker/cli.ts', args, env)
