#!/usr/bin/env node
// workbook [COMMAND]: progress, checks and hints for learners; grading for instructors.
import { launch } from './launch.mjs'

try {
  import.meta.resolve('tsx')
} catch {
  console.error(
    process.platform === 'linux'
      ? 'workbook: the dependencies are not installed: run `npm install` in the workbook folder (as root, see README.md)'
      : `workbook: this is ${process.platform}, not Linux: containers are Linux kernel features, so work in the VM (see vm/README.md)`,
  )
  process.exit(2)
}
launch('../workbook/cli.ts', process.argv.slice(2))
