#!/usr/bin/env node
// workbook [COMMAND]: progress, checks and hints for learners; grading for instructors.
import { launch } from './launch.mjs'

launch('../workbook/cli.ts', process.argv.slice(2))
