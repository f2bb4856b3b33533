// Preloaded (node --require) into one minidocker run by sweep-order.test.ts: the process named by
// MINIDOCKER_TEST_OWNER_DIES is killed with SIGKILL right after this run first reads its
// /proc/PID/stat, which is how lib/net.ts's alive() looks at an owner, and the read returns
// only once that process is gone (reaped). Whatever the run looks at first sees it alive;
// every later look sees it dead. Nothing else changes.
'use strict'
const fs = require('node:fs')

const pid = Number(process.env.MINIDOCKER_TEST_OWNER_DIES)
// Not for the processes this run starts (its proxies are Node too).
delete process.env.MINIDOCKER_TEST_OWNER_DIES
delete process.env.NODE_OPTIONS

if (pid > 0) {
  const stat = `/proc/${pid}/stat`
  const read = fs.readFileSync
  const pause = new Int32Array(new SharedArrayBuffer(4))
  let looked = false
  fs.readFileSync = function (path, ...rest) {
    const text = read.call(this, path, ...rest)
    if (looked || path !== stat) return text
    looked = true
    try {
      process.kill(pid, 'SIGKILL')
    } catch { /* gone already */ }
    for (let waited = 0; waited < 5000 && fs.existsSync(stat); waited += 5) Atomics.wait(pause, 0, 0, 5)
    return text
  }
}
