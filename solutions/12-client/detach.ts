/**
 * The detach keys of `run -it`: the escape proxy that watches the keys typed for them on
 * their way to the container (moby/term's NewEscapeProxy, which the CLI's hijack.go puts on
 * stdin). The key names of --detach-keys as bytes (moby/term's ToBytes) are given, in
 * lib/detach-keys.ts.
 */
import { Transform } from 'node:stream'

// #region escapeProxy
/**
 * stdin on its way to the container, watched for the sequence `keys` as the CLI's escape
 * proxy watches it: what reaches the container, and when, is what docker's proxy lets through
 * for the same reads of the same terminal. Once the sequence has been typed, `detach()` is
 * called and nothing more goes through.
 */
export function escapeProxy(keys: Buffer, detach: () => void): Transform {
  let matched = 0 // how many bytes of `keys` are held
  let detached = false
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (detached) return done()
      const out: number[] = []
      for (const byte of chunk) {
        if (byte === keys[matched]) {
          if (++matched < keys.length) continue
          detached = true
          this.push(Buffer.from(out))
          detach()
          return done()
        }
        out.push(...keys.subarray(0, matched), byte)
        matched = 0
      }
      done(null, Buffer.from(out))
    },
  })
}
// #endregion escapeProxy
