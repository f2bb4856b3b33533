/**
 * Chapter 12's given first steps of `docker run`: the create, and the pull the CLI makes when
 * the daemon lacks the image (the CLI's create.go, createContainer; moby's
 * client/image_pull.go), its progress streamed back as JSON messages.
 */
import { ContainerError } from './errors.ts'
import { DaemonError, pullQuery, type RunPlan, type Stdio } from './client.ts'
import type { EngineClient } from './engine-client.ts'
import type { JSONMessage, ProgressSink } from './jsonmessage.ts'

// #region pullImage
/**
 * `image` pulled by the daemon, its progress streamed back as JSON messages, one per line
 * (whatever the chunks), each handed to `progress` as it comes. An error before the stream
 * is a DaemonError (call() makes it); one in the stream (`errorDetail`) ends the pull with
 * its message. `signal` cuts the pull where it is (Node's AbortError).
 */
export async function pullImage(engine: EngineClient, image: string, progress: ProgressSink, signal?: AbortSignal): Promise<void> {
  const { fromImage, tag } = pullQuery(image)
  const response = await engine.call('POST', '/images/create', { query: { fromImage, tag }, headers: { 'X-Registry-Auth': 'e30=' }, signal }) // base64 of {}: no credentials
  let rest = ''
  for await (const chunk of response) {
    rest += chunk
    const lines = rest.split('\n')
    rest = lines.pop()!
    for (const line of lines) {
      if (!line.trim()) continue
      const message = JSON.parse(line) as JSONMessage
      if (message.errorDetail || message.error) throw new ContainerError(message.errorDetail?.message ?? message.error!, 1)
      progress(message)
    }
  }
}
// #endregion pullImage

// #region createContainer
/**
 * The container `plan` describes, created. An image the daemon lacks is pulled first, as the
 * CLI pulls it: announced on stderr in the CLI's words, its progress on stderr too. Any other
 * failure is the caller's, as the daemon gave it. Returns the container's ID. `signal` goes to
 * the pull alone, which its abort cuts (Node's AbortError).
 */
export async function createContainer(engine: EngineClient, plan: RunPlan, stdio: Stdio, progress: ProgressSink, signal?: AbortSignal): Promise<string> {
  const create = async () => (await engine.json<{ Id: string }>('POST', '/containers/create', { query: { name: plan.name }, body: plan.config })).Id
  try {
    return await create()
  } catch (error) {
    if (!(error instanceof DaemonError && error.status === 404)) throw error // any not-found, as create.go has it: a missing network too
  }
  stdio.stderr.write(`Unable to find image '${pullQuery(plan.image).familiar}' locally\n`)
  await pullImage(engine, plan.image, progress, signal)
  return create()
}
// #endregion createContainer
