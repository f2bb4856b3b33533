/**
 * The Task service (containerd.task.v2.Task) for one container: its init process and the
 * processes exec'd into it. containerd calls it over ttrpc; the shim answers from what it
 * holds (the PIDs, the states, the exit statuses) and asks the runtime only to act. containerd
 * 1.6's runc shim is the model: runtime/v2/runc/task/service.go and pkg/process. What answers
 * from the records (State, Wait, Kill, Delete, ...) is given in lib/shim-task.ts.
 */
import { TaskBase, type Proc } from '../../lib/shim-task.ts'
import type { Exit } from './reaper.ts'
import { NotImplementedError } from '../../lib/errors.ts'

/** The Task service of one container: the given TaskBase, with the life cycle written here. */
export class Task extends TaskBase {
  // What does the Task keep that the process records (TaskBase's Proc) do not? Declare it here.

  // #region create
  /** Create: the container's init exists, stopped before its command; answers its PID. */
  async create(request: any): Promise<object> {
    // TODO(10): Create: make the container exist, not yet running.
    //   1. One init per shim, and requests on the connection are served at once:
    //      what can arrive between your check and the moment there is an init, and what would each
    //      of them find (the given Delete and Shutdown too)? The process record (TaskBase) keeps what
    //      later calls ask about: its stdio, whether it has a terminal.
    //   2. What must be in place before the runtime's create can run (the request's rootfs), and
    //      what must the shim know of the process once the runtime has exited (chapter 09's text,
    //      "The real thing")? The stdio is TaskBase's runWithStdio.
    //   3. The process can die, and be reaped, before you know its PID: when must the reaper hear
    //      that you expect it (reaper.ts, exited), and what does it hear if no process was made?
    //   4. If anything fails, nothing may stay behind: not the runtime's half-made container, not a
    //      terminal's keeper, not the mount, whichever step failed. The error reads as containerd's
    //      does (the text's "The runtime's command line"): which code does containerd read in it,
    //      and which do the errors you catch carry?
    //   5. From then on the exit is #watch's, and containerd is told the task exists (TaskCreate in
    //      lib/proto/api/events/task.proto).
    //   6. Where to look: containerd's runc shim, task/service.go (Create) and process/init.go
    //      (Create); the text's "The Task service".
    throw new NotImplementedError('10-shim', 'create')
  }
  // #endregion create

  // #region watch
  /** Record the process's exit when it comes, and tell containerd: exactly once. */
  #watch(p: Proc, exit: Promise<Exit>): void {
    // TODO(10): the process's exit, recorded and published, exactly once.
    //   1. A process can die while Start is still waiting for the runtime's start to return.
    //      Which event must containerd (and dockerd's state machine) see first, and how does this
    //      code know that a Start of this process is still running? (The text's "The Task service";
    //      core/runtime/v2/README.md, "Events".)
    //   2. Told of the exit, ctr closes its FIFOs: what must be finished before you tell it? Can
    //      it always finish (what can an exec leave behind)? A reader may be slow, stop reading, or
    //      never come: how long may each of them hold the exit (stdio.ts, Copying)?
    //   3. Which processes end up here: every one that ran, and which others? Read what the given
    //      Delete (lib/shim-task.ts) does after a Start that failed, and what it waits for.
    //   4. What do State, Wait and Delete later read from the record, and who is woken once it is
    //      complete? The event is TaskExit (lib/proto/api/events/task.proto): whose id does it
    //      carry for an exec?
    //   5. The init rarely dies alone: what becomes of the execs when it does, in which order are
    //      their exits reported, and which exit does containerd take for the end of the task?
    //      (containerd 2.x's task/service.go, where it handles an init's exit.) And what decides
    //      what becomes of them?
    throw new NotImplementedError('10-shim', 'watch')
  }
  // #endregion watch

  // #region start
  /** Start: the prepared process runs (the init's, or an exec's); answers its PID. */
  async start(request: any): Promise<object> {
    // TODO(10): Start: run what Create or Exec prepared.
    //   1. Which processes can start, and what does a Start of any other answer?
    //   2. The init is created already: the runtime only starts it. An exec's process does not
    //      exist yet: how does the runtime take the process Exec recorded (Proc's spec) and tell
    //      you its PID without waiting for it to end (chapter 09's text, "exec")? Whatever you
    //      write into the bundle for it is gone afterwards, whether the exec worked or not. And
    //      where does it land for each exec id a client can send (the text's question on that id)?
    //      Its stdio and its exit are handled as the init's are.
    //   3. While Start runs, containerd may send anything else on the same connection: Kill,
    //      State, another Exec's Start. What may each of them find in the record meanwhile, and
    //      what would Kill (lib/shim-task.ts) do with it? And the other way round: how current is
    //      what the init's record says when an exec's Start reads it?
    //   4. When the runtime fails, containerd goes on to Delete and Shutdown with its Wait still
    //      outstanding, for the init and for an exec alike: what may a failed Start leave, and what
    //      is that Wait waiting for? The failure reads as containerd's does.
    //   5. The init and an exec publish different events (TaskStart, TaskExecStarted), and the
    //      exit's event must not overtake them. Answer the PID.
    throw new NotImplementedError('10-shim', 'start')
  }
  // #endregion start
}
