/**
 * Events from the shim to containerd. A containerd 1.6 shim calls
 * containerd.services.events.ttrpc.v1.Events/Forward on containerd's ttrpc socket
 * ($TTRPC_ADDRESS) with an Envelope: timestamp, namespace, topic, and the event as an Any.
 * Order is part of the contract (containerd's runtime/v2/README.md): a task's create, start,
 * exit and delete arrive in that order, and dockerd drives its container states from them.
 */
import { timestamp, toAny } from '../../lib/containerd-proto.ts'
import { TOPICS, type Topic } from '../../lib/shim.ts'
import { dialTtrpc, type TtrpcClient } from './ttrpc.ts'
import { NotImplementedError } from '../../lib/errors.ts'

export { TOPICS, type Topic } from '../../lib/shim.ts'

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
    // TODO(10): one event on its way to containerd, behind every event published before it.
    //   1. What does containerd's Envelope hold (lib/proto/api/services/ttrpc/events/v1/events.proto),
    //      and how is the event itself packed so containerd knows its message type (the text's
    //      "Events")?
    //   2. Order is the contract: dockerd must see a task's exit after its start. An event may go
    //      out only once the one before it was delivered or given up, yet publish itself never
    //      waits and never throws.
    throw new NotImplementedError('10-shim', 'publish')
  }

  /** Settles when every event published so far is delivered or given up. */
  flush(): Promise<void> {
    return this.#queue
  }

  async #send(envelope: object): Promise<void> {
    // TODO(10): deliver one envelope to containerd's Events service over ttrpc.
    //   1. One connection serves every event; but containerd may restart between two events (or
    //      during one), and must still get the events of the tasks it left running. What does a
    //      failed call tell you about the connection it went over?
    //   2. How long to keep trying (RETRY_MS, ATTEMPTS)? An event that cannot be delivered is given
    //      up with a line in the log: it must not hold back every later event forever.
    //   3. Where to look: containerd's pkg/shim/publisher.go (Forward, and its retries); the
    //      service is in lib/proto/api/services/ttrpc/events/v1/events.proto.
    throw new NotImplementedError('10-shim', 'send')
  }
}
// #endregion Publisher
