/**
 * Chapter 09: the bundle, what a runtime is handed. A directory with config.json (the Spec of
 * every chapter so far, written down) and the root filesystem it names; and the container's ID,
 * which becomes a directory name under the runtime's --root.
 */
import type { Spec } from '../../lib/oci.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { RuntimeError } from '../../lib/runtime.ts'

// #region checkContainerId
/**
 * Refuse an ID that could not safely be a directory name under --root, with runc's rule and
 * its words, naming the ID: `invalid id format: ID`.
 */
export function checkContainerId(id: string): void {
  // TODO(09): refuse an ID that cannot safely name a directory under --root.
  //   1. The ID becomes ROOT/ID, and delete removes that directory with everything in it. Which
  //      characters and which whole IDs would put it somewhere else on the host?
  //   2. Can a list of bad characters ever be complete? What does runc check instead
  //      (validateID in libcontainer/factory_linux.go)?
  //   3. The error names the ID as runc does: `invalid id format: ID` (a RuntimeError).
  throw new NotImplementedError('09-runtime', 'checkContainerId')
}
// #endregion checkContainerId

// #region loadBundle
/**
 * Read BUNDLE/config.json into a Spec whose root.path is absolute. Refused, each in one line
 * naming the file and what is wrong: no config.json, text that is not JSON, a missing field of
 * those config.md requires (`FILE: FIELD is required`), and a rootfs that is not a directory.
 */
export function loadBundle(bundle: string): Spec {
  // TODO(09): read the bundle's config.json into a Spec the rest of the runtime can trust.
  //   1. Which of its fields does a runtime need before it can do anything (runtime-spec
  //      config.md marks them REQUIRED; runc's loadSpec and validateProcessSpec)? Each missing
  //      one is a RuntimeError naming the file and the field, `FILE: FIELD is required`, before
  //      anything is created.
  //   2. A missing file and text that is not JSON are errors too, each one line naming the file
  //      (`... config.json not found`, `... not valid JSON`).
  //   3. root.path: what does config.md ("Root") say it names, when it is not absolute? The
  //      Spec returned has it absolute, and it must be a directory (`rootfs (PATH) does not
  //      exist`).
  throw new NotImplementedError('09-runtime', 'loadBundle')
}
// #endregion loadBundle
