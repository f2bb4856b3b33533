#!/usr/bin/env node
// workbook [COMMAND]: progress, checks and hints for learners; grading for instructors.
require('./start.cjs').start('workbook', 'workbook/cli.ts')
