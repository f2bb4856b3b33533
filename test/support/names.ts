/**
 * Names for what a test makes on the machine beside other runs (cgroup parents, containers):
 * this process's own, new at each call, and starting with minidocker-test-, which .ci/leftovers
 * looks for.
 */
let made = 0

export const testName = (kind: string) => `minidocker-test-${kind}-${process.pid}-${made++}`
