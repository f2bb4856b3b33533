/**
 * The daemon's side of chapter 13, given code (lib/docker-security.ts): what `docker run`'s
 * security flags become in config.json. Beside the real dockerd, test/13-security/daemon.test.ts
 * compares what the containers see; here, what the daemon must refuse before any container is made.
 */
import { describe, expect, it } from 'vitest'
import { containerSecurity, type SecurityHostConfig } from '../../lib/docker-security.ts'
import { ContainerError } from '../../lib/errors.ts'

describe('containerSecurity: flags dockerd refuses', () => {
  it('--cap-add NOT_A_CAP and --security-opt bogus=1', () => {
    const cases: [SecurityHostConfig, string][] = [[{ CapAdd: ['NOT_A_CAP'] }, 'NOT_A_CAP'], [{ SecurityOpt: ['bogus=1'] }, 'bogus=1']]
    for (const [host, named] of cases) {
      let error: unknown
      try {
        containerSecurity(host)
      } catch (e) {
        error = e
      }
      expect(error, `${JSON.stringify(host)} must be refused`).toBeInstanceOf(ContainerError)
      expect((error as Error).message, 'the error names what was refused').toContain(named)
    }
  })
})
