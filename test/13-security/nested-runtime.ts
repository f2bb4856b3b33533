/**
 * A runtime's first steps in a user namespace of its own, as a runtime started under `unshare -r`
 * (a rootless set-up, a container that runs containers) takes them: a helper of its own, then
 * chapter 13's enterUserNamespace with the mappings of its last argument (a JSON object of uidMappings and
 * gidMappings). Prints one JSON line: the error if any, whether the helper left the runtime's
 * user namespace, and the helper's Uid, Gid and Groups lines. userns.test.ts runs it.
 */
import { readFileSync, readlinkSync } from 'node:fs'
import { enterUserNamespace } from '#ch/13-security/userns.ts'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { Spec } from '../../lib/oci.ts'
import { Helper } from '../../native/helper.ts'

async function main(): Promise<void> {
  const linux = JSON.parse(process.argv.at(-1) ?? '{}') as Spec['linux']
  const helper = Helper.start({ stdout: 'ignore', stderr: 'ignore' })
  const own = readlinkSync('/proc/self/ns/user')
  let error: unknown
  try {
    await enterUserNamespace(helper, { ociVersion: '1.0.2', process: { args: [], env: [], cwd: '/' }, linux })
  } catch (e) {
    error = e
  }
  const status = readFileSync(`/proc/${helper.pid}/status`, 'utf8')
  const line = (key: string) => new RegExp(`^${key}:[\\t ]*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/).join(' ') ?? ''
  process.stdout.write(`${JSON.stringify({
    notImplemented: error instanceof NotImplementedError ? String(error) : undefined,
    error: error === undefined ? undefined : String((error as Error).message ?? error),
    containerError: error instanceof ContainerError,
    moved: readlinkSync(`/proc/${helper.pid}/ns/user`) !== own,
    setgroups: readFileSync(`/proc/${helper.pid}/setgroups`, 'utf8').trim(),
    uid: line('Uid'), gid: line('Gid'), groups: line('Groups'),
  })}\n`)
  helper.kill()
  await helper.exited
}

void main()
