/** Native helpers for tests: each is killed, and waited for, after the test that started it. */
import { Helper } from '../../native/helper.ts'
import { onCleanup } from './files.ts'

/** Start a helper (stdout and stderr ignored unless `options` says otherwise). */
export function startHelper(options: Parameters<typeof Helper.start>[0] = {}): Helper {
  const helper = Helper.start({ stdout: 'ignore', stderr: 'ignore', ...options })
  onCleanup(async () => {
    helper.kill()
    await helper.exited
  })
  return helper
}
