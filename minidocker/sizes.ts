import { ContainerError } from '../lib/errors.ts'

/** "64m", "1g", "512k", "1048576" as bytes, the way `docker run --memory` reads them. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(text)
  if (!match) throw new ContainerError(`invalid size "${text}": expected a number with an optional unit b, k, m or g`, 125)
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'b' | 'k' | 'm' | 'g']
  return Math.floor(Number(match[1]) * unit)
}
