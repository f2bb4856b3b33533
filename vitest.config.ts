import { defineConfig } from 'vitest/config'
import { defaultServerConditions } from 'vite'
import { conditionsFor } from './workbook/conditions.cjs'

// "#ch/NN-slug/..." imports resolve to the learner's chapters/ or to solutions/ by condition.
const conditions = [...conditionsFor(), ...defaultServerConditions]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/scratch.ts'],
    pool: 'forks',
    // Whole values in assertion messages: a learner needs to see what differed.
    chaiConfig: { truncateThreshold: 0 },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Kernel tests share one machine (mount tables, cgroup trees): a few files at a time.
    maxWorkers: 3,
    // A container started by a test shares the test's network unless the test asks otherwise:
    // only chapter 08's tests make links and rules, and only in a stand-in host of their own.
    env: { MINIDOCKER_NETWORK: 'host' },
  },
})
