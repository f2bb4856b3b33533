/**
 * Chapter 10's given event publisher, which the starter and the reference share. A containerd
 * 1.6 shim calls containerd.services.events.ttrpc.v1.Events/Forward on containerd's ttrpc socket
 * ($TTRPC_ADDRESS) with an Envelope: timestamp, namespace, topic, and the event as an Any.
 * Order is part of the contract (containerd's runtime/v2/README.md): a task's create, start,
 * exit and delete arrive in that order, and dockerd drives its container states from them.
 */
import { timestamp, toAny } from './containerd-proto.ts'
import { TOPICS, type Topic } from './shim.ts'
import { dialTtrpc, type TtrpcClient } from './ttrpc-client.ts'

export { TOPICS, type Topic } from './shim.ts'
/** How long a publish keeps trying while containerd is away (restarting, say). */
const RETRY_MS = 200
const ATTEMPTS = 50

// #region Publisher
/**
 * Sends the shim's events to containerd's ttrpc socket, in the order publish() was called (the
 * text's "Events").
 */
export class Publisher {
  #queue: Promise<void> = Promise.resolve()
  #client: TtrpcClient | undefined

  constructor(
    /** containerd's ttrpc socket */
    readonly address: string,
    readonly namespace: string,
    /** where a lost event is reported (the shim's log) */
    readonly log: (message: string) => void = () => {},
  ) {}

  /** Queue one event; this function never waits for containerd and never throws. */
  publish(topic: Topic, event: object): void {
    const envelope = { timestamp: timestamp(new Date()), namespace: this.namespace, topic, event: toAny(TOPICS[topic], event) }
    this.#queue = this.#queue.then(() => this.#send(envelope))
  }

  /** Settles when every event published so far is delivered or given up. */
  flush(): Promise<void> {
    return this.#queue
  }

  async #send(envelope: object): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.#client ??= await dialTtrpc(this.address)
        await this.#client.call('containerd.services.events.ttrpc.v1.Events', 'Forward', 'containerd.services.events.ttrpc.v1.ForwardRequest', { envelope }, 'google.protobuf.Empty')
        return
      } catch (error) {
        this.#client?.close()
        this.#client = undefined
        if (attempt === ATTEMPTS) return this.log(`event lost after ${ATTEMPTS} attempts: ${(error as Error).message}`)
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
      }
    }
  }
}
// #endregion Publisher
