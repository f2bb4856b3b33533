import { mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { imageRegistry, startContainerd, startMinidockerd, removeDaemonCgroups, removeDir } from './test/support/daemon.ts'
const dir = mkdtempSync('/tmp/dtry/d-')
const containerd = await startContainerd(join(dir, 'containerd'))
const registry = await imageRegistry()
let daemon = await startMinidockerd(join(dir, 'daemon'), containerd.socket)
writeFileSync('/tmp/dtry/env', `export DOCKER_HOST=${daemon.host}\nexport REG=${registry.host}\nexport DPID=${daemon.pid}\n`)
process.on('SIGUSR1', async () => { await daemon.stop(); daemon = await startMinidockerd(join(dir, 'daemon'), containerd.socket); writeFileSync('/tmp/dtry/env', `export DOCKER_HOST=${daemon.host}\nexport REG=${registry.host}\nexport DPID=${daemon.pid}\n`) })
process.on('SIGTERM', async () => { await daemon.stop(); await containerd.stop(); await registry.stop(); removeDaemonCgroups(); removeDir(dir); process.exit(0) })
setInterval(() => {}, 1000)
