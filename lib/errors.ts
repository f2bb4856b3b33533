/** Errors shared by every chapter, the learner's code and the reference alike. */

/** Thrown by a starter function the learner has not written yet. */
export class NotImplementedError extends Error {
  override name = 'NotImplementedError'
  constructor(
    /** the chapter folder, e.g. "01-process" */
    readonly chapter: string,
    /** the function to write, e.g. "runProcess" */
    readonly fn: string,
  ) {
    super(`${fn}() is not written yet: follow the TODO in it, in chapters/${chapter}/`)
  }
}

/** A container that could not run, with the exit code `docker run` would give (125, 126, 127). */
export class ContainerError extends Error {
  override name = 'ContainerError'
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

/** A tar entry or archive path that would reach outside the layer or archive, or cannot be applied at all. */
export class UnsafeLayerError extends Error {
  override name = 'UnsafeLayerError'
}
