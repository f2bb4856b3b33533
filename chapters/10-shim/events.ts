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
 * Sends events one at a time, in the order publish() was called: an event is sent only after
 * the one before it was delivered or given up. A connection that fails is opened again, so a
 * containerd that restarts still gets the events of the tasks it left running.
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
    // TODO(10): queue one event for containerd.
    //   1. The envelope carries a timestamp, the namespace, the topic and the event as an Any whose
    //      type url is the bare message name (TOPICS, lib/containerd-proto.ts).
    //   2. Order is the contract: an event goes out only once the one before it was delivered or
    //      given up. publish itself never waits and never throws.
    throw new NotImplementedError('10-shim', 'publish')
  }

  /** Settles when every event published so far is delivered or given up. */
  flush(): Promise<void> {
    return this.#queue
  }

  async #send(envelope: object): Promise<void> {
    // TODO(10): deliver one envelope with Events/Forward on containerd's ttrpc socket.
    //   1. Reuse one connection; a failed call drops it, and the next attempt dials again: a
    //      containerd that restarts must still get the events of the tasks it left running.
    //   2. Retry a while (RETRY_MS, ATTEMPTS), then give the event up with a line in the log:
    //      one lost event must not hold back every later one forever.
    //   3. Where to look: containerd's runtime/v2/shim/publisher.go.
    throw new NotImplementedError('10-shim', 'send')
  }
}
// #endregion Publisher
