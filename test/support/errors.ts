/** Catching the error a call should fail with, without hiding an unwritten starter. */
import { NotImplementedError } from '../../lib/errors.ts'

/**
 * The error `action` throws or rejects with (undefined if it succeeds). A NotImplementedError
 * is rethrown instead, so a test of a starter fails with the message naming the function to
 * write rather than an assertion about the wrong error.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function caught(action: () => unknown): Promise<any> {
  try {
    await action()
    return undefined
  } catch (error) {
    if (error instanceof NotImplementedError) throw error
    return error
  }
}

/** What `promise` settled with, or 'late' when it had not within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)))
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}
